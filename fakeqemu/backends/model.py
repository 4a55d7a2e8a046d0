"""``model``, the default backend: a guest's RAM in closed form, sent the way QEMU sends it.

The guest has a share of zero pages and dirties pages at a steady rate, slowed by
auto-converge's throttle.  Each 100 ms window sends what ``max-bandwidth`` (and the
link) allow, zero and data pages interleaved evenly; a bitmap sync makes the pages
dirtied since the last one count again.  Everything is a function of the calls made
and the times given, so the same migration gives the same numbers every time.

QEMU's own rules, from migration/ram.c and migration/migration.c, are kept where
they apply to every release: the dirty-page rate is measured over sync periods of
more than a second (migration_bitmap_sync), auto-converge throttles after two such
periods in which the guest dirtied more than ``throttle-trigger-threshold`` percent
of what was sent (migration_trigger_throttle, mig_throttle_guest_down), and xbzrle
rates are refreshed with it (migration_update_rates).
"""

from __future__ import annotations

import math
from dataclasses import replace

from fakeqemu.backends.interface import (
    RATE_WINDOW,
    BackendInputs,
    Limits,
    RamCounters,
    ReceivedPages,
    ThrottleSettings,
    XbzrleCounters,
    fits_downtime,
    switchover_threshold,
)
from fakeqemu.backends.options import BackendOptions
from fakeqemu.backends.scenarios import ScenarioPlayer
from fakeqemu.backends.workload import (
    END_OF_SECTION,
    OPTIONS,
    PAGE_HEADER,
    XBZRLE_HEADER,
    ZERO_PAGE_COST,
    Period,
    SentPages,
    Workload,
    next_throttle,
    split_evenly,
)

__all__ = ["OPTIONS", "ModelBackend", "Workload", "model_backend", "next_throttle", "split_evenly"]


def model_backend(inputs: BackendInputs) -> ModelBackend | ReceivedPages:
    """The ``model`` entry: the closed-form source; the destination counts what arrives."""
    options = BackendOptions("model", inputs.options, OPTIONS)
    if inputs.role == "destination":
        return ReceivedPages()
    return ModelBackend(inputs, Workload().with_options(options))


class ModelBackend:
    """The source's RAM under :class:`Workload`; see the module's docstring."""

    def __init__(self, inputs: BackendInputs, workload: Workload) -> None:
        self.page_size = inputs.page_size
        ram = inputs.guest_ram if workload.ram is None else workload.ram
        # The machine's ROM blocks come on top of guest RAM, whatever its size.
        self.total = ram + inputs.ram_total - inputs.guest_ram
        self.workload = workload
        self._pages = self.total // self.page_size
        self._xbzrle = "xbzrle" in inputs.capabilities
        self._multifd = "multifd" in inputs.capabilities
        self._auto_converge = "auto-converge" in inputs.capabilities
        # Pages still to send: zero pages, data pages never sent, data pages dirtied again.
        self._zero_left = round(self._pages * workload.zero_share)
        self._fresh_left = self._pages - self._zero_left
        self._again_left = 0
        self._data_pages = self._fresh_left
        self._sent = SentPages()
        self._limits: Limits | None = None
        self._syncs = 0
        self._remaining_at_sync = 0
        self._dirty_rate = 0
        self._period: Period | None = None
        self._high_dirty_periods = 0
        self._throttle = 0
        self._guest_time: float | None = None
        self._guest_running = True
        self._dirtied = 0.0
        self._transfer_start: float | None = None
        #: The bandwidth is spent up to here (each window's budget goes out at its start).
        self._budget_until: float | None = None
        self._ran_since_sync = False
        self._bytes_per_ms = 0.0
        #: What the switchover test uses: the bandwidth measured when the previous window
        #: ended (QEMU's threshold is 0 until the first window has been measured).
        self._measured_per_ms = 0.0
        self._mbps = 0.0
        self._pages_per_second = 0
        self._faults = 0.0
        self._postcopy_requests = 0
        self._rates = XbzrleCounters()
        #: ``--scenario``: the workload over time (None: the workload's constants).
        self.player = None if inputs.scenario is None else ScenarioPlayer(inputs.scenario)
        #: The bandwidth in force at the last window, for rates given as a percentage.
        self._bandwidth = 0.0
        # counters() is asked for several times a window: built once per change.
        self._counters: RamCounters | None = None

    # -- the guest ------------------------------------------------------------------

    def _run_guest(self, now: float) -> None:
        """Pages the guest dirtied up to ``now``, at its throttled rate."""
        if self._guest_time is not None and self._guest_running:
            rate = self._dirty_rate_now() / self.page_size * (1 - self._throttle / 100)
            self._dirtied += rate * max(0.0, now - self._guest_time)
            self._ran_since_sync |= now > self._guest_time
        self._guest_time = now

    @property
    def _pages_left(self) -> int:
        return self._zero_left + self._fresh_left + self._again_left

    # -- the scenario -------------------------------------------------------------------

    def _dirty_rate_now(self) -> float:
        if self.player is not None and self.player.dirty_rate is not None:
            return self.player.dirty_rate.resolve(self._bandwidth)
        return self.workload.dirty_rate

    def _link_now(self, bandwidth: float) -> float:
        if self.player is not None and self.player.link_bandwidth is not None:
            return self.player.link_bandwidth.resolve(bandwidth)
        return self.workload.link_bandwidth

    def _working_set_pages(self) -> int:
        share = self.workload.working_set
        if self.player is not None and self.player.working_set is not None:
            share = self.player.working_set
        return round(self._pages * share)

    def progress(self) -> float:
        """Percent of RAM transferred: 100 x (1 - remaining / total)."""
        return 100.0 * (1 - self._pages_left / self._pages) if self._pages else 100.0

    def _play(self, now: float) -> None:
        """Start the scenario's steps due now; the guest ran at the old rate until now."""
        if self.player is None or self._transfer_start is None:
            return
        self._run_guest(now)
        for step in self.player.play(now - self._transfer_start, self.progress()):
            if step.zero_share is not None:
                # The pages not sent yet are now this share zero.
                unsent = self._zero_left + self._fresh_left
                self._zero_left = round(unsent * step.zero_share)
                self._fresh_left = unsent - self._zero_left
                self._data_pages = self._fresh_left + self._again_left

    # -- the interface ----------------------------------------------------------------

    def sync(self, now: float) -> None:
        self._counters = None
        self._play(now)
        self._run_guest(now)
        clean = self._pages - self._pages_left
        # A guest that runs (or ran since the last sync) has its hot pages dirty again.
        ran = self._ran_since_sync or self._guest_running
        hot = self.workload.hot_pages if ran and self._period is not None else 0
        # However fast it writes, the guest dirties only pages of its working set.
        room = max(0, self._working_set_pages() - self._pages_left)
        newly_dirty = min(clean, room, round(self._dirtied) + hot)
        self._dirtied = 0.0
        self._ran_since_sync = False
        self._again_left += newly_dirty
        self._syncs += 1
        self._remaining_at_sync = self._pages_left * self.page_size
        if self._period is None:
            self._period = Period(now)
            self._transfer_start = now
            return
        self._period.dirtied_pages += newly_dirty
        if now - self._period.start > 1.0:
            self._end_period(now, self._period)
            self._period = Period(now)

    def _end_period(self, now: float, period: Period) -> None:
        """migration_trigger_throttle() and migration_update_rates()."""
        settings = self._limits.throttle if self._limits else ThrottleSettings()
        dirty_bytes = period.dirtied_pages * self.page_size
        dirty_threshold = period.stream_bytes * settings.trigger_threshold / 100
        if dirty_bytes > dirty_threshold:
            self._high_dirty_periods += 1
            if self._high_dirty_periods >= 2:
                self._high_dirty_periods = 0
                if self._auto_converge:
                    self._throttle = next_throttle(
                        self._throttle, settings, dirty_bytes, dirty_threshold
                    )
        self._dirty_rate = int(period.dirtied_pages * 1000 / ((now - period.start) * 1000))
        if self._xbzrle and period.pages_sent:
            encoded = period.xbzrle_bytes
            self._rates = XbzrleCounters(
                cache_miss_rate=period.cache_misses / period.pages_sent,
                encoding_rate=(period.xbzrle_pages * self.page_size / encoded if encoded else 0.0),
            )

    def transfer(self, now: float, limits: Limits) -> None:
        """Spend the bandwidth of the window starting at ``now`` (QEMU sends at once and
        then waits for the window's end; a second call within a window sends nothing)."""
        self._counters = None
        self._limits = limits
        self._play(now)
        self._run_guest(now)
        if limits.bandwidth:  # a stalled link (0) does not slow the guest down
            self._bandwidth = limits.bandwidth
        self._guest_running = limits.guest_running
        begin = now if self._budget_until is None else max(now, self._budget_until)
        self._budget_until = now + RATE_WINDOW
        seconds = max(0.0, self._budget_until - begin)
        rate = limits.bandwidth
        if link := self._link_now(limits.bandwidth):
            rate = min(rate, link)
        # ram_transferred_add(): precopy while the guest runs, downtime while it is stopped.
        stage = "precopy" if limits.guest_running else "downtime"
        if limits.postcopy:
            stage = "postcopy"
            self._postcopy_faults(seconds)
        if seconds <= 0:
            return
        pages_before, bytes_before = self._sent.pages, self._sent.stream
        self._send(rate * seconds, stage, limits)
        self._sent.by_stage[stage] += END_OF_SECTION
        self._sent.stream += END_OF_SECTION
        sent = self._sent.stream - bytes_before
        self._measured_per_ms = self._bytes_per_ms
        self._bytes_per_ms = sent / (seconds * 1000)
        self._mbps = sent * 8 / seconds / 1e6
        self._pages_per_second = int((self._sent.pages - pages_before) / seconds)

    def _postcopy_faults(self, seconds: float) -> None:
        """The guest runs on the destination and asks for pages it has not got yet."""
        missing = self._pages_left / self._pages if self._pages else 0.0
        self._faults += self.workload.fault_rate * seconds * missing
        requests = min(int(self._faults), self._pages_left)
        self._faults -= int(self._faults)
        self._postcopy_requests += requests

    def converged(self, now: float, limits: Limits) -> bool:
        remaining = self._pages_left * self.page_size
        if limits.postcopy:
            return remaining == 0
        return fits_downtime(remaining, switchover_threshold(self._measured_per_ms, limits))

    def stop(self, now: float, postcopy: bool) -> None:
        self._counters = None
        self._run_guest(now)
        self._guest_running = False
        if not postcopy:
            self._send(math.inf, "downtime", self._limits)
        self._sent.stream += self.workload.device_state

    def finish(self, now: float) -> None:
        self._counters = None
        if self._transfer_start is None:
            return
        # migration_calculate_complete(): the whole stream over the whole transfer.
        transfer_ms = round((now - self._transfer_start) * 1000)
        if transfer_ms > 0:
            self._mbps = self._sent.stream * 8 / transfer_ms / 1000

    def counters(self, now: float) -> RamCounters:
        if self._counters is None:
            self._counters = self._count()
        return self._counters

    def _count(self) -> RamCounters:
        sent = self._sent
        xbzrle = None
        if self._xbzrle:
            xbzrle = replace(
                self._rates,
                bytes=sent.xbzrle_bytes,
                pages=sent.xbzrle,
                cache_miss=sent.cache_misses,
                overflow=sent.overflow,
            )
        return RamCounters(
            normal=sent.normal,
            zero=sent.zero,
            xbzrle=sent.xbzrle,
            precopy_bytes=sent.by_stage["precopy"],
            downtime_bytes=sent.by_stage["downtime"],
            postcopy_bytes=sent.by_stage["postcopy"],
            stream_bytes=sent.stream,
            multifd_bytes=sent.multifd,
            remaining=self._pages_left * self.page_size,
            remaining_at_sync=self._remaining_at_sync,
            dirty_pages_rate=self._dirty_rate,
            sync_count=self._syncs,
            mbps=self._mbps,
            pages_per_second=self._pages_per_second,
            postcopy_requests=self._postcopy_requests,
            cpu_throttle_percentage=self._throttle,
            xbzrle_cache=xbzrle,
        )

    # -- sending ----------------------------------------------------------------------

    def _send(self, budget: float, stage: str, limits: Limits | None) -> None:
        """Send up to ``budget`` bytes of dirty pages, zero and data pages interleaved."""
        left = self._pages_left
        if left == 0 or budget <= 0:
            return
        normal_cost = self.page_size + PAGE_HEADER
        hit_share = self._cache_hit_share(limits)
        encoded = XBZRLE_HEADER + round(self.workload.xbzrle_ratio * self.page_size)
        encodes = self._xbzrle and encoded < normal_cost
        again_cost = hit_share * encoded + (1 - hit_share) * normal_cost if encodes else normal_cost
        average = (
            self._zero_left * ZERO_PAGE_COST
            + self._fresh_left * normal_cost
            + self._again_left * again_cost
        ) / left
        pages = left if math.isinf(budget) else min(left, max(1, int(budget // average)))
        zero, fresh, again = split_evenly(
            pages, [self._zero_left, self._fresh_left, self._again_left]
        )
        self._zero_left -= zero
        self._fresh_left -= fresh
        self._again_left -= again
        hits = round(again * hit_share) if self._xbzrle else 0
        sent = self._sent
        if self._xbzrle:
            sent.cache_misses += again - hits
            if not encodes:  # the delta would be bigger than the page: sent whole
                sent.overflow += hits
                hits = 0
        normal = fresh + again - hits
        ram_bytes = zero * ZERO_PAGE_COST + normal * normal_cost + hits * encoded
        sent.normal += normal
        sent.zero += zero
        sent.xbzrle += hits
        sent.xbzrle_bytes += hits * encoded
        on_channels = 0
        if self._multifd:
            # Data pages (and from 9.0 zero pages) go through the multifd channels, which
            # QEMU counts apart from the stage counters.
            zero_on_channels = limits is not None and limits.multifd_zero_pages
            on_channels = normal * normal_cost + (zero * ZERO_PAGE_COST if zero_on_channels else 0)
            sent.multifd += on_channels
        sent.by_stage[stage] += ram_bytes - on_channels
        sent.stream += ram_bytes
        if self._period is not None:
            self._period.stream_bytes += ram_bytes
            self._period.pages_sent += pages
            self._period.xbzrle_pages += hits
            self._period.xbzrle_bytes += hits * encoded
            self._period.cache_misses += again - hits if self._xbzrle else 0

    def _cache_hit_share(self, limits: Limits | None) -> float:
        """Share of re-sent data pages still in the xbzrle cache (it holds the latest)."""
        if not self._xbzrle or not self._data_pages:
            return 0.0
        cache = limits.xbzrle_cache_size if limits else 64 << 20
        return min(1.0, cache // self.page_size / self._data_pages)
