"""QEMU's JSON output: key order, %.17g, escaping, line ends."""

from __future__ import annotations

import json
import random

import pytest

from fakeqemu.profiles import get_profile
from fakeqemu.protocol.encoder import (
    encode_message,
    encode_value,
    qdict_order,
    quote_string,
    tdb_hash,
)
from tests.support.recordings import VERSIONS, queries


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0.0, "0"),
        (-0.0, "-0"),
        (1000.0, "1000"),
        (0.80136, "0.80135999999999996"),
        (264.576, "264.57600000000002"),
        (2.3e-05, "2.3e-05"),
        (1e23, "9.9999999999999992e+22"),
        (97.955404255319152, "97.955404255319152"),
        (18446744073709551615, "18446744073709551615"),
        (-5, "-5"),
        (True, "true"),
        (None, "null"),
        ([], "[]"),
        ({}, "{}"),
    ],
)
def test_scalars_print_like_qemu(value: object, text: str) -> None:
    assert encode_value(value) == text  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "quoted"),
    [
        ("é😀/\x7f", '"\\u00E9\\uD83D\\uDE00/\\u007F"'),
        ('a"b\\c\n\t\x01', '"a\\"b\\\\c\\n\\t\\u0001"'),
        ("\x00", '"\\u0000"'),
        ("\ufffe\ud800", '"\\uFFFD\\uFFFD"'),
    ],
)
def test_strings_are_ascii_with_uppercase_escapes(text: str, quoted: str) -> None:
    assert quote_string(text) == quoted


def test_reply_envelopes_are_in_hash_order() -> None:
    assert qdict_order(["return", "id"]) == ["return", "id"]
    assert qdict_order(["error", "id"]) == ["id", "error"]
    assert qdict_order(["event", "timestamp", "data"]) == ["timestamp", "event", "data"]
    assert encode_message({"error": {"class": "C", "desc": "d"}, "id": 1}) == (
        b'{"id": 1, "error": {"class": "C", "desc": "d"}}\r\n'
    )


@pytest.mark.parametrize("version", VERSIONS)
def test_recorded_replies_round_trip_in_declaration_order(version: str) -> None:
    """Every recorded answer, re-inserted in QAPI declaration order, prints as QEMU printed it.

    Wire order is not insertion order (keys that share a QDict bucket print
    newest first), so the answers are put back in the order QEMU's output
    visitor inserts them, then encoded.
    """
    schema = get_profile(version).schema
    checked = 0
    for name, raw in queries(version).items():
        if name not in schema.commands:
            continue
        message = json.loads(raw)
        if "error" in message:
            reply = {
                "error": {"class": message["error"]["class"], "desc": message["error"]["desc"]}
            }
        else:
            reply = {"return": schema.order_return(name, message["return"])}
        assert encode_message(reply) == raw.encode(), name
        checked += 1
    assert checked >= 25


def _reference_tdb_hash(key: str) -> int:
    """qobject/qdict.c tdb_hash(), byte by byte as C runs it over QEMU's bytes for the key
    (modified UTF-8: U+0000 is C0 80)."""
    data = key.encode("utf-8").replace(b"\x00", b"\xc0\x80")
    value = (0x238F13AF * len(data)) & 0xFFFFFFFF
    for i, byte in enumerate(data):
        value = (value + (byte << (i * 5 % 24))) & 0xFFFFFFFF
    return (1103515243 * value + 12345) & 0xFFFFFFFF


@pytest.mark.parametrize(
    "key",
    [
        "",
        "a",
        "execute",
        "a\x00b",
        "é" * 13,
        "\U0001f600x" * 30,
        "k" * 4099,
        "".join(map(chr, range(1, 600))),
    ],
)
def test_the_qdict_hash_is_qemus_for_keys_of_any_length(key: str) -> None:
    assert tdb_hash(key) == _reference_tdb_hash(key)


def _nested(depth: int, leaf: object, *, key: str | None = None) -> object:
    value = leaf
    for _ in range(depth):
        value = [value] if key is None else {key: value}
    return value


@pytest.mark.parametrize("depth", [1023, 1024, 100_000])
def test_deep_nesting_prints_without_python_recursion(depth: int) -> None:
    # QEMU echoes an id 1,023 levels deep; the encoder must print any depth it is given.
    assert encode_value(_nested(depth, 1)) == "[" * depth + "1" + "]" * depth  # type: ignore[arg-type]
    deep_dict = _nested(depth, "x", key="a")
    assert encode_value(deep_dict) == '{"a": ' * depth + '"x"' + "}" * depth  # type: ignore[arg-type]


def test_containers_mix_at_depth_with_qemus_key_order_and_separators() -> None:
    inner = {"error": {"class": "C", "desc": "d"}, "id": [1, [], {}, [2.5, None]]}
    value = _nested(600, inner)
    expected = '{"id": [1, [], {}, [2.5, null]], "error": {"class": "C", "desc": "d"}}'
    assert encode_value(value) == "[" * 600 + expected + "]" * 600  # type: ignore[arg-type]


def _reference_escape(char: str) -> str:
    """json-writer.c, one character at a time: simple escapes, printable ASCII, else \\u."""
    simple = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r"}
    simple["\t"] = "\\t"
    if char in simple:
        return simple[char]
    code = ord(char)
    if 0x20 <= code < 0x7F:
        return char
    if 0xD800 <= code <= 0xDFFF or 0xFDD0 <= code <= 0xFDEF or (code & 0xFFFE) == 0xFFFE:
        return "\\uFFFD"  # mod_utf8_codepoint() refuses these
    if code > 0xFFFF:
        code -= 0x10000
        return f"\\u{0xD800 + (code >> 10):04X}\\u{0xDC00 + (code & 0x3FF):04X}"
    return f"\\u{code:04X}"


def test_strings_escape_as_qemu_does_character_by_character() -> None:
    tricky = [*map(chr, range(0x100)), "\ud800", "\udfff", "\ufdd0", "\ufdef", "\ufffe"]
    tricky += ["\uffff", "\U0001fffe", "\U0010ffff", "\U0001f600", "\ue000", "\u2028", "\ufffd"]
    rng = random.Random(9)
    for _ in range(3000):
        text = "".join(rng.choice(tricky) for _ in range(rng.randint(0, 16)))
        assert quote_string(text) == '"' + "".join(map(_reference_escape, text)) + '"'
