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
    info: dict[str, QValue] = ctx.vm.migration_info()
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
    if vm.outgoing is not None and vm.outgoing.is_running:
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
    # In place: a running migration reads the same dict, so changes act at once.
    settings.parameters.update(changes)
    _wake(ctx)
    return {}


def _wake(ctx: CommandContext) -> None:
    if ctx.vm.transport is not None:
        ctx.vm.transport.wake()


class UnknownProtocol(QmpError):
    """A URI scheme QEMU does not migrate over; 7.2 does not record it as the migration's error."""


def _check_uri(uri: str, ctx: CommandContext) -> None:
    """migrate_uri_parse(): the scheme, then the address of socket schemes."""
    if not uri.startswith(_SCHEMES):
        raise UnknownProtocol(ctx.vm.profile.migrate_unknown_protocol.format(uri=uri))
    scheme, _, address = uri.partition(":")
    if scheme in ("tcp", "rdma") and not _HOST_PORT.match(address):
        raise QmpError(f"error parsing address '{address}'")


def _channel_uri(channels: list[dict[str, Any]]) -> str:
    """The main channel of a ``channels`` argument, as the URI it stands for."""
    mains = [c for c in channels if c.get("channel-type") == "main"]
    if len(mains) > 1:
        raise QmpError("Channel list has more than one main entry")
    if not mains:
        raise QmpError("Channel list has no main entry")
    addr = mains[0]["addr"]
    if addr["transport"] == "socket" and addr.get("type") == "inet":
        return f"tcp:{addr['host']}:{addr['port']}"
    if addr["transport"] == "socket" and addr.get("type") == "unix":
        return f"unix:{addr['path']}"
    if addr["transport"] == "exec":
        return "exec:" + " ".join(addr["args"])
    if addr["transport"] == "file":
        return f"file:{addr['filename']}"
    return f"{addr['transport']}:"


def _uri_argument(args: dict[str, Any]) -> str:
    uri: str | None = args.get("uri")
    channels = args.get("channels") or None
    if (uri is None) == (channels is None):
        raise QmpError("need either 'uri' or 'channels' argument")
    if uri is not None:
        return uri
    assert channels is not None
    return _channel_uri(channels)


@command("migrate")
def migrate(ctx: CommandContext, args: dict[str, Any]) -> QValue:
    vm = ctx.vm
    uri = _uri_argument(args)
    if not vm.profile.migrate_checks_uri_after_setup:
        _check_uri(uri, ctx)
    if vm.outgoing is not None and vm.outgoing.is_running:
        raise QmpError(IN_PROGRESS)
    if vm.runstate is RunState.INMIGRATE:
        raise QmpError("Guest is waiting for an incoming migration")
    if vm.runstate is RunState.POSTMIGRATE:
        raise QmpError("Can't migrate the vm that was paused due to previous migration")
    outgoing = vm.begin_outgoing()
    if vm.profile.migrate_checks_uri_after_setup:
        # 7.2 has already moved to setup when it finds the URI unusable.
        try:
            _check_uri(uri, ctx)
        except UnknownProtocol:
            # migrate_set_state(SETUP -> FAILED) only: no error-desc is kept.
            outgoing.fail(vm.clock(), None)
            raise
        except QmpError as error:
            # migrate_fd_error(): the address error becomes error-desc.
            outgoing.fail(vm.clock(), error.desc)
            raise
    if vm.transport is None:
        raise QmpError("fakeqemu: this fake has no migration transport")
    vm.transport.connect(uri, outgoing)
    return {}


@command("migrate-incoming")
def migrate_incoming(ctx: CommandContext, args: dict[str, Any]) -> QValue:
    vm = ctx.vm
    if vm.runstate is not RunState.INMIGRATE:
        raise QmpError("'-incoming' was not specified on the command line")
    uri = _uri_argument(args)
    _check_uri(uri, ctx)
    vm.begin_incoming(uri)
    if vm.incoming_migration is not None and "exit-on-error" in args:
        vm.incoming_migration.exit_on_error = args["exit-on-error"]
    return {}


@command("migrate_cancel")
def migrate_cancel(ctx: CommandContext, args: dict[str, Any]) -> QValue:
    vm = ctx.vm
    outgoing = vm.outgoing
    if outgoing is not None:
        if outgoing.in_postcopy and vm.profile.postcopy_cancel_refused:
            raise QmpError("Postcopy migration in progress, cannot cancel.")
        outgoing.cancel(vm.clock())
        _wake(ctx)
    return {}


@command("migrate-continue")
def migrate_continue(ctx: CommandContext, args: dict[str, Any]) -> QValue:
    vm = ctx.vm
    status = vm.source_status
    if status != args["state"]:
        raise QmpError(f"Migration not in expected state: {status}")
    assert vm.outgoing is not None
    vm.outgoing.continue_switchover(vm.clock())
    _wake(ctx)
    return {}


@command("migrate-start-postcopy")
def migrate_start_postcopy(ctx: CommandContext, args: dict[str, Any]) -> QValue:
    vm = ctx.vm
    if not vm.migration_settings.enabled("postcopy-ram"):
        raise QmpError("Enable postcopy with migrate_set_capability before the start of migration")
    if vm.outgoing is None:
        raise QmpError("Postcopy must be started after migration has been started")
    vm.outgoing.start_postcopy()
    _wake(ctx)
    return {}


@command("migrate-pause")
def migrate_pause(ctx: CommandContext, args: dict[str, Any]) -> QValue:
    outgoing = ctx.vm.outgoing
    if outgoing is not None and outgoing.status == "postcopy-active":
        raise QmpError("fakeqemu does not model postcopy recovery (migrate-pause)")
    raise QmpError(ctx.vm.profile.migrate_pause_not_postcopy)


@command("migrate-recover")
def migrate_recover(ctx: CommandContext, args: dict[str, Any]) -> QValue:
    raise QmpError("Migrate recover can only be run when postcopy is paused.")
