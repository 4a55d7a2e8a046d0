"""QEMU's JSON output: key order, %.17g, escaping, line ends."""

from __future__ import annotations

import json

import pytest

from fakeqemu.profiles import get_profile
from fakeqemu.protocol.encoder import encode_message, encode_value, qdict_order, quote_string
from tests.recordings import VERSIONS, queries


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
