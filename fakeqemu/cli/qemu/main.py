"""``fakeqemu-system-x86_64``: QEMU's command line in, a fake QEMU out.

    fakeqemu-system-x86_64 -S -machine none,accel=kvm:tcg \\
        -qmp unix:/run/x/qmp.monitor,server=on,wait=off -pidfile /run/x/qmp.pid -daemonize

Reads the command line as the release does (:mod:`fakeqemu.cli.qemu.command_line`),
then, in QEMU's order: ``-daemonize`` forks, the pidfile is written, every monitor
listens, and only then does a daemonizing parent exit 0 (1, after QEMU's message, if
anything failed).  Nothing is printed on a successful start, as QEMU prints nothing;
SIGTERM, SIGINT and SIGHUP end it as they end QEMU (``SHUTDOWN`` ``host-signal``).
Which release, shape and backend: :mod:`fakeqemu.cli.qemu.selection`.
"""

from __future__ import annotations

import datetime
import os
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fakeqemu.cli.qemu.command_line import QemuCommandLine
    from fakeqemu.cli.qemu.selection import Selection

#: The program name ``fakeqemu qemu`` reports under.
QEMU_NAME = "qemu-system-x86_64"


class Reporter:
    """error_report(): ``PROG: message`` on stderr, with ``-msg timestamp=on`` a UTC
    timestamp first (``2026-12-01T04:07:34.410353Z``)."""

    def __init__(self, program: str, timestamp: bool = False) -> None:
        self.program = os.path.basename(program)
        self.timestamp = timestamp

    def __call__(self, message: str) -> None:
        prefix = ""
        if self.timestamp:
            now = datetime.datetime.now(datetime.UTC)
            prefix = now.strftime("%Y-%m-%dT%H:%M:%S.%fZ ")
        print(f"{prefix}{self.program}: {message}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None, program: str | None = None) -> int:
    """The console script; ``argv`` and ``program`` default to this process's own."""
    program = sys.argv[0] if program is None else program
    args = sys.argv[1:] if argv is None else argv
    from fakeqemu.cli.qemu.command_line import CommandLineError, parse_command_line
    from fakeqemu.cli.qemu.qemu_opts import OptsError
    from fakeqemu.cli.qemu.selection import select
    from fakeqemu.errors import FakeQemuError
    from fakeqemu.profiles import get_profile

    report = Reporter(program)
    try:
        selection = select(program, os.environ, args)
        cli = get_profile(selection.profile).emulator.cli
        line = parse_command_line(program, args, cli)
    except (CommandLineError, OptsError, FakeQemuError) as error:
        report(str(error))
        return 1
    if line.version:
        sys.stdout.write(cli["version"])
        return 0
    if line.help:
        sys.stdout.write(cli["help"].replace("{prog}", line.program))
        return 0
    return _start(line, selection, Reporter(program, line.msg_timestamp))


def _start(line: QemuCommandLine, selection: Selection, report: Reporter) -> int:
    from fakeqemu.cli.qemu.host import daemonize

    # Before any thread exists: fork, then own the termination signals.
    ready = daemonize() if line.daemonize else None
    from fakeqemu.server.signals import HostSignals

    signals = HostSignals()
    from fakeqemu.cli.qemu.run import run

    return run(line, selection, report, ready, signals)


def fakeqemu_qemu(argv: list[str]) -> int:
    """``fakeqemu qemu ARGS...``: the same, under QEMU's own name."""
    return main(argv, QEMU_NAME)


if __name__ == "__main__":
    raise SystemExit(main())
