"""Greet the first clients while the rest of fakeqemu is still importing.

A QEMU process answers a connection with its greeting within a few
milliseconds of starting; importing trio alone takes longer than that.  So
``fakeqemu serve`` binds its monitors with the standard library
(:mod:`fakeqemu.server.listeners`), imports the
server in a background thread, and meanwhile accepts and greets whoever
connects first.  The accepted connection is handed to the trio server, which
goes on from there; the client cannot tell the difference.

This module imports nothing heavy on purpose.
"""

from __future__ import annotations

import select
import socket
import threading
from collections.abc import Callable
from typing import Any

from fakeqemu.protocol.encoder import encode_message
from fakeqemu.vocabulary import recorded_version


def greeting_bytes(profile: str) -> bytes:
    """The greeting of ``profile``, from its recorded data (no profile is built)."""
    version = recorded_version(profile)
    return encode_message({"QMP": {"version": version, "capabilities": ["oob"]}})


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
