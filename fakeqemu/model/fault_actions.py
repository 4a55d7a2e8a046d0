"""What QMP and migration faults do, once the engine (:mod:`fakeqemu.model.faults`) says so.

QMP faults act around a command (:meth:`FaultActions.around`, the executor's
middleware): an error instead of running it, events before or after its reply, the
events it raises held until after its reply, a delay the trio layer applies to its
reply, ``query-migrate`` without ``ram``.  Migration faults act on the machine's
migrations as the stream between two QEMUs would make them fail.  A message that
breaks the fake's contract on purpose is marked, so strict contract checks let that
one message through and no other.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from fakeqemu.errors import QmpError
from fakeqemu.model.events import Event
from fakeqemu.model.recovery import RECOVERABLE
from fakeqemu.protocol.encoder import QValue
from fakeqemu.protocol.session import QmpSession, Request

if TYPE_CHECKING:
    from fakeqemu.model.faults import Fault, FaultEngine

#: What QEMU's source reports when its destination's process dies mid-stream.
PEER_RESET = "Unable to write to socket: Connection reset by peer"
#: The command a ``query-migrate-without-ram`` fault answers.
QUERY_MIGRATE = "query-migrate"


class FaultActions:
    """One engine's QMP and migration actions (the transport's are the trio layer's)."""

    def __init__(self, engine: FaultEngine, sessions: Callable[[], Iterable[QmpSession]]) -> None:
        self._engine = engine
        self._sessions = sessions
        #: The session whose command runs now, with a reorder fault's event filter.
        self._reordering: tuple[QmpSession, str | None] | None = None
        self._held: list[Event] = []
        #: Per session: the fault that makes its next reply (marked deliberate).
        self._next_reply: dict[QmpSession, str] = {}
        #: Per session: seconds its next reply waits (taken by the trio layer).
        self._delays: dict[QmpSession, float] = {}

    # -- sessions -----------------------------------------------------------------------

    def watch(self, session: QmpSession) -> None:
        """Mark the replies faults make on ``session``; first in line, so that every
        other observer (strict contracts) can ask whether a message is deliberate."""

        def observe(name: str | None, message: dict[str, QValue]) -> None:
            if "event" not in message:
                fault_id = self._next_reply.pop(session, None)
                if fault_id is not None:
                    self._engine.mark_deliberate(message, fault_id)

        session.message_observers.insert(0, observe)

    def forget(self, session: QmpSession) -> None:
        self._next_reply.pop(session, None)
        self._delays.pop(session, None)

    def route(self, session: QmpSession, event: Event) -> bool:
        """Whether ``event`` is held until the reply now being made (a reorder fault)."""
        if self._reordering is None:
            return False
        reordering, name = self._reordering
        if session is not reordering or name not in (None, event.name):
            return False
        self._held.append(event)
        return True

    def take_reply_delay(self, session: QmpSession) -> float | None:
        """Seconds the reply just queued on ``session`` waits (a delay fault), once."""
        return self._delays.pop(session, None)

    # -- QMP faults -------------------------------------------------------------------

    def _matching(self, command: str) -> list[Fault]:
        found = []
        for fault in self._engine.active():
            if fault.spec.level != "qmp":
                continue
            wanted = fault.spec.get("command")
            if fault.kind == "query-migrate-without-ram":
                wanted = QUERY_MIGRATE
            if wanted == command:
                found.append(fault)
        return found

    def around(self, request: Request, run: Callable[[], QValue]) -> QValue:
        command, session = request.command, request.session
        faults = self._matching(command)
        engine = self._engine
        for fault in faults:
            if fault.kind == "error":
                fault.use()
                error_class, desc = fault.spec.get("class"), fault.spec.get("desc")
                engine.record(fault, f"answered {command} with {error_class}: {desc}", command)
                self._next_reply[session] = fault.id
                raise QmpError(desc, error_class)
        after: list[Fault] = []
        reorder: Fault | None = None
        for fault in faults:
            if fault.kind == "event" and fault.spec.get("when") == "before":
                fault.use()
                self.emit(fault, f"sent {fault.spec.get('event')} before the reply to {command}")
            elif fault.kind == "event":
                fault.use()
                after.append(fault)
            elif fault.kind == "delay":
                fault.use()
                seconds = float(fault.spec.get("ms")) / 1000
                self._delays[session] = max(self._delays.get(session, 0.0), seconds)
                engine.record(fault, f"delayed the reply to {command} by {seconds} s", command)
            elif fault.kind == "reorder" and reorder is None:
                reorder = fault
        if reorder is not None:
            self._reordering = (session, reorder.spec.get("event"))
        try:
            result = run()
        finally:
            self._reordering = None
        held, self._held = self._held, []
        if reorder is not None:
            reorder.use()
            names = ", ".join(event.name for event in held) or "no event"
            engine.record(reorder, f"sent {names} after the reply to {command}", command)
        session.after_reply += [functools.partial(session.on_event, event) for event in held]
        for fault in after:
            what = f"sent {fault.spec.get('event')} after the reply to {command}"
            session.after_reply.append(functools.partial(self.emit, fault, what))
        for fault in faults:
            if fault.kind == "query-migrate-without-ram":
                result = self._without_ram(fault, session, result)
        return result

    def _without_ram(self, fault: Fault, session: QmpSession, result: QValue) -> QValue:
        if not isinstance(result, dict) or result.get("status") != "active" or "ram" not in result:
            return result
        fault.use()
        self._engine.record(fault, "answered query-migrate in active without ram", QUERY_MIGRATE)
        self._next_reply[session] = fault.id
        return {key: value for key, value in result.items() if key != "ram"}

    def emit(self, fault: Fault, detail: str) -> None:
        """Send the fault's event to every negotiated client, marked as deliberate."""
        vm = self._engine.vm
        data = fault.spec.get("data")
        message = Event(str(fault.spec.get("event")), data, vm.events.wall_clock()).to_message()
        self._engine.mark_deliberate(message, fault.id)
        self._engine.record(fault, detail)
        for session in list(self._sessions()):
            session.send_event(message)

    # -- firing (one-shot kinds, and the start of lasting ones) ---------------------------

    def fire(self, fault: Fault, now: float) -> None:
        engine, vm, kind = self._engine, self._engine.vm, fault.kind
        outgoing, incoming = vm.outgoing, vm.incoming_migration
        incoming_running = incoming is not None and incoming.status not in (
            "none",
            "completed",
            "failed",
        )
        detail: str
        if kind == "event":
            self.emit(fault, f"sent {fault.spec.get('event')}")
            return
        postcopy = outgoing is not None and outgoing.status in RECOVERABLE
        if kind == "link-break" or (kind == "destination-dies" and postcopy):
            # The transport resets the stream; each side then fails, or pauses in postcopy.
            engine.resets["migration"] += 1
            detail = "broke the migration stream"
        elif kind in ("migration-fail", "destination-dies"):
            desc = str(fault.spec.get("desc") or PEER_RESET)
            if outgoing is not None and outgoing.is_running:
                outgoing.fail(now, desc)
                detail = f"failed the outgoing migration: {desc}"
                if kind == "destination-dies":
                    engine.resets["migration"] += 1
            elif incoming_running and incoming is not None and kind == "migration-fail":
                incoming.stream_broken(desc)
                engine.resets["migration"] += 1
                detail = f"failed the incoming migration: {desc}"
            else:
                detail = "no migration was running: nothing failed"
        elif kind == "source-dies":
            engine.resets["migration"] += 1
            detail = "tore the incoming stream" if incoming_running else "no incoming migration"
        elif kind == "reset":
            engine.resets[fault.spec.target] += 1
            detail = f"reset the {fault.spec.target} connections"
        else:
            detail = f"started {_settings(fault.spec.fields)}"
        engine.record(fault, detail)
        if vm.transport is not None:
            vm.transport.wake()


def _settings(fields: dict[str, Any] | Any) -> str:
    return ", ".join(f"{key}={value}" for key, value in dict(fields).items()) or "(no settings)"
