"""Binding monitors as QEMU binds its ``server=on`` sockets, and removing socket files.

The one place that binds, listens and unlinks: ``fakeqemu serve`` (before its
greeting, see :mod:`fakeqemu.server.fast_start`), :func:`fakeqemu.server.serve.serve`,
``fakeqemu record`` and ``fakeqemu replay`` all go through :class:`Listeners`.
Standard library only.
"""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fakeqemu.server.endpoints import Endpoint

#: (st_dev, st_ino) of a socket file, to remove only the file we created.
FileId = tuple[int, int]


def file_id(path: str) -> FileId | None:
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return (stat.st_dev, stat.st_ino)


def remove_socket_file(path: str, created: FileId | None) -> None:
    """Remove ``path`` if it is still the file we created (another process may have
    taken the path over since: its socket is not ours to delete)."""
    if created is not None and file_id(path) == created:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)


def bind_unix(path: str) -> tuple[socket.socket, FileId | None]:
    """QEMU's way: unlink whatever is at ``path``, then bind; warn if it was alive.

    Returns the listening socket and the identity of the file it created; raises
    :class:`OSError` with a message that names ``path``.
    """
    if os.path.exists(path):
        from fakeqemu.server.sockets import warn_if_served

        warn_if_served(path)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        sock.bind(path)
        # QEMU listens with a backlog of 1 and stops accepting while a client is connected.
        sock.listen(1)
        created = file_id(path)
    except OSError as error:
        sock.close()
        reason = error.strerror or str(error)
        raise OSError(error.errno, f"Failed to bind socket to {path}: {reason}") from None
    return sock, created


def bind_tcp(host: str, port: int) -> socket.socket:
    """Raises :class:`OSError` with a message that names the address."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(1)
    except OSError as error:
        sock.close()
        reason = error.strerror or str(error)
        where = f"[{host}]:{port}" if family == socket.AF_INET6 else f"{host}:{port}"
        raise OSError(error.errno, f"Failed to bind socket to {where}: {reason}") from None
    return sock


class BindError(OSError):
    """An endpoint could not be bound: the OSError, and :attr:`option` saying which."""

    def __init__(self, endpoint: Endpoint, error: OSError) -> None:
        super().__init__(error.errno, error.strerror)
        self.endpoint = endpoint
        #: ``--unix PATH``, ``--tcp HOST:PORT``: the option that named the endpoint.
        self.option = f"--{endpoint.kind} {endpoint.describe().partition(':')[2]}"


class Listeners:
    """The listening sockets of some endpoints (by index), and the socket files they made.

    :meth:`close` closes every socket and removes the files that are still ours.
    """

    def __init__(self) -> None:
        self.sockets: dict[int, socket.socket] = {}
        self.files: dict[str, FileId | None] = {}

    def bind(
        self,
        index: int,
        endpoint: Endpoint,
        *,
        lock: Any = None,
        on_file: Callable[[str, FileId | None], None] | None = None,
    ) -> socket.socket:
        """Bind ``endpoint`` (``unix`` or ``tcp``) as the ``index``-th; raises BindError.

        ``lock`` is held around binding a unix socket and ``on_file`` is told of the file
        it made, before anything else can happen (a signal handler removes it then).
        """
        try:
            if endpoint.kind == "unix":
                assert endpoint.path is not None
                with lock if lock is not None else contextlib.nullcontext():
                    sock, self.files[endpoint.path] = bind_unix(endpoint.path)
                    if on_file is not None:
                        on_file(endpoint.path, self.files[endpoint.path])
            else:
                sock = bind_tcp(endpoint.host, endpoint.port)
        except OSError as error:
            raise BindError(endpoint, error) from None
        self.sockets[index] = sock
        return sock

    def bind_all(self, endpoints: Sequence[Endpoint], **options: Any) -> Listeners:
        """Bind every ``unix`` and ``tcp`` endpoint in order; on a failure close them all."""
        try:
            for index, endpoint in enumerate(endpoints):
                if endpoint.kind in ("unix", "tcp"):
                    self.bind(index, endpoint, **options)
        except BaseException:
            self.close()
            raise
        return self

    def close(self) -> None:
        for sock in self.sockets.values():
            sock.close()
        for path, created in self.files.items():
            remove_socket_file(path, created)


def where_listening(
    bound: Sequence[tuple[Endpoint, Any]],
) -> tuple[list[str], list[str | tuple[str, int]]]:
    """For each (endpoint, listening socket): how it is described (``tcp:`` with the port
    really bound) and its address, a unix path or ``(host, port)``."""
    addresses: list[str] = []
    sockets: list[str | tuple[str, int]] = []
    for endpoint, listener in bound:
        if endpoint.kind == "unix" and endpoint.path is not None:
            addresses.append(endpoint.describe())
            sockets.append(endpoint.path)
        else:
            host, port = listener.getsockname()[:2]
            addresses.append(endpoint.describe(port))
            sockets.append((host, port))
    return addresses, sockets
