"""nova's live-migration decisions, run against a pair of fakes.

Written here from nova's documented rules (nova/virt/libvirt/migration.py), not copied:

* ``downtime_steps(data_gb)``: with ``live_migration_downtime`` D (500 ms),
  ``live_migration_downtime_steps`` S (10) and ``live_migration_downtime_delay`` T
  (75 s per GiB), step i of 0..S is at ``int(T * data_gb * i)`` seconds and sets
  ``int(D / S + (D - D / S) / S * i)`` ms; ``update_downtime`` applies the last step
  whose time has passed, when it differs from the one in force (libvirt sends it as
  ``migrate-set-parameters downtime-limit``).
* ``should_switch_to_postcopy(iteration, current, previous, status)``: never once in
  postcopy or without a previous amount; after the first memory iteration, switch when
  ``round((previous - current) * 100 / previous) < 10``.  nova's monitor loop calls it
  at each poll (every 0.5 s) with libvirt's memory iteration (``dirty-sync-count``)
  and the remaining data of this poll and the one before.

It takes the postcopy branch under ``stall-at:60`` and not under ``converge``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import trio

from fakeqemu.testing.handles import TrioFakeQemuPair
from tests.support.migration_watch import migrating, sample

DOWNTIME_MS, STEPS, DELAY_PER_GIB = 500, 10, 75
#: nova's monitor loop polls every half second.
POLL = 0.5


def downtime_steps(data_gb: float) -> Iterator[tuple[int, int]]:
    delay = int(DELAY_PER_GIB * data_gb)
    base = DOWNTIME_MS / STEPS
    offset = (DOWNTIME_MS - base) / STEPS
    for i in range(STEPS + 1):
        yield int(delay * i), int(base + offset * i)


def update_downtime(
    current: int | None, steps: list[tuple[int, int]], elapsed: float
) -> int | None:
    due = [step for step in steps if elapsed > step[0]]
    if not due or due[-1][1] == current:
        return current
    return due[-1][1]


def should_switch_to_postcopy(iteration: int, current: int, previous: int, status: str) -> bool:
    if status == "running (post-copy)" or previous <= 0:
        return False
    return iteration > 1 and round((previous - current) * 100 / previous) < 10


async def nova_monitor(pair: TrioFakeQemuPair) -> tuple[str, list[float], list[int]]:
    """Migrate as nova does with postcopy allowed; returns the end status, the share of
    RAM remaining at each postcopy switch nova made, and the downtime limits it set."""
    decisions: list[float] = []
    limits: list[int] = []
    nova_status = "running"
    async with migrating(pair, capabilities=("postcopy-ram",)) as (source, _):
        started = trio.current_time()
        steps: list[tuple[int, int]] = []
        downtime: int | None = None
        previous = 0
        with trio.fail_after(600):
            while True:
                info = await sample(source)
                if info.status in ("completed", "failed", "cancelled"):
                    return info.status, decisions, limits
                if info.total and not steps:
                    steps = list(downtime_steps(info.total / (1 << 30)))
                wanted = update_downtime(downtime, steps, trio.current_time() - started)
                if wanted != downtime and wanted is not None:
                    await source.command("migrate-set-parameters", {"downtime-limit": wanted})
                    downtime = wanted
                    limits.append(wanted)
                # Each poll, as nova's monitor loop: iteration is libvirt's memory
                # iteration (dirty-sync-count), the remaining data compared with the
                # previous poll's.
                if should_switch_to_postcopy(info.passes, info.remaining, previous, nova_status):
                    await source.command("migrate-start-postcopy")
                    nova_status = "running (post-copy)"
                    decisions.append(info.remaining / info.total)
                previous = info.remaining
                await trio.sleep(POLL)


@pytest.mark.parametrize(
    ("scenario", "postcopy"),
    [
        pytest.param(
            "converge", False, marks=pytest.mark.fakeqemu(memory="1G", scenario="converge")
        ),
        pytest.param(
            "stall", True, marks=pytest.mark.fakeqemu(memory="1G", scenario="stall-at:60")
        ),
    ],
)
async def test_nova_takes_postcopy_under_stall_and_not_under_converge(
    fakeqemu_trio_pair: TrioFakeQemuPair,
    autojump_clock: trio.testing.MockClock,
    scenario: str,
    postcopy: bool,
) -> None:
    status, decisions, limits = await nova_monitor(fakeqemu_trio_pair)
    assert status == "completed"
    assert limits[0] == 50  # downtime_steps' first step, set at once
    journal = fakeqemu_trio_pair.source.journal
    journal.assert_called("migrate-set-parameters", with_arguments={"downtime-limit": 50})
    if postcopy:
        # One switch, made on the plateau: 40% of RAM still to send.
        assert len(decisions) == 1
        assert decisions[0] >= 0.35
        journal.assert_called("migrate-start-postcopy", times=1)
        statuses = [c.reply["return"]["status"] for c in journal if c.command == "query-migrate"]
        assert "postcopy-active" in statuses
    else:
        assert decisions == []
        journal.assert_not_called("migrate-start-postcopy")
