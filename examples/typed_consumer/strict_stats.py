"""A strictly typed ``query-migrate`` consumer, as clients generated from the QAPI schema are.

Go and Rust QMP bindings are generated from ``qapi/migration.json``: every
``MigrationStats`` member without a ``*`` becomes a required field, and a
reply without it fails to decode (serde: "missing field `dirty-sync-count`").
This module decodes the same way, from QEMU 10.0's and 11.1's schema.

Today's QEMU sends ``ram`` only from a source, always whole.  The
destination-stats patch makes eight members optional and has a completed
destination send ``ram`` without them: a client generated from the released
schema breaks there.  ``test_strict_stats.py`` shows fakeqemu's matrix finding it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any


class DecodeError(ValueError):
    """The reply does not match the type the client was generated from."""


@dataclass(frozen=True)
class MigrationStats:
    """QAPI ``MigrationStats`` (QEMU 10.0 and 11.1): every member required."""

    transferred: int
    remaining: int
    total: int
    duplicate: int
    normal: int
    normal_bytes: int
    dirty_pages_rate: int
    mbps: float
    dirty_sync_count: int
    postcopy_requests: int
    page_size: int
    multifd_bytes: int
    pages_per_second: int
    precopy_bytes: int
    downtime_bytes: int
    postcopy_bytes: int
    dirty_sync_missed_zero_copy: int

    @classmethod
    def decode(cls, data: Mapping[str, Any]) -> MigrationStats:
        values: dict[str, Any] = {}
        for member in fields(cls):
            wire_name = member.name.replace("_", "-")
            if wire_name not in data:
                raise DecodeError(f"MigrationStats: missing field `{wire_name}`")
            value = data[wire_name]
            expected = float if member.type == "float" else int
            if not isinstance(value, int | float) or (expected is int and isinstance(value, float)):
                raise DecodeError(f"MigrationStats: `{wire_name}` is not {member.type}: {value!r}")
            values[member.name] = expected(value)
        # Members the client does not know (7.2's `skipped`) are ignored, as serde does.
        return cls(**values)


@dataclass(frozen=True)
class MigrationInfo:
    """The part of QAPI ``MigrationInfo`` this consumer uses (all optional there)."""

    status: str | None
    ram: MigrationStats | None
    total_time: int | None

    @classmethod
    def decode(cls, data: Mapping[str, Any]) -> MigrationInfo:
        ram = data.get("ram")
        return cls(
            status=data.get("status"),
            ram=None if ram is None else MigrationStats.decode(ram),
            total_time=data.get("total-time"),
        )
