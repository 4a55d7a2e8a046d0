"""A whole fake QEMU process minus the sockets: machine, commands, monitor sessions."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from fakeqemu.backends import BackendChoice, BackendFactory
from fakeqemu.backends.scenarios import Timeline, scenario
from fakeqemu.commands import Executor, all_commands
from fakeqemu.fake.config import FakeQemuConfig
from fakeqemu.model.events import Event, EventBus, WallClock
from fakeqemu.model.faults import FaultEngine
from fakeqemu.model.hardware import Hardware
from fakeqemu.model.machine import VirtualMachine
from fakeqemu.profiles import CATALOG, Catalog, Profile
from fakeqemu.protocol.json_stream import JsonDialect
from fakeqemu.protocol.session import QmpSession


class FakeQemu:
    """One fake QEMU: owns the machine and creates a session per monitor connection."""

    def __init__(
        self,
        config: FakeQemuConfig,
        *,
        wall_clock: WallClock = time.time,
        clock: Callable[[], float] = time.monotonic,
        backend: BackendFactory | None = None,
        catalog: Catalog = CATALOG,
        hardware: Hardware | None = None,
    ) -> None:
        """``backend``: a backend factory to use instead of ``config.backend``'s;
        ``catalog``: where ``config.profile`` is looked up (fakeqemu's releases);
        ``hardware``: the machine's CPUs, devices and chardevs as a QEMU command line
        describes them (default: one ``qemu64`` vCPU and nothing else)."""
        self.config = config
        self.profile: Profile = catalog.get_profile(config.profile)
        options, seed = config.backend_options, config.seed
        if backend is None:
            choice = BackendChoice.from_spec(config.backend, options, seed)
        else:
            choice = BackendChoice(backend, dict(options), seed, spec=repr(backend))
        #: What :meth:`reset` goes back to.
        self._backend_at_start = choice
        self._scenario_at_start = None if config.scenario is None else scenario(config.scenario)
        self.vm = VirtualMachine(
            profile=self.profile,
            events=EventBus(wall_clock),
            name=config.name,
            start_paused=config.start_paused,
            incoming=config.incoming,
            memory=config.memory,
            shape=config.shape,
            clock=clock,
            backend=choice,
            scenario=self._scenario_at_start,
            hardware=hardware or Hardware(),
        )
        # A misspelt option or an unreadable recording fails now, not at `migrate`.
        self.vm.check_backend()
        self.executor = Executor(self.vm, all_commands())
        #: The faults this fake holds (:mod:`fakeqemu.model.faults`).
        self.faults = FaultEngine(self.vm, lambda: list(self._listeners))
        self.executor.middleware = self.faults.intercept
        self.vm.status_observers.append(self.faults.on_status)
        self.vm.link_up = self.faults.link_up
        #: Called with every new monitor session (journals watch its replies here).
        self.session_observers: list[Callable[[QmpSession], None]] = []
        #: Called with each session that ends (``serve -v`` logs disconnections).
        self.session_closed_observers: list[Callable[[QmpSession], None]] = []
        #: Each open session's event listener, to unsubscribe it when the session ends.
        self._listeners: dict[QmpSession, Callable[[Event], None]] = {}
        self._dialect = JsonDialect(
            error_locations=self.profile.json_error_locations,
            skip_rest_after_limit_error=self.profile.json_skip_rest_after_limit_error,
        )
        for description in config.faults:
            self.faults.add(description)

    def greeting(self, oob_offered: bool = True) -> dict[str, object]:
        capabilities: list[object] = ["oob"] if oob_offered else []
        return {"QMP": {"version": self.profile.version, "capabilities": capabilities}}

    def open_session(
        self,
        on_output: Callable[[], None] | None = None,
        *,
        greeting_sent: bool = False,
        on_failure: Callable[[Exception], None] | None = None,
    ) -> QmpSession:
        """A new monitor connection: greeting queued (unless sent already), events subscribed.

        ``on_failure``: called instead of raising when delivering an event to this
        session fails, so that whoever raised the event (another monitor's command,
        a migration task) goes on; the server then ends this connection only.
        """
        session = QmpSession(
            greeting=self.greeting(),
            executor=self.executor,
            dialect=self._dialect,
            on_output=on_output,
            greeting_sent=greeting_sent,
        )
        self.faults.actions.watch(session)
        route = self.faults.actions.route

        def deliver(event: Event) -> None:
            if not route(session, event):  # a reorder fault holds it until the reply
                session.on_event(event)

        listener: Callable[[Event], None] = deliver
        if on_failure is not None:
            report = on_failure

            def guarded(event: Event) -> None:
                try:
                    deliver(event)
                except Exception as error:
                    report(error)

            listener = guarded

        self._listeners[session] = listener
        self.vm.events.subscribe(listener)
        for observe in self.session_observers:
            observe(session)
        return session

    def close_session(self, session: QmpSession) -> None:
        listener = self._listeners.pop(session, None)
        if listener is not None:
            self.vm.events.unsubscribe(listener)
        self.faults.actions.forget(session)
        for observe in self.session_closed_observers:
            observe(session)

    # -- faults, scenarios, reset -----------------------------------------------------

    def add_fault(self, description: Mapping[str, Any]) -> str:
        """Hold a fault (see :mod:`fakeqemu.model.fault_spec`); returns its id."""
        return self.faults.add(description)

    def set_scenario(self, spec: str | Mapping[str, Any] | Sequence[Any] | Timeline | None) -> None:
        """Play ``spec`` in the migrations from now on, and in the running one (from the
        model backend's next window); ``None``: the workload's constants again."""
        timeline = None if spec is None else scenario(spec)
        self.vm.scenario = timeline
        outgoing = self.vm.outgoing
        if outgoing is not None and outgoing.is_running and hasattr(outgoing.ram, "player"):
            from fakeqemu.backends.scenarios import ScenarioPlayer

            outgoing.ram.player = None if timeline is None else ScenarioPlayer(timeline)

    def reset(self) -> None:
        """Back to the state at start: no migration, no faults, the configured backend,
        scenario and faults; open monitors stay connected."""
        self.vm.reset(self._backend_at_start, self._scenario_at_start)
        self.faults.clear()
        self.faults.resets["migration"] += 1  # streams of the dropped migration go
        for description in self.config.faults:
            self.faults.add(description)

    @property
    def quit_requested(self) -> bool:
        return self.vm.quit_requested
