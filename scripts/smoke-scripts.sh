#!/usr/bin/env bash
# Starts every script of fuzz/, bench/ and scripts/ once, briefly, so none can break unnoticed
# (`make fuzz` once died of SIGPIPE before fuzzing, on every clean clone). Run by
# scripts/run-tests.sh after the test suite, i.e. by `make test` and CI. (install-deps.sh,
# start-postgres.sh and run-tests.sh itself run on every `make test` already.)
#   FUZZ_SECONDS (default 30): how long the fuzzer runs.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d -t livegate-smoke.XXXXXX)
trap 'rm -rf "$work"; [ -n "${pids:-}" ] && kill $pids 2>/dev/null || true' EXIT
pids=""
step() { echo; echo "=== smoke: $*"; }
fail() { echo "=== smoke FAILED: $*" >&2; exit 1; }
# run_into LOG CMD…: runs CMD with its output in $work/LOG; if it fails, the log's tail and stop.
run_into() {
  local log="$work/$1"; shift
  local rc=0
  "$@" > "$log" 2>&1 || rc=$?
  [ "$rc" -eq 0 ] || { tail -30 "$log"; fail "$* exited $rc"; }
}
# expect_in LOG WHAT PATTERN: $work/LOG must have a line matching PATTERN (grep -E; the last
# such line is shown); else the log's tail and stop, saying WHAT was missing.
expect_in() {
  grep -qE "$3" "$work/$1" || { tail -30 "$work/$1"; fail "$2"; }
  grep -E "$3" "$work/$1" | tail -1
}

# valgrind for the leak check; nginx, wrk for the benchmark (bench/run.sh installs those itself).
if ! command -v valgrind >/dev/null; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends valgrind >/dev/null
fi

step "fuzz/run.sh ${FUZZ_SECONDS:-30} (make fuzz)"
fuzz/run.sh "${FUZZ_SECONDS:-30}" > "$work/fuzz.log" 2>&1 || { tail -30 "$work/fuzz.log"; fail "fuzz/run.sh exited $?"; }
grep -E "^Done [0-9]+ runs" "$work/fuzz.log" || { tail -30 "$work/fuzz.log"; fail "the fuzzer did not run"; }

step "bench/run.sh (debug build, one short run of ingest, accept and api against nginx-rtmp)"
BENCH_BUILD=debug bench/run.sh --runs 1 --only ingest,accept,api,webhooks --ingest-seconds 2 --seed-channels 50 \
  --accept-publishers 10 --accept-rate 10 --wrk-seconds 1 --webhook-rounds 2 --webhook-channels 10 --webhook-seconds 1 \
  > "$work/bench.log" 2>&1 || { tail -30 "$work/bench.log"; fail "bench/run.sh"; }
grep -q "publish-accept p99 ms" "$work/bench.log" && grep -q "ingest CPU s per GiB" "$work/bench.log" \
  && grep -q "beside a 4 s and a refusing receiver" "$work/bench.log" || { tail -30 "$work/bench.log"; fail "bench/run.sh printed no table"; }
grep -E "^\| (ingest|publish-accept|webhook)" "$work/bench.log"

step "bench/bench.py: issue #24's workloads (cores, capacity, ffmpeg, scale), tiny"
BENCH_BUILD=debug python3 bench/bench.py --runs 1 --only cores,capacity,ffmpeg,scale --cores-publishers 20 --cores-seconds 2 \
  --capacity-publishers 20 --capacity-seconds 3 --ffmpeg-publishers 2 --ffmpeg-loops 0 --scale-sizes 1000 \
  --accept-publishers 10 --accept-rate 10 --wrk-seconds 1 > "$work/bench2.log" 2>&1 || { tail -30 "$work/bench2.log"; fail "bench.py (new workloads)"; }
for row in "cores busy, 20 real-time" "resident KiB per publisher at 20" "2 ffmpeg -c copy publishers flat out, HLS on" "1,000 channels: accept p99"; do
  grep -q "$row" "$work/bench2.log" || { tail -30 "$work/bench2.log"; fail "bench.py printed no row '$row'"; }
done
grep -E "^\| (cores|resident|ingest CPU s per GiB, 2 ffmpeg|1,000 channels)" "$work/bench2.log"

step "bench/profile.sh (perf, 10 publishers, 2 s, debug build)"
if command -v perf >/dev/null; then
  BENCH_BUILD=debug bench/profile.sh 10 2 "$work/profile" > "$work/profile.log" 2>&1 || { tail -30 "$work/profile.log"; fail "bench/profile.sh"; }
  grep -q "RTMPConnectionHandler\|swift_retain\|read" "$work/profile/flat.txt" || { tail -30 "$work/profile.log"; head -40 "$work/profile/flat.txt"; fail "profile.sh: an empty profile"; }
  head -3 "$work/profile/folded.txt" | cut -c1-160
else
  echo "perf is not installed (bench/run.sh installs linux-perf): skipped"
fi

step "bench/load-generator-cost.py (perf on the load generator, 20 publishers, 2 s, debug build)"
if command -v perf >/dev/null; then
  BENCH_BUILD=debug python3 bench/load-generator-cost.py 20 1 2 > "$work/lgcost.log" 2>&1 || { tail -30 "$work/lgcost.log"; fail "bench/load-generator-cost.py"; }
  for server in LiveGate nginx-rtmp; do
    grep -q "^$server run 1: .*inclusive: net_rx_action .*failed 0$" "$work/lgcost.log" || { tail -30 "$work/lgcost.log"; fail "load-generator-cost.py: no line for $server"; }
  done
  cat "$work/lgcost.log" | cut -c1-160
else
  echo "perf is not installed (bench/run.sh installs linux-perf): skipped"
fi

step "bench/publish-cost.sh (20 one-second publishes, debug build)"
BENCH_BUILD=debug bench/publish-cost.sh 20 20 1 > "$work/cost.log" 2>&1 || { tail -30 "$work/cost.log"; fail "bench/publish-cost.sh"; }
grep -q "^20 publishes (20 accepted, 0 failed)" "$work/cost.log" && grep -q "^CPU per publish: " "$work/cost.log" \
  || { tail -30 "$work/cost.log"; fail "publish-cost.sh: not every publish was accepted, or no figure"; }
grep "CPU per publish" "$work/cost.log"

step "bench/hls-threads.py (HLS CPU by thread, 2 streams, 2 s, debug build)"
run_into hls-threads.log timeout 180 python3 bench/hls-threads.py --livegate .build/debug/livegate --rtmp-bench .build/debug/rtmp-bench \
  --rounds 1 --streams 2 --seconds 2
expect_in hls-threads.log "hls-threads.py: no figures" "^livegate: .*event loops .*lanes .*process .*% per stream"

step "bench/thumbnails.py (CPU per watched channel, 2 channels, 3 s, debug build)"
run_into thumbs.log timeout 180 python3 bench/thumbnails.py --livegate .build/debug/livegate --channels 2 --seconds 3
expect_in thumbs.log "thumbnails.py: no picture answered" "^\| every channel's picture asked each second \([1-9][0-9]* answered 200\)"
expect_in thumbs.log "thumbnails.py: no figure" "^\| cost of a watched channel"

step "bench/memory-over-time.py (10 publishers, 3 s, debug build)"
run_into memory.log timeout 180 python3 bench/memory-over-time.py --livegate .build/debug/livegate --rtmp-bench .build/debug/rtmp-bench \
  --publishers 10 --rate 10 --seconds 3 --every 1
expect_in memory.log "memory-over-time.py: no samples" "^ +[0-9]+\.[0-9] +[0-9]+\.[0-9]"

step "bench/insights.py (a year of 3 channels' history, SQLite, 2 requests, debug build)"
run_into insights.log timeout 600 python3 bench/insights.py --livegate .build/debug/livegate --requests 2 --channels 3
expect_in insights.log "insights.py: the totals differ from the sessions summed" "the answer matches"
expect_in insights.log "insights.py: no figure" "^\| a year by day, one channel"

step "bench/heap.sh (heaptrack, 10 publishers, debug build)"
run_into heap.log env LIVEGATE=.build/debug/livegate RTMP_BENCH=.build/debug/rtmp-bench HOLD=2 timeout 300 bench/heap.sh 10 10 "$work/heap"
expect_in heap.log "heap.sh: no figure" "^resident: .* with 10 publishers: .* KiB each"
expect_in heap.log "heap.sh: no allocation sites" "leaked over"

step "scripts/leakcheck-media.sh (valgrind)"
scripts/leakcheck-media.sh > "$work/leak.log" 2>&1 || { tail -30 "$work/leak.log"; fail "leakcheck-media.sh"; }
grep -q "testRepeatedSessionsDoNotGrowTheHeap' passed" "$work/leak.log" || { tail -30 "$work/leak.log"; fail "the leak test did not pass under valgrind"; }
grep -E "heap growth|definitely lost:" "$work/leak.log" || true

step "scripts/record-fixture.py (ffmpeg → recorder → ffmpeg -listen)"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
upstream=$(free_port); listen=$(free_port)
ffmpeg -hide_banner -loglevel error -f lavfi -i testsrc2=size=320x240:rate=25 -f lavfi -i sine -t 1 \
  -c:v libx264 -g 25 -c:a aac -f flv "$work/clip.flv"
timeout 30 ffmpeg -hide_banner -loglevel error -listen 1 -f flv -i "rtmp://127.0.0.1:$upstream/live/k" -f null - &
pids="$!"
sleep 1
timeout 30 scripts/record-fixture.py --listen "$listen" --upstream "$upstream" --out "$work/recorded.bin" &
recorder=$!
pids="$pids $recorder"
sleep 0.5
timeout 30 ffmpeg -hide_banner -loglevel error -i "$work/clip.flv" -c copy -f flv "rtmp://127.0.0.1:$listen/live/k" || fail "publishing through the recorder"
wait "$recorder" || fail "record-fixture.py exited $?"
size=$(stat -c %s "$work/recorded.bin")
first=$(head -c 1 "$work/recorded.bin" | od -An -tx1 | tr -d ' ')
[ "$size" -gt 10000 ] && [ "$first" = "03" ] || fail "recorded $size bytes starting with 0x$first (expected an RTMP C0 and a publish)"
echo "recorded $size bytes of a publish"

echo; echo "=== smoke: every script ran"
