"""``model``'s rules, one at a time: QEMU's, from migration/ram.c and migration/migration.c."""

from __future__ import annotations

from pathlib import Path

import pytest
import trio
import trio.testing

from fakeqemu.backends import ThrottleSettings
from fakeqemu.backends.model import Workload, next_throttle, split_evenly
from fakeqemu.fake.config import FakeQemuConfig
from fakeqemu.profiles import get_profile
from tests.support.drive import info, run_for, start
from tests.support.fakes import migrate
from tests.support.strict import make_fake

MiB = 1 << 20


PROFILE_7_2 = get_profile("7.2")


def test_auto_converge_starts_at_the_initial_throttle_and_steps_to_the_ceiling() -> None:
    settings = ThrottleSettings(initial=20, increment=10, maximum=45)
    steps = [0]
    for _ in range(5):
        steps.append(next_throttle(steps[-1], settings, dirty_bytes=100, dirty_threshold=50))
    assert steps == [0, 20, 30, 40, 45, 45]


def test_tailslow_steps_only_as_far_as_the_dirty_rate_needs() -> None:
    settings = ThrottleSettings(initial=20, increment=10, tailslow=True)
    # The guest runs 80% of the time and dirties 5% too much: 80 * 0.95 = 76, so 4 more.
    assert next_throttle(20, settings, dirty_bytes=100, dirty_threshold=95) == 24
    # Far too much: the increment caps the step.
    assert next_throttle(20, settings, dirty_bytes=100, dirty_threshold=10) == 30


def test_the_throttle_stays_between_1_and_99() -> None:
    assert next_throttle(95, ThrottleSettings(increment=20, maximum=99), 100, 50) == 99
    assert next_throttle(0, ThrottleSettings(initial=0), 100, 50) == 1


def test_pages_are_shared_in_proportion_and_never_beyond_what_is_left() -> None:
    assert split_evenly(4, [3, 1, 0]) == [3, 1, 0]
    assert split_evenly(4, [75, 25, 0]) == [3, 1, 0]
    assert split_evenly(7, [5, 5, 5]) == [3, 2, 2]
    assert split_evenly(3, [1, 100, 0]) == [0, 3, 0]


def test_an_idle_guest_converges_at_the_first_chance_with_zero_pages_cheap() -> None:
    run = start(Workload(zero_share=0.75), {"max-bandwidth": 32 * MiB})
    now = run_for(run, 60)
    final = info(run, now)
    assert final["status"] == "completed"
    ram = final["ram"]
    assert ram["dirty-sync-count"] == 2  # 11.1: the first sync, and the one that converged
    assert ram["duplicate"] == round(ram["total"] // 4096 * 0.75)
    assert ram["normal-bytes"] == ram["normal"] * 4096
    # A quarter of 128 MiB at 32 MiB/s, the zero pages almost free: about a second.
    assert 900 <= final["total-time"] <= 1300


def test_a_guest_dirtying_faster_than_the_link_never_converges() -> None:
    run = start(Workload(dirty_rate=64 * MiB), {"max-bandwidth": 32 * MiB})
    now = run_for(run, 120)
    latest = info(run, now)
    assert latest["status"] == "active"
    assert latest["ram"]["dirty-sync-count"] > 5
    # Only pages that were clean count as newly dirty at a sync (QEMU counts new bits in
    # its bitmap): once the guest outruns the link, that is as fast as pages get sent.
    assert latest["ram"]["dirty-pages-rate"] == pytest.approx(32 * MiB / (4096 + 8), rel=0.02)
    assert "cpu-throttle-percentage" not in latest
    # What was dirty at the last sync (at most the whole guest) over the measured bandwidth.
    bytes_per_ms = latest["ram"]["mbps"] * 1e6 / 8 / 1000
    assert 300 < latest["expected-downtime"] <= latest["ram"]["total"] / bytes_per_ms + 1


def test_an_idle_guest_keeps_the_downtime_limit_as_expected_downtime() -> None:
    run = start(Workload(), {"max-bandwidth": 8 * MiB, "downtime-limit": 450})
    now = run_for(run, 2)
    assert info(run, now)["expected-downtime"] == 450


def test_max_bandwidth_and_a_slower_link_bound_the_throughput() -> None:
    run = start(Workload(zero_share=0.0), {"max-bandwidth": 32 * MiB})
    mbps = info(run, run_for(run, 0.5))["ram"]["mbps"]
    assert mbps == pytest.approx(32 * MiB * 8 / 1e6, rel=0.001)
    run = start(Workload(zero_share=0.0, link_bandwidth=10 * MiB), {"max-bandwidth": 32 * MiB})
    mbps = info(run, run_for(run, 0.5))["ram"]["mbps"]
    # Whole pages only: 255 of them fit in a window's megabyte.
    assert mbps == pytest.approx(10 * MiB * 8 / 1e6, rel=0.005)


def test_xbzrle_sends_pages_dirtied_again_as_small_deltas() -> None:
    # Slow enough to last past the first second: xbzrle's rates are measured per period
    # of more than a second.
    run = start(Workload(dirty_rate=24 * MiB), {"max-bandwidth": 28 * MiB}, frozenset({"xbzrle"}))
    latest = info(run, run_for(run, 30))
    assert latest["status"] == "completed"
    cache = latest["xbzrle-cache"]
    assert cache["cache-size"] == 64 * MiB
    assert cache["pages"] > 0
    # Each delta is a tenth of a page and 11 bytes of headers.
    assert cache["bytes"] == cache["pages"] * (11 + 410)
    assert cache["encoding-rate"] == pytest.approx(4096 / 421, rel=0.01)
    assert cache["cache-miss"] == 0  # 64 MiB holds every data page of this guest
    # A cache too small for the guest's data misses: whatever it sends whole counts.
    run = start(
        Workload(dirty_rate=64 * MiB),
        {"max-bandwidth": 32 * MiB, "xbzrle-cache-size": 4 * MiB},
        frozenset({"xbzrle"}),
    )
    small = info(run, run_for(run, 30))["xbzrle-cache"]
    assert small["cache-miss"] > 0
    assert 0 < small["cache-miss-rate"] < 1


def test_multifd_bytes_only_with_multifd() -> None:
    with_multifd = start(Workload(), {"max-bandwidth": 32 * MiB}, frozenset({"multifd"}))
    without = start(Workload(), {"max-bandwidth": 32 * MiB})
    ram = info(with_multifd, run_for(with_multifd, 0.5))["ram"]
    # zero-page-detection=multifd (9.0 on): zero pages go over the channels too, and the
    # main channel carries only the end-of-section markers (observed: 72 bytes, 10.0).
    assert ram["multifd-bytes"] == ram["normal"] * (4096 + 8) + ram["duplicate"] * 9
    assert 0 < ram["precopy-bytes"] < 100
    assert info(without, run_for(without, 0.5))["ram"]["multifd-bytes"] == 0


def test_multifd_without_zero_page_detection_sends_zero_pages_on_the_main_channel() -> None:
    # 7.2 has no zero-page-detection: its main channel sends the zero pages.
    run = start(Workload(), {"max-bandwidth": 32 * MiB}, frozenset({"multifd"}), PROFILE_7_2)
    ram = info(run, run_for(run, 0.5))["ram"]
    assert ram["multifd-bytes"] == ram["normal"] * (4096 + 8)
    assert ram["precopy-bytes"] > ram["duplicate"] * 9


def test_postcopy_counts_its_bytes_and_the_pages_the_destination_asked_for() -> None:
    run = start(Workload(), {"max-bandwidth": 32 * MiB, "max-postcopy-bandwidth": 4 * MiB})
    now = run_for(run, 0.3)
    run.outgoing.start_postcopy()
    now = run_for(run, 3, now)
    during = info(run, now)
    assert during["status"] == "postcopy-active"
    assert during["ram"]["postcopy-bytes"] > 0
    assert during["ram"]["postcopy-requests"] > 0
    final = info(run, run_for(run, 600, now))
    assert final["status"] == "completed"
    ram = final["ram"]
    assert ram["transferred"] == (
        ram["precopy-bytes"] + ram["downtime-bytes"] + ram["postcopy-bytes"] + 112254
    )


async def test_auto_converge_shows_its_throttle_in_query_migrate(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    """Over QMP: the throttle appears, climbs by cpu-throttle-increment until the guest
    dirties slower than the link, and is gone once the migration completes."""
    fake = make_fake(FakeQemuConfig(profile="10.0", backend_options={"dirty-rate": "64M"}))
    migration = await migrate(
        tmp_path,
        fake,
        parameters={"max-bandwidth": 32 * MiB},
        capabilities=("auto-converge",),
        poll=1.0,
    )
    throttles = [
        i["cpu-throttle-percentage"] for i in migration.infos if "cpu-throttle-percentage" in i
    ]
    assert throttles[0] == 20
    assert sorted(set(throttles)) == list(range(20, max(throttles) + 1, 10))
    assert throttles == sorted(throttles)
    assert max(throttles) >= 50  # below half the guest's speed, it dirties faster than we send
    assert migration.final["status"] == "completed"
    assert "cpu-throttle-percentage" not in migration.final
