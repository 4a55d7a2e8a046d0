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
            # QEMU's spelling of an IPv6 address with a port: tcp:[::1]:4444.
            host = f"[{self.host}]" if ":" in self.host else self.host
            return f"tcp:{host}:{self.port if bound_port is None else bound_port}"
        return f"{self.kind}:{self.path}"

    def exposure_warning(self) -> str | None:
        """Why a TCP monitor may be reachable from other machines, or None if it is not.

        A test double answers anyone who connects; it should not be on the network
        by accident (``--tcp 0.0.0.0:4444``).
        """
        if self.kind != "tcp" or self.host in _LOOPBACK_NAMES:
            return None
        import ipaddress  # only for hosts that are not plainly loopback

        try:
            address = ipaddress.ip_address(self.host)
        except ValueError:
            what = f"host name {self.host!r}, which may not be a loopback address"
        else:
            if address.is_loopback:
                return None
            what = "every network interface" if address.is_unspecified else f"address {self.host}"
        return (
            f"{self.describe()} listens on {what}: other machines may reach this fake "
            "QEMU; use 127.0.0.1 or ::1 to keep it on this machine"
        )


_LOOPBACK_NAMES = frozenset({"127.0.0.1", "::1", "localhost"})


def parse_tcp(value: str) -> tuple[str, int]:
    """``HOST:PORT`` or ``[IPV6]:PORT`` (an empty host is 127.0.0.1); ValueError if not."""
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(f"expected HOST:PORT, got {value!r}")
    if int(port) > 65535:
        raise ValueError(f"port {port} is out of range (0 to 65535) in {value!r}")
    return (host.strip("[]") or "127.0.0.1", int(port))
