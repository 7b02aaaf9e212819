#!/usr/bin/env bash
# One command for the side-by-side benchmarks (issue #6): installs what is missing (nginx with
# Debian's libnginx-mod-rtmp, wrk, ffmpeg, python3), builds LiveGate and rtmp-bench in release
# mode, and prints the LiveGate / nginx-rtmp table. Arguments go to bench/bench.py, e.g.
#   bench/run.sh                      # everything, median of 3 runs (about 30 minutes)
#   bench/run.sh --runs 1 --only ingest,accept
# BENCH_BUILD=debug uses debug builds (CI's smoke run of this script: figures meaningless, the
# machinery exercised).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
packages=(nginx-light libnginx-mod-rtmp wrk python3 linux-perf)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# The packaged nginx service is not needed (and would hold port 80): keep it stopped.
systemctl stop nginx 2>/dev/null || service nginx stop 2>/dev/null || true
build="${BENCH_BUILD:-release}"
export BENCH_BUILD="$build"
swift build -c "$build" --product livegate
swift build -c "$build" --product rtmp-bench
exec python3 bench/bench.py "$@"
