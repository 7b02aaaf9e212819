#!/usr/bin/env bash
# The README's test command (via `make test`): builds the tests, starts PostgreSQL on loopback,
# makes the Python virtualenv of independent checkers (scripts/python-tools.sh),
# runs every suite, and — when something fails — repeats each failing assertion at the very end
# of the output, so a CI log that keeps only its tail still names the test and the line.
set -uo pipefail
cd "$(dirname "$0")/.."
swift build --build-tests || exit $?
url=$(scripts/start-postgres.sh) || exit $?
# Leave nothing running: the PostgreSQL started above is stopped however the run ends.
trap 'scripts/start-postgres.sh stop' EXIT
# The independent checkers (standardwebhooks, openapi-spec-validator, jsonschema) in a virtualenv.
python=$(scripts/python-tools.sh) || exit $?
log=$(mktemp -t livegate-tests.XXXXXX)
LIVEGATE_TEST_POSTGRES_URL="$url" LIVEGATE_TEST_PYTHON="$python" swift test --skip-build 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
# Every script of fuzz/, bench/ and scripts/ started once, briefly (LIVEGATE_SKIP_SMOKE=1 skips).
smoke=0
if [ "${LIVEGATE_SKIP_SMOKE:-0}" != "1" ]; then
  scripts/smoke-scripts.sh || smoke=$?
fi
if [ "$rc" -ne 0 ]; then
  echo
  echo "=== failing tests (from $log) ==="
  grep -E "error: |Test Case '.*' failed|Fatal error|Crash|signal" "$log" | cut -c1-600 | head -40
fi
[ "$smoke" -ne 0 ] && echo "=== scripts/smoke-scripts.sh failed (exit $smoke): see '=== smoke FAILED' above"
[ "$rc" -ne 0 ] && exit "$rc"
exit "$smoke"
