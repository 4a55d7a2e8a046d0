"""QEMU's JSON streamer (qobject/json-streamer.c): bytes in, messages and errors out.

A message ends as soon as its braces and brackets balance (no newline needed); a
top-level scalar ends with its token, which for numbers and keywords means with the byte
after it.  Limits per message: MAX_TOKEN_SIZE bytes of tokens, MAX_TOKEN_COUNT tokens,
MAX_NESTING levels of nesting.

Dialects: QEMU 7.2 and 10.0 queue a message's tokens until brackets balance, then parse;
any error throws the queue away and lexing carries on, so the rest of an over-deep message
is parsed as further messages (one error each).  QEMU 11.1 parses each token as it arrives,
reports the first error at once, prefixes parse errors with "LINE:COL: ", and after an
error swallows tokens until brackets balance again.

Fast path: a message that starts at a token boundary is first tried with the stdlib JSON
decoder (C speed).  Its result is kept only when QEMU would certainly have produced the
same value (ASCII input, no \\u escape that QEMU could reject, no duplicate key, no
NaN/Infinity, size and nesting below the limits); anything else goes through the exact
lexer, streamer and parser ported from QEMU.  On ASCII input the stdlib grammar is a
subset of QEMU's, so a failed attempt never reads further than the exact path will before
the next attempt, which keeps the cost of failed attempts linear.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Final, NoReturn

from fakeqemu.protocol import json_lexer
from fakeqemu.protocol.json_lexer import (
    ERROR,
    LCURLY,
    LSQUARE,
    RCURLY,
    RSQUARE,
    JsonLexer,
    Token,
)
from fakeqemu.protocol.json_parser import (
    ClassicParser,
    JsonParseError,
    JsonValue,
    PushParser,
    c_string,
    integer_value,
)
from fakeqemu.protocol.qemu_utf8 import qemu_bytes_to_str

__all__ = [
    "MAX_NESTING",
    "MAX_TOKEN_COUNT",
    "MAX_TOKEN_SIZE",
    "QEMU_7_2",
    "QEMU_10_0",
    "QEMU_11_1",
    "JsonDialect",
    "JsonError",
    "JsonMessage",
    "JsonStream",
    "JsonValue",
    "parse_json",
]

MAX_TOKEN_SIZE = 64 << 20
"""Bytes of tokens one message may have (json-streamer.c)."""
MAX_TOKEN_COUNT = 2 << 20
MAX_NESTING = 1 << 10


@dataclass(frozen=True, slots=True)
class JsonDialect:
    """How one QEMU release reads JSON.

    error_locations: parse errors start with "LINE:COL: " (QEMU 11.1).
    skip_rest_after_limit_error: QEMU 11.1's streamer and push parser.  After any error
    (a limit or a parse error) it skips to the end of the unbalanced message, so an
    over-deep message gives one error where 7.2/10.0 give one per leftover bracket; its
    parser also words some errors differently and reports them without waiting for the
    message to end.
    """

    error_locations: bool
    skip_rest_after_limit_error: bool


QEMU_7_2: Final = JsonDialect(error_locations=False, skip_rest_after_limit_error=False)
QEMU_10_0: Final = QEMU_7_2
QEMU_11_1: Final = JsonDialect(error_locations=True, skip_rest_after_limit_error=True)


@dataclass(frozen=True, slots=True)
class JsonMessage:
    """One complete JSON value from the client (wrapped, so that null is unambiguous)."""

    value: JsonValue


@dataclass(frozen=True, slots=True)
class JsonError:
    """A JSON-level error; `desc` is the complete text of the error reply's "desc"."""

    desc: str


_SIZE_LIMIT_ERROR: Final = JsonError("JSON token size limit exceeded")
_COUNT_LIMIT_ERROR: Final = JsonError("JSON token count limit exceeded")
_NESTING_LIMIT_ERROR: Final = JsonError("JSON nesting depth limit exceeded")


class JsonStream:
    """One connection's JSON input: feed() bytes as they arrive, get messages and errors."""

    def __init__(self, dialect: JsonDialect) -> None:
        self._dialect = dialect
        self._lexer = JsonLexer()
        self._brace_count = 0
        self._bracket_count = 0
        self._token_count = 0
        self._token_size = 0
        self._results: list[JsonMessage | JsonError] = []
        # QEMU 7.2/10.0 parse only once brackets balance and keep only the first parse
        # error; parsing as tokens arrive and holding the error back gives the same answer.
        self._held_parse_error: JsonParseError | None = None
        self._classic_parser = ClassicParser()
        # QEMU 11.1: an error was reported and the rest of the message is being skipped.
        self._skipping_rest = False
        self._push_parser = PushParser()
        if dialect.skip_rest_after_limit_error:
            self._process_token = self._process_token_pushing
        else:
            self._process_token = self._process_token_queueing

    @property
    def buffered_bytes(self) -> int:
        """Input bytes held for the message in progress (the limits bound this).

        Tokens that QEMU 11.1 skips after an error are counted towards the limits but
        not held, so they do not count here.
        """
        held = 0 if self._skipping_rest else self._token_size
        return self._lexer.buffered_bytes + held

    def feed(self, data: bytes) -> list[JsonMessage | JsonError]:
        """Consume `data`; return the messages and errors it completes, in order."""
        results: list[JsonMessage | JsonError] = []
        self._results = results
        lexer = self._lexer
        tokens: list[Token] = []
        ascii_end = 0  # data[pos:ascii_end] is ASCII; recomputed once pos passes it
        pos = 0
        size = len(data)
        while pos < size:
            if self._token_count == 0 and lexer.at_token_boundary:
                pos = lexer.skip_whitespace(data, pos)
                if pos < size and data[pos] in _CONTAINER_OPENERS:
                    if ascii_end <= pos:
                        non_ascii = _NON_ASCII.search(data, pos)
                        ascii_end = size if non_ascii is None else non_ascii.start()
                    end = self._take_fast_path(data, pos, ascii_end)
                    if end > pos:
                        pos = end
                        continue
                if pos == size:
                    break
            pos = lexer.scan(data, pos, tokens)
            for token in tokens:
                self._process_token(token)
            tokens.clear()
        return results

    def _take_fast_path(self, data: bytes, pos: int, ascii_end: int) -> int:
        """Decode one whole message at data[pos] if that is safe; return where it ends."""
        limit = min(ascii_end, pos + _FAST_PATH_MAX_BYTES)
        window = _FAST_PATH_FIRST_WINDOW
        while True:
            # A window, not all of `data`: a failing decode costs time proportional to
            # the text it is given (JSONDecodeError counts the lines before the error).
            stop = min(limit, pos + window)
            text = data[pos:stop].decode("ascii")
            try:
                value, length = _FAST_DECODER.raw_decode(text)
                break
            except json.JSONDecodeError as error:
                cut_short = error.pos + _TRUNCATION_MARGIN >= len(text) or error.msg.startswith(
                    "Unterminated string"
                )
                if stop == limit or not cut_short:
                    return pos
                window *= 4
            except (ValueError, RecursionError):
                return pos
        end = pos + length
        if (
            length + 1 > MAX_TOKEN_SIZE
            or length > json_lexer.MAX_TOKEN_SIZE
            or length > MAX_TOKEN_COUNT
            or data.count(b"{", pos, end) + data.count(b"[", pos, end) > MAX_NESTING
            or _DOUBTFUL_ESCAPE.search(data, pos, end) is not None
        ):
            return pos
        self._results.append(JsonMessage(value))
        return self._lexer.skip_parsed(data, pos, end)

    def _process_token_queueing(self, token: Token) -> None:
        """json_message_process_token() of QEMU 7.2 / 10.0."""
        kind = token.kind
        if kind == LCURLY:
            self._brace_count += 1
        elif kind == RCURLY:
            self._brace_count -= 1
        elif kind == LSQUARE:
            self._bracket_count += 1
        elif kind == RSQUARE:
            self._bracket_count -= 1
        elif kind == ERROR:
            stray = b"JSON parse error, stray '%s'" % c_string(token.text)
            self._end_message(JsonError(self._located(token, stray)))
            return
        if self._token_size + len(token.text) + 1 > MAX_TOKEN_SIZE:
            self._end_message(_SIZE_LIMIT_ERROR)
            return
        if self._token_count + 1 > MAX_TOKEN_COUNT:
            self._end_message(_COUNT_LIMIT_ERROR)
            return
        if self._brace_count + self._bracket_count > MAX_NESTING:
            self._end_message(_NESTING_LIMIT_ERROR)
            return
        self._token_count += 1
        self._token_size += len(token.text)
        finished = False
        value: JsonValue = None
        if self._held_parse_error is None:
            try:
                finished, value = self._classic_parser.feed(token)
            except JsonParseError as error:
                self._held_parse_error = error
        braces = self._brace_count
        brackets = self._bracket_count
        if (braces > 0 or brackets > 0) and braces >= 0 and brackets >= 0:
            return
        if self._held_parse_error is not None:
            self._end_message(self._parse_error(self._held_parse_error))
        elif finished:
            self._end_message(JsonMessage(value))
        else:  # cannot happen: balanced tokens either form a value or hold an error
            self._end_message(self._parse_error(JsonParseError(None, b"premature EOI")))

    def _end_message(self, result: JsonMessage | JsonError) -> None:
        self._results.append(result)
        self._brace_count = self._bracket_count = 0
        self._token_count = self._token_size = 0
        self._held_parse_error = None
        self._classic_parser.reset()

    def _process_token_pushing(self, token: Token) -> None:
        """json_message_process_token() of QEMU 11.1."""
        kind = token.kind
        self._token_size += len(token.text)
        self._token_count += 1
        # Brackets are counted even while skipping, to find where the bad message ends.
        # A closing bracket with nothing open, or a lexical error, ends the skipping at
        # once; when not skipping, the parser then reports it.
        if kind == LCURLY:
            self._brace_count += 1
        elif kind == LSQUARE:
            self._bracket_count += 1
        elif kind == RCURLY and self._brace_count > 0:
            self._brace_count -= 1
        elif kind == RSQUARE and self._bracket_count > 0:
            self._bracket_count -= 1
        elif kind in (RCURLY, RSQUARE, ERROR):
            self._brace_count = self._bracket_count = 0
        if not self._skipping_rest:
            error = self._limit_error_pushing()
            if error is None:
                try:
                    finished, value = self._push_parser.feed(token)
                except JsonParseError as parse_error:
                    error = self._parse_error(parse_error)
                else:
                    if finished:
                        self._results.append(JsonMessage(value))
            if error is not None:
                self._results.append(error)
                self._skipping_rest = True
        if self._brace_count == 0 and self._bracket_count == 0:
            self._skipping_rest = False
            self._token_count = self._token_size = 0
            self._push_parser.reset()

    def _limit_error_pushing(self) -> JsonError | None:
        # ">=": QEMU 11.1.3 rejects a message whose tokens total exactly MAX_TOKEN_SIZE
        # bytes (observed), the same boundary as 7.2's "+ 1 > MAX" check; the posted
        # patches had ">".
        if self._token_size >= MAX_TOKEN_SIZE:
            return _SIZE_LIMIT_ERROR
        if self._token_count > MAX_TOKEN_COUNT:
            return _COUNT_LIMIT_ERROR
        if self._brace_count + self._bracket_count > MAX_NESTING:
            return _NESTING_LIMIT_ERROR
        return None

    def _parse_error(self, error: JsonParseError) -> JsonError:
        return JsonError(self._located(error.token, b"JSON parse error, " + error.message))

    def _located(self, token: Token | None, message: bytes) -> str:
        if self._dialect.error_locations and token is not None:
            message = b"%d:%d: %s" % (token.line, token.column, message)
        return qemu_bytes_to_str(message)


_CONTAINER_OPENERS: Final = frozenset(b"{[")

_NON_ASCII: Final = re.compile(rb"[\x80-\xff]")
# \u escapes of surrogates and noncharacters, which QEMU (unlike the stdlib) rejects.
# Valid surrogate pairs match too and merely take the exact path.
_DOUBTFUL_ESCAPE: Final = re.compile(rb"\\u(?:[dD][89a-fA-F]|[fF][dD][d-eD-E]|[fF]{3}[eEfF])")
# The fast path only looks at this much input ahead; longer messages take the exact path.
_FAST_PATH_MAX_BYTES: Final = 1 << 20
_FAST_PATH_FIRST_WINDOW: Final = 1 << 10
# A decode error this close to the end of the window may just mean the window was short.
_TRUNCATION_MARGIN: Final = 16


class _NotFastPathable(ValueError):
    """Raised by decoder hooks when only the exact path can tell what QEMU does."""


def _object_without_duplicates(pairs: list[tuple[str, JsonValue]]) -> dict[str, JsonValue]:
    members = dict(pairs)
    if len(members) != len(pairs):
        raise _NotFastPathable("duplicate key")
    return members


def _reject_constant(name: str) -> NoReturn:
    raise _NotFastPathable(name)  # NaN, Infinity, -Infinity: not JSON to QEMU


_FAST_DECODER: Final = json.JSONDecoder(
    object_pairs_hook=_object_without_duplicates,
    parse_int=integer_value,
    parse_constant=_reject_constant,
    strict=True,
)


def parse_json(data: bytes, dialect: JsonDialect = QEMU_7_2) -> JsonValue:
    """The one JSON value in ``data``, read as QEMU reads it; ValueError if there is not one.

    For code outside the monitor (cassettes, tests) that must read whatever QEMU accepts,
    up to 1,024 levels deep, where :func:`json.loads` runs out of Python's recursion limit.
    """
    stream = JsonStream(dialect)
    # The newline ends a top-level number or keyword, as the byte after it does for QEMU.
    results = stream.feed(data + b"\n")
    if len(results) != 1 or stream.buffered_bytes:
        raise ValueError(f"not exactly one JSON value: {len(results)} values and errors")
    result = results[0]
    if isinstance(result, JsonError):
        raise ValueError(result.desc)
    return result.value
