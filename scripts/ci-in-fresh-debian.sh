#!/usr/bin/env bash
# Run .ci/run as CI does, on a fresh Debian bookworm without systemd running: a
# debootstrap chroot (minbase, plus python3, python3-venv, make, git), a clone of this
# repository's HEAD inside it, in mount and pid namespaces of its own (everything it
# starts ends with it; nothing is mounted outside).
#
#   scripts/ci-in-fresh-debian.sh [ROOT]     # ROOT: /tmp/fakeqemu-ci-root by default
#
# Must run as root. The chroot is kept for the next run (apt then has nothing to do);
# remove ROOT when done. HOST_CA=FILE copies a CA bundle in for pip (PIP_CERT), for
# machines behind an intercepting proxy.
set -euo pipefail
ROOT=${1:-/tmp/fakeqemu-ci-root}
REPO=$(cd "$(dirname "$0")/.." && pwd)
MIRROR=${MIRROR:-http://deb.debian.org/debian}
if [ ! -x "$ROOT/usr/bin/python3" ]; then
    debootstrap --variant=minbase --include=python3,python3-venv,make,git,ca-certificates \
        bookworm "$ROOT" "$MIRROR"
fi
cp /etc/resolv.conf "$ROOT/etc/resolv.conf"
pip_cert=()
if [ -n "${HOST_CA:-}" ]; then
    cp "$HOST_CA" "$ROOT/usr/local/share/host-ca.crt"
    pip_cert=(PIP_CERT=/usr/local/share/host-ca.crt)
fi
rm -rf "$ROOT/root/fakeqemu"
git clone -q "$REPO" "$ROOT/root/fakeqemu"
# / inside must be a mount point (as on a machine) for unshare --propagation private.
exec unshare -m -p -f --propagation private bash -c '
    R=$1; shift
    mount --bind "$R" "$R" && mount --rbind /dev "$R/dev" && mount -t proc proc "$R/proc" \
        && mount --rbind /sys "$R/sys" && mount -t tmpfs tmpfs "$R/run" \
        && mount -t tmpfs tmpfs "$R/tmp" \
        && exec chroot "$R" /usr/bin/env -i HOME=/root \
            PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "$@" \
            bash -c "cd /root/fakeqemu && time .ci/run"' _ "$ROOT" "${pip_cert[@]}"
