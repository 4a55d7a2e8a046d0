"""Fixtures for the tests that run real libvirt daemons against fakeqemu-system-x86_64.

The releases: ``FAKEQEMU_LIBVIRT_PROFILES`` (default ``7.2``, what CI runs; ``7.2,10.0,11.1``
locally).  Each release gets one run of the scenarios on fresh daemons (module
scope), which the tests then examine; everything those runs start is stopped by
them.  Without libvirt (or root) the tests skip, unless ``FAKEQEMU_REQUIRE_LIBVIRT``
is set (CI sets it once it has installed libvirt): then they fail.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.libvirt import daemons
from tests.support.libvirt.monitor_log import Session, read_sessions
from tests.support.libvirt.real_qemu import real_emulator
from tests.support.libvirt.reference import (
    Observed,
    cached_capabilities,
    host_cpu,
    mask_domcapabilities,
    observe,
    stored,
)
from tests.support.libvirt.scenario import (
    LifecycleRun,
    SlowMigration,
    domain_xml,
    qemu_commandline,
    run_killed_destination,
    run_lifecycle,
    run_slow_migration,
)

PROFILES = tuple(os.environ.get("FAKEQEMU_LIBVIRT_PROFILES", "7.2").split(","))
#: The slow migration's limit, MiB/s: the fake model moves about 32 MiB of a 128 MiB
#: guest, so it takes about four seconds.
BANDWIDTH = 8


def fake_emulator(profile: str, workdir: Path) -> str:
    """The console script under a name that selects ``profile`` (a symlink, as a user
    makes one)."""
    script = Path(sys.executable).parent / "fakeqemu-system-x86_64"
    link = workdir / f"fakeqemu-system-x86_64-{profile}"
    link.symlink_to(script)
    return str(link)


@dataclass
class FakeWorld:
    profile: str
    emulator: str
    lifecycle: LifecycleRun
    observed: Observed
    #: Every session of the whole run, the slow and the killed migrations' included.
    source_sessions: list[Session]
    destination_sessions: list[Session]
    slow: SlowMigration | None
    killed: subprocess.CompletedProcess[str] | None
    #: The source domain's state after the destination was killed.
    state_after_kill: str
    #: The source's domain log (the emulator's stderr: fakeqemu's -v lines among it).
    domain_log: str


@pytest.fixture(scope="module", params=PROFILES)
def fake_world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[FakeWorld]:
    problem = daemons.missing()
    if problem is not None and os.environ.get("FAKEQEMU_REQUIRE_LIBVIRT"):
        pytest.fail(f"FAKEQEMU_REQUIRE_LIBVIRT is set, but {problem}")
    if problem is not None:
        pytest.skip(problem)
    profile: str = request.param
    workdir = tmp_path_factory.mktemp(f"libvirt-{profile}")
    emulator = fake_emulator(profile, workdir)
    with daemons.daemon_pair(workdir) as (source, destination):
        lifecycle = run_lifecycle(source, destination, emulator, workdir)
        observed = Observed(
            mask_domcapabilities(lifecycle.domcapabilities, emulator),
            cached_capabilities(source.root),
            read_sessions(source.log),
            read_sessions(destination.log),
            {},
            host_cpu(source.root),
        )
        slow = killed = None
        state = ""
        if not lifecycle.migrate_error:
            # From here on the domain picks the new shape, and a verbose fake, itself.
            xml = workdir / "fq-new.xml"
            commandline = qemu_commandline("-fakeqemu", "verbose=on", env={"FAKEQEMU_SHAPE": "new"})
            xml.write_text(domain_xml(emulator, commandline))
            source.virsh("undefine", "fq")
            source.virsh("define", str(xml))
            source.virsh("start", "fq")
            slow = run_slow_migration(source, destination, BANDWIDTH)
            destination.virsh("destroy", "fq")
            source.virsh("start", "fq")
            killed = run_killed_destination(source, destination)
            state = source.virsh("domstate", "fq").stdout.strip()
        yield FakeWorld(
            profile,
            emulator,
            lifecycle,
            observed,
            read_sessions(source.log),
            read_sessions(destination.log),
            slow,
            killed,
            state,
            _text(source.root / "log/qemu/fq.log"),
        )


def _text(path: Path) -> str:
    return path.read_text(errors="replace") if path.exists() else ""


@pytest.fixture(scope="module", params=["live", "stored"])
def real_observed(
    request: pytest.FixtureRequest,
    fake_world: FakeWorld,
    tmp_path_factory: pytest.TempPathFactory,
) -> Observed:
    """Real QEMU of the same release under libvirt: ``live`` (skipped unless it is
    installed) and ``stored`` (``tests/data/libvirt/<release>/``)."""
    if request.param == "live":
        workdir = tmp_path_factory.mktemp(f"libvirt-real-{fake_world.profile}")
        emulator = real_emulator(fake_world.profile, workdir)
        if emulator is None:
            pytest.skip(f"no real QEMU {fake_world.profile} here")
        return observe(workdir, emulator)
    reference = stored(fake_world.profile)
    if reference is None:
        pytest.skip(f"no stored reference for {fake_world.profile}")
    if reference.kvm != fake_world.observed.kvm:
        pytest.skip("the stored reference was recorded where KVM was (not) usable")
    return reference


def kvm_answers_differ(world: FakeWorld) -> str | None:
    """Why the KVM pass cannot match here, or None.  The fake's KVM answers (the
    ``host`` CPU model, which CPU models are usable) are those of the machine the
    release was recorded on; on a KVM host with another CPU, real QEMU's differ."""
    recorded = stored(world.profile)
    if not world.observed.kvm or recorded is None or recorded.host_cpu == world.observed.host_cpu:
        return None
    return (
        f"KVM answers recorded on {recorded.host_cpu!r}, this host is {world.observed.host_cpu!r}"
    )
