"""``fakeqemu``: serve a fake QEMU, list profiles.

Imports stay inside the functions so ``fakeqemu serve`` reaches its greeting
quickly: start-up time is one of the figures users compare with QEMU.
"""

from __future__ import annotations

import argparse
import json
import socket
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fakeqemu.endpoints import Endpoint
    from fakeqemu.fake import FakeQemu


def _parse_tcp(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit():
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {value!r}")
    return (host.strip("[]") or "127.0.0.1", int(port))


_SIZE_UNITS = {"": 1 << 20, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


def _parse_size(value: str) -> int:
    """QEMU's ``-m``: a number of MiB, or with a K/M/G/T suffix."""
    text = value.strip().upper().removesuffix("B")
    unit = text[-1:] if text[-1:] in "KMGT" else ""
    number = text[: len(text) - len(unit)]
    try:
        size = int(float(number) * _SIZE_UNITS[unit])
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a size like 128M or 4G, got {value!r}"
        ) from None
    if size <= 0:
        raise argparse.ArgumentTypeError(f"the size must be positive, got {value!r}")
    return size


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
    where = serve.add_argument_group("monitors (at least one; each may be repeated)")
    where.add_argument("--unix", action="append", default=[], metavar="PATH")
    where.add_argument("--tcp", action="append", default=[], type=_parse_tcp, metavar="HOST:PORT")
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
        "--memory", "-m", default="128M", type=_parse_size, help="guest RAM (default 128M)"
    )
    serve.add_argument(
        "--speed",
        type=float,
        default=1.0,
        metavar="FACTOR",
        help="run the fake's clock FACTOR times faster than real time",
    )
    serve.add_argument("-v", "--verbose", action="store_true", help="log each command served")
    from fakeqemu.cli_cassettes import add_backend_arguments

    add_backend_arguments(serve)

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


def _endpoints(args: argparse.Namespace) -> list[Endpoint]:
    from fakeqemu.endpoints import Endpoint

    endpoints = [Endpoint("unix", path=path) for path in args.unix]
    endpoints += [Endpoint("tcp", host=host, port=port) for host, port in args.tcp]
    endpoints += [Endpoint("connect", path=path) for path in args.connect]
    return endpoints


def _log_commands(fake: FakeQemu) -> None:
    """``-v``: every command served and every event raised, on stderr, as they happen."""
    from fakeqemu.model.events import Event
    from fakeqemu.protocol.encoder import encode_value
    from fakeqemu.protocol.session import Request

    def log(request: Request) -> None:
        args = f" {encode_value(request.arguments)}" if request.arguments else ""
        print(f"fakeqemu: {request.command}{args}", file=sys.stderr, flush=True)

    def log_event(event: Event) -> None:
        data = f" {encode_value(event.data)}" if event.data else ""
        print(f"fakeqemu: event {event.name}{data}", file=sys.stderr, flush=True)

    fake.executor.observers.append(log)
    fake.vm.events.subscribe(log_event)


def _bind_all(endpoints: list[Endpoint]) -> tuple[dict[int, socket.socket], list[str]]:
    """Bind every listening monitor now, with the standard library (see fast_start)."""
    from fakeqemu.fast_start import bind_tcp, bind_unix

    bound: dict[int, socket.socket] = {}
    addresses = []
    for index, endpoint in enumerate(endpoints):
        if endpoint.kind == "unix":
            assert endpoint.path is not None
            bound[index] = bind_unix(endpoint.path)
            addresses.append(endpoint.describe())
        elif endpoint.kind == "tcp":
            bound[index] = bind_tcp(endpoint.host, endpoint.port)
            addresses.append(endpoint.describe(bound[index].getsockname()[1]))
        else:
            addresses.append(endpoint.describe())
    return bound, addresses


def _load_fake(args: argparse.Namespace) -> FakeQemu:
    """Everything heavy: trio, the commands, the profile's data."""
    import trio  # noqa: F401 - imported here, in the loader thread, to be ready early

    from fakeqemu.fake import FakeQemu, FakeQemuConfig

    fake = FakeQemu(
        FakeQemuConfig(
            profile=args.profile,
            shape=args.shape,
            name=args.name,
            start_paused=args.start_paused,
            incoming=args.incoming,
            memory=args.memory,
            backend=args.backend,
            backend_options=dict(args.backend_opt),
            seed=args.seed,
        )
    )
    if args.verbose:
        _log_commands(fake)
    return fake


def _serve(args: argparse.Namespace) -> int:
    from fakeqemu.fast_start import PROFILE_NAMES, greet_while_loading, greeting_bytes

    endpoints = _endpoints(args)
    if not endpoints:
        print("fakeqemu serve: give at least one of --unix, --tcp, --connect", file=sys.stderr)
        return 2
    if args.profile not in PROFILE_NAMES:
        known = ", ".join(PROFILE_NAMES)
        print(
            f"fakeqemu serve: unknown profile {args.profile!r}; known profiles: {known}",
            file=sys.stderr,
        )
        return 2
    if args.speed <= 0:
        print("fakeqemu serve: --speed must be positive", file=sys.stderr)
        return 2
    from fakeqemu.cli_cassettes import check_backend

    if (problem := check_backend(args)) is not None:
        print(f"fakeqemu serve: {problem}", file=sys.stderr)
        return 2
    greeting = greeting_bytes(args.profile)
    try:
        bound, addresses = _bind_all(endpoints)
    except OSError as error:
        print(f"fakeqemu serve: {error}", file=sys.stderr)
        return 1
    version = greeting.split(b'"qemu": ', 1)[1]
    triple = json.loads(version[: version.index(b"}") + 1])
    print(
        f"fakeqemu: QEMU {triple['major']}.{triple['minor']}.{triple['micro']} "
        f"(profile {args.profile}, shape {args.shape}) on {', '.join(addresses)}",
        flush=True,
    )
    indexes = sorted(bound)
    fake, early = greet_while_loading(
        [bound[i] for i in indexes], greeting, lambda: _load_fake(args)
    )
    greeted = {indexes[position]: conn for position, conn in early.items()}
    return _run_server(fake, endpoints, bound, greeted, args.speed)


def _run_server(
    fake: FakeQemu,
    endpoints: list[Endpoint],
    bound: dict[int, socket.socket],
    greeted: dict[int, socket.socket],
    speed: float,
) -> int:
    import signal

    import trio
    import trio.testing

    from fakeqemu.server import Listening, serve

    async def main() -> None:
        with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async with trio.open_nursery() as nursery:

                async def serve_then_stop(task_status: trio.TaskStatus[Listening]) -> None:
                    # After `quit`, serve() returns; stop watching for signals too.
                    await serve(
                        fake, endpoints, prebound=bound, greeted=greeted, task_status=task_status
                    )
                    nursery.cancel_scope.cancel()

                async def stop_on_signal() -> None:
                    async for _ in signals:
                        nursery.cancel_scope.cancel()
                        return

                nursery.start_soon(stop_on_signal)
                await nursery.start(serve_then_stop)

    # A scaled clock: every timer of the fake runs FACTOR times faster.
    clock = trio.testing.MockClock(rate=speed) if speed != 1.0 else None
    try:
        trio.run(main, clock=clock)
    except OSError as error:
        print(f"fakeqemu serve: {error}", file=sys.stderr)
        return 1
    # A failed incoming migration ends QEMU with status 1; so it does here.
    return fake.vm.exit_status or 0


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
    elif args.what in ("commands", "migrations"):
        from fakeqemu.differential import capture

        record = capture.capture_commands if args.what == "commands" else capture.capture_migrations
        count = record(args.qemu, Path(args.out))
    else:
        count = capture_queries(args.qemu, Path(args.out))
    print(f"fakeqemu: recorded {count} entries in {args.out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "serve":
        return _serve(args)
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
