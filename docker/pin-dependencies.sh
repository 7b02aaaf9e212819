#!/usr/bin/env bash
# The dependency versions the test suite ran with, for the Docker build.
#
#   docker/pin-dependencies.sh            write Package.resolved from docker/dependency-versions.txt
#   docker/pin-dependencies.sh --record   rewrite docker/dependency-versions.txt from ./Package.resolved
#
# Package.resolved stays out of git: the package copies on the development machines carry other
# commit ids than GitHub's. The versions are what must match, so those are recorded here, and the
# Docker build turns them back into a Package.resolved with the commit ids of wherever the URLs
# point (`git ls-remote`), then builds with --force-resolved-versions. DockerFilesTests checks that
# this file lists exactly what `swift build` resolved for the suite, and that this script
# reproduces that Package.resolved.
set -euo pipefail
cd "$(dirname "$0")/.."
versions=docker/dependency-versions.txt
out=${PIN_OUTPUT:-Package.resolved}

if [ "${1:-}" = "--record" ]; then
  python3 - "$versions" <<'PY'
import json, sys
pins = json.load(open("Package.resolved"))["pins"]
with open(sys.argv[1], "w") as f:
    f.write("# identity location version — what the test suite resolved; see docker/pin-dependencies.sh\n")
    for p in sorted(pins, key=lambda p: p["identity"]):
        f.write(f'{p["identity"]} {p["location"]} {p["state"]["version"]}\n')
PY
  echo "recorded $(grep -vc '^#' "$versions") versions in $versions" >&2
  exit 0
fi

entries=()
while read -r identity location version; do
  case "$identity" in ''|'#'*) continue ;; esac
  # An annotated tag's commit is its peeled ref (^{}); a lightweight tag points at the commit.
  refs=$(git ls-remote "$location" "refs/tags/$version" "refs/tags/$version^{}")
  revision=$(printf '%s\n' "$refs" | awk '/\^\{\}$/ {print $1; found=1} END {}' | head -1)
  [ -n "$revision" ] || revision=$(printf '%s\n' "$refs" | awk '{print $1}' | head -1)
  if [ -z "$revision" ]; then
    echo "pin-dependencies: $location has no tag $version" >&2
    exit 1
  fi
  entries+=("$identity $location $version $revision")
done < "$versions"

printf '%s\n' "${entries[@]}" | python3 -c '
import json, sys
pins = []
for line in sys.stdin:
    identity, location, version, revision = line.split()
    pins.append({"identity": identity, "kind": "remoteSourceControl", "location": location,
                 "state": {"revision": revision, "version": version}})
print(json.dumps({"pins": pins, "version": 2}, indent=2))
' > "$out"
echo "pinned ${#entries[@]} dependencies in $out" >&2
