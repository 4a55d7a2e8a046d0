"""``qom-list`` and ``qom-get``: the vCPUs and ``/machine/peripheral``.

A vCPU's properties are those recorded for its CPU model in the release (every
property of a freshly started ``-cpu MODEL``), with what belongs to this vCPU put
in: its topology ids, its APIC id, the QOM paths of its children, and the features
``-cpu MODEL,feature=on|off`` names.  Features change the properties they name only:
what QEMU derives from them (``feature-words``, ``filtered-features``, ``phys-bits``)
keeps the model's recorded value.  ``/machine/peripheral`` lists the ``-device``
entries that have an ``id``, in QEMU's order.
"""

from __future__ import annotations

from typing import Any

from fakeqemu.commands.machine_info import CPU_TYPE_SUFFIX, cpu_path, cpu_type
from fakeqemu.commands.probe_answers import answer, missing
from fakeqemu.commands.registry import CommandContext, CommandTable
from fakeqemu.model.hardware import Hardware
from fakeqemu.model.machine import VirtualMachine
from fakeqemu.profiles.emulator_data import NO_SUCH, parse_reply
from fakeqemu.protocol.encoder import QValue
from fakeqemu.protocol.glib_hash import StringSet

TABLE = CommandTable()
command = TABLE.command

PERIPHERAL = "/machine/peripheral"
#: The model whose properties stand in for a model the release has no recording of.
FALLBACK_MODEL = "qemu64"
#: Where the recording's vCPU lives: its paths are rewritten to each vCPU's own.
RECORDED_PATH = cpu_path(0)


def feature_key(name: str) -> str:
    """QEMU registers each feature under several spellings (``lahf-lm``, ``lahf_lm``,
    ``sse4.1``, ``sse4-1``, ``sse4_1``): one key for all of them."""
    return name.replace("_", "-").replace(".", "-")


def _cpu_index(hardware: Hardware, path: str) -> int | None:
    if not hardware.has_cpus:
        return None
    for index in range(hardware.topology.cpus):
        if cpu_path(index) == path:
            return index
    return None


def _model(vm: VirtualMachine) -> dict[str, Any]:
    data = vm.profile.emulator
    model = data.cpu_model(vm.hardware.cpu_model) or data.cpu_model(FALLBACK_MODEL)
    assert model is not None, f"profile {vm.profile.name} has no CPU model recorded"
    return model


def _peripheral_listing(hardware: Hardware) -> list[QValue]:
    ids = [device_id for device_id, _ in hardware.devices]
    drivers = dict(hardware.devices)
    # object_property_iter: the container's children in GHashTable order, then the class
    # property "type"; qmp_qom_list() prepends each, so the list comes out reversed.
    children: list[QValue] = [
        {"name": name, "type": f"child<{drivers[name]}>"} for name in StringSet(ids).in_order()
    ]
    return [*children, {"name": "type", "type": "string"}][::-1]


@command("qom-list")
def qom_list(ctx: CommandContext, args: dict[str, Any]) -> QValue:
    vm, path = ctx.vm, args["path"]
    if path == PERIPHERAL:
        return _peripheral_listing(vm.hardware)
    if _cpu_index(vm.hardware, path) is not None:
        return answer(parse_reply(_model(vm)["qom-list"]))
    unknown = f"/machine/{NO_SUCH}"
    raise missing(
        vm, {"execute": "qom-list", "arguments": {"path": unknown}}, path, placeholder=unknown
    )


def _cpu_property(vm: VirtualMachine, index: int, name: str) -> QValue:
    hardware = vm.hardware
    raw = _model(vm)["properties"].get(name)
    if raw is None:
        # "Property 'qemu64-x86_64-cpu.NAME' not found": the recording's CPU type is the
        # capture's (FALLBACK_MODEL); this vCPU's own type goes in its place.
        template = {"execute": "qom-get", "arguments": {"path": RECORDED_PATH, "property": NO_SUCH}}
        recorded = f"{FALLBACK_MODEL}{CPU_TYPE_SUFFIX}.{NO_SUCH}"
        raise missing(vm, template, f"{cpu_type(hardware)}.{name}", placeholder=recorded)
    value = answer(parse_reply(raw))
    socket, die, core, thread = hardware.topology.slot(index)
    own: dict[str, int] = {
        "socket-id": socket,
        "die-id": die,
        "core-id": core,
        "thread-id": thread,
        "apic-id": hardware.topology.apic_id(index),
    }
    if name in own:
        return own[name]
    if isinstance(value, str) and value.startswith(RECORDED_PATH + "/"):
        return cpu_path(index) + value[len(RECORDED_PATH) :]
    siblings = hardware.topology.cores * hardware.topology.threads > 1
    if siblings and vm.profile.cpu_topology_features:
        if feature_key(name) in TOPOLOGY_FEATURES:
            value = True
        elif name == "feature-words":
            value = _with_topology_bits(value)
    if isinstance(value, bool):
        wanted = feature_key(name)
        for feature, enabled in hardware.cpu_features:
            if feature_key(feature) == wanted:
                value = enabled
    return value


#: What a package with several logical CPUs sets: CPUID[1].EDX bit 28 (HT) and
#: CPUID[0x80000001].ECX bit 1 (CMP_LEGACY), by (register, leaf): mask.
TOPOLOGY_BITS = {("EDX", 1): 1 << 28, ("ECX", 0x80000001): 1 << 1}
TOPOLOGY_FEATURES = frozenset({"ht", "cmp-legacy"})


def _with_topology_bits(value: QValue) -> QValue:
    assert isinstance(value, list)
    for word in value:
        bits = TOPOLOGY_BITS.get((word["cpuid-register"], word["cpuid-input-eax"]))
        if bits is not None and "cpuid-input-ecx" not in word:
            word["features"] |= bits
    return value


@command("qom-get")
def qom_get(ctx: CommandContext, args: dict[str, Any]) -> QValue:
    vm, path = ctx.vm, args["path"]
    index = _cpu_index(vm.hardware, path)
    if index is not None:
        return _cpu_property(vm, index, args["property"])
    unknown = f"/machine/{NO_SUCH}"
    template = {"execute": "qom-get", "arguments": {"path": unknown, "property": "type"}}
    raise missing(vm, template, path, placeholder=unknown)
