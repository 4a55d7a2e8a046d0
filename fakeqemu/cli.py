"""``fakeqemu``: serve a fake QEMU, list profiles.

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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fakeqemu", description="A QMP test double for QEMU 7.2, 10.0 and 11.1."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="start a fake QEMU and serve QMP")
    from fakeqemu.cli_cassettes import parse_tcp_argument
    from fakeqemu.fake.options import CONFIG_OPTIONS, SPEED, add_arguments

    where = serve.add_argument_group("monitors (at least one; each may be repeated)")
    where.add_argument("--unix", action="append", default=[], metavar="PATH")
    where.add_argument(
        "--tcp", action="append", default=[], type=parse_tcp_argument, metavar="HOST:PORT"
    )
    where.add_argument(
        "--connect",
        action="append",
        default=[],
        metavar="PATH",
        help="dial a listening client's unix socket (QEMU's server=off)",
    )
    add_arguments(serve, (*CONFIG_OPTIONS, SPEED))
    serve.add_argument("-v", "--verbose", action="store_true", help="log each command served")

    sub.add_parser("profiles", help="list the QEMU releases fakeqemu imitates")

    capture = sub.add_parser("capture", help="record a real QEMU (probes, queries, ...)")
    capture.add_argument("what", choices=("probes", "queries", "hmp", "commands", "migrations"))
    capture.add_argument("out", help="file to write")
    capture.add_argument("--qemu", default="qemu-system-x86_64", help="QEMU binary")
    capture.add_argument("--cases", help="probes file whose cases to replay (for probes)")

    from fakeqemu.cli_cassettes import add_parsers as add_cassette_parsers
    from fakeqemu.contracts.cli import add_parser as add_contracts_parser

    add_contracts_parser(sub)
    add_cassette_parsers(sub)
    return parser


def _profiles() -> int:
    from fakeqemu.profiles import PROFILES

    for profile in PROFILES.values():
        version = profile.version
        qemu = version["qemu"]
        print(
            f"{profile.name:6} QEMU {qemu['major']}.{qemu['minor']}.{qemu['micro']}"
            f"  {version['package']}"
        )
    return 0


def _capture(args: argparse.Namespace) -> int:
    from pathlib import Path

    from fakeqemu.recorder.capture import capture_hmp, capture_probes, capture_queries

    if args.what == "probes":
        if not args.cases:
            print("fakeqemu capture probes: --cases FILE is required", file=sys.stderr)
            return 2
        count = capture_probes(args.qemu, Path(args.cases), Path(args.out))
    elif args.what == "hmp":
        count = capture_hmp(args.qemu, Path(args.out))
    elif args.what in ("commands", "migrations"):
        from fakeqemu.recorder.differential import capture

        record = capture.capture_commands if args.what == "commands" else capture.capture_migrations
        count = record(args.qemu, Path(args.out))
    else:
        count = capture_queries(args.qemu, Path(args.out))
    print(f"fakeqemu: recorded {count} entries in {args.out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """The ``fakeqemu`` command; ``argv`` None: this process's own command line."""
    signals = None
    command = sys.argv[1:2] if argv is None else argv[:1]
    if command == ["serve"] and threading.current_thread() is threading.main_thread():
        # Before anything else: a signal at any moment from here on ends `serve` as
        # it ends QEMU (fakeqemu.server.signals).
        from fakeqemu.server.signals import HostSignals

        signals = HostSignals()
    try:
        return _run(build_parser().parse_args(argv), signals)
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
        from fakeqemu.cli_serve import run_serve

        return run_serve(args, signals)
    if args.command == "capture":
        return _capture(args)
    if args.command in ("record", "replay"):
        from fakeqemu.cli_cassettes import run_record, run_replay

        return run_record(args) if args.command == "record" else run_replay(args)
    if args.command == "contracts":
        from fakeqemu.contracts.cli import run as run_contracts

        return run_contracts(args)
    return _profiles()


if __name__ == "__main__":
    raise SystemExit(main())
