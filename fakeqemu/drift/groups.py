"""Group runs: many mutations in one run, split in halves only where something broke.

Most mutations change a member the tool never looks at, and most runs survive: a
run of every mutation one by one costs a run per mutation.  Local mutations of
different members (:func:`~fakeqemu.drift.mutation.compatible`: neither can hide the
other) are packed into groups; a group is run with all its mutations applied at once,
and only a group that breaks is split in two, down to single mutations (adaptive
group testing: a tool that one mutation breaks costs about two runs per halving).

A group that survives vouches for each of its mutations.  This assumes a tool that
survives several changes together survives each alone; a tool that breaks only when
one member is present *and* another absent would be missed, which is why the
single runs stay available (``--fakeqemu-drift=ID`` runs one mutation by itself).

Group ids are ``group:N`` for the N-th group, and ``group:N.0``, ``group:N.01``... for
its halves; they are runs, not mutations, and appear in no report.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from fakeqemu.drift.mutation import Mutation, compatible

#: How a group run's id starts.
GROUP_PREFIX = "group:"


@dataclass(frozen=True)
class Group:
    id: str
    members: tuple[Mutation, ...]
    #: The group this one is a half of (None for a whole group).
    parent: str | None = None


def pack(singles: Sequence[Mutation]) -> list[list[Mutation]]:
    """The local mutations, greedily packed into groups of mutually compatible ones,
    and the ``enum:`` values of each member, which take turns in one run (one reply
    each); a mutation that fits with no other stays out (its own run covers it)."""
    groups: list[list[Mutation]] = []
    enums: dict[str, list[Mutation]] = {}
    for mutation in singles:
        if mutation.kind == "enum":
            enums.setdefault(mutation.path, []).append(mutation)
        if not mutation.local:
            continue
        for group in groups:
            if all(compatible(mutation, other) for other in group):
                group.append(mutation)
                break
        else:
            groups.append([mutation])
    return [group for group in [*groups, *enums.values()] if len(group) > 1]


def group_tree(singles: Sequence[Mutation]) -> list[Group]:
    """Every group and every half worth a run, parents before their halves."""
    found: list[Group] = []
    waiting = [
        Group(f"{GROUP_PREFIX}{number}", tuple(members))
        for number, members in enumerate(pack(singles), start=1)
    ]
    while waiting:
        group = waiting.pop(0)
        found.append(group)
        middle = len(group.members) // 2
        halves = (group.members[:middle], group.members[middle:])
        separator = "." if group.parent is None else ""
        for bit, half in enumerate(halves):
            if len(half) > 1:
                waiting.append(Group(f"{group.id}{separator}{bit}", half, group.id))
    return found


def is_group(drift: str) -> bool:
    return drift.startswith(GROUP_PREFIX)


def containing(groups: Sequence[Group], mutation: Mutation) -> list[Group]:
    """The groups that hold ``mutation``, smallest first."""
    holding = [group for group in groups if mutation in group.members]
    return sorted(holding, key=lambda group: len(group.members))
