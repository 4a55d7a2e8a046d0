"""What the libvirt tests do to a domain, and what they keep of it.

:func:`run_lifecycle` drives the same steps against a fake or a real QEMU (probe,
start, suspend, resume, a monitor command, live migration, destroy), so that the two
runs can be compared; :func:`run_slow_migration` and :func:`run_killed_destination`
are for the fake, whose migration model can be slowed down and measured.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.libvirt.daemons import TIMEOUT, Daemon

DOMAIN = "fq"
MIGRATE_OPTIONS = ("--migrateuri", "tcp://127.0.0.1", "--listen-address", "127.0.0.1")
#: Seconds between two ``domjobinfo`` calls while a slow migration runs.
POLL = 0.1


def domain_xml(emulator: str, commandline: str = "") -> str:
    """A 128 MiB, one-vCPU TCG guest without disks.  ``<acpi/>``: libvirt 9.0 would
    otherwise pass ``-no-acpi``, which QEMU 10.0 no longer has."""
    namespace = " xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'" if commandline else ""
    return (
        f"<domain type='qemu'{namespace}><name>{DOMAIN}</name>"
        "<memory unit='MiB'>128</memory><vcpu>1</vcpu>"
        "<os><type arch='x86_64' machine='pc'>hvm</type></os><features><acpi/></features>"
        f"<devices><emulator>{emulator}</emulator></devices>{commandline}</domain>"
    )


def qemu_commandline(*arguments: str, env: dict[str, str] | None = None) -> str:
    """``<qemu:commandline>``: extra arguments and environment for the emulator."""
    parts = [f"<qemu:arg value='{argument}'/>" for argument in arguments]
    parts += [f"<qemu:env name='{name}' value='{value}'/>" for name, value in (env or {}).items()]
    return f"<qemu:commandline>{''.join(parts)}</qemu:commandline>"


@dataclass
class LifecycleRun:
    emulator: str
    domcapabilities: str = ""
    states: list[str] = field(default_factory=list)
    monitor_reply: str = ""
    migrate_error: str = ""
    migrated_state: str = ""
    jobinfo_completed: str = ""
    destroyed: bool = False


def _state(daemon: Daemon) -> str:
    return daemon.virsh("domstate", DOMAIN).stdout.strip()


def run_lifecycle(
    source: Daemon, destination: Daemon, emulator: str, workdir: Path
) -> LifecycleRun:
    run = LifecycleRun(emulator)
    run.domcapabilities = source.virsh(
        "domcapabilities", "--emulatorbin", emulator, "--virttype", "qemu"
    ).stdout
    xml = workdir / f"{DOMAIN}.xml"
    xml.write_text(domain_xml(emulator))
    source.virsh("define", str(xml))
    source.virsh("start", DOMAIN)
    run.states.append(_state(source))
    source.virsh("suspend", DOMAIN)
    run.states.append(_state(source))
    source.virsh("resume", DOMAIN)
    run.states.append(_state(source))
    run.monitor_reply = source.virsh(
        "qemu-monitor-command", DOMAIN, '{"execute":"query-status"}'
    ).stdout.strip()
    migrated = source.virsh(
        "migrate", "--live", DOMAIN, destination.uri, *MIGRATE_OPTIONS, check=False
    )
    # libvirt 9.0 cannot migrate QEMU 11.1 (which has no ``detach`` any more): kept, compared.
    run.migrate_error = migrated.stderr.strip()
    owner = source
    if migrated.returncode == 0:
        run.migrated_state = _state(destination)
        run.jobinfo_completed = source.virsh(
            "domjobinfo", DOMAIN, "--completed", "--rawstats"
        ).stdout
        owner = destination
    owner.virsh("destroy", DOMAIN)
    run.destroyed = DOMAIN not in owner.virsh("list", "--name").stdout.split()
    return run


def raw_stats(text: str) -> dict[str, str]:
    """``virsh domjobinfo --rawstats``: ``name: value`` lines (typed parameters)."""
    stats = {}
    for line in text.splitlines():
        name, colon, value = line.partition(": ")
        if colon:
            stats[name.strip()] = value.strip()
    return stats


@dataclass
class SlowMigration:
    #: ``domjobinfo`` once memory moves.
    during: str
    result: subprocess.CompletedProcess[str]
    completed: str
    #: The wall-clock span of the migration (libvirt's log uses the same clock).
    started: float
    ended: float
    #: How many ``domjobinfo`` calls (each a ``query-migrate``) ran during it.
    polls: int


def _wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + TIMEOUT
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def run_slow_migration(source: Daemon, destination: Daemon, bandwidth: int) -> SlowMigration:
    """Migrate the running domain at ``bandwidth`` MiB/s, asking ``domjobinfo`` every
    ``POLL`` seconds until it ends: each answer is a sample of the transfer's progress."""
    started = time.time()
    migrating = source.virsh_background(
        "migrate",
        "--live",
        DOMAIN,
        destination.uri,
        *MIGRATE_OPTIONS,
        "--bandwidth",
        str(bandwidth),
    )
    during = ""
    polls = 0
    try:
        deadline = time.monotonic() + TIMEOUT
        while migrating.poll() is None and time.monotonic() < deadline:
            info = source.virsh("domjobinfo", DOMAIN, check=False).stdout
            polls += 1
            if not during and re.search(r"Memory processed:\s+[1-9]", info):
                during = info
            time.sleep(POLL)
        stdout, stderr = migrating.communicate(timeout=TIMEOUT)
    finally:
        if migrating.poll() is None:
            migrating.kill()
            migrating.wait()
    ended = time.time()
    result = subprocess.CompletedProcess(migrating.args, migrating.returncode, stdout, stderr)
    completed = source.virsh("domjobinfo", DOMAIN, "--completed", "--rawstats").stdout
    return SlowMigration(during, result, completed, started, ended, polls)


def run_killed_destination(source: Daemon, destination: Daemon) -> subprocess.CompletedProcess[str]:
    """Migrate slowly, kill the destination's emulator once memory moves; what virsh says."""
    migrating = source.virsh_background(
        "migrate", "--live", DOMAIN, destination.uri, *MIGRATE_OPTIONS, "--bandwidth", "1"
    )
    try:

        def moving() -> bool:
            info = source.virsh("domjobinfo", DOMAIN, check=False).stdout
            return bool(re.search(r"Memory processed:\s+[1-9]", info))

        _wait_for(moving, "the migration to move memory")
        pid = destination.domain_pid(DOMAIN)
        assert pid is not None, "the destination's emulator has no pid file"
        os.kill(pid, signal.SIGKILL)
        stdout, stderr = migrating.communicate(timeout=TIMEOUT)
    finally:
        if migrating.poll() is None:
            migrating.kill()
            migrating.wait()
    return subprocess.CompletedProcess(migrating.args, migrating.returncode, stdout, stderr)
