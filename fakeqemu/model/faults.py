"""The fault engine: the faults a fake holds, their triggers, and what has fired.

One engine per fake (:attr:`fakeqemu.fake.qemu.FakeQemu.faults`), sans-IO, on the
machine's clock.  Faults come in as descriptions (:mod:`fakeqemu.model.fault_spec`)
from Python, the marker, ``serve --fault`` or the control API.  The engine decides
*when* (triggers, durations, how many times); *what* happens is
:mod:`fakeqemu.model.fault_actions` for QMP and migration faults, and the trio layer
for transport toxics, which asks :meth:`FaultEngine.toxics` before each write and is
woken through :attr:`FaultEngine.on_change`.  Every injection is a
:class:`FaultRecord`, given to :attr:`FaultEngine.observers` (journals).
"""

from __future__ import annotations

import collections
import dataclasses
import itertools
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fakeqemu.model.fault_actions import FaultActions
from fakeqemu.model.fault_spec import FaultError, FaultSpec, parse_fault
from fakeqemu.model.outgoing import WINDOW
from fakeqemu.protocol.encoder import QValue
from fakeqemu.protocol.session import QmpSession, Request

if TYPE_CHECKING:
    from fakeqemu.model.machine import VirtualMachine

#: The most faults one fake holds (done ones count until removed): a bound on memory.
MAX_FAULTS = 1024
#: Kinds that act once, when triggered (the others stay active while they last).
ONE_SHOT = frozenset({"reset", "migration-fail", "destination-dies", "source-dies", "link-break"})
#: Kinds that act on the side of a migration only.
SOURCE_ONLY, DESTINATION_ONLY = frozenset({"destination-dies"}), frozenset({"source-dies"})


def acts_on(kind: str, role: str) -> bool:
    """Whether a fault of ``kind`` may be held by a fake of ``role``."""
    other = DESTINATION_ONLY if role == "source" else SOURCE_ONLY
    return kind not in other


@dataclass(frozen=True)
class FaultRecord:
    """One injection: which fault, when (the fake's clock), and what it did."""

    id: str
    kind: str
    at: float
    detail: str
    command: str | None = None

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


class Fault:
    """A fault held by the engine: ``pending`` until triggered, ``active``, then ``done``."""

    def __init__(self, fault_id: str, spec: FaultSpec, added_at: float) -> None:
        self.id = fault_id
        self.spec = spec
        self.added_at = added_at
        self.armed_at: float | None = None
        self.done = False
        #: Requests affected (QMP kinds) or injections made.
        self.used = 0
        #: Calls of the trigger's command seen so far (``call`` triggers).
        self.calls = 0

    @property
    def kind(self) -> str:
        return self.spec.kind

    @property
    def state(self) -> str:
        return "done" if self.done else "pending" if self.armed_at is None else "active"

    @property
    def active(self) -> bool:
        return self.armed_at is not None and not self.done

    def ends_at(self) -> float | None:
        duration = self.spec.get("duration")
        if self.armed_at is None or duration is None:
            return None
        return float(self.armed_at + duration)

    def use(self) -> None:
        """One more request affected; done once ``times`` is reached."""
        self.used += 1
        times = self.spec.times
        if times is not None and self.used >= times:
            self.done = True

    def describe(self) -> dict[str, Any]:
        return {"id": self.id, **self.spec.source, "state": self.state, "used": self.used}


class FaultEngine:
    """Holds one fake's faults; see the module's docstring."""

    def __init__(self, vm: VirtualMachine, sessions: Callable[[], Iterable[QmpSession]]) -> None:
        #: The machine faults act on (:meth:`FakeQemu.reset` gives it a new one).
        self.vm = vm
        self.actions = FaultActions(self, sessions)
        self.faults: dict[str, Fault] = {}
        self._ids = itertools.count(1)
        #: Called with every injection (journals record them).
        self.observers: list[Callable[[FaultRecord], None]] = []
        #: Called when toxics, stalls or timers change (the trio layer wakes up).
        self.on_change: list[Callable[[], None]] = []
        #: Messages sent on purpose against the contract, with the fault that made each.
        self._deliberate: collections.deque[tuple[object, str]] = collections.deque(maxlen=256)
        #: Per target: how many resets were asked for (connections compare with theirs).
        self.resets = {"monitor": 0, "migration": 0}

    # -- adding and removing (Python, marker, serve, control API) ------------------------

    def add(self, description: Any) -> str:
        """Check ``description`` and hold it; returns its id.  Raises FaultError."""
        spec = parse_fault(description)
        if len(self.faults) >= MAX_FAULTS:
            raise FaultError(f"this fake holds {MAX_FAULTS} faults already; remove some first")
        role = "destination" if self.vm.incoming is not None else "source"
        if spec.kind in SOURCE_ONLY and role != "source":
            raise FaultError(f"fault {spec.kind!r} acts on a source; this fake is a {role}")
        if spec.kind in DESTINATION_ONLY and role != "destination":
            raise FaultError(f"fault {spec.kind!r} acts on a destination; this fake is a {role}")
        fault = Fault(f"f{next(self._ids)}", spec, self.vm.clock())
        self.faults[fault.id] = fault
        trigger = spec.trigger
        if trigger.kind == "now" or (
            trigger.kind == "status" and trigger.value == self.vm.migration_status
        ):
            self._arm(fault, fault.added_at)
        self.changed()
        return fault.id

    def remove(self, fault_id: str) -> None:
        if self.faults.pop(fault_id, None) is None:
            known = ", ".join(self.faults) or "none"
            raise KeyError(f"no fault {fault_id!r}; faults held: {known}")
        self.changed()

    def clear(self) -> None:
        self.faults.clear()
        self.changed()

    def listing(self) -> list[dict[str, Any]]:
        return [fault.describe() for fault in self.faults.values()]

    def changed(self) -> None:
        for notify in list(self.on_change):
            notify()

    # -- triggers ---------------------------------------------------------------------

    def _arm(self, fault: Fault, now: float) -> None:
        fault.armed_at = now
        if fault.kind in ONE_SHOT:
            fault.done = True
            self.actions.fire(fault, now)
        elif fault.spec.level != "qmp" or (
            fault.kind == "event" and fault.spec.get("command") is None
        ):
            if fault.kind == "event":
                fault.done = True
            self.actions.fire(fault, now)
        self.changed()

    def on_status(self, status: str) -> None:
        """The machine's migration moved to ``status`` (this fake's own side)."""
        for fault in list(self.faults.values()):
            trigger = fault.spec.trigger
            if fault.armed_at is None and trigger.kind == "status" and trigger.value == status:
                self._arm(fault, self.vm.clock())
        if any(
            f.armed_at is None and f.spec.trigger.kind == "percent" for f in self.faults.values()
        ):
            self.changed()  # a migration started or moved on: percentages are watched again

    def progress(self) -> float | None:
        """Percent of RAM transferred by the running outgoing migration, if any."""
        outgoing = self.vm.outgoing
        if outgoing is None or not outgoing.is_running or outgoing.status == "setup":
            return None
        counters = outgoing.counters(self.vm.clock())
        total = outgoing.ram.total
        return 100.0 * (1 - counters.remaining / total) if total else 100.0

    def next_deadline(self) -> float | None:
        """When :meth:`advance` has something to do (time triggers, ends, percentages)."""
        deadlines: list[float] = []
        for fault in self.faults.values():
            trigger = fault.spec.trigger
            if fault.armed_at is None and trigger.kind == "after":
                deadlines.append(fault.added_at + float(trigger.value))
            elif fault.armed_at is None and trigger.kind == "percent":
                if self.progress() is not None:
                    deadlines.append(self.vm.clock() + WINDOW)
            elif fault.active and (end := fault.ends_at()) is not None:
                deadlines.append(end)
        return min(deadlines, default=None)

    def advance(self, now: float) -> None:
        """Arm what is due by ``now``, end what has lasted its duration."""
        progress = self.progress()
        for fault in list(self.faults.values()):
            trigger = fault.spec.trigger
            if fault.armed_at is None:
                due = trigger.kind == "after" and now >= fault.added_at + float(trigger.value)
                due |= (
                    trigger.kind == "percent"
                    and progress is not None
                    and (progress >= float(trigger.value))
                )
                if due:
                    self._arm(fault, now)
            elif fault.active and (end := fault.ends_at()) is not None and now >= end:
                fault.done = True
                self.record(fault, f"ended after {fault.spec.get('duration')} s")
                self.changed()

    # -- what the rest of the fake asks -------------------------------------------------

    def active(self, *kinds: str) -> list[Fault]:
        return [f for f in self.faults.values() if f.active and (not kinds or f.kind in kinds)]

    def toxics(self, target: str) -> list[Fault]:
        """The transport toxics in force on ``target`` (``monitor`` or ``migration``)."""
        return [f for f in self.active() if f.spec.level == "transport" and f.spec.target == target]

    def link_up(self) -> bool:
        """Whether the migration link carries data (a link-stall or a hang stops it)."""
        return not any(
            f.kind == "link-stall" or (f.kind == "hang" and f.spec.target == "migration")
            for f in self.active()
        )

    def intercept(self, request: Request, run: Callable[[], QValue]) -> QValue:
        """Executor middleware: count calls, apply QMP faults, run the command."""
        now = self.vm.clock()
        for fault in list(self.faults.values()):
            trigger = fault.spec.trigger
            waiting = fault.armed_at is None and trigger.kind == "call"
            if waiting and trigger.command == request.command:
                fault.calls += 1
                if fault.calls >= trigger.value:
                    self._arm(fault, now)
        return self.actions.around(request, run)

    def record(self, fault: Fault, detail: str, command: str | None = None) -> FaultRecord:
        entry = FaultRecord(fault.id, fault.kind, self.vm.clock(), detail, command)
        for observe in list(self.observers):
            observe(entry)
        return entry

    def mark_deliberate(self, message: object, fault_id: str) -> None:
        self._deliberate.append((message, fault_id))

    def deliberate(self, message: object) -> str | None:
        """The fault that made ``message`` on purpose (contract checks let it through)."""
        for made, fault_id in self._deliberate:
            if made is message:
                return fault_id
        return None
