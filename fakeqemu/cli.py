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
    from fakeqemu.signals import HostSignals


def _parse_memory(value: str) -> int:
    """QEMU's ``-m``: a number of MiB, or a size with a unit (fakeqemu.sizes)."""
    from fakeqemu.sizes import parse_memory

    try:
        return parse_memory(value)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fakeqemu", description="A QMP test double for QEMU 7.2, 10.0 and 11.1."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="start a fake QEMU and serve QMP")
    serve.add_argument("--profile", default="11.1", help="QEMU release to imitate (default 11.1)")
    serve.add_argument(
        "--shape",
        default="old",
        choices=("old", "new"),
        help="query-migrate shape: old = today's releases, new = the destination-stats patch",
    )
    from fakeqemu.cli_cassettes import add_backend_arguments, parse_tcp_argument

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
    serve.add_argument("--name", help="guest name, as -name")
    serve.add_argument("-S", dest="start_paused", action="store_true", help="start in prelaunch")
    serve.add_argument("--incoming", metavar="defer|URI", help="wait for an incoming migration")
    serve.add_argument(
        "--memory", "-m", default="128M", type=_parse_memory, help="guest RAM (default 128M)"
    )
    serve.add_argument(
        "--speed",
        type=float,
        default=1.0,
        metavar="FACTOR",
        help="run the fake's clock FACTOR times faster than real time",
    )
    serve.add_argument("-v", "--verbose", action="store_true", help="log each command served")
    add_backend_arguments(serve)

    sub.add_parser("profiles", help="list the QEMU releases fakeqemu imitates")
    sub.add_parser(
        "qemu",
        help="take QEMU's own command line (as libvirt writes it); also fakeqemu-system-x86_64",
        add_help=False,
    )

    capture = sub.add_parser("capture", help="record a real QEMU (probes, queries, ...)")
    capture.add_argument(
        "what", choices=("probes", "queries", "hmp", "commands", "migrations", "libvirt")
    )
    capture.add_argument("out", help="file to write (libvirt: a directory)")
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

    from fakeqemu.capture import capture_hmp, capture_probes, capture_queries

    if args.what == "probes":
        if not args.cases:
            print("fakeqemu capture probes: --cases FILE is required", file=sys.stderr)
            return 2
        count = capture_probes(args.qemu, Path(args.cases), Path(args.out))
    elif args.what == "hmp":
        count = capture_hmp(args.qemu, Path(args.out))
    elif args.what == "libvirt":
        from fakeqemu.emulator.capture import capture_emulator

        count = capture_emulator(args.qemu, Path(args.out))
    elif args.what in ("commands", "migrations"):
        from fakeqemu.differential import capture

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
    if command == ["qemu"]:
        # QEMU's own command line follows: no argparse (QEMU's options are not ours).
        from fakeqemu.emulator.main import fakeqemu_qemu

        return fakeqemu_qemu(sys.argv[2:] if argv is None else argv[1:])
    if command == ["serve"] and threading.current_thread() is threading.main_thread():
        # Before anything else: a signal at any moment from here on ends `serve` as
        # it ends QEMU (fakeqemu.signals).
        from fakeqemu.signals import HostSignals

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
