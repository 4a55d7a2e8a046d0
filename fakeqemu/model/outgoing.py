"""The source side of a live migration, as a state machine on an injected clock.

The trio layer calls :meth:`OutgoingMigration.advance` at :meth:`next_deadline`
and forwards :attr:`outbox` to the destination; commands call the other
methods.  Everything a release does differently comes from its profile; the
numbers come from the RAM-counter backend (:mod:`fakeqemu.backends`), which the
phases below drive and which answers QEMU's switchover question.

Timeline of a precopy migration (migration/migration.c, migration/ram.c):
``migrate`` → setup → (channel up, ``setup-time`` later) first bitmap sync,
active → 100 ms windows of ``max-bandwidth`` / 10 bytes → when what remains
fits ``downtime-limit`` at the measured bandwidth: sync, STOP, [pre-switchover,
wait for ``migrate-continue``], [device], [last sync], last pages → completed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from fakeqemu.backends.interface import (
    RATE_WINDOW,
    Limits,
    RamBackend,
    RamCounters,
    ThrottleSettings,
    as_counters,
)

if TYPE_CHECKING:
    from fakeqemu.profiles import Profile

#: migration_update_counters() runs every BUFFER_DELAY of iteration.
WINDOW = RATE_WINDOW
#: qemu_savevm_state_setup() on an idle guest: the recordings show 0 to 7 ms.
SETUP_SECONDS = 0.002
#: migration_update_counters() keeps the old expected-downtime below this many bytes a window.
EXPECTED_DOWNTIME_MIN_BYTES = 10000
#: From migrate_cancel to ``cancelled``, and from STOP to ``completed``.
CANCEL_SECONDS = 0.001
COMPLETION_SECONDS = 0.002

#: migration_in_postcopy(): the recovery states count (the guest runs on the destination).
POSTCOPY_STATES = frozenset(
    {"postcopy-device", "postcopy-active", "postcopy-paused", "postcopy-recover-setup"}
    | {"postcopy-recover"}
)
#: migration_is_running().
RUNNING_STATES = POSTCOPY_STATES | {
    "setup",
    "active",
    "device",
    "pre-switchover",
    "cancelling",
    "wait-unplug",
}
#: What a bandwidth of 0 ("no limit") means here, in bytes per second.
UNLIMITED_BANDWIDTH = 10 << 30
#: What postcopy carries with no limit: observed 27.6 MB in 118 ms (7.2); 10.0 and 11.1
#: took one such window or finished within the millisecond.
UNLIMITED_POSTCOPY = 234e6


@dataclass
class SourceHooks:
    """How the migration reaches the rest of the machine."""

    #: Set the status; the machine sends MIGRATION when ``events`` is on.
    set_status: Callable[[str], None]
    #: Send MIGRATION_PASS when ``events`` is on.
    pass_event: Callable[[int], None]
    #: Stop the guest for switchover; returns whether it was running.
    stop_guest: Callable[[], bool]
    #: Switchover done: ``True`` → postmigrate; ``False`` → restart a guest we stopped.
    finish_guest: Callable[[bool], None]
    #: Whether the guest runs now (``-S`` or ``stop``: it does not).
    guest_running: Callable[[], bool] = lambda: True
    #: Whether the link carries data now (a stalled link sends nothing).
    link_up: Callable[[], bool] = lambda: True


@dataclass
class OutgoingMigration:
    profile: Profile
    ram: RamBackend
    hooks: SourceHooks
    capabilities: dict[str, bool]
    parameters: dict[str, Any]
    start_time: float
    status: str = "setup"
    error_desc: str | None = None
    setup_time_ms: int = 0
    total_time_ms: int | None = None
    downtime_ms: int | None = None
    expected_downtime_ms: int | None = None
    #: 11.1's top-level ``remaining``: the pending estimate of the previous window.
    pending_estimate: int | None = None
    #: Messages for the destination, drained by the transport.
    outbox: list[dict[str, Any]] = field(default_factory=list)
    _phase: str = "connecting"
    _deadline: float | None = None
    _stopped_guest: bool = False
    _downtime_start: float = 0.0
    #: Pages already announced to the destination: normal, zero, xbzrle.
    _announced: tuple[int, int, int] = (0, 0, 0)
    _postcopy_requested: bool = False

    @property
    def phase(self) -> str:
        """The model's own view: connecting, setup, iterating, completing, postcopy, ..."""
        return self._phase

    # -- driven by the transport ------------------------------------------------------

    def next_deadline(self) -> float | None:
        return self._deadline

    def channel_connected(self, now: float) -> None:
        if self.status != "setup":
            return
        self.expected_downtime_ms = self.parameters["downtime-limit"]
        self.outbox.append({"hello": {"total": self.ram.total, "page-size": self.ram.page_size}})
        self._phase = "setup"
        self._deadline = now + SETUP_SECONDS

    def connect_failed(self, now: float, error: str) -> None:
        self.fail(now, error)

    def advance(self, now: float) -> None:
        """Do everything due by ``now``."""
        while self._deadline is not None and self._deadline <= now:
            due = self._deadline
            self._deadline = None
            if self._phase == "setup":
                self._begin_iterating(due)
            elif self._phase == "iterating":
                self._iterate(due)
            elif self._phase == "continuing":
                self._switchover_device_phase(due)
            elif self._phase == "completing":
                self._complete(due)
            elif self._phase == "postcopy":
                self._postcopy_window(due)
            elif self._phase == "cancelling":
                self._phase = "done"
                self.hooks.set_status("cancelled")

    # -- driven by commands ---------------------------------------------------------

    @property
    def is_running(self) -> bool:
        return self.status in RUNNING_STATES

    def cancel(self, now: float) -> None:
        if not self.is_running:
            return
        in_switchover = self.status == "pre-switchover"
        if in_switchover and self.profile.switchover_cancel_error is not None:
            # The thread waiting in migration_maybe_pause() finds its channel shut.
            self.error_desc = self.profile.switchover_cancel_error
        self.hooks.set_status("cancelling")
        self._restart_guest()
        self.outbox.append({"abort": "cancelled"})
        self._phase = "cancelling"
        self._deadline = now + CANCEL_SECONDS

    def start_postcopy(self) -> None:
        """``migrate-start-postcopy``: switch at the next iteration, as QEMU's thread does."""
        self._postcopy_requested = True

    @property
    def in_postcopy(self) -> bool:
        return self.status in POSTCOPY_STATES

    def continue_switchover(self, now: float) -> None:
        """``migrate-continue`` in ``pre-switchover``: QEMU posts a semaphore and answers;
        its migration thread goes on afterwards, so the events follow the reply."""
        self._phase = "continuing"
        self._deadline = now

    def fail(self, now: float, error: str | None) -> None:
        """Fail the migration; ``error`` becomes error-desc (``None``: QEMU keeps none)."""
        if self.status in ("completed", "failed", "cancelled"):
            return
        self.error_desc = error
        if self.profile.failing_status:
            self.hooks.set_status("failing")
        self.hooks.set_status("failed")
        self._restart_guest()
        self._phase = "done"
        self._deadline = None

    def pause_postcopy(self, error: str | None) -> None:
        """postcopy_pause(): the stream broke in postcopy; the migration waits, counters
        kept, for ``migrate`` with ``resume`` (see :mod:`fakeqemu.model.recovery`)."""
        if error is not None:
            self.error_desc = error
        self.hooks.set_status("postcopy-paused")
        self._phase = "postcopy-paused"
        self._deadline = None

    def resume_postcopy(self, now: float) -> None:
        """MIG_RP_MSG_RESUME_ACK: the destination is back; postcopy goes on at once."""
        self.hooks.set_status("postcopy-active")
        self._phase = "postcopy"
        self._deadline = now

    # -- the phases -----------------------------------------------------------------

    def limits(self) -> Limits:
        """The parameters in force, as the backend needs them (0 bandwidth: no limit)."""
        params = self.parameters
        postcopy = self._phase == "postcopy"
        if postcopy:
            bandwidth = params.get("max-postcopy-bandwidth") or UNLIMITED_POSTCOPY
        else:
            # Less than 10 bytes/s is no limit: the per-window share rounds down to 0.
            bandwidth = params["max-bandwidth"] // 10 * 10 or UNLIMITED_BANDWIDTH
        if not self.hooks.link_up():
            bandwidth = 0
        return Limits(
            bandwidth=float(bandwidth),
            downtime_limit_ms=params["downtime-limit"],
            switchover_bandwidth=float(params.get("avail-switchover-bandwidth", 0)),
            postcopy=postcopy,
            guest_running=self.hooks.guest_running(),
            multifd_zero_pages=params.get("zero-page-detection") == "multifd",
            throttle=ThrottleSettings(
                initial=params.get("cpu-throttle-initial", 20),
                increment=params.get("cpu-throttle-increment", 10),
                maximum=params.get("max-cpu-throttle", 99),
                trigger_threshold=params.get("throttle-trigger-threshold", 50),
                tailslow=params.get("cpu-throttle-tailslow", False),
            ),
            xbzrle_cache_size=params.get("xbzrle-cache-size", 64 << 20),
            multifd_channels=params.get("multifd-channels", 2),
        )

    def _sync(self, now: float) -> None:
        """A bitmap sync starts a pass: MIGRATION_PASS with its number."""
        self.ram.sync(now)
        self.hooks.pass_event(self.counters(now).sync_count)

    def _begin_iterating(self, now: float) -> None:
        self.setup_time_ms = round((now - self.start_time) * 1000)
        self.ram.sync(now)
        self.pending_estimate = self.counters(now).remaining
        if self.profile.pass_event_in_setup:
            self.hooks.pass_event(self.counters(now).sync_count)
        self.hooks.set_status("active")
        self._phase = "iterating"
        # The first iteration starts at once (and sends the first window's budget).
        self._iterate(now)

    def _announce_pages(self, now: float) -> None:
        """Tell the destination about the pages sent since the last time."""
        counters = self.counters(now)
        sent = (counters.normal, counters.zero, counters.xbzrle)
        normal, zero, xbzrle = (new - old for new, old in zip(sent, self._announced, strict=True))
        if normal or zero or xbzrle:
            self.outbox.append({"pages": {"normal": normal, "zero": zero, "xbzrle": xbzrle}})
            self._announced = sent

    def _iterate(self, now: float) -> None:
        self.pending_estimate = self.counters(now).remaining
        if self._postcopy_requested:
            # migration_iteration_run() starts postcopy before it sends more precopy.
            self._postcopy_switch(now)
            return
        limits = self.limits()
        if self.capabilities.get("postcopy-ram") and self.profile.exact_sync_with_postcopy_ram:
            # With postcopy-ram, RAM is postcopiable: nothing "must" go in precopy, so
            # 11.1 makes the exact (syncing) test at every iteration (observed: pass 2 at
            # the first one).
            self._sync(now)
        self.ram.transfer(now, limits)
        self._announce_pages(now)
        self._update_expected_downtime(self.counters(now), limits)
        if self.counters(now).remaining == 0 and not self.profile.sync_before_empty_switchover:
            # migration_iteration_run(): with nothing pending, switch over without the
            # exact (syncing) test (an idle ``-S`` guest: no MIGRATION_PASS 2 first).
            self._switchover(now)
            return
        # migration_iteration_run(): a sync when the estimate fits, then the exact test.
        if self.ram.converged(now, limits):
            self._sync(now)
            if self.ram.converged(now, limits):
                self._switchover(now)
                return
        self._deadline = now + WINDOW

    def _bytes_per_ms(self, counters: RamCounters, limits: Limits) -> float:
        """The bandwidth QEMU expects at switchover: ``avail-switchover-bandwidth`` or
        the last window's throughput."""
        if limits.switchover_bandwidth:
            return limits.switchover_bandwidth / 1000
        return counters.mbps * 1e6 / 8 / 1000

    def _update_expected_downtime(self, counters: RamCounters, limits: Limits) -> None:
        """migration_update_counters(): only once the guest was seen dirtying pages."""
        per_ms = self._bytes_per_ms(counters, limits)
        window_bytes = counters.mbps * 1e6 / 8 * WINDOW
        if counters.dirty_pages_rate and window_bytes > EXPECTED_DOWNTIME_MIN_BYTES and per_ms:
            self.expected_downtime_ms = int(counters.remaining_at_sync / per_ms)

    def _switchover(self, now: float) -> None:
        self._stopped_guest = self.hooks.stop_guest()
        self._downtime_start = now
        counters = self.counters(now)
        per_ms = self._bytes_per_ms(counters, self.limits())
        if self.profile.expected_downtime_at_switchover and per_ms:
            self.expected_downtime_ms = int(counters.remaining / per_ms)
        if self.capabilities.get("pause-before-switchover"):
            self.pending_estimate = counters.remaining
            self.hooks.set_status("pre-switchover")
            self._phase = "paused"
            return
        self._switchover_device_phase(now)

    def _switchover_device_phase(self, now: float) -> None:
        if self.profile.device_state_always or self.capabilities.get("pause-before-switchover"):
            self.hooks.set_status("device")
        if self.profile.final_sync_after_stop:
            self._sync(now)
        self.ram.stop(now, postcopy=False)
        self._announce_pages(now)
        # The completion stage is not rate limited: the recordings show 1 to 3 ms.
        self._phase = "completing"
        self._deadline = now + COMPLETION_SECONDS

    def _postcopy_switch(self, now: float) -> None:
        """postcopy_start(): stop, last sync, and the destination runs from here on."""
        if self.profile.postcopy_active_before_stop:
            self.hooks.set_status("postcopy-active")
            self._stopped_guest = self.hooks.stop_guest()
            self._sync(now)
        else:
            if not self.profile.final_sync_after_stop:
                self._sync(now)  # 11.1: MIGRATION_PASS, then STOP (observed)
            self._stopped_guest = self.hooks.stop_guest()
            self.hooks.set_status("device")
            if self.profile.final_sync_after_stop:
                self._sync(now)
            if self.profile.has_status("postcopy-device"):
                # Observed on 11.1 without the return-path capability: postcopy has one.
                self.hooks.set_status("postcopy-device")
            self.hooks.set_status("postcopy-active")
        self.ram.stop(now, postcopy=True)
        self.downtime_ms = 1
        self.outbox.append({"postcopy": True})
        self._phase = "postcopy"
        self._postcopy_window(now)

    def _postcopy_window(self, now: float) -> None:
        limits = self.limits()
        self.ram.transfer(now, limits)
        self._announce_pages(now)
        if self.ram.converged(now, limits):
            self._complete(now)
            return
        self._deadline = now + WINDOW

    def _complete(self, now: float) -> None:
        self.total_time_ms = round((now - self.start_time) * 1000)
        if self.downtime_ms is None:  # postcopy measured it at its switchover
            self.downtime_ms = max(1, round((now - self._downtime_start) * 1000))
        self.ram.finish(now)
        self._phase = "done"
        self.outbox.append({"complete": True})
        self.hooks.set_status("completed")
        self.hooks.finish_guest(True)

    def _restart_guest(self) -> None:
        if self._stopped_guest:
            self._stopped_guest = False
            self.hooks.finish_guest(False)

    # -- what query-migrate reads ---------------------------------------------------

    def counters(self, now: float) -> RamCounters:
        return as_counters(self.ram.counters(now))

    def total_time(self, now: float) -> int:
        if self.total_time_ms is not None:
            return self.total_time_ms
        return round((now - self.start_time) * 1000)
