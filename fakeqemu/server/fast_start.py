"""Greet the first clients while the rest of fakeqemu is still importing.

A QEMU process answers a connection with its greeting within a few
milliseconds of starting; importing trio alone takes longer than that.  So
``fakeqemu serve`` binds its monitors with the standard library, imports the
server in a background thread, and meanwhile accepts and greets whoever
connects first.  The accepted connection is handed to the trio server, which
goes on from there; the client cannot tell the difference.

This module imports nothing heavy on purpose.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import socket
import threading
from collections.abc import Callable
from typing import Any

from fakeqemu.protocol.encoder import encode_message

# os.path, not pathlib: this module is on the start-up path and pathlib is slow to import.
_DATA = os.path.join(os.path.dirname(os.path.dirname(__file__)), "profiles", "data")
#: The profiles with recorded data, without importing the profiles package.
PROFILE_NAMES = tuple(
    sorted(os.listdir(_DATA), key=lambda name: tuple(int(x) for x in name.split(".")))
)


def greeting_bytes(profile: str) -> bytes:
    """The greeting of ``profile``, read straight from its recorded data."""
    with open(os.path.join(_DATA, profile, "recorded.json"), encoding="utf-8") as file:
        recorded = json.load(file)
    qemu = recorded["version"]["qemu"]
    version = {
        "qemu": {"major": qemu["major"], "minor": qemu["minor"], "micro": qemu["micro"]},
        "package": recorded["version"]["package"],
    }
    return encode_message({"QMP": {"version": version, "capabilities": ["oob"]}})


#: (st_dev, st_ino) of a socket file, to remove only the file we created.
FileId = tuple[int, int]


def bind_unix(path: str) -> socket.socket:
    """QEMU's way: unlink whatever is at ``path``, then bind; warn if it was alive."""
    return bind_unix_file(path)[0]


def bind_unix_file(path: str) -> tuple[socket.socket, FileId | None]:
    """:func:`bind_unix`, and the identity of the socket file it created.

    Raises :class:`OSError` with a message that names ``path``.
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


def greet_while_loading(
    listeners: list[socket.socket], greeting: bytes, load: Callable[[], Any]
) -> tuple[Any, dict[int, socket.socket]]:
    """Run ``load`` in a thread; greet one early client per listener until it is done.

    Returns what ``load`` returned and the accepted connections, keyed by the
    index of their listener in ``listeners``.
    """
    result: list[Any] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            result.append(load())
        except BaseException as error:  # re-raised in the calling thread
            errors.append(error)

    loader = threading.Thread(target=run, name="fakeqemu-import", daemon=True)
    loader.start()
    early: dict[int, socket.socket] = {}
    while loader.is_alive():
        waiting = [sock for index, sock in enumerate(listeners) if index not in early]
        if not waiting:
            loader.join()
            break
        readable, _, _ = select.select(waiting, [], [], 0.005)
        for sock in readable:
            conn, _ = sock.accept()
            conn.sendall(greeting)
            early[listeners.index(sock)] = conn
    loader.join()
    if errors:
        for conn in early.values():
            conn.close()
        raise errors[0]
    return result[0], early
