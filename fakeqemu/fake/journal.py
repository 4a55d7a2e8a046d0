"""What a fake QEMU was asked: every command, its arguments and its reply.

A :class:`Journal` hangs on a :class:`~fakeqemu.fake.qemu.FakeQemu` before it
serves.  It is a sequence of :class:`Call` (``for call in journal``, ``journal[-1]``,
``len(journal)``), as pytest-httpserver's log is, and :attr:`Journal.faults` lists
every fault the fake injected (:class:`~fakeqemu.model.faults.FaultRecord`).
Accepted commands reach it through ``Executor.observers`` (with the arguments as
the client sent them); every reply, errors included, through the sessions'
``message_observers``, so a misspelt command or a wrong argument
shows in the journal too, as the error QEMU would have answered.

The fake appends from its own thread when it runs in one, and tests read from
theirs: a lock guards the list.
"""

from __future__ import annotations

import dataclasses
import difflib
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fakeqemu.protocol.encoder import encode_value
from fakeqemu.protocol.values import values_equal

if TYPE_CHECKING:
    from fakeqemu.fake.qemu import FakeQemu
    from fakeqemu.model.faults import FaultRecord
    from fakeqemu.protocol.session import QmpSession, Request


@dataclass(frozen=True)
class Call:
    """One command and the fake's answer to it."""

    command: str
    #: The arguments as sent; ``None`` when the fake rejected the command before
    #: reading them (an unknown command, a bad argument, no negotiation yet).
    arguments: dict[str, Any] | None
    #: ``{"return": ...}`` or ``{"error": {"class": ..., "desc": ...}}``.
    reply: dict[str, Any]
    #: The fake's monotonic clock (virtual under a mock clock) when it replied.
    at: float

    @property
    def ok(self) -> bool:
        return "return" in self.reply

    @property
    def error(self) -> str | None:
        """The error's ``desc``, or ``None`` for a success."""
        error = self.reply.get("error")
        return None if error is None else str(error.get("desc"))

    def to_json(self) -> dict[str, Any]:
        """The call as the control API's ``GET /journal`` shows it."""
        return dataclasses.asdict(self)

    def describe(self) -> str:
        """``migrate {"uri": "tcp:..."} -> ok``, for failure messages."""
        # Printed as the fake prints JSON: arguments may nest deeper than json.dumps goes.
        arguments = "" if not self.arguments else " " + encode_value(self.arguments)
        outcome = "ok" if self.ok else f"error: {self.error}"
        return f"{self.command}{arguments} -> {outcome}"


def _times(count: int) -> str:
    return {0: "never", 1: "once", 2: "twice"}.get(count, f"{count} times")


def _was_called(count: int) -> str:
    return "never called" if count == 0 else f"called {_times(count)}"


def _is_similar(wanted: str, seen: str) -> bool:
    """``migrate`` is similar to ``migrate-incoming``, ``query-migrate`` and ``migrte``."""
    if wanted == seen or wanted in seen or seen in wanted:
        return True
    return difflib.SequenceMatcher(None, wanted, seen).ratio() >= 0.6


def _matches(arguments: dict[str, Any] | None, expected: Mapping[str, Any]) -> bool:
    """Every expected argument was sent with that value (others may be sent too)."""
    if arguments is None:
        return False
    return all(
        key in arguments and values_equal(arguments[key], value) for key, value in expected.items()
    )


class Journal:
    """The commands one fake received, in order, with assertion helpers."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._calls: list[Call] = []
        self._faults: list[FaultRecord] = []
        #: Per session: the accepted request whose reply comes next.
        self._pending: dict[int, Request] = {}

    @classmethod
    def attach(cls, fake: FakeQemu) -> Journal:
        """Record every command ``fake`` serves from now on."""
        vm = fake.vm
        # serve() swaps vm.clock for trio's after this: read it at each call.
        journal = cls(lambda: vm.clock())
        fake.executor.observers.append(journal._accepted)
        fake.session_observers.append(journal._watch)
        fake.faults.observers.append(journal._injected)
        return journal

    def _injected(self, record: FaultRecord) -> None:
        with self._lock:
            self._faults.append(record)

    # -- recording (the fake's side) ----------------------------------------------------

    def _accepted(self, request: Request) -> None:
        self._pending[id(request.session)] = request

    def _watch(self, session: QmpSession) -> None:
        def observe(name: str | None, message: dict[str, Any]) -> None:
            self._replied(session, name, message)

        session.message_observers.append(observe)

    def _replied(self, session: QmpSession, name: str | None, message: dict[str, Any]) -> None:
        if "return" not in message and "error" not in message:
            return  # an event
        request = self._pending.pop(id(session), None)
        if request is not None and name in (None, request.command):
            # ``name`` is None for exec-oob: the request says what it was.
            name, arguments = request.command, dict(request.arguments)
        else:
            arguments = None
        if name is None:
            return  # not a command at all: a JSON parse error or a non-object
        call = Call(name, arguments, dict(message), self._clock())
        with self._lock:
            self._calls.append(call)

    # -- reading (the test's side) --------------------------------------------------------

    @property
    def calls(self) -> list[Call]:
        """Every call so far, oldest first (a copy)."""
        with self._lock:
            return list(self._calls)

    def __iter__(self) -> Iterator[Call]:
        return iter(self.calls)

    def __len__(self) -> int:
        with self._lock:
            return len(self._calls)

    def __getitem__(self, index: int) -> Call:
        with self._lock:
            return self._calls[index]

    @property
    def faults(self) -> list[FaultRecord]:
        """Every fault injected so far, oldest first (a copy)."""
        with self._lock:
            return list(self._faults)

    @property
    def commands(self) -> list[str]:
        """The command names so far, oldest first."""
        return [call.command for call in self.calls]

    def clear(self) -> None:
        with self._lock:
            self._calls.clear()
            self._faults.clear()

    def assert_called(
        self,
        command: str,
        *,
        times: int | None = None,
        with_arguments: Mapping[str, Any] | None = None,
    ) -> list[Call]:
        """Fail unless ``command`` was called (exactly ``times`` times, if given).

        ``with_arguments`` counts only calls that sent at least those arguments
        with those values.  Returns the matching calls.
        """
        __tracebackhide__ = True
        calls = self.calls
        matching = [
            call
            for call in calls
            if call.command == command
            and (with_arguments is None or _matches(call.arguments, with_arguments))
        ]
        if (times is None and matching) or len(matching) == times:
            return matching
        expected = "at least once" if times is None else _times(times)
        what = repr(command)
        if with_arguments is not None:
            what += f" with arguments {encode_value(dict(with_arguments))}"
        raise AssertionError(
            f"fakeqemu: expected {what} to be called {expected}; "
            f"it was {_was_called(len(matching))}.\n" + self._context(command, calls)
        )

    def assert_not_called(self, command: str) -> None:
        __tracebackhide__ = True
        calls = self.calls
        if any(call.command == command for call in calls):
            raise AssertionError(
                f"fakeqemu: expected {command!r} not to be called.\n"
                + self._context(command, calls)
            )

    def assert_called_in_order(self, *commands: str) -> None:
        """Fail unless ``commands`` were called in this order (others may come between)."""
        __tracebackhide__ = True
        calls = self.calls
        position = 0
        for call in calls:
            if position < len(commands) and call.command == commands[position]:
                position += 1
        if position < len(commands):
            raise AssertionError(
                f"fakeqemu: expected the commands {list(commands)} in this order; "
                f"{commands[position]!r} never came after {list(commands[:position])}.\n"
                + self._context(commands[position], calls)
            )

    @staticmethod
    def _context(command: str, calls: list[Call]) -> str:
        """Similar calls first, with their arguments and outcome, then every command name."""
        similar = [call.describe() for call in calls if _is_similar(command, call.command)]
        lines = []
        if similar:
            lines.append("similar commands received:")
            lines += [f"  {line}" for line in similar]
        else:
            lines.append(f"no command similar to {command!r} was received.")
        names = ", ".join(call.command for call in calls) or "none"
        lines.append(f"all {len(calls)} commands received: {names}")
        return "\n".join(lines)
