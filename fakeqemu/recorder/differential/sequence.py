"""A probe sequence: requests for several VMs, named by side.

``src`` is started with ``-S``; every other side (``dst``, and the spare ``aux…``
that take the incoming failures that would spoil ``dst``) with ``-S -incoming defer``.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from fakeqemu.profiles import Profile
from fakeqemu.recorder.differential.values import ValueMaker

SEED = 9
SOURCE = "src"
HMP_LINES = ("info migrate", "info migrate_parameters", "info migrate_capabilities")


@dataclass(frozen=True)
class Probe:
    side: str
    command: str
    arguments: dict[str, Any] | None = None
    #: Sent while a migration runs: numbers in the reply depend on timing.
    volatile: bool = False

    def request(self, number: int) -> str:
        message: dict[str, Any] = {"execute": self.command}
        if self.arguments is not None:
            message["arguments"] = self.arguments
        message["id"] = number
        return json.dumps(message)


def sides_of(requests: Iterable[tuple[str, str, bool]]) -> list[str]:
    """The sides a sequence talks to, ``src`` first: each is a VM to start."""
    sides = [SOURCE]
    for side, _, _ in requests:
        if side not in sides:
            sides.append(side)
    return sides


class ProbeSequence:
    """The probes built so far, and what the stages need to know about the release."""

    def __init__(self, profile: Profile, seed: int = SEED) -> None:
        self.profile = profile
        self.schema = profile.schema
        self.rng = random.Random(f"{seed}-{profile.name}")
        self.values = ValueMaker(self.schema, self.rng)
        self.probes: list[Probe] = []

    def send(
        self,
        side: str,
        command: str,
        arguments: dict[str, Any] | None = None,
        *,
        volatile: bool = False,
    ) -> None:
        """Append a probe, unless the release lacks the command."""
        if command in self.schema.commands:
            self.probes.append(Probe(side, command, arguments, volatile))

    def hmp(self, side: str, line: str, *, volatile: bool = False) -> None:
        self.send(side, "human-monitor-command", {"command-line": line}, volatile=volatile)

    def queries(self, side: str, *, volatile: bool = False) -> None:
        """Every migration query of the release, then the HMP views."""
        for command in self.migration_commands():
            if command.startswith("query-"):
                self.send(side, command, volatile=volatile)
        for line in HMP_LINES:
            self.hmp(side, line, volatile=volatile)

    def migration_commands(self) -> list[str]:
        return sorted(name for name in self.schema.commands if "migrat" in name)

    def members(self, command: str) -> list[dict[str, Any]]:
        arg_type = self.schema.commands[command].get("arg-type")
        if arg_type is None:
            return []
        members: list[dict[str, Any]] = self.schema.types[arg_type].get("members", [])
        return members

    def member_type(self, command: str, member: str) -> str | None:
        return next((m["type"] for m in self.members(command) if m["name"] == member), None)

    def capability_names(self) -> list[str]:
        caps_type = self.member_type("migrate-set-capabilities", "capabilities")
        assert caps_type is not None
        entry = self.schema.types[self.schema.types[caps_type]["element-type"]]
        enum = next(m["type"] for m in entry["members"] if m["name"] == "capability")
        names: list[str] = self.schema.types[enum]["values"]
        return names

    def element_type(self, command: str, member: str) -> str | None:
        """The element type of an array member, if ``command`` has that member."""
        array = self.member_type(command, member)
        if array is None:
            return None
        element: str = self.schema.types[array]["element-type"]
        return element
