"""Generated and mutated input never breaks the session or the server.

The sans-IO test runs 10,000 examples through a session; the socket test
sends a bounded batch of them over a real unix socket and then checks that a
well-behaved client is still served byte for byte.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from pathlib import Path
from typing import TypeVar

import trio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fakeqemu.fake.config import FakeQemuConfig
from fakeqemu.protocol.encoder import encode_message
from fakeqemu.server.serve import Endpoint, serve
from tests.support.mutations import mutate
from tests.support.qmp_output import check_well_formed
from tests.support.recordings import VERSIONS, probe_cases
from tests.support.strict import make_fake

T = TypeVar("T")

# Nesting at QEMU's limit and big inputs are the grammar fuzz's (test_grammar_fuzz.py):
# mutating the 2-40 KB probes of issue 9 here would only multiply the run time.
SEEDS = sorted(
    {
        chunk
        for v in VERSIONS
        for case in probe_cases(v)
        for chunk in case.chunks
        if len(chunk) < 400 or case.name == "deep_nesting"
    }
)


class _HypothesisChoices:
    def __init__(self, draw: st.DrawFn) -> None:
        self._draw = draw

    def integer(self, low: int, high: int) -> int:
        return self._draw(st.integers(low, high))

    def pick(self, options: Sequence[T]) -> T:
        return self._draw(st.sampled_from(options))


@st.composite
def mutated_input(draw: st.DrawFn) -> bytes:
    return mutate(draw(st.sampled_from(SEEDS)), _HypothesisChoices(draw))


fuzz_input = st.one_of(mutated_input(), st.binary(max_size=200))


FAKES = {v: make_fake(FakeQemuConfig(profile=v, start_paused=True)) for v in VERSIONS}


@settings(max_examples=10_000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    version=st.sampled_from(VERSIONS),
    data=fuzz_input,
    negotiate=st.booleans(),
    split=st.integers(1, 64),
)
def test_session_survives_any_input(version: str, data: bytes, negotiate: bool, split: int) -> None:
    fake = FAKES[version]
    session = fake.open_session()
    output = bytearray(session.data_to_send())
    if negotiate:
        session.receive_data(b'{"execute":"qmp_capabilities"}')
    for start in range(0, len(data), split):
        session.receive_data(data[start : start + split])
        output += session.data_to_send()
    fake.close_session(session)
    check_well_formed(bytes(output))
    # Another client is served normally afterwards.
    other = fake.open_session()
    other.receive_data(b'{"execute":"qmp_capabilities"}{"execute":"query-version","id":1}')
    lines = other.data_to_send().split(b"\r\n")
    fake.close_session(other)
    assert json.loads(lines[2])["return"] == fake.profile.version


async def test_server_keeps_serving_after_garbage(tmp_path: Path) -> None:
    rng = random.Random(1234)
    fake = make_fake(FakeQemuConfig(profile="11.1", start_paused=True))
    path = str(tmp_path / "qmp.sock")
    async with trio.open_nursery() as nursery:
        await nursery.start(serve, fake, [Endpoint("unix", path=path)])
        for _ in range(200):
            garbage = bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 300)))
            seed = rng.choice(SEEDS)
            payload = (
                b'{"execute":"qmp_capabilities"}' + seed[: rng.randint(0, len(seed))] + garbage
            )
            with trio.fail_after(5):
                # Wait for the greeting: until then the monitor is busy with the
                # previous client and this one sits in the backlog of 1, as with QEMU.
                stream = await trio.open_unix_socket(path)
                assert (await stream.receive_some(65536)).startswith(b'{"QMP"')
                await stream.send_all(payload)
                await stream.aclose()
        with trio.fail_after(5):
            stream = await trio.open_unix_socket(path)
            await stream.send_all(
                b'{"execute":"qmp_capabilities"}{"execute":"query-version","id":9}'
            )
            received = b""
            while received.count(b"\r\n") < 3:
                received += await stream.receive_some(65536)
            await stream.aclose()
        # query-version: the garbage may have stopped or resumed the guest.
        version = {"return": fake.profile.version, "id": 9}
        assert received.split(b"\r\n")[2] + b"\r\n" == encode_message(version)
        nursery.cancel_scope.cancel()
