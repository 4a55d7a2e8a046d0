"""The source side of a live migration, as a state machine on an injected clock.

The trio layer calls :meth:`OutgoingMigration.advance` at :meth:`next_deadline`
and forwards :attr:`outbox` to the destination; commands call the other
methods.  Everything a release does differently comes from its profile.

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

from fakeqemu.model.ram import RamCounters, RamModel

if TYPE_CHECKING:
    from fakeqemu.profiles import Profile

#: migration_update_counters() runs every BUFFER_DELAY of iteration.
WINDOW = 0.1
#: qemu_savevm_state_setup() on an idle guest: the recordings show 0 to 7 ms.
SETUP_SECONDS = 0.002
#: Device state saved after the last RAM pages (recorded: about 110 KB for ``pc``).
DEVICE_STATE_BYTES = 112254
#: From migrate_cancel to ``cancelled``, and from STOP to ``completed``.
CANCEL_SECONDS = 0.001
COMPLETION_SECONDS = 0.002

RUNNING_STATES = frozenset(
    {
        "setup",
        "active",
        "device",
        "pre-switchover",
        "postcopy-device",
        "postcopy-active",
        "cancelling",
        "wait-unplug",
    }
)
POSTCOPY_STATES = frozenset({"postcopy-device", "postcopy-active"})
#: What ``max-postcopy-bandwidth`` 0 ("no limit") means here, in bytes per second.
UNLIMITED_BANDWIDTH = 10 << 30


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


@dataclass
class OutgoingMigration:
    profile: Profile
    ram: RamModel
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
    mbps: float = 0.0
    pages_per_second: int = 0
    precopy_bytes: int = 0
    downtime_bytes: int = 0
    stream_bytes: int = 0
    #: 11.1's top-level ``remaining``: the pending estimate of the previous window.
    pending_estimate: int | None = None
    #: Messages for the destination, drained by the transport.
    outbox: list[dict[str, Any]] = field(default_factory=list)
    _phase: str = "connecting"
    _deadline: float | None = None
    _stopped_guest: bool = False
    _downtime_start: float = 0.0
    _sent_normal: int = 0
    _sent_zero: int = 0
    _postcopy_requested: bool = False
    postcopy_bytes: int = 0

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
        """``migrate-continue`` in ``pre-switchover``."""
        self._switchover_device_phase(now)

    def fail(self, now: float, error: str) -> None:
        if self.status in ("completed", "failed", "cancelled"):
            return
        self.error_desc = error
        if self.profile.failing_status:
            self.hooks.set_status("failing")
        self.hooks.set_status("failed")
        self._restart_guest()
        self._phase = "done"
        self._deadline = None

    def set_parameter(self, name: str, value: Any) -> None:
        self.parameters[name] = value

    # -- the phases -----------------------------------------------------------------

    def _bandwidth(self) -> float:
        """Bytes per second the link is allowed (``max-bandwidth``)."""
        return float(self.parameters["max-bandwidth"])

    def _begin_iterating(self, now: float) -> None:
        self.setup_time_ms = round((now - self.start_time) * 1000)
        self.ram.sync(now)
        self.pending_estimate = self._remaining()
        if self.profile.pass_event_in_setup:
            self.hooks.pass_event(self.ram.counters().sync_count)
        self.hooks.set_status("active")
        self._phase = "iterating"
        self._deadline = now + WINDOW

    def _send(self, budget: int, precopy: bool) -> tuple[int, int]:
        pages, sent = self.ram.send(budget)
        if precopy:
            self.precopy_bytes += sent
        else:
            self.downtime_bytes += sent
        self._flush_pages()
        return pages, sent

    def _flush_pages(self) -> None:
        counters = self.ram.counters()
        normal, zero = counters.normal - self._sent_normal, counters.zero - self._sent_zero
        if normal or zero:
            self.outbox.append({"pages": {"normal": normal, "zero": zero, "xbzrle": 0}})
            self._sent_normal, self._sent_zero = counters.normal, counters.zero

    def _iterate(self, now: float) -> None:
        self.pending_estimate = self.ram.counters().dirty_pages * self.ram.page_size
        pages, sent = self._send(int(self._bandwidth() * WINDOW), precopy=True)
        window_ms = WINDOW * 1000
        self.mbps = sent * 8 / window_ms / 1000
        self.pages_per_second = int(pages / WINDOW)
        bytes_per_ms = sent / window_ms
        counters = self.ram.counters()
        if counters.dirty_pages_rate and bytes_per_ms:
            remaining = counters.dirty_pages * self.ram.page_size
            self.expected_downtime_ms = int(remaining / bytes_per_ms)
        if self._postcopy_requested:
            self._postcopy_switch(now)
            return
        threshold = bytes_per_ms * self.parameters["downtime-limit"]
        if self._remaining() <= threshold:
            self.ram.sync(now)
            self.hooks.pass_event(self.ram.counters().sync_count)
            if self._remaining() <= threshold:
                self._switchover(now, bytes_per_ms)
                return
        self._deadline = now + WINDOW

    def _remaining(self) -> int:
        return self.ram.counters().dirty_pages * self.ram.page_size

    def _switchover(self, now: float, bytes_per_ms: float) -> None:
        self._stopped_guest = self.hooks.stop_guest()
        self._downtime_start = now
        if self.profile.expected_downtime_at_switchover and bytes_per_ms:
            self.expected_downtime_ms = int(self._remaining() / bytes_per_ms)
        if self.capabilities.get("pause-before-switchover"):
            self.pending_estimate = self._remaining()
            self.hooks.set_status("pre-switchover")
            self._phase = "paused"
            return
        self._switchover_device_phase(now)

    def _switchover_device_phase(self, now: float) -> None:
        if self.profile.device_state_always or self.capabilities.get("pause-before-switchover"):
            self.hooks.set_status("device")
        if self.profile.final_sync_after_stop:
            self.ram.sync(now)
            self.hooks.pass_event(self.ram.counters().sync_count)
        remaining = self._remaining()
        self._send(remaining * 2 + DEVICE_STATE_BYTES, precopy=False)
        self.stream_bytes = DEVICE_STATE_BYTES
        # The completion stage is not rate limited: the recordings show 1 to 3 ms.
        self._phase = "completing"
        self._deadline = now + COMPLETION_SECONDS

    def _postcopy_switch(self, now: float) -> None:
        """postcopy_start(): stop, last sync, and the destination runs from here on."""
        if self.profile.postcopy_active_before_stop:
            self.hooks.set_status("postcopy-active")
            self._stopped_guest = self.hooks.stop_guest()
            self._sync_with_event(now)
        else:
            self._stopped_guest = self.hooks.stop_guest()
            self.hooks.set_status("device")
            self._sync_with_event(now)
            if self.profile.has_status("postcopy-device") and self.capabilities.get("return-path"):
                self.hooks.set_status("postcopy-device")
            self.hooks.set_status("postcopy-active")
        self.downtime_ms = 1
        self.outbox.append({"postcopy": True})
        self._phase = "postcopy"
        self._deadline = now + WINDOW

    def _sync_with_event(self, now: float) -> None:
        self.ram.sync(now)
        self.hooks.pass_event(self.ram.counters().sync_count)

    def _postcopy_window(self, now: float) -> None:
        limit = self.parameters.get("max-postcopy-bandwidth") or UNLIMITED_BANDWIDTH
        pages, sent = self.ram.send(int(limit * WINDOW))
        self.postcopy_bytes += sent
        self._flush_pages()
        self.mbps = sent * 8 / (WINDOW * 1000) / 1000
        self.pages_per_second = int(pages / WINDOW)
        if self._remaining() == 0:
            self.stream_bytes = DEVICE_STATE_BYTES
            self._complete(now)
            return
        self._deadline = now + WINDOW

    def _complete(self, now: float) -> None:
        self.total_time_ms = round((now - self.start_time) * 1000)
        if self.downtime_ms is None:  # postcopy measured it at its switchover
            self.downtime_ms = max(1, round((now - self._downtime_start) * 1000))
        transfer_ms = self.total_time_ms - self.setup_time_ms
        if transfer_ms > 0:
            # migration_completion_end(): throughput over the whole transfer.
            total_bytes = self.ram.counters().bytes_sent + DEVICE_STATE_BYTES
            self.mbps = total_bytes * 8 / transfer_ms / 1000
        self._phase = "done"
        self.outbox.append({"complete": True})
        self.hooks.set_status("completed")
        self.hooks.finish_guest(True)

    def _restart_guest(self) -> None:
        if self._stopped_guest:
            self._stopped_guest = False
            self.hooks.finish_guest(False)

    # -- what query-migrate reads ---------------------------------------------------

    def counters(self) -> RamCounters:
        return self.ram.counters()

    def transferred(self) -> int:
        sent = self.ram.counters().bytes_sent
        return sent + self.stream_bytes if self.profile.transferred_counts_stream else sent

    def total_time(self, now: float) -> int:
        if self.total_time_ms is not None:
            return self.total_time_ms
        return round((now - self.start_time) * 1000)
