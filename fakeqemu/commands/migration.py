"""Migration commands: settings, queries, and the checks QEMU makes before it migrates."""

from __future__ import annotations

import os
from typing import Any

from fakeqemu.commands.registry import CommandContext, CommandTable
from fakeqemu.errors import DEVICE_NOT_ACTIVE, QmpError
from fakeqemu.model.addresses import (
    MigrationAddress,
    ResolutionError,
    UnknownProtocol,
    channel_address,
    open_error,
    resolved,
)
from fakeqemu.model.machine import RunState
from fakeqemu.model.migration import check_capabilities, check_parameters
from fakeqemu.model.recovery import check_resume, resume_requested
from fakeqemu.protocol.encoder import QValue

TABLE = CommandTable()
command = TABLE.command

IN_PROGRESS = "There's a migration process in progress"


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
    settings = vm.migration_settings
    merged = dict(settings.capabilities)
    for entry in args["capabilities"]:
        merged[entry["capability"]] = entry["state"]
    problem = check_capabilities(vm.profile, merged, settings.parameters)
    if problem is not None:
        raise QmpError(problem)
    settings.capabilities = merged
    return {}


@command("migrate-set-parameters")
def migrate_set_parameters(ctx: CommandContext, args: dict[str, Any]) -> QValue:
    settings = ctx.vm.migration_settings
    changes = {
        key: ("" if value is None else value)
        for key, value in args.items()
        if key not in ctx.vm.profile.ignored_parameters
    }
    merged = {**settings.parameters, **changes}
    problem = check_parameters(ctx.vm.profile, merged)
    if problem is not None:
        raise QmpError(problem)
    # In place: a running migration reads the same dict, so changes act at once.
    settings.parameters.update(changes)
    _wake(ctx)
    return {}


def _wake(ctx: CommandContext) -> None:
    if ctx.vm.transport is not None:
        ctx.vm.transport.wake()


@command("migrate")
def migrate(ctx: CommandContext, args: dict[str, Any]) -> QValue:
    """qmp_migrate(): the address (before migrate_prepare() from 8.x, after it in 7.2),
    the checks of migrate_prepare(), then ``setup`` and the transport."""
    vm = ctx.vm
    profile = vm.profile
    address = None
    if not profile.migrate_checks_uri_after_setup:
        address = channel_address(args, profile, profile.migrate_unknown_protocol)
    if args.get("resume"):
        return _resume(ctx, args, address)
    if vm.outgoing is not None and vm.outgoing.is_running:
        raise QmpError(IN_PROGRESS)
    if vm.runstate is RunState.INMIGRATE:
        raise QmpError("Guest is waiting for an incoming migration")
    if vm.runstate is RunState.POSTMIGRATE:
        raise QmpError("Can't migrate the vm that was paused due to previous migration")
    outgoing = vm.begin_outgoing()
    passed = None
    try:
        if address is None:
            address = channel_address(args, profile, profile.migrate_unknown_protocol)
        if address.scheme == "fd":
            # monitor_get_fd(): a descriptor given with getfd, taken off the monitor.
            passed = vm.descriptors.for_monitor(ctx.session).take_named(address.rest)
        problem = None if passed is not None else open_error(address, incoming=False)
        if problem is not None:
            raise QmpError(problem)
    except UnknownProtocol:
        # 7.2: migrate_set_state(SETUP -> FAILED) only, no error-desc is kept.
        outgoing.fail(vm.clock(), None)
        raise
    except QmpError as error:
        # migrate_fd_error(): the error becomes error-desc.
        outgoing.fail(vm.clock(), error.desc)
        raise
    try:
        address = resolved(address)
    except ResolutionError as error:
        # QEMU resolves in its connect thread and fails just after this reply; the fake
        # fails at once (the events come before the reply instead of after it).
        outgoing.fail(vm.clock(), error.desc)
        return {}
    # The fakes' own stream runs over the passed socket as over one the fake dials.
    vm.require_transport().connect(address.uri if passed is None else f"fd:{passed}", outgoing)
    return {}


def _resume(ctx: CommandContext, args: dict[str, Any], address: MigrationAddress | None) -> QValue:
    """qmp_migrate() with resume: the paused postcopy connects to ``migrate-recover``'s
    listener; the reply comes first, the statuses follow (observed, 7.2)."""
    vm = ctx.vm
    outgoing = check_resume(vm.outgoing)
    if address is None:
        address = channel_address(args, vm.profile, vm.profile.migrate_unknown_protocol)
    problem = open_error(address, incoming=False)
    if problem is not None:
        raise QmpError(problem)
    address = resolved(address)
    resume_requested(outgoing)
    vm.require_transport().connect(address.uri, outgoing, resume=True)
    return {}


@command("migrate-incoming")
def migrate_incoming(ctx: CommandContext, args: dict[str, Any]) -> QValue:
    vm = ctx.vm
    vm.begin_incoming(args)
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
    if vm.outgoing is not None and status == "pre-switchover":
        vm.outgoing.continue_switchover(vm.clock())
        _wake(ctx)
    # Any other matching state: QEMU posts a semaphore nobody waits on, and says {}.
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
    """qmp_migrate_pause(): shut the stream down; both sides then pause, after the reply
    (observed, 7.2 and 10.0)."""
    vm = ctx.vm
    states = vm.profile.migrate_pause_states
    outgoing, incoming = vm.outgoing, vm.incoming_migration
    if outgoing is not None and outgoing.status in states:
        # The source keeps an error-desc that says who paused it (10.0; 7.2: none).
        vm.require_transport().break_stream(vm.profile.paused_by_user_error)
    elif incoming is not None and incoming.status in states:
        vm.require_transport().break_stream(None)
    else:
        raise QmpError(vm.profile.migrate_pause_not_postcopy)
    return {}


@command("migrate-recover")
def migrate_recover(ctx: CommandContext, args: dict[str, Any]) -> QValue:
    ctx.vm.recover_incoming(args["uri"])
    return {}


@command("client_migrate_info")
def client_migrate_info(ctx: CommandContext, args: dict[str, Any]) -> QValue:
    """qmp_client_migrate_info(): only SPICE clients are told, and the fake has no SPICE."""
    if args["protocol"] == "spice":
        raise QmpError("SPICE is not in use", DEVICE_NOT_ACTIVE)
    raise QmpError("Parameter 'protocol' expects 'spice'")


@command("query-migrationthreads")
def query_migrationthreads(ctx: CommandContext, args: dict[str, Any]) -> QValue:
    """The source's migration thread while it runs (no multifd send threads are modelled)."""
    outgoing = ctx.vm.outgoing
    if outgoing is None or not outgoing.is_running:
        return []
    return [{"name": "mig/src/main", "thread-id": os.getpid()}]
