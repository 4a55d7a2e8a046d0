"""``fakeqemu record`` and ``fakeqemu replay``.

Only argparse at import time: ``fakeqemu serve`` builds these parsers on its way
to the greeting.
"""

from __future__ import annotations

import argparse
import sys
from functools import partial
from typing import Any


def _matcher(kind: str) -> Any:
    def parse(value: str) -> Any:
        from fakeqemu.protocol.cassette_matchers import Matcher, MatcherError

        try:
            return Matcher.ignore(value) if kind == "ignore" else Matcher.regex(value)
        except MatcherError as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    return parse


def _add_endpoints(parser: argparse.ArgumentParser, what: str) -> None:
    from fakeqemu.cli.endpoints import add_endpoint_arguments

    add_endpoint_arguments(parser, f"where {what} listens (at least one)")
    parser.add_argument("--once", action="store_true", help="stop once the first client has gone")


def add_record_arguments(record: argparse.ArgumentParser) -> None:
    record.add_argument("cassette", help="file to write")
    record.add_argument(
        "--monitor",
        required=True,
        metavar="unix:PATH|tcp:HOST:PORT",
        help="the QEMU monitor to forward to",
    )
    record.add_argument("--side", default="src", help="the cassette's name for it (src)")
    record.add_argument(
        "--mask-timestamps", action="store_true", help="zero event timestamps in the cassette"
    )
    record.add_argument(
        "--renumber-ids",
        action="store_true",
        help="write request ids as 1, 2, 3... (replay then accepts any id)",
    )
    _add_endpoints(record, "the proxy")


def add_replay_arguments(replay: argparse.ArgumentParser) -> None:
    replay.add_argument("cassette", help="a cassette, or a transcript of tests/data/recordings")
    replay.add_argument("--side", help="which side of a two-sided transcript (src, dst)")
    matching = replay.add_argument_group(
        "matching requests (repeatable; PATH is dotted, e.g. arguments.uri; a COMMAND: prefix"
        " limits it to that command)"
    )
    matching.add_argument(
        "--ignore",
        dest="matchers",
        action="append",
        default=[],
        type=_matcher("ignore"),
        metavar="[COMMAND:]PATH",
        help="a key whose value (or absence) does not count",
    )
    matching.add_argument(
        "--match",
        dest="matchers",
        action="append",
        type=_matcher("match"),
        metavar="[COMMAND:]PATH=~REGEX",
        help="a key whose value in the client's request must match REGEX (re.search)",
    )
    _add_endpoints(replay, "the replayed monitor")


def _run_until_signal(main: Any) -> None:
    import signal

    import trio

    async def guarded() -> None:
        with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async with trio.open_nursery() as nursery:

                async def stop_on_signal() -> None:
                    async for _ in signals:
                        nursery.cancel_scope.cancel()
                        return

                async def run_then_stop() -> None:
                    await main()
                    nursery.cancel_scope.cancel()

                nursery.start_soon(stop_on_signal)
                nursery.start_soon(run_then_stop)

    trio.run(guarded)


def run_record(args: argparse.Namespace) -> int:
    from fakeqemu.cli.endpoints import endpoints_from
    from fakeqemu.recorder.record import RecordOptions, record

    endpoints = endpoints_from(args)
    if not endpoints:
        print("fakeqemu record: give at least one of --unix, --tcp", file=sys.stderr)
        return 2
    options = RecordOptions(args.side, args.mask_timestamps, args.renumber_ids)
    with open(args.cassette, "w", encoding="utf-8") as cassette:

        async def main() -> None:
            import trio

            async with trio.open_nursery() as nursery:
                start = partial(record, args.monitor, endpoints, cassette, options, once=args.once)
                listening = await nursery.start(start)
                print(
                    f"fakeqemu: recording {args.monitor} to {args.cassette};"
                    f" clients connect to {', '.join(listening.addresses)}",
                    flush=True,
                )

        try:
            _run_until_signal(main)
        except OSError as error:
            print(f"fakeqemu record: {error}", file=sys.stderr)
            return 1
    return 0


def run_replay(args: argparse.Namespace) -> int:
    from fakeqemu.cli.endpoints import endpoints_from
    from fakeqemu.protocol.cassette import Cassette
    from fakeqemu.recorder.replay import replay

    endpoints = endpoints_from(args)
    if not endpoints:
        print("fakeqemu replay: give at least one of --unix, --tcp", file=sys.stderr)
        return 2
    try:
        cassette = Cassette.load(args.cassette)
    except (OSError, ValueError) as error:
        print(f"fakeqemu replay: {error}", file=sys.stderr)
        return 1
    problems: list[str] = []

    def report(problem: str) -> None:
        problems.append(problem)
        print(f"fakeqemu replay: {problem}", file=sys.stderr, flush=True)

    async def main() -> None:
        import trio

        async with trio.open_nursery() as nursery:
            start = partial(
                replay, cassette, args.cassette, endpoints, side=args.side, matchers=args.matchers
            )
            listening = await nursery.start(partial(start, once=args.once, report=report))
            print(
                f"fakeqemu: replaying {args.cassette} on {', '.join(listening.addresses)}",
                flush=True,
            )

    try:
        _run_until_signal(main)
    except (OSError, ValueError) as error:
        print(f"fakeqemu replay: {error}", file=sys.stderr)
        return 1
    return 1 if problems else 0
