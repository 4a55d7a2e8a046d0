"""``human-monitor-command``: the HMP commands tools still scrape."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fakeqemu.commands.hmp_migrate import format_info_migrate
from fakeqemu.commands.registry import CommandContext, CommandTable
from fakeqemu.model.machine import RunState, VirtualMachine
from fakeqemu.protocol.encoder import QValue

TABLE = CommandTable()
command = TABLE.command


def _info_status(vm: VirtualMachine) -> str:
    # hmp_info_status(): "paused" plus the run state unless it is plain paused.
    text = "VM status: " + ("running" if vm.running else "paused")
    if not vm.running and vm.runstate is not RunState.PAUSED:
        text += f" ({vm.runstate})"
    return text + "\n"


def _info_version(vm: VirtualMachine) -> str:
    qemu = vm.profile.version["qemu"]
    return f"{qemu['major']}.{qemu['minor']}.{qemu['micro']}{vm.profile.version['package']}\n"


_HMP: dict[str, Callable[[VirtualMachine], str]] = {
    "info status": _info_status,
    "info version": _info_version,
    "info migrate": format_info_migrate,
}


@command("human-monitor-command")
def human_monitor_command(ctx: CommandContext, args: dict[str, Any]) -> QValue:
    line = " ".join(args["command-line"].split())
    handler = _HMP.get(line)
    if handler is None:
        word = line.split(" ", 1)[0] if line else ""
        text = f"fakeqemu: HMP command '{line}' is not implemented\n" if word else ""
    else:
        text = handler(ctx.vm)
    # HMP output goes through monitor_puts(), which turns "\n" into "\r\n".
    return text.replace("\n", "\r\n")
