"""Each built-in scenario, run through a pair of fakes, shows the property a tool relies on.

The pair comes from the pytest plugin with the marker's ``scenario=``; the test polls
``query-migrate`` as a tool does, on the virtual clock (``autojump_clock``).  The
default bandwidth is QEMU's 128 MiB/s; a 1 GiB guest.
"""

from __future__ import annotations

import itertools

import pytest
import trio

from fakeqemu.testing.handles import TrioFakeQemuPair
from tests.support.migration_watch import migrating, per_pass_peak, watch

GIB = 1 << 30
#: What one 100 ms window at 128 MiB/s sends: how far below its pass's start a peak
#: sampled every 50 ms may be (a window's bytes go out at its start).
STEP_BYTES = (128 << 20) // 10


@pytest.mark.fakeqemu(memory="1G", scenario="converge")
async def test_converge_cuts_remaining_every_pass_and_completes(
    fakeqemu_trio_pair: TrioFakeQemuPair, autojump_clock: trio.testing.MockClock
) -> None:
    async with migrating(fakeqemu_trio_pair) as (source, _):
        samples = await watch(source, 60)
        assert samples[-1].status == "completed"
        peaks = list(per_pass_peak(samples).values())
        # Each pass cuts remaining by far more than nova's 10%, and it ends within seconds.
        assert all(later < earlier * 0.5 for earlier, later in itertools.pairwise(peaks))
        assert samples[-1].at - samples[0].at < 10


@pytest.mark.fakeqemu(memory="1G", scenario="never-converge")
async def test_never_converge_until_downtime_limit_is_raised(
    fakeqemu_trio_pair: TrioFakeQemuPair, autojump_clock: trio.testing.MockClock
) -> None:
    async with migrating(fakeqemu_trio_pair) as (source, _):
        samples = await watch(source, 60)
        assert samples[-1].status == "active"
        peaks = list(per_pass_peak(samples).values())
        assert len(peaks) >= 5
        # Each pass finds at least as much dirty as the one before: no pass cuts remaining
        # by 10% (nova's postcopy rule), and it grows to the whole guest.
        assert all(later >= 0.9 * earlier for earlier, later in itertools.pairwise(peaks[1:]))
        assert peaks[-1] >= 0.9 * samples[-1].total
        await source.command("migrate-set-parameters", {"downtime-limit": 2_000_000})
        assert (await watch(source, 60))[-1].status == "completed"


@pytest.mark.fakeqemu(memory="1G", scenario="stall-at:60")
async def test_stall_at_60_keeps_40_percent_until_downtime_limit_is_raised(
    fakeqemu_trio_pair: TrioFakeQemuPair, autojump_clock: trio.testing.MockClock
) -> None:
    async with migrating(fakeqemu_trio_pair) as (source, _):
        samples = await watch(source, 60)
        assert samples[-1].status == "active"
        total = samples[-1].total
        peaks = per_pass_peak(samples)
        assert len(peaks) >= 8
        # From the second pass on (the first sends everything once), each pass starts with
        # 40% of RAM dirty: remaining plateaus there, at every pass, for a minute.
        for count, peak in peaks.items():
            if count >= 3:  # pass 2 starts with what the guest wrote since 60%: less
                assert peak >= 0.4 * total - STEP_BYTES, (count, peak, total)
        assert samples[-1].remaining < 0.4 * total  # within a pass it drains (as in QEMU)
        await source.command("migrate-set-parameters", {"downtime-limit": 10_000})
        assert (await watch(source, 60))[-1].status == "completed"


@pytest.mark.fakeqemu(memory="1G", scenario="stall-then-recover")
async def test_stall_then_recover_completes_by_itself(
    fakeqemu_trio_pair: TrioFakeQemuPair, autojump_clock: trio.testing.MockClock
) -> None:
    async with migrating(fakeqemu_trio_pair) as (source, _):
        samples = await watch(source, 120)
        assert samples[-1].status == "completed"
        stalled = [
            s for s in samples if s.status == "active" and s.remaining >= 0.5 * s.total - STEP_BYTES
        ]
        stalled_passes = {s.passes for s in stalled if s.passes >= 2}
        assert len(stalled_passes) >= 2  # a plateau at 50% for several passes, then recovery


@pytest.mark.fakeqemu(memory="1G", scenario="bandwidth-collapse")
async def test_bandwidth_collapse_drops_mbps_to_a_tenth(
    fakeqemu_trio_pair: TrioFakeQemuPair, autojump_clock: trio.testing.MockClock
) -> None:
    async with migrating(fakeqemu_trio_pair) as (source, _):
        samples = await watch(source, 30)
        active = [s for s in samples if s.status == "active" and s.mbps > 0]
        before = [s.mbps for s in active if s.remaining > 0.75 * s.total]
        after = [s.mbps for s in active[-20:]]
        assert before
        assert max(after) <= 0.11 * max(before)
        assert samples[-1].status == "active"  # the guest now writes what the link carries
        await source.command("migrate_cancel")


@pytest.mark.fakeqemu(memory="1G", scenario="dirty-burst")
async def test_dirty_burst_raises_remaining_for_a_few_passes_then_converges(
    fakeqemu_trio_pair: TrioFakeQemuPair, autojump_clock: trio.testing.MockClock
) -> None:
    async with migrating(fakeqemu_trio_pair) as (source, _):
        samples = await watch(source, 60)
        assert samples[-1].status == "completed"
        peaks = list(per_pass_peak(samples).values())
        rises = [i for i in range(1, len(peaks)) if peaks[i] > peaks[i - 1]]
        assert rises, peaks  # remaining rose again at some pass ...
        assert peaks[-1] < peaks[rises[0]]  # ... and fell after the burst
