"""Introspected QAPI types as JSON Schema 2020-12.

What the wire allows follows from how QEMU's output visitor prints a type:
every member that is not optional is always there, optional ones may be
missing, nothing else ever appears (so objects close with
``additionalProperties: false``), and every integer type (``int``, ``uint64``,
``size`` ...) is a JSON integer because introspection folds them into ``int``.

Enumerations and objects become named ``$defs``.  Their QAPI names are masked
in introspection, so a definition is named after the path that reaches it:
the well-known QAPI name where :data:`KNOWN_NAMES` has one for that path,
otherwise ``Parent.member``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fakeqemu.profiles.patch import Entity

Schema = dict[str, Any]

#: QAPI names (qapi/migration.json, qapi/sockets.json, qapi/control.json) of the
#: types reached through (parent definition, member); the same in every release.
KNOWN_NAMES: dict[tuple[str, str], str] = {
    ("MigrationInfo", "status"): "MigrationStatus",
    ("MigrationInfo", "ram"): "MigrationStats",
    ("MigrationInfo", "disk"): "MigrationStats",
    ("MigrationInfo", "vfio"): "VfioStats",
    ("MigrationInfo", "xbzrle-cache"): "XBZRLECacheStats",
    ("MigrationInfo", "compression"): "CompressionStats",
    ("MigrationInfo", "socket-address"): "SocketAddress",
    ("SocketAddress", "type"): "SocketAddressType",
    ("VersionInfo", "qemu"): "VersionTriple",
    ("MIGRATION", "status"): "MigrationStatus",
}

#: Introspection's JSON types (``json-type`` of a builtin) in JSON Schema.
_BUILTINS: dict[str, Schema] = {
    "string": {"type": "string"},
    "int": {"type": "integer"},
    "number": {"type": "number"},
    "boolean": {"type": "boolean"},
    "null": {"type": "null"},
    "value": {},
}

#: Annotation carrying a member's QAPI features (``unstable``, ``deprecated``...).
FEATURES_KEYWORD = "x-qapi-features"


class TypeConverter:
    """Converts the types of one release, collecting named ones in :attr:`defs`."""

    def __init__(self, by_name: Mapping[str, Entity]) -> None:
        self._by_name = by_name
        self.defs: dict[str, Schema] = {}
        #: Masked introspection name -> the ``$defs`` name it got.
        self._named: dict[str, str] = {}

    def named(self, type_name: str, def_name: str) -> Schema:
        """A ``$ref`` to ``type_name``, defined as ``def_name`` unless already defined."""
        existing = self._named.get(type_name)
        if existing is not None:
            return _ref(existing)
        unique = def_name
        suffix = 2
        while unique in self.defs:
            unique = f"{def_name}{suffix}"
            suffix += 1
        self._named[type_name] = unique
        self.defs[unique] = {}  # reserved first: a type may refer to itself
        self.defs[unique] = self._build(self._by_name[type_name], unique)
        return _ref(unique)

    def convert(self, type_name: str, hint: str) -> Schema:
        """``type_name`` inline if it is a builtin or an array, else as a ``$ref``."""
        info = self._by_name[type_name]
        meta = info["meta-type"]
        if meta == "builtin":
            return dict(_BUILTINS[info["json-type"]])
        if meta == "array":
            return {"type": "array", "items": self.convert(info["element-type"], hint)}
        return self.named(type_name, hint)

    def members(self, info: Entity, owner: str) -> Schema:
        """``properties`` and ``required`` of an object type, variants included."""
        properties: Schema = {}
        required: list[str] = []
        for entry in info.get("members", []):
            name = entry["name"]
            hint = KNOWN_NAMES.get((owner, name), f"{owner}.{name}")
            properties[name] = _with_features(self.convert(entry["type"], hint), entry)
            if "default" not in entry:
                required.append(name)
        schema: Schema = {"properties": properties}
        if required:
            schema["required"] = required
        variants = info.get("variants", [])
        if variants:
            tag = info["tag"]
            schema["allOf"] = [
                {
                    "if": {"properties": {tag: {"const": variant["case"]}}, "required": [tag]},
                    "then": self.members(
                        self._by_name[variant["type"]], f"{owner}.{variant['case']}"
                    ),
                }
                for variant in variants
            ]
        return schema

    def _build(self, info: Entity, def_name: str) -> Schema:
        meta = info["meta-type"]
        if meta == "enum":
            return {"enum": list(info["values"])}
        if meta == "alternate":
            return {
                "anyOf": [
                    self.convert(branch["type"], f"{def_name}.{index}")
                    for index, branch in enumerate(info["members"])
                ]
            }
        if meta != "object":
            raise ValueError(f"cannot convert meta-type {meta!r}")
        schema: Schema = {"type": "object", **self.members(info, def_name)}
        if "allOf" in schema:
            # Variant members live inside allOf, where additionalProperties cannot see them.
            schema["unevaluatedProperties"] = False
        else:
            schema["additionalProperties"] = False
        return schema


def _ref(def_name: str) -> Schema:
    return {"$ref": f"#/$defs/{def_name}"}


def _with_features(schema: Schema, entry: Entity) -> Schema:
    features = entry.get("features", [])
    if not features:
        return schema
    annotated = {**schema, FEATURES_KEYWORD: list(features)}
    if "deprecated" in features:
        annotated["deprecated"] = True
    return annotated
