"""Applying one mutation to the messages a fake sends.

An :class:`Applier` gets a copy of each ``query-migrate`` reply and migration event
(:mod:`fakeqemu.drift.paths`), may change it in place, and says what to send
instead: ``None`` when it changed nothing (the mutation was not exercised by that
message), else the messages to send (an ``enum`` mutation may add an event).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Protocol

from fakeqemu.drift.members import read_contract
from fakeqemu.drift.mutation import ADDED_MEMBER, Mutation
from fakeqemu.drift.paths import COMMAND, Path, objects_at, root_of
from fakeqemu.protocol.encoder import AsGiven, qdict_order

Message = dict[str, Any]
#: The value an added member carries: a counter, as most new QEMU members are.
ADDED_VALUE = 1
#: ``type:...=uint64``: the member's value moved above the largest int64.
UINT64_OFFSET = 1 << 63


class Applier(Protocol):
    mutation: Mutation

    def apply(self, target: str, message: Message) -> list[Message] | None: ...


class _MemberEdit:
    """Changes one member in every object that holds it (or, for ``add``, in every
    object at its parent's path); the subclass says what, and whether it did."""

    def __init__(self, mutation: Mutation) -> None:
        self.mutation = mutation
        assert mutation.member is not None
        self.path = mutation.member

    def apply(self, target: str, message: Message) -> list[Message] | None:
        if target != self.path.target:
            return None
        changed = False
        for parent in objects_at(root_of(target, message), self.path.parent.steps):
            changed |= self.edit(parent)
        return [message] if changed else None

    def edit(self, parent: Message) -> bool:
        raise NotImplementedError


class Drop(_MemberEdit):
    def edit(self, parent: Message) -> bool:
        return parent.pop(self.path.leaf.removesuffix("[]"), None) is not None


class Add(_MemberEdit):
    def edit(self, parent: Message) -> bool:
        parent[ADDED_MEMBER] = ADDED_VALUE
        return True


class Retype(_MemberEdit):
    def edit(self, parent: Message) -> bool:
        value = parent.get(self.path.leaf)
        if isinstance(value, int) and not isinstance(value, bool):
            parent[self.path.leaf] = retyped(value, self.mutation.value)
            return True
        return False


def retyped(value: int, kind: str | None) -> int | float:
    """A non-integral double (QEMU prints it with ``%.17g``), or a value above 2^63."""
    return value + 0.5 if kind == "float" else value + UINT64_OFFSET


class Reorder(_MemberEdit):
    """The object's members in reverse wire order: every object of two members or more
    then prints differently (QEMU's order is its hash table's, see ``qdict_order``)."""

    def apply(self, target: str, message: Message) -> list[Message] | None:
        if target != self.path.target:
            return None
        key = "return" if target == COMMAND else "data"
        if not self.path.steps:
            reordered = _reordered(message[key])
            if reordered is None:
                return None
            message[key] = reordered
            return [message]
        changed = False
        leaf = self.path.leaf
        for parent in objects_at(message[key], self.path.parent.steps):
            value = parent.get(leaf.removesuffix("[]"))
            if leaf.endswith("[]") and isinstance(value, list):
                items = [_reordered(item) for item in value]
                changed |= any(item is not None for item in items)
                parent[leaf[:-2]] = [new or old for new, old in zip(items, value, strict=True)]
            elif (reordered := _reordered(value)) is not None:
                parent[leaf] = reordered
                changed = True
        return [message] if changed else None


def _reordered(value: Any) -> AsGiven | None:
    if not isinstance(value, dict) or len(value) < 2:
        return None
    wire = qdict_order(list(value))
    return AsGiven((key, value[key]) for key in reversed(wire))


def enum_sites(profile: str, shape: str, path: Path) -> list[Path]:
    """Every member of the same enumeration as ``path`` (``status``, ``MIGRATION.status``)."""
    members = read_contract(profile, shape).members
    type_name = members[str(path)].type_name
    return [
        Path.parse(p) for p, m in members.items() if m.kind == "enum" and m.type_name == type_name
    ]


class Transient:
    """``enum:PATH=VALUE``: the value appears once, as the first a client sees.

    The first ``query-migrate`` reply that holds the member says ``VALUE`` instead;
    an event carrying it gets one more before it, saying ``VALUE`` (a later release
    adds a state: its event comes on top of the others).  Once for each fake.
    """

    def __init__(
        self,
        mutation: Mutation,
        sites: list[Path],
        values: list[str],
        by_value: Sequence[Mutation] = (),
    ) -> None:
        self.mutation = mutation
        self.sites = sites
        self.values = values
        #: Several ``enum:`` mutations of one member run together: the i-th value is the
        #: i-th one's, shown in the i-th reply (events: all before the first event).
        self._by_value = list(by_value)
        #: The mutations the last :meth:`apply` that changed something showed.
        self.changed: list[Mutation] = []
        self._sent: dict[str, int] = {}

    def _shown(self, indexes: Iterable[int]) -> None:
        by_value = self._by_value
        self.changed = [by_value[i] for i in indexes] if by_value else [self.mutation]

    def apply(self, target: str, message: Message) -> list[Message] | None:
        sent = self._sent.get(target, 0)
        if sent >= len(self.values):
            return None
        for site in self.sites:
            if site.target != target:
                continue
            holders = [
                parent
                for parent in objects_at(root_of(target, message), site.parent.steps)
                if site.leaf in parent
            ]
            if not holders:
                continue
            if target == COMMAND:
                for parent in holders:
                    parent[site.leaf] = self.values[sent]
                self._sent[target] = sent + 1
                self._shown([sent])
                return [message]
            extra = [_with(message, site, value) for value in self.values]
            self._sent[target] = len(self.values)
            self._shown(range(len(self.values)))
            return [*extra, message]
        return None


def _with(event: Message, site: Path, value: str) -> Message:
    copy = {**event, "data": {**event["data"]}}
    for parent in objects_at(copy["data"], site.parent.steps):
        parent[site.leaf] = value
    return copy


def applier(mutation: Mutation, profile: str, shape: str) -> Applier:
    """The applier of one local or ``enum`` mutation (``release`` has its own module)."""
    if mutation.kind == "drop":
        return Drop(mutation)
    if mutation.kind == "add":
        return Add(mutation)
    if mutation.kind == "type":
        return Retype(mutation)
    if mutation.kind == "order":
        return Reorder(mutation)
    if mutation.kind == "enum":
        return enum_applier([mutation], profile, shape)
    raise ValueError(f"{mutation.id}: no message applier for {mutation.kind}")


def enum_applier(mutations: Sequence[Mutation], profile: str, shape: str) -> Transient:
    """``enum:`` mutations of one member, together: each value shown once, in turn."""
    first = mutations[0]
    assert first.member is not None
    values = [str(mutation.value) for mutation in mutations]
    return Transient(first, enum_sites(profile, shape, first.member), values, mutations)
