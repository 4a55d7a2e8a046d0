"""Migration commands: settings, queries, and the checks QEMU makes before it migrates."""

from __future__ import annotations

import re
from typing import Any

from fakeqemu.commands.registry import CommandContext, CommandTable
from fakeqemu.errors import QmpError
from fakeqemu.model.machine import RunState
from fakeqemu.model.migration import check_parameters
from fakeqemu.protocol.encoder import QValue

TABLE = CommandTable()
command = TABLE.command

IN_PROGRESS = "There's a migration process in progress"
_SCHEMES = ("tcp:", "unix:", "exec:", "fd:", "file:", "rdma:", "vsock:")
_HOST_PORT = re.compile(r"^(\[[^\]]*\]|[^:]*):([^:]+)$")


@command("query-migrate")
def query_migrate(ctx: CommandContext, args: dict[str, Any]) -> QValue:
    info: dict[str, QValue] = ctx.vm.source_migration_info()
    return info


@command("query-migrate-capabilities")
def query_migrate_capabilities(ctx: CommandContext, args: dict[str, Any]) -> QValue:
    caps = ctx.vm.migration_settings.capabilities
    return [{"capability": name, "state": state} for name, state in caps.items()]


@command("query-migrate-parameters")
def query_migrate_parameters(ctx: CommandContext, args: dict[str, Any]) -> QValue:
    params: dict[str, QValue] = dict(ctx.vm.migration_settings.parameters)
    return params


@command("migrate-set-capabilities")
def migrate_set_capabilities(ctx: CommandContext, args: dict[str, Any]) -> QValue:
    vm = ctx.vm
    if vm.source_migration.is_running:
        raise QmpError(IN_PROGRESS)
    merged = dict(vm.migration_settings.capabilities)
    for entry in args["capabilities"]:
        merged[entry["capability"]] = entry["state"]
    if merged.get("postcopy-preempt") and not merged.get("postcopy-ram"):
        raise QmpError("Postcopy preempt requires postcopy-ram")
    if merged.get("switchover-ack") and not merged.get("return-path"):
        raise QmpError("Capability 'switchover-ack' requires capability 'return-path'")
    if vm.profile.multifd_excludes_xbzrle and merged.get("multifd") and merged.get("xbzrle"):
        raise QmpError("Multifd is not compatible with xbzrle")
    vm.migration_settings.capabilities = merged
    return {}


@command("migrate-set-parameters")
def migrate_set_parameters(ctx: CommandContext, args: dict[str, Any]) -> QValue:
    settings = ctx.vm.migration_settings
    changes = {key: ("" if value is None else value) for key, value in args.items()}
    merged = {**settings.parameters, **changes}
    problem = check_parameters(merged)
    if problem is not None:
        raise QmpError(problem)
    settings.parameters = merged
    return {}


def _check_uri(uri: str, ctx: CommandContext) -> None:
    """migrate_uri_parse(): the scheme, then the address of socket schemes."""
    if not uri.startswith(_SCHEMES):
        raise QmpError(ctx.vm.profile.migrate_unknown_protocol.format(uri=uri))
    scheme, _, address = uri.partition(":")
    if scheme in ("tcp", "rdma") and not _HOST_PORT.match(address):
        raise QmpError(f"error parsing address '{address}'")


@command("migrate")
def migrate(ctx: CommandContext, args: dict[str, Any]) -> QValue:
    vm = ctx.vm
    uri: str | None = args.get("uri")
    channels = args.get("channels") or None
    if (uri is None) == (channels is None):
        raise QmpError("need either 'uri' or 'channels' argument")
    if not vm.profile.migrate_checks_uri_after_setup and uri is not None:
        _check_uri(uri, ctx)
    if vm.source_migration.is_running:
        raise QmpError(IN_PROGRESS)
    if vm.runstate is RunState.INMIGRATE:
        raise QmpError("Guest is waiting for an incoming migration")
    if vm.runstate is RunState.POSTMIGRATE:
        raise QmpError("Can't migrate the vm that was paused due to previous migration")
    if vm.profile.migrate_checks_uri_after_setup and uri is not None:
        # 7.2 has already moved to setup when it finds the URI unusable.
        vm.source_migration.error_desc = None
        vm.set_source_status("setup")
        try:
            _check_uri(uri, ctx)
        except QmpError as error:
            if not error.desc.startswith("Parameter"):
                vm.source_migration.error_desc = error.desc
            vm.set_source_status("failed")
            raise
    raise QmpError("fakeqemu: live migration is not implemented yet")


@command("migrate-incoming")
def migrate_incoming(ctx: CommandContext, args: dict[str, Any]) -> QValue:
    vm = ctx.vm
    if vm.runstate is not RunState.INMIGRATE:
        raise QmpError("'-incoming' was not specified on the command line")
    raise QmpError("fakeqemu: incoming migration is not implemented yet")


@command("migrate_cancel")
def migrate_cancel(ctx: CommandContext, args: dict[str, Any]) -> QValue:
    return {}


@command("migrate-continue")
def migrate_continue(ctx: CommandContext, args: dict[str, Any]) -> QValue:
    status = ctx.vm.source_migration.status
    if status != args["state"]:
        raise QmpError(f"Migration not in expected state: {status}")
    return {}


@command("migrate-start-postcopy")
def migrate_start_postcopy(ctx: CommandContext, args: dict[str, Any]) -> QValue:
    vm = ctx.vm
    if not vm.migration_settings.enabled("postcopy-ram"):
        raise QmpError("Enable postcopy with migrate_set_capability before the start of migration")
    raise QmpError("Postcopy must be started after migration has been started")


@command("migrate-pause")
def migrate_pause(ctx: CommandContext, args: dict[str, Any]) -> QValue:
    raise QmpError(ctx.vm.profile.migrate_pause_not_postcopy)


@command("migrate-recover")
def migrate_recover(ctx: CommandContext, args: dict[str, Any]) -> QValue:
    raise QmpError("Migrate recover can only be run when postcopy is paused.")
