"""Driving a source and a destination state machine by hand, on a float clock.

No sockets and no trio: the transport's only jobs are calling ``advance`` at the
source's deadlines and carrying its outbox to the destination, which these do.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fakeqemu.backends import BackendInputs, Limits, RamCounters
from fakeqemu.backends.interface import RATE_WINDOW
from fakeqemu.backends.model import ModelBackend, Workload
from fakeqemu.model.incoming import DestinationHooks, IncomingMigration
from fakeqemu.model.outgoing import OutgoingMigration, SourceHooks
from fakeqemu.model.ram import PAGE_SIZE, ram_total
from fakeqemu.model.stats import query_migrate
from fakeqemu.profiles import Profile, get_profile
from fakeqemu.vocabulary import Role

PROFILE = get_profile("11.1")


@dataclass
class ConvergenceSpy:
    """The backend, with every switchover question and the bytes behind each answer."""

    backend: ModelBackend
    answers: list[tuple[float, bool, bool]] = field(default_factory=list)
    _window_bytes_per_ms: float = 0.0
    _previous_bytes_per_ms: float = 0.0

    @property
    def total(self) -> int:
        return self.backend.total

    @property
    def page_size(self) -> int:
        return self.backend.page_size

    def sync(self, now: float) -> None:
        self.backend.sync(now)

    def transfer(self, now: float, limits: Limits) -> None:
        """A window's budget goes out at its start; QEMU measures it at the window's end,
        so the switchover test after this burst knows the bandwidth of the one before."""
        before = self.backend.counters(now).all_bytes
        self.backend.transfer(now, limits)
        sent = self.backend.counters(now).all_bytes - before
        if sent:
            self._previous_bytes_per_ms = self._window_bytes_per_ms
            self._window_bytes_per_ms = sent / (RATE_WINDOW * 1000)

    def converged(self, now: float, limits: Limits) -> bool:
        answer = self.backend.converged(now, limits)
        remaining = self.backend.counters(now).remaining
        if limits.postcopy:
            expected = remaining == 0
        else:
            # QEMU's rule (migration_iteration_run), from what this spy saw go over the
            # wire in the last window, not from the backend's own measurement.
            per_ms = limits.switchover_bandwidth / 1000 or self._previous_bytes_per_ms
            expected = remaining == 0 or remaining < per_ms * limits.downtime_limit_ms
        self.answers.append((now, answer, expected))
        return answer

    def stop(self, now: float, postcopy: bool) -> None:
        self.backend.stop(now, postcopy)

    def finish(self, now: float) -> None:
        self.backend.finish(now)

    def counters(self, now: float) -> RamCounters:
        return self.backend.counters(now)


@dataclass
class Run:
    outgoing: OutgoingMigration
    incoming: IncomingMigration
    spy: ConvergenceSpy
    statuses: list[str] = field(default_factory=list)


def start(
    workload: Workload,
    parameters: dict[str, Any] | None = None,
    capabilities: frozenset[str] = frozenset(),
    profile: Profile = PROFILE,
) -> Run:
    """A migration of ``workload`` whose channel is up at time 0."""
    inputs = BackendInputs(
        role=Role.SOURCE,
        guest_ram=128 << 20,
        ram_total=ram_total(128 << 20),
        page_size=PAGE_SIZE,
        capabilities=capabilities,
        clock=lambda: 0.0,
        options={},
    )
    spy = ConvergenceSpy(ModelBackend(inputs, workload))
    statuses: list[str] = []

    def set_status(status: str) -> None:
        statuses.append(status)
        outgoing.status = status

    hooks = SourceHooks(set_status, lambda _: None, lambda: True, lambda _: None)
    outgoing = OutgoingMigration(
        profile=profile,
        ram=spy,
        hooks=hooks,
        capabilities=dict.fromkeys(capabilities, True),
        parameters={**profile.migrate_parameter_defaults, **(parameters or {})},
        start_time=0.0,
    )

    def set_destination_status(status: str) -> None:
        incoming.status = status

    incoming = IncomingMigration(
        profile, DestinationHooks(set_destination_status, lambda: None, lambda: None)
    )
    incoming.source_connected(0.0)
    outgoing.channel_connected(0.0)
    return Run(outgoing, incoming, spy, statuses)


def deliver(run: Run, now: float) -> None:
    for message in run.outgoing.outbox:
        run.incoming.receive(message, now)
    run.outgoing.outbox.clear()


def step(run: Run, now: float) -> float:
    """Advance to the source's next deadline; carry what it sent.  Returns the new time."""
    deadline = run.outgoing.next_deadline()
    assert deadline is not None
    assert deadline >= now
    run.outgoing.advance(deadline)
    deliver(run, deadline)
    return deadline


def run_for(run: Run, seconds: float, now: float = 0.0) -> float:
    """Step until ``seconds`` have passed or the migration is over."""
    while run.outgoing.is_running and run.outgoing.next_deadline() is not None:
        if (run.outgoing.next_deadline() or 0.0) > seconds:
            break
        now = step(run, now)
    return now


def info(run: Run, now: float, shape: str = "old") -> dict[str, Any]:
    """What ``query-migrate`` on the source would answer."""
    return query_migrate(run.outgoing.profile, shape, None, run.outgoing, now, 0)
