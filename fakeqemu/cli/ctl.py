"""``fakeqemu ctl``: the control API's client, and ``fakeqemu faults``: what it can inject.

``fakeqemu ctl --control unix:/tmp/ctl.sock add-fault '{"kind": "error", ...}'``
sends one request to a ``fakeqemu serve --control`` and prints its JSON answer; an
error answer goes to stderr with exit status 1.  Standard library only
(:mod:`http.client`, over a unix socket or TCP).
"""

from __future__ import annotations

import argparse
import http.client
import json
import socket
import sys
from typing import Any

from fakeqemu.server.control_routes import VERBS


class UnixHTTPConnection(http.client.HTTPConnection):
    """HTTP over a unix socket (``--control unix:PATH``)."""

    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self.unix_path)
        self.sock = sock


def connection(address: str, timeout: float = 120.0) -> http.client.HTTPConnection:
    """A connection to ``unix:PATH`` or ``tcp:HOST:PORT``."""
    from fakeqemu.server.endpoints import parse_control

    endpoint = parse_control(address)
    if endpoint.kind == "unix":
        assert endpoint.path is not None
        return UnixHTTPConnection(endpoint.path, timeout)
    return http.client.HTTPConnection(endpoint.host, endpoint.port, timeout=timeout)


def request(address: str, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    """One request; returns the status and the decoded JSON answer."""
    conn = connection(address)
    try:
        data = None if body is None else json.dumps(body).encode()
        headers = {"content-type": "application/json"} if data is not None else {}
        conn.request(method, path, body=data, headers=headers)
        response = conn.getresponse()
        return response.status, json.loads(response.read() or b"null")
    finally:
        conn.close()


def _json_argument(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as error:
        raise ValueError(f"not JSON ({error}): {text!r}") from None


def build_request(verb: str, arguments: list[str]) -> tuple[str, str, Any]:
    """The method, path and body of ``verb`` with its command-line arguments."""
    route = VERBS[verb]
    method, path, kind = route.method, route.path, route.takes
    count = {"": 0, "json": 1, "id": 1, "scenario": 1, "seconds": 1, "status": (1, 2)}[kind]
    allowed = count if isinstance(count, tuple) else (count, count)
    if not allowed[0] <= len(arguments) <= allowed[1]:
        raise ValueError(f"{verb} takes {kind.upper() or 'no arguments'}, got {arguments!r}")
    if kind == "json":
        return method, path, _json_argument(arguments[0])
    if kind == "id":
        return method, path.replace("{id}", arguments[0]), None
    if kind == "scenario":
        text = arguments[0]
        value = _json_argument(text) if text.startswith(("[", "{")) else text
        return method, path, {"scenario": value}
    if kind == "seconds":
        return method, path, {"seconds": float(arguments[0])}
    if kind == "status":
        body: dict[str, Any] = {"status": arguments[0]}
        if len(arguments) == 2:
            body["timeout"] = float(arguments[1])
        return method, path, body
    return method, path, None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--control",
        required=True,
        metavar="unix:PATH|tcp:HOST:PORT",
        help="where fakeqemu serve --control listens",
    )
    verbs = "; ".join(f"{verb}: {route.help}" for verb, route in VERBS.items())
    parser.add_argument("verb", choices=list(VERBS), metavar="VERB", help=verbs)
    parser.add_argument("arguments", nargs="*", metavar="ARGUMENT")


def run(args: argparse.Namespace) -> int:
    try:
        method, path, body = build_request(args.verb, args.arguments)
        status, answer = request(args.control, method, path, body)
    except ValueError as error:
        print(f"fakeqemu ctl: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        print(f"fakeqemu ctl: cannot reach {args.control}: {error}", file=sys.stderr)
        return 1
    if status >= 400:
        message = answer.get("error") if isinstance(answer, dict) else answer
        print(f"fakeqemu ctl: {status}: {message}", file=sys.stderr)
        return 1
    print(json.dumps(answer, indent=2))
    return 0


def list_faults() -> int:
    """``fakeqemu faults``: every fault kind, trigger and scenario."""
    from fakeqemu.fault_catalog import describe

    print(describe())
    return 0
