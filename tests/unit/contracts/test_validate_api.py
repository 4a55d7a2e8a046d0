"""``fakeqemu.contracts.validate`` and how messages are told apart and attributed."""

from __future__ import annotations

import json

import pytest

from fakeqemu.contracts import ContractError, validate
from fakeqemu.contracts.messages import Received, Unreadable, read_conversation

STOP = {"timestamp": {"seconds": 1, "microseconds": 999999}, "event": "STOP"}


def test_without_a_command_the_message_says_what_it_is() -> None:
    validate(STOP, profile="10.0", shape="old", command=None)
    validate({"return": {}, "id": [1, None]}, profile="10.0", shape="old", command=None)
    validate(
        {"id": "x", "error": {"class": "GenericError", "desc": "no"}},
        profile="10.0",
        shape="old",
        command=None,
    )
    with pytest.raises(ContractError, match=r"\$\.error\.class: 'Oops' is not one of"):
        validate(
            {"error": {"class": "Oops", "desc": ""}}, profile="10.0", shape="old", command=None
        )


def test_an_event_must_be_the_one_named() -> None:
    validate(STOP, profile="11.1", shape="new", command="STOP")
    with pytest.raises(ContractError, match=r"\$\.event: expected 'RESUME', got 'STOP'"):
        validate(STOP, profile="11.1", shape="new", command="RESUME")
    with pytest.raises(ContractError, match=r"\$\.event: 'MIGRATION' was expected"):
        validate(STOP, profile="11.1", shape="new", command="MIGRATION")


def test_an_event_timestamp_has_microseconds_below_a_million() -> None:
    late = {**STOP, "timestamp": {"seconds": 1, "microseconds": 1000000}}
    with pytest.raises(ContractError, match=r"\$\.timestamp\.microseconds"):
        validate(late, profile="7.2", shape="old", command=None)


def test_a_reply_is_not_an_event() -> None:
    with pytest.raises(ContractError, match="'timestamp' is a required property"):
        validate({"return": {}}, profile="7.2", shape="old", command="SHUTDOWN")


def test_an_error_answers_query_migrate_too() -> None:
    error = {"error": {"class": "GenericError", "desc": "Parameter 'x' is unexpected"}}
    validate(error, profile="11.1", shape="new", role="destination")


def test_roles_and_targets_are_checked() -> None:
    with pytest.raises(ValueError, match="unknown role"):
        validate({"return": {}}, profile="11.1", shape="old", role="both")
    with pytest.raises(ValueError, match="no contracts for profile"):
        validate({"return": {}}, profile="9.2", shape="old")
    with pytest.raises(ValueError, match="unknown shape"):
        validate({"return": {}}, profile="11.1", shape="newer")


def test_a_transcript_pairs_replies_with_requests_per_side() -> None:
    entries = [
        {"side": "src", "dir": "<", "raw": '{"QMP": {}}'},
        {"side": "src", "dir": ">", "raw": '{"execute": "query-status"}'},
        {"side": "dst", "dir": ">", "raw": '{"execute": "query-migrate"}'},
        {"side": "src", "dir": "<", "raw": '{"event": "STOP"}'},
        {"side": "dst", "dir": "<", "raw": '{"return": {}}\r'},
        {"side": "src", "dir": "<", "raw": '{"return": {}}\r'},
        {"side": "src", "dir": ">", "raw": "{bad"},
        {"side": "src", "dir": "<", "raw": '{"error": {}}'},
    ]
    text = "\n".join(json.dumps(entry) for entry in entries)
    got = [
        (item.line, item.command, item.role)
        for item in read_conversation(text)
        if isinstance(item, Received)
    ]
    assert got == [
        (1, None, "source"),
        (4, "STOP", "source"),
        (5, "query-migrate", "destination"),
        (6, "query-status", "source"),
        (8, None, "source"),
    ]


def test_plain_lines_use_the_default_command_and_report_garbage() -> None:
    text = '{"return": {}}\n\n[1\n{"execute": "stop"}\n{"return": {}}\n'
    items = list(read_conversation(text, default_command="query-migrate", role="source"))
    assert isinstance(items[1], Unreadable)
    assert items[1].line == 3
    assert [(i.line, i.command, i.role) for i in items if isinstance(i, Received)] == [
        (1, "query-migrate", "source"),
        (5, "stop", "source"),
    ]
