"""Monitor-level commands: negotiation and what a release says about itself."""

from __future__ import annotations

from typing import Any

from fakeqemu.commands.registry import CommandContext, CommandTable
from fakeqemu.profiles.patch import introspection_for
from fakeqemu.protocol.encoder import QValue

TABLE = CommandTable()
command = TABLE.command


@command("qmp_capabilities")
def qmp_capabilities(ctx: CommandContext, args: dict[str, Any]) -> QValue:
    ctx.session.negotiate(args.get("enable", []))
    return {}


@command("query-version")
def query_version(ctx: CommandContext, args: dict[str, Any]) -> QValue:
    version: dict[str, QValue] = ctx.vm.profile.version
    return version


@command("query-commands")
def query_commands(ctx: CommandContext, args: dict[str, Any]) -> QValue:
    return [{"name": name} for name in ctx.vm.profile.command_order]


@command("query-qmp-schema")
def query_qmp_schema(ctx: CommandContext, args: dict[str, Any]) -> QValue:
    # The new shape marks the patch's MigrationStats members optional, as QEMU would.
    schema: list[QValue] = list(introspection_for(ctx.vm.profile, ctx.vm.shape))
    return schema
