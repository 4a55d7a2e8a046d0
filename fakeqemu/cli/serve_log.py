"""What ``fakeqemu serve`` says: its start line, and with ``-v`` what happens as it happens.

``-v`` logs every command and event, the commands it rejected (with the error it
answered), clients connecting and leaving, each fault injected, each migration status,
and the migration's progress (status, pass, percent, rate, remaining) at most once a
second of the fake's clock.  ``--log-format json`` writes each of these lines, and the
start line, as one JSON object a line, for harnesses to parse; the text lines are for
people.
"""

from __future__ import annotations

import contextlib
import json
import sys
import time
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from fakeqemu.fake.qemu import FakeQemu
    from fakeqemu.model.events import Event
    from fakeqemu.model.faults import FaultRecord
    from fakeqemu.protocol.session import QmpSession, Request

#: Seconds of the fake's clock between two progress lines.
PROGRESS_INTERVAL = 1.0


def mebibytes(size: int) -> str:
    """``134217728`` -> ``128 MiB`` (whole MiB stay whole; else two decimals)."""
    value = size / (1 << 20)
    return f"{value:.0f} MiB" if value == int(value) else f"{value:.2f} MiB"


def start_line(settings: dict[str, Any], addresses: list[str], log_format: str) -> str:
    """The line printed once every monitor listens: what runs, and where.

    ``settings``: qemu (the version text), profile, shape, memory, backend, seed,
    speed, scenario, clock, and control (the control API's address, or None).
    """
    if log_format == "json":
        return json.dumps({"event": "started", **settings, "monitors": addresses})
    shown = dict(settings)
    shown["memory"] = mebibytes(settings["memory"])
    shown["seed"] = "none" if settings["seed"] is None else settings["seed"]
    shown["scenario"] = settings["scenario"] or "none"
    control = shown.pop("control")
    words = ", ".join(f"{key} {value}" for key, value in shown.items() if key != "qemu")
    line = f"fakeqemu: QEMU {settings['qemu']} ({words}) on {', '.join(addresses)}"
    return line if control is None else f"{line}; control {control}"


class ServeLog:
    """``-v``'s lines for one fake, as text or JSON, on ``stream`` (stderr)."""

    def __init__(self, fake: FakeQemu, log_format: str = "text", stream: TextIO | None = None):
        self.fake = fake
        self.json = log_format == "json"
        self.stream = stream if stream is not None else sys.stderr
        self._clients: dict[QmpSession, int] = {}
        self._next_client = 1

    def emit(self, event: str, text: str, /, **fields: Any) -> None:
        if self.json:
            line = json.dumps({"time": round(time.time(), 6), "event": event, **fields})
        else:
            line = f"fakeqemu: {text}"
        with contextlib.suppress(BrokenPipeError, ValueError):  # nobody reads it any more
            print(line, file=self.stream, flush=True)

    def attach(self) -> None:
        """Watch the fake: commands, events, replies, clients, faults, statuses."""
        fake = self.fake
        fake.executor.observers.append(self._command)
        fake.vm.events.subscribe(self._event)
        fake.session_observers.append(self._connected)
        fake.session_closed_observers.append(self._disconnected)
        fake.faults.observers.append(self._fault)
        fake.vm.status_observers.append(self._status)

    # -- observers ----------------------------------------------------------------------

    def _command(self, request: Request) -> None:
        from fakeqemu.protocol.encoder import encode_value

        arguments = dict(request.arguments)
        shown = f" {encode_value(request.arguments)}" if arguments else ""
        client = self._clients.get(request.session)
        self.emit(
            "command",
            f"{request.command}{shown}",
            command=request.command,
            arguments=_plain(arguments),
            client=client,
        )

    def _event(self, event: Event) -> None:
        from fakeqemu.protocol.encoder import encode_value

        shown = f" {encode_value(event.data)}" if event.data else ""
        self.emit(
            "qmp-event", f"event {event.name}{shown}", name=event.name, data=_plain(event.data)
        )

    def _connected(self, session: QmpSession) -> None:
        client = self._next_client
        self._next_client += 1
        self._clients[session] = client
        self.emit("connected", f"client {client} connected", client=client)

        def replied(name: str | None, message: dict[str, Any]) -> None:
            error = message.get("error")
            if isinstance(error, dict):
                what = name or "a request"
                text = f"rejected {what}: {error.get('class')}: {error.get('desc')}"
                self.emit(
                    "rejected",
                    text,
                    client=client,
                    command=name,
                    error={"class": error.get("class"), "desc": error.get("desc")},
                )

        session.message_observers.append(replied)

    def _disconnected(self, session: QmpSession) -> None:
        client = self._clients.pop(session, None)
        self.emit("disconnected", f"client {client} disconnected", client=client)

    def _fault(self, record: FaultRecord) -> None:
        self.emit(
            "fault", f"fault {record.id} ({record.kind}): {record.detail}", fault=record.to_json()
        )

    def _status(self, status: str) -> None:
        self.emit("status", f"migration {status}", status=status)
        if status in ("active", "completed", "failed", "cancelled", "postcopy-active"):
            self.progress_line()

    # -- progress -----------------------------------------------------------------------

    def progress_line(self) -> None:
        vm = self.fake.vm
        outgoing = vm.outgoing
        if outgoing is None or vm.incoming is not None or outgoing.status == "setup":
            return
        counters = outgoing.counters(vm.clock())
        total = outgoing.ram.total
        percent = round(100.0 * (1 - counters.remaining / total), 1) if total else 100.0
        mbps = round(counters.mbps, 2)
        self.emit(
            "progress",
            f"migration {outgoing.status}: pass {counters.sync_count}, {percent}%,"
            f" {mbps} mbps, remaining {counters.remaining} bytes",
            status=outgoing.status,
            **{"pass": counters.sync_count},
            percent=percent,
            mbps=mbps,
            remaining=counters.remaining,
        )

    async def progress(self) -> None:
        """A progress line a second (of the fake's clock) while a migration runs."""
        import trio

        while True:
            await trio.sleep(PROGRESS_INTERVAL)
            outgoing = self.fake.vm.outgoing
            if outgoing is not None and outgoing.is_running:
                self.progress_line()


def _plain(value: Any) -> Any:
    """QMP values as JSON can hold them (the fake's own number types become floats)."""
    return json.loads(json.dumps(value, default=float)) if value is not None else None
