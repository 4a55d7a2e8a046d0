"""Grammar fuzz: no generated input breaks a session or the server, and no split matters.

Inputs come from tests/support/qmp_grammar.py (nesting to past QEMU's limit in ids, arguments and
unknown keys, every JSON type everywhere, sizes around the reader's thresholds, broken
syntax).  Each goes to a new session of three fakes that see the same inputs in the same
order: whole, in 1-byte chunks (in chunks of a few bytes when long), and in random
chunks.  The three outputs must be identical (event timestamps masked) and well-formed
QMP.  A bounded share also goes over a real unix socket to a served fake, which must
answer exactly as the sans-IO session does, and keep serving.

10,000 inputs run with the suite; ``FAKEQEMU_LONG=1`` (``make test-long``) runs 100,000.
"""

from __future__ import annotations

import itertools
import os
import random
from pathlib import Path

import pytest
import trio

from fakeqemu.fake.config import FakeQemuConfig
from fakeqemu.fake.qemu import FakeQemu
from fakeqemu.server.serve import Endpoint, serve
from tests.support.qmp_grammar import generated_inputs
from tests.support.qmp_output import check_well_formed
from tests.support.recordings import VERSIONS, mask_timestamps
from tests.support.strict import make_fake

CAPS = b'{"execute":"qmp_capabilities"}'
#: Inputs up to this long are also fed one byte at a time.
BYTEWISE_MAX = 300
LONG = pytest.mark.skipif(
    os.environ.get("FAKEQEMU_LONG") != "1", reason="long run: FAKEQEMU_LONG=1 (make test-long)"
)


class _SplitFeeds:
    """Three fakes of one release, fed the same inputs whole, bytewise and at random cuts."""

    def __init__(self, version: str, rng: random.Random) -> None:
        self.fakes = [
            make_fake(FakeQemuConfig(profile=version, start_paused=True)) for _ in range(3)
        ]
        self.rng = rng

    def _run(self, fake: FakeQemu, data: bytes, negotiate: bool, cuts: list[int]) -> bytes:
        session = fake.open_session()
        if fake is not self.fakes[0]:
            # The strict contract monitor (tests/conftest.py) checks the whole-input fake;
            # the split ones must send the very same bytes, so checking them again would
            # only double the cost of the run.
            session.message_observers.clear()
        output = bytearray(session.data_to_send())
        if negotiate:
            session.receive_data(CAPS)
            output += session.data_to_send()
        for start, end in itertools.pairwise(cuts):
            session.receive_data(data[start:end])
            output += session.data_to_send()
        fake.close_session(session)
        return mask_timestamps(bytes(output))

    def check(self, data: bytes) -> bytes:
        """The whole-input output, after checking both splits give the same bytes."""
        rng, size = self.rng, len(data)
        negotiate = rng.random() < 0.85
        whole = self._run(self.fakes[0], data, negotiate, [0, size])
        step = 1 if size <= BYTEWISE_MAX else rng.randint(2, 64)
        bytewise = self._run(self.fakes[1], data, negotiate, [*range(0, size, step), size])
        cuts = sorted({0, size, *(rng.randint(0, size) for _ in range(rng.randint(1, 8)))})
        scattered = self._run(self.fakes[2], data, negotiate, cuts)
        assert bytewise == whole, f"split every {step} bytes differs for {data[:300]!r}"
        assert scattered == whole, f"split at {cuts} differs for {data[:300]!r}"
        check_well_formed(whole)
        return whole


def fuzz(seed: str, count: int) -> dict[str, int]:
    """Run ``count`` inputs, spread over the releases; return the output lines per release."""
    rng = random.Random(seed)
    feeds = {version: _SplitFeeds(version, rng) for version in VERSIONS}
    lines = dict.fromkeys(VERSIONS, 0)
    for index, data in enumerate(generated_inputs(seed, count)):
        version = VERSIONS[index % len(VERSIONS)]
        lines[version] += feeds[version].check(data).count(b"\r\n")
    return lines


def test_10_000_generated_inputs_never_break_a_session_nor_depend_on_splits() -> None:
    lines = fuzz("grammar-fuzz", 10_000)
    assert all(count > 10_000 for count in lines.values()), lines


@pytest.mark.slow
@LONG
def test_100_000_generated_inputs_never_break_a_session_nor_depend_on_splits() -> None:
    lines = fuzz("grammar-fuzz-long", 100_000)
    assert all(count > 100_000 for count in lines.values()), lines


SENTINEL = b'\x01{"execute":"query-version","id":"fuzz-sentinel"}'


async def _over_the_socket(path: str, data: bytes) -> bytes:
    stream = await trio.open_unix_socket(path)
    async with stream:
        await stream.send_all(CAPS + data + SENTINEL)
        received = bytearray()
        while b'"id": "fuzz-sentinel"}\r\n' not in received:
            chunk = await stream.receive_some(1 << 20)
            assert chunk, f"the fake hung up after {data[:300]!r}"
            received += chunk
    return mask_timestamps(bytes(received))


@pytest.mark.parametrize("version", VERSIONS)
async def test_a_served_fake_answers_generated_input_as_its_session_does(
    version: str, tmp_path: Path
) -> None:
    served = make_fake(FakeQemuConfig(profile=version, start_paused=True))
    reference = make_fake(FakeQemuConfig(profile=version, start_paused=True))
    path = str(tmp_path / "qmp.sock")
    async with trio.open_nursery() as nursery:
        await nursery.start(serve, served, [Endpoint("unix", path=path)])
        for data in generated_inputs(f"grammar-socket-{version}", 150):
            with trio.fail_after(20):
                received = await _over_the_socket(path, data)
            session = reference.open_session()
            session.receive_data(CAPS + data + SENTINEL)
            expected = mask_timestamps(session.data_to_send())
            reference.close_session(session)
            assert received == expected, data[:300]
        nursery.cancel_scope.cancel()
