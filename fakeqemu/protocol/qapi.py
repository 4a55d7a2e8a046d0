"""Command arguments checked the way QEMU's QObject input visitor checks them.

QEMU generates one marshalling function per command from its QAPI schema; the
function visits the argument dict member by member and the first problem
wins.  We walk the release's own ``query-qmp-schema`` introspection instead,
so every command of every profile gets QEMU's checks and messages without a
line of per-command code (qapi/qobject-input-visitor.c, qapi/qapi-visit-core.c).

Introspection folds every integer type into ``int``, but the messages differ
between ``int64``, ``uint64`` and ``uint8_t``; profiles supply those kinds for
the members that need them (``integer_kinds``), keyed by member name.  The
same goes for the names of alternate types, which introspection masks.

Arguments nest as deep as QEMU's JSON parser allows (1,024 levels, e.g. a
``blockdev-add`` ``file`` inside a ``file`` ...), deeper than Python's
recursion limit.  So the visitors are generators: where a visitor needs a
nested value visited it yields the nested visitor (or an already visited
value), and :func:`_run` drives them with an explicit stack.  The code still
reads as the recursive walk QEMU does, and checks in the same order.
"""

from __future__ import annotations

from collections.abc import Generator, Mapping, Sequence
from dataclasses import dataclass, field
from types import GeneratorType
from typing import Any, TypeAlias

from fakeqemu.errors import QmpError
from fakeqemu.protocol.encoder import qdict_order
from fakeqemu.protocol.glib_hash import StringSet

_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_UINT64_MAX = 2**64 - 1

#: C integer kinds: (min, max, name QEMU prints in range errors).
_SIGNED = {
    "int8": (-(2**7), 2**7 - 1),
    "int16": (-(2**15), 2**15 - 1),
    "int32": (-(2**31), 2**31 - 1),
}
_UNSIGNED = {"uint8": 2**8 - 1, "uint16": 2**16 - 1, "uint32": 2**32 - 1}

_CONTAINERS = (dict, list)

_JSON_TYPE_NAMES = {
    "string": "string",
    "boolean": "boolean",
    "number": "number",
    "null": "null",
    "int": "integer",
}


class _Path:
    """Where the visitor is, to build QEMU's ``full_name()`` for messages.

    A linked list from the innermost step outwards: a step costs the same at any depth,
    and the text is only put together for an error message.
    """

    __slots__ = ("_parent", "_step")

    def __init__(self, parent: _Path | None = None, step: str = "") -> None:
        self._parent = parent
        self._step = step

    def member(self, name: str) -> _Path:
        return _Path(self, "." + name)

    def element(self, index: int) -> _Path:
        return _Path(self, f"[{index}]")

    def full(self) -> str:
        steps: list[str] = []
        node: _Path | None = self
        while node is not None:
            steps.append(node._step)
            node = node._parent
        text = "".join(reversed(steps))
        return text[1:] if text.startswith(".") else text

    def bare(self) -> str:
        """The bare member name, or ``null`` for list elements (C's ``name ?: "null"``)."""
        if self._parent is None or self._step.startswith("["):
            return "null"
        return self._step[1:]


#: A visitor: yields nested visitors (or values already visited), gets their results
#: sent back, and returns its own result.
_Visitor: TypeAlias = Generator[Any, Any, Any]


def _run(visitor: _Visitor | Any) -> Any:
    """Drive ``visitor`` and every visitor it yields, innermost first, without recursion.

    Anything but a visitor is a value already visited, and is returned as it is.
    """
    if type(visitor) is not GeneratorType:
        return visitor
    stack = [visitor]
    result: Any = None
    while stack:
        try:
            request = stack[-1].send(result)
        except StopIteration as done:
            stack.pop()
            result = done.value
            continue
        if type(request) is GeneratorType:
            stack.append(request)
            result = None  # starts the nested visitor
        else:
            result = request  # visited without nesting: hand it straight back
    return result


@dataclass
class QapiSchema:
    """One release's introspection, indexed for argument checking."""

    types: dict[str, dict[str, Any]]
    commands: dict[str, dict[str, Any]]
    integer_kinds: Mapping[str, str] = field(default_factory=dict)
    alternate_names: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_introspection(
        cls,
        entities: Sequence[dict[str, Any]],
        integer_kinds: Mapping[str, str] | None = None,
        alternate_names: Mapping[str, str] | None = None,
    ) -> QapiSchema:
        types: dict[str, dict[str, Any]] = {}
        commands: dict[str, dict[str, Any]] = {}
        for entity in entities:
            if entity["meta-type"] == "command":
                commands[entity["name"]] = entity
            elif entity["meta-type"] != "event":
                types[entity["name"]] = entity
        return cls(types, commands, integer_kinds or {}, alternate_names or {})

    def return_members(self, command: str) -> list[str]:
        """Member names of a command's return type, in declaration order."""
        info = self.types[self.commands[command]["ret-type"]]
        return [m["name"] for m in info.get("members", [])]

    def order_return(self, command: str, value: Any) -> Any:
        """``value`` with every object's members in declaration order.

        The encoder prints in QDict hash order, which depends on insertion
        order within a bucket; inserting as QEMU's output visitor does (member
        declaration order) makes the bytes match whatever order a handler used.
        """
        return _run(self._order(self.commands[command]["ret-type"], value))

    def _order(self, type_name: str, value: Any) -> Any:
        """The value in declaration order, or a visitor where containers nest in it."""
        info = self.types.get(type_name)
        meta = None if info is None else info["meta-type"]
        if meta == "array" and isinstance(value, list):
            assert info is not None
            return self._order_array(info["element-type"], value)
        if meta == "object" and isinstance(value, dict):
            assert info is not None
            member_types = self._member_types(info, value)
            for member in value.values():
                if isinstance(member, _CONTAINERS):
                    return self._order_object(member_types, value)
            ordered = {name: value[name] for name in member_types if name in value}
            ordered.update((k, v) for k, v in value.items() if k not in ordered)
            return ordered
        if meta == "alternate":
            assert info is not None
            for member in info["members"]:
                if _alternate_accepts(self.types[member["type"]], value):
                    return self._order(member["type"], value)  # never an alternate again
        return value

    def _order_array(self, element_type: str, value: list[Any]) -> _Visitor:
        items = []
        for item in value:
            items.append((yield self._order(element_type, item)))  # noqa: PERF401 - a yield
        return items

    def _order_object(self, member_types: dict[str, str], value: dict[str, Any]) -> _Visitor:
        ordered = {}
        for name, member_type in member_types.items():
            if name in value:
                ordered[name] = yield self._order(member_type, value[name])
        ordered.update((k, v) for k, v in value.items() if k not in ordered)
        return ordered

    def _member_types(self, info: dict[str, Any], value: dict[str, Any]) -> dict[str, str]:
        types = {m["name"]: m["type"] for m in info.get("members", [])}
        tag = info.get("tag")
        for variant in info.get("variants", []):
            if tag is not None and value.get(tag) == variant["case"]:
                types.update(self._member_types(self.types[variant["type"]], value))
        return types

    def object_members(self, type_name: str) -> list[str]:
        return [m["name"] for m in self.types[type_name].get("members", [])]

    def check_arguments(self, command: str, arguments: dict[str, Any]) -> dict[str, Any]:
        """Validate and convert ``arguments``; raise :class:`QmpError` as QEMU would."""
        arg_type = self.commands[command].get("arg-type")
        if arg_type is None:
            return {}
        info = self.types[arg_type]
        if not arguments and all("default" in member for member in info.get("members", [])):
            return {}  # nothing sent, nothing required: most queries, without a visitor
        result: dict[str, Any] = _run(self._visit_object(info, arguments, _Path()))
        return result

    # -- visitors, one per meta-type ------------------------------------------------
    # Each returns the converted value, or a visitor (a generator) where nesting follows.

    def _visit(self, type_name: str, value: Any, path: _Path) -> Any:
        info = self.types[type_name]
        meta = info["meta-type"]
        if meta == "builtin":
            return self._visit_builtin(info["json-type"], value, path)
        if meta == "enum":
            return self._visit_enum(info, value, path)
        if meta == "array":
            return self._visit_array(info["element-type"], value, path)
        if meta == "object":
            if not isinstance(value, dict):
                raise _type_error(path, "object")
            return self._visit_object(info, value, path)
        if meta == "alternate":
            return self._visit_alternate(info, value, path)
        raise AssertionError(f"unknown meta-type {meta!r}")

    def _visit_object(self, info: dict[str, Any], value: dict[str, Any], path: _Path) -> _Visitor:
        result: dict[str, Any] = {}
        yield from self._visit_members(info, value, path, result)
        if len(result) < len(value):
            raise QmpError(
                f"Parameter '{path.member(_first_unexpected(value, result)).full()}' is unexpected"
            )
        return result

    def _visit_members(
        self, info: dict[str, Any], value: dict[str, Any], path: _Path, result: dict[str, Any]
    ) -> _Visitor:
        """Visit the members present, in declaration order (``result`` keeps that order)."""
        for member in info.get("members", []):
            name = member["name"]
            member_path = path.member(name)
            if name in value:
                result[name] = yield self._visit_member(member, value[name], member_path)
            elif "default" not in member:
                raise QmpError(f"Parameter '{member_path.full()}' is missing")
        tag = info.get("tag")
        if tag is None or tag not in result:
            return
        for variant in info.get("variants", []):
            if variant["case"] == result[tag]:
                # A variant's members belong to the same object: the schema bounds this.
                variant_info = self.types[variant["type"]]
                yield from self._visit_members(variant_info, value, path, result)

    def _visit_member(self, member: dict[str, Any], value: Any, path: _Path) -> Any:
        kind = self.integer_kinds.get(member["name"])
        if kind is not None and member["type"] == "int":
            return _visit_integer(kind, value, path)
        return self._visit(member["type"], value, path)

    def _visit_builtin(self, json_type: str, value: Any, path: _Path) -> Any:
        if json_type == "value":
            return value
        if json_type == "int":
            return _visit_integer("int64", value, path)
        ok = {
            "string": isinstance(value, str),
            "boolean": isinstance(value, bool),
            "number": isinstance(value, int | float) and not isinstance(value, bool),
            "null": value is None,
        }[json_type]
        if not ok:
            raise _type_error(path, _JSON_TYPE_NAMES[json_type])
        return float(value) if json_type == "number" else value

    def _visit_enum(self, info: dict[str, Any], value: Any, path: _Path) -> str:
        if not isinstance(value, str):
            raise _type_error(path, "string")
        if value not in info["values"]:
            raise QmpError(f"Parameter '{path.bare()}' does not accept value '{value}'")
        return value

    def _visit_array(self, element_type: str, value: Any, path: _Path) -> _Visitor:
        if not isinstance(value, list):
            raise _type_error(path, "array")
        items = []
        for index, item in enumerate(value):
            items.append((yield self._visit(element_type, item, path.element(index))))
        return items

    def _visit_alternate(self, info: dict[str, Any], value: Any, path: _Path) -> _Visitor:
        for member in info["members"]:
            candidate = self.types[member["type"]]
            if _alternate_accepts(candidate, value):
                return (yield self._visit(member["type"], value, path))
        name = self.alternate_names.get(path.bare(), "alternate")
        raise QmpError(f"Invalid parameter type for '{path.bare()}', expected: {name}")


def _first_unexpected(value: dict[str, Any], visited: dict[str, Any]) -> str:
    """The leftover key QEMU names: its visitor keeps the keys in a GHashTable, filled in
    QDict order and emptied of each member as it is visited; the first slot left wins."""
    leftover = [key for key in value if key not in visited]
    if len(leftover) == 1:
        return leftover[0]  # the only key left: no need to hash what may be 64 MiB of keys
    table = StringSet(qdict_order(list(value)))
    for name in visited:
        table.remove(name)
    first = table.first()
    assert first is not None
    return first


def _alternate_accepts(info: dict[str, Any], value: Any) -> bool:
    """Does ``value``'s JSON type select this branch of an alternate?"""
    meta = info["meta-type"]
    if meta == "builtin":
        json_type = info["json-type"]
        return {
            "string": isinstance(value, str),
            "boolean": isinstance(value, bool),
            "int": isinstance(value, int) and not isinstance(value, bool),
            "number": isinstance(value, int | float) and not isinstance(value, bool),
            "null": value is None,
            "value": True,
        }[json_type]
    if meta == "enum":
        return isinstance(value, str)
    if meta == "array":
        return isinstance(value, list)
    return isinstance(value, dict)


def _type_error(path: _Path, expected: str) -> QmpError:
    return QmpError(f"Invalid parameter type for '{path.full()}', expected: {expected}")


def _visit_integer(kind: str, value: Any, path: _Path) -> int:
    is_number = isinstance(value, int | float) and not isinstance(value, bool)
    if kind in ("uint64", "size") or kind in _UNSIGNED:
        # qobject_input_type_uint64: accepts negative int64 "for backward compatibility".
        if not is_number or isinstance(value, float) or not _INT64_MIN <= value <= _UINT64_MAX:
            raise QmpError(f"Parameter '{path.full()}' expects uint64")
        unsigned = value & _UINT64_MAX
        limit = _UNSIGNED.get(kind)
        if limit is not None and unsigned > limit:
            raise QmpError(f"Parameter '{path.bare()}' expects {kind}_t")
        return int(unsigned)
    if not is_number or isinstance(value, float) or not _INT64_MIN <= value <= _INT64_MAX:
        raise _type_error(path, "integer")
    bounds = _SIGNED.get(kind)
    if bounds is not None and not bounds[0] <= value <= bounds[1]:
        raise QmpError(f"Parameter '{path.bare()}' expects {kind}_t")
    return int(value)
