"""Where the numbers come from: a deterministic model of a guest's RAM being sent.

:class:`RamModel` is the seam the backends issue generalises: the migration
state machine asks it to send a byte budget, to sync the dirty bitmap, and
for its counters; it knows nothing of QMP, statuses or versions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

PAGE_SIZE = 4096
#: Bytes QEMU puts before each page on the wire (offset and flags).
PAGE_HEADER = 8
#: A zero page is a header and one byte (RAM_SAVE_FLAG_ZERO).
ZERO_PAGE_COST = PAGE_HEADER + 1
#: RAM blocks besides guest memory on an x86 ``pc`` machine (BIOS and option ROMs):
#: ``ram.total`` for ``-m 128`` is 134750208, not 134217728.
PC_EXTRA_RAM = 532480


@dataclass(frozen=True)
class RamCounters:
    """What the source has sent so far, in pages and bytes."""

    normal: int = 0
    zero: int = 0
    xbzrle: int = 0
    #: RAM bytes on the wire, headers included.
    bytes_sent: int = 0
    #: Pages still marked dirty (to be sent), zero pages included.
    dirty_pages: int = 0
    sync_count: int = 0
    #: Pages the guest dirtied per second, as of the last sync that measured it.
    dirty_pages_rate: int = 0


class RamModel(Protocol):
    """The RAM-counter interface the migration model drives."""

    page_size: int
    #: ``ram.total``: every migratable RAM block, in bytes.
    total: int

    def counters(self) -> RamCounters: ...

    def send(self, budget: int) -> tuple[int, int]:
        """Send up to ``budget`` bytes of dirty pages; return (pages, bytes) sent."""
        ...

    def sync(self, now: float) -> None:
        """Sync the dirty bitmap at ``now`` (seconds): pages dirtied since count again."""
        ...


class LinearRamModel:
    """Closed-form RAM: a share of zero pages, and a guest that dirties at a fixed rate.

    Zero and normal pages are interleaved evenly, as in a guest whose memory
    has every N-th page in use; dirtied pages are normal pages.
    """

    def __init__(
        self,
        memory: int,
        *,
        zero_share: float = 0.75,
        dirty_pages_per_s: float = 0.0,
        page_size: int = PAGE_SIZE,
        extra: int = PC_EXTRA_RAM,
    ) -> None:
        self.page_size = page_size
        self.total = memory + extra
        pages = self.total // page_size
        self._dirty_zero = round(pages * zero_share)
        self._dirty_normal = pages - self._dirty_zero
        self._dirty_pages_per_s = dirty_pages_per_s
        self._normal = self._zero = self._bytes = 0
        self._syncs = 0
        self._dirty_rate = 0
        self._last_sync: float | None = None
        self._period_start: float | None = None
        self._dirtied_in_period = 0.0

    def counters(self) -> RamCounters:
        return RamCounters(
            normal=self._normal,
            zero=self._zero,
            bytes_sent=self._bytes,
            dirty_pages=self._dirty_normal + self._dirty_zero,
            sync_count=self._syncs,
            dirty_pages_rate=self._dirty_rate,
        )

    def send(self, budget: int) -> tuple[int, int]:
        dirty = self._dirty_normal + self._dirty_zero
        if dirty == 0 or budget <= 0:
            return 0, 0
        normal_share = self._dirty_normal / dirty
        average = (
            normal_share * (self.page_size + PAGE_HEADER) + (1 - normal_share) * ZERO_PAGE_COST
        )
        pages = min(dirty, max(1, int(budget // average)))
        normal = min(self._dirty_normal, round(pages * normal_share))
        zero = min(self._dirty_zero, pages - normal)
        sent = normal * (self.page_size + PAGE_HEADER) + zero * ZERO_PAGE_COST
        self._dirty_normal -= normal
        self._dirty_zero -= zero
        self._normal += normal
        self._zero += zero
        self._bytes += sent
        return normal + zero, sent

    def sync(self, now: float) -> None:
        self._syncs += 1
        if self._last_sync is not None:
            dirtied = self._dirty_pages_per_s * (now - self._last_sync)
            self._dirtied_in_period += dirtied
            already_dirty = self._dirty_normal
            clean = self.total // self.page_size - self._dirty_zero - already_dirty
            self._dirty_normal += min(clean, round(dirtied))
        else:
            self._period_start = now
        self._last_sync = now
        # migration_bitmap_sync(): the rate is refreshed once a period exceeds 1 s.
        if self._period_start is not None and now - self._period_start > 1.0:
            elapsed_ms = (now - self._period_start) * 1000
            self._dirty_rate = int(self._dirtied_in_period * 1000 / elapsed_ms)
            self._period_start = now
            self._dirtied_in_period = 0.0
