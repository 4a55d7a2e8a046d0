"""The two hooks drift needs below it: an object printed in its own order, and a
session's outgoing transforms (the observers see what the client gets)."""

from __future__ import annotations

import json
from typing import Any

from fakeqemu.protocol.encoder import AsGiven, encode_value
from fakeqemu.protocol.json_stream import JsonDialect
from fakeqemu.protocol.session import QmpSession, Request


def test_as_given_keeps_its_own_order_where_a_dict_gets_qdict_s() -> None:
    members = {"status": "active", "total-time": 3, "ram": {"total": 1, "remaining": 0}}
    qdict = encode_value(members)
    wire = list(json.loads(qdict).items())
    reversed_text = encode_value(AsGiven(reversed(wire)))
    assert reversed_text != qdict
    assert list(json.loads(reversed_text)) == [key for key, _ in reversed(wire)]


def test_as_given_prints_exactly_its_keys_in_order() -> None:
    value = AsGiven([("b", 1), ("a", AsGiven([("y", 2.5), ("x", [])]))])
    assert encode_value(value) == '{"b": 1, "a": {"y": 2.5, "x": []}}'


def session() -> QmpSession:
    def executor(request: Request) -> Any:
        if request.command == "qmp_capabilities":
            request.session.negotiated = True
        return {"status": "completed"} if request.command == "query-migrate" else {}

    return QmpSession(
        greeting={"QMP": {}},
        executor=executor,
        dialect=JsonDialect(error_locations=False, skip_rest_after_limit_error=False),
    )


def test_transforms_replace_drop_or_insert_messages_and_observers_see_the_result() -> None:
    qmp = session()
    seen: list[tuple[str | None, dict[str, Any]]] = []
    qmp.message_observers.append(lambda name, message: seen.append((name, message)))

    def drift(name: str | None, message: dict[str, Any]) -> list[dict[str, Any]]:
        if name == "query-migrate":
            return [{"return": {"status": "x-drift"}}, message]
        return [] if name == "query-status" else [message]

    qmp.message_transforms.append(drift)
    qmp.data_to_send()
    qmp.receive_data(b'{"execute": "qmp_capabilities"}{"execute": "query-migrate"}')
    lines = qmp.data_to_send().decode().splitlines()
    assert lines == [
        '{"return": {}}',
        '{"return": {"status": "x-drift"}}',
        '{"return": {"status": "completed"}}',
    ]
    assert [message for _, message in seen][1:] == [
        {"return": {"status": "x-drift"}},
        {"return": {"status": "completed"}},
    ]
