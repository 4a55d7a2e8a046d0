"""``fakeqemu record`` between a client and a monitor, and ``fakeqemu replay`` of what it wrote.

A session is run through the recording proxy against a fake (always) and against
Debian's QEMU 7.2 (when installed); replaying the cassette to the same requests must
give the client the very bytes it got the first time.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
from functools import partial
from pathlib import Path

import pytest
import trio
import trio.testing

from fakeqemu.protocol.cassette import Cassette, mask_timestamps
from fakeqemu.recorder.capture import running_qemu
from fakeqemu.recorder.record import RecordOptions
from fakeqemu.recorder.replay import replay
from fakeqemu.server.serve import Endpoint
from tests.support.processes import spawn_fakeqemu
from tests.support.recording import (
    SESSION,
    record_session,
    replay_session,
    run_session,
    served_fake,
)
from tests.support.recordings import RECORDINGS


@pytest.mark.parametrize("tcp", [False, True], ids=["unix", "tcp"])
async def test_a_session_with_a_fake_replays_byte_for_byte(
    tcp: bool, tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    async with trio.open_nursery() as nursery:
        monitor = await served_fake(nursery, tmp_path, tcp=tcp)
        live, cassette = await record_session(tmp_path, monitor, tcp=tcp)
    assert b'"event": "STOP"' in live
    assert b'"id": "abc"' in live
    assert live.endswith(b'{"return": {}}\r\n')  # quit's reply, then the fake hung up
    replayed, problems = await replay_session(tmp_path, cassette)
    assert problems == []
    assert replayed == live
    lines = cassette.splitlines()
    assert json.loads(lines[0])["cassette"] == 1
    assert json.loads(lines[-1])["eof"] is True


async def test_a_request_that_differs_gets_an_error_naming_the_cassette_line(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    async with trio.open_nursery() as nursery:
        monitor = await served_fake(nursery, tmp_path)
        live, cassette = await record_session(tmp_path, monitor)
    line = next(
        number for number, text in enumerate(cassette.splitlines(), start=1) if "query-name" in text
    )
    wrong = b'{"execute": "query-uuid"}'
    requests = [*SESSION[:2], wrong, *SESSION[2:]]
    replayed, problems = await replay_session(tmp_path, cassette, requests)
    assert problems == [
        f"the request differs from session.cassette line {line}: expected"
        f' {{"execute":"query-name","id":"abc"}}, got {wrong.decode()}'
    ]
    error = json.dumps(
        {"error": {"class": "GenericError", "desc": f"fakeqemu replay: {problems[0]}"}}
    )
    assert error.encode() in replayed
    # The position stayed: the right request next gets the recorded answer.
    assert replayed.replace(error.encode() + b"\r\n", b"") == live


async def test_masked_and_renumbered_cassettes_answer_any_id(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    async with trio.open_nursery() as nursery:
        monitor = await served_fake(nursery, tmp_path)
        options = RecordOptions(mask_timestamps=True, renumber_ids=True)
        live, cassette = await record_session(tmp_path, monitor, options)
    entries = Cassette.parse(cassette.splitlines()).entries
    events = [e.data for e in entries if b'"event"' in e.data]
    assert events
    assert all(b'"timestamp": {"seconds": 0, "microseconds": 0}' in event for event in events)
    requests = [e.data for e in entries if e.from_client]
    assert requests[2] == b'{"execute":"query-name","id":1}'
    assert requests[5] == b'{"execute": "nope", "id": 2}'
    assert "abc" not in cassette
    # Another client, other ids: each reply carries the client's own id back.
    requests = [
        request.replace(b'"abc"', b'"xyz"').replace(b'"id": 7', b'"id": [99]')
        for request in SESSION
    ]
    replayed, problems = await replay_session(tmp_path, cassette, requests)
    assert problems == []
    expected = mask_timestamps(live).replace(b'"id": "abc"', b'"id": "xyz"')
    assert replayed == expected.replace(b'"id": 7', b'"id": [99]')


async def test_a_recorded_transcript_of_real_qemu_replays_as_recorded(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    """``fakeqemu replay`` also serves the recordings' own format, one side at a time."""
    path = RECORDINGS / "10.0" / "precopy.jsonl"
    lines = [json.loads(text) for text in path.read_text().splitlines()]
    requests = [
        line["raw"].encode() for line in lines if line["side"] == "src" and line["dir"] == ">"
    ]
    written = b"".join(
        line["raw"].encode() + b"\n"
        for line in lines
        if line["side"] == "src" and line["dir"] == "<"
    )
    address = str(tmp_path / "src.sock")
    loaded = Cassette.load(path)
    async with trio.open_nursery() as nursery:
        await nursery.start(
            partial(replay, loaded, path.name, [Endpoint("unix", path=address)], side="src")
        )
        received = await trio.to_thread.run_sync(
            partial(run_session, address, requests, until_eof=False)
        )
        nursery.cancel_scope.cancel()
    assert received == written


@pytest.mark.real_qemu
async def test_a_session_with_real_qemu_replays_byte_for_byte(tmp_path: Path) -> None:
    binary = os.environ.get("FAKEQEMU_REAL_QEMU") or shutil.which("qemu-system-x86_64")
    if binary is None:
        pytest.skip("no qemu-system-x86_64 installed")
    with running_qemu(binary, "-m", "128") as path:
        live, cassette = await record_session(tmp_path, f"unix:{path}")
    assert b'"event": "STOP"' in live
    assert b'"QMP": {"version": {"qemu"' in live
    replayed, problems = await replay_session(tmp_path, cassette)
    assert problems == []
    assert replayed == live


def _stop(process: subprocess.Popen[str]) -> str:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=10)
    return stderr


def test_record_and_replay_from_the_command_line(tmp_path: Path) -> None:
    qemu, proxy, player = (str(tmp_path / name) for name in ("q.sock", "p.sock", "r.sock"))
    cassette = tmp_path / "session.cassette"
    with spawn_fakeqemu("serve", "--profile", "7.2", "--unix", qemu) as served:
        try:
            assert served.stdout is not None
            assert "on unix:" in served.stdout.readline()
            with spawn_fakeqemu(
                "record", str(cassette), "--monitor", f"unix:{qemu}", "--unix", proxy, "--once"
            ) as recording:
                assert recording.stdout is not None
                assert "recording" in recording.stdout.readline()
                live = run_session(proxy, SESSION)
                assert recording.wait(timeout=10) == 0, _stop(recording)
        finally:
            _stop(served)
    with spawn_fakeqemu("replay", str(cassette), "--unix", player, "--once") as replaying:
        assert replaying.stdout is not None
        assert "replaying" in replaying.stdout.readline()
        assert run_session(player, SESSION) == live
        assert replaying.wait(timeout=10) == 0, _stop(replaying)
    with spawn_fakeqemu("replay", str(cassette), "--unix", player, "--once") as replaying:
        assert replaying.stdout is not None
        replaying.stdout.readline()
        run_session(player, [b'{"execute": "query-version"}', *SESSION])
        assert replaying.wait(timeout=10) == 1
        assert "differs from" in _stop(replaying)
