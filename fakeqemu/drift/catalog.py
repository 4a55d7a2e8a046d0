"""Which mutations a profile and shape get: derived from the contracts, never listed by hand.

* ``drop``: every member this contract has that is optional in it, or is optional in
  or missing from any other release's or shape's contract; not the members the role
  contracts tell states apart by (``status``), nor a union's tag.
* ``add``: one unknown member in each object of the reply and of the events.
* ``enum``: for each enumeration (one type, wherever it appears; a union's tag
  aside), the values some release has and another lacks, and one no release has.
* ``type``: every integer member as a float and as a uint64 above 2^63.
* ``order``: every object that can hold two members or more.
* ``release``: this profile's contract turned into each other release's.
* ``shape``: the seed patch applied or taken away.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import cache

from fakeqemu.drift.members import dispatch_members, read_contract
from fakeqemu.drift.mutation import (
    ADDED_MEMBER,
    KINDS,
    MADE_UP_VALUE,
    TYPE_VALUES,
    Mutation,
    compatible,
)
from fakeqemu.drift.paths import REPLY_ROOT
from fakeqemu.vocabulary import PROFILE_NAMES, SHAPES


def _contracts() -> list[tuple[str, str]]:
    return [(profile, shape) for profile in PROFILE_NAMES for shape in SHAPES]


def _droppable(profile: str, shape: str) -> list[str]:
    own = read_contract(profile, shape).members
    others = [read_contract(*contract).members for contract in _contracts()]
    dispatch = dispatch_members(profile, shape)
    found = []
    for path, member in own.items():
        if member.tag or path in dispatch:
            continue
        elsewhere = [members.get(path) for members in others]
        if not member.required or any(m is None or not m.required for m in elsewhere):
            found.append(path)
    return found


def _objects(profile: str, shape: str) -> list[tuple[str, int]]:
    """Each object path with the most members it can hold (variants included)."""
    objects = read_contract(profile, shape).objects
    found = []
    for path, names in objects.items():
        if "{" in path:
            continue  # a union variant: its members live in the union's own object
        variants = [len(n) for p, n in objects.items() if p.startswith(f"{path}.{{")]
        found.append((path, len(names) + max(variants, default=0)))
    return found


def _enums(profile: str, shape: str) -> list[tuple[str, list[str]]]:
    """Each enumeration (by its first path) and the values to try in it."""
    own = read_contract(profile, shape).members
    everywhere = [read_contract(*contract).members for contract in _contracts()]
    seen: set[str | None] = set()
    found = []
    for path, member in own.items():
        if member.kind != "enum" or member.tag or member.type_name in seen:
            continue
        seen.add(member.type_name)
        declared = [
            m.values
            for members in everywhere
            for m in members.values()
            if m.kind == "enum" and m.type_name == member.type_name
        ]
        common = set.intersection(*(set(values) for values in declared))
        # In the order the releases declare them, oldest first.
        varying = dict.fromkeys(v for values in declared for v in values if v not in common)
        found.append((path, [*varying, MADE_UP_VALUE]))
    return found


@cache
def mutations_for(profile: str, shape: str) -> tuple[Mutation, ...]:
    """Every single mutation of ``profile``/``shape``, in report order (kind, then path)."""
    contract = read_contract(profile, shape)
    found: list[Mutation] = [Mutation("drop", path) for path in _droppable(profile, shape)]
    for path, _ in _objects(profile, shape):
        prefix = "" if path == REPLY_ROOT else f"{path}."
        found.append(Mutation("add", f"{prefix}{ADDED_MEMBER}"))
    for path, values in _enums(profile, shape):
        found += [Mutation("enum", path, value) for value in values]
    for path, member in contract.members.items():
        if member.kind == "integer":
            found += [Mutation("type", path, value) for value in TYPE_VALUES]
    found += [Mutation("order", path) for path, size in _objects(profile, shape) if size >= 2]
    found += [
        Mutation("release", f"{profile}->{other}") for other in PROFILE_NAMES if other != profile
    ]
    found += [Mutation("shape", f"{shape}->{other}") for other in SHAPES if other != shape]
    return tuple(sorted(found, key=lambda m: KINDS.index(m.kind)))


def pairs_for(singles: Sequence[Mutation]) -> list[tuple[Mutation, Mutation]]:
    """Pairs of local mutations that cover every member at least once, each pair two
    different members and, where there is a choice, two different kinds."""
    local = [m for m in singles if m.local]
    by_member: dict[str, list[Mutation]] = {}
    for mutation in local:
        by_member.setdefault(str(mutation.member), []).append(mutation)
    # One mutation per member, taking the kinds in turn so that pairs mix them.
    chosen = [options[index % len(options)] for index, options in enumerate(by_member.values())]
    pairs: list[tuple[Mutation, Mutation]] = []
    waiting = list(chosen)
    while waiting:
        first = waiting.pop(0)
        partner = _partner(first, waiting) or _partner(first, local)
        if partner is None:
            continue  # nothing it can share a run with: its single covers it
        if partner in waiting:
            waiting.remove(partner)
        pairs.append((first, partner))
    return pairs


def _partner(first: Mutation, candidates: Iterable[Mutation]) -> Mutation | None:
    usable = [m for m in candidates if m != first and compatible(first, m)]
    other_kind = [m for m in usable if m.kind != first.kind]
    return next(iter(other_kind or usable), None)


def known_ids(profile: str, shape: str) -> set[str]:
    return {mutation.id for mutation in mutations_for(profile, shape)}
