"""``fakeqemu replay`` goes on after a mismatch, and takes argument matchers, so that a
recorded migration replays to a tool that migrates to another port."""

from __future__ import annotations

import json
import signal
from functools import partial
from pathlib import Path

import pytest
import trio
import trio.testing

from fakeqemu.cli import main
from fakeqemu.protocol.cassette_matchers import Matcher
from tests.support.processes import spawn_fakeqemu
from tests.support.recording import (
    SESSION,
    RecordedMigration,
    migrate_source,
    record_migration,
    record_session,
    replay_to,
    run_session,
    served_fake,
)

ANY_LOOPBACK_PORT = r"migrate:arguments.uri=~^tcp:127\.0\.0\.1:\d+$"


def _line_of(cassette: str, needle: str) -> int:
    lines = cassette.splitlines()
    return next(number for number, text in enumerate(lines, start=1) if needle in text)


def _other_port(recorded: RecordedMigration) -> str:
    port = recorded.port + 1 if recorded.port < 65535 else recorded.port - 1
    return f"tcp:127.0.0.1:{port}"


async def test_a_migration_replays_to_another_port_with_a_regex_matcher(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    recorded = await record_migration(tmp_path)
    assert f'"tcp:127.0.0.1:{recorded.port}"' in recorded.source_cassette.replace("\\", "")
    elsewhere = _other_port(recorded)
    replayed = await replay_to(
        tmp_path,
        recorded.source_cassette,
        [partial(migrate_source, uri=elsewhere)],
        matchers=[Matcher.regex(ANY_LOOPBACK_PORT)],
    )
    assert replayed.problems == []
    # Every event and reply as recorded, up to the completed query-migrate.
    assert replayed.received == [recorded.source]
    assert recorded.source[-1]["return"]["status"] == "completed"
    assert replayed.ended


async def test_without_a_matcher_the_new_port_is_refused_and_replay_serves_on(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    recorded = await record_migration(tmp_path)
    elsewhere = _other_port(recorded)
    same_port = f"tcp:127.0.0.1:{recorded.port}"
    replayed = await replay_to(
        tmp_path,
        recorded.source_cassette,
        [partial(migrate_source, uri=elsewhere), partial(migrate_source, uri=same_port)],
    )
    line = _line_of(recorded.source_cassette, '"migrate\\"')
    expected = json.dumps({"execute": "migrate", "arguments": {"uri": same_port}})
    got = json.dumps({"execute": "migrate", "arguments": {"uri": elsewhere}})
    problem = (
        f"the request differs from session.cassette line {line}: expected {expected}, got {got}"
    )
    assert replayed.problems == [problem]
    refused, played = replayed.received
    assert refused[-1] == {
        "error": {"class": "GenericError", "desc": f"fakeqemu replay: {problem}"}
    }
    assert refused[:-1] == recorded.source[: len(refused) - 1]
    # The first client left mid-way: the next one played the connection from the start.
    assert played == recorded.source
    assert replayed.ended


async def test_an_ignored_key_and_a_refused_value(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    recorded = await record_migration(tmp_path)
    replayed = await replay_to(
        tmp_path,
        recorded.source_cassette,
        [partial(migrate_source, uri="unix:/tmp/elsewhere.sock")],
        matchers=[Matcher.regex(ANY_LOOPBACK_PORT)],
    )
    assert len(replayed.problems) == 1
    assert replayed.problems[0].endswith(
        r'; arguments.uri "unix:/tmp/elsewhere.sock" does not match ^tcp:127\.0\.0\.1:\d+$'
    )
    assert not replayed.ended
    replayed = await replay_to(
        tmp_path,
        recorded.source_cassette,
        [partial(migrate_source, uri="unix:/tmp/elsewhere.sock")],
        matchers=[Matcher.ignore("arguments.uri")],
    )
    assert replayed.problems == []
    assert replayed.received == [recorded.source]


def test_the_command_line_takes_matchers_and_refuses_bad_ones(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = ["replay", str(tmp_path / "none.cassette"), "--unix", str(tmp_path / "r.sock")]
    for option, value, error in [
        ("--match", "arguments.uri=~(", "bad regular expression: missing ),"),
        ("--match", "arguments.uri", "expected [COMMAND:]PATH=~REGEX"),
        ("--ignore", "arguments.uri=~x", "an ignore takes [COMMAND:]PATH only"),
        ("--ignore", "arguments..uri", "PATH must be dotted member names"),
        ("--ignore", "id", "ids are not matched by key"),
    ]:
        with pytest.raises(SystemExit) as exited:
            main([*base, option, value])
        assert exited.value.code == 2
        err = capsys.readouterr().err
        assert f"argument {option}: matcher {value!r}: " in err
        assert error in err


async def test_the_command_line_serves_on_after_a_mismatch(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    async with trio.open_nursery() as nursery:
        live, cassette = await record_session(tmp_path, await served_fake(nursery, tmp_path))
        nursery.cancel_scope.cancel()
    path = tmp_path / "session.cassette"
    path.write_text(cassette)
    player = str(tmp_path / "r.sock")
    wrong = b'{"execute": "query-version"}'
    # Another HMP command line: the matcher lets it pass for the recorded one.
    session = [request.replace(b"info status", b"info version") for request in SESSION]
    assert session != SESSION
    matcher = "human-monitor-command:arguments.command-line"

    def clients() -> tuple[bytes, bytes, int, str]:
        with spawn_fakeqemu(
            "replay", str(path), "--unix", player, "--ignore", matcher
        ) as replaying:
            try:
                assert replaying.stdout is not None
                assert "replaying" in replaying.stdout.readline()
                refused = run_session(player, [SESSION[0], wrong], until_eof=False)
                played = run_session(player, session)
                code = replaying.wait(timeout=10)
            finally:
                if replaying.poll() is None:
                    replaying.send_signal(signal.SIGTERM)
                _, stderr = replaying.communicate(timeout=10)
        return refused, played, code, stderr

    refused, played, code, stderr = await trio.to_thread.run_sync(clients)
    assert b"fakeqemu replay: the request differs from" in refused
    assert played == live
    assert code == 1  # it ended once the connection was played through; a mismatch happened
    assert stderr.count("differs from") == 1
