"""Issue 3's acceptance: every recorded migration of real QEMU, replayed against two fakes.

Per release (7.2, 10.0, 11.1) and scenario (precopy, cancel, pause-before-switchover),
:func:`~tests.support.scenario_driver.replay` sends the recorded requests to a fake
source and a fake destination at their recorded times, on trio's virtual clock, and
:func:`~tests.support.scenario_checks.compare` holds what came back against the
recording: replies, events, ``query-migrate`` key layouts per status, the final
replies with numbers masked, and the monotonic counters.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import trio.testing

from tests.support.recordings import VERSIONS
from tests.support.scenario_checks import compare
from tests.support.scenario_driver import replay
from tests.support.scenario_recording import SCENARIOS, load_recording

CASES = [(version, scenario) for version in VERSIONS for scenario in SCENARIOS]


@pytest.mark.parametrize(("version", "scenario"), CASES, ids=[f"{v}-{s}" for v, s in CASES])
async def test_scenario_matches_real_qemu(
    version: str, scenario: str, tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    recording = load_recording(version, scenario)
    transcript = await replay(recording, version, tmp_path)
    problems = compare(recording, transcript)
    assert not problems, (
        f"QEMU {version} {scenario}: the fakes differ from the recording"
        f" ({len(problems)} problems):\n" + "\n".join(problems)
    )
