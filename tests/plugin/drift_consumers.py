"""Three small query-migrate consumers, as tools write them; a pytester file for the drift
acceptance tests (test_drift_acceptance.py copies it into each run).

Each test migrates a pair of fakes to completion, then hands one side's final reply
to a consumer.
"""

from __future__ import annotations

from typing import Any

import pytest

from fakeqemu import FakeQemuPair
from fakeqemu.contracts.store import documents
from tests.support.drift_tools import migrate, query_migrate

pytestmark = pytest.mark.fakeqemu(profile="11.1", shape="old", speed=50)

QUERY = documents("11.1", "old")["query-migrate.json"]["$defs"]
#: What a consumer generated from 11.1's schema knows.
KNOWN_STATUSES = frozenset(QUERY["MigrationStatus"]["enum"])
KNOWN_MEMBERS = {
    "MigrationInfo": frozenset(QUERY["MigrationInfo"]["properties"]),
    "MigrationStats": frozenset(QUERY["MigrationStats"]["properties"]),
}


def sync_count(info: dict[str, Any]) -> int | None:
    """Indexes ram["dirty-sync-count"] whenever there is ram."""
    return None if "ram" not in info else int(info["ram"]["dirty-sync-count"])


def checked_status(info: dict[str, Any]) -> str:
    """Rejects a status it was not generated with."""
    status = str(info["status"])
    if status not in KNOWN_STATUSES:
        raise ValueError(f"unknown migration status {status!r}")
    return status


def decode_strictly(info: dict[str, Any]) -> dict[str, Any]:
    """Rejects members it was not generated with (MigrationInfo and its ram)."""
    for type_name, value in (("MigrationInfo", info), ("MigrationStats", info.get("ram", {}))):
        unknown = set(value) - KNOWN_MEMBERS[type_name]
        if unknown:
            raise ValueError(f"{type_name}: unknown member(s) {sorted(unknown)}")
    return info


def test_counter_on_the_source(fakeqemu_pair: FakeQemuPair) -> None:
    migrate(fakeqemu_pair)
    sync_count(query_migrate(fakeqemu_pair.source.address))


def test_counter_on_the_destination(fakeqemu_pair: FakeQemuPair) -> None:
    migrate(fakeqemu_pair)
    sync_count(query_migrate(fakeqemu_pair.destination.address))


def test_status_checker(fakeqemu_pair: FakeQemuPair) -> None:
    migrate(fakeqemu_pair)
    for address in (fakeqemu_pair.source.address, fakeqemu_pair.destination.address):
        checked_status(query_migrate(address))


def test_strict_decoder(fakeqemu_pair: FakeQemuPair) -> None:
    migrate(fakeqemu_pair)
    for address in (fakeqemu_pair.source.address, fakeqemu_pair.destination.address):
        decode_strictly(query_migrate(address))
