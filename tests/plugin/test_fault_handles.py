"""Faults from a threaded handle and the marker, and the journal as a list of calls."""

from __future__ import annotations

import json
import socket

import pytest

from fakeqemu import ThreadedFakeQemu
from fakeqemu.model.fault_spec import FaultError


def _ask(address: str, *commands: str) -> list[dict[str, object]]:
    with socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(10)
        sock.connect(address)
        requests = [b'{"execute": "qmp_capabilities"}']
        requests += [json.dumps({"execute": c}).encode() for c in commands]
        sock.sendall(b"".join(requests))
        data = b""
        while data.count(b"\r\n") < len(requests) + 1:
            data += sock.recv(65536)
    return [json.loads(line) for line in data.split(b"\r\n")[2:] if line]


@pytest.mark.fakeqemu(
    faults=[
        {"kind": "error", "command": "query-name", "desc": "from the marker", "times": "always"}
    ]
)
def test_threaded_faults_and_the_journal(fakeqemu_threaded: ThreadedFakeQemu) -> None:
    fake = fakeqemu_threaded
    address = str(fake.address)
    fault = fake.add_fault(
        {"kind": "error", "command": "query-status", "class": "DeviceNotActive", "desc": "added"}
    )
    replies = _ask(address, "query-status", "query-name", "query-status")
    assert replies[0] == {"error": {"class": "DeviceNotActive", "desc": "added"}}
    assert replies[1] == {"error": {"class": "GenericError", "desc": "from the marker"}}
    assert replies[2] == {"return": {"status": "running", "running": True}}
    journal = fake.journal
    assert [call.command for call in journal] == [
        "qmp_capabilities",
        "query-status",
        "query-name",
        "query-status",
    ]
    assert len(journal) == 4
    assert journal[1].error == "added"
    assert journal[-1].error is None
    assert [record.id for record in journal.faults] == [fault, "f1"]
    assert [(f["id"], f["state"]) for f in fake.faults] == [("f1", "active"), (fault, "done")]
    fake.remove_fault("f1")
    assert _ask(address, "query-name") == [{"return": {}}]
    with pytest.raises(FaultError, match="unknown fault kind"):
        fake.add_fault({"kind": "nope"})
    fake.set_scenario("stall-at:70")
    assert fake.vm.scenario is not None
    assert fake.vm.scenario.name == "stall-at:70"
