"""``release:A->B``: a fake of release A sends what B's contract says, all at once.

Every difference ``fakeqemu contracts diff A/S B/S`` lists is applied to each message,
from the same readings of the two contracts:

* members B lacks are left out; members B adds appear (with a value of their type)
  wherever B's role contract allows them in that status;
* a member B's role contract forbids in a status is left out, one it requires is added;
* each status value B adds appears once, as a ``enum:`` mutation shows one.

Values of added members are placeholders of the right type (the rule's constant or
minimum where it has one): drift tests a tool's decoding, not QEMU's arithmetic.
"""

from __future__ import annotations

import re
from typing import Any

from fakeqemu.contracts.diff import NO_STATUS, flatten_return, presence, role_rules
from fakeqemu.contracts.store import documents
from fakeqemu.drift.members import Member, read_contract
from fakeqemu.drift.mutate import Message, Transient
from fakeqemu.drift.mutation import Mutation
from fakeqemu.drift.paths import COMMAND, Path, objects_at, root_of

Schema = dict[str, Any]
_PLACEHOLDERS: dict[str, Any] = {
    "integer": 0,
    "number": 0.0,
    "string": "",
    "boolean": False,
    "array": [],
}


def added_values(before: str, after: str, shape: str) -> tuple[Path | None, list[str]]:
    """The status enumeration's path and the values ``after`` adds to ``before``'s."""
    old, new = read_contract(before, shape).members, read_contract(after, shape).members
    for path, member in new.items():
        if member.kind == "enum" and not member.tag and path in old:
            added = [v for v in member.values if v not in old[path].values]
            if added:
                return Path.parse(path), added
    return None, []


class Release:
    """The applier of one ``release:A->B`` mutation, for one fake."""

    def __init__(self, mutation: Mutation, shape: str, role: str) -> None:
        self.mutation = mutation
        before, after = mutation.ends
        self.role = role
        old = read_contract(before, shape)
        new = read_contract(after, shape)
        self._new = new.members
        self._removed = [Path.parse(p) for p in old.members if p not in new.members]
        self._added = [Path.parse(p) for p in new.members if p not in old.members]
        docs = documents(after, shape)
        self._types = flatten_return(docs)
        self._rules = role_rules(docs, role)
        self._objects = new.objects
        status, values = added_values(before, after, shape)
        sites = [] if status is None else [status, *_same_enum(new.members, status)]
        self._statuses = Transient(mutation, sites, values)

    def apply(self, target: str, message: Message) -> list[Message] | None:
        root = root_of(target, message)
        changed = False
        for path in self._removed:
            if path.target == target:
                for parent in objects_at(root, path.parent.steps):
                    changed |= parent.pop(path.leaf, None) is not None
        if target == COMMAND:
            changed |= self._follow_rule(root)
        for path in self._added:
            if path.target == target and (target != COMMAND or self._allowed(root, path)):
                changed |= self._put(root, path)
        inserted = self._statuses.apply(target, message)
        return inserted if inserted is not None else ([message] if changed else None)

    def _rule(self, info: dict[str, Any]) -> Schema | None:
        found = self._rules.get(info.get("status", NO_STATUS))
        return None if found is None else found[1]

    def _allowed(self, info: dict[str, Any], path: Path) -> bool:
        rule = self._rule(info)
        if rule is None or len(path.steps) > 2 or "[]" in str(path) or "{" in str(path):
            return rule is not None and not rule.get("never")
        text = presence(rule, str(path), self._types)
        return text.startswith(("required", "optional"))

    def _follow_rule(self, info: dict[str, Any]) -> bool:
        """Members B's rule for this status forbids go, members it requires come."""
        rule = self._rule(info)
        if rule is None or rule.get("never"):
            return False
        changed = False
        for text in self._types:
            path = Path.parse(text)
            if len(path.steps) > 2 or "[]" in text or "{" in text:
                continue  # role rules narrow members and members of members only
            wanted = presence(rule, text, self._types)
            for parent in objects_at(info, path.parent.steps):
                if wanted == "absent" and path.leaf in parent:
                    del parent[path.leaf]
                    changed = True
                elif wanted.startswith("required") and path.leaf not in parent:
                    parent[path.leaf] = self._placeholder(text, wanted)
                    changed = True
        return changed

    def _put(self, root: Any, path: Path) -> bool:
        changed = False
        for parent in objects_at(root, path.parent.steps):
            if path.leaf not in parent:
                parent[path.leaf] = self._placeholder(str(path), "")
                changed = True
        return changed

    def _placeholder(self, path: str, rule_text: str) -> Any:
        """A value of the member's type: the rule's constant or minimum if it states one."""
        # presence() spells a rule's limit "= 0" or ">= 1".
        limit = re.search(r"=\s*(-?\d+)", rule_text)
        if limit is not None:
            return int(limit.group(1))
        return self._value(self._new[path], path)

    def _value(self, member: Member, path: str) -> Any:
        if member.kind == "enum":
            return member.values[0]
        if member.kind != "object":
            return _PLACEHOLDERS.get(member.kind)
        return {
            name: self._value(self._new[f"{path}.{name}"], f"{path}.{name}")
            for name in self._objects.get(path, [])
            if self._new[f"{path}.{name}"].required
        }


def _same_enum(members: dict[str, Member], path: Path) -> list[Path]:
    type_name = members[str(path)].type_name
    return [
        Path.parse(p)
        for p, m in members.items()
        if p != str(path) and m.kind == "enum" and m.type_name == type_name
    ]
