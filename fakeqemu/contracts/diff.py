"""``fakeqemu contracts diff``: what changes between two contracts, member by member.

It reads the shipped schemas, not the generator's inputs, so it reports what
a tool author's validator would see.  Three parts:

* the ``query-migrate`` return type and the event payloads: members added,
  removed, made optional or required, type changes, enum values changed;
* per role, member presence in each status (required, optional, absent) for
  members and statuses both contracts know (new ones are already listed above);
* statuses that are new in the second contract, with the rule that covers them.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from fakeqemu.contracts.qapi_types import FEATURES_KEYWORD
from fakeqemu.contracts.store import SPECIFIC_EVENTS, documents

Schema = dict[str, Any]
NO_STATUS = "(no status)"


@dataclass(frozen=True)
class Member:
    """One member of a flattened type, e.g. ``ram.dirty-sync-count``."""

    required: bool
    kind: str
    values: tuple[str, ...] = ()
    features: tuple[str, ...] = ()

    def summary(self) -> str:
        parts = ["required" if self.required else "optional", self.kind]
        return " ".join(parts) + "".join(f", {feature}" for feature in self.features)


class _Flattener:
    def __init__(self, defs: Mapping[str, Schema]) -> None:
        self._defs = defs
        self.members: dict[str, Member] = {}

    def resolve(self, schema: Schema) -> Schema:
        while "$ref" in schema:
            schema = self._defs[schema["$ref"].rsplit("/", 1)[-1]]
        return schema

    def kind(self, schema: Schema) -> str:
        schema = self.resolve(schema)
        if "enum" in schema:
            return "enum"
        if schema.get("type") == "array":
            return f"array of {self.kind(schema['items'])}"
        return str(schema.get("type", "any"))

    def object(self, schema: Schema, prefix: str) -> None:
        schema = self.resolve(schema)
        required = set(schema.get("required", []))
        for name, member in schema.get("properties", {}).items():
            self.value(member, f"{prefix}{name}", name in required)
        for branch in schema.get("allOf", []):
            ((tag, case),) = ((k, v["const"]) for k, v in branch["if"]["properties"].items())
            self.object(branch["then"], f"{prefix}{{{tag}={case}}}.")

    def value(self, schema: Schema, path: str, required: bool) -> None:
        target = self.resolve(schema)
        values = tuple(target.get("enum", ()))
        features = tuple(schema.get(FEATURES_KEYWORD, ()))
        self.members[path] = Member(required, self.kind(schema), values, features)
        while target.get("type") == "array":
            path, target = f"{path}[]", self.resolve(target["items"])
        if target.get("type") == "object":
            self.object(target, f"{path}.")


def flatten_return(docs: Mapping[str, Schema]) -> dict[str, Member]:
    query = docs["query-migrate.json"]
    flattener = _Flattener(query["$defs"])
    flattener.object(query["$defs"]["MigrationInfo"], "")
    return flattener.members


def flatten_event(docs: Mapping[str, Schema], event: str) -> dict[str, Member]:
    schema = docs[f"event-{event}.json"]
    flattener = _Flattener(schema.get("$defs", {}))
    flattener.object(schema["allOf"][1]["properties"]["data"], "data.")
    return flattener.members


def type_changes(old: Mapping[str, Member], new: Mapping[str, Member]) -> list[tuple[str, str]]:
    changes: list[tuple[str, str]] = []
    gone_or_new: list[str] = []
    for path in [*old, *(p for p in new if p not in old)]:
        if any(path.startswith((parent + ".", parent + "[]")) for parent in gone_or_new):
            continue  # inside a member that is added or removed as a whole
        before, after = old.get(path), new.get(path)
        if before is None and after is not None:
            changes.append((path, f"added ({after.summary()})"))
            gone_or_new.append(path)
        elif after is None or before is None:
            changes.append((path, "removed"))
            gone_or_new.append(path)
        else:
            changes += [(path, text) for text in _member_changes(before, after)]
    return changes


def _member_changes(before: Member, after: Member) -> Iterator[str]:
    if before.required != after.required:
        yield "made required" if after.required else "made optional"
    if before.kind != after.kind:
        yield f"type changed: {before.kind} -> {after.kind}"
    added = [v for v in after.values if v not in before.values]
    removed = [v for v in before.values if v not in after.values]
    if added:
        yield "enum values added: " + ", ".join(added)
    if removed:
        yield "enum values removed: " + ", ".join(removed)
    if before.features != after.features:
        yield f"features changed: {list(before.features)} -> {list(after.features)}"


def role_rules(docs: Mapping[str, Schema], role: str) -> dict[str, tuple[str, Schema]]:
    """Status (or :data:`NO_STATUS`) -> (rule name, rule schema) of one role."""
    schema = docs[f"query-migrate-{role}.json"]
    defs = schema["$defs"]
    rules: dict[str, tuple[str, Schema]] = {}
    for branch in defs["by-status"]["allOf"]:
        if "if" not in branch:
            name = branch["$ref"].rsplit("/", 1)[-1]
            for status in defs[name]["properties"]["status"]["not"]["enum"]:
                rules[status] = (name, {"never": True})
            continue
        name = branch["then"]["$ref"].rsplit("/", 1)[-1]
        condition = branch["if"]
        statuses = (
            condition["properties"]["status"]["enum"] if "properties" in condition else [NO_STATUS]
        )
        for status in statuses:
            rules[status] = (name, defs[name])
    return rules


def presence(rule: Schema, path: str, types: Mapping[str, Member]) -> str:
    """How a member appears under a rule: ``required``, ``optional`` or ``absent``, with limits."""
    if rule.get("never"):
        return "never reported"
    top, _, child = path.partition(".")
    narrowing = rule.get("properties", {}).get(top)
    if narrowing is False:
        return "absent"
    if child:
        narrowing = (narrowing or {}).get("properties", {}).get(child)
        if narrowing is False:
            return "absent"
        parent_required = (rule.get("properties", {}).get(top) or {}).get("required", [])
        required = child in parent_required or types[path].required
    else:
        required = top in rule.get("required", [])
    text = "required" if required else "optional"
    if isinstance(narrowing, dict) and "const" in narrowing:
        text += f", = {narrowing['const']}"
    if isinstance(narrowing, dict) and "minimum" in narrowing:
        text += f", >= {narrowing['minimum']}"
    return text


def _narrowed(rule: Schema, top: str) -> bool:
    narrowing = rule.get("properties", {}).get(top)
    return isinstance(narrowing, dict) and ("properties" in narrowing or "required" in narrowing)


def role_changes(
    old_docs: Mapping[str, Schema], new_docs: Mapping[str, Schema], role: str
) -> list[tuple[str, str]]:
    old_types, new_types = flatten_return(old_docs), flatten_return(new_docs)
    old_rules, new_rules = role_rules(old_docs, role), role_rules(new_docs, role)
    shared = [p for p in old_types if p in new_types]
    grouped: dict[tuple[str, str], list[str]] = {}
    for status, (name, new_rule) in new_rules.items():
        if status not in old_rules:
            grouped.setdefault((f"status {status}", f"added, rule {name}"), []).append(status)
            continue
        old_rule = old_rules[status][1]
        for path in shared:
            top, _, child = path.partition(".")
            if "[]" in path or "{" in path or "." in child:
                continue  # rules narrow members and members of members, no deeper
            if child and not (
                _narrowed(old_rule, top)
                or _narrowed(new_rule, top)
                or presence(old_rule, top, old_types) != presence(new_rule, top, new_types)
            ):
                continue  # follows the type, whose changes are listed already
            before = presence(old_rule, path, old_types)
            after = presence(new_rule, path, new_types)
            if before != after:
                grouped.setdefault((path, f"{before} -> {after}"), []).append(status)
    return [
        (
            path,
            change if path.startswith("status ") else f"{change}  (status {', '.join(statuses)})",
        )
        for (path, change), statuses in grouped.items()
    ]


#: One section of the report: its title, its changes (path, text), and the first
#: contract's members there (what a decoder written against it knows), if a type.
Section = tuple[str, list[tuple[str, str]], Mapping[str, Member] | None]


def sections(old_docs: Mapping[str, Schema], new_docs: Mapping[str, Schema]) -> list[Section]:
    """Every part of the report, in order: the return type, each role, each event."""
    old_return = flatten_return(old_docs)
    found: list[Section] = [
        (
            "query-migrate return (MigrationInfo)",
            type_changes(old_return, flatten_return(new_docs)),
            old_return,
        ),
        ("query-migrate reply of a source", role_changes(old_docs, new_docs, "source"), None),
        (
            "query-migrate reply of a destination",
            role_changes(old_docs, new_docs, "destination"),
            None,
        ),
    ]
    for event in SPECIFIC_EVENTS:
        old_event = flatten_event(old_docs, event)
        changes = type_changes(old_event, flatten_event(new_docs, event))
        found.append((f"{event} event", changes, old_event))
    return found


def diff(old: str, new: str, *, verdict: bool = False) -> list[str]:
    """The report for ``PROFILE/SHAPE`` against ``PROFILE/SHAPE``, as lines; ``verdict``
    marks each change breaking or safe per kind of decoder (:mod:`.verdict`)."""
    from fakeqemu.contracts.verdict import DECODERS, judge

    old_docs, new_docs = documents(*_split(old)), documents(*_split(new))
    lines = [f"contracts {old} -> {new}"]
    if verdict:
        lines.append("verdicts for decoders written against the first: " + ", ".join(DECODERS))
    for title, changes, known in sections(old_docs, new_docs):
        if not changes:
            lines.append(f"{title}: no change")
            continue
        lines.append(f"{title}:")
        width = max(len(path) for path, _ in changes)
        for path, change in changes:
            line = f"  {path.ljust(width)}  {change}"
            if verdict:
                verdicts = judge(path, change, known)
                line += "  [" + ", ".join(f"{d}: {verdicts[d]}" for d in DECODERS) + "]"
            lines.append(line)
    return lines


def _split(target: str) -> tuple[str, str]:
    profile, sep, shape = target.partition("/")
    if not sep:
        raise ValueError(f"expected PROFILE/SHAPE such as 11.1/old, got {target!r}")
    return profile, shape
