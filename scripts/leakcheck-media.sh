#!/usr/bin/env bash
# Runs the media pipeline's leak test under valgrind memcheck (issue #5: "nothing leaks").
# A process under valgrind cannot spawn ffmpeg, so the clip is made first and passed in;
# valgrind 3.19 cannot read Swift 6's DWARF, so it runs on a copy stripped of debug info.
# Prints valgrind's leak summary; "definitely lost" blocks should all be XCTest's own.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { echo "install valgrind first (apt-get install valgrind)" >&2; exit 1; }
swift build --build-tests >/dev/null
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
ffmpeg -hide_banner -loglevel error -y -f lavfi -i testsrc2=size=320x240:rate=25 -f lavfi -i sine=frequency=440:sample_rate=48000 \
  -t 2 -c:v libx264 -profile:v main -preset veryfast -pix_fmt yuv420p -g 50 -bf 2 -c:a aac -ac 2 -f flv "$work/clip.flv"
cp "$(swift build --show-bin-path)/LiveGatePackageTests.xctest" "$work/tests.xctest"
strip --strip-debug "$work/tests.xctest"
LIVEGATE_LEAKCHECK_CLIP="$work/clip.flv" valgrind --leak-check=full --show-leak-kinds=definite --num-callers=40 \
  "$work/tests.xctest" MediaPipelineTests.MediaLeakTests/testRepeatedSessionsDoNotGrowTheHeap 2>&1 \
  | tee "$work/valgrind.log" | grep -E "heap growth|passed|failed|definitely lost|indirectly lost|are definitely lost|by 0x.*(MediaPipeline|CFFmpeg|libav)" || true
