#!/usr/bin/env bash
# Install real QEMU binaries to compare fakeqemu against.
#
#   scripts/install-real-qemu.sh            # all three versions
#   scripts/install-real-qemu.sh 7.2 11.1   # only the versions named
#
# Versions (each one is skipped unless named, when any version is named):
#   7.2   Debian bookworm qemu-system-x86 (+ socat)  -> /usr/bin/qemu-system-x86_64
#   10.0  bookworm-backports packages unpacked with dpkg -x into /opt/qemu-10.0
#                                                    -> /usr/local/bin/qemu-system-x86_64-10.0
#   11.1  trixie chroot (debootstrap) at /opt/trixie-root with qemu-system-x86
#         from trixie-backports                      -> /usr/local/bin/qemu-system-x86_64-11.1
#
# QEMU10_DIR, TRIXIE_ROOT and WRAPPER_DIR in the environment override the
# /opt/qemu-10.0, /opt/trixie-root and /usr/local/bin locations.
# Must run as root on Debian 12 (bookworm). Only Debian package mirrors are
# used; the mirror is read from the apt sources already configured here.
# Running it again is safe: finished steps are detected and skipped.
#
# The 11.1 wrapper bind-mounts /tmp, /proc, /sys and /dev into the chroot so
# unix sockets under /tmp are shared with the host. Never `rm -rf` the chroot
# while those mounts exist: run `scripts/install-real-qemu.sh --umount` first.
set -euo pipefail

# Install locations; the environment may override them (e.g. for testing).
OPT10=${QEMU10_DIR:-/opt/qemu-10.0}
CHROOT=${TRIXIE_ROOT:-/opt/trixie-root}
WRAPDIR=${WRAPPER_DIR:-/usr/local/bin}
WRAP10=$WRAPDIR/qemu-system-x86_64-10.0
WRAP11=$WRAPDIR/qemu-system-x86_64-11.1
export DEBIAN_FRONTEND=noninteractive

log() { printf '[install-real-qemu] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

umount_chroot() {
    local m
    for m in tmp dev sys proc; do
        if mountpoint -q "$CHROOT/$m" 2>/dev/null; then
            umount "$CHROOT/$m" || umount -l "$CHROOT/$m"
        fi
    done
}

want_72=0 want_100=0 want_111=0
if [ $# -eq 0 ]; then
    want_72=1 want_100=1 want_111=1
fi
for arg in "$@"; do
    case "$arg" in
        7.2) want_72=1 ;;
        10.0) want_100=1 ;;
        11.1) want_111=1 ;;
        --umount) umount_chroot; exit 0 ;;
        -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
        *) die "unknown argument '$arg' (expected 7.2, 10.0, 11.1 or --umount)" ;;
    esac
done

[ "$(id -u)" -eq 0 ] || die "must run as root"
. /etc/os-release
[ "${VERSION_CODENAME:-}" = bookworm ] || die "expected Debian 12 (bookworm), found ${PRETTY_NAME:-unknown}"

# --- apt helpers --------------------------------------------------------------

# Print the URI of the configured Debian archive that serves bookworm
# (not the security archive), from deb822 *.sources or one-line *.list files.
debian_mirror() {
    local f uri
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] || continue
        uri=$(awk '
            function flush() {
                if (types ~ /(^| )deb( |$)/ && suites ~ /(^| )bookworm( |$)/ && uris != "") {
                    split(uris, u, " "); print u[1]; found = 1; exit
                }
                types = ""; suites = ""; uris = ""
            }
            /^[ \t]*$/ { flush(); next }
            /^[ \t]*#/ { next }
            tolower($1) == "types:" { $1 = ""; types = $0 }
            tolower($1) == "suites:" { $1 = ""; suites = $0 }
            tolower($1) == "uris:" { $1 = ""; sub(/^ +/, ""); uris = $0 }
            END { if (!found) flush() }
        ' "$f")
        if [ -n "$uri" ]; then
            printf '%s\n' "${uri%/}"
            return 0
        fi
    done
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -f "$f" ] || continue
        uri=$(awk '$1 == "deb" {
                i = 2; if ($i ~ /^\[/) { while ($i !~ /\]$/) i++; i++ }
                if ($(i+1) == "bookworm") { print $i; exit }
            }' "$f")
        if [ -n "$uri" ]; then
            printf '%s\n' "${uri%/}"
            return 0
        fi
    done
    return 1
}

APT_UPDATED=0
apt_update_once() {
    if [ "$APT_UPDATED" -eq 0 ]; then
        log "apt-get update"
        apt-get update -q >/dev/null
        APT_UPDATED=1
    fi
}

pkg_installed() {
    dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

ensure_pkgs() {
    local missing=() p
    for p in "$@"; do
        pkg_installed "$p" || missing+=("$p")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        apt_update_once
        log "apt-get install ${missing[*]}"
        apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
    fi
}

MIRROR=$(debian_mirror) || die "no Debian archive serving bookworm found in /etc/apt sources"
log "Debian mirror: $MIRROR"

step_start() { STEP_T0=$(date +%s); log "=== $1"; }
step_end() { log "=== $1 done in $(( $(date +%s) - STEP_T0 ))s"; }

# --- QEMU 7.2 (bookworm) -----------------------------------------------------

install_72() {
    step_start "QEMU 7.2 (bookworm)"
    if pkg_installed qemu-system-x86 && pkg_installed socat; then
        log "qemu-system-x86 and socat already installed"
    else
        apt_update_once
        apt-get install -y -q qemu-system-x86 socat >/dev/null
    fi
    /usr/bin/qemu-system-x86_64 -version | head -n 1
    step_end "QEMU 7.2"
}

# --- QEMU 10.0 (bookworm-backports, unpacked) --------------------------------

has_suite() {
    grep -rqsE "(^|[[:space:]])$1([[:space:]]|$)" /etc/apt/sources.list /etc/apt/sources.list.d/
}

install_100() {
    step_start "QEMU 10.0 (bookworm-backports, dpkg -x into $OPT10)"
    if [ -x "$WRAP10" ] && "$WRAP10" -version 2>/dev/null | grep -q 'version 10\.0\.'; then
        log "already installed: $("$WRAP10" -version | head -n 1)"
        step_end "QEMU 10.0"
        return
    fi
    if ! has_suite bookworm-backports; then
        log "adding bookworm-backports to /etc/apt/sources.list.d/bookworm-backports.sources"
        cat >/etc/apt/sources.list.d/bookworm-backports.sources <<EOF
Types: deb
URIs: $MIRROR
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
        APT_UPDATED=0
    fi
    apt_update_once

    # Shared libraries come from bookworm; firmware ROMs for NICs from ipxe-qemu.
    local deps
    deps=$(apt-cache show qemu-system-x86/bookworm-backports | awk -F': ' '/^Depends:/ {print $2; exit}' \
        | tr ',' '\n' | sed -e 's/([^)]*)//g' -e 's/|.*//' -e 's/^ *//' -e 's/ *$//' \
        | grep -vE '^(qemu-system-common|qemu-system-data|seabios)$' | grep -v '^$' || true)
    # shellcheck disable=SC2086
    ensure_pkgs $deps

    local tmp
    tmp=$(mktemp -d)
    chmod 755 "$tmp"
    (
        cd "$tmp"
        apt-get download -q \
            qemu-system-x86/bookworm-backports \
            qemu-system-common/bookworm-backports \
            qemu-system-data/bookworm-backports \
            seabios/bookworm-backports >/dev/null 2>&1 \
            || apt-get download qemu-system-x86/bookworm-backports qemu-system-common/bookworm-backports \
                qemu-system-data/bookworm-backports seabios/bookworm-backports
    )
    mkdir -p "$OPT10"
    local deb
    for deb in "$tmp"/*.deb; do
        log "dpkg -x $(basename "$deb")"
        dpkg -x "$deb" "$OPT10"
    done
    rm -rf "$tmp"

    if ldd "$OPT10/usr/bin/qemu-system-x86_64" | grep -q 'not found'; then
        ldd "$OPT10/usr/bin/qemu-system-x86_64" | grep 'not found' >&2
        die "QEMU 10.0 is missing shared libraries"
    fi

    mkdir -p "$WRAPDIR"
    cat >"$WRAP10" <<EOF
#!/bin/bash
# QEMU 10.0 (Debian bookworm-backports) unpacked with dpkg -x into $OPT10.
# Written by scripts/install-real-qemu.sh.
R=$OPT10
EOF
    cat >>"$WRAP10" <<'EOF'
export QEMU_MODULE_DIR="$R/usr/lib/x86_64-linux-gnu/qemu"
exec "$R/usr/bin/qemu-system-x86_64" -L "$R/usr/share/qemu" -L "$R/usr/share/seabios" -L /usr/lib/ipxe/qemu "$@"
EOF
    chmod 755 "$WRAP10"
    "$WRAP10" -version | head -n 1
    step_end "QEMU 10.0"
}

# --- QEMU 11.1 (trixie-backports, in a trixie chroot) ------------------------

mount_chroot() {
    local m
    for m in proc sys dev tmp; do
        mkdir -p "$CHROOT/$m"
        mountpoint -q "$CHROOT/$m" || mount --bind "/$m" "$CHROOT/$m"
    done
}

install_111() {
    step_start "QEMU 11.1 (trixie-backports in $CHROOT)"
    if [ -x "$WRAP11" ] && [ -x "$CHROOT/usr/bin/qemu-system-x86_64" ] \
        && "$WRAP11" -version 2>/dev/null | grep -q 'version 11\.1\.'; then
        log "already installed: $("$WRAP11" -version | head -n 1)"
        step_end "QEMU 11.1"
        return
    fi
    ensure_pkgs debootstrap debian-archive-keyring
    if [ ! -x "$CHROOT/usr/bin/apt-get" ]; then
        log "debootstrap --variant=minbase trixie $CHROOT $MIRROR"
        debootstrap --variant=minbase --keyring=/usr/share/keyrings/debian-archive-keyring.gpg \
            trixie "$CHROOT" "$MIRROR" >/dev/null
    fi
    rm -f "$CHROOT/etc/apt/sources.list"
    cat >"$CHROOT/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $MIRROR
Suites: trixie trixie-updates trixie-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
    mount_chroot
    chroot "$CHROOT" apt-get update -q >/dev/null
    chroot "$CHROOT" env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -q -o Dpkg::Use-Pty=0 --no-install-recommends -t trixie-backports qemu-system-x86 >/dev/null

    mkdir -p "$WRAPDIR"
    cat >"$WRAP11" <<EOF
#!/bin/bash
# QEMU 11.1 (Debian trixie-backports) installed in a trixie chroot at $CHROOT.
# Written by scripts/install-real-qemu.sh. /tmp, /dev, /proc and /sys are
# bind-mounted into the chroot so unix sockets under /tmp are shared with the
# host; file paths given as arguments are resolved inside the chroot (use /tmp).
set -e
R=$CHROOT
EOF
    cat >>"$WRAP11" <<'EOF'
for m in proc sys dev tmp; do
    mountpoint -q "$R/$m" || mount --bind "/$m" "$R/$m"
done
exec chroot "$R" /usr/bin/qemu-system-x86_64 "$@"
EOF
    chmod 755 "$WRAP11"
    "$WRAP11" -version | head -n 1
    step_end "QEMU 11.1"
}

[ "$want_72" -eq 1 ] && install_72
[ "$want_100" -eq 1 ] && install_100
[ "$want_111" -eq 1 ] && install_111
log "done"
