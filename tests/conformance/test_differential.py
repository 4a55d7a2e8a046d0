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
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TypeVar

import pytest

from fakeqemu import ThreadedFakeQemu
from fakeqemu.fake.config import FakeQemuConfig
from fakeqemu.recorder.capture import running_qemu
from fakeqemu.server.endpoints import Endpoint
from tests.conformance.test_real_qemu import _real_qemu
from tests.support.mutations import mutate
from tests.support.recordings import mask_timestamps, probe_cases
from tests.support.strict import STRICT_HOOKS

T = TypeVar("T")

pytestmark = pytest.mark.real_qemu

CASES = 300
#: A control character forces QEMU's JSON lexer back to a known state (qmp-spec.rst).
SENTINEL = b'\x01{"execute":"query-version","id":"differential-sentinel"}'


class _RandomChoices:
    def __init__(self, seed: str) -> None:
        self._rng = random.Random(seed)

    def integer(self, low: int, high: int) -> int:
        return self._rng.randint(low, high)

    def pick(self, options: Sequence[T]) -> T:
        return self._rng.choice(options)


def mutated_inputs(version: str, count: int) -> Iterator[bytes]:
    choose = _RandomChoices(f"differential-{version}")
    seeds = [chunk for case in probe_cases(version) for chunk in case.chunks if len(chunk) < 400]
    for _ in range(count):
        yield mutate(choose.pick(seeds), choose, edits=5)


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
            FakeQemuConfig(profile=version, start_paused=True),
            [Endpoint("unix", path=fake_path)],
            hooks=STRICT_HOOKS,
        ),
    ):
        for payload in mutated_inputs(version, CASES):
            if b"quit" in payload or b"migrate" in payload or b"stop" in payload:
                continue  # keep both machines in the same state across cases
            real, fake = exchange(qemu_path, payload), exchange(fake_path, payload)
            if real != fake:
                mismatches.append(f"input {payload!r}\n  QEMU {real!r}\n  fake {fake!r}")
    assert not mismatches, f"{len(mismatches)} of {CASES} differ:\n" + "\n".join(mismatches[:5])
