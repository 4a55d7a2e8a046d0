"""The recorded probes played as the recorder played them: one server, one sequence.

One fake per release is served on a real unix socket for the whole file; every case
gets a new connection, in file order, so state carries from case to case as it did in
the recorded QEMU (a failed ``migrate`` stays failed, ``cont`` leaves it running).
``qmp_capabilities`` goes first unless the case was recorded before negotiation.

The recorder read each chunk's replies until 0.3 s of quiet.  Here the count of lines
QEMU wrote is known, so exactly that many are read; after the last chunk a sentinel
request must be answered next, which proves nothing more was written.  No sleeps.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import trio

from fakeqemu.fake.config import FakeQemuConfig
from fakeqemu.server.serve import Endpoint, serve
from tests.support.recordings import VERSIONS, ProbeCase, mask_timestamps, probe_cases
from tests.support.strict import make_fake

CAPS = b'{"execute":"qmp_capabilities"}\n'
SENTINEL = b'{"execute":"query-version","id":"probe-sequence-sentinel"}'
#: Generous: a 7.2 case answers 1,027 lines; a healthy run takes milliseconds per case.
CASE_SECONDS = 20


class _Lines:
    """Reads whole ``\\r\\n``-terminated lines, byte for byte."""

    def __init__(self, stream: trio.SocketStream) -> None:
        self.stream = stream
        self.buffer = bytearray()

    async def read(self, count: int) -> bytes:
        """Exactly the next ``count`` lines, as sent."""
        end = 0
        for _ in range(count):
            while (found := self.buffer.find(b"\r\n", end)) < 0:
                data = await self.stream.receive_some(1 << 20)
                assert data, f"the fake closed the connection; got {bytes(self.buffer)[:200]!r}"
                self.buffer += data
            end = found + 2
        lines = bytes(self.buffer[:end])
        del self.buffer[:end]
        return lines


async def play(path: str, case: ProbeCase) -> tuple[bytes, list[bytes], bytes]:
    """Greeting, each chunk's replies, and what came before the sentinel's reply."""
    stream = await trio.open_unix_socket(path)
    async with stream:
        lines = _Lines(stream)
        greeting = await lines.read(1)
        if not case.before_caps:
            await stream.send_all(CAPS)
            assert await lines.read(1) == b'{"return": {}}\r\n'
        replies = []
        for chunk, recorded in zip(case.chunks, case.replies, strict=True):
            await stream.send_all(chunk)
            replies.append(await lines.read(recorded.count(b"\r\n")))
        await stream.send_all(SENTINEL)
        after = await lines.read(1)
    return greeting, replies, after


@pytest.mark.parametrize("version", VERSIONS)
async def test_the_probes_replay_as_one_sequence_on_one_server(
    version: str, tmp_path: Path
) -> None:
    cases = probe_cases(version)
    names = {case.name for case in cases}
    assert {"id_nested_1023", "id_nested_1024"} <= names
    fake = make_fake(FakeQemuConfig(profile=version, start_paused=True))
    path = str(tmp_path / "qmp.sock")
    mismatches = []
    async with trio.open_nursery() as nursery:
        await nursery.start(serve, fake, [Endpoint("unix", path=path)])
        for case in cases:
            with trio.fail_after(CASE_SECONDS):
                greeting, replies, after = await play(path, case)
            if greeting != case.greeting:
                mismatches.append(f"{case.name}: greeting {greeting!r}")
            got = [mask_timestamps(reply) for reply in replies]
            if got != [mask_timestamps(reply) for reply in case.replies]:
                mismatches.append(f"{case.name}: replies {[reply[:300] for reply in got]!r}")
            if b'"id": "probe-sequence-sentinel"' not in after:
                mismatches.append(f"{case.name}: more output than QEMU wrote: {after[:300]!r}")
        nursery.cancel_scope.cancel()
    assert not mismatches, "\n".join(mismatches)
