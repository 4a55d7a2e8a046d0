"""Argument matchers for ``fakeqemu replay``: their syntax, their errors, and what they accept."""

from __future__ import annotations

import json
from typing import Any

import pytest

from fakeqemu.protocol.cassette_matchers import Matcher, MatcherError, compare, compare_requests

MIGRATE = {"execute": "migrate", "arguments": {"uri": "tcp:127.0.0.1:4444"}}


def _compare(recorded: Any, got: Any, *specs: str) -> str | None:
    return compare(recorded, got, [Matcher.parse(spec) for spec in specs])


@pytest.mark.parametrize(
    "spec",
    [
        "arguments.uri",
        "migrate:arguments.uri",
        r"arguments.uri=~^tcp:127\.0\.0\.1:\d+$",
        "migrate-set-capabilities:arguments.capabilities.0.state=~true",
        "x=~a=~b",  # only the first =~ splits: the regex is a=~b
    ],
)
def test_a_matcher_reads_back_as_written(spec: str) -> None:
    assert str(Matcher.parse(spec)) == spec


def test_the_parts_of_a_matcher() -> None:
    matcher = Matcher.parse(r"migrate:arguments.uri=~^tcp:")
    assert matcher.command == "migrate"
    assert matcher.path == ("arguments", "uri")
    assert matcher.pattern is not None
    assert matcher.pattern.pattern == "^tcp:"
    assert Matcher.parse("arguments.uri") == Matcher(("arguments", "uri"))


@pytest.mark.parametrize(
    ("spec", "error"),
    [
        ("", "PATH must be dotted member names"),
        ("arguments.", "PATH must be dotted member names"),
        (":arguments.uri", "empty command name"),
        ("a:b:c", "one ':' at most"),
        ("mig rate:arguments.uri", "a command name has no spaces"),
        ("id", "ids are not matched by key"),
        ("arguments.uri=~[", "bad regular expression: unterminated character set"),
    ],
)
def test_a_bad_matcher_says_what_is_wrong(spec: str, error: str) -> None:
    with pytest.raises(MatcherError) as raised:
        Matcher.parse(spec)
    assert str(raised.value).startswith(f"matcher {spec!r}: ")
    assert error in str(raised.value)


def test_ignore_and_regex_take_only_their_own_form() -> None:
    with pytest.raises(MatcherError, match="an ignore takes"):
        Matcher.ignore("arguments.uri=~x")
    with pytest.raises(MatcherError, match=r"expected \[COMMAND:\]PATH=~REGEX"):
        Matcher.regex("arguments.uri")
    assert Matcher.ignore("a.b") == Matcher.parse("a.b")
    assert Matcher.regex("a.b=~c") == Matcher.parse("a.b=~c")


def test_without_matchers_values_count_and_member_order_does_not() -> None:
    reordered = {"arguments": {"uri": "tcp:127.0.0.1:4444"}, "execute": "migrate"}
    assert compare(MIGRATE, reordered) is None
    assert compare(MIGRATE, json.loads(json.dumps(MIGRATE))) is None
    assert compare({"a": 1}, {"a": 1.0}) == ""
    assert compare({"a": 1}, {"a": True}) == ""


def test_an_ignored_key_may_differ_or_be_absent() -> None:
    other = {"execute": "migrate", "arguments": {"uri": "unix:/x"}}
    assert _compare(MIGRATE, other) == ""
    assert _compare(MIGRATE, other, "arguments.uri") is None
    assert _compare(MIGRATE, {"execute": "migrate", "arguments": {}}, "arguments.uri") is None
    assert _compare(MIGRATE, other, "migrate:arguments.uri") is None
    assert _compare(MIGRATE, other, "migrate-incoming:arguments.uri") == ""


def test_a_regex_is_searched_in_the_clients_value() -> None:
    moved = {"execute": "migrate", "arguments": {"uri": "tcp:127.0.0.1:5555"}}
    assert _compare(MIGRATE, moved, r"arguments.uri=~^tcp:127\.0\.0\.1:\d+$") is None
    assert _compare(MIGRATE, moved, r"arguments.uri=~:\d+$") is None
    refused = _compare(MIGRATE, moved, r"arguments.uri=~^tcp:10\.")
    assert refused == r'arguments.uri "tcp:127.0.0.1:5555" does not match ^tcp:10\.'
    missing = _compare(MIGRATE, {"execute": "migrate", "arguments": {}}, "arguments.uri=~.")
    assert missing == "arguments.uri is missing (matcher arguments.uri=~.)"


def test_a_regex_applies_where_the_recording_has_the_key() -> None:
    # qmp_capabilities has no uri: the matcher leaves it alone, both ways.
    caps = {"execute": "qmp_capabilities"}
    assert _compare(caps, caps, "arguments.uri=~^tcp:") is None
    with_uri = {"execute": "qmp_capabilities", "arguments": {"uri": "tcp:1"}}
    assert _compare(caps, with_uri, "arguments.uri=~^tcp:") == ""


def test_list_elements_and_values_that_are_not_strings() -> None:
    recorded = {"execute": "x", "arguments": {"list": [{"port": 1}, {"port": 2}], "n": 5}}
    got = {"execute": "x", "arguments": {"list": [{"port": 1}, {"port": 3}], "n": 55}}
    assert _compare(recorded, got, "arguments.list.1.port", "arguments.n=~^\\d+$") is None
    assert _compare(recorded, got, "arguments.list.1", "arguments.n=~^\\d$") == (
        "arguments.n 55 does not match ^\\d$"
    )
    assert _compare(recorded, got, "arguments.list.0.port", "arguments.n") == ""


def test_requests_on_the_wire() -> None:
    recorded = json.dumps({**MIGRATE, "id": 1}).encode()
    assert compare_requests(recorded, b'{"execute": "migrate", "id": 9}') == ""
    got = b'{"id": 9, "execute": "migrate", "arguments": {"uri": "tcp:127.0.0.1:1"}}'
    assert compare_requests(recorded, got, ignore_ids=True) == ""
    matchers = [Matcher.parse("arguments.uri")]
    assert compare_requests(recorded, got, ignore_ids=True, matchers=matchers) is None
    assert compare_requests(recorded, got, matchers=matchers) == ""  # the ids differ
    no_id = b'{"execute": "migrate", "arguments": {"uri": "x"}}'
    assert compare_requests(recorded, no_id, ignore_ids=True, matchers=matchers) == ""
    assert compare_requests(b"{bad", b" {bad ") is None
    assert compare_requests(b"{bad", b"{worse") == ""
