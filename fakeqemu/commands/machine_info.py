"""The machine's hardware, computed from its command line: CPUs, chardevs, iothreads,
the balloon, block devices.

Every answer follows :class:`~fakeqemu.model.hardware.Hardware`.  What differs between
releases (error texts, an iothread's polling defaults) is read from the release's
recordings (``fakeqemu capture libvirt``), which the tests compare the fake with.
"""

from __future__ import annotations

from typing import Any

from fakeqemu.commands.probe_answers import answer
from fakeqemu.commands.registry import CommandContext, CommandTable
from fakeqemu.model.hardware import Hardware
from fakeqemu.profiles.emulator_data import EmulatorData, parse_reply, request_key
from fakeqemu.protocol.encoder import QValue

TABLE = CommandTable()
command = TABLE.command

#: x86_64 QOM type names of CPU models: ``qemu64`` is ``qemu64-x86_64-cpu``.
CPU_TYPE_SUFFIX = "-x86_64-cpu"


def cpu_type(hardware: Hardware) -> str:
    return hardware.cpu_model + CPU_TYPE_SUFFIX


def cpu_path(index: int) -> str:
    """The QOM path of vCPU ``index``: the first vCPU's realize creates one more
    unattached object, so the next vCPUs come after it (observed on every release)."""
    return f"/machine/unattached/device[{index if index == 0 else index + 1}]"


def _props(hardware: Hardware, index: int) -> dict[str, int]:
    """CpuInstanceProperties of a slot: sockets, dies only when there is more than one,
    cores and threads (x86_possible_cpu_arch_ids())."""
    topology = hardware.topology
    socket, die, core, thread = topology.slot(index)
    props = {"socket-id": socket}
    if topology.dies > 1:
        props["die-id"] = die
    props.update({"core-id": core, "thread-id": thread})
    return props


def _data(ctx: CommandContext) -> EmulatorData:
    return ctx.vm.profile.emulator


def _element_members(ctx: CommandContext, name: str) -> list[str]:
    """The members this release reports for each element of ``name``'s list."""
    schema = ctx.vm.profile.schema
    return schema.object_members(schema.types[schema.commands[name]["ret-type"]]["element-type"])


@command("query-chardev")
def query_chardev(ctx: CommandContext, args: dict[str, Any]) -> QValue:
    return [
        {"label": chardev.label, "filename": chardev.filename, "frontend-open": True}
        for chardev in ctx.vm.hardware.chardevs
    ]


@command("query-hotpluggable-cpus")
def query_hotpluggable_cpus(ctx: CommandContext, args: dict[str, Any]) -> QValue:
    hardware = ctx.vm.hardware
    if not hardware.has_cpus:
        return answer(parse_reply(_data(ctx).machine_none_reply("query-hotpluggable-cpus")))
    slots: list[QValue] = []
    for index in range(hardware.topology.maxcpus):
        slot: dict[str, QValue] = {"type": cpu_type(hardware), "vcpus-count": 1}
        slot["props"] = dict(_props(hardware, index))
        if index < hardware.topology.cpus:
            slot["qom-path"] = cpu_path(index)
        slots.append(slot)
    # qmp_query_hotpluggable_cpus() prepends each slot to the list.
    return slots[::-1]


@command("query-cpus-fast")
def query_cpus_fast(ctx: CommandContext, args: dict[str, Any]) -> QValue:
    hardware = ctx.vm.hardware
    if not hardware.has_cpus:
        return []
    members = _element_members(ctx, "query-cpus-fast")
    cpus: list[QValue] = []
    for index in range(hardware.topology.cpus):
        cpu: dict[str, QValue] = {
            "cpu-index": index,
            "qom-path": cpu_path(index),
            "thread-id": hardware.vcpu_thread(index),
            "props": dict(_props(hardware, index)),
            "target": "x86_64",
        }
        if "qom-type" in members:
            cpu["qom-type"] = cpu_type(hardware)
        cpus.append(cpu)
    return cpus


@command("query-iothreads")
def query_iothreads(ctx: CommandContext, args: dict[str, Any]) -> QValue:
    hardware = ctx.vm.hardware
    defaults = _data(ctx).iothread_defaults if hardware.iothreads else {}
    threads: list[QValue] = []
    for index, name in enumerate(hardware.iothreads):
        thread: dict[str, QValue] = {"id": name, "thread-id": hardware.iothread_thread(index)}
        thread.update(defaults)
        threads.append(thread)
    return threads


def _check_balloon(ctx: CommandContext) -> None:
    if not ctx.vm.hardware.has_device("virtio-balloon"):
        answer(parse_reply(_data(ctx).machine_none_reply("query-balloon")))


@command("balloon")
def balloon(ctx: CommandContext, args: dict[str, Any]) -> QValue:
    _check_balloon(ctx)
    if args["value"] <= 0:
        raw = _data(ctx).error_reply(request_key("balloon", {"value": 0}))
        assert raw is not None, "no recorded error for balloon 0"
        answer(parse_reply(raw))
    # No guest driver gives memory back: ``actual`` stays the guest's RAM.
    return {}


@command("query-balloon")
def query_balloon(ctx: CommandContext, args: dict[str, Any]) -> QValue:
    _check_balloon(ctx)
    return {"actual": ctx.vm.memory}


@command("query-named-block-nodes")
def query_named_block_nodes(ctx: CommandContext, args: dict[str, Any]) -> QValue:
    return []  # the fake has no block devices


@command("query-block")
def query_block(ctx: CommandContext, args: dict[str, Any]) -> QValue:
    return []
