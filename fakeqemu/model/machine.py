"""The virtual machine: run state, identity, shutdown, and the events they raise."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from fakeqemu.errors import QmpError
from fakeqemu.model.events import EventBus
from fakeqemu.model.migration import MigrationSettings, SourceMigration
from fakeqemu.profiles import Profile


class RunState(enum.StrEnum):
    """The run states a client can see in ``query-status`` (qapi/run-state.json)."""

    PRELAUNCH = "prelaunch"
    RUNNING = "running"
    PAUSED = "paused"
    INMIGRATE = "inmigrate"
    POSTMIGRATE = "postmigrate"
    FINISH_MIGRATE = "finish-migrate"
    SHUTDOWN = "shutdown"
    INTERNAL_ERROR = "internal-error"
    GUEST_PANICKED = "guest-panicked"
    SUSPENDED = "suspended"


#: States from which only system_reset helps (runstate_needs_reset()).
_NEEDS_RESET = {RunState.SHUTDOWN, RunState.INTERNAL_ERROR, RunState.GUEST_PANICKED}
#: States in which the guest counts as live for vm_stop() (runstate_is_live()).
_LIVE = {RunState.RUNNING, RunState.SUSPENDED}


@dataclass
class VirtualMachine:
    """One fake QEMU process as its monitors see it."""

    profile: Profile
    events: EventBus
    name: str | None = None
    #: ``-S``: start paused in ``prelaunch`` instead of running.
    start_paused: bool = False
    #: ``--incoming``: ``defer`` or a URI; the guest waits in ``inmigrate``.
    incoming: str | None = None
    runstate: RunState = RunState.RUNNING
    #: Set by ``quit``; the server shuts down once the reply is out.
    quit_requested: bool = False
    #: What ``cont`` does while ``inmigrate``: start the guest once migration ends.
    autostart: bool = True
    migration_settings: MigrationSettings = field(init=False)
    source_migration: SourceMigration = field(init=False)

    def __post_init__(self) -> None:
        if self.incoming is not None:
            self.runstate = RunState.INMIGRATE
            self.autostart = not self.start_paused
        elif self.start_paused:
            self.runstate = RunState.PRELAUNCH
        self.migration_settings = MigrationSettings.for_profile(self.profile)
        self.source_migration = SourceMigration()

    @property
    def running(self) -> bool:
        return self.runstate is RunState.RUNNING

    def source_migration_info(self) -> dict[str, Any]:
        """``query-migrate``'s answer."""
        return self.source_migration.info()

    def set_source_status(self, status: str) -> None:
        """migrate_set_state(): MIGRATION is sent only with the ``events`` capability."""
        self.source_migration.status = status
        if self.migration_settings.enabled("events"):
            self.events.emit("MIGRATION", {"status": status})

    def stop(self) -> None:
        """``stop`` (qmp_stop / do_vm_stop): STOP only if the guest was live."""
        if self.runstate is RunState.INMIGRATE:
            self.autostart = False
            return
        if self.runstate in _LIVE:
            self.runstate = RunState.PAUSED
            self.events.emit("STOP")

    def cont(self) -> None:
        """``cont`` (qmp_cont / vm_prepare_start)."""
        if self.runstate in _NEEDS_RESET:
            raise QmpError("Resetting the Virtual Machine is required")
        if self.runstate is RunState.SUSPENDED:
            return
        if self.runstate is RunState.FINISH_MIGRATE:
            raise QmpError("Migration is not finalized yet")
        if self.runstate is RunState.INMIGRATE:
            self.autostart = True
            return
        if self.runstate is RunState.RUNNING:
            # vm_prepare_start() on a running guest still reports a stop/resume pair.
            self.events.emit("STOP")
            self.events.emit("RESUME")
            return
        self.runstate = RunState.RUNNING
        self.events.emit("RESUME")

    def system_reset(self) -> None:
        self.events.emit("RESET", {"guest": False, "reason": "host-qmp-system-reset"})
        if self.runstate in _NEEDS_RESET:
            self.runstate = RunState.PAUSED

    def quit(self) -> None:
        self.events.emit("SHUTDOWN", {"guest": False, "reason": "host-qmp-quit"})
        self.quit_requested = True
