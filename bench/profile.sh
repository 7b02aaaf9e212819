#!/usr/bin/env bash
# Profiles LiveGate (release build) under real-time load with perf: N publishers of the
# ~600 kbit/s clip, perf sampling the gateway for S seconds of steady state. Writes the flat
# profile (self time) and the inclusive one (children), Swift names demangled, to OUT_DIR.
#   bench/profile.sh [PUBLISHERS=1500] [SECONDS=15] [OUT_DIR=bench/.cache/profile]
# Needs: perf (Debian linux-perf; bench/run.sh installs it), a release build (bench/run.sh
# builds one; BENCH_BUILD=debug uses the debug one), the bench clip (made here if missing).
# LIVEGATE=path profiles another binary (a baseline), RTMP_BENCH=path uses another load generator;
# HLS=true gives every channel HLS output; WARM=S samples only after S more seconds of load (a
# steady state past start-up effects: HLS reuses segment files only once its window has passed).
set -euo pipefail
cd "$(dirname "$0")/.."
publishers="${1:-1500}"; seconds="${2:-15}"; out="${3:-bench/.cache/profile}"
build="${BENCH_BUILD:-release}"
binary="${LIVEGATE:-.build/$build/livegate}"
bench="${RTMP_BENCH:-.build/$build/rtmp-bench}"
clip="bench/.cache/clip-600k.flv"
[ -f "$clip" ] || python3 -c 'import sys; sys.path.insert(0, "bench"); import bench; bench.clip_600k()'
mkdir -p "$out"
work="$(mktemp -d)"; gw=""; load=""
trap 'kill $gw $load 2>/dev/null || true; rm -rf "$work"' EXIT
. bench/gateway.sh
start_gateway 32935 32980 prof
bench/make-channels.py "$publishers" $([ "${HLS:-false}" = true ] && echo --hls) >"$work/keys"
ramp=$(( publishers / 200 + 5 ))
"$bench" --url rtmp://127.0.0.1:32935/live --file "$clip" --publishers "$publishers" --rate 200 \
  --duration $(( ramp + ${WARM:-0} + seconds + 5 )) --keys-file "$work/keys" --json >"$work/bench.json" &
load=$!
sleep $(( ramp + ${WARM:-0} ))
perf record -F 999 -g -p "$gw" -o "$out/perf.data" -- sleep "$seconds" 2>"$work/perf.err"
wait $load || true
perf report -i "$out/perf.data" --no-children --sort symbol --stdio -g none --percent-limit 0.3 2>/dev/null \
  | swift demangle --simplified >"$out/flat.txt"
perf report -i "$out/perf.data" --children --sort symbol --stdio -g none --percent-limit 1 2>/dev/null \
  | swift demangle --simplified >"$out/inclusive.txt"
perf script -i "$out/perf.data" 2>/dev/null | python3 bench/fold-stacks.py | swift demangle --simplified >"$out/folded.txt"
echo "load: $(cat "$work/bench.json")"
echo "profile: $out/flat.txt, $out/inclusive.txt, $out/folded.txt (flame graph input)"
