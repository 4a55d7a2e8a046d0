"""Migration addresses as QEMU reads them: URIs (migrate_uri_parse, socket_parse,
inet_parse) and ``channels`` (qmp_migrate / qmp_migrate_incoming).

Errors fall in two classes, and the class decides when they are raised: a
:class:`ParseError` comes before the migration changes state; anything found
afterwards (an unknown file descriptor, a port that does not resolve, a file
that cannot be created) is raised by the caller once the state moved.
"""

from __future__ import annotations

import os
import re
import socket
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fakeqemu.errors import QmpError

if TYPE_CHECKING:
    from fakeqemu.profiles import Profile

#: inet_parse(): ``%64[^:]:%32[^,]``, ``[%64[^]]]:%32[^,]`` or ``:%32[^,]``.
_HOST = re.compile(r"([^:]{1,64}):([^,]{1,32})")
_HOST6 = re.compile(r"\[([^\]]{1,64})\]:([^,]{1,32})")
_NO_HOST = re.compile(r":([^,]{1,32})")
#: getaddrinfo() with AI_NUMERICSERV unset still needs a service it knows; the fake
#: knows numbers only.
_SERVICE = re.compile(r"\d+")
#: What the fakes' own migration stream runs over.
FAKE_TRANSPORTS = frozenset({"tcp", "unix"})


class ParseError(QmpError):
    """The URI is refused before anything happens."""


class UnknownProtocol(ParseError):
    """A scheme this release does not migrate over; 7.2 keeps no error-desc for it."""


@dataclass(frozen=True)
class MigrationAddress:
    """A parsed address: ``scheme`` as in a URI, and what follows it."""

    scheme: str
    rest: str
    host: str = ""
    port: str = ""

    @property
    def uri(self) -> str:
        return f"{self.scheme}:{self.rest}"


#: migrate-incoming's word for a scheme it does not know, in every release.
INCOMING_UNKNOWN_PROTOCOL = "unknown migration protocol: {uri}"


def parse_uri(profile: Profile, uri: str, unknown: str) -> MigrationAddress:
    """migrate_uri_parse(): the scheme, then the address of socket schemes.

    ``unknown`` is the message for an unknown scheme (``{uri}`` substituted)."""
    scheme, colon, rest = uri.partition(":")
    if not colon or scheme not in profile.migration_schemes:
        raise UnknownProtocol(unknown.format(uri=uri))
    if scheme in ("tcp", "rdma"):
        host, port = inet_parse(rest)
        return MigrationAddress(scheme, rest, host, port)
    if scheme == "unix" and not rest:
        raise ParseError("invalid Unix socket address")
    return MigrationAddress(scheme, rest)


def inet_parse(text: str) -> tuple[str, str]:
    """util/qemu-sockets.c inet_parse(): host and port, with QEMU's complaints."""
    if text.startswith(":"):
        match = _NO_HOST.match(text)
        if match is None:
            raise ParseError(f"error parsing port in address '{text}'")
        return "", match[1]
    if text.startswith("["):
        match = _HOST6.match(text)
        if match is None:
            raise ParseError(f"error parsing IPv6 address '{text}'")
        return match[1], match[2]
    match = _HOST.match(text)
    if match is None:
        raise ParseError(f"error parsing address '{text}'")
    return match[1], match[2]


class ResolutionError(QmpError):
    """getaddrinfo() found no such service."""


def resolved(address: MigrationAddress) -> MigrationAddress:
    """A ``tcp:`` address with its port as getaddrinfo() reads it: a number taken modulo
    65536 (observed: 99999 listens on 34463), or a service name (``http``: 80)."""
    if address.scheme != "tcp":
        return address
    if _SERVICE.fullmatch(address.port):
        port = int(address.port) % 65536
    else:
        try:
            port = socket.getservbyname(address.port, "tcp")
        except OSError:
            raise ResolutionError(
                f"address resolution failed for {address.host}:{address.port}: "
                "Servname not supported for ai_socktype"
            ) from None
    host = f"[{address.host}]" if ":" in address.host else address.host
    return MigrationAddress("tcp", f"{host}:{port}", address.host, str(port))


def open_error(address: MigrationAddress, *, incoming: bool) -> str | None:
    """What QEMU says when it cannot open the address, found after the state moved.

    The fake is never given file descriptors (``getfd``), so every ``fd:`` name is
    unknown; ``file:`` needs its directory (QEMU would create or read the file), and
    so does a ``unix:`` socket to listen on.
    """
    if address.scheme == "fd":
        return f"File descriptor named '{address.rest}' has not been found"
    missing_directory = not os.path.isdir(os.path.dirname(address.rest) or ".")
    if address.scheme == "file" and missing_directory:
        verb = "open" if incoming else "create"
        return f"Could not {verb} '{address.rest}': No such file or directory"
    if address.scheme == "unix" and incoming and missing_directory:
        return f"Failed to bind socket to {address.rest}: No such file or directory"
    if address.scheme not in FAKE_TRANSPORTS:
        return f"fakeqemu migrates over tcp: and unix: only, not {address.scheme}:"
    return None


def channel_address(args: dict[str, Any], profile: Profile, unknown: str) -> MigrationAddress:
    """The ``uri`` or the main entry of ``channels``, whichever was given (exactly one)."""
    uri: str | None = args.get("uri")
    channels = args.get("channels") or None
    if (uri is None) == (channels is None):
        raise ParseError("need either 'uri' or 'channels' argument")
    if uri is not None:
        return parse_uri(profile, uri, unknown)
    assert channels is not None
    mains = [c for c in channels if c.get("channel-type") == "main"]
    if len(mains) > 1:
        raise ParseError("Channel list has more than one main entry")
    if not mains:
        raise ParseError("Channel list has no main entry")
    return _from_channel(mains[0]["addr"])


def _from_channel(addr: dict[str, Any]) -> MigrationAddress:
    transport = addr["transport"]
    if transport == "socket":
        kind = addr.get("type")
        if kind == "inet":
            rest = f"{addr['host']}:{addr['port']}"
            return MigrationAddress("tcp", rest, addr["host"], addr["port"])
        if kind == "unix":
            return MigrationAddress("unix", addr["path"])
        if kind == "fd":
            return MigrationAddress("fd", addr["str"])
        return MigrationAddress(str(kind), f"{addr.get('cid')}:{addr.get('port')}")
    if transport == "exec":
        return MigrationAddress("exec", " ".join(addr["args"]))
    if transport == "file":
        return MigrationAddress("file", addr["filename"])
    return MigrationAddress(transport, f"{addr.get('host')}:{addr.get('port')}")
