"""``query-migrate`` assembled per status, release, role and shape.

qmp_query_migrate() fills the destination's part first, then the source's,
whose ``status`` wins when the source has ever migrated (qemu-facts §2.1).
Which members exist at all comes from the release's own introspection, so a
member a release lacks (``skipped`` after 9.1, top-level ``remaining`` before
11.1) never appears.  The seed patch's rules are :func:`destination_ram`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fakeqemu.backends.interface import RamCounters, XbzrleCounters, as_counters
from fakeqemu.profiles.patch import PATCH_OPTIONAL_STATS, PATCH_SOURCE_COMPLETED_OMITS

if TYPE_CHECKING:
    from fakeqemu.model.incoming import IncomingMigration
    from fakeqemu.model.outgoing import OutgoingMigration
    from fakeqemu.profiles import Profile

#: Source states that report timings and RAM stats (populate_time_info / ram_info).
_POPULATED = frozenset(
    {
        "active",
        "cancelling",
        "pre-switchover",
        "device",
        "postcopy-active",
        "postcopy-paused",
        "postcopy-recover",
        "postcopy-recover-setup",
        "completed",
    }
)
#: Source states in which auto-converge's throttle has been stopped.
_THROTTLE_STOPPED = frozenset({"completed", "failed", "cancelled"})
_POSTCOPY = frozenset(
    {"postcopy-active", "postcopy-paused", "postcopy-recover", "postcopy-recover-setup"}
)


def _members(profile: Profile, type_owner: str, member: str | None = None) -> frozenset[str]:
    """Member names of MigrationInfo (``member`` None) or of one of its members' types."""
    schema = profile.schema
    info_type = schema.commands["query-migrate"]["ret-type"]
    if member is None:
        return frozenset(schema.object_members(info_type))
    member_type = next(m["type"] for m in schema.types[info_type]["members"] if m["name"] == member)
    return frozenset(schema.object_members(member_type))


def destination_ram(
    *, normal: int, zero: int, xbzrle: int, page_size: int, total: int, total_time_ms: int
) -> dict[str, Any]:
    """The seed patch's ``ram`` for a completed destination (fill_destination_migration_info).

    Only what the receive side can know; the source-only members stay absent.
    Both rates stay 0 when no ``total-time`` was measured.
    """
    loaded = normal + xbzrle
    ram: dict[str, Any] = {
        "transferred": loaded * page_size,
        "remaining": 0,
        "total": total,
        "duplicate": zero,
        "normal": loaded,
        "normal-bytes": loaded * page_size,
        "mbps": 0.0,
        "page-size": page_size,
        "pages-per-second": 0,
    }
    if total_time_ms > 0:
        ram["mbps"] = loaded * page_size * 8.0 / total_time_ms / 1000.0
        ram["pages-per-second"] = int((loaded + zero) * 1000.0 / total_time_ms)
    return ram


def destination_info(
    profile: Profile, shape: str, incoming: IncomingMigration, ram_total: int, now: float
) -> dict[str, Any]:
    info: dict[str, Any] = {}
    if incoming.socket_address:
        info["socket-address"] = incoming.socket_address
    if not incoming.reported:
        return info
    info["status"] = incoming.status
    if incoming.status == "completed" and shape == "new":
        if incoming.total_time_ms > 0:
            info["total-time"] = incoming.total_time_ms
        received = as_counters(incoming.ram.counters(now))
        ram = destination_ram(
            normal=received.normal,
            zero=received.zero,
            xbzrle=received.xbzrle,
            page_size=incoming.page_size,
            total=ram_total,
            total_time_ms=incoming.total_time_ms,
        )
        # On a release whose MigrationStats has other mandatory members (7.2's
        # `skipped`), the patch's g_malloc0'd struct prints them as 0.
        for member in (
            _members(profile, "MigrationInfo", "ram") - ram.keys() - set(PATCH_OPTIONAL_STATS)
        ):
            ram[member] = 0
        info["ram"] = ram
    if incoming.error_desc is not None and profile.error_desc_in_any_state:
        info["error-desc"] = incoming.error_desc
    return info


def source_ram(profile: Profile, outgoing: OutgoingMigration, now: float) -> dict[str, Any]:
    counters = outgoing.counters(now)
    page_size = outgoing.ram.page_size
    completed = outgoing.status == "completed"
    # 8.0 on count the whole stream (device state too) as `transferred`; 7.2 RAM pages only.
    transferred = counters.all_bytes if profile.transferred_counts_stream else counters.ram_bytes
    ram: dict[str, Any] = {
        "transferred": transferred,
        "remaining": 0 if completed else counters.remaining,
        "total": outgoing.ram.total,
        "duplicate": counters.zero,
        "skipped": 0,
        "normal": counters.normal,
        "normal-bytes": counters.normal * page_size,
        "dirty-pages-rate": 0 if completed else counters.dirty_pages_rate,
        "mbps": float(counters.mbps),
        "dirty-sync-count": counters.sync_count,
        "postcopy-requests": counters.postcopy_requests,
        "page-size": page_size,
        "multifd-bytes": counters.multifd_bytes,
        "pages-per-second": counters.pages_per_second,
        "precopy-bytes": counters.precopy_bytes,
        "downtime-bytes": counters.downtime_bytes,
        "postcopy-bytes": counters.postcopy_bytes,
        "dirty-sync-missed-zero-copy": 0,
    }
    present = _members(profile, "MigrationInfo", "ram")
    return {key: value for key, value in ram.items() if key in present}


def xbzrle_cache(outgoing: OutgoingMigration, counters: RamCounters) -> dict[str, Any]:
    """XBZRLECacheStats: the cache size in force, and the backend's counters."""
    stats = counters.xbzrle_cache or XbzrleCounters()
    return {
        "cache-size": outgoing.parameters["xbzrle-cache-size"],
        "bytes": stats.bytes,
        "pages": stats.pages,
        "cache-miss": stats.cache_miss,
        "cache-miss-rate": float(stats.cache_miss_rate),
        "encoding-rate": float(stats.encoding_rate),
        "overflow": stats.overflow,
    }


def source_info(profile: Profile, outgoing: OutgoingMigration, now: float) -> dict[str, Any]:
    status = outgoing.status
    info: dict[str, Any] = {"status": status}
    if status in _POPULATED:
        info["setup-time"] = outgoing.setup_time_ms
        info["total-time"] = outgoing.total_time(now)
        in_postcopy = status in _POSTCOPY and profile.downtime_in_postcopy
        if status == "completed" or in_postcopy:
            info["downtime"] = outgoing.downtime_ms or 0
        else:
            info["expected-downtime"] = outgoing.expected_downtime_ms or 0
        info["ram"] = source_ram(profile, outgoing, now)
        counters = outgoing.counters(now)
        if outgoing.capabilities.get("xbzrle"):
            info["xbzrle-cache"] = xbzrle_cache(outgoing, counters)
        # migration_iteration_finish() stops the throttle as the migration ends.
        throttled = counters.cpu_throttle_percentage and status not in _THROTTLE_STOPPED
        if throttled and "cpu-throttle-percentage" in _members(profile, "MigrationInfo"):
            info["cpu-throttle-percentage"] = counters.cpu_throttle_percentage
        if (
            status != "completed"
            and outgoing.pending_estimate is not None
            and "remaining" in _members(profile, "MigrationInfo")
        ):
            info["remaining"] = outgoing.pending_estimate
    if outgoing.error_desc is not None and (status == "failed" or profile.error_desc_in_any_state):
        info["error-desc"] = outgoing.error_desc
    return info


def query_migrate(
    profile: Profile,
    shape: str,
    incoming: IncomingMigration | None,
    outgoing: OutgoingMigration | None,
    now: float,
    ram_total: int,
) -> dict[str, Any]:
    info = {} if incoming is None else destination_info(profile, shape, incoming, ram_total, now)
    if outgoing is not None:
        info.update(source_info(profile, outgoing, now))
        if shape == "new" and outgoing.status == "completed":
            # The patch sets has_dirty_pages_rate only while not completed.
            for member in PATCH_SOURCE_COMPLETED_OMITS:
                info.get("ram", {}).pop(member, None)
    return info
