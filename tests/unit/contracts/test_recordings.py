"""Every message real QEMU 7.2, 10.0 and 11.1 sent in the recordings keeps its old-shape contract.

Transcript sides give the role (``src`` a source, ``dst`` a destination);
``queries.json`` is a fresh VM that never migrated, so a source; probes run
on fresh VMs too.  Mutating recorded replies shows the contracts have teeth.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from fakeqemu.contracts import ContractError, validate
from fakeqemu.contracts.messages import Received, read_conversation
from fakeqemu.contracts.validator import problems
from fakeqemu.protocol.json_stream import parse_json
from tests.support.recordings import RECORDINGS, VERSIONS, probe_cases, queries

SCENARIOS = ("precopy", "cancel", "pause-before-switchover")
TRANSCRIPTS = [(v, s) for v in VERSIONS for s in SCENARIOS]


def transcript(version: str, scenario: str) -> list[Received]:
    text = (RECORDINGS / version / f"{scenario}.jsonl").read_text()
    received = list(read_conversation(text, default_command=None))
    assert all(isinstance(item, Received) for item in received)
    return [item for item in received if isinstance(item, Received)]


@pytest.mark.parametrize(
    ("version", "scenario"), TRANSCRIPTS, ids=[f"{v}-{s}" for v, s in TRANSCRIPTS]
)
def test_every_migration_message_keeps_its_contract(version: str, scenario: str) -> None:
    received = transcript(version, scenario)
    broken = {
        item.line: found
        for item in received
        if (
            found := problems(
                item.message, profile=version, shape="old", command=item.command, role=item.role
            )
        )
    }
    assert broken == {}
    commands = [item.command for item in received]
    # Both sides' query-migrate replies and MIGRATION events were really checked.
    assert {item.role for item in received if item.command == "query-migrate"} == {
        "source",
        "destination",
    }
    assert commands.count("MIGRATION") >= 5
    assert commands.count(None) == 2, "one greeting per side"


@pytest.mark.parametrize("version", VERSIONS)
def test_every_fresh_vm_query_keeps_its_contract(version: str) -> None:
    recorded = queries(version)
    assert len(recorded) >= 30
    for name, raw in recorded.items():
        command = None if name == "greeting" else name
        if name.startswith("hmp:"):
            command = "human-monitor-command"
        validate(json.loads(raw), profile=version, shape="old", command=command, role="source")


@pytest.mark.parametrize("version", VERSIONS)
def test_every_probe_reply_keeps_its_envelope(version: str) -> None:
    checked = 0
    for case in probe_cases(version):
        validate(json.loads(case.greeting), profile=version, shape="old", command=None)
        for chunk in case.replies:
            for line in chunk.decode("latin-1").split("\r\n"):
                if line:
                    # Probes mix bad input and good; their replies are not paired here.
                    message = parse_json(line.encode("latin-1"))  # ids nest 1,023 deep
                    validate(message, profile=version, shape="old", command=None)
                    checked += 1
    assert checked >= 32


def _recorded(version: str, side: str, status: str) -> dict[str, Any]:
    for item in transcript(version, "precopy"):
        reply = item.message.get("return")
        if item.command == "query-migrate" and item.role == side and reply.get("status") == status:
            found: dict[str, Any] = item.message
            return copy.deepcopy(found)
    raise LookupError((version, side, status))


def _breaks(message: dict[str, Any], version: str, role: str, needle: str) -> None:
    with pytest.raises(ContractError) as caught:
        validate(message, profile=version, shape="old", role=role)
    assert needle in str(caught.value)


@pytest.mark.parametrize("version", VERSIONS)
def test_a_source_reply_with_destination_members_breaks_it(version: str) -> None:
    reply = _recorded(version, "source", "active")
    reply["return"]["socket-address"] = [{"type": "unix", "path": "/tmp/x"}]
    _breaks(reply, version, "source", "$.return.socket-address: is not allowed here")


@pytest.mark.parametrize("version", VERSIONS)
def test_an_active_source_reply_without_ram_breaks_it(version: str) -> None:
    reply = _recorded(version, "source", "active")
    del reply["return"]["ram"]
    _breaks(reply, version, "source", "'ram' is a required property")


@pytest.mark.parametrize("version", VERSIONS)
def test_both_downtimes_at_once_break_it(version: str) -> None:
    reply = _recorded(version, "source", "active")
    reply["return"]["downtime"] = 5
    _breaks(reply, version, "source", "oneOf")


@pytest.mark.parametrize("version", VERSIONS)
def test_a_completed_source_has_nothing_remaining(version: str) -> None:
    reply = _recorded(version, "source", "completed")
    reply["return"]["ram"]["remaining"] = 4096
    _breaks(reply, version, "source", "$.return.ram.remaining")


@pytest.mark.parametrize("version", VERSIONS)
def test_an_old_destination_reports_no_ram(version: str) -> None:
    reply = _recorded(version, "destination", "completed")
    reply["return"]["ram"] = _recorded(version, "source", "completed")["return"]["ram"]
    _breaks(reply, version, "destination", "$.return.ram: is not allowed here")


def test_a_member_of_another_release_breaks_it() -> None:
    active = _recorded("11.1", "source", "active")
    assert "remaining" in active["return"], "11.1 reports a top-level remaining"
    _breaks(active, "10.0", "source", "remaining")


def test_a_status_the_release_lacks_breaks_the_event() -> None:
    failing = {
        "timestamp": {"seconds": 1, "microseconds": 0},
        "event": "MIGRATION",
        "data": {"status": "failing"},
    }
    validate(failing, profile="11.1", shape="old", command="MIGRATION")
    with pytest.raises(ContractError, match=r"\$\.data\.status: 'failing' is not one of"):
        validate(failing, profile="10.0", shape="old", command="MIGRATION")


def test_a_greeting_names_its_release() -> None:
    greeting = json.loads(queries("10.0")["greeting"])
    validate(greeting, profile="10.0", shape="old", command=None)
    with pytest.raises(ContractError, match=r"qemu\.major: 11 was expected"):
        validate(greeting, profile="11.1", shape="old", command=None)
