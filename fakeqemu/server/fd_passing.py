"""A unix monitor connection that receives file descriptors along with the bytes.

QEMU's socket chardev reads with recvmsg() and keeps the descriptors a client sends
with SCM_RIGHTS for ``getfd`` (tcp_chr_recv()).  trio's SocketStream reads with
recv(), which drops them, so unix monitors read through this stream instead.
"""

from __future__ import annotations

import array
import contextlib
import os
import socket
from collections.abc import Callable

import trio

#: QEMU keeps at most this many descriptors per read (TCP_MAX_FDS).
MAX_FDS = 16
_ANCILLARY_SPACE = socket.CMSG_SPACE(MAX_FDS * array.array("i").itemsize)
_DEFAULT_READ = 65536


def received_fds(ancillary: list[tuple[int, int, bytes]]) -> list[int]:
    fds = array.array("i")
    for level, kind, data in ancillary:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            usable = len(data) - len(data) % fds.itemsize
            fds.frombytes(data[:usable])
    return list(fds)


def _close_all(fds: list[int]) -> None:
    for fd in fds:
        with contextlib.suppress(OSError):
            os.close(fd)


class FdPassingStream(trio.abc.HalfCloseableStream):
    """A :class:`trio.SocketStream` whose reads also take passed descriptors.

    ``deliver`` gets each batch (the monitor's descriptors keep them); without one,
    they are closed at once.  Writing and closing are the SocketStream's.
    """

    def __init__(self, sock: trio.socket.SocketType) -> None:
        self.socket = sock
        self._stream = trio.SocketStream(sock)
        self.deliver: Callable[[list[int]], None] = _close_all

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        await self._stream.send_all(data)

    async def wait_send_all_might_not_block(self) -> None:
        await self._stream.wait_send_all_might_not_block()

    async def send_eof(self) -> None:
        await self._stream.send_eof()

    async def aclose(self) -> None:
        await self._stream.aclose()

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        size = _DEFAULT_READ if max_bytes is None else max_bytes
        try:
            data, ancillary, _, _ = await self.socket.recvmsg(
                size, _ANCILLARY_SPACE, socket.MSG_CMSG_CLOEXEC
            )
        except OSError as error:
            if self.socket.fileno() == -1:
                raise trio.ClosedResourceError("this stream was closed") from None
            raise trio.BrokenResourceError from error
        fds = received_fds(ancillary)
        if fds:
            self.deliver(fds)
        return data


def monitor_stream(sock: trio.socket.SocketType) -> trio.abc.HalfCloseableStream:
    """The stream a monitor client is served on: descriptors are taken on unix sockets."""
    if sock.family == socket.AF_UNIX:
        return FdPassingStream(sock)
    return trio.SocketStream(sock)
