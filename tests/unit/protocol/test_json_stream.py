"""QEMU's JSON streamer (json-streamer.c): framing, limits, recovery, per-release errors."""

from __future__ import annotations

import json
import random
import re
import time
from typing import Any

import pytest

from fakeqemu.protocol import json_lexer, json_stream
from fakeqemu.protocol.json_stream import (
    QEMU_7_2,
    QEMU_10_0,
    QEMU_11_1,
    JsonDialect,
    JsonError,
    JsonMessage,
    JsonStream,
)
from tests.support.recordings import RECORDINGS

DIALECTS = {"7.2": QEMU_7_2, "10.0": QEMU_10_0, "11.1": QEMU_11_1}
BOTH = pytest.mark.parametrize("dialect", [QEMU_7_2, QEMU_11_1], ids=["7.2", "11.1"])
CAPABILITIES = b'{"execute":"qmp_capabilities"}\n'


def load_probes(version: str) -> list[dict[str, Any]]:
    with (RECORDINGS / version / "probes.jsonl").open(encoding="utf-8") as lines:
        return [json.loads(line) for line in lines]


PROBE_CASES = [
    pytest.param(version, case, id=f"{version}-{case['name']}")
    for version in DIALECTS
    for case in load_probes(version)
]


def descs(results: list[JsonMessage | JsonError]) -> list[str | JsonMessage]:
    return [result.desc if isinstance(result, JsonError) else result for result in results]


def feed_all(dialect: JsonDialect, *chunks: bytes) -> list[JsonMessage | JsonError]:
    stream = JsonStream(dialect)
    return [result for chunk in chunks for result in stream.feed(chunk)]


def is_json_error(reply: dict[str, Any]) -> bool:
    return "error" in reply and re.match(r"(\d+:\d+: )?JSON ", reply["error"]["desc"]) is not None


@pytest.mark.parametrize(("version", "case"), PROBE_CASES)
def test_recorded_probes_give_the_same_messages_and_errors(
    version: str, case: dict[str, Any]
) -> None:
    # Every message QEMU read got exactly one reply, so results and (non-event) replies
    # line up one to one; JSON-level errors must match the recorded desc exactly.
    stream = JsonStream(DIALECTS[version])
    if not case["before_caps"]:
        assert stream.feed(CAPABILITIES) == [JsonMessage({"execute": "qmp_capabilities"})]
    for chunk, reply_text in zip(case["send"], case["replies"], strict=True):
        results = stream.feed(chunk.encode("latin-1"))
        # Replies may echo ids 1,023 levels deep: read them as QEMU would.
        lines = reply_text.encode("latin-1").split(b"\r\n")
        messages = [json_stream.parse_json(line) for line in lines if line]
        replies = [reply for reply in messages if isinstance(reply, dict) and "event" not in reply]
        assert len(results) == len(replies)
        for result, reply in zip(results, replies, strict=True):
            if isinstance(result, JsonError):
                assert "id" not in reply
                assert reply["error"] == {"class": "GenericError", "desc": result.desc}
            else:
                assert not is_json_error(reply)


def probe_descs(version: str, name: str) -> list[str | JsonMessage]:
    (case,) = [case for case in load_probes(version) if case["name"] == name]
    chunks = [chunk.encode("latin-1") for chunk in case["send"]]
    return descs(feed_all(DIALECTS[version], CAPABILITIES, *chunks))[1:]


def test_the_json_level_probes_in_detail() -> None:
    for version in ("7.2", "10.0"):
        assert probe_descs(version, "invalid_json") == ["JSON parse error, expecting value"]
        assert probe_descs(version, "bad_utf8") == [
            "JSON parse error, stray '\"\ufffd'",
            "JSON parse error, stray '\ufffd'",
            "JSON parse error, expecting value",
        ]
        nesting = probe_descs(version, "deep_nesting")
        assert nesting[0] == "JSON nesting depth limit exceeded"
        # {"execute":..., "id": then 1100 [ and 1100 ]: the error comes at the 1024th [, so
        # the other 76 form a list of their own (the "must be a JSON object" reply), and
        # each of the remaining 1024 ] and the } is an error.
        leftover: list[Any] = []
        for _ in range(75):
            leftover = [leftover]
        assert nesting[1] == JsonMessage(leftover)
        assert nesting[2:] == ["JSON parse error, expecting value"] * 1025
    assert probe_descs("11.1", "invalid_json") == ["3:1: JSON parse error, expecting value"]
    assert probe_descs("11.1", "bad_utf8") == [
        "2:32: JSON parse error, stray '\"\ufffd'",
        "2:35: JSON parse error, stray '\ufffd'",
        "2:37: JSON parse error, expecting value",
    ]
    assert probe_descs("11.1", "deep_nesting") == ["JSON nesting depth limit exceeded"]
    for version in DIALECTS:
        expected = [JsonMessage({"execute": "query-status"})]
        assert probe_descs(version, "single_quotes") == expected
        assert probe_descs(version, "crlf") == expected


@BOTH
def test_messages_need_no_newline_and_can_share_a_chunk(dialect: JsonDialect) -> None:
    results = feed_all(dialect, b'{"execute":"a"}{"execute":"b"} [1]"x"\r\n7', b" ")
    assert descs(results) == [
        JsonMessage({"execute": "a"}),
        JsonMessage({"execute": "b"}),
        JsonMessage([1]),
        JsonMessage("x"),
        JsonMessage(7),
    ]


@BOTH
def test_top_level_scalars_end_with_their_token(dialect: JsonDialect) -> None:
    stream = JsonStream(dialect)
    assert stream.feed(b'"str"') == [JsonMessage("str")]
    assert stream.feed(b"42") == []  # a number might go on
    assert stream.feed(b"\n") == [JsonMessage(42)]
    assert stream.feed(b"null") == []
    assert stream.feed(b",") == [
        JsonMessage(None),
        JsonError(_located(dialect, 2, 6, "expecting value")),
    ]
    assert stream.feed(b"false]") == [
        JsonMessage(False),
        JsonError(_located(dialect, 2, 12, "expecting value")),
    ]


def _located(dialect: JsonDialect, line: int, column: int, message: str) -> str:
    prefix = f"{line}:{column}: " if dialect.error_locations else ""
    return f"{prefix}JSON parse error, {message}"


MIXED_INPUT = (
    b'{"execute": "x", "arguments": {"a": [1, -2.5, true, null, "\\u00e9\xc3\xa9"], '
    b'\'b\': 18446744073709551615}, "id": "\\ud83d\\ude00"}\n'
    b'{"execute": Foo}{"id": "\xff\xfe"}\n[[{"a":1,"a":2}]]\x01{"k": [nul]} 5'
)


@BOTH
def test_a_split_anywhere_changes_nothing(dialect: JsonDialect) -> None:
    whole = feed_all(dialect, MIXED_INPUT)
    assert len(whole) == 9
    for cut in range(len(MIXED_INPUT) + 1):
        assert feed_all(dialect, MIXED_INPUT[:cut], MIXED_INPUT[cut:]) == whole, cut
    byte_by_byte = feed_all(dialect, *(MIXED_INPUT[i : i + 1] for i in range(len(MIXED_INPUT))))
    assert byte_by_byte == whole


def test_release_differences_on_mixed_input() -> None:
    message = JsonMessage(
        {
            "execute": "x",
            "arguments": {"a": [1, -2.5, True, None, "éé"], "b": 2**64 - 1},
            "id": "😀",
        }
    )
    assert descs(feed_all(QEMU_7_2, MIXED_INPUT)) == [
        message,
        "JSON parse error, stray 'F'",
        "JSON parse error, expecting value",
        "JSON parse error, stray '\"\ufffd'",
        "JSON parse error, stray '\ufffd'",
        "JSON parse error, expecting value",
        # [[{"a":1,"a":2}]] then \x01: the duplicate key is reported at the end of its
        # message, before the stray byte.
        "JSON parse error, duplicate key",
        "JSON parse error, stray '\x01'",
        "JSON parse error, invalid keyword 'nul'",  # the final 5 still waits for its end
    ]
    assert descs(feed_all(QEMU_11_1, MIXED_INPUT)) == [
        message,
        "2:13: JSON parse error, stray 'F'",
        "2:17: JSON parse error, expecting value",
        "2:24: JSON parse error, stray '\"\ufffd'",
        "2:27: JSON parse error, stray '\ufffd'",
        "2:29: JSON parse error, expecting value",
        "3:14: JSON parse error, duplicate key",
        "3:18: JSON parse error, stray '\x01'",
        "3:26: JSON parse error, invalid keyword 'nul'",
    ]


def test_qemu_11_1_reports_an_error_at_once_and_skips_the_rest() -> None:
    stream = JsonStream(QEMU_11_1)
    assert descs(stream.feed(b'{"execute": foo, "id": {')) == [
        "1:13: JSON parse error, invalid keyword 'foo'"
    ]
    assert stream.feed(b'"x": [}]}') == []
    assert stream.feed(b'{"a":1}') == [JsonMessage({"a": 1})]
    classic = JsonStream(QEMU_7_2)
    assert classic.feed(b'{"execute": foo, "id": {') == []
    assert descs(classic.feed(b'"x": [}]}')) == ["JSON parse error, invalid keyword 'foo'"]


def test_a_lexical_error_ends_11_1_skipping_without_being_reported() -> None:
    text = b'{"a": foo, "b": "\x01"}{"c":1}'
    assert descs(feed_all(QEMU_11_1, text)) == [
        "1:7: JSON parse error, invalid keyword 'foo'",
        "1:21: JSON parse error, expecting value",
        JsonMessage({"c": 1}),
    ]
    # 7.2 drops the queued message (and its parse error) at the stray byte instead.
    assert descs(feed_all(QEMU_7_2, text)) == [
        "JSON parse error, stray '\"\x01'",
        "JSON parse error, expecting value",
        JsonMessage({"c": 1}),
    ]


@BOTH
def test_nul_bytes_end_the_quoted_stray_text(dialect: JsonDialect) -> None:
    results = descs(feed_all(dialect, b'\x00{"a": "b\x00c"}'))
    assert [re.sub(r"^\d+:\d+: ", "", str(desc)) for desc in results] == [
        "JSON parse error, stray ''",
        "JSON parse error, stray '\"b'",
        "JSON parse error, expecting value",
    ]


@BOTH
def test_recovery_after_garbage(dialect: JsonDialect) -> None:
    # (Not an ANSI colour sequence: its "[" would open a list that swallows the rest.)
    garbage = b'{"execute": \xff garbage "\x1b'
    results = feed_all(dialect, garbage, b'\n{"execute":"query-status"}\n')
    assert results[-1] == JsonMessage({"execute": "query-status"})
    assert all(isinstance(result, JsonError) for result in results[:-1])


def test_nesting_1024_is_fine_and_1025_is_not() -> None:
    for dialect in (QEMU_7_2, QEMU_11_1):
        deepest = feed_all(dialect, b'{"a":' + b"[" * 1023 + b"]" * 1023 + b"}")
        assert len(deepest) == 1
        assert isinstance(deepest[0], JsonMessage)
    too_deep = b"[" * 1025 + b"]" * 1025
    assert (
        descs(feed_all(QEMU_7_2, too_deep))
        == ["JSON nesting depth limit exceeded"] + ["JSON parse error, expecting value"] * 1025
    )
    assert descs(feed_all(QEMU_11_1, too_deep)) == ["JSON nesting depth limit exceeded"]


def test_token_size_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(json_stream, "MAX_TOKEN_SIZE", 20)
    # Tokens may total MAX_TOKEN_SIZE - 1 bytes (7.2 counts a NUL per token; 11.1.3 was
    # measured to stop at the same boundary, a 64 MiB string being one byte too many).
    fits = b'["' + b"a" * 15 + b'"]'  # 1 + 17 + 1 bytes of tokens
    too_big = b'["' + b"a" * 16 + b'"]'
    for dialect in (QEMU_7_2, QEMU_11_1):
        assert feed_all(dialect, fits) == [JsonMessage(["a" * 15])]
        assert feed_all(dialect, b'"' + b"a" * 17 + b'"') == [JsonMessage("a" * 17)]
        assert descs(feed_all(dialect, b'"' + b"a" * 18 + b'"')) == [
            "JSON token size limit exceeded"
        ]
    assert descs(feed_all(QEMU_7_2, too_big)) == ["JSON token size limit exceeded"]  # at ]
    assert descs(feed_all(QEMU_11_1, too_big)) == ["JSON token size limit exceeded"]
    way_too_big = b'["' + b"a" * 17 + b'"]'
    assert descs(feed_all(QEMU_7_2, way_too_big)) == [
        "JSON token size limit exceeded",  # at the string; the ] is a message of its own
        "JSON parse error, expecting value",
    ]
    assert descs(feed_all(QEMU_11_1, way_too_big)) == ["JSON token size limit exceeded"]


@BOTH
def test_an_overlong_token_is_a_size_error(
    dialect: JsonDialect, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(json_stream, "MAX_TOKEN_SIZE", 64)
    monkeypatch.setattr(json_lexer, "MAX_TOKEN_SIZE", 64)
    stream = JsonStream(dialect)
    results = stream.feed(b'"' + b"x" * 100)
    assert descs(results)[0] == "JSON token size limit exceeded"
    assert stream.buffered_bytes < 70


def test_token_count_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(json_stream, "MAX_TOKEN_COUNT", 5)
    assert feed_all(QEMU_7_2, b"[1,2]") == [JsonMessage([1, 2])]
    assert feed_all(QEMU_11_1, b"[1,2]") == [JsonMessage([1, 2])]
    assert descs(feed_all(QEMU_7_2, b"[1,2,3]")) == [
        "JSON token count limit exceeded",
        "JSON parse error, expecting value",
    ]
    assert descs(feed_all(QEMU_11_1, b"[1,2,3]")) == ["JSON token count limit exceeded"]
    # Counts start again with every message.
    assert len(feed_all(QEMU_7_2, b"[1,2]" * 3)) == 3


@BOTH
def test_memory_stays_bounded_whatever_comes_in(
    dialect: JsonDialect, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Real QEMU holds up to 64 MiB per token and per message; smaller limits keep this quick.
    monkeypatch.setattr(json_lexer, "MAX_TOKEN_SIZE", 64 << 10)
    monkeypatch.setattr(json_stream, "MAX_TOKEN_SIZE", 64 << 10)
    bound = (64 << 10) * 2 + 2
    stream = JsonStream(dialect)
    one_mib = 1 << 20
    garbage = [
        b'"' + b"s" * 3 * one_mib,  # an endless string
        b"k" * 3 * one_mib,  # an endless keyword
        b"7" * 2 * one_mib,
        b"\xfe" + b"#" * 2 * one_mib,  # skipped by error recovery
        b"[" + b'"s",' * (one_mib // 32),  # a message that never ends (token by token)
        b"]" * (one_mib // 16),
    ]
    for chunk in garbage:
        for start in range(0, len(chunk), 1 << 16):
            stream.feed(chunk[start : start + (1 << 16)])
            assert stream.buffered_bytes <= bound
    rng = random.Random(1)
    for _ in range(2):
        stream.feed(rng.randbytes(1 << 17))  # noise: mostly errors, a reply each
        assert stream.buffered_bytes <= bound
    for _ in range(2):
        results = stream.feed(b"[" * (1 << 16))  # nesting without end
        assert stream.buffered_bytes <= bound
        assert len(results) <= (1 << 16) // 1024 + 1


PIECES = [
    b"{", b"}", b"[", b"]", b":", b",", b" ", b"\n", b'"a"', b"'b'", b'"\\u00e9"', b'"\\ud800"',
    b'"\\ud83d\\ude00"', b"1", b"-2.5e3", b"0", b"01", b"true", b"nul", b"Foo", b"\xff",
    b'"\xc3\xa9"', b'"\xc3"', b'"x', b"\x01", b'"\\q"', b'"a":1', b"NaN", b"Infinity",
    b'{"a":1,"a":2}', b'{"execute":"x","id":[1,{"k":null}]}', b'{"s":"\\u0000\\/"}',
    b"18446744073709551616", b"[[]]", b'{"a":"\\uFDD0"}',
]  # fmt: skip


@BOTH
def test_the_fast_path_never_changes_a_result(
    dialect: JsonDialect, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = random.Random(7)
    inputs = [b"".join(rng.choices(PIECES, k=rng.randint(1, 40))) + b" " for _ in range(1500)]
    with_fast_path = [feed_all(dialect, text) for text in inputs]
    in_pieces = []
    for text in inputs:
        cuts = sorted(rng.sample(range(len(text) + 1), k=min(3, len(text) + 1)))
        chunks = [
            text[start:end] for start, end in zip([0, *cuts], [*cuts, len(text)], strict=True)
        ]
        in_pieces.append(feed_all(dialect, *chunks))
    monkeypatch.setattr(json_stream, "_FAST_PATH_MAX_BYTES", 0)
    exact = [feed_all(dialect, text) for text in inputs]
    assert with_fast_path == exact
    assert in_pieces == exact
    assert sum(isinstance(r, JsonMessage) for results in exact for r in results) > 1000


def test_pipelined_commands_are_fast() -> None:
    stream = JsonStream(QEMU_11_1)
    data = b'{"execute":"query-status","id":123}\n' * 10_000
    start = time.perf_counter()
    results = stream.feed(data)
    elapsed = time.perf_counter() - start
    assert len(results) == 10_000
    assert elapsed < 0.5


def test_parse_json_reads_one_value_at_any_depth_qemu_accepts() -> None:
    deepest = json_stream.parse_json(b"[" * 1024 + b"]" * 1024)
    for _ in range(1023):
        assert isinstance(deepest, list)
        (deepest,) = deepest
    assert deepest == []
    assert json_stream.parse_json(b"{'a': 18446744073709551616}") == {"a": 1.8446744073709552e19}
    assert json_stream.parse_json(b"7") == 7
    for bad in (b"", b"[1", b"1 2", b"{} x", b"inf", b"[" * 1025 + b"]" * 1025):
        with pytest.raises(ValueError, match=r"JSON|not exactly one"):
            json_stream.parse_json(bad)
