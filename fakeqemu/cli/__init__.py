"""``fakeqemu``: the command line (serve, profiles, capture, contracts, record, replay, qemu).

Imports stay inside the functions so ``fakeqemu serve`` reaches its greeting
quickly: start-up time is one of the figures users compare with QEMU.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fakeqemu.server.signals import HostSignals


#: Each subcommand: its help line, and the function (``module:name``) that adds its
#: arguments.  Only the command being run has its arguments built: ``fakeqemu serve``
#: imports nothing of the others before its greeting.
COMMANDS: dict[str, tuple[str, str | None]] = {
    "serve": ("start a fake QEMU and serve QMP", "fakeqemu.cli.serve:add_serve_arguments"),
    "profiles": ("list the QEMU releases fakeqemu imitates", None),
    "capture": (
        "record a real QEMU (probes, queries, ...)",
        "fakeqemu.cli.capture:add_arguments",
    ),
    "contracts": (
        "JSON Schema contracts of each release and shape: validate, export, diff",
        "fakeqemu.cli.contracts:add_arguments",
    ),
    "drift": (
        "run a command once per schema-drift mutation and report which it survives",
        "fakeqemu.cli.drift:add_arguments",
    ),
    "record": (
        "proxy a QMP client to a QEMU monitor and write a cassette",
        "fakeqemu.cli.cassettes:add_record_arguments",
    ),
    "replay": (
        "serve a cassette: recorded replies to the recorded requests, strictly",
        "fakeqemu.cli.cassettes:add_replay_arguments",
    ),
    # Faults, scenarios and the control API (issue 12).
    "ctl": (
        "drive a fakeqemu serve --control: faults, clock, journal",
        "fakeqemu.cli.ctl:add_arguments",
    ),
    "faults": ("list every fault kind, trigger and scenario", None),
    # QEMU's own command line follows; it is read by fakeqemu.cli.qemu, not argparse.
    "qemu": ("run as qemu-system-x86_64 does (also: fakeqemu-system-x86_64 ARGS)", None),
}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The ``fakeqemu`` parser; with ``command``, only that subcommand's arguments are
    built (every subcommand is still listed, for ``--help``)."""
    parser = argparse.ArgumentParser(
        prog="fakeqemu", description="A QMP test double for QEMU 7.2, 10.0 and 11.1."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (summary, adder) in COMMANDS.items():
        subparser = sub.add_parser(name, help=summary)
        if adder is not None and command in (None, name):
            module, _, function = adder.partition(":")
            getattr(__import__(module, fromlist=[function]), function)(subparser)
    return parser


def main(argv: list[str] | None = None) -> int:
    """The ``fakeqemu`` command; ``argv`` None: this process's own command line."""
    signals = None
    command = sys.argv[1:2] if argv is None else argv[:1]
    if command == ["qemu"]:
        from fakeqemu.cli.qemu.main import fakeqemu_qemu

        return fakeqemu_qemu(sys.argv[2:] if argv is None else argv[1:])
    if command == ["serve"] and threading.current_thread() is threading.main_thread():
        # Before anything else: a signal at any moment from here on ends `serve` as
        # it ends QEMU (fakeqemu.server.signals).
        from fakeqemu.server.signals import HostSignals

        signals = HostSignals()
    try:
        chosen = command[0] if command and command[0] in COMMANDS else None
        status = _run(build_parser(chosen).parse_args(argv), signals)
        # A buffered stdout (a pipe, no PYTHONUNBUFFERED) is written here, not at exit.
        sys.stdout.flush()
        return status
    except BrokenPipeError:
        # `fakeqemu contracts diff ... | head`: the reader left; say nothing more
        # (Python's documented way: point stdout at /dev/null so the exit flush is quiet).
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    finally:
        if signals is not None and argv is not None:
            # A program called main() and goes on: its signals are its own again.  (The
            # `fakeqemu` process itself keeps them blocked to the end: a second signal
            # during shutdown changes nothing, as in QEMU.)
            signals.release()


def _run(args: argparse.Namespace, signals: HostSignals | None) -> int:
    if args.command == "serve":
        from fakeqemu.cli.serve import run_serve

        return run_serve(args, signals)
    if args.command == "capture":
        from fakeqemu.cli.capture import run_capture

        return run_capture(args)
    if args.command in ("record", "replay"):
        from fakeqemu.cli.cassettes import run_record, run_replay

        return run_record(args) if args.command == "record" else run_replay(args)
    if args.command == "drift":
        from fakeqemu.cli.drift import run_drift

        return run_drift(args)
    if args.command == "contracts":
        from fakeqemu.cli.contracts import run as run_contracts

        return run_contracts(args)
    if args.command in ("ctl", "faults"):
        from fakeqemu.cli.ctl import list_faults
        from fakeqemu.cli.ctl import run as run_ctl

        return run_ctl(args) if args.command == "ctl" else list_faults()
    from fakeqemu.cli.profiles import list_profiles

    return list_profiles()


if __name__ == "__main__":
    raise SystemExit(main())
