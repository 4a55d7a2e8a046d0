"""Strict mode: the fake's own messages are checked against its contract as it sends them."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest

from fakeqemu.contracts import ContractError
from fakeqemu.fake.config import FakeQemuConfig
from fakeqemu.fake.qemu import FakeQemu
from fakeqemu.protocol.session import QmpSession
from fakeqemu.testing.strict import ContractMonitor, attach_strict_contracts, role_of
from tests.support.strict import make_fake

CAPS = b'{"execute":"qmp_capabilities"}'


def negotiated(fake: FakeQemu) -> QmpSession:
    session = fake.open_session()
    session.receive_data(CAPS)
    session.data_to_send()
    return session


def break_query_migrate(fake: FakeQemu, monkeypatch: pytest.MonkeyPatch, info: Any) -> None:
    monkeypatch.setattr(fake.vm, "migration_info", lambda: info)


def test_the_suite_watches_every_fake() -> None:
    session = make_fake(FakeQemuConfig(profile="7.2")).open_session()
    assert session.message_observers, "tests/support/strict.py turns strict mode on"
    # Per fake, not per process: a fake nobody attached a monitor to is not watched.
    assert not FakeQemu(FakeQemuConfig(profile="7.2")).open_session().message_observers


#: Helpers that make fakes themselves, and take the suite's hooks.
_HOOKED = ("ThreadedFakeQemu", "fake_machines")


def _unwatched_fakes(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
        hooked = any(keyword.arg == "hooks" for keyword in node.keywords)
        if name == "FakeQemu" or (name in _HOOKED and not hooked):
            found.append(f"{path}:{node.lineno}: {name}(...)")
    return found


def test_no_test_makes_a_fake_the_monitor_does_not_watch() -> None:
    tests = Path(__file__).parents[2]
    here = Path(__file__)
    found = [
        problem
        for path in sorted(tests.rglob("*.py"))
        if path.parent.name != "support" and path != here
        for problem in _unwatched_fakes(path)
    ]
    assert found == [], "make fakes with tests.support.strict.make_fake or hooks=STRICT_HOOKS"


@pytest.mark.no_strict_contracts
def test_a_broken_reply_raises_where_it_is_sent(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = make_fake(FakeQemuConfig(profile="10.0"))
    attach_strict_contracts(fake)
    session = negotiated(fake)
    break_query_migrate(fake, monkeypatch, {"status": "active"})
    with pytest.raises(ContractError) as caught:
        session.receive_data(b'{"execute":"query-migrate"}')
    text = str(caught.value)
    assert text.startswith("fakeqemu 10.0/old sent a query-migrate that breaks its contract:")
    assert "$.return: 'setup-time' is a required property" in text
    assert "A running source reports times" in text


@pytest.mark.no_strict_contracts
def test_a_destination_is_held_to_the_destination_contract(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake = make_fake(FakeQemuConfig(profile="11.1", incoming="defer"))
    assert role_of(fake) == "destination"
    monitor = attach_strict_contracts(fake, ContractMonitor(collect=True))
    session = negotiated(fake)
    session.receive_data(b'{"execute":"query-migrate"}')
    assert monitor.take() == []
    # What a source would send is wrong coming from a destination.
    break_query_migrate(fake, monkeypatch, {"status": "setup", "error-desc": "x", "setup-time": 0})
    session.receive_data(b'{"execute":"query-migrate"}')
    (violation,) = monitor.take()
    assert "$.return.setup-time: is not allowed here" in str(violation)
    assert monitor.take() == []


@pytest.mark.no_strict_contracts
def test_events_are_checked_too() -> None:
    fake = make_fake(FakeQemuConfig(profile="11.1"))
    monitor = attach_strict_contracts(fake, ContractMonitor(collect=True))
    negotiated(fake)
    fake.vm.events.emit("MIGRATION", {"status": "no-such-status"})
    fake.vm.events.emit("MIGRATION_PASS", {"pass": 3})
    (violation,) = monitor.take()
    assert "$.data.status: 'no-such-status' is not one of" in str(violation)


@pytest.mark.no_strict_contracts
def test_a_disabled_monitor_lets_deliberate_faults_through(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake = make_fake(FakeQemuConfig(profile="7.2"))
    monitor = attach_strict_contracts(fake)
    monitor.enabled = False
    session = negotiated(fake)
    break_query_migrate(fake, monkeypatch, {"status": "bogus"})
    session.receive_data(b'{"execute":"query-migrate"}')
    assert b'"bogus"' in session.data_to_send()


def _deep_id(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


@pytest.mark.no_strict_contracts
def test_replies_echoing_a_1023_deep_id_are_checked_without_recursion() -> None:
    fake = make_fake(FakeQemuConfig(profile="11.1"))
    monitor = attach_strict_contracts(fake, ContractMonitor(collect=True))
    session = negotiated(fake)
    for command in (b"query-status", b"no-such-command"):
        session.receive_data(b'{"execute":"%s","id":%s}' % (command, _deep_id(1023)))
        assert b"[[[" + b"]" * 1023 in session.data_to_send()
    assert monitor.take() == []
    # A broken message with such an id is reported, id and all.
    deep: list[Any] = []
    for _ in range(1022):
        deep = [deep]
    monitor.check(fake, None, {"return": {}, "id": deep, "bogus": 1})
    (violation,) = monitor.take()
    assert "('bogus' was unexpected)" in str(violation)
    assert '"bogus": 1' in str(violation)
