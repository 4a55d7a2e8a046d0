"""One fake's outgoing messages under a run's mutations, and what they changed.

:class:`Drift` is a message transform (``QmpSession.message_transforms``): each
``query-migrate`` reply and migration event is copied, every mutation applied in
turn, and each mutation that changed something is reported with where it did
(``destination completed``, ``MIGRATION event``) through ``on_change``; that is how a
report tells a mutation no message carried (``unexercised``) from one a tool survived.
A ``shape`` mutation changes the fake itself (its machine answers in the other shape);
it counts as exercised by the replies the two shapes' contracts tell apart.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cache
from typing import Any

from fakeqemu.contracts.diff import flatten_return, presence, role_rules
from fakeqemu.contracts.store import documents
from fakeqemu.contracts.validator import ContractSet
from fakeqemu.drift.contract import mutated_contract
from fakeqemu.drift.mutate import Applier, Message, applier, enum_applier
from fakeqemu.drift.mutation import Mutation, join
from fakeqemu.drift.paths import COMMAND, copy_message, root_of, target_of
from fakeqemu.drift.release import Release

#: The command whose reply the ``shape`` mutation changes besides ``query-migrate``.
SCHEMA_COMMAND = "query-qmp-schema"

OnChange = Callable[[Mutation, str], None]


@cache
def shape_statuses(profile: str, before: str, after: str, role: str) -> frozenset[str]:
    """The statuses in which ``role``'s reply differs between two shapes' contracts."""
    old_docs, new_docs = documents(profile, before), documents(profile, after)
    old_types, new_types = flatten_return(old_docs), flatten_return(new_docs)
    old_rules, new_rules = role_rules(old_docs, role), role_rules(new_docs, role)
    shared = [p for p in new_types if p in old_types and "[]" not in p and "{" not in p]
    found = set()
    for status, (_, rule) in new_rules.items():
        old = old_rules.get(status)
        if old is None or any(
            presence(old[1], path, old_types) != presence(rule, path, new_types)
            for path in shared
            if path.count(".") <= 1
        ):
            found.add(status)
    return frozenset(found)


def where(role: str, target: str, message: Message) -> str:
    """``source active``, ``destination completed``, ``MIGRATION event``: for reports."""
    if target != COMMAND:
        return f"{target} event"
    status = root_of(target, message).get("status")
    return f"{role} {status}" if status is not None else f"{role} (no status)"


class Drift:
    """The mutations of one run, applied to the messages of one fake (``role``)."""

    def __init__(
        self,
        mutations: Sequence[Mutation],
        *,
        profile: str,
        shape: str,
        role: str,
        on_change: OnChange | None = None,
    ) -> None:
        self.mutations = tuple(mutations)
        self.profile, self.shape, self.role = profile, shape, role
        self._on_change = on_change
        self._appliers: list[Applier] = []
        self._shape_changes: list[tuple[Mutation, frozenset[str]]] = []
        enums: dict[str, list[Mutation]] = {}
        for mutation in self.mutations:
            if mutation.kind == "enum":
                enums.setdefault(mutation.path, []).append(mutation)
            elif mutation.kind == "shape":
                before, after = mutation.ends
                statuses = shape_statuses(profile, before, after, role)
                self._shape_changes.append((mutation, statuses))
            elif mutation.kind == "release":
                self._appliers.append(Release(mutation, shape, role))
            else:
                self._appliers.append(applier(mutation, profile, shape))
        # Values of one enumeration take turns in one applier, not overwrite each other.
        self._appliers += [enum_applier(same, profile, shape) for same in enums.values()]

    @property
    def contract(self) -> ContractSet:
        """What this fake's messages must keep to: its contract, mutated."""
        return mutated_contract(self.profile, self.shape, join(self.mutations))

    def problems(self, message: Any, *, command: str | None) -> list[str]:
        """How ``message`` (as sent) breaks the mutated contract; empty if it keeps it."""
        role = self.role if command == COMMAND else None
        return self.contract.problems(message, command=command, role=role)

    def __call__(self, name: str | None, message: Message) -> list[Message]:
        target = target_of(name, message)
        if target is None:
            if name == SCHEMA_COMMAND and "return" in message:
                for mutation, _ in self._shape_changes:
                    self._changed(mutation, "query-qmp-schema")
            return [message]
        context = where(self.role, target, message)
        for mutation, statuses in self._shape_changes:
            if target == COMMAND and root_of(target, message).get("status") in statuses:
                self._changed(mutation, context)
        messages = [copy_message(target, message)] if self._appliers else [message]
        for each in self._appliers:
            following: list[Message] = []
            for current in messages:
                result = each.apply(target, current)
                if result is None:
                    following.append(current)
                else:
                    following += result
                    for changed in getattr(each, "changed", None) or [each.mutation]:
                        self._changed(changed, context)
            messages = following
        return messages

    def _changed(self, mutation: Mutation, context: str) -> None:
        if self._on_change is not None:
            self._on_change(mutation, context)


def exercised_by(
    mutations: Sequence[Mutation],
    messages: Sequence[tuple[str, str, str | None, Message]],
    *,
    profile: str,
    shape: str,
) -> dict[Mutation, set[str]]:
    """What ``mutations`` would change in recorded messages (``fake``, role, name,
    message as the fake sent them), each fake's in order: a mutation missing from the
    answer would have changed nothing, so that run needs no rerun to call it unexercised."""
    found: dict[Mutation, set[str]] = {}

    def record(mutation: Mutation, context: str) -> None:
        found.setdefault(mutation, set()).add(context)

    drifts: dict[str, Drift] = {}
    for fake, role, name, message in messages:
        drift = drifts.get(fake)
        if drift is None:
            drift = Drift(mutations, profile=profile, shape=shape, role=role, on_change=record)
            drifts[fake] = drift
        drift(name, message)
    return found
