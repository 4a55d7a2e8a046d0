"""The QMP envelopes of one release: greeting, success, error and event.

docs/interop/qmp-spec.rst defines them; what varies by release comes from the
release's introspection: the greeting's ``version`` is ``query-version``'s
``VersionInfo``, its ``capabilities`` are the ``QMPCapability`` values that
``qmp_capabilities`` takes, and an event's name is one of the release's events.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fakeqemu.contracts.qapi_types import Schema, TypeConverter
from fakeqemu.profiles.patch import Entity, member

#: qapi/error.json ``QapiErrorClass``; not in introspection (no command returns it),
#: and the same from 7.2 to 11.1 (qemu-facts §4.4).
ERROR_CLASSES = (
    "GenericError",
    "CommandNotFound",
    "DeviceNotActive",
    "DeviceNotFound",
    "KVMMissingCap",
)

#: ``id`` is echoed as the client sent it: any JSON value.
_ANY_ID: Schema = {"description": "The request's id, echoed verbatim (any JSON value)."}


def greeting(by_name: Mapping[str, Entity], version: Mapping[str, Any]) -> Schema:
    """``{"QMP": {"version": VersionInfo, "capabilities": [QMPCapability]}}``."""
    converter = TypeConverter(by_name)
    version_ref = converter.named(by_name["query-version"]["ret-type"], "VersionInfo")
    enable = member(by_name[by_name["qmp_capabilities"]["arg-type"]], "enable")
    capability = by_name[enable["type"]]["element-type"]
    capabilities = {
        "type": "array",
        "items": converter.named(capability, "QMPCapability"),
        "uniqueItems": True,
    }
    # A release is its major.minor; builds of it differ in micro and package.
    triple = converter.defs["VersionTriple"]["properties"]
    for part in ("major", "minor"):
        triple[part] = {**triple[part], "const": version["qemu"][part]}
    return {
        "type": "object",
        "properties": {
            "QMP": {
                "type": "object",
                "properties": {"version": version_ref, "capabilities": capabilities},
                "required": ["version", "capabilities"],
                "additionalProperties": False,
            }
        },
        "required": ["QMP"],
        "additionalProperties": False,
        "$defs": converter.defs,
    }


def success() -> Schema:
    return {
        "type": "object",
        "properties": {"return": {"description": "The command's return value."}, "id": _ANY_ID},
        "required": ["return"],
        "additionalProperties": False,
    }


def error() -> Schema:
    return {
        "type": "object",
        "properties": {
            "error": {
                "type": "object",
                "properties": {
                    "class": {"enum": list(ERROR_CLASSES)},
                    "desc": {"type": "string"},
                },
                "required": ["class", "desc"],
                "additionalProperties": False,
            },
            "id": _ANY_ID,
        },
        "required": ["error"],
        "additionalProperties": False,
    }


def event(by_name: Mapping[str, Entity]) -> Schema:
    names = [name for name, entity in by_name.items() if entity["meta-type"] == "event"]
    return {
        "type": "object",
        "properties": {
            "event": {"enum": sorted(names)},
            "data": {"type": "object"},
            # qapi/qmp-event.c: g_get_real_time() split into seconds and microseconds.
            "timestamp": {
                "type": "object",
                "properties": {
                    "seconds": {"type": "integer"},
                    "microseconds": {"type": "integer", "minimum": 0, "maximum": 999999},
                },
                "required": ["seconds", "microseconds"],
                "additionalProperties": False,
            },
        },
        "required": ["event", "timestamp"],
        "additionalProperties": False,
    }
