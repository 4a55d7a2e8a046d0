"""Unexpected exceptions: reported with their traceback, contained where they happen.

A bug in one command, one event or one migration task must not take the whole
fake down (every monitor gone, socket files removed): the trio layer catches
it at the boundary of the connection or task that raised it, ends that one,
and reports it here on stderr, where ``fakeqemu serve -v`` logs as well.
"""

from __future__ import annotations

import sys


def report_failure(what: str, error: BaseException) -> None:
    """Print ``fakeqemu: WHAT`` and the traceback of ``error`` on stderr."""
    import traceback  # not on the start-up path of `fakeqemu serve`

    text = "".join(traceback.format_exception(error))
    print(f"fakeqemu: {what}\n{text}", end="", file=sys.stderr, flush=True)


#: QEMU's error_report() prefix: the basename of its argv[0].  The fake prints QEMU's
#: lines under QEMU's name, since tools (libvirt among them) read QEMU's stderr.
QEMU_PROGRAM = "qemu-system-x86_64"


def qemu_error_report(message: str) -> None:
    """A line on stderr as QEMU's error_report() prints it."""
    print(f"{QEMU_PROGRAM}: {message}", file=sys.stderr, flush=True)
