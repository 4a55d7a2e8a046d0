"""One QMP connection as QEMU's monitor runs it (monitor/qmp.c, qapi/qmp-dispatch.c).

Sans-IO: bytes go in through :meth:`QmpSession.receive_data`, bytes to write
come out of :meth:`QmpSession.data_to_send`.  Commands themselves are run by
an injected :class:`Executor`, so this module knows the protocol and nothing
about the machine behind it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from fakeqemu.errors import COMMAND_NOT_FOUND, QmpError
from fakeqemu.protocol.encoder import QValue, encode_message, qdict_order
from fakeqemu.protocol.json_stream import JsonDialect, JsonError, JsonStream

NEGOTIATION_HINT = "Expecting capabilities negotiation with 'qmp_capabilities'"

#: A client that lets this much output pile up (events it never reads) is dropped.
OUTPUT_HARD_LIMIT = 64 << 20

#: A change to a message on its way out: given the command (or event) name and the
#: message, the messages to send in its place (none drops it, several insert).  Test
#: tooling hangs these on a session (schema drift, :mod:`fakeqemu.drift`); QEMU has none.
MessageTransform = Callable[[str | None, dict[str, QValue]], list[dict[str, QValue]]]


@dataclass(frozen=True)
class Request:
    """A request that passed the envelope checks."""

    command: str
    arguments: dict[str, Any]
    oob: bool
    session: QmpSession


class _EventLike(Protocol):
    def to_message(self) -> dict[str, Any]: ...


class Executor(Protocol):
    """Runs a command; raises :class:`QmpError` with QEMU's class and text."""

    def __call__(self, request: Request) -> QValue: ...


class QmpSession:
    """Greeting, capability negotiation, request checks, replies and events."""

    def __init__(
        self,
        *,
        greeting: dict[str, Any],
        executor: Executor,
        dialect: JsonDialect,
        oob_offered: bool = True,
        on_output: Callable[[], None] | None = None,
        greeting_sent: bool = False,
    ) -> None:
        self._executor = executor
        self._stream = JsonStream(dialect)
        # The greeting may already be on the wire (fakeqemu.server.fast_start sent it).
        self._out = bytearray() if greeting_sent else bytearray(encode_message(greeting))
        self._on_output = on_output
        self.oob_offered = oob_offered
        self.negotiated = False
        self.oob_enabled = False
        #: Set when the client should be disconnected after what is queued is sent.
        self.closing = False
        #: Called with (command or event name or None, message) for every message
        #: queued after the greeting: contract checks and journals hang here.
        self.message_observers: list[Callable[[str | None, dict[str, QValue]], None]] = []
        #: Called once, in order, right after the reply to the request being run is
        #: queued (faults send events after a reply here); emptied each time.
        self.after_reply: list[Callable[[], None]] = []
        #: Applied in order to every message queued after the greeting, before the
        #: observers see it: the observers see what the client gets.
        self.message_transforms: list[MessageTransform] = []

    # -- input ----------------------------------------------------------------------

    def receive_data(self, data: bytes) -> None:
        """Feed bytes from the client; replies are queued for :meth:`data_to_send`."""
        for item in self._stream.feed(data):
            if isinstance(item, JsonError):
                # Parse errors never carry an id: nothing was parsed to take it from.
                self._queue({"error": {"class": "GenericError", "desc": item.desc}}, None)
            else:
                self._handle(item.value)
            if self.closing:
                break

    def _handle(self, message: QValue) -> None:
        reply = self._dispatch(message)
        if reply is not None:
            command = message.get("execute") if isinstance(message, dict) else None
            self._queue(reply, command if isinstance(command, str) else None)
        while self.after_reply:
            self.after_reply.pop(0)()

    def _dispatch(self, message: QValue) -> dict[str, QValue] | None:
        if not isinstance(message, dict):
            return _error_reply(QmpError("QMP input must be a JSON object"), None, False)
        has_id = "id" in message
        request_id = message.get("id")
        try:
            request = self._check_envelope(message)
            result = self._executor(request)
        except QmpError as error:
            if not self.negotiated and error.error_class == COMMAND_NOT_FOUND:
                # monitor_qmp_dispatch() rewrites the text while negotiating.
                error = QmpError(NEGOTIATION_HINT, COMMAND_NOT_FOUND)
            return _error_reply(error, request_id, has_id)
        reply: dict[str, QValue] = {"return": {} if result is None else result}
        if has_id:
            reply["id"] = request_id
        return reply

    def _check_envelope(self, message: dict[str, QValue]) -> Request:
        """qmp_dispatch_check_obj(): members are checked in QDict (hash) order."""
        exec_key: str | None = None
        for key in qdict_order(list(message)):
            value = message[key]
            if key == "execute" or (key == "exec-oob" and self.oob_enabled):
                if not isinstance(value, str):
                    raise QmpError(f"QMP input member '{key}' must be a string")
                if exec_key is not None:
                    raise QmpError(f"QMP input member '{key}' clashes with '{exec_key}'")
                exec_key = key
            elif key == "arguments":
                if not isinstance(value, dict):
                    raise QmpError("QMP input member 'arguments' must be an object")
            elif key != "id":
                raise QmpError(f"QMP input member '{key}' is unexpected")
        if exec_key is None:
            raise QmpError("QMP input lacks member 'execute'")
        command = message[exec_key]
        arguments = message.get("arguments", {})
        assert isinstance(command, str)
        assert isinstance(arguments, dict)
        if not self.negotiated and command != "qmp_capabilities":
            raise QmpError(f"The command {command} has not been found", COMMAND_NOT_FOUND)
        return Request(command, arguments, exec_key == "exec-oob", self)

    # -- called by commands -------------------------------------------------------------

    def negotiate(self, enable: list[str]) -> None:
        """``qmp_capabilities`` (qmp_qmp_capabilities / qmp_caps_accept)."""
        if self.negotiated:
            raise QmpError(
                "Capabilities negotiation is already complete, command ignored",
                COMMAND_NOT_FOUND,
            )
        unavailable = [cap for cap in enable if not (cap == "oob" and self.oob_offered)]
        if unavailable:
            raise QmpError(f"Capability {', '.join(unavailable)} not available")
        self.oob_enabled = "oob" in enable
        self.negotiated = True

    def close_after_reply(self) -> None:
        self.closing = True

    # -- output ---------------------------------------------------------------------

    def send_event(self, message: dict[str, QValue]) -> None:
        """Queue an event; clients still negotiating do not get events (not queued)."""
        if self.negotiated and not self.closing:
            name = message.get("event")
            self._queue(message, name if isinstance(name, str) else None)

    def on_event(self, event: _EventLike) -> None:
        """Event-bus listener: one bound method per session, so it can unsubscribe."""
        self.send_event(event.to_message())

    def _queue(self, message: dict[str, QValue], name: str | None) -> None:
        messages = [message]
        for transform in self.message_transforms:
            messages = [changed for sent in messages for changed in transform(name, sent)]
        for sent in messages:
            for observe in self.message_observers:
                observe(name, sent)
            self._out += encode_message(sent)
        if len(self._out) > OUTPUT_HARD_LIMIT:
            self.closing = True
        if self._on_output is not None:
            self._on_output()

    def data_to_send(self) -> bytes:
        data = bytes(self._out)
        self._out.clear()
        return data


def _error_reply(error: QmpError, request_id: QValue, has_id: bool) -> dict[str, QValue]:
    reply: dict[str, QValue] = {"error": {"class": error.error_class, "desc": error.desc}}
    if has_id:
        reply["id"] = request_id
    return reply
