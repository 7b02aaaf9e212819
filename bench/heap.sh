#!/usr/bin/env bash
# What LiveGate's heap holds per publisher at steady state: heaptrack records the release
# gateway while N real-time publishers of the ~600 kbit/s clip stream, and the gateway is
# killed (SIGKILL, so nothing is freed on the way out) after the ramp. heaptrack's "leaked"
# figures are then the live heap at that moment, by allocation site.
#   bench/heap.sh [PUBLISHERS=1000] [RATE=100] [OUT=bench/.cache/heap]
# Needs: heaptrack (Debian's; installed here if missing), a release build (bench/run.sh builds
# one), the bench clip (made here if missing).
# LIVEGATE=path and RTMP_BENCH=path as in bench/profile.sh; INTERVAL_MS=100 makes each publisher
# send what is due every 100 ms (rtmp-bench --interval-ms; default 20); HOLD=50 keeps the
# publishers 50 s after the ramp before the kill (default 18: two snapshots of different HOLD
# show what grows while they stream). Prints the resident size per
# publisher and the top allocation sites; the full report is OUT/leaks.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v heaptrack >/dev/null; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends heaptrack >/dev/null
fi
publishers="${1:-1000}"; rate="${2:-100}"; out="${3:-bench/.cache/heap}"
binary="${LIVEGATE:-.build/release/livegate}"
bench="${RTMP_BENCH:-.build/release/rtmp-bench}"
clip="bench/.cache/clip-600k.flv"
[ -f "$clip" ] || python3 -c 'import sys; sys.path.insert(0, "bench"); import bench; bench.clip_600k()'
mkdir -p "$out"; rm -f "$out"/heaptrack.*
work="$(mktemp -d)"; load=""
trap 'kill $load 2>/dev/null || true; rm -rf "$work"' EXIT
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" || true
export LIVE_TOKEN_ID=tok_prof LIVE_TOKEN_SECRET=prof-secret-0123456789 LIVEGATE_DATA_DIR="$work/data" \
  LIVEGATE_RTMP_HOST=127.0.0.1 LIVEGATE_HTTP_HOST=127.0.0.1 LIVEGATE_RTMP_MAX_CONNECTIONS=20000 \
  LIVEGATE_RTMP_MAX_CONNECTIONS_PER_IP=0 LIVEGATE_RTMP_FAILED_PUBLISHES_PER_MINUTE=0 LIVEGATE_NODE_ID=prof
heaptrack -o "$out/heaptrack" "$binary" serve --rtmp-port 32935 --http-port 32980 >"$work/gw.log" 2>&1 &
for _ in $(seq 300); do curl -fs http://127.0.0.1:32980/readyz >/dev/null && break; sleep 0.1; done
gw=$(pgrep -n -x "$(basename "$binary" | cut -c1-15)")
bench/make-channels.py "$publishers" >"$work/keys"
base=$(awk '/VmRSS/ {print $2}' /proc/"$gw"/status)
ramp=$(( publishers / rate + ${HOLD:-18} ))
"$bench" --url rtmp://127.0.0.1:32935/live --file "$clip" --publishers "$publishers" --rate "$rate" \
  --duration $(( ramp + 12 )) --keys-file "$work/keys" --interval-ms "${INTERVAL_MS:-20}" --json >"$work/bench.json" &
load=$!
sleep "$ramp"
now=$(awk '/VmRSS/ {print $2}' /proc/"$gw"/status)
echo "resident: $base KiB before, $now KiB with $publishers publishers: $(( (now - base) / publishers )) KiB each"
kill -9 "$gw"
wait "$load" || true
sleep 3
heaptrack_print -f "$out/heaptrack.zst" --print-leaks 1 --print-peaks 0 --print-allocators 0 --print-temporary 0 \
  --print-histogram "" -n 60 --merge-backtraces 0 2>/dev/null | swift demangle --simplified >"$out/leaks.txt"
grep -E "total memory leaked|peak heap" "$out/leaks.txt"
python3 - "$out/leaks.txt" <<'EOF'
import re, sys
text = open(sys.argv[1]).read()
section = text.split("MEMORY LEAKS", 1)[1].split("peak heap", 1)[0]
library = re.compile(r"(swift_|_swift|specialized _Contiguous|specialized Array|Array\.|_Contiguous|static ByteBuffer|ByteBuffer\._|"
                     r"malloc|operator new|specialized static ByteBuffer|specialized ByteBuffer|closure #1 in ByteBuffer|"
                     r"specialized closure #1 in ByteBuffer|Dictionary|specialized Dictionary|_NativeDictionary|specialized _Native|static _Dictionary)")
for block in [b for b in section.split("\n\n") if "leaked over" in b][:25]:
    lines = block.strip().split("\n")
    frames = [l.strip() for l in lines[1:] if not l.strip().startswith(("at ", "in "))]
    ours = [f for f in frames if not library.match(f)]
    print(lines[0], "|", " <- ".join(ours[:3])[:200])
EOF
