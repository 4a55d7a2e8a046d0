"""Where ``serve``, ``record`` and ``replay`` listen: ``--unix``, ``--tcp``, ``--connect``.

Standard library only at import time: ``fakeqemu serve`` builds these arguments on
its way to the greeting.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fakeqemu.server.endpoints import Endpoint


def parse_tcp_argument(value: str) -> tuple[str, int]:
    """``--tcp HOST:PORT`` for argparse (fakeqemu.server.endpoints.parse_tcp)."""
    from fakeqemu.server.endpoints import parse_tcp

    try:
        return parse_tcp(value)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def add_endpoint_arguments(
    parser: argparse.ArgumentParser, title: str, *, connect: bool = False
) -> None:
    """``--unix PATH`` and ``--tcp HOST:PORT`` (repeatable), and ``--connect PATH``."""
    where = parser.add_argument_group(title)
    where.add_argument("--unix", action="append", default=[], metavar="PATH")
    where.add_argument(
        "--tcp", action="append", default=[], type=parse_tcp_argument, metavar="HOST:PORT"
    )
    if connect:
        where.add_argument(
            "--connect",
            action="append",
            default=[],
            metavar="PATH",
            help="dial a listening client's unix socket (QEMU's server=off)",
        )


def endpoints_from(args: argparse.Namespace) -> list[Endpoint]:
    """The endpoints :func:`add_endpoint_arguments` collected, in that order."""
    from fakeqemu.server.endpoints import Endpoint

    endpoints = [Endpoint("unix", path=path) for path in args.unix]
    endpoints += [Endpoint("tcp", host=host, port=port) for host, port in args.tcp]
    endpoints += [Endpoint("connect", path=path) for path in getattr(args, "connect", ())]
    return endpoints
