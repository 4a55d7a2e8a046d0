"""The members of the ``query-migrate`` reply and the migration events, read from a contract.

Like :mod:`fakeqemu.contracts.diff`'s flattening (the same path spelling), with what
mutations need besides: the ``$defs`` name of each member's type (one enum is one
type wherever it appears: ``status`` and ``MIGRATION.status`` are both
``MigrationStatus``), the union tags, and which paths are objects.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from fakeqemu.contracts.store import SPECIFIC_EVENTS, documents

Schema = dict[str, Any]


@dataclass(frozen=True)
class Member:
    """One member as a contract declares it."""

    path: str
    required: bool
    #: ``integer``, ``number``, ``string``, ``boolean``, ``object``, ``array``, ``enum``, ``any``.
    kind: str
    #: The ``$defs`` name of its type (``MigrationStatus``), if it has one.
    type_name: str | None = None
    values: tuple[str, ...] = ()
    #: It tells a union's variants apart (``socket-address[].type``).
    tag: bool = False


class _Reader:
    def __init__(self, defs: Mapping[str, Schema]) -> None:
        self._defs = defs
        self.members: dict[str, Member] = {}
        #: Object paths (``""`` is the root), each with its member names.
        self.objects: dict[str, list[str]] = {}

    def resolve(self, schema: Schema) -> tuple[Schema, str | None]:
        name = None
        while "$ref" in schema:
            name = schema["$ref"].rsplit("/", 1)[-1]
            schema = self._defs[name]
        return schema, name

    def object(self, schema: Schema, path: str, tags: tuple[str, ...] = ()) -> None:
        schema, _ = self.resolve(schema)
        names = self.objects.setdefault(path, [])
        prefix = f"{path}." if path else ""
        required = set(schema.get("required", []))
        branches = schema.get("allOf", [])
        own_tags = tags + tuple(tag for b in branches for tag in b["if"]["properties"])
        for name, member in schema.get("properties", {}).items():
            names.append(name)
            self.value(member, f"{prefix}{name}", name in required, name in own_tags)
        for branch in branches:
            ((tag, case),) = ((k, v["const"]) for k, v in branch["if"]["properties"].items())
            self.object(branch["then"], f"{prefix}{{{tag}={case}}}", own_tags)

    def value(self, schema: Schema, path: str, required: bool, tag: bool) -> None:
        target, type_name = self.resolve(schema)
        kind = "enum" if "enum" in target else str(target.get("type", "any"))
        values = tuple(target.get("enum", ()))
        self.members[path] = Member(path, required, kind, type_name, values, tag)
        while target.get("type") == "array":
            path = f"{path}[]"
            target, _ = self.resolve(target["items"])
        if target.get("type") == "object":
            self.object(target, path)


@dataclass(frozen=True)
class Shape:
    """The members and objects of one contract, reply and events, by path."""

    members: dict[str, Member]
    #: Object path (``return``, ``ram``, ``MIGRATION``...) -> its member names.
    objects: dict[str, list[str]]


@cache
def read_contract(profile: str, shape: str) -> Shape:
    """What mutations are derived from: ``query-migrate``'s reply and the events."""
    docs = documents(profile, shape)
    query = docs["query-migrate.json"]
    reply = _Reader(query["$defs"])
    reply.object(query["$defs"]["MigrationInfo"], "")
    members = dict(reply.members)
    objects = {("return" if path == "" else path): names for path, names in reply.objects.items()}
    for event in SPECIFIC_EVENTS:
        schema = docs[f"event-{event}.json"]
        reader = _Reader(schema.get("$defs", {}))
        reader.object(schema["allOf"][1]["properties"]["data"], event)
        members.update(reader.members)
        objects.update(reader.objects)
    return Shape(members, objects)


@cache
def dispatch_members(profile: str, shape: str) -> frozenset[str]:
    """Members the role contracts tell states apart by (``status``): leaving one out
    turns a reply into another state's, which is not drift but a different answer."""
    docs = documents(profile, shape)
    found: set[str] = set()
    for role in ("source", "destination"):
        for branch in docs[f"query-migrate-{role}.json"]["$defs"]["by-status"]["allOf"]:
            condition = branch.get("if", {})
            found.update(condition.get("properties", {}))
            found.update(condition.get("not", {}).get("required", []))
    return frozenset(found)
