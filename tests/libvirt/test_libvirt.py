"""libvirt 9.0 runs fakeqemu-system-x86_64 as it runs QEMU: probe, start, suspend,
resume, a monitor command, live migration to another daemon, destroy.

Each run is compared with libvirt running real QEMU of the same release (live when
it is installed, else the stored reference): what virsh says, the capabilities
libvirt caches, and its QMP conversation, command for command.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from tests.libvirt.conftest import BANDWIDTH, FakeWorld, kvm_answers_differ
from tests.support.libvirt.monitor_log import Session, compare, slope, transfer_samples
from tests.support.libvirt.reference import Observed
from tests.support.libvirt.scenario import raw_stats

pytestmark = pytest.mark.libvirt


def _migrates(world: FakeWorld) -> bool:
    return not world.lifecycle.migrate_error


def test_domain_starts_suspends_resumes_and_is_destroyed(fake_world: FakeWorld) -> None:
    run = fake_world.lifecycle
    assert run.states == ["running", "paused", "running"]
    assert json.loads(run.monitor_reply)["return"]["status"] == "running"
    assert run.destroyed


def test_virsh_says_what_it_says_for_real_qemu(
    fake_world: FakeWorld, real_observed: Observed
) -> None:
    run = fake_world.lifecycle
    real = real_observed.virsh
    assert run.states == real["states"]
    assert run.monitor_reply == real["monitor_reply"]
    # libvirt 9.0 migrates 7.2 and 10.0; 11.1 refuses its ``migrate`` (no ``detach``).
    assert run.migrate_error == real["migrate_error"]
    assert run.migrated_state == real["migrated_state"]


def test_domcapabilities_equal_real_qemus(fake_world: FakeWorld, real_observed: Observed) -> None:
    assert fake_world.observed.domcapabilities == real_observed.domcapabilities


def test_cached_capabilities_equal_real_qemus(
    fake_world: FakeWorld, real_observed: Observed
) -> None:
    """Apart from the binary's path and times, and what libvirt learns from the host."""
    reason = kvm_answers_differ(fake_world)
    if reason is not None:
        pytest.skip(reason)
    assert fake_world.observed.capabilities == real_observed.capabilities


def _by_kind(sessions: list[Session]) -> dict[str, Session]:
    return {session.kind: session for session in sessions}


@pytest.mark.parametrize("side", ["source", "destination"])
def test_conversation_matches_real_qemus(
    fake_world: FakeWorld, real_observed: Observed, side: str
) -> None:
    """Command for command; replies byte for byte once ids, thread ids and the numbers
    of a migration in progress are masked; the same events in the same order."""
    fake = _by_kind(getattr(fake_world.observed, f"{side}_sessions"))
    real = _by_kind(getattr(real_observed, f"{side}_sessions"))
    assert fake.keys() == real.keys()
    if kvm_answers_differ(fake_world) is not None:
        del real["probe-kvm"]
    for kind, session in real.items():
        result = compare(session, fake[kind])
        print(
            f"{fake_world.profile} {side} {kind}: {result.commands} commands, same: "
            f"{result.same_commands}, replies identical but for ids {result.identical_replies}, "
            f"identical once masked {result.masked_replies}, events equal: {result.events_equal}"
        )
        assert result.same_commands, result.differences
        assert result.masked_replies == result.commands, result.differences
        assert result.events_equal, (session.events, fake[kind].events)


def _final_query_migrate(sessions: list[Session]) -> dict[str, Any]:
    replies = [
        json.loads(exchange.reply)["return"]
        for session in sessions
        for exchange in session.exchanges
        if exchange.command == "query-migrate" and '"completed"' in exchange.reply
    ]
    assert replies, "the source never reported a completed migration"
    info: dict[str, Any] = replies[-1]
    return info


def test_domjobinfo_shows_the_fake_models_numbers(fake_world: FakeWorld) -> None:
    if not _migrates(fake_world):
        pytest.skip("libvirt 9.0 cannot migrate this release")
    assert fake_world.slow is not None
    stats = raw_stats(fake_world.slow.completed)
    info = _final_query_migrate(fake_world.source_sessions)
    ram = info["ram"]
    assert int(stats["memory_total"]) == ram["total"]
    assert int(stats["memory_processed"]) == ram["transferred"]
    assert int(stats["memory_constant"]) == ram["duplicate"]
    assert int(stats["memory_normal"]) == ram["normal"]
    assert int(stats["memory_normal_bytes"]) == ram["normal-bytes"]
    assert int(stats["memory_iteration"]) == ram["dirty-sync-count"]
    assert int(stats["memory_page_size"]) == ram["page-size"]
    assert int(stats["setup_time"]) == info["setup-time"]
    # (``downtime`` and ``time_elapsed`` are libvirt's own clocks, not QEMU's numbers.)


def test_bandwidth_limit_is_honoured(fake_world: FakeWorld) -> None:
    """``--bandwidth 8``: measured on libvirt's side, ``ram.transferred`` of every
    ``query-migrate`` reply during the migration against the time libvirt logged it
    grows at 8 MiB/s, within 5% (the least-squares slope)."""
    if not _migrates(fake_world):
        pytest.skip("libvirt 9.0 cannot migrate this release")
    slow = fake_world.slow
    assert slow is not None
    samples = transfer_samples(fake_world.source_sessions, slow.started, slow.ended)
    assert len(samples) >= 10, f"{len(samples)} samples from {slow.polls} domjobinfo calls"
    rate = slope(samples)
    span = samples[-1][0] - samples[0][0]
    print(
        f"bandwidth {BANDWIDTH} MiB/s: measured {rate / (1 << 20):.3f} MiB/s "
        f"({rate / (BANDWIDTH << 20):.4f}) from {len(samples)} samples over {span:.2f} s"
    )
    assert rate == pytest.approx(BANDWIDTH << 20, rel=0.05)


def test_domjobinfo_during_migration(fake_world: FakeWorld) -> None:
    if not _migrates(fake_world):
        pytest.skip("libvirt 9.0 cannot migrate this release")
    assert fake_world.slow is not None
    assert fake_world.slow.result.returncode == 0, fake_world.slow.result.stderr
    during = fake_world.slow.during
    assert re.search(r"Job type:\s+Unbounded", during), during
    assert re.search(r"Operation:\s+Outgoing migration", during), during


def test_killed_destination_fails_the_migration(fake_world: FakeWorld) -> None:
    if not _migrates(fake_world):
        pytest.skip("libvirt 9.0 cannot migrate this release")
    killed = fake_world.killed
    assert killed is not None
    assert killed.returncode != 0
    assert "error" in killed.stderr.lower(), killed.stderr
    # The guest goes on running where it was.
    assert fake_world.state_after_kill == "running"


def test_the_domain_xml_chooses_the_fake(fake_world: FakeWorld) -> None:
    """``<qemu:commandline>``: ``-fakeqemu verbose=on`` and ``FAKEQEMU_SHAPE=new`` reach the
    fake (its ``-v`` lines go to the domain's log, libvirt's copy of QEMU's stderr)."""
    if not _migrates(fake_world):
        pytest.skip("the domain is redefined for the migrations only")
    assert f"fakeqemu: profile {fake_world.profile}, shape new," in fake_world.domain_log


def test_what_the_new_shape_changes_for_libvirt(fake_world: FakeWorld) -> None:
    """libvirt's destination never asks ``query-migrate``, so the seed patch's destination
    statistics never reach it; its source does, and a completed source no longer reports
    ``dirty-pages-rate``, which libvirt reads as 0: ``domjobinfo`` shows the same."""
    if not _migrates(fake_world):
        pytest.skip("libvirt 9.0 cannot migrate this release")
    asked = {e.command for s in fake_world.destination_sessions for e in s.exchanges}
    assert "query-migrate" not in asked
    old = _final_query_migrate(fake_world.observed.source_sessions)
    assert "dirty-pages-rate" in old["ram"]
    new = _final_query_migrate(fake_world.source_sessions)
    assert "dirty-pages-rate" not in new["ram"]
    assert fake_world.slow is not None
    old_stats = raw_stats(fake_world.lifecycle.jobinfo_completed)
    new_stats = raw_stats(fake_world.slow.completed)
    assert old_stats.keys() == new_stats.keys()
    assert new_stats["memory_dirty_rate"] == "0"
