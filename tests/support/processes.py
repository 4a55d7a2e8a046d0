"""`fakeqemu serve` and real QEMU as processes, for tests that need the real thing.

Every process started here is stopped by the context manager that started it.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

from fakeqemu.recorder.capture import BASE_ARGS
from fakeqemu.server.sockets import listening_inode

#: Everything a test waits for here happens within this many seconds or not at all.
TIMEOUT = 20.0


def wait_for(condition: Callable[[], bool], what: str, timeout: float = TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.002)


def spawn_serve(*args: str) -> subprocess.Popen[bytes]:
    """``fakeqemu serve ARGS`` as a user runs it (the console entry point's code path)."""
    return subprocess.Popen(
        [sys.executable, "-m", "fakeqemu", "serve", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def spawn_fakeqemu(*args: str) -> subprocess.Popen[str]:
    """``fakeqemu ARGS`` with text pipes, for tests that read what a command prints."""
    return subprocess.Popen(
        [sys.executable, "-m", "fakeqemu", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def stop(proc: subprocess.Popen[bytes]) -> tuple[bytes, bytes]:
    """Wait for ``proc`` to end (killing it after the timeout); its stdout and stderr."""
    try:
        return proc.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
        raise AssertionError(f"the process did not end by itself; stderr: {err!r}") from None


@contextmanager
def serving(*args: str) -> Iterator[subprocess.Popen[bytes]]:
    """A ``fakeqemu serve`` that has printed its start line; killed if still up at the end."""
    proc = spawn_serve(*args)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith(b"fakeqemu: QEMU "), line + proc.stderr.read()  # type: ignore[union-attr]
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()


def real_qemu_binary() -> str:
    binary = os.environ.get("FAKEQEMU_REAL_QEMU") or shutil.which("qemu-system-x86_64")
    if binary is None:
        pytest.skip("no qemu-system-x86_64 installed")
    return binary


@contextmanager
def real_qemu(path: str, *extra: str) -> Iterator[subprocess.Popen[bytes]]:
    """A real QEMU with a QMP monitor on ``path`` (under /tmp: see HELPER-GUIDE)."""
    argv = [real_qemu_binary(), *BASE_ARGS, *extra, "-qmp", f"unix:{path},server=on,wait=off"]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        # QEMU creates the file at bind() and listens a moment later.
        wait_for(lambda: listening_inode(path) is not None or proc.poll() is not None, "QEMU")
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else b""
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
        proc.communicate()


def signals_blocked(pid: int, signo: int) -> bool:
    """Whether ``pid`` blocks ``signo`` (its SigBlk mask in /proc)."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("SigBlk:"):
                    return bool(int(line.split()[1], 16) >> (signo - 1) & 1)
    except OSError:
        return False
    return False


def read_all(sock: socket.socket) -> bytes:
    """Everything until the peer closes."""
    sock.settimeout(TIMEOUT)
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


def half_close_session(path: str, payload: bytes) -> bytes:
    """Connect, send ``payload``, shut the sending side, read until the server closes."""
    with socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(TIMEOUT)
        sock.connect(path)
        sock.sendall(payload)
        sock.shutdown(socket.SHUT_WR)
        return read_all(sock)


def my_name() -> str:
    """argv[0] of this process, as QEMU names a signal's sender."""
    with open("/proc/self/cmdline", "rb") as cmdline:
        return cmdline.read().split(b"\0", 1)[0].decode()
