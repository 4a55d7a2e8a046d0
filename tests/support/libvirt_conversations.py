"""The recorded conversations of real QEMU under libvirt's command lines, replayed on
``fakeqemu-system-x86_64`` processes started with the same command lines.

``tests/data/recordings/VERSION/libvirt.jsonl`` (``fakeqemu capture libvirt``) holds,
per variant, the command line (libvirt's probe, daemonized with a pidfile; libvirt's
start, with the monitor a listening socket passed as a file descriptor; the
migration destination's; a guest with three vCPUs, iothreads and more devices) and
every request with the lines QEMU wrote back.  What differs from run to run is
masked: event timestamps, thread ids, and the monitor's path in ``query-chardev``.
"""

from __future__ import annotations

import array
import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.support.recordings import RECORDINGS, mask_timestamps

TIMEOUT = 30.0
THREAD_IDS = ("query-cpus-fast", "query-iothreads")


@dataclass
class Exchange:
    execute: str
    arguments: dict[str, Any] | None
    lines: list[bytes]
    fd: bool = False


@dataclass
class Variant:
    version: str
    name: str
    argv: list[str]
    greeting: bytes
    exchanges: list[Exchange] = field(default_factory=list)

    @property
    def daemonized(self) -> bool:
        return "-daemonize" in self.argv

    @property
    def monitor_path(self) -> str:
        """The monitor path the recording's query-chardev shows."""
        for exchange in self.exchanges:
            if exchange.execute == "query-chardev":
                match = re.search(rb'"filename": "unix:([^,"]*)', exchange.lines[-1])
                if match is not None:
                    return match[1].decode()
        return ""


def variants(version: str, root: Path = RECORDINGS) -> list[Variant]:
    found: dict[str, Variant] = {}
    for line in (root / version / "libvirt.jsonl").read_text().splitlines():
        record = json.loads(line)
        if "greeting" in record:
            found[record["variant"]] = Variant(
                version, record["variant"], record["argv"], record["greeting"].encode()
            )
            continue
        found[record["variant"]].exchanges.append(
            Exchange(
                record["execute"],
                record.get("arguments"),
                [text.encode() for text in record["lines"]],
                record.get("fd", False),
            )
        )
    return list(found.values())


def emulator(version: str, directory: Path) -> str:
    """The console script under a name that selects ``version``."""
    link = directory / f"fakeqemu-system-x86_64-{version}"
    if not link.exists():
        link.symlink_to(Path(sys.executable).parent / "fakeqemu-system-x86_64")
    return str(link)


def mask(command: str, data: bytes, monitor_path: str) -> bytes:
    data = mask_timestamps(data)
    if command in THREAD_IDS and data.startswith(b'{"return"'):
        data = re.sub(
            rb'"thread-id": \d+(, "(?:qom-type|props|aio-max-batch|poll-[a-z]+)")',
            rb'"thread-id": 0\1',
            data,
        )
    if command == "query-chardev" and monitor_path:
        data = data.replace(monitor_path.encode(), b"MONITOR")
    return data


class Client:
    """A blocking QMP client that sends descriptors along when asked."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.file = sock.makefile("rb")
        sock.settimeout(TIMEOUT)

    def line(self) -> bytes:
        return self.file.readline()

    def ask(self, exchange: Exchange, fd: int | None = None) -> list[bytes]:
        """Every line up to the reply; a descriptor goes along when the exchange had one
        (a fresh socketpair's end, unless ``fd`` says which)."""
        request: dict[str, Any] = {"execute": exchange.execute}
        if exchange.arguments is not None:
            request["arguments"] = exchange.arguments
        data = json.dumps(request).encode()
        if fd is not None:
            send_with_fd(self.sock, data, fd)
        elif exchange.fd:
            ours, theirs = socket.socketpair()
            with ours, theirs:
                send_with_fd(self.sock, data, ours.fileno())
        else:
            self.sock.sendall(data)
        return self.until_reply()

    def until_reply(self) -> list[bytes]:
        lines = []
        while True:
            lines.append(self.line())
            if not lines[-1] or b'"return"' in lines[-1][:10] or b'"error"' in lines[-1][:10]:
                return lines

    def execute(self, command: str, arguments: dict[str, Any] | None = None) -> list[bytes]:
        return self.ask(Exchange(command, arguments, []))


def send_with_fd(sock: socket.socket, data: bytes, fd: int) -> None:
    rights = array.array("i", [fd]).tobytes()
    sock.sendmsg([data], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, rights)])


def _end(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + TIMEOUT
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        with contextlib.suppress(ChildProcessError):
            if os.waitpid(pid, os.WNOHANG)[0] == pid:
                return
        time.sleep(0.02)


@contextlib.contextmanager
def started(variant: Variant, directory: Path) -> Iterator[tuple[Client, str]]:
    """The fake, run with the variant's command line; yields a negotiated client and
    the monitor's path.  The process is stopped (SIGTERM) at the end."""
    program = emulator(variant.version, directory)
    if variant.daemonized:
        path, pidfile = str(directory / "qmp.monitor"), str(directory / "qmp.pid")
        argv = [_swap(arg, path, pidfile) for arg in variant.argv]
        done = subprocess.run([program, *argv], capture_output=True, timeout=TIMEOUT, check=False)
        assert done.returncode == 0, done.stderr
        pid = int(Path(pidfile).read_text())
        try:
            with socket.socket(socket.AF_UNIX) as sock:
                sock.connect(path)
                yield _negotiated(sock), path
        finally:
            _end(pid)
        return
    path = str(directory / "monitor.sock")
    with socket.socket(socket.AF_UNIX) as listener:
        listener.bind(path)
        listener.listen(1)
        argv = [re.sub(r"fd=\d+", f"fd={listener.fileno()}", arg) for arg in variant.argv]
        process = subprocess.Popen(
            [program, *argv], pass_fds=[listener.fileno()], stderr=subprocess.PIPE
        )
    try:
        with socket.socket(socket.AF_UNIX) as sock:
            sock.connect(path)
            yield _negotiated(sock), path
    finally:
        _end(process.pid)
        process.communicate(timeout=TIMEOUT)


def _swap(arg: str, monitor: str, pidfile: str) -> str:
    if arg.startswith("unix:"):
        return f"unix:{monitor},server=on,wait=off"
    return pidfile if arg.endswith("qmp.pid") else arg


def _negotiated(sock: socket.socket) -> Client:
    client = Client(sock)
    client.line()
    client.ask(Exchange("qmp_capabilities", None, []))
    return client
