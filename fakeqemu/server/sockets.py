"""Who else serves a unix socket path: for the warning when ``serve`` takes one over.

QEMU unlinks whatever is at a ``server=on`` socket path and binds its own, even
when another process is listening there; so does ``fakeqemu serve``.  But the
first process then runs on unreachable, which is rarely what anyone meant, so
the fake says so on stderr, naming the process when Linux's /proc tells.
Standard library only: this runs before ``serve`` imports anything heavy.
"""

from __future__ import annotations

import os
import sys

#: /proc/net/unix flags of a listening socket (__SO_ACCEPTCON).
_LISTENING = 0x10000


def listening_inode(path: str) -> int | None:
    """The inode of a socket listening on ``path`` (per /proc/net/unix), if any."""
    wanted = {path, os.path.abspath(path)}
    try:
        with open("/proc/net/unix", encoding="utf-8", errors="replace") as table:
            next(table, None)  # the header
            for line in table:
                fields = line.split(None, 7)
                path_matches = len(fields) == 8 and fields[7].rstrip("\n") in wanted
                if path_matches and int(fields[3], 16) & _LISTENING:
                    return int(fields[6])
    except OSError:
        return None
    return None


def socket_owner(inode: int) -> int | None:
    """A process (not this one) that holds the socket ``inode`` open, if /proc shows one."""
    target = f"socket:[{inode}]"
    me = os.getpid()
    try:
        pids = [int(name) for name in os.listdir("/proc") if name.isdigit()]
    except OSError:
        return None
    for pid in pids:
        if pid == me:
            continue
        directory = f"/proc/{pid}/fd"
        try:
            descriptors = os.listdir(directory)
        except OSError:
            continue
        for fd in descriptors:
            try:
                if os.readlink(f"{directory}/{fd}") == target:
                    return pid
            except OSError:
                continue
    return None


def process_name(pid: int) -> str:
    """argv[0] of ``pid``, as QEMU names processes (qemu_get_pid_name())."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
            name = cmdline.read().split(b"\0", 1)[0]
    except OSError:
        return "<unknown process>"
    return name.decode(errors="replace") or "<unknown process>"


def warn_if_served(path: str) -> None:
    """Warn on stderr when a live process listens on ``path``, which is about to be taken."""
    inode = listening_inode(path)
    if inode is None:
        return
    pid = socket_owner(inode)
    who = "another process" if pid is None else f"process {pid} ({process_name(pid)})"
    print(
        f"fakeqemu: warning: {path} is being served by {who}; taking the path over as "
        "QEMU does (that process stays up, but clients can no longer reach it there)",
        file=sys.stderr,
        flush=True,
    )
