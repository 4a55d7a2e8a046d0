"""migrate's URI errors: 7.2 fails after moving to setup, later releases refuse up front."""

from __future__ import annotations

import json
from typing import Any

import pytest

from fakeqemu.fake.config import FakeQemuConfig
from tests.support.strict import make_fake


def run(profile: str, *requests: dict[str, Any]) -> list[dict[str, Any]]:
    fake = make_fake(FakeQemuConfig(profile=profile, start_paused=True))
    session = fake.open_session()
    session.data_to_send()
    session.receive_data(b'{"execute":"qmp_capabilities"}')
    session.receive_data(
        b'{"execute":"migrate-set-capabilities","arguments":'
        b'{"capabilities":[{"capability":"events","state":true}]}}'
    )
    session.data_to_send()
    for request in requests:
        session.receive_data(json.dumps(request).encode())
    lines = session.data_to_send().split(b"\r\n")[:-1]
    fake.close_session(session)
    return [json.loads(line) for line in lines]


def migrate(uri: str) -> dict[str, Any]:
    return {"execute": "migrate", "arguments": {"uri": uri}}


QUERY = {"execute": "query-migrate"}


def events(messages: list[dict[str, Any]]) -> list[str]:
    return [m["data"]["status"] for m in messages if m.get("event") == "MIGRATION"]


def test_72_unknown_scheme_fails_without_error_desc() -> None:
    messages = run("7.2", migrate("bogus:1"), QUERY)
    assert events(messages) == ["setup", "failed"]
    replies = [m for m in messages if "event" not in m]
    assert replies[0]["error"]["desc"] == "Parameter 'uri' expects a valid migration protocol"
    assert replies[1] == {"return": {"status": "failed"}}


def test_72_bad_address_keeps_the_error() -> None:
    messages = run("7.2", migrate("tcp:127.0.0.1"), QUERY)
    replies = [m for m in messages if "event" not in m]
    assert replies[0]["error"]["desc"] == "error parsing address '127.0.0.1'"
    assert replies[1] == {
        "return": {"status": "failed", "error-desc": "error parsing address '127.0.0.1'"}
    }


@pytest.mark.parametrize("profile", ["10.0", "11.1"])
def test_later_releases_refuse_before_touching_state(profile: str) -> None:
    messages = run(profile, migrate("bogus:1"), migrate("tcp:127.0.0.1"), QUERY)
    assert events(messages) == []
    assert [m.get("error", {}).get("desc") for m in messages] == [
        "unknown migration protocol: bogus:1",
        "error parsing address '127.0.0.1'",
        None,
    ]
    assert messages[-1] == {"return": {}}
