"""The scenario driver's own parts, proven on literal strings and on the recordings themselves.

Nothing here needs migration in the fake: the checks run on hand-made inputs and on
the recordings (a recording compared with itself, then tampered with), and the live
replay runs a small recording that only starts, queries and quits both fakes.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import trio.testing

from tests.support.recordings import VERSIONS
from tests.support.scenario_checks import (
    NO_STATUS,
    Layout,
    compare,
    compare_layouts,
    event_signature,
    key_layout,
    layouts_by_status,
    mask_text,
    masked_reply,
    monotonic_problems,
    query_migrate_returns,
)
from tests.support.scenario_driver import Transcript, replay
from tests.support.scenario_recording import (
    SCENARIOS,
    SIDES,
    EventRecord,
    Recording,
    load_recording,
    parse_recording,
    rewrite_tcp_port,
)

ALL = [(version, scenario) for version in VERSIONS for scenario in SCENARIOS]
IDS = [f"{version}-{scenario}" for version, scenario in ALL]


def test_mask_text_masks_digit_runs_with_their_decimal_points() -> None:
    text = "Transfers: \t\ttransferred=32.9 MiB, remain=0 B\r\n  Throughput (Mbps): \t304.32"
    assert (
        mask_text(text)
        == "Transfers: \t\ttransferred=# MiB, remain=# B\r\n  Throughput (Mbps): \t#"
    )


def test_masked_reply_masks_numbers_and_the_port_and_keeps_key_order() -> None:
    raw = (
        '{"return": {"status": "active", "socket-address": [{"port": "47563", "ipv4": true,'
        ' "host": "127.0.0.1", "type": "inet"}], "total-time": 102,'
        ' "ram": {"mbps": 268.68167999999997, "remaining": 0}}}\r'
    )
    assert masked_reply(raw) == (
        '{"return": {"status": "active", "socket-address": [{"port": "<n>", "ipv4": true,'
        ' "host": "127.0.0.1", "type": "inet"}], "total-time": "<n>",'
        ' "ram": {"mbps": "<n>", "remaining": "<n>"}}}'
    )
    reordered = '{"return": {"total-time": 5, "status": "active"}}'
    assert masked_reply(reordered) != masked_reply(
        '{"return": {"status": "active", "total-time": 5}}'
    )


def test_masked_reply_masks_the_digits_of_hmp_text_only() -> None:
    hmp = (
        '{"return": "Status: \\t\\tcompleted\\r\\nTime (ms): \\t\\ttotal=910, setup=2,'
        ' down=1\\r\\n"}\r'
    )
    assert json.loads(masked_reply(hmp))["return"] == (
        "Status: \t\tcompleted\r\nTime (ms): \t\ttotal=#, setup=#, down=#\r\n"
    )
    assert masked_reply('{"return": {"status": "v7.2"}}') == '{"return": {"status": "v7.2"}}'


def test_key_layout_is_in_wire_order_at_the_top_and_in_ram() -> None:
    info = json.loads(
        '{"expected-downtime": 300, "status": "active", "ram": {"total": 1, "dirty-sync-count": 1,'
        ' "mbps": 0}, "setup-time": 2}'
    )
    assert key_layout(info) == (
        ("expected-downtime", "status", "ram", "setup-time"),
        ("total", "dirty-sync-count", "mbps"),
    )
    assert key_layout(json.loads('{"status": "completed"}')) == (("status",), None)


def test_layouts_group_replies_without_status_together() -> None:
    address = [{"port": "1", "ipv4": True, "host": "127.0.0.1", "type": "inet"}]
    infos: list[dict[str, Any]] = [
        {},
        {"socket-address": address},
        {"status": "active", "socket-address": address},
        {},
    ]
    assert layouts_by_status(infos) == {
        NO_STATUS: [((), None), (("socket-address",), None)],
        "active": [(("status", "socket-address"), None)],
    }


def test_compare_layouts_finds_extra_missing_and_reordered_keys() -> None:
    active: Layout = (("status", "total-time", "ram"), ("total", "mbps"))
    recorded: dict[str, list[Layout]] = {"setup": [(("status",), None)], "active": [active]}
    assert compare_layouts(recorded, recorded) == []
    device: dict[str, list[Layout]] = {**recorded, "device": [active]}
    assert compare_layouts(recorded, device) == [
        "status 'device': the fake shows it ([status, total-time, ram] ram=[total, mbps]),"
        " QEMU never does"
    ]
    assert compare_layouts(recorded, {"active": [active]}) == [
        "status 'setup': QEMU shows it, the fake never does"
    ]
    swapped: dict[str, list[Layout]] = {
        **recorded,
        "active": [(("status", "total-time", "ram"), ("mbps", "total"))],
    }
    problems = compare_layouts(recorded, swapped)
    assert len(problems) == 2
    assert (
        "the fake's keys [status, total-time, ram] ram=[mbps, total] are not QEMU's" in problems[0]
    )
    assert "QEMU's keys [status, total-time, ram] ram=[total, mbps] never appear" in problems[1]


def _info(transferred: int, remaining: int, syncs: int, total_time: int) -> dict[str, Any]:
    ram = {"transferred": transferred, "remaining": remaining, "dirty-sync-count": syncs}
    return {"status": "active", "total-time": total_time, "ram": ram}


def test_monotonic_counters() -> None:
    rising: list[dict[str, Any]] = [{}, {"status": "setup"}, _info(10, 90, 1, 100)]
    rising.append(_info(20, 80, 1, 200))
    assert monotonic_problems(rising) == []
    # A new dirty-sync pass may find more to send.
    assert monotonic_problems([_info(10, 10, 1, 100), _info(20, 50, 2, 200)]) == []
    assert monotonic_problems([_info(20, 80, 1, 100), _info(10, 70, 1, 200)]) == [
        "ram.transferred went down from 20 (reply #0, active) to 10 (reply #1, active)"
    ]
    assert monotonic_problems([_info(10, 80, 1, 100), _info(20, 90, 1, 200)]) == [
        "ram.remaining went up from 80 (reply #0) to 90 (reply #1) with dirty-sync-count still 1"
    ]
    assert monotonic_problems([_info(10, 80, 2, 200), {"status": "x"}, _info(20, 0, 1, 150)]) == [
        "ram.dirty-sync-count went down from 2 (reply #0, active) to 1 (reply #2, active)",
        "total-time went down from 200 (reply #0, active) to 150 (reply #2, active)",
    ]


@pytest.mark.parametrize(("version", "scenario"), ALL, ids=IDS)
def test_qemu_itself_keeps_the_monotonic_rules(version: str, scenario: str) -> None:
    recording = load_recording(version, scenario)
    for side in SIDES:
        infos = [info for _, info in query_migrate_returns(recording.sides[side])]
        assert infos, side
        assert monotonic_problems(infos) == [], side


def test_rewrite_tcp_port_and_event_signature() -> None:
    request = '{"execute": "migrate", "arguments": {"uri": "tcp:127.0.0.1:47563"}}'
    assert rewrite_tcp_port(request, 0) == request.replace("47563", "0")
    event = (
        '{"timestamp": {"seconds": 1, "microseconds": 2}, "event": "MIGRATION",'
        ' "data": {"status": "setup"}}\r'
    )
    assert event_signature(event) == '{"event": "MIGRATION", "data": {"status": "setup"}}'


def test_recording_pairs_requests_with_replies_and_counts_events() -> None:
    recording = load_recording("7.2", "cancel")
    src, dst = recording.sides["src"], recording.sides["dst"]
    assert src.greeting is not None
    assert all(exchange.reply is not None for exchange in src.exchanges)
    # The destination exited once the source cancelled: its last query-migrate got no reply.
    assert [e.reply is None for e in dst.exchanges] == [False] * (len(dst.exchanges) - 1) + [True]
    assert dst.exchanges[-1].command == "query-migrate"
    migrate = next(step for step in recording.steps if step.exchange.command == "migrate")
    assert dict(migrate.events_before) == {"src": 1, "dst": 1}  # RESUME, MIGRATION setup
    assert migrate.exchange.reply == '{"return": {}}\r'
    assert recording.start_t == 0.2174  # the source's greeting


def test_steps_know_the_status_their_reply_showed() -> None:
    recording = load_recording("10.0", "pause-before-switchover")
    shown = [step.status for step in recording.steps if step.exchange.side == "src"]
    statuses = [status for status in shown if status is not None]
    assert statuses == ["setup", *["active"] * 8, "pre-switchover", "completed", "completed"]
    assert all(
        step.status is None for step in recording.steps if step.exchange.command != "query-migrate"
    )


def _as_transcript(recording: Recording) -> Transcript:
    return Transcript(copy.deepcopy(dict(recording.sides)))


@pytest.mark.parametrize(("version", "scenario"), ALL, ids=IDS)
def test_a_recording_matches_itself(version: str, scenario: str) -> None:
    recording = load_recording(version, scenario)
    assert compare(recording, _as_transcript(recording)) == []


def test_compare_reports_each_kind_of_difference() -> None:
    recording = load_recording("11.1", "cancel")
    transcript = _as_transcript(recording)
    src, dst = transcript.sides["src"], transcript.sides["dst"]
    last = src.events[-1]
    src.events[-1] = EventRecord(last.raw.replace("cancelled", "failed"), last.t, last.answered)
    polls = [exchange for exchange, _ in query_migrate_returns(src)]
    active = [e for e in polls if e.reply is not None and '"active"' in e.reply]
    assert active[0].reply is not None
    info = json.loads(active[0].reply)["return"]
    info["ram"]["transferred"] = 0
    active[1].reply = json.dumps({"return": {"status": "active", **info}})
    assert polls[-1].reply is not None
    polls[-1].reply = polls[-1].reply.replace("cancelled", "failed")
    dst.exchanges[-1].reply = '{"return": {}}'
    problems = compare(recording, transcript)
    assert [problem.split(":")[0] for problem in problems] == [
        "[replies] dst",
        "[events] src",
        "[layouts] src",
        "[layouts] src",
        "[layouts] src",
        "[finals] src",
        "[counters] src",
    ]
    assert "QEMU never answered" in problems[0]
    assert '! #4: QEMU {"event": "MIGRATION", "data": {"status": "cancelled"}}' in problems[1]
    assert 'fake {"event": "MIGRATION", "data": {"status": "failed"}}' in problems[1]
    assert "status 'cancelled': QEMU shows it, the fake never does" in problems[2]
    assert "status 'active': the fake's keys [status, expected-downtime, remaining," in problems[3]
    assert "status 'failed': the fake shows it ([status]), QEMU never does" in problems[4]
    assert 'QEMU: {"return": {"status": "cancelled"}}' in problems[5]
    assert "ram.transferred went down" in problems[6]


def _line(t: float, side: str, direction: str, raw: str) -> dict[str, object]:
    return {"t": t, "side": side, "dir": direction, "raw": raw}


def _small_recording(version: str) -> Recording:
    """Both fakes greeted, negotiated, queried, quit; the source resumed; 0.5 s pause."""
    greeting = '{"QMP": {}}\r'
    step = ' "singlestep": false,' if version == "7.2" else ""
    ok = '{"return": {}}\r'
    shutdown = '{"event": "SHUTDOWN", "data": {"guest": false, "reason": "host-qmp-quit"}}\r'
    lines = [
        _line(0.1, "src", "<", greeting),
        _line(0.1, "dst", "<", greeting),
        _line(0.2, "src", ">", '{"execute": "qmp_capabilities"}'),
        _line(0.2, "src", "<", ok),
        _line(0.2, "dst", ">", '{"execute": "qmp_capabilities"}'),
        _line(0.2, "dst", "<", ok),
        _line(0.2, "src", ">", '{"execute": "cont"}'),
        _line(0.2, "src", "<", '{"event": "RESUME"}\r'),
        _line(0.2, "src", "<", ok),
        _line(0.7, "dst", ">", '{"execute": "query-status"}'),
        _line(
            0.7, "dst", "<", f'{{"return": {{"status": "inmigrate",{step} "running": false}}}}\r'
        ),
        _line(0.7, "src", ">", '{"execute": "query-status"}'),
        _line(0.7, "src", "<", f'{{"return": {{"status": "running",{step} "running": true}}}}\r'),
        _line(0.8, "src", ">", '{"execute":"quit"}'),
        _line(0.8, "src", "<", shutdown),
        _line(0.8, "src", "<", ok),
        _line(0.8, "dst", ">", '{"execute":"quit"}'),
        _line(0.8, "dst", "<", shutdown),
        _line(0.8, "dst", "<", ok),
    ]
    return parse_recording(f"{version}-small", lines)


@pytest.mark.parametrize("version", VERSIONS)
async def test_replay_paces_pairs_and_ends_with_quit(
    version: str, tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    recording = _small_recording(version)
    transcript = await replay(recording, version, tmp_path)
    assert compare(recording, transcript) == []
    src, dst = transcript.sides["src"], transcript.sides["dst"]
    assert [json.loads(e.raw)["event"] for e in src.events] == ["RESUME", "SHUTDOWN"]
    assert [e.answered for e in src.events] == [1, 3]  # RESUME before cont's reply
    assert all(e.reply is not None for e in src.exchanges + dst.exchanges)
    assert src.closed_t is not None  # quit closed it while the replay went on
    sent = {(e.side, e.command): e.t for e in src.exchanges + dst.exchanges}
    assert sent[("dst", "query-status")] - sent[("src", "cont")] == pytest.approx(0.5)
    assert sent[("src", "quit")] - sent[("src", "query-status")] == pytest.approx(0.1)
