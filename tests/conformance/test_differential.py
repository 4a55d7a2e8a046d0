"""The same mutated input to a live QEMU and to the fake must get the same bytes back.

Runs against the QEMU on this machine (CI installs Debian's 7.2; set
$FAKEQEMU_REAL_QEMU to compare another release), skips when there is none.
Each case goes over a new connection to one long-running QEMU and one fake
of the same release; a control character then a sentinel request end each
case, so both sides are read until the sentinel's reply, with no timeouts.
"""

from __future__ import annotations

import random
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from fakeqemu.capture import running_qemu
from fakeqemu.endpoints import Endpoint
from fakeqemu.fake import FakeQemuConfig
from fakeqemu.testing import ThreadedFakeQemu
from tests.conformance.test_real_qemu import _real_qemu
from tests.recordings import mask_timestamps, probe_cases

pytestmark = pytest.mark.real_qemu

CASES = 300
#: A control character forces QEMU's JSON lexer back to a known state (qmp-spec.rst).
SENTINEL = b'\x01{"execute":"query-version","id":"differential-sentinel"}'
TOKENS = [
    b"{",
    b"}",
    b"[",
    b"]",
    b":",
    b",",
    b'"',
    b"'",
    b"\\",
    b"\n",
    b"\xff",
    b"\xfe",
    b"execute",
    b"exec-oob",
    b"arguments",
    b"id",
    b"true",
    b"nul",
    b"-0.0",
    b"1e999",
    b"99999999999999999999999",
    b"\\u0000",
    b"\\ud800",
    b"\\u00e9",
    b"\x7f",
    b"\xc3\xa9",
    b"query-status",
    b"migrate",
    b"qmp_capabilities",
    b"1.5",
    b"-",
    b"0x1",
]


def mutated_inputs(version: str, count: int) -> Iterator[bytes]:
    rng = random.Random(f"differential-{version}")
    seeds = [chunk for case in probe_cases(version) for chunk in case.chunks if len(chunk) < 400]
    for _ in range(count):
        data = bytearray(rng.choice(seeds))
        for _ in range(rng.randint(0, 5)):
            position = rng.randint(0, len(data))
            action = rng.choice(["insert", "delete", "token", "flip"])
            if action == "insert":
                data[position:position] = bytes(
                    rng.getrandbits(8) for _ in range(rng.randint(1, 3))
                )
            elif action == "delete":
                del data[position : position + rng.randint(1, 6)]
            elif action == "flip" and position < len(data):
                data[position] ^= 1 << rng.randint(0, 7)
            else:
                data[position:position] = rng.choice(TOKENS)
        yield bytes(data)


def exchange(path: str, payload: bytes) -> bytes:
    with socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(10)
        sock.connect(path)
        data = b""
        while not data.endswith(b"\r\n"):
            data += sock.recv(65536)
        sock.sendall(b'{"execute":"qmp_capabilities"}' + payload + SENTINEL)
        data = b""
        while b'"differential-sentinel"' not in data:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    return mask_timestamps(data)


def test_mutated_input_gets_the_same_replies(tmp_path: Path) -> None:
    binary, version = _real_qemu()
    fake_path = str(tmp_path / "fake.sock")
    mismatches = []
    with (
        running_qemu(binary, "-m", "128", "-S") as qemu_path,
        ThreadedFakeQemu(
            FakeQemuConfig(profile=version, start_paused=True), [Endpoint("unix", path=fake_path)]
        ),
    ):
        for payload in mutated_inputs(version, CASES):
            if b"quit" in payload or b"migrate" in payload or b"stop" in payload:
                continue  # keep both machines in the same state across cases
            real, fake = exchange(qemu_path, payload), exchange(fake_path, payload)
            if real != fake:
                mismatches.append(f"input {payload!r}\n  QEMU {real!r}\n  fake {fake!r}")
    assert not mismatches, f"{len(mismatches)} of {CASES} differ:\n" + "\n".join(mismatches[:5])
