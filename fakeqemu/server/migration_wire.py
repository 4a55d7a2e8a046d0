"""The fakes' own migration stream, as bytes: addresses, and one JSON object a line.

The source sends ``hello``, ``pages`` batches, ``postcopy``, ``complete`` or ``abort``
(and ``resume`` first on the stream of a recovered postcopy); the destination answers
on the same socket, the return path, with ``resume-ack`` only.
"""

from __future__ import annotations

import json
from typing import Any

from fakeqemu.errors import QmpError

#: A destination refuses lines longer than this: the stream is ours, and small.
MAX_LINE = 1 << 16


def parse_socket_uri(uri: str) -> tuple[str, str, int]:
    """``tcp:HOST:PORT`` → ("tcp", host, port); ``unix:PATH`` → ("unix", path, 0);
    ``fd:N`` (a socket passed to the monitor, by number) → ("fd", "", N)."""
    scheme, _, rest = uri.partition(":")
    if scheme == "unix":
        return "unix", rest, 0
    if scheme == "fd" and rest.isdigit():
        return "fd", "", int(rest)
    if scheme == "tcp":
        host, _, port = rest.rpartition(":")
        if not port.isdigit() or int(port) > 65535:
            raise QmpError(f"error parsing address '{rest}'")
        return "tcp", host.strip("[]"), int(port)
    raise QmpError(f"fakeqemu migrates over tcp: and unix: only, not {scheme}:")


def encode(messages: list[dict[str, Any]]) -> bytes:
    return b"".join(json.dumps(message).encode() + b"\n" for message in messages)


def decode(line: bytes) -> dict[str, Any]:
    """One line of the fakes' stream; ``{}`` for anything but a JSON object."""
    try:
        message = json.loads(line)
    except ValueError:
        return {}
    return message if isinstance(message, dict) else {}
