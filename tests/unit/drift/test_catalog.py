"""Mutations are read from the contracts: what each kind yields, stable ids, pairs."""

from __future__ import annotations

import pytest

from fakeqemu.contracts.store import documents
from fakeqemu.drift.catalog import mutations_for, pairs_for
from fakeqemu.drift.members import read_contract
from fakeqemu.drift.mutation import Mutation, compatible, join, parse_drift
from fakeqemu.vocabulary import PROFILE_NAMES, SHAPES

CONTRACTS = [(profile, shape) for profile in PROFILE_NAMES for shape in SHAPES]


def ids(profile: str, shape: str) -> set[str]:
    return {mutation.id for mutation in mutations_for(profile, shape)}


def test_the_issue_s_examples_are_among_them() -> None:
    found = ids("11.1", "new")
    for expected in (
        "drop:ram.dirty-sync-count",  # the seed patch makes it optional
        "drop:total-time",  # optional in MigrationInfo
        "add:ram.x-drift",
        "add:MIGRATION.x-drift",
        "enum:status=postcopy-device",
        "enum:status=x-drift",
        "type:ram.dirty-sync-count=float",
        "type:ram.dirty-sync-count=uint64",
        "order:ram",
        "order:return",
        "release:11.1->7.2",
        "release:11.1->10.0",
        "shape:new->old",
    ):
        assert expected in found
    # A status 11.1 added shows up on a release that lacks it.
    assert "enum:status=failing" in ids("10.0", "old")
    assert "shape:old->new" in ids("7.2", "old")


@pytest.mark.parametrize(("profile", "shape"), CONTRACTS)
def test_drops_are_the_members_some_contract_does_not_require(profile: str, shape: str) -> None:
    everywhere = [read_contract(*contract).members for contract in CONTRACTS]
    own = read_contract(profile, shape).members
    for path, member in own.items():
        optional_somewhere = any(
            members.get(path) is None or not members[path].required for members in everywhere
        )
        expected = optional_somewhere and not member.tag and path != "status"
        assert (f"drop:{path}" in ids(profile, shape)) == expected, path


def test_a_member_every_release_requires_is_never_dropped() -> None:
    for profile, shape in CONTRACTS:
        assert "drop:ram.total" not in ids(profile, shape)
        assert "drop:ram.transferred" not in ids(profile, shape)


@pytest.mark.parametrize(("profile", "shape"), CONTRACTS)
def test_every_integer_member_is_retyped_and_every_object_gets_an_unknown_member(
    profile: str, shape: str
) -> None:
    contract = read_contract(profile, shape)
    found = ids(profile, shape)
    for path, member in contract.members.items():
        if member.kind == "integer":
            assert {f"type:{path}=float", f"type:{path}=uint64"} <= found
    query = documents(profile, shape)["query-migrate.json"]["$defs"]
    # Every object type of MigrationInfo that sits at a path gets its unknown member.
    assert "add:x-drift" in found
    assert ("add:xbzrle-cache.x-drift" in found) == ("XBZRLECacheStats" in query)


@pytest.mark.parametrize(("profile", "shape"), CONTRACTS)
def test_ids_are_stable_and_parse_back(profile: str, shape: str) -> None:
    for mutation in mutations_for(profile, shape):
        assert Mutation.parse(mutation.id) == mutation
        assert str(mutation) == mutation.id
    assert mutations_for(profile, shape) == mutations_for(profile, shape)


def test_a_value_after_a_union_variant_parses() -> None:
    mutation = Mutation.parse("type:socket-address[].{type=inet}.to=float")
    assert mutation.path == "socket-address[].{type=inet}.to"
    assert mutation.value == "float"


@pytest.mark.parametrize(
    "text", ["drop", "bogus:ram", "type:ram.total", "release:7.2", "drop:a->b", "type:x=int"]
)
def test_bad_ids_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match=r"kind|expected|needs|A->B"):
        Mutation.parse(text)


@pytest.mark.parametrize(("profile", "shape"), CONTRACTS)
def test_pairs_cover_every_member_and_never_hide_each_other(profile: str, shape: str) -> None:
    singles = mutations_for(profile, shape)
    pairs = pairs_for(singles)
    assert pairs
    covered = {str(m.member) for pair in pairs for m in pair}
    local_members = {str(m.member) for m in singles if m.local}
    lonely = {
        member
        for member in local_members
        if not any(
            compatible(m, other) for m in singles if str(m.member) == member for other in singles
        )
    }
    assert local_members - lonely <= covered
    for first, second in pairs:
        assert compatible(first, second)
        assert parse_drift(join((first, second))) == (first, second)
