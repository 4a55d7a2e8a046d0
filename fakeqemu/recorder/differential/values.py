"""Valid and invalid JSON values for the QAPI types of one release's introspection."""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

from fakeqemu.protocol.qapi import QapiSchema

#: Stands for the runner's scratch directory in URIs and socket paths.
DIRECTORY = "@DIR@"

#: Integers at the bounds QEMU checks (its range checks and the C integer kinds).
INTEGERS = (
    *(0, 1, 2, 9, 10, 20, 21, 99, 100, 101, 255, 256, 1000, 1001, 4095, 4096, 10000, 10001),
    *(100000, 100001, 2000000, 2000001, 2**32 - 1, 2**32, 2**63 - 1, 2**64 - 1, 2**64),
    *(-1, -(2**63)),
)
#: One value of each JSON type, for the types a member does not take.
JSON_SAMPLES: dict[str, Any] = {
    "string": "1",
    "boolean": True,
    "number": 1.5,
    "int": 1,
    "object": {},
    "array": [],
    "null": None,
}
#: Hints for string members whose name says what they hold (introspection says ``str``).
STRING_HINTS: dict[str, tuple[str, ...]] = {
    "host": ("127.0.0.1",),
    "port": ("1", "notaport"),
    "path": (f"{DIRECTORY}/nobody.sock", ""),
    "filename": ("/nonexistent-dir/vm.state",),
    "cid": ("1",),
    "str": ("nosuchfd",),
    "protocol": ("spice", "vnc"),
}


class ValueMaker:
    """Values of each type: representative valid ones, and one of every wrong JSON type."""

    def __init__(self, schema: QapiSchema, rng: random.Random) -> None:
        self.schema = schema
        self.rng = rng

    def json_types(self, type_name: str) -> frozenset[str]:
        """The JSON types a value of ``type_name`` may have."""
        info = self.schema.types[type_name]
        meta = info["meta-type"]
        if meta == "builtin":
            json_type = info["json-type"]
            if json_type == "value":
                return frozenset(JSON_SAMPLES)
            return frozenset({"number", "int"} if json_type == "number" else {json_type})
        if meta == "enum":
            return frozenset({"string"})
        if meta == "alternate":
            kinds: set[str] = set()
            for member in info["members"]:
                kinds |= self.json_types(member["type"])
            return frozenset(kinds)
        return frozenset({meta})

    def wrong_types(self, type_name: str) -> list[Any]:
        accepted = self.json_types(type_name)
        return [sample for kind, sample in JSON_SAMPLES.items() if kind not in accepted]

    def valid(self, type_name: str, member: str = "", depth: int = 0) -> list[Any]:
        """Representative values of ``type_name``; ``member`` names what it holds."""
        info = self.schema.types[type_name]
        meta = info["meta-type"]
        if meta == "builtin":
            return self._builtin(info["json-type"], member)
        if meta == "enum":
            return list(info["values"])
        if meta == "alternate":
            values: list[Any] = []
            for branch in info["members"]:
                values += self.valid(branch["type"], member, depth)[:2]
            return values
        if meta == "array":
            if depth > 2:
                return [[]]
            return [[], self.valid(info["element-type"], member, depth + 1)[:1]]
        return self.objects(type_name, depth)[:1] if depth <= 3 else [{}]

    def _builtin(self, json_type: str, member: str) -> list[Any]:
        if json_type == "int":
            return [*INTEGERS, self.rng.randint(0, 1 << 16)]
        if json_type == "boolean":
            return [True, False]
        if json_type == "string":
            return list(STRING_HINTS.get(member, ("x0", "")))
        if json_type == "null":
            return [None]
        if json_type == "number":
            return [0.5, 1]
        return [1]

    def objects(self, type_name: str, depth: int = 0) -> list[dict[str, Any]]:
        """One valid object per variant (or one), with its required members only."""
        info = self.schema.types[type_name]
        base: dict[str, Any] = {}
        for member in info.get("members", []):
            if "default" not in member:
                base[member["name"]] = self.valid(member["type"], member["name"], depth + 1)[0]
        variants = info.get("variants", [])
        if not variants:
            return [base]
        return [
            {**base, info["tag"]: variant["case"], **branch}
            for variant in variants
            for branch in self.objects(variant["type"], depth + 1)
        ]

    def broken_objects(self, type_name: str) -> Iterator[dict[str, Any]]:
        """A valid object with one required member missing, one mistyped, one unknown added."""
        good = self.objects(type_name)[0]
        for name in good:
            yield {key: value for key, value in good.items() if key != name}
        yield {**good, "no-such-member": 1}
        for member in self.schema.types[type_name].get("members", []):
            for wrong in self.wrong_types(member["type"])[:2]:
                yield {**good, member["name"]: wrong}
