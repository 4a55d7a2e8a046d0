"""QEMU's JSON parser (json-parser.c): values, numbers, strings, and its error messages."""

from __future__ import annotations

import math

import pytest

from fakeqemu.protocol.json_lexer import JsonLexer, Token
from fakeqemu.protocol.json_parser import (
    ClassicParser,
    JsonParseError,
    JsonValue,
    PushParser,
)

PARSERS = [ClassicParser, PushParser]


def tokens_of(text: bytes) -> list[Token]:
    lexer = JsonLexer()
    tokens: list[Token] = []
    data = text + b" "  # ends a trailing number or keyword
    pos = 0
    while pos < len(data):
        pos = lexer.scan(data, pos, tokens)
    return tokens


def parse(text: bytes, parser: ClassicParser | PushParser | None = None) -> JsonValue:
    parser = parser or ClassicParser()
    for token in tokens_of(text):
        done, value = parser.feed(token)
        if done:
            return value
    raise AssertionError("value not complete")


def error_of(text: bytes, parser: ClassicParser | PushParser | None = None) -> bytes:
    with pytest.raises(JsonParseError) as caught:
        parse(text, parser)
    return caught.value.message


@pytest.mark.parametrize("parser_class", PARSERS)
def test_values_come_out_as_python_values(parser_class: type[ClassicParser | PushParser]) -> None:
    value = parse(
        b'{"b": [1, 2.5, "x", true, false, null, {}, []], "a": {"c": -1}}', parser_class()
    )
    assert value == {"b": [1, 2.5, "x", True, False, None, {}, []], "a": {"c": -1}}
    assert isinstance(value, dict)
    assert list(value) == ["b", "a"]  # input order
    assert parse(b"[1, true]", parser_class()) == [1, True]
    assert type(parse(b"[true]", parser_class())[0]) is bool  # type: ignore[index]


@pytest.mark.parametrize(
    ("text", "value"),
    [
        (b"0", 0),
        (b"-0", 0),
        (b"9223372036854775807", 2**63 - 1),
        (b"-9223372036854775808", -(2**63)),
        (b"9223372036854775808", 2**63),  # uint64
        (b"18446744073709551615", 2**64 - 1),
        (b"18446744073709551616", 1.8446744073709552e19),  # beyond uint64: double
        (b"-9223372036854775809", -9.223372036854776e18),  # negative: never uint64
        (b"99999999999999999999999", 1e23),
        (b"1" * 5000, math.inf),  # strtod overflows to inf; no digit-count limit
        (b"1.5", 1.5),
        (b"1e400", math.inf),
        (b"-1e400", -math.inf),
        (b"1e-400", 0.0),
        (b"0.80136", 0.80136),
        (b"2E-05", 2e-05),
    ],
)
def test_numbers_are_int64_then_uint64_then_double(text: bytes, value: float) -> None:
    parsed = parse(text)
    assert parsed == value
    assert type(parsed) is type(value)


def test_minus_zero_is_a_double_only_when_written_as_one() -> None:
    assert math.copysign(1.0, parse(b"-0.0")) == -1.0  # type: ignore[arg-type]
    assert parse(b"-0") == 0
    assert type(parse(b"-0")) is int


@pytest.mark.parametrize(
    ("text", "value"),
    [
        (rb'"\" \\ \/ \b \f \n \r \t"', '" \\ / \b \f \n \r \t'),
        (rb"'\' \"'", "' \""),
        (rb'"\'"', "'"),
        (rb'"\u00e9\u00C9"', "éÉ"),
        (rb'"\ud83d\ude00"', "😀"),
        (rb'"\uD83D\uDE00"', "😀"),
        (rb'"\u0000"', "\x00"),
        (b'"a\xc0\x80b"', "a\x00b"),
        (b'"\xc3\xa9\xf0\x9f\x98\x80\x7f"', "é😀\x7f"),
        (rb'"\u12345"', "\u12345"),
        (b'"%d"', "%d"),  # no interpolation on QMP input
        (rb'"\\ud800"', "\\ud800"),
    ],
)
def test_strings_decode_escapes_and_modified_utf8(text: bytes, value: str) -> None:
    assert parse(text) == value


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (rb'"\q"', b"invalid escape sequence in string"),
        (rb'"\x41"', b"invalid escape sequence in string"),
        (b'"\\\xc3\xa9"', b"invalid escape sequence in string"),
        (rb'"\ud800"', rb"\ud800 is not a valid Unicode character"),
        (rb'"\uD800x"', rb"\uD800 is not a valid Unicode character"),
        (rb'"\ud800\u0041"', rb"\ud800 is not a valid Unicode character"),
        (rb'"\udc00"', rb"\udc00 is not a valid Unicode character"),
        (rb'"\uFDD0"', rb"\uFDD0 is not a valid Unicode character"),
        (rb'"\uffff"', rb"\uffff is not a valid Unicode character"),
        (rb'"\ud83f\udffe"', rb"\ud83f\udffe is not a valid Unicode character"),
        # QEMU skips four bytes whatever they are, so the text shown can include the quote.
        (rb'"\u12"', rb'\u12" is not a valid Unicode character'),
        (rb'"\u"', rb'\u" is not a valid Unicode character'),
        (rb'"\u12g4"', rb"\u12g4 is not a valid Unicode character"),
        (b'"\xc3("', b"invalid UTF-8 sequence in string"),
        (b'"\xc1\x81"', b"invalid UTF-8 sequence in string"),
        (b'"\xed\xa0\x80"', b"invalid UTF-8 sequence in string"),
        (b'"\xef\xbf\xbf"', b"invalid UTF-8 sequence in string"),
        (b'"\xf4\x90\x80\x80"', b"invalid UTF-8 sequence in string"),
        (b'"\x80"', b"invalid UTF-8 sequence in string"),
        (b'"\xe2\x82"', b"invalid UTF-8 sequence in string"),
        # The first bad spot from the left decides.
        (b'"\xc3(\\q"', b"invalid UTF-8 sequence in string"),
        (b'"\\q\xc3("', b"invalid escape sequence in string"),
    ],
)
def test_bad_strings_get_qemus_messages(text: bytes, message: bytes) -> None:
    assert error_of(text) == message
    assert error_of(b"[" + text + b"]", PushParser()) == message


@pytest.mark.parametrize("parser_class", PARSERS)
def test_keywords_are_judged_by_the_parser(parser_class: type[ClassicParser | PushParser]) -> None:
    assert error_of(b"nul", parser_class()) == b"invalid keyword 'nul'"
    assert error_of(b"[true, nan]", parser_class()) == b"invalid keyword 'nan'"


def test_long_messages_are_cut_to_qemus_1024_byte_buffer() -> None:
    message = error_of(b"x" * 2000)
    assert len(message) == 1023
    assert message.startswith(b"invalid keyword 'xxx")


@pytest.mark.parametrize(
    ("text", "classic", "push"),
    [
        (b'{"a" 1}', b"missing : in object pair", b"expecting ':'"),
        (b'{"a":1 "b":2}', b"expected separator in dict", b"expected ',' or '}'"),
        (b"[1 2]", b"expected separator in list", b"expected ',' or ']'"),
        (b"[1}", b"expected separator in list", b"expected ',' or ']'"),
        (b'{"a":1]', b"expected separator in dict", b"expected ',' or '}'"),
        (b"{1:2}", b"key is not a string in object", b"expecting key"),
        (b"{{}:2}", b"key is not a string in object", b"expecting key"),
        (b"{true:2}", b"key is not a string in object", b"expecting key"),
        # 7.2 parses any value where a key is due, so its own errors come first there.
        (b'{"a":1,}', b"expecting value", b"expecting key"),
        (b"{:1}", b"expecting value", b"expecting key"),
        (b"{foo:1}", b"invalid keyword 'foo'", b"expecting key"),
        (b'{"\\q":1}', b"invalid escape sequence in string", None),
        (b"[1,]", b"expecting value", b"expecting value"),
        (b"[,1]", b"expecting value", b"expecting value"),
        (b'{"a":}', b"expecting value", b"expecting value"),
        (b"}", b"expecting value", b"expecting value"),
        (b":", b"expecting value", b"expecting value"),
        (b'{"a":1,"a":2}', b"duplicate key", b"duplicate key"),
        (b'{"a":1,"b":{"c":[1,"\\q"]}}', b"invalid escape sequence in string", None),
    ],
)
def test_grammar_errors_match_each_release(text: bytes, classic: bytes, push: bytes | None) -> None:
    assert error_of(text, ClassicParser()) == classic
    assert error_of(text, PushParser()) == (push or classic)


def test_the_push_parser_reports_lexical_errors_as_stray_tokens() -> None:
    assert error_of(b'["a\x00b"]', PushParser()) == b"stray '\"a'"  # %s stops at NUL
    with pytest.raises(JsonParseError) as caught:
        parse(b'{"a": "\xff"}', PushParser())
    assert caught.value.message == b"stray '\"\xff'"
    assert caught.value.token is not None
    assert (caught.value.token.line, caught.value.token.column) == (1, 7)


@pytest.mark.parametrize("parser_class", PARSERS)
def test_a_parser_can_be_reused_after_reset(parser_class: type[ClassicParser | PushParser]) -> None:
    parser = parser_class()
    with pytest.raises(JsonParseError):
        parse(b'{"a": [1, }', parser)
    parser.reset()
    assert parse(b'{"a": [1]}', parser) == {"a": [1]}
    assert parse(b"7", parser) == 7


@pytest.mark.parametrize("parser_class", PARSERS)
def test_deep_nesting_needs_no_recursion(parser_class: type[ClassicParser | PushParser]) -> None:
    depth = 5000  # the streamer limits nesting, not the parser
    value = parse(b"[" * depth + b"]" * depth, parser_class())
    for _ in range(depth - 1):
        assert isinstance(value, list)
        value = value[0]
    assert value == []
