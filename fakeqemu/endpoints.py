"""Where a monitor lives; kept free of trio so the CLI can bind before importing it.

A NamedTuple rather than a dataclass: importing dataclasses costs milliseconds,
and ``fakeqemu serve`` binds its sockets before it imports anything heavy.
"""

from __future__ import annotations

from typing import NamedTuple


class Endpoint(NamedTuple):
    """Where a monitor lives: ``kind`` is ``unix``, ``tcp`` or ``connect``."""

    kind: str
    path: str | None = None
    host: str = "127.0.0.1"
    port: int = 0

    def describe(self, bound_port: int | None = None) -> str:
        if self.kind == "tcp":
            return f"tcp:{self.host}:{self.port if bound_port is None else bound_port}"
        return f"{self.kind}:{self.path}"
