#!/usr/bin/env bash
# The independent Python tools the tests check LiveGate against (scripts/python-requirements.txt:
# standardwebhooks, …), in a virtualenv under .build/ (never committed), created on first use.
# Prints the virtualenv's python. Needs python3 with venv (installed from Debian if missing).
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${LIVEGATE_PYTHON_VENV:-$PWD/.build/python-tools}"
req="scripts/python-requirements.txt"
stamp="$venv/.requirements"
if [ -x "$venv/bin/python" ] && [ -f "$stamp" ] && cmp -s "$req" "$stamp"; then
  echo "$venv/bin/python"; exit 0
fi
if ! command -v python3 >/dev/null || ! python3 -c 'import venv, ensurepip' 2>/dev/null; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends python3 python3-venv python3-pip >/dev/null
fi
rm -rf "$venv"
python3 -m venv "$venv" >&2
"$venv/bin/pip" install -q --disable-pip-version-check -r "$req" >&2
cp "$req" "$stamp"
echo "$venv/bin/python"
