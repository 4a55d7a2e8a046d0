"""Generated input to a live QEMU and to the fake: every reply must be the same bytes.

The grammar of tests/support/qmp_grammar.py writes the inputs; one long-running QEMU and one fake
of the same release each get all of them on one connection, in the same order, so state
(``stop``/``cont``, capabilities, parameters) and QEMU 11.1's line and column counts
carry through.  After each input a control character puts the JSON reader back in a
known state and a sentinel request closes the exchange: both sides are read up to the
sentinel's reply, with no timeouts deciding anything.  Event timestamps are masked.

Runs against the QEMU on this machine ($FAKEQEMU_REAL_QEMU picks one) and skips when
there is none.  1,000 inputs with the suite; ``FAKEQEMU_LONG=1`` sends 10,000.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from fakeqemu import ThreadedFakeQemu
from fakeqemu.fake.config import FakeQemuConfig
from fakeqemu.recorder.capture import running_qemu
from fakeqemu.server.endpoints import Endpoint
from tests.conformance.test_real_qemu import _real_qemu
from tests.support.qmp_grammar import generated_inputs
from tests.support.recordings import mask_timestamps
from tests.support.strict import STRICT_HOOKS

pytestmark = pytest.mark.real_qemu

COUNT = 10_000 if os.environ.get("FAKEQEMU_LONG") == "1" else 1_000
#: QEMU reads its monitor at about 0.5 MB/s; the longest input is about 1 MiB.
READ_TIMEOUT = 120


class _Monitor:
    """One QMP connection, read up to a sentinel."""

    def __init__(self, path: str) -> None:
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.settimeout(READ_TIMEOUT)
        self.sock.connect(path)
        self.buffer = bytearray()
        self.read_through(b"\r\n")  # the greeting
        self.sock.sendall(b'{"execute":"qmp_capabilities"}')
        self.read_through(b"\r\n")

    def read_through(self, end: bytes) -> bytes:
        while (found := self.buffer.find(end)) < 0:
            data = self.sock.recv(1 << 20)
            assert data, f"connection closed; got {bytes(self.buffer)[-300:]!r}"
            self.buffer += data
        found += len(end)
        taken = bytes(self.buffer[:found])
        del self.buffer[:found]
        return taken

    def exchange(self, data: bytes, number: int) -> bytes:
        sentinel_id = b'"grammar-%d"' % number
        sentinel = b'\x01{"execute":"query-version","id":%s}' % sentinel_id
        self.sock.sendall(data + sentinel)
        return mask_timestamps(self.read_through(b'"id": %s}\r\n' % sentinel_id))

    def close(self) -> None:
        self.sock.close()


def test_generated_input_gets_the_same_bytes_from_qemu_and_the_fake(tmp_path: Path) -> None:
    binary, version = _real_qemu()
    fake_path = str(tmp_path / "fake.sock")
    differences = []
    with (
        running_qemu(binary, "-m", "128", "-S") as qemu_path,
        ThreadedFakeQemu(
            FakeQemuConfig(profile=version, start_paused=True),
            [Endpoint("unix", path=fake_path)],
            hooks=STRICT_HOOKS,
        ),
    ):
        real, fake = _Monitor(qemu_path), _Monitor(fake_path)
        try:
            for number, data in enumerate(generated_inputs(f"grammar-{version}", COUNT)):
                expected, got = real.exchange(data, number), fake.exchange(data, number)
                if expected != got:
                    differences.append(
                        f"input {data[:400]!r}\n  QEMU {expected[:600]!r}\n  fake {got[:600]!r}"
                    )
        finally:
            real.close()
            fake.close()
    assert not differences, f"{len(differences)} of {COUNT} differ:\n" + "\n".join(differences[:8])
