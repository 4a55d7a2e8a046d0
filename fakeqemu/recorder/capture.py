"""Record a real QEMU over QMP, in the formats of ``tests/data/recordings``.

    fakeqemu capture probes --qemu qemu-system-x86_64 \
        --cases tests/data/recordings/7.2/probes.jsonl OUT.jsonl
    fakeqemu capture queries --qemu qemu-system-x86_64 OUT.json

``probes`` replays the ``send`` chunks of an existing probes file (the case
list is data) against a fresh ``-S`` VM, one connection per case, and records
what comes back; ``queries`` records a fresh VM's answers to read-only queries.
A chunk too big to store (QEMU's 64 MiB and 2M-token limits) is written as a
recipe, ``{"prefix": ..., "repeat": ..., "times": N, "suffix": ...}``.
Plain blocking sockets: this talks to one QEMU at a time and is not the server.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

QUIET = 0.3
#: QEMU reads a monitor a byte at a time, about 0.5 MB/s (measured on 7.2, 10.0 and 11.1;
#: slower on a busy machine), and parses a long string at about 4 MB/s: the first reply
#: to a chunk may take this long per byte, on top of QUIET.
FIRST_REPLY_PER_BYTE = 20e-6
FIRST_REPLY_MAX = 180.0
#: Chunks this big get a longer quiet period between replies.
BIG_CHUNK = 1 << 20
BIG_CHUNK_QUIET = 1.0
#: Writing a 64 MiB probe takes minutes.
SEND_TIMEOUT = 900
BASE_ARGS = ("-nodefaults", "-display", "none", "-accel", "tcg", "-machine", "pc")
CAPS = b'{"execute":"qmp_capabilities"}\n'


@contextlib.contextmanager
def running_qemu(binary: str, *extra: str) -> Iterator[str]:
    """Start QEMU with a QMP unix socket; yield the socket path; quit it afterwards."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "qmp.sock")
        argv = [binary, *BASE_ARGS, *extra, "-qmp", f"unix:{path},server=on,wait=off"]
        log = Path(tmp, "qemu.log")
        with (
            log.open("wb") as stderr,
            subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=stderr) as proc,
        ):
            try:
                deadline = time.monotonic() + 30
                while not os.path.exists(path):
                    if proc.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError(f"QEMU did not start: {log.read_text()[:500]}")
                    time.sleep(0.01)
                yield path
            finally:
                proc.terminate()
                proc.wait(timeout=10)


def _read_until_quiet(sock: socket.socket, quiet: float = QUIET, first: float = QUIET) -> bytes:
    """Everything until ``quiet`` seconds pass without data; the first byte may take
    ``first`` seconds (QEMU takes seconds to parse a message of many megabytes)."""
    data = b""
    sock.settimeout(first)
    while True:
        try:
            chunk = sock.recv(1 << 20)
        except TimeoutError:
            return data
        if not chunk:
            return data
        data += chunk
        sock.settimeout(quiet)


def _read_line(sock: socket.socket) -> bytes:
    sock.settimeout(10)
    data = b""
    while not data.endswith(b"\r\n"):
        chunk = sock.recv(1)
        if not chunk:
            break
        data += chunk
    return data


#: One write of a probe: its text, or the recipe of a text too big to store.
Chunk = str | dict[str, Any]


def chunk_bytes(chunk: Chunk) -> bytes:
    """The bytes a probe chunk stands for (text is written as Latin-1, one byte a char)."""
    if isinstance(chunk, str):
        return chunk.encode("latin-1")
    prefix, repeat, suffix = (str(chunk.get(key, "")) for key in ("prefix", "repeat", "suffix"))
    repeated = repeat.encode("latin-1") * int(chunk["times"])
    return prefix.encode("latin-1") + repeated + suffix.encode("latin-1")


def capture_probes(binary: str, cases_file: Path, out: Path) -> int:
    cases = [json.loads(line) for line in cases_file.read_text().splitlines()]
    with running_qemu(binary, "-m", "128", "-S") as path, out.open("w") as sink:
        for case in cases:
            with socket.socket(socket.AF_UNIX) as sock:
                sock.connect(path)
                greeting = _read_line(sock)
                if not case["before_caps"]:
                    sock.sendall(CAPS)
                    _read_line(sock)
                replies = []
                for chunk in case["send"]:
                    data = chunk_bytes(chunk)
                    sock.settimeout(SEND_TIMEOUT)
                    sock.sendall(data)
                    first = min(QUIET + len(data) * FIRST_REPLY_PER_BYTE, FIRST_REPLY_MAX)
                    quiet = QUIET if len(data) < BIG_CHUNK else BIG_CHUNK_QUIET
                    reply = _read_until_quiet(sock, quiet, first)
                    replies.append(reply.decode("latin-1"))
            record = {
                "name": case["name"],
                "send": case["send"],
                "replies": replies,
                "greeting": greeting.decode("latin-1"),
                "before_caps": case["before_caps"],
            }
            sink.write(json.dumps(record) + "\n")
    return len(cases)


QUERY_NAMES = (
    "query-version",
    "query-status",
    "query-name",
    "query-kvm",
    "query-migrate",
    "query-migrate-capabilities",
    "query-migrate-parameters",
    "query-commands",
    "query-qmp-schema",
    "query-uuid",
    "query-target",
)
HMP_COMMANDS = ("info migrate", "info status", "info version")


#: HMP listings: every command (`help`) and every `info` subcommand of the release.
HMP_LISTINGS = ("help", "info")


def capture_hmp(binary: str, out: Path) -> int:
    """``help`` and ``info`` of a fresh VM, so the fake knows which HMP commands exist."""
    recorded: dict[str, str] = {}
    with (
        running_qemu(binary, "-m", "64", "-S") as path,
        socket.socket(socket.AF_UNIX) as sock,
    ):
        sock.connect(path)
        _read_line(sock)
        sock.sendall(CAPS)
        _read_line(sock)
        for line in HMP_LISTINGS:
            request = {"execute": "human-monitor-command", "arguments": {"command-line": line}}
            sock.sendall(json.dumps(request).encode())
            recorded[line] = json.loads(_read_line(sock))["return"]
    out.write_text(json.dumps(recorded, indent=1) + "\n")
    return len(recorded)


def capture_queries(binary: str, out: Path) -> int:
    recorded: dict[str, str] = {}
    with (
        running_qemu(binary, "-m", "64", "-name", "guest0", "-S") as path,
        socket.socket(socket.AF_UNIX) as sock,
    ):
        sock.connect(path)
        recorded["greeting"] = _read_line(sock).decode()
        sock.sendall(CAPS)
        _read_line(sock)
        for name in QUERY_NAMES:
            sock.sendall(json.dumps({"execute": name}).encode())
            recorded[name] = _read_line(sock).decode()
        for line in HMP_COMMANDS:
            request = {"execute": "human-monitor-command", "arguments": {"command-line": line}}
            sock.sendall(json.dumps(request).encode())
            recorded[f"hmp:{line}"] = _read_line(sock).decode()
    out.write_text(json.dumps(recorded, indent=1) + "\n")
    return len(recorded)
