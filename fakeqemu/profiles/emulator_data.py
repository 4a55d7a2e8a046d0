"""What a release answers that is recorded rather than computed: ``emulator.json.gz``.

``fakeqemu capture libvirt`` writes it (:mod:`fakeqemu.recorder.libvirt.capture`): the
release's command line (``-version``, ``-help``, its options), the replies to
libvirt's capability probe per accelerator, the properties of the CPU model libvirt
starts, and QEMU's error texts for names it does not know.  Replies are kept as QEMU
wrote them and parsed on first use; ``Profile.emulator`` loads a release's.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from typing import Any

FILENAME = "emulator.json.gz"
#: A name no release knows: the capture asks about it, and QEMU's errors for it (this
#: name replaced by another) are the fake's errors for every name it has no recording of.
NO_SUCH = "fakeqemu-no-such-name"


def request_key(command: str, arguments: dict[str, Any] | None) -> str:
    """A request's identity whatever the order of its arguments: how answers are found."""
    if not arguments:
        return command
    return f"{command} {json.dumps(arguments, sort_keys=True, separators=(',', ':'))}"


@dataclass(frozen=True)
class EmulatorData:
    """One release's recorded emulator data (see the module docstring)."""

    raw: dict[str, Any]

    @property
    def cli(self) -> dict[str, Any]:
        cli: dict[str, Any] = self.raw["cli"]
        return cli

    @property
    def machine(self) -> str:
        """The machine type ``pc`` stands for."""
        machine: str = self.raw["machine"]
        return machine

    def probe_modes(self) -> list[str]:
        """The accelerator modes recorded: ``tcg``, and ``kvm`` where KVM was usable."""
        return sorted(self.raw["probe"])

    def probe_reply(self, mode: str, key: str) -> str | None:
        """The reply line QEMU wrote to the request ``key`` in ``mode``, if recorded."""
        answers: dict[str, str] = self.raw["probe"].get(mode, {})
        return answers.get(key)

    def error_reply(self, key: str) -> str | None:
        """QEMU's reply to a request about something that does not exist."""
        found: str | None = self.raw["errors"].get(key)
        return found

    def machine_none_reply(self, key: str) -> str:
        """What ``-machine none`` (a machine without hardware) answers to ``key``."""
        found: str = self.raw["machine-none"][key]
        return found

    @property
    def iothread_defaults(self) -> dict[str, Any]:
        """What ``query-iothreads`` reports of an iothread besides its id and thread."""
        defaults: dict[str, Any] = self.raw["iothread"]
        return defaults

    def cpu_model(self, name: str) -> dict[str, Any] | None:
        model: dict[str, Any] | None = self.raw["cpu-models"].get(name)
        return model

    @cached_property
    def cpu_models(self) -> list[str]:
        return sorted(self.raw["cpu-models"])


def wire_to_insertion_order(value: Any) -> Any:
    """A value parsed from QEMU's output, its dicts in the order QEMU inserted them.

    QEMU prints a QDict bucket by bucket, newest key first within a bucket; the
    encoder (:func:`fakeqemu.protocol.encoder.qdict_order`) does the same from the
    insertion order, so reversing each dict's wire order gives back QEMU's exact bytes.
    """
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            keys = list(item)
            for key in reversed(keys):
                item[key] = item.pop(key)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return value


def parse_reply(line: str) -> dict[str, Any]:
    """A recorded reply line: ``{"return": VALUE}`` (VALUE in insertion order) or
    ``{"error": {"class": ..., "desc": ...}}``."""
    reply: dict[str, Any] = json.loads(line)
    if "return" in reply:
        reply["return"] = wire_to_insertion_order(reply["return"])
    return reply
