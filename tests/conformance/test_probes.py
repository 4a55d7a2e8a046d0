"""Every recorded probe of real QEMU 7.2, 10.0 and 11.1, replayed against the fake.

The probes ran in file order against one QEMU process, each case on a new
connection, so state carries over (7.2's failed ``migrate`` stays failed).
The fake gets the same: one :class:`FakeQemu` per version, a session per case.
Replies must be byte-identical; only event timestamps are masked.
"""

from __future__ import annotations

import pytest

from fakeqemu.fake.config import FakeQemuConfig
from fakeqemu.fake.qemu import FakeQemu
from tests.support.recordings import VERSIONS, ProbeCase, mask_timestamps, probe_cases
from tests.support.strict import make_fake

CAPS = b'{"execute":"qmp_capabilities"}\n'


def replay(fake: FakeQemu, case: ProbeCase) -> tuple[bytes, list[bytes]]:
    session = fake.open_session()
    greeting = session.data_to_send()
    if not case.before_caps:
        session.receive_data(CAPS)
        assert session.data_to_send() == b'{"return": {}}\r\n'
    replies = []
    for chunk in case.chunks:
        session.receive_data(chunk)
        replies.append(session.data_to_send())
    fake.close_session(session)
    return greeting, replies


ALL_CASES = [(case, index) for v in VERSIONS for index, case in enumerate(probe_cases(v))]


def test_the_recordings_hold_153_case_version_pairs() -> None:
    # 32 cases from the first recording, 19 added for issue 9: nesting at QEMU's limit, and
    # which unexpected argument QEMU names (GLib hash order).
    assert len(ALL_CASES) == 153


@pytest.fixture(scope="module")
def fakes_so_far() -> dict[str, tuple[FakeQemu, int]]:
    """Per release, a fake that has played the cases before the given index."""
    return {}


@pytest.mark.parametrize(("case", "index"), ALL_CASES, ids=[c.id for c, _ in ALL_CASES])
def test_probe_is_byte_identical(
    case: ProbeCase, index: int, fakes_so_far: dict[str, tuple[FakeQemu, int]]
) -> None:
    # The recorded VM was started with -S and no -incoming; earlier cases ran first.  In
    # file order each test plays only its own case; run alone, it plays those before it.
    fake, played = fakes_so_far.pop(case.version, (None, 0))
    if fake is None or played > index:
        fake, played = make_fake(FakeQemuConfig(profile=case.version, start_paused=True)), 0
    for earlier in probe_cases(case.version)[played:index]:
        replay(fake, earlier)
    greeting, replies = replay(fake, case)
    fakes_so_far[case.version] = (fake, index + 1)
    assert greeting == case.greeting
    assert [mask_timestamps(r) for r in replies] == [mask_timestamps(r) for r in case.replies]
