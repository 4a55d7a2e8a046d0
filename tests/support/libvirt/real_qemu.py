"""Real QEMU as libvirt's emulator, per release, for the comparisons.

Debian's 7.2 is run as it is.  The 10.0 and 11.1 that scripts/install-real-qemu.sh
installs need a wrapper each under libvirt: 10.0 is unpacked beside the system's
7.2 and must not load 7.2's modules (it aborts on ``qom-list-types`` if it does), so
it runs in a mount namespace where the module directory is its own; 11.1 runs in a
chroot, which must also see libvirt's directories (the probe's pidfile and monitor,
the domain's master key).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

_MODULES = "/usr/lib/x86_64-linux-gnu/qemu"
_WRAPPER_10_0 = f"""#!/bin/sh
exec unshare -m --propagation private sh -c \\
  'mount --bind /opt/qemu-10.0{_MODULES} {_MODULES} && exec "$0" "$@"' \\
  /usr/local/bin/qemu-system-x86_64-10.0 "$@"
"""
_WRAPPER_11_1 = """#!/bin/sh
R=/opt/trixie-root
for d in /var/lib/libvirt /run/libvirt /var/log/libvirt /var/cache/libvirt; do
  mkdir -p "$R$d"; mountpoint -q "$R$d" || mount --bind "$d" "$R$d"
done
exec /usr/local/bin/qemu-system-x86_64-11.1 "$@"
"""


def version_of(binary: str) -> str | None:
    try:
        out = subprocess.run([binary, "-version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = re.search(r"version (\d+\.\d+)", out.stdout)
    return None if match is None else match[1]


def real_emulator(profile: str, workdir: Path) -> str | None:
    """An emulator libvirt can run for real QEMU ``profile``, or None if none is here."""
    chosen = os.environ.get("FAKEQEMU_REAL_QEMU")
    candidates = [chosen] if chosen else []
    candidates += [
        shutil.which("qemu-system-x86_64") or "",
        f"/usr/local/bin/qemu-system-x86_64-{profile}",
    ]
    for binary in candidates:
        if not binary or not os.access(binary, os.X_OK) or version_of(binary) != profile:
            continue
        wrapper = {"10.0": _WRAPPER_10_0, "11.1": _WRAPPER_11_1}.get(profile)
        if wrapper is None or not binary.startswith("/usr/local/bin/"):
            return binary
        path = workdir / f"qemu-system-x86_64-{profile}"
        path.write_text(wrapper)
        path.chmod(0o755)
        return str(path)
    return None
