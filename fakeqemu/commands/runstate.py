"""The guest's run state and identity: query-status, stop, cont, reset, quit."""

from __future__ import annotations

from typing import Any

from fakeqemu.commands.registry import CommandContext, CommandTable
from fakeqemu.protocol.encoder import QValue

TABLE = CommandTable()
command = TABLE.command


@command("query-status")
def query_status(ctx: CommandContext, args: dict[str, Any]) -> QValue:
    vm = ctx.vm
    status: dict[str, QValue] = {"running": vm.running, "status": str(vm.runstate)}
    if "singlestep" in vm.profile.schema.return_members("query-status"):
        # StatusInfo.singlestep exists up to 8.x; the fake never single-steps.
        status["singlestep"] = False
    return status


@command("query-name")
def query_name(ctx: CommandContext, args: dict[str, Any]) -> QValue:
    return {} if ctx.vm.name is None else {"name": ctx.vm.name}


@command("query-uuid")
def query_uuid(ctx: CommandContext, args: dict[str, Any]) -> QValue:
    return {"UUID": ctx.vm.hardware.uuid or ctx.vm.profile.recorded["uuid"]}


@command("query-kvm")
def query_kvm(ctx: CommandContext, args: dict[str, Any]) -> QValue:
    # KVM is built in ("present", as recorded); "enabled" follows -accel and /dev/kvm.
    kvm: dict[str, QValue] = dict(ctx.vm.profile.recorded["kvm"])
    kvm["enabled"] = ctx.vm.hardware.kvm
    return kvm


@command("query-target")
def query_target(ctx: CommandContext, args: dict[str, Any]) -> QValue:
    target: dict[str, QValue] = ctx.vm.profile.recorded["target"]
    return dict(target)


@command("stop")
def stop(ctx: CommandContext, args: dict[str, Any]) -> QValue:
    ctx.vm.stop()
    return {}


@command("cont")
def cont(ctx: CommandContext, args: dict[str, Any]) -> QValue:
    ctx.vm.cont()
    return {}


@command("system_reset")
def system_reset(ctx: CommandContext, args: dict[str, Any]) -> QValue:
    ctx.vm.system_reset()
    return {}


@command("quit")
def quit_(ctx: CommandContext, args: dict[str, Any]) -> QValue:
    ctx.vm.quit()
    ctx.session.close_after_reply()
    return {}
