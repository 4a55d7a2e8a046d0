"""Validating QMP messages against the shipped contracts.

The schemas of one profile and shape go into a :class:`referencing.Registry`
under their ``$id``; references between them resolve there and nowhere else
(the registry has no retriever, so nothing is ever fetched).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import cache
from typing import Any
from urllib.parse import urldefrag, urljoin

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError, best_match
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from fakeqemu.contracts import ROLES
from fakeqemu.contracts.errors import ContractError
from fakeqemu.contracts.store import SPECIFIC_EVENTS, documents

#: How much of a jsonschema message to keep: some repeat the whole instance.
_MESSAGE_LIMIT = 160


class ContractSet:
    """The schemas of one contract, ready to validate with: a shipped profile and shape
    (:func:`contract_set`), or documents derived from them (schema drift's mutated
    contracts, :mod:`fakeqemu.drift.contract`), which keep the shipped ``$id`` s."""

    def __init__(self, docs: Mapping[str, dict[str, Any]]) -> None:
        self.docs = docs
        resources = [
            (schema["$id"], Resource.from_contents(schema, default_specification=DRAFT202012))
            for schema in docs.values()
        ]
        empty: Registry[Any] = Registry()
        self.registry = empty.with_resources(resources)
        self._validators: dict[str, Draft202012Validator] = {}

    def validator(self, filename: str) -> Draft202012Validator:
        found = self._validators.get(filename)
        if found is None:
            found = Draft202012Validator(self.docs[filename], registry=self.registry)
            self._validators[filename] = found
        return found

    def event_names(self) -> list[str]:
        names: list[str] = self.docs["qmp-event.json"]["properties"]["event"]["enum"]
        return names

    def contract_for(self, message: Any, *, command: str | None, role: str | None) -> str:
        """The schema file that states ``message``'s contract.

        ``command`` picks it; without one, the message's own keys say what it is.
        """
        if role is not None and role not in ROLES:
            raise ValueError(f"unknown role {role!r}; expected one of {', '.join(ROLES)}")
        keys = message.keys() if isinstance(message, dict) else ()
        if command is None:
            if "QMP" in keys:
                return "qmp-greeting.json"
            command = message.get("event") if "event" in keys else None
        if command == "query-migrate":
            return f"query-migrate-{role}.json" if role else "query-migrate.json"
        if command in SPECIFIC_EVENTS:
            return f"event-{command}.json"
        if command in self.event_names() or "event" in keys:
            return "qmp-event.json"
        return "qmp-error.json" if "error" in keys else "qmp-success.json"

    def problems(self, message: Any, *, command: str | None, role: str | None) -> list[str]:
        """Every way ``message`` breaks this contract, most relevant first; empty if none."""
        filename = self.contract_for(message, command=command, role=role)
        found: list[str] = []
        named = isinstance(message, dict) and command is not None
        if filename == "qmp-event.json" and named and message.get("event") != command:
            found.append(
                f"$.event: expected {command!r}, got {message.get('event')!r} [event name]"
            )
        errors = list(self.validator(filename).iter_errors(message))
        if errors:
            first = best_match(errors)
            rest = sorted(
                (e for e in errors if e is not first), key=lambda e: json_path(e.absolute_path)
            )
            root = self.docs[filename]["$id"]
            for error in [first, *rest]:
                found += _describe(error, message, root, self.registry)
        return list(dict.fromkeys(found))  # one line per problem, first occurrence first


@cache
def contract_set(profile: str, shape: str) -> ContractSet:
    """The shipped contract of ``profile`` and ``shape`` (loaded once)."""
    return ContractSet(documents(profile, shape))


def registry(profile: str, shape: str) -> Registry[Any]:
    return contract_set(profile, shape).registry


def validator(profile: str, shape: str, filename: str) -> Draft202012Validator:
    return contract_set(profile, shape).validator(filename)


def event_names(profile: str, shape: str) -> list[str]:
    return contract_set(profile, shape).event_names()


def contract_for(
    message: Any, *, profile: str, shape: str, command: str | None, role: str | None
) -> str:
    """The schema file that states ``message``'s contract (see :meth:`ContractSet.contract_for`)."""
    return contract_set(profile, shape).contract_for(message, command=command, role=role)


def problems(
    message: Any, *, profile: str, shape: str, command: str | None, role: str | None
) -> list[str]:
    """Every way ``message`` breaks its contract, most relevant first; empty if none."""
    return contract_set(profile, shape).problems(message, command=command, role=role)


def validate_message(
    message: Any, *, profile: str, shape: str, command: str | None, role: str | None
) -> None:
    found = problems(message, profile=profile, shape=shape, command=command, role=role)
    if found:
        raise ContractError(found)


def json_path(steps: Iterable[str | int]) -> str:
    """``$.return.ram.total-time``: QMP member names read best unquoted."""
    return "$" + "".join(f"[{step}]" if isinstance(step, int) else f".{step}" for step in steps)


def _describe(error: ValidationError, message: Any, root: str, schemas: Registry[Any]) -> list[str]:
    """``JSON path: what is wrong [why; keyword at file#/pointer]`` for one error."""
    location, description, node = _locate(error.schema_path, root, schemas)
    path = json_path(error.absolute_path)
    rule = f"{description}; " if description else ""
    if error.schema is False:
        # A `false` member schema: the member exists in QAPI but not in this reply.
        # jsonschema reports it at the enclosing object without the member's name,
        # so name the forbidden members of that object that hold this very value.
        parent = message
        for step in error.absolute_path:
            parent = parent[step]
        names = [
            name
            for name, value in parent.items()
            if isinstance(node, dict) and node.get(name) is False and value is error.instance
        ]
        return [
            f"{path}.{name}: is not allowed here [{rule}false at {location}/{name}]"
            for name in names
        ]
    what = error.message
    if len(what) > _MESSAGE_LIMIT:
        what = what[: _MESSAGE_LIMIT - 3] + "..."
    return [f"{path}: {what} [{rule}{error.validator} at {location}]"]


def _locate(
    schema_path: Iterable[Any], root: str, schemas: Registry[Any]
) -> tuple[str, str | None, Any]:
    """Follow a jsonschema ``schema_path`` (which skips ``$ref`` hops) through the schemas.

    Returns where the failing keyword sits, as ``file#/pointer``, the
    description of the innermost rule on the way (it says why), and the node.
    """
    resolver = schemas.resolver(base_uri=root)
    node: Any = resolver.lookup(root).contents
    base, pointer = root, []
    description: str | None = None
    for part in schema_path:
        while isinstance(node, dict) and "$ref" in node and part not in node:
            target = urljoin(base, node["$ref"])
            resolved = resolver.lookup(node["$ref"])
            resolver, node = resolved.resolver, resolved.contents
            base, fragment = urldefrag(target)
            pointer = [p for p in fragment.split("/") if p]
            description = _rule_description(node, description)
        node = node[part]
        pointer.append(str(part))
        description = _rule_description(node, description)
    filename = base.rsplit("/", 1)[-1]
    return f"{filename}#/{'/'.join(pointer)}", description, node


def _rule_description(node: Any, current: str | None) -> str | None:
    """A node's description, unless it is a whole document's (provenance, not a rule)."""
    if isinstance(node, dict) and isinstance(node.get("description"), str) and "$id" not in node:
        found: str = node["description"]
        return found
    return current
