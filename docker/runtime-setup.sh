#!/bin/sh
# The runtime image's user and directories — run by docker/Dockerfile, and by
# DockerFilesTests (as root, with LIVEGATE_ROOT set to a scratch folder) to reproduce the image's
# layout outside Docker and run the binary in it the way the ENTRYPOINT does.
#
# The data directory is created and owned by the runtime user *before* the Dockerfile's VOLUME:
# Docker initialises a new named volume from the image's folder, ownership included, so a folder
# created here is writable by `livegate` in the container; one left to Docker would be root's and
# SQLite could not open its file.
set -eu
root="${LIVEGATE_ROOT:-}"
uid="${LIVEGATE_UID:-10001}"

if ! getent group livegate >/dev/null; then
  groupadd --system --gid "$uid" livegate
fi
if ! getent passwd livegate >/dev/null; then
  useradd --system --uid "$uid" --gid livegate --no-create-home --home-dir /var/lib/livegate \
    --shell /usr/sbin/nologin livegate
fi

install -d -m 0755 "$root/etc/livegate" "$root/usr/local/bin"
install -d -o livegate -g livegate -m 0750 "$root/var/lib/livegate"
install -d -o livegate -g livegate -m 0750 "$root/var/lib/livegate/data"
# TLS material mounted here (docker/compose.yaml) must be readable by livegate.
install -d -o root -g livegate -m 0750 "$root/etc/livegate/tls"
