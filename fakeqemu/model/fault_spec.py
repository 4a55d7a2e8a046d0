"""Fault descriptions: JSON-compatible dicts, checked against the catalog's field tables.

The same description works from Python, the pytest marker, ``fakeqemu serve --fault``
and the control API (:data:`fakeqemu.fault_catalog.FAULT_KINDS` lists the kinds and
their fields, :data:`~fakeqemu.fault_catalog.TRIGGERS` the triggers)::

    {"kind": "error", "command": "migrate", "class": "GenericError", "desc": "no",
     "times": 2, "trigger": {"call": 3}}

:func:`parse_fault` returns a :class:`FaultSpec` or raises :class:`FaultError`, whose
message names the field and what is wrong with it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from fakeqemu.errors import FakeQemuError
from fakeqemu.fault_catalog import (
    CHOICE,
    COMMON_FIELDS,
    FAULT_KINDS,
    INTEGER,
    NOT_MODELLED,
    NUMBER,
    OBJECT,
    SIZE,
    TARGETS,
    TEXT,
    TIMES,
    TRIGGERS,
)
from fakeqemu.sizes import parse_size

#: The choices of the CHOICE fields.
_CHOICES = {"target": TARGETS, "when": ("before", "after")}


class FaultError(FakeQemuError, ValueError):
    """A fault description that cannot be used; the message names the problem."""


@dataclass(frozen=True)
class Trigger:
    """When a fault starts: ``now``, or at a ``call``, ``status``, ``percent`` or ``after``."""

    kind: str = "now"
    #: N for ``call``, the status, the percentage, or the seconds.
    value: Any = None
    #: ``call``: the command counted.
    command: str | None = None

    def describe(self) -> Any:
        if self.kind == "now":
            return "now"
        data: dict[str, Any] = {self.kind: self.value}
        if self.command is not None:
            data["command"] = self.command
        return data


@dataclass(frozen=True)
class FaultSpec:
    """A checked fault: its kind, level, trigger and fields (defaults filled in)."""

    kind: str
    level: str
    trigger: Trigger
    fields: Mapping[str, Any] = field(default_factory=dict)
    #: The description as given, for listings.
    source: Mapping[str, Any] = field(default_factory=dict)

    def get(self, name: str) -> Any:
        return self.fields.get(name)

    @property
    def times(self) -> int | None:
        """How many requests it affects; ``None``: always."""
        value = self.fields.get("times", 1)
        return None if value == "always" else int(value)

    @property
    def target(self) -> str:
        return str(self.fields.get("target", "monitor"))


def _check(kind: str, name: str, value: Any, spec: Mapping[str, Any]) -> Any:
    where = f"fault {kind!r}: {name}"
    expected = spec["type"]
    if expected == TEXT:
        if not isinstance(value, str) or not value:
            raise FaultError(f"{where} is a non-empty string, got {value!r}")
        return value
    if expected in (INTEGER, NUMBER):
        wanted: Any = int if expected == INTEGER else int | float
        if isinstance(value, bool) or not isinstance(value, wanted) or value < 0:
            noun = "a whole number" if expected == INTEGER else "a number"
            raise FaultError(f"{where} is {noun}, at least 0, got {value!r}")
        return value
    if expected == SIZE:
        try:
            size = parse_size(value) if isinstance(value, str) else value
        except ValueError as error:
            raise FaultError(f"{where}: {error}") from None
        if isinstance(size, bool) or not isinstance(size, int | float) or size <= 0:
            raise FaultError(f"{where} is a positive size (1024, 4K, 1M), got {value!r}")
        return size
    if expected == OBJECT:
        if not isinstance(value, Mapping):
            raise FaultError(f"{where} is a JSON object, got {value!r}")
        return dict(value)
    if expected == TIMES:
        if value == "always":
            return value
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise FaultError(f'{where} is a number from 1, or "always", got {value!r}')
        return value
    assert expected == CHOICE
    choices = _CHOICES[name]
    if value not in choices:
        raise FaultError(f"{where} is one of {', '.join(choices)}, got {value!r}")
    return value


def parse_trigger(kind: str, data: Any, command: str | None) -> Trigger:
    where = f"fault {kind!r}: trigger"
    if data is None or data == "now":
        return Trigger()
    if not isinstance(data, Mapping):
        raise FaultError(f'{where} is "now" or an object like {{"call": 2}}, got {data!r}')
    keys = [key for key in data if key in TRIGGERS and key != "now"]
    extra = sorted(set(data) - {*keys, "command"})
    if len(keys) != 1 or extra or ("command" in data and keys != ["call"]):
        raise FaultError(
            f"{where} {json.dumps(data)}: give exactly one of {', '.join(TRIGGERS)}"
            " (and command with call only)"
        )
    (name,) = keys
    value = data[name]
    if name == "call":
        target = data.get("command", command)
        if not isinstance(target, str) or not target:
            raise FaultError(f"{where}: a call trigger names its command")
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise FaultError(f"{where}: call is a number from 1, got {value!r}")
        return Trigger("call", value, target)
    if name == "status":
        if not isinstance(value, str) or not value:
            raise FaultError(f"{where}: status is a migration status, got {value!r}")
        return Trigger("status", value)
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise FaultError(f"{where}: {name} is a number, at least 0, got {value!r}")
    if name == "percent" and value > 100:
        raise FaultError(f"{where}: percent is at most 100, got {value!r}")
    return Trigger(name, value)


def parse_fault(data: Any) -> FaultSpec:
    """Check a fault description; :class:`FaultError` says what is wrong."""
    if isinstance(data, FaultSpec):
        return data
    if not isinstance(data, Mapping):
        raise FaultError(f'a fault is a JSON object like {{"kind": "error", ...}}, got {data!r}')
    kind = data.get("kind")
    if kind in NOT_MODELLED:
        raise FaultError(f"fault {kind!r} is not modelled: {NOT_MODELLED[kind]}")
    if not isinstance(kind, str) or kind not in FAULT_KINDS:
        raise FaultError(
            f"unknown fault kind {kind!r}; kinds: {', '.join(FAULT_KINDS)} (fakeqemu faults)"
        )
    table = FAULT_KINDS[kind]["fields"]
    unknown = sorted(set(data) - set(table) - set(COMMON_FIELDS))
    if unknown:
        known = ", ".join(sorted({*table, *COMMON_FIELDS}))
        raise FaultError(f"fault {kind!r}: unknown field {', '.join(unknown)}; it takes {known}")
    values: dict[str, Any] = {}
    for name, spec in table.items():
        if name in data and data[name] is not None:
            values[name] = _check(kind, name, data[name], spec)
        elif spec["required"]:
            raise FaultError(f"fault {kind!r}: {name} is required ({spec['description']})")
        elif spec["default"] is not None:
            values[name] = spec["default"]
    if kind == "event" and "command" not in values and "when" in data:
        raise FaultError(f"fault {kind!r}: when needs a command (before or after its reply)")
    trigger = parse_trigger(kind, data.get("trigger"), values.get("command"))
    return FaultSpec(kind, FAULT_KINDS[kind]["level"], trigger, values, dict(data))


def parse_faults_text(text: str) -> list[dict[str, Any]]:
    """``--fault``'s JSON: one fault object or a list of them (checked)."""
    try:
        data = json.loads(text)
    except ValueError as error:
        raise FaultError(f"a fault is JSON: {error}") from None
    items = data if isinstance(data, list) else [data]
    for item in items:
        parse_fault(item)
    return [dict(item) for item in items]
