#!/usr/bin/env bash
# Coverage-guided fuzzing of the RTMP parser path (handshake, chunk decoder, AMF, session,
# FLV tags) with libFuzzer + AddressSanitizer.
#   fuzz/run.sh SECONDS [extra libFuzzer flags]
# Crashes land in fuzz/artifacts/; copy each into Tests/RTMPCoreTests/Fixtures/fuzz-regressions/
# (the regression test replays every file there).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"; shift || true

swift build --scratch-path .build-fuzz -c debug --product RTMPFuzzer \
  -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library -Xswiftc -DFUZZING -Xswiftc -Xclang-linker -Xswiftc -fuse-ld=lld >&2
bin=.build-fuzz/debug/RTMPFuzzer

# Seed corpus: the recorded client streams, once per mode (mode byte, split seed, body).
corpus=fuzz/corpus-work
mkdir -p "$corpus" fuzz/artifacts
for f in Tests/RTMPCoreTests/Fixtures/*.bin fuzz/corpus/*; do
  [ -f "$f" ] || continue
  name=$(basename "$f")
  { printf '\x00\x05'; head -c 20000 "$f"; } > "$corpus/seed0-$name"
  # Bytes 3074..23073 (after C0+C1+C2). head reads the file and tail drains the pipe to EOF, so
  # nothing dies of SIGPIPE under pipefail (tail | head did: exit 141 before fuzzing).
  { printf '\x01\x11'; head -c 23073 "$f" | tail -c +3074; } > "$corpus/seed1-$name"
done
for f in Tests/RTMPCoreTests/Fixtures/fuzz-regressions/*; do [ -f "$f" ] && cp "$f" "$corpus/"; done

exec "$bin" "$corpus" -max_total_time="$seconds" -max_len=65536 -rss_limit_mb=2048 -timeout=10 \
  -artifact_prefix=fuzz/artifacts/ -print_final_stats=1 "$@"
