"""``fakeqemu contracts validate`` reads the cassettes ``fakeqemu record`` writes.

The cassettes are really recorded: a session and a migration through the recording
proxy, in front of fakes.  Every line is accounted for: the header, each request
(which tells what the replies after it answer), QEMU hanging up, and each message
QEMU sent, which is checked.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import trio
import trio.testing

from fakeqemu.cli import main
from fakeqemu.contracts.messages import Received, read_conversation, read_entries
from fakeqemu.protocol.cassette import Cassette
from tests.support.recording import record_migration, record_session, served_fake


def _lines(cassette: str) -> list[dict[str, object]]:
    return [json.loads(text) for text in cassette.splitlines()]


def _validate(
    tmp_path: Path, cassette: str, capsys: pytest.CaptureFixture[str], *options: str
) -> tuple[int, list[str]]:
    path = tmp_path / "checked.cassette"
    path.write_text(cassette)
    code = main(["contracts", "validate", str(path), "--profile", "10.0", *options])
    return code, capsys.readouterr().out.splitlines()


def _accounted(cassette: str) -> int:
    """How many messages QEMU sent, once every line of the cassette is accounted for."""
    lines = _lines(cassette)
    headers = sum("cassette" in line for line in lines)
    requests = sum(line.get("dir") == ">" for line in lines)
    hang_ups = sum(bool(line.get("eof")) for line in lines)
    sent = sum(line.get("dir") == "<" and not line.get("eof") for line in lines)
    assert headers == 1
    assert headers + requests + hang_ups + sent == len(lines)
    return sent


async def test_every_line_of_a_recorded_session_is_read(
    tmp_path: Path, autojump_clock: trio.testing.MockClock, capsys: pytest.CaptureFixture[str]
) -> None:
    async with trio.open_nursery() as nursery:
        _, cassette = await record_session(tmp_path, await served_fake(nursery, tmp_path))
        nursery.cancel_scope.cancel()
    sent = _accounted(cassette)
    assert '"eof": true' in cassette  # quit: the fake hung up
    assert sent >= 10
    code, out = _validate(tmp_path, cassette, capsys, "--shape", "old")
    assert out == [f"{sent} messages checked against 10.0/old: 0 broke their contract"]
    assert code == 0
    # From Python: the cassette module reads the file, the contracts attribute its entries.
    received = list(read_entries(Cassette.parse(cassette.splitlines()).entries))
    assert len(received) == sent
    assert all(isinstance(item, Received) and item.role == "source" for item in received)
    assert [item.command for item in received if isinstance(item, Received)][:3] == [
        None,  # the greeting
        "qmp_capabilities",
        "query-status",
    ]
    with pytest.raises(ValueError, match="line 1 is a cassette header: read a cassette with"):
        list(read_conversation(cassette))


async def test_a_migration_cassette_keeps_its_contract_and_a_broken_reply_is_caught(
    tmp_path: Path, autojump_clock: trio.testing.MockClock, capsys: pytest.CaptureFixture[str]
) -> None:
    recorded = await record_migration(tmp_path)
    cassette = recorded.source_cassette
    sent = _accounted(cassette)
    code, out = _validate(tmp_path, cassette, capsys, "--shape", "old")
    assert out == [f"{sent} messages checked against 10.0/old: 0 broke their contract"]
    assert code == 0
    # A completed source that reports an incoming socket: side src makes it a source.
    lines = _lines(cassette)
    number, line = next(
        (number, line)
        for number, line in enumerate(lines, start=1)
        if '"status": "completed", "setup-time"' in str(line.get("raw"))
    )
    reply = json.loads(str(line["raw"]))
    reply["return"]["socket-address"] = [{"type": "unix", "path": "/tmp/x"}]
    lines[number - 1] = {**line, "raw": json.dumps(reply) + "\r"}
    broken = "\n".join(json.dumps(entry) for entry in lines) + "\n"
    code, out = _validate(tmp_path, broken, capsys, "--shape", "old")
    path = tmp_path / "checked.cassette"
    problem, summary = out
    assert problem.startswith(
        f"{path}:{number}: query-migrate (source): $.return.socket-address: is not allowed here"
    )
    assert summary == f"{sent} messages checked against 10.0/old: 1 broke their contract"
    assert code == 1


async def test_side_dst_makes_a_destination(
    tmp_path: Path, autojump_clock: trio.testing.MockClock, capsys: pytest.CaptureFixture[str]
) -> None:
    # A destination of the new shape reports ram when completed: its own contract holds,
    # the old one's destination contract does not.
    recorded = await record_migration(tmp_path, shape="new")
    cassette = recorded.destination_cassette
    sent = _accounted(cassette)
    code, out = _validate(tmp_path, cassette, capsys, "--shape", "new")
    assert out == [f"{sent} messages checked against 10.0/new: 0 broke their contract"]
    assert code == 0
    code, out = _validate(tmp_path, cassette, capsys, "--shape", "old")
    assert code == 1
    assert "query-migrate (destination): $.return.ram: is not allowed here" in "\n".join(out)
    assert out[-1] == f"{sent} messages checked against 10.0/old: 1 broke their contract"
    # --role overrides the side.
    code, out = _validate(tmp_path, cassette, capsys, "--shape", "new", "--role", "source")
    assert code == 1
    assert "query-migrate (source)" in "\n".join(out)


def test_a_line_that_is_not_a_cassette_line_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.cassette"
    path.write_text('{"cassette": 1}\n{"t": 0, "dir": "<"}\n')
    assert main(["contracts", "validate", str(path), "--profile", "10.0", "--shape", "old"]) == 2
    assert f"{path}:2: not a cassette line" in capsys.readouterr().err
