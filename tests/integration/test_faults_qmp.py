"""QMP faults over real sockets: what a client sees, and that the fake serves on."""

from __future__ import annotations

from pathlib import Path

import pytest
import trio

from fakeqemu.fake.config import FakeQemuConfig
from fakeqemu.model.fault_spec import FaultError
from tests.support.fault_rig import reply_to, served, wait_status
from tests.support.strict import make_fake

EVENTS_ON = {"capabilities": [{"capability": "events", "state": True}]}


async def test_an_error_fault_answers_with_its_class_and_text_then_the_command_runs(
    tmp_path: Path,
) -> None:
    async with served(tmp_path, FakeQemuConfig()) as (fake,):
        client = await fake.client()
        fault = {
            "kind": "error",
            "command": "query-status",
            "class": "DeviceNotActive",
            "desc": "injected",
            "times": 2,
        }
        fault_id = fake.fake.add_fault(fault)
        for _ in range(2):
            reply = await reply_to(client, "query-status")
            assert reply == {"error": {"class": "DeviceNotActive", "desc": "injected"}}
        # times=2: the third call runs the command.
        assert await client.command("query-status") == {"status": "running", "running": True}
        assert [record.id for record in fake.journal.faults] == [fault_id, fault_id]
        statuses = [call for call in fake.journal if call.command == "query-status"]
        assert [call.error for call in statuses] == ["injected", "injected", None]
        assert fake.fake.faults.listing()[0]["state"] == "done"


async def test_an_error_fault_on_the_nth_call_keeps_the_calls_before_it(tmp_path: Path) -> None:
    async with served(tmp_path, FakeQemuConfig()) as (fake,):
        client = await fake.client()
        fake.fake.add_fault(
            {
                "kind": "error",
                "command": "query-name",
                "desc": "third",
                "trigger": {"call": 3},
                "times": "always",
            }
        )
        replies = [await reply_to(client, "query-name") for _ in range(5)]
        assert [("error" in reply) for reply in replies] == [False, False, True, True, True]
        # The id of the request is kept, as QEMU keeps it on its own errors.
        await client.stream.send_all(b'{"execute": "query-name", "id": 7}')
        assert await client.line() == {"error": {"class": "GenericError", "desc": "third"}, "id": 7}


async def test_events_before_and_after_a_reply(tmp_path: Path) -> None:
    async with served(tmp_path, FakeQemuConfig()) as (fake,):
        client = await fake.client()
        fake.fake.add_fault(
            {
                "kind": "event",
                "command": "stop",
                "event": "WATCHDOG",
                "data": {"action": "pause"},
                "when": "before",
            }
        )
        fake.fake.add_fault(
            {
                "kind": "event",
                "command": "stop",
                "event": "GUEST_PANICKED",
                "data": {"action": "pause"},
            }
        )
        await client.stream.send_all(b'{"execute": "stop"}')
        order = [await client.line() for _ in range(4)]
        names = [message.get("event", "reply") for message in order]
        assert names == ["WATCHDOG", "STOP", "reply", "GUEST_PANICKED"]
        assert order[0]["data"] == {"action": "pause"}
        assert set(order[0]["timestamp"]) == {"seconds", "microseconds"}
        # An event fault without a command is sent at once, to every client.
        fake.fake.add_fault({"kind": "event", "event": "POWERDOWN"})
        assert (await client.line())["event"] == "POWERDOWN"
        assert await client.command("cont") == {}


async def test_reorder_sends_the_commands_events_after_its_reply(tmp_path: Path) -> None:
    async with served(tmp_path, FakeQemuConfig()) as (fake,):
        client = await fake.client()
        await client.stream.send_all(b'{"execute": "stop"}')
        assert [(await client.line()).get("event", "reply") for _ in range(2)] == ["STOP", "reply"]
        fake.fake.add_fault({"kind": "reorder", "command": "cont", "event": "RESUME"})
        await client.stream.send_all(b'{"execute": "cont"}')
        assert [(await client.line()).get("event", "reply") for _ in range(2)] == [
            "reply",
            "RESUME",
        ]
        # Once (times=1): the next stop/cont are in QEMU's order again.
        await client.stream.send_all(b'{"execute": "stop"}{"execute": "cont"}')
        names = [(await client.line()).get("event", "reply") for _ in range(4)]
        assert names == ["STOP", "reply", "RESUME", "reply"]


async def test_a_delayed_reply_holds_the_monitor(tmp_path: Path) -> None:
    async with served(tmp_path, FakeQemuConfig()) as (fake,):
        client = await fake.client()
        fake.fake.add_fault({"kind": "delay", "command": "query-status", "ms": 150})
        start = trio.current_time()
        await client.stream.send_all(b'{"execute": "query-status"}{"execute": "query-name"}')
        first = await client.line()
        first_at = trio.current_time() - start
        second = await client.line()
        assert first["return"]["status"] == "running"
        assert second == {"return": {}}
        assert first_at >= 0.15
        # Not delayed any more.
        start = trio.current_time()
        await client.command("query-status")
        assert trio.current_time() - start < 0.15


@pytest.mark.parametrize("profile", ["7.2", "11.1"])
async def test_query_migrate_without_ram_is_deliberate_to_strict_mode(
    tmp_path: Path, profile: str
) -> None:
    """Strict contracts are on in this suite: the ram-less reply passes as deliberate,
    and the replies around it are still checked (and pass)."""
    source = FakeQemuConfig(profile=profile, memory=1 << 30)
    destination = FakeQemuConfig(profile=profile, incoming="defer")
    async with served(tmp_path, source, destination) as (src, dst):
        src_client, dst_client = await src.client(), await dst.client()
        await dst_client.command("migrate-incoming", {"uri": f"unix:{tmp_path}/mig.sock"})
        src.fake.add_fault({"kind": "query-migrate-without-ram", "times": 1})
        await src_client.command("migrate", {"uri": f"unix:{tmp_path}/mig.sock"})
        without = await wait_status(src_client, "active")
        assert "ram" not in without
        assert without["status"] == "active"
        with_ram = await src_client.command("query-migrate")
        assert "ram" in with_ram
        replies = [call.reply for call in src.journal if call.command == "query-migrate"]
        without_ram = [
            r for r in replies if r["return"]["status"] == "active" and "ram" not in r["return"]
        ]
        assert len(without_ram) == 1
        assert [record.kind for record in src.journal.faults] == ["query-migrate-without-ram"]
        await src_client.command("migrate_cancel")


async def test_a_bad_description_names_the_problem() -> None:
    with pytest.raises(FaultError, match="'error': desc is required"):
        FakeQemuConfig(faults=[{"kind": "error", "command": "migrate"}])
    with pytest.raises(FaultError, match="unknown fault kind 'eror'; kinds: latency"):
        FakeQemuConfig(faults=[{"kind": "eror"}])
    with pytest.raises(FaultError, match="'latency': unknown field mss; it takes"):
        FakeQemuConfig(faults=[{"kind": "latency", "mss": 3}])
    with pytest.raises(FaultError, match='times is a number from 1, or "always"'):
        FakeQemuConfig(faults=[{"kind": "error", "command": "x", "desc": "d", "times": 0}])
    with pytest.raises(FaultError, match="give exactly one of now, call, status"):
        FakeQemuConfig(faults=[{"kind": "hang", "trigger": {"at": 3}}])
    with pytest.raises(FaultError, match="'link-break': unknown field target; it takes kind"):
        FakeQemuConfig(faults=[{"kind": "link-break", "target": "monitor"}])
    with pytest.raises(FaultError, match="acts on a source; this fake is a destination"):
        make_fake(FakeQemuConfig(incoming="defer", faults=[{"kind": "destination-dies"}]))


def test_a_fake_holds_a_bounded_number_of_faults() -> None:
    from fakeqemu.model.faults import MAX_FAULTS

    fake = make_fake(FakeQemuConfig())
    for _ in range(MAX_FAULTS):
        fake.add_fault({"kind": "error", "command": "x", "desc": "d"})
    with pytest.raises(FaultError, match=f"holds {MAX_FAULTS} faults already"):
        fake.add_fault({"kind": "error", "command": "x", "desc": "d"})
    fake.faults.clear()
    assert fake.add_fault({"kind": "error", "command": "x", "desc": "d"})
