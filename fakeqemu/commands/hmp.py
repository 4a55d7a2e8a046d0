"""``human-monitor-command``: the HMP commands tools still scrape."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fakeqemu.commands.hmp_migrate import (
    format_info_migrate,
    format_info_migrate_capabilities,
    format_info_migrate_parameters,
)
from fakeqemu.commands.registry import CommandContext, CommandTable
from fakeqemu.model.machine import RunState, VirtualMachine
from fakeqemu.protocol.encoder import QValue
from fakeqemu.vocabulary import version_text

TABLE = CommandTable()
command = TABLE.command


def _info_status(vm: VirtualMachine) -> str:
    # hmp_info_status(): "paused" plus the run state unless it is plain paused.
    text = "VM status: " + ("running" if vm.running else "paused")
    if not vm.running and vm.runstate is not RunState.PAUSED:
        text += f" ({vm.runstate})"
    return text + "\n"


def _info_version(vm: VirtualMachine) -> str:
    return f"{version_text(vm.profile.version)}{vm.profile.version['package']}\n"


_HMP: dict[str, Callable[[VirtualMachine], str]] = {
    "info status": _info_status,
    "info version": _info_version,
    "info migrate": format_info_migrate,
    "info migrate_parameters": format_info_migrate_parameters,
    "info migrate_capabilities": format_info_migrate_capabilities,
}


def _run_hmp(vm: VirtualMachine, line: str) -> str:
    """HMP's dispatcher: the implemented commands, QEMU's listings and its complaints."""
    words = line.split()
    if not words:
        return ""
    recorded = vm.profile.recorded
    if words == ["help"] or words == ["?"]:
        text: str = recorded["hmp-help"]
        return text
    if words == ["info"]:
        listing: str = recorded["hmp-info"]
        return listing
    name = " ".join(words[:2]) if words[0] == "info" else words[0]
    handler = _HMP.get(" ".join(words))
    if handler is not None:
        return handler(vm)
    known = recorded["hmp-info-commands" if words[0] == "info" else "hmp-commands"]
    if (words[1] if words[0] == "info" else words[0]) not in known:
        return f"unknown command: '{name}'\n"
    return f"fakeqemu: HMP command '{line}' is not implemented\n"


@command("human-monitor-command")
def human_monitor_command(ctx: CommandContext, args: dict[str, Any]) -> QValue:
    text = _run_hmp(ctx.vm, args["command-line"])
    # HMP output goes through monitor_puts(), which turns "\n" into "\r\n".
    return text.replace("\r\n", "\n").replace("\n", "\r\n")
