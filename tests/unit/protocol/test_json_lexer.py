"""QEMU's JSON lexer (json-lexer.c) and modified UTF-8 (util/unicode.c)."""

from __future__ import annotations

import pytest

from fakeqemu.protocol import json_lexer
from fakeqemu.protocol.json_lexer import (
    COLON,
    COMMA,
    ERROR,
    FLOAT,
    IN_DQ_STRING,
    INTEGER,
    KEYWORD,
    LCURLY,
    RCURLY,
    RSQUARE,
    STRING,
    JsonLexer,
    Token,
)
from fakeqemu.protocol.qemu_utf8 import decode_mod_utf8, mod_utf8_codepoint, qemu_bytes_to_str


def lex_tokens(*chunks: bytes) -> list[Token]:
    lexer = JsonLexer()
    tokens: list[Token] = []
    for chunk in chunks:
        pos = 0
        while pos < len(chunk):
            pos = lexer.scan(chunk, pos, tokens)
    return tokens


def lex(*chunks: bytes) -> list[tuple[int, bytes]]:
    return [(token.kind, token.text) for token in lex_tokens(*chunks)]


def test_a_command_lexes_into_qemus_tokens() -> None:
    assert lex(b'{"execute": "query-status", "id": 12}') == [
        (LCURLY, b"{"),
        (STRING, b'"execute"'),
        (COLON, b":"),
        (STRING, b'"query-status"'),
        (COMMA, b","),
        (STRING, b'"id"'),
        (COLON, b":"),
        (INTEGER, b"12"),
        (RCURLY, b"}"),
    ]


def test_numbers_and_keywords_end_only_at_the_next_byte() -> None:
    assert lex(b"42") == []
    assert lex(b"42", b" ") == [(INTEGER, b"42")]
    assert lex(b"true") == []
    assert lex(b"true,") == [(KEYWORD, b"true"), (COMMA, b",")]
    assert lex(b"-0.5e+3]") == [(FLOAT, b"-0.5e+3"), (RSQUARE, b"]")]
    assert lex(b"1E5 0.0 -0 ") == [(FLOAT, b"1E5"), (FLOAT, b"0.0"), (INTEGER, b"-0")]


def test_a_string_needs_no_following_byte() -> None:
    assert lex(b'"abc"') == [(STRING, b'"abc"')]
    assert lex(b"'it''s'") == [(STRING, b"'it'"), (STRING, b"'s'")]


def test_single_quoted_strings_and_escapes_are_taken_verbatim() -> None:
    # Escapes are only recognised as "backslash plus any printable byte"; the parser
    # decides later whether the escape means anything.
    assert lex(b"'a\"b\\'c'") == [(STRING, b"'a\"b\\'c'")]
    assert lex(b'"\\q\\u12"') == [(STRING, b'"\\q\\u12"')]
    assert lex(b'"\xc3\xa9\x7f\xfd"') == [(STRING, b'"\xc3\xa9\x7f\xfd"')]


@pytest.mark.parametrize(
    ("text", "stray"),
    [
        (b"01", b"01"),  # no leading zeros: the second digit is the error
        (b"-x", b"-x"),
        (b"1.x", b"1.x"),
        (b"1ex", b"1ex"),
        (b"1e+x", b"1e+x"),
        (b"+1", b"+"),
        (b"Foo", b"F"),  # keywords are lower case only
        (b"%d", b"%"),  # no interpolation on QMP input
        (b'"a\tb"', b'"a\t'),  # control characters end a string in error
        (b'"a\nb"', b'"a\n'),
        (b'"a\x00b"', b'"a\x00'),
        (b'"a\xffb"', b'"a\xff'),
        (b'"a\xfeb"', b'"a\xfe'),
        (b"\x80", b"\x80"),  # non-ASCII bytes only inside strings
    ],
)
def test_a_lexical_error_token_holds_the_bytes_up_to_the_bad_one(text: bytes, stray: bytes) -> None:
    assert lex(text)[0] == (ERROR, stray)


def test_recovery_skips_to_a_structural_character() -> None:
    assert lex(b"Foo bar, 1 ") == [(ERROR, b"F"), (COMMA, b","), (INTEGER, b"1")]
    assert lex(b"F\"{'x]'") == [(ERROR, b"F"), (LCURLY, b"{"), (STRING, b"'x]'")]


def test_recovery_ends_at_control_characters_and_impossible_bytes_but_not_tab() -> None:
    assert lex(b"F\too\nnull ") == [(ERROR, b"F"), (KEYWORD, b"null")]
    assert lex(b"F\rnull ") == [(ERROR, b"F"), (KEYWORD, b"null")]
    # The resynchronising byte is then lexed afresh, and is an error itself.
    assert lex(b"F\x01x ") == [(ERROR, b"F"), (ERROR, b"\x01")]
    assert lex(b"F\xff\nx ") == [(ERROR, b"F"), (ERROR, b"\xff"), (KEYWORD, b"x")]
    assert lex(b"F\xfdx ") == [(ERROR, b"F")]


def test_feeding_one_byte_at_a_time_gives_the_same_tokens() -> None:
    text = b'{\'a\':[1,-2.5e3,"\\u00e9\\"",true,null]}\n Foo\t\x01 0x  "\xff" 7 '
    whole = lex_tokens(text)
    assert lex_tokens(*(text[i : i + 1] for i in range(len(text)))) == whole
    assert [token.text for token in whole if token.kind == ERROR] == [b"F", b"\x01", b"\xff"]


def test_an_oversized_token_is_cut_off_and_lexing_starts_afresh(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(json_lexer, "MAX_TOKEN_SIZE", 8)
    # Like QEMU, the cut-off token carries its lexer state as its kind.
    assert lex(b'"abcdefghijk" ') == [
        (IN_DQ_STRING, b'"abcdefgh'),
        (KEYWORD, b"ijk"),
    ]
    assert lex(b'"abcdefg"') == [(STRING, b'"abcdefg"')]  # 9 bytes: never 9 while unfinished
    byte_by_byte = [bytes([b]) for b in b'"abcdefghijk" ']
    assert lex(*byte_by_byte) == lex(b'"abcdefghijk" ')


def test_the_lexer_buffer_stays_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(json_lexer, "MAX_TOKEN_SIZE", 100)
    lexer = JsonLexer()
    tokens: list[Token] = []
    for chunk in (b'"' + b"a" * 10_000, b"b" * 10_000, b"7" * 10_000, b"\xfe" + b"z" * 10_000):
        pos = 0
        while pos < len(chunk):
            pos = lexer.scan(chunk, pos, tokens)
            assert lexer.buffered_bytes <= 101
    assert max(len(token.text) for token in tokens) == 101


def locations(text: bytes) -> list[tuple[bytes, int, int]]:
    return [(token.text, token.line, token.column) for token in lex_tokens(text)]


def test_token_locations_are_one_based_line_and_column() -> None:
    assert locations(b'{"a":\n  "b"}') == [
        (b"{", 1, 1),
        (b'"a"', 1, 2),
        (b":", 1, 5),
        (b'"b"', 2, 3),
        (b"}", 2, 6),
    ]


def test_a_token_starting_on_a_lookahead_byte_is_one_column_further() -> None:
    # QEMU 11.1 takes the token start from the cursor when the lexer returns to its start
    # state; after a number, keyword or error recovery that happens on the next token's
    # own first byte.  The recorded bad_utf8 probe shows it ("2:35", "2:37").
    assert locations(b"[1,2x]") == [
        (b"[", 1, 1),
        (b"1", 1, 2),
        (b",", 1, 4),
        (b"2", 1, 4),
        (b"x", 1, 6),
        (b"]", 1, 7),
    ]
    assert locations(b'"\xff\xfe"}') == [(b'"\xff', 1, 1), (b"\xfe", 1, 4), (b"}", 1, 6)]


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        (b"plain", "plain"),
        (b"\xc3\xa9\xf0\x9f\x98\x80", "é😀"),
        (b"a\xc0\x80b", "a\x00b"),  # modified UTF-8's U+0000
        (b"ab\x00cd", "ab"),  # a C string ends at NUL
        (b"\xff", "\ufffd"),
        (b'"\xff', '"\ufffd'),
        (b"\xff\xfe", "\ufffd\ufffd"),
        (b"\x80x", "\ufffdx"),  # stray continuation byte
        (b"\xe2\x82x", "\ufffdx"),  # truncated: one U+FFFD for the lead and its tail
        (b"\xe0\x80\x80", "\ufffd"),  # overlong
        (b"\xc1\x81", "\ufffd"),
        (b"\xed\xa0\x80", "\ufffd"),  # surrogate
        (b"\xf4\x90\x80\x80", "\ufffd"),  # beyond U+10FFFF
        (b"\xf8\x88\x80\x80\x80", "\ufffd"),  # five-byte form
        (b"\xef\xbf\xbe", "\ufffd"),  # noncharacter U+FFFE
        (b"\xef\xb7\x90", "\ufffd"),  # noncharacter U+FDD0
        (b"\xf0\x9f\xbf\xbf", "\ufffd"),  # noncharacter U+1FFFF
        (b"\xef\xbf\xbd", "\ufffd"),  # U+FFFD itself is fine
    ],
)
def test_raw_bytes_print_as_qemus_json_writer_would(raw: bytes, text: str) -> None:
    assert qemu_bytes_to_str(raw) == text


def test_mod_utf8_codepoint_reports_where_a_bad_sequence_ends() -> None:
    assert mod_utf8_codepoint(b"\xe2\x82x", 0) == (-1, 2)
    assert mod_utf8_codepoint(b"\xc0\x80", 0) == (0, 2)
    assert mod_utf8_codepoint(b"\xe2\x82\xac", 0) == (0x20AC, 3)
    assert mod_utf8_codepoint(b"", 0) == (-1, 0)


@pytest.mark.parametrize(
    "raw",
    [b"\xc0\x80\x80", b"\xe0\xc0\x80", b"\xc0\xc0\x80", b"\xc0", b"\xf0\x9f\x98", b"\xee\x80"],
)
def test_the_fast_decoder_agrees_with_qemus_byte_loop_on_bad_input(raw: bytes) -> None:
    assert decode_mod_utf8(raw) is None
    assert "\ufffd" in qemu_bytes_to_str(raw)
