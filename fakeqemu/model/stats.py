"""``query-migrate`` assembled per status, release, role and shape.

qmp_query_migrate() fills the destination's part first, then the source's,
whose ``status`` wins when the source has ever migrated (qemu-facts §2.1).
Which members exist at all comes from the release's own introspection, so a
member a release lacks (``skipped`` after 9.1, top-level ``remaining`` before
11.1) never appears.  The seed patch's rules are :func:`destination_ram`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

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


#: MigrationStats members the seed patch makes optional: the source-only counters.
PATCH_OPTIONAL = frozenset(
    {
        "dirty-sync-count",
        "precopy-bytes",
        "downtime-bytes",
        "postcopy-bytes",
        "multifd-bytes",
        "postcopy-requests",
        "dirty-sync-missed-zero-copy",
        "dirty-pages-rate",
    }
)


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
    profile: Profile, shape: str, incoming: IncomingMigration, ram_total: int
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
        ram = destination_ram(
            normal=incoming.normal,
            zero=incoming.zero,
            xbzrle=incoming.xbzrle,
            page_size=incoming.page_size,
            total=ram_total,
            total_time_ms=incoming.total_time_ms,
        )
        # On a release whose MigrationStats has other mandatory members (7.2's
        # `skipped`), the patch's g_malloc0'd struct prints them as 0.
        for member in _members(profile, "MigrationInfo", "ram") - ram.keys() - PATCH_OPTIONAL:
            ram[member] = 0
        info["ram"] = ram
    if incoming.error_desc is not None and profile.error_desc_in_any_state:
        info["error-desc"] = incoming.error_desc
    return info


def source_ram(profile: Profile, outgoing: OutgoingMigration) -> dict[str, Any]:
    counters = outgoing.counters()
    page_size = outgoing.ram.page_size
    completed = outgoing.status == "completed"
    ram: dict[str, Any] = {
        "transferred": outgoing.transferred(),
        "remaining": 0 if completed else counters.dirty_pages * page_size,
        "total": outgoing.ram.total,
        "duplicate": counters.zero,
        "skipped": 0,
        "normal": counters.normal,
        "normal-bytes": counters.normal * page_size,
        "dirty-pages-rate": 0 if completed else counters.dirty_pages_rate,
        "mbps": float(outgoing.mbps),
        "dirty-sync-count": counters.sync_count,
        "postcopy-requests": 0,
        "page-size": page_size,
        "multifd-bytes": 0,
        "pages-per-second": outgoing.pages_per_second,
        "precopy-bytes": outgoing.precopy_bytes,
        "downtime-bytes": outgoing.downtime_bytes,
        "postcopy-bytes": outgoing.postcopy_bytes,
        "dirty-sync-missed-zero-copy": 0,
    }
    present = _members(profile, "MigrationInfo", "ram")
    return {key: value for key, value in ram.items() if key in present}


def xbzrle_cache(outgoing: OutgoingMigration) -> dict[str, Any]:
    """XBZRLECacheStats: the model sends no xbzrle pages (an idle guest never re-dirties)."""
    return {
        "cache-size": outgoing.parameters["xbzrle-cache-size"],
        "bytes": 0,
        "pages": 0,
        "cache-miss": 0,
        "cache-miss-rate": 0.0,
        "encoding-rate": 0.0,
        "overflow": 0,
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
        info["ram"] = source_ram(profile, outgoing)
        if outgoing.capabilities.get("xbzrle"):
            info["xbzrle-cache"] = xbzrle_cache(outgoing)
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
    info = {} if incoming is None else destination_info(profile, shape, incoming, ram_total)
    if outgoing is not None:
        info.update(source_info(profile, outgoing, now))
    return info
