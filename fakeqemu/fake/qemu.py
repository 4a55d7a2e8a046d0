"""A whole fake QEMU process minus the sockets: machine, commands, monitor sessions."""

from __future__ import annotations

import time
from collections.abc import Callable

from fakeqemu.backends import BackendChoice, BackendFactory
from fakeqemu.commands import Executor, all_commands
from fakeqemu.fake.config import FakeQemuConfig
from fakeqemu.model.events import Event, EventBus, WallClock
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
            hardware=hardware or Hardware(),
        )
        # A misspelt option or an unreadable recording fails now, not at `migrate`.
        self.vm.check_backend()
        self.executor = Executor(self.vm, all_commands())
        #: Called with every new monitor session (journals watch its replies here).
        self.session_observers: list[Callable[[QmpSession], None]] = []
        #: Each open session's event listener, to unsubscribe it when the session ends.
        self._listeners: dict[QmpSession, Callable[[Event], None]] = {}
        self._dialect = JsonDialect(
            error_locations=self.profile.json_error_locations,
            skip_rest_after_limit_error=self.profile.json_skip_rest_after_limit_error,
        )

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
        listener: Callable[[Event], None] = session.on_event
        if on_failure is not None:
            report = on_failure

            def guarded(event: Event) -> None:
                try:
                    session.on_event(event)
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

    @property
    def quit_requested(self) -> bool:
        return self.vm.quit_requested
