#!/usr/bin/env bash
# The fixed CPU cost of one publish (docs/architecture.md "What a publish costs"): N publishes
# of D seconds each at R new publishers a second (rtmp-bench, the ~600 kbit/s clip, HLS off),
# the gateway's CPU over the run divided by N. The bytes of a one-second publish cost a few
# hundredths of a millisecond; what the figure shows is the decision, the session and event rows,
# the webhooks' outbox rows, the log lines. PERF=1 also records a perf profile (call graphs) of
# the gateway over the run and prints where its samples went.
#   bench/publish-cost.sh [N=1000] [R=50] [D=1]
# LIVEGATE=path and RTMP_BENCH=path choose the binaries (default: the release build);
# BENCH_BUILD=debug uses the debug build.
set -euo pipefail
cd "$(dirname "$0")/.."
n="${1:-1000}"; rate="${2:-50}"; duration="${3:-1}"
build="${BENCH_BUILD:-release}"
binary="${LIVEGATE:-.build/$build/livegate}"
bench="${RTMP_BENCH:-.build/$build/rtmp-bench}"
clip="bench/.cache/clip-600k.flv"
[ -f "$clip" ] || python3 -c 'import sys; sys.path.insert(0, "bench"); import bench; bench.clip_600k()'
work="$(mktemp -d)"; gw=""; recorder=""
trap 'kill $gw $recorder 2>/dev/null || true; rm -rf "$work"' EXIT
. bench/gateway.sh
start_gateway 32945 32990 cost
bench/make-channels.py "$n" --port 32990 >"$work/keys"
ticks() { awk '{print $14 + $15}' "/proc/$gw/stat"; }
hz=$(getconf CLK_TCK)
sleep 2
idle0=$(ticks); sleep 5; idle1=$(ticks)
before=$(ticks)
if [ "${PERF:-0}" = 1 ]; then
  perf record -F 999 -g -p "$gw" -o "$work/perf.data" 2>"$work/perf.err" &
  recorder=$!
  sleep 0.5
fi
"$bench" --url rtmp://127.0.0.1:32945/live --file "$clip" --publishers "$n" --rate "$rate" --duration "$duration" \
  --keys-file "$work/keys" --json >"$work/bench.json"
sleep 1
after=$(ticks)
if [ -n "$recorder" ]; then kill -INT "$recorder"; wait "$recorder" || true; recorder=""; fi
python3 - "$work/bench.json" "$n" "$hz" "$before" "$after" "$idle0" "$idle1" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
n, hz, before, after, idle0, idle1 = (float(x) for x in sys.argv[2:])
cpu = (after - before) / hz
print(f"{int(n)} publishes ({r['accepted']} accepted, {r['failed']} failed), {r['messagesSent']} messages, {r['bytesSent'] / 2**20:.1f} MiB")
print(f"gateway CPU {cpu:.2f} s over the run (idle before it: {(idle1 - idle0) / hz / 5 * 100:.1f} % of a core)")
print(f"CPU per publish: {cpu / n * 1000:.2f} ms")
PY
if [ "${PERF:-0}" = 1 ]; then
  perf report -i "$work/perf.data" --children --sort symbol --stdio -g none --percent-limit 2 2>/dev/null \
    | swift demangle --simplified | grep -v '^#' | grep -v '^$' | cut -c1-160 | head -60
fi
