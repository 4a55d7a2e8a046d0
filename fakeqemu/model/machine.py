"""The virtual machine: run state, identity, migrations, and the events they raise."""

from __future__ import annotations

import dataclasses
import enum
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fakeqemu.backends.interface import BackendInputs
from fakeqemu.backends.options import BackendError
from fakeqemu.backends.registry import BackendChoice, default_backend
from fakeqemu.backends.scenarios import Timeline
from fakeqemu.errors import QmpError
from fakeqemu.model.addresses import (
    INCOMING_UNKNOWN_PROTOCOL,
    channel_address,
    open_error,
    resolved,
)
from fakeqemu.model.descriptors import Descriptors
from fakeqemu.model.events import EventBus
from fakeqemu.model.hardware import Hardware
from fakeqemu.model.incoming import DestinationHooks, IncomingMigration
from fakeqemu.model.migration import MigrationSettings, MigrationTransport
from fakeqemu.model.outgoing import OutgoingMigration, SourceHooks
from fakeqemu.model.ram import PAGE_SIZE, ram_total
from fakeqemu.model.recovery import RECOVER_NOT_PAUSED
from fakeqemu.model.stats import query_migrate
from fakeqemu.profiles import Profile
from fakeqemu.vocabulary import Role


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


#: The fields of a VirtualMachine that running it changes; ``reset`` gives them their
#: defaults again and keeps every other (configuration, events, observers, hardware).
_CHANGED_BY_RUNNING = frozenset(
    {
        "runstate",
        "quit_requested",
        "exit_status",
        "autostart",
        "outgoing",
        "incoming_migration",
        "_incoming_started",
    }
)


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
    #: ``-m`` in bytes.
    memory: int = 128 << 20
    #: ``old`` or ``new``: how query-migrate looks on a completed destination.
    shape: str = "old"
    #: Monotonic seconds; trio's clock in the server, a plain function in unit tests.
    clock: Callable[[], float] = time.monotonic
    runstate: RunState = RunState.RUNNING
    #: Set by ``quit``; the server shuts down once the reply is out.
    quit_requested: bool = False
    #: Set when the process would exit on its own (a failed incoming migration).
    exit_status: int | None = None
    #: What ``cont`` does while ``inmigrate``: start the guest once migration ends.
    autostart: bool = True
    #: Supplied by the server: how migrations reach their peers.
    transport: MigrationTransport | None = None
    #: The RAM-counter backend (with its options) that makes the numbers of each
    #: migration, on either side: the seam where backends plug in.
    backend: BackendChoice = field(default_factory=default_backend)
    #: ``--scenario``: how the guest's workload changes over each migration.
    scenario: Timeline | None = None
    #: Called with each status this machine's migration moves to (fault triggers, logs).
    status_observers: list[Callable[[str], None]] = field(default_factory=list)
    #: Whether the migration link carries data now (a link-stall fault says no).
    link_up: Callable[[], bool] = field(default=lambda: True)
    #: CPUs, devices and chardevs, as the command line describes them.
    hardware: Hardware = field(default_factory=Hardware)
    #: File descriptors passed to each monitor (SCM_RIGHTS, getfd).
    descriptors: Descriptors = field(default_factory=Descriptors)
    migration_settings: MigrationSettings = field(init=False)
    outgoing: OutgoingMigration | None = None
    incoming_migration: IncomingMigration | None = None
    _incoming_started: bool = False

    def __post_init__(self) -> None:
        if self.incoming is not None:
            self.runstate = RunState.INMIGRATE
            self.autostart = not self.start_paused
        elif self.start_paused:
            self.runstate = RunState.PRELAUNCH
        self.migration_settings = MigrationSettings.for_profile(self.profile)

    @property
    def running(self) -> bool:
        return self.runstate is RunState.RUNNING

    @property
    def ram_total(self) -> int:
        """``ram.total`` of this guest: its memory plus the machine's ROM blocks."""
        return ram_total(self.memory)

    def _backend_inputs(self, role: Role) -> BackendInputs:
        capabilities = self.migration_settings.capabilities
        return BackendInputs(
            role=role,
            guest_ram=self.memory,
            ram_total=self.ram_total,
            page_size=PAGE_SIZE,
            capabilities=frozenset(name for name, on in capabilities.items() if on),
            clock=self.clock,
            options={},
            scenario=self.scenario,
        )

    def check_backend(self) -> None:
        """Make the backend once for the side this machine starts as, so that a bad choice
        fails before any migration."""
        if self.incoming is None:
            self.backend.source(self._backend_inputs(Role.SOURCE))
        else:
            self.backend.destination(self._backend_inputs(Role.DESTINATION))

    # -- migration --------------------------------------------------------------------

    def migration_info(self) -> dict[str, Any]:
        """``query-migrate``'s answer."""
        return query_migrate(
            self.profile,
            self.shape,
            self.incoming_migration,
            self.outgoing,
            self.clock(),
            self.ram_total,
        )

    @property
    def source_status(self) -> str:
        return "none" if self.outgoing is None else self.outgoing.status

    @property
    def migration_status(self) -> str:
        """The status of this fake's own side: incoming on a destination, else outgoing."""
        if self.incoming is not None:
            return "none" if self.incoming_migration is None else self.incoming_migration.status
        return self.source_status

    def _migration_event(self, data: dict[str, Any], name: str = "MIGRATION") -> None:
        if self.migration_settings.enabled("events"):
            self.events.emit(name, data)

    def require_transport(self) -> MigrationTransport:
        """The way to the peer; a fake served without one (no trio layer) cannot migrate."""
        if self.transport is None:
            raise QmpError("fakeqemu: this fake has no migration transport")
        return self.transport

    def begin_outgoing(self) -> OutgoingMigration:
        """migrate_init(): a fresh migration in ``setup``, stats zeroed, error cleared."""
        hooks = SourceHooks(
            set_status=self._set_source_status,
            pass_event=lambda n: self._migration_event({"pass": n}, "MIGRATION_PASS"),
            stop_guest=self._stop_for_switchover,
            finish_guest=self._finish_switchover,
            guest_running=lambda: self.running,
            link_up=lambda: self.link_up(),
        )
        try:
            ram = self.backend.source(self._backend_inputs(Role.SOURCE))
        except BackendError as error:
            raise QmpError(f"fakeqemu: {error}") from None
        self.outgoing = OutgoingMigration(
            profile=self.profile,
            ram=ram,
            hooks=hooks,
            capabilities=dict(self.migration_settings.capabilities),
            parameters=self.migration_settings.parameters,
            start_time=self.clock(),
        )
        self._set_source_status("setup")
        return self.outgoing

    def _set_source_status(self, status: str) -> None:
        assert self.outgoing is not None
        self.outgoing.status = status
        self._migration_event({"status": status})
        self._status_changed(status)

    def _status_changed(self, status: str) -> None:
        for observe in list(self.status_observers):
            observe(status)

    def _stop_for_switchover(self) -> bool:
        was_running = self.running
        self.runstate = RunState.FINISH_MIGRATE
        if was_running:
            self.events.emit("STOP")
        return was_running

    def _finish_switchover(self, success: bool) -> None:
        if success:
            self.runstate = RunState.POSTMIGRATE
            return
        self.runstate = RunState.RUNNING
        self.events.emit("RESUME")

    def begin_incoming(self, target: str | dict[str, Any]) -> None:
        """``migrate-incoming`` (arguments) or ``-incoming URI``: once per process.

        Checked in qmp_migrate_incoming()'s order: once, ``-incoming``, (7.2: a
        ``setup`` event whatever comes next), the address, the destination's state;
        then the state moves to ``setup`` (8.2 on) before QEMU tries to listen, and a
        failure to listen leaves it there, so every later attempt is refused.
        """
        if self._incoming_started:
            raise QmpError("The incoming migration has already been started")
        if self.runstate is not RunState.INMIGRATE:
            raise QmpError("'-incoming' was not specified on the command line")
        transport = self.require_transport()
        if not self.profile.destination_reports_setup:
            self._unconditional_setup_event()
        args = {"uri": target} if isinstance(target, str) else target
        address = channel_address(args, self.profile, INCOMING_UNKNOWN_PROTOCOL)
        incoming = self.incoming_migration
        if incoming is not None and incoming.status != "none":
            raise QmpError(f"Illegal migration incoming state: {incoming.status}")
        if incoming is None:
            incoming = self._new_incoming()
        if self.profile.destination_reports_setup:
            self.incoming_migration = incoming
            incoming.hooks.set_status("setup")
        address = resolved(address)
        problem = open_error(address, incoming=True)
        if problem is not None:
            raise QmpError(problem)
        addresses = transport.listen(address.uri, incoming)
        self._incoming_started = True
        self.incoming_migration = incoming
        incoming.listening(addresses)

    def recover_incoming(self, uri: str) -> None:
        """``migrate-recover``: listen again for the paused migration's source.  The
        status stays postcopy-paused until it connects; 7.2 sends its unconditional
        ``setup`` event, and a second call replaces the listener (observed)."""
        incoming = self.incoming_migration
        if incoming is None or incoming.status != "postcopy-paused":
            raise QmpError(RECOVER_NOT_PAUSED)
        transport = self.require_transport()
        if not self.profile.destination_reports_setup:
            self._unconditional_setup_event()
        address = resolved(channel_address({"uri": uri}, self.profile, INCOMING_UNKNOWN_PROTOCOL))
        problem = open_error(address, incoming=True)
        if problem is not None:
            raise QmpError(problem)
        incoming.listening(transport.listen(address.uri, incoming))

    def _new_incoming(self) -> IncomingMigration:
        hooks = DestinationHooks(
            set_status=self._set_destination_status,
            start_guest=self._start_after_incoming,
            exit_process=self._exit_after_failed_incoming,
        )
        try:
            received = self.backend.destination(self._backend_inputs(Role.DESTINATION))
        except BackendError as error:
            raise QmpError(f"fakeqemu: {error}") from None
        return IncomingMigration(profile=self.profile, hooks=hooks, ram=received)

    def _unconditional_setup_event(self) -> None:
        self.events.emit("MIGRATION", {"status": "setup"})

    def _set_destination_status(self, status: str) -> None:
        assert self.incoming_migration is not None
        self.incoming_migration.status = status
        self._migration_event({"status": status})
        self._status_changed(status)

    def _start_after_incoming(self) -> None:
        if self.autostart:
            self.runstate = RunState.RUNNING
            self.events.emit("RESUME")
        else:
            self.runstate = RunState.PAUSED

    def _exit_after_failed_incoming(self) -> None:
        self.exit_status = 1

    def reset(self, backend: BackendChoice, scenario: Timeline | None) -> None:
        """Back to the state at start (``POST /reset``), in place: sessions, commands and
        the transport keep this object.  A running migration is dropped without a word:
        its state machines are cut off from the machine first."""
        if self.outgoing is not None and self.outgoing.is_running:
            self.outgoing.hooks = SourceHooks(
                lambda status: None, lambda n: None, lambda: False, lambda ok: None
            )
            self.outgoing.fail(self.clock(), None)
        if self.incoming_migration is not None:
            self.incoming_migration.hooks = DestinationHooks(
                lambda status: None, lambda: None, lambda: None
            )
            self.incoming_migration.stream_broken("fakeqemu: reset")
        kept = {
            f.name: getattr(self, f.name)
            for f in dataclasses.fields(self)
            if f.init and f.name not in _CHANGED_BY_RUNNING
        }
        fresh = VirtualMachine(**{**kept, "backend": backend, "scenario": scenario})
        self.__dict__.update(fresh.__dict__)

    # -- run state --------------------------------------------------------------------

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
            # Nothing to do and nothing to say: real 7.2 and 11.1 send no event
            # (found by tests/conformance/test_differential.py).
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

    def host_signal(self) -> None:
        """SIGINT, SIGTERM or SIGHUP: QEMU shuts down (qemu_system_killed)."""
        self.events.emit("SHUTDOWN", {"guest": False, "reason": "host-signal"})
        self.quit_requested = True
