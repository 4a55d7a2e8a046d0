"""The contract of a mutated fake: the shipped schemas, changed as the mutations change messages.

Strict mode checks what a drifted fake sends against this, so a message that breaks
it is the fake's (or the mutation's) mistake, never the tool's:

* ``drop:P``: P is required nowhere (not in its type, not in any role rule);
* ``add:P``: the unknown member is allowed in its object;
* ``type:P=float``: P is a number; ``=uint64``: still an integer; either way the
  role rules' constant or minimum for P no longer holds;
* ``enum:P=V``: V belongs to the enumeration, and no role rule claims it (it
  replaces another state's value, so its reply is that state's);
* ``order:P``: nothing (JSON objects have no order);
* ``release:A->B``: B's contract (its added status values as ``enum`` has them);
* ``shape:S->T``: the contract of shape T.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Sequence
from functools import cache
from typing import Any

from fakeqemu.contracts.store import SPECIFIC_EVENTS, documents
from fakeqemu.contracts.validator import ContractSet
from fakeqemu.drift.members import read_contract
from fakeqemu.drift.mutation import Mutation, parse_drift
from fakeqemu.drift.paths import COMMAND, Path
from fakeqemu.drift.release import added_values

Schema = dict[str, Any]
Docs = dict[str, Schema]
ROLE_FILES = ("query-migrate-source.json", "query-migrate-destination.json")


def base_of(profile: str, shape: str, mutations: Sequence[Mutation]) -> tuple[str, str]:
    """Whose contract a mutated fake keeps to before the member-level changes."""
    for mutation in mutations:
        if mutation.kind == "release":
            profile = mutation.ends[1]
        elif mutation.kind == "shape":
            shape = mutation.ends[1]
    return profile, shape


@cache
def mutated_contract(profile: str, shape: str, drift: str) -> ContractSet:
    """The contract of a ``profile``/``shape`` fake under ``drift`` (ids joined by ``+``)."""
    mutations = parse_drift(drift) if drift else ()
    base = base_of(profile, shape, mutations)
    docs: Docs = copy.deepcopy(documents(*base))
    for mutation in mutations:
        if mutation.kind == "release":
            _, values = added_values(*mutation.ends, shape)
            _unclaim(docs, values)
        elif mutation.kind in ("drop", "add", "type", "enum"):
            _change(docs, base, mutation)
    return ContractSet(docs)


def _change(docs: Docs, base: tuple[str, str], mutation: Mutation) -> None:
    path = mutation.member
    assert path is not None
    if mutation.kind == "enum":
        assert mutation.value is not None
        type_name = read_contract(*base).members[str(path)].type_name
        for doc in docs.values():
            enum = doc.get("$defs", {}).get(type_name, {}).get("enum")
            if enum is not None and mutation.value not in enum:
                enum.append(mutation.value)
        _unclaim(docs, [mutation.value])
        return
    for parent in _type_parents(docs, path.parent):
        if mutation.kind == "drop":
            _unrequire(parent, path.leaf)
        elif mutation.kind == "add":
            parent.setdefault("properties", {})[path.leaf] = {}
        elif mutation.value == "float":
            parent["properties"][path.leaf] = {"type": "number"}
    if path.target == COMMAND and len(path.steps) <= 2:
        for rule in _rules(docs):
            _relax_rule(rule, path, mutation.kind)


def _relax_rule(rule: Schema, path: Path, kind: str) -> None:
    top = path.steps[0]
    narrowing = rule.get("properties", {}).get(top)
    if len(path.steps) == 1:
        holder, leaf = rule, top
    elif isinstance(narrowing, dict):
        holder, leaf = narrowing, path.steps[1]
    else:
        return
    if kind == "drop":
        _unrequire(holder, leaf)
        alternatives = holder.get("oneOf", [])
        if any(leaf in alternative.get("required", []) for alternative in alternatives):
            del holder["oneOf"]  # one of two members, the dropped one among them
    elif kind == "type":
        limits = holder.get("properties", {}).get(leaf)
        if isinstance(limits, dict):
            for keyword in ("const", "minimum"):
                limits.pop(keyword, None)


def _unrequire(schema: Schema, name: str) -> None:
    required = schema.get("required")
    if required is not None and name in required:
        required.remove(name)
        if not required:
            del schema["required"]


def _unclaim(docs: Docs, values: Sequence[str]) -> None:
    """No role rule speaks of ``values``: a status that stands in for another's reply."""
    for filename in ROLE_FILES:
        for branch in docs[filename]["$defs"]["by-status"]["allOf"]:
            condition = branch.get("if", {}).get("properties", {}).get("status", {})
            if "enum" in condition:
                condition["enum"] = [v for v in condition["enum"] if v not in values] or [None]
        for rule in docs[filename]["$defs"].values():
            excluded = rule.get("properties", {}).get("status", {}).get("not", {})
            if "enum" in excluded:
                excluded["enum"] = [v for v in excluded["enum"] if v not in values] or [None]


def _rules(docs: Docs) -> Iterator[Schema]:
    for filename in ROLE_FILES:
        for name, rule in docs[filename]["$defs"].items():
            if name != "by-status":
                yield rule


def _type_parents(docs: Docs, parent: Path) -> list[Schema]:
    """The object schemas that declare the members of the object at ``parent``."""
    if parent.target in SPECIFIC_EVENTS:
        doc = docs[f"event-{parent.target}.json"]
        start: Schema = doc["allOf"][1]["properties"]["data"]
    else:
        doc = docs["query-migrate.json"]
        start = doc["$defs"]["MigrationInfo"]
    defs = doc.get("$defs", {})
    current = [start]
    for step in parent.steps:
        following = []
        for schema in current:
            if step.startswith("{"):
                tag, _, case = step[1:-1].partition("=")
                following += [
                    branch["then"]
                    for branch in schema.get("allOf", [])
                    if branch["if"]["properties"].get(tag, {}).get("const") == case
                ]
                continue
            member = _resolve(schema.get("properties", {}).get(step.removesuffix("[]"), {}), defs)
            if step.endswith("[]"):
                member = _resolve(member.get("items", {}), defs)
            following.append(member)
        current = following
    return current


def _resolve(schema: Schema, defs: Schema) -> Schema:
    while "$ref" in schema:
        schema = defs[schema["$ref"].rsplit("/", 1)[-1]]
    return schema
