"""QEMU's JSON lexer (qobject/json-lexer.c), ported state for state.

Bytes go in, tokens come out.  The transition table is QEMU's, including its extensions
(single-quoted strings, the \\' escape, keywords lexed as [a-z]+ and judged by the parser)
and its error recovery: after a lexical error it skips input up to a structural character,
an ASCII control character other than tab, or one of the impossible bytes 0xFE/0xFF.
Interpolation (%d etc.) is off, as it is for QMP input.

Speed: QEMU feeds one byte at a time.  Here runs of bytes that cannot change the state
(string contents, digits, letters, whitespace, skipped garbage) are consumed with one
regular-expression match each; the per-byte step handles everything else.
"""

from __future__ import annotations

import re
from typing import Final, NamedTuple

MAX_TOKEN_SIZE = 64 << 20
"""A token longer than this is cut off and handed over as is (json-lexer.c)."""

# Token kinds, numbered as in qobject/json-parser-int.h.  ERROR doubles as the lexer's
# error state, which is why the table's default entry (0) means "lexical error".
ERROR: Final = 0
LCURLY: Final = 100
RCURLY: Final = 101
LSQUARE: Final = 102
RSQUARE: Final = 103
COLON: Final = 104
COMMA: Final = 105
INTEGER: Final = 106
FLOAT: Final = 107
KEYWORD: Final = 108
STRING: Final = 109
_FIRST_TOKEN_KIND: Final = LCURLY

# Lexer states (json-lexer.c; IN_INTERP and IN_START_INTERP are left out).  A token cut
# off at MAX_TOKEN_SIZE is reported with the state it was in as its kind, as QEMU does.
IN_RECOVERY: Final = 1
IN_DQ_STRING_ESCAPE: Final = 2
IN_DQ_STRING: Final = 3
IN_SQ_STRING_ESCAPE: Final = 4
IN_SQ_STRING: Final = 5
IN_ZERO: Final = 6
IN_EXP_DIGITS: Final = 7
IN_EXP_SIGN: Final = 8
IN_EXP_E: Final = 9
IN_MANTISSA: Final = 10
IN_MANTISSA_DIGITS: Final = 11
IN_DIGITS: Final = 12
IN_SIGN: Final = 13
IN_KEYWORD: Final = 14
IN_START: Final = 16

# Set on a transition that must not consume the byte: the byte ends the current token
# and is then looked at again from the next state.
_LOOKAHEAD: Final = 0x80


class Token(NamedTuple):
    """One lexed token, with where QEMU 11.1 says it starts (for "LINE:COL: " errors)."""

    kind: int
    text: bytes
    column: int
    line: int


def _build_transitions() -> tuple[bytes, ...]:
    rows = [bytearray(256) for _ in range(IN_START + 1)]  # zero-filled: lexical error

    def put(state: int, chars: bytes | range, target: int) -> None:
        for char in chars:
            rows[state][char] = target

    def terminal(state: int, kind: int) -> None:
        put(state, range(256), kind | _LOOKAHEAD)

    digits = b"0123456789"
    resync = IN_START | _LOOKAHEAD
    put(IN_RECOVERY, range(0x20), resync)
    put(IN_RECOVERY, range(0x20, 0xFE), IN_RECOVERY)
    put(IN_RECOVERY, b"\xfe\xff[]{}:,", resync)
    put(IN_RECOVERY, b"\t", IN_RECOVERY)
    for escape, string, quote in (
        (IN_DQ_STRING_ESCAPE, IN_DQ_STRING, b'"'),
        (IN_SQ_STRING_ESCAPE, IN_SQ_STRING, b"'"),
    ):
        put(escape, range(0x20, 0xFE), string)
        put(string, range(0x20, 0xFE), string)
        put(string, b"\\", escape)
        put(string, quote, STRING)
    letters = bytes(range(ord("a"), ord("z") + 1))
    # json-lexer.c's initialisers, state by state: a terminal kind (the token ends on
    # any other byte, which is looked at again) and the bytes that move elsewhere.
    table: tuple[tuple[int, int | None, tuple[tuple[bytes, int], ...]], ...] = (
        (IN_ZERO, INTEGER, ((digits, ERROR), (b".", IN_MANTISSA))),
        (IN_EXP_DIGITS, FLOAT, ((digits, IN_EXP_DIGITS),)),
        (IN_EXP_SIGN, None, ((digits, IN_EXP_DIGITS),)),
        (IN_EXP_E, None, ((b"-+", IN_EXP_SIGN), (digits, IN_EXP_DIGITS))),
        (IN_MANTISSA_DIGITS, FLOAT, ((digits, IN_MANTISSA_DIGITS), (b"eE", IN_EXP_E))),
        (IN_MANTISSA, None, ((digits, IN_MANTISSA_DIGITS),)),
        (IN_DIGITS, INTEGER, ((digits, IN_DIGITS), (b"eE", IN_EXP_E), (b".", IN_MANTISSA))),
        (IN_SIGN, None, ((b"0", IN_ZERO), (b"123456789", IN_DIGITS))),
        (IN_KEYWORD, KEYWORD, ((letters, IN_KEYWORD),)),
        (
            IN_START,
            None,
            (
                (b'"', IN_DQ_STRING),
                (b"'", IN_SQ_STRING),
                (b"0", IN_ZERO),
                (b"123456789", IN_DIGITS),
                (b"-", IN_SIGN),
            ),
        ),
    )
    for state, kind, moves in table:
        if kind is not None:
            terminal(state, kind)
        for chars, target in moves:
            put(state, chars, target)
    for char, kind in zip(b"{}[],:", (LCURLY, RCURLY, LSQUARE, RSQUARE, COMMA, COLON), strict=True):
        rows[IN_START][char] = kind
    put(IN_START, letters, IN_KEYWORD)
    put(IN_START, b" \t\r\n", IN_START)
    return tuple(bytes(row) for row in rows)


_TRANSITIONS: Final = _build_transitions()

# Per state, the bytes that leave it unchanged (see the module docstring).  Each pattern
# must match exactly the bytes whose table entry is the state itself.
_SELF_LOOP_RUNS: Final[dict[int, re.Pattern[bytes]]] = {
    IN_DQ_STRING: re.compile(rb'[^"\\\x00-\x1f\xfe\xff]+'),
    IN_SQ_STRING: re.compile(rb"[^'\\\x00-\x1f\xfe\xff]+"),
    IN_DIGITS: re.compile(rb"[0-9]+"),
    IN_MANTISSA_DIGITS: re.compile(rb"[0-9]+"),
    IN_EXP_DIGITS: re.compile(rb"[0-9]+"),
    IN_KEYWORD: re.compile(rb"[a-z]+"),
}
# Tokens that need no lookahead, complete: structural characters and strings.
_WHOLE_TOKEN: Final = re.compile(
    rb'[{}\[\],:]|"[^"\\\x00-\x1f\xfe\xff]*"|\'[^\'\\\x00-\x1f\xfe\xff]*\''
)
_SINGLE_BYTE_TOKENS: Final = {
    b"{": LCURLY,
    b"}": RCURLY,
    b"[": LSQUARE,
    b"]": RSQUARE,
    b",": COMMA,
    b":": COLON,
}
_RECOVERY_RUN: Final = re.compile(rb"[^\x00-\x08\x0a-\x1f\xfe\xff\[\]{}:,]+")
_WHITESPACE_RUN: Final = re.compile(rb"[ \t\r\n]+")


class JsonLexer:
    """json-lexer.c's JSONLexer, including QEMU 11.1's token locations.

    Locations follow QEMU 11.1 ("json-parser: add location to JSON parsing errors").  The
    cursor (`_cursor_line`, `_cursor_column`, 1-based) is where the byte after the last
    one seen would be; the token location is copied from it whenever the lexer gets back
    to its start state.  Usually that happens on the byte before a token, so the token
    gets the location of its first byte.  But a number, a keyword or error recovery ends
    only on the byte after it (lookahead), and that byte is then looked at again as the
    start of the next token, which therefore gets a column one too far.  QEMU 7.2 and
    10.0 print no locations.
    """

    def __init__(self) -> None:
        self._state = IN_START
        self._token = bytearray()
        self._cursor_column = 1
        self._cursor_line = 1
        self._token_column = 1
        self._token_line = 1

    @property
    def at_token_boundary(self) -> bool:
        """True when no token is half-read and no error recovery is going on."""
        return self._state == IN_START

    @property
    def buffered_bytes(self) -> int:
        """Size of the token being read (bounded by MAX_TOKEN_SIZE + 1)."""
        return len(self._token)

    def scan(self, data: bytes, pos: int, tokens: list[Token]) -> int:
        """Lex data[pos:] until at least one token was appended to `tokens`.

        Returns the position of the first byte not yet consumed (len(data) if all were).
        """
        size = len(data)
        already_lexed = len(tokens)
        while pos < size:
            state = self._state
            run = _SELF_LOOP_RUNS.get(state)
            if run is not None:
                room = MAX_TOKEN_SIZE + 1 - len(self._token)
                match = run.match(data, pos, min(size, pos + room))
                if match is not None:
                    end = match.end()
                    self._token += data[pos:end]
                    self._cursor_column += end - pos
                    pos = end
                    if self._cut_oversized_token(tokens):
                        return pos
                    continue
            elif state == IN_START:
                match = _WHITESPACE_RUN.match(data, pos)
                if match is not None:
                    pos = self.skip_parsed(data, pos, match.end())
                    continue
                match = _WHOLE_TOKEN.match(data, pos)
                # A string is cut once its unfinished part exceeds the limit, so only
                # strings below that can be taken in one go.
                if match is not None and match.end() - pos <= MAX_TOKEN_SIZE + 1:
                    return self._emit_whole_token(data, pos, match.end(), tokens)
            elif state == IN_RECOVERY:
                match = _RECOVERY_RUN.match(data, pos)
                if match is not None:
                    self._cursor_column += match.end() - pos
                    pos = match.end()
                    continue
            self._feed_byte(data[pos], tokens)
            pos += 1
            if len(tokens) > already_lexed:
                return pos
        return pos

    def _emit_whole_token(self, data: bytes, start: int, end: int, tokens: list[Token]) -> int:
        """What _feed_byte() does for a token that starts and ends on consumed bytes."""
        text = data[start:end]
        kind = _SINGLE_BYTE_TOKENS.get(text, STRING)
        tokens.append(Token(kind, text, self._token_column, self._token_line))
        self._cursor_column += end - start
        self._token_column = self._cursor_column
        self._token_line = self._cursor_line
        return end

    def skip_whitespace(self, data: bytes, pos: int) -> int:
        """Consume whitespace at data[pos] (only valid at a token boundary)."""
        match = _WHITESPACE_RUN.match(data, pos)
        return pos if match is None else self.skip_parsed(data, pos, match.end())

    def skip_parsed(self, data: bytes, start: int, end: int) -> int:
        """Account for data[start:end] lexed elsewhere, ending back in the start state.

        The bytes must be whitespace, or complete tokens whose last byte was consumed
        (the JSON fast path hands over whole messages).  Returns `end`.
        """
        newline = data.rfind(b"\n", start, end)
        if newline < 0:
            self._cursor_column += end - start
        else:
            self._cursor_line += data.count(b"\n", start, end)
            self._cursor_column = end - newline
        self._token_column = self._cursor_column
        self._token_line = self._cursor_line
        return end

    def _feed_byte(self, byte: int, tokens: list[Token]) -> None:
        """json_lexer_feed_char(), one byte, with the same switch and fallthroughs."""
        self._cursor_column += 1
        if byte == 0x0A:
            self._cursor_column = 1
            self._cursor_line += 1
        consumed = False
        while not consumed:
            entry = _TRANSITIONS[self._state][byte]
            consumed = not entry & _LOOKAHEAD
            new_state = entry & ~_LOOKAHEAD
            if consumed:
                self._token.append(byte)
            if new_state >= _FIRST_TOKEN_KIND:
                tokens.append(self._take_token(new_state))
                new_state = IN_START
            if new_state == IN_START:
                self._token.clear()
                self._token_column = self._cursor_column
                self._token_line = self._cursor_line
            elif new_state == ERROR:
                tokens.append(self._take_token(ERROR))
                new_state = IN_RECOVERY
            elif new_state == IN_RECOVERY:
                self._token.clear()
            self._state = new_state
        self._cut_oversized_token(tokens)

    def _cut_oversized_token(self, tokens: list[Token]) -> bool:
        # QEMU hands the partial token over with its lexer state as the kind and starts
        # afresh with the next byte, without moving the token location.
        if len(self._token) <= MAX_TOKEN_SIZE:
            return False
        tokens.append(self._take_token(self._state))
        self._state = IN_START
        return True

    def _take_token(self, kind: int) -> Token:
        token = Token(kind, bytes(self._token), self._token_column, self._token_line)
        self._token.clear()
        return token
