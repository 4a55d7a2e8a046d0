"""What libvirt's capability probe asks, answered from the release's recordings.

These answers describe the QEMU binary (its devices, machine types, CPU models,
command line options), not the machine: they are recorded from the real release
(``fakeqemu capture libvirt``) and found by command and arguments, whatever order or
libvirt version asks them.  The answers depend on the accelerator (``query-kvm``'s
``enabled``: a KVM pass and a TCG pass differ in CPU definitions and expansions).

A name the recording does not know gets QEMU's own error for it (the texts recorded
for an unknown name); a name QEMU knows but nobody recorded gets a fakeqemu error
that says so.
"""

from __future__ import annotations

import json
from typing import Any

from fakeqemu.commands.registry import CommandContext, CommandTable
from fakeqemu.errors import QmpError
from fakeqemu.model.machine import VirtualMachine
from fakeqemu.profiles.emulator_data import (
    NO_SUCH,
    EmulatorData,
    parse_reply,
    request_key,
)
from fakeqemu.protocol.encoder import QValue

TABLE = CommandTable()
command = TABLE.command


def _data(vm: VirtualMachine) -> EmulatorData:
    return vm.profile.emulator


def _mode(vm: VirtualMachine) -> str:
    return "kvm" if vm.hardware.kvm else "tcg"


def answer(reply: dict[str, Any]) -> QValue:
    """A parsed recorded reply: its value, or its error raised."""
    if "error" in reply:
        error = reply["error"]
        raise QmpError(error["desc"], error["class"])
    value: QValue = reply["return"]
    return value


def recorded(vm: VirtualMachine, name: str, args: dict[str, Any]) -> dict[str, Any] | None:
    raw = _data(vm).probe_reply(_mode(vm), request_key(name, args or None))
    return None if raw is None else parse_reply(raw)


def missing(
    vm: VirtualMachine, template: dict[str, Any], name: str, *, placeholder: str = NO_SUCH
) -> QmpError:
    """QEMU's error for an unknown ``name``: the error recorded for ``template`` (a
    request about NO_SUCH), its ``placeholder`` text replaced by ``name``."""
    key = request_key(template["execute"], template["arguments"])
    raw = _data(vm).error_reply(key)
    assert raw is not None, f"no recorded error for {key}"
    error = json.loads(raw)["error"]
    return QmpError(error["desc"].replace(placeholder, name), error["class"])


def not_recorded(name: str, args: dict[str, Any]) -> QmpError:
    return QmpError(
        f"fakeqemu has no recording of {name} {json.dumps(args, sort_keys=True)} "
        "for this release (fakeqemu capture libvirt records what libvirt asks)"
    )


def _names(vm: VirtualMachine, query: str, member: str) -> set[str]:
    reply = recorded(vm, query, {})
    if reply is None or "return" not in reply:
        return set()
    return {entry[member] for entry in reply["return"]}


def _whole(name: str) -> None:
    """A query without arguments: its one recorded answer."""

    @command(name)
    def handler(ctx: CommandContext, args: dict[str, Any]) -> QValue:
        reply = recorded(ctx.vm, name, args)
        if reply is None:
            raise not_recorded(name, args)
        return answer(reply)


for _name in (
    "qom-list-types",
    "query-machines",
    "query-cpu-definitions",
    "query-tpm-models",
    "query-tpm-types",
    "query-command-line-options",
    "query-sev-capabilities",
    "query-sgx-capabilities",
):
    _whole(_name)


def _by_type(name: str) -> None:
    """``device-list-properties`` and ``qom-list-properties``: by ``typename``."""

    @command(name)
    def handler(ctx: CommandContext, args: dict[str, Any]) -> QValue:
        reply = recorded(ctx.vm, name, args)
        if reply is not None:
            return answer(reply)
        typename = args["typename"]
        if typename not in _names(ctx.vm, "qom-list-types", "name"):
            template = {"execute": name, "arguments": {"typename": NO_SUCH}}
            raise missing(ctx.vm, template, typename)
        raise not_recorded(name, args)


_by_type("device-list-properties")
_by_type("qom-list-properties")


@command("query-cpu-model-expansion")
def query_cpu_model_expansion(ctx: CommandContext, args: dict[str, Any]) -> QValue:
    reply = recorded(ctx.vm, "query-cpu-model-expansion", args)
    if reply is not None:
        return answer(reply)
    model = args["model"]["name"]
    if model not in _names(ctx.vm, "query-cpu-definitions", "name"):
        template = {
            "execute": "query-cpu-model-expansion",
            "arguments": {"type": "static", "model": {"name": NO_SUCH}},
        }
        raise missing(ctx.vm, template, model)
    raise not_recorded("query-cpu-model-expansion", args)
