"""The seed patch's facts, and a release's ``query-qmp-schema`` in either shape.

Read by the model (what a completed destination reports, ``model/stats.py``), by
``query-qmp-schema`` (``commands/qmp.py``) and by the contracts.

Introspection masks the names of user-defined types as numbers ("403" in
7.2, "442" in 11.1), so nothing here looks a type up by its QAPI name.  Types
are found by where they sit: ``MigrationInfo`` is the return type of
``query-migrate``, ``MigrationStats`` is the type of its ``ram`` member, and
so on.

The "new" shape is the seed patch ("migration: expose RAM stats and timing on
destination via query-migrate") applied to the release: it prefixes eight
``MigrationStats`` members with ``*`` in qapi/migration.json.  QEMU's
introspection marks an optional member with ``"default": null``
(scripts/qapi/introspect.py), so that is the whole change to the schema.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fakeqemu.profiles.profile import Profile

#: The ``MigrationStats`` members the patch makes optional (only a source fills them).
PATCH_OPTIONAL_STATS = (
    "dirty-pages-rate",
    "dirty-sync-count",
    "postcopy-requests",
    "multifd-bytes",
    "precopy-bytes",
    "downtime-bytes",
    "postcopy-bytes",
    "dirty-sync-missed-zero-copy",
)

#: What a migration source sends when the patch makes a stats member optional:
#: populate_ram_info() sets ``has_dirty_pages_rate`` only while the migration is
#: not completed, so a completed source stops reporting ``dirty-pages-rate``.
PATCH_SOURCE_COMPLETED_OMITS = ("dirty-pages-rate",)

#: What the patch adds to a completed destination's reply.
PATCH_DESTINATION_COMPLETED = ("ram", "total-time")

#: The statuses a destination reports at all, in every release: the cases of
#: fill_destination_migration_info()'s switch; in other states it sets no status.
DESTINATION_REPORTED = (
    "setup",
    "cancelling",
    "cancelled",
    "active",
    "postcopy-device",
    "postcopy-active",
    "postcopy-paused",
    "postcopy-recover",
    "failed",
    "colo",
    "completed",
)

Entity = dict[str, Any]


def index(entities: Sequence[Entity]) -> dict[str, Entity]:
    """Every entity by its (possibly masked) name."""
    return {entity["name"]: entity for entity in entities}


def member(entity: Entity, name: str) -> Entity:
    for candidate in entity.get("members", []):
        if candidate["name"] == name:
            found: Entity = candidate
            return found
    raise LookupError(f"introspected type {entity['name']} has no member {name!r}")


def migration_info(by_name: Mapping[str, Entity]) -> Entity:
    """``MigrationInfo``: whatever ``query-migrate`` returns."""
    return by_name[by_name["query-migrate"]["ret-type"]]


def migration_stats(by_name: Mapping[str, Entity]) -> Entity:
    """``MigrationStats``: the type of ``MigrationInfo.ram``."""
    return by_name[member(migration_info(by_name), "ram")["type"]]


def event_data(by_name: Mapping[str, Entity], event: str) -> Entity:
    """The object an event carries as ``data``."""
    return by_name[by_name[event]["arg-type"]]


def mark_optional(entry: Entity) -> Entity:
    """``entry`` as introspection shows an optional member: name, default, then the rest."""
    if "default" in entry:
        return entry
    rest = {key: value for key, value in entry.items() if key != "name"}
    return {"name": entry["name"], "default": None, **rest}


def apply_patch(entities: Sequence[Entity]) -> list[Entity]:
    """``entities`` with the patch's ``MigrationStats`` members optional; nothing else changes."""
    stats = migration_stats(index(entities))
    names = {entry["name"] for entry in stats["members"]}
    missing = [name for name in PATCH_OPTIONAL_STATS if name not in names]
    if missing:
        # A release without these members cannot take the patch as written.
        raise LookupError(f"MigrationStats of this release lacks {missing}")
    patched = {
        **stats,
        "members": [
            mark_optional(entry) if entry["name"] in PATCH_OPTIONAL_STATS else entry
            for entry in stats["members"]
        ],
    }
    return [patched if entity is stats else entity for entity in entities]


def introspection_for(profile: Profile, shape: str) -> list[Entity]:
    """What ``query-qmp-schema`` answers for ``profile`` in ``shape`` (``old`` or ``new``)."""
    if shape == "old":
        return profile.introspection
    if shape != "new":
        raise ValueError(f"unknown shape {shape!r}; expected old or new")
    return profile.patched_introspection
