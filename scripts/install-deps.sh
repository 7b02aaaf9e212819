#!/usr/bin/env bash
# Installs what a fresh Debian 12 machine with only the Swift toolchain lacks, and nothing
# when everything is already there. Used by `make run`, `make test` and `.ci/run`.
set -euo pipefail

packages=(ffmpeg libavformat-dev libavcodec-dev libavutil-dev libswscale-dev libsqlite3-dev curl openssl pkg-config libssl-dev postgresql gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad haproxy prometheus chromium)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "installing: ${missing[*]}" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
  SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Only promtool is wanted from `prometheus`: a server its package may have started (on a machine
# whose policy lets packages start daemons) is stopped; the tests start every server they need.
if printf '%s\n' "${missing[@]}" | grep -qx prometheus; then
  $SUDO invoke-rc.d prometheus stop >/dev/null 2>&1 || true
  $SUDO pkill -x prometheus >/dev/null 2>&1 || true
fi
