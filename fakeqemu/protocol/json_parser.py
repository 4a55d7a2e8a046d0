"""QEMU's JSON parser (qobject/json-parser.c): tokens in, Python values out.

Values: dict (str keys, in input order), list, str, int, float, bool, None.  Integers are
int64 if they fit, else uint64 if they fit (and are not negative), else float, which is
what QEMU's QNum keeps; a QEMU string's U+0000 (C0 80 inside QEMU) is "\\x00" here.

Two engines, both fed one token at a time so that memory stays proportional to the value
being built rather than to the tokens seen:

* ClassicParser: QEMU 7.2 / 10.0.  Upstream runs a recursive-descent parser over the
  whole token list once brackets balance; this is the same grammar walked as a state
  machine, giving the same first error (the only one QEMU reports).
* PushParser: QEMU 11.1's push parser ("json-parser: replace with a push parser"), whose
  error messages differ ("expecting key", "expecting ':'", "expected ',' or '}'", ...).
  QEMU 11.1's source was not available; this follows Paolo Bonzini's patches as posted
  to qemu-devel (2026) and every path was checked against a real QEMU 11.1.3.

Errors are raised as JsonParseError carrying the message QEMU formats after
"JSON parse error, " as raw bytes, since it may quote raw client bytes.
"""

from __future__ import annotations

from typing import Final, Generic, TypeAlias, TypeVar

from fakeqemu.protocol.json_lexer import (
    COLON,
    COMMA,
    ERROR,
    FLOAT,
    INTEGER,
    KEYWORD,
    LCURLY,
    LSQUARE,
    RCURLY,
    RSQUARE,
    STRING,
    Token,
)
from fakeqemu.protocol.qemu_utf8 import decode_mod_utf8, is_valid_codepoint

JsonValue: TypeAlias = "dict[str, JsonValue] | list[JsonValue] | str | int | float | bool | None"

INT64_MIN: Final = -(1 << 63)
INT64_MAX: Final = (1 << 63) - 1
UINT64_MAX: Final = (1 << 64) - 1

# parse_error() formats into char message[1024], so longer messages lose their tail.
_MESSAGE_BUFFER_SIZE: Final = 1024
# No decimal integer longer than this fits in 64 bits (both limits have 20 characters).
_LONGEST_64_BIT_INTEGER: Final = 20
_KEYWORDS: Final[dict[bytes, bool | None]] = {b"true": True, b"false": False, b"null": None}
_SIMPLE_ESCAPES: Final = {ord(k): v for k, v in zip("\"'\\/bfnrt", "\"'\\/\b\f\n\r\t", strict=True)}
_HEX_DIGITS: Final = frozenset(b"0123456789abcdefABCDEF")
_BACKSLASH: Final = ord("\\")


class JsonParseError(Exception):
    """A parse error; `message` is what QEMU prints after "JSON parse error, "."""

    def __init__(self, token: Token | None, message: bytes) -> None:
        super().__init__(message)
        self.token = token
        self.message = message[: _MESSAGE_BUFFER_SIZE - 1]


def c_string(raw: bytes) -> bytes:
    """What printf's %s shows of `raw`: everything before the first NUL."""
    return raw.split(b"\x00", 1)[0]


def _four_hex_digits(text: bytes, pos: int) -> int:
    """cvt4hex(): the value of the four hex digits at text[pos], or -1."""
    digits = text[pos : pos + 4]
    if len(digits) == 4 and all(digit in _HEX_DIGITS for digit in digits):
        return int(digits, 16)
    return -1


def parse_string(token: Token) -> str:
    """json-parser.c parse_string(): decode a lexed string, quotes included."""
    text = token.text
    closing_quote = len(text) - 1
    backslash = text.find(b"\\", 1, closing_quote)
    if backslash < 0:
        decoded = decode_mod_utf8(text[1:closing_quote])
        if decoded is None:
            raise JsonParseError(token, b"invalid UTF-8 sequence in string")
        return decoded
    pieces: list[str] = []
    pos = 1
    while True:
        # QEMU walks the string left to right, so the first bad spot decides the error.
        plain_end = closing_quote if backslash < 0 else backslash
        if plain_end > pos:
            decoded = decode_mod_utf8(text[pos:plain_end])
            if decoded is None:
                raise JsonParseError(token, b"invalid UTF-8 sequence in string")
            pieces.append(decoded)
        if backslash < 0:
            return "".join(pieces)
        escape = text[backslash + 1]
        pos = backslash + 2
        simple = _SIMPLE_ESCAPES.get(escape)
        if simple is not None:
            pieces.append(simple)
        elif escape == ord("u"):
            codepoint, pos = _unicode_escape(token, backslash, pos)
            pieces.append(chr(codepoint))
        else:
            raise JsonParseError(token, b"invalid escape sequence in string")
        backslash = text.find(b"\\", pos, closing_quote)


def _unicode_escape(token: Token, backslash: int, pos: int) -> tuple[int, int]:
    """Decode \\uXXXX (or a surrogate pair) whose hex digits start at `pos`."""
    text = token.text
    codepoint = _four_hex_digits(text, pos)
    # Like QEMU, step over four bytes even if they were not hex digits; the error text
    # below then shows them (and possibly the closing quote).
    pos += 4
    if 0xD800 <= codepoint <= 0xDBFF and text[pos : pos + 2] == b"\\u":
        trailing = _four_hex_digits(text, pos + 2)
        if 0xDC00 <= trailing <= 0xDFFF:
            codepoint = 0x10000 + ((codepoint & 0x3FF) << 10 | trailing & 0x3FF)
            pos += 6
        else:
            codepoint = -1
    if not is_valid_codepoint(codepoint):
        written = c_string(text[backslash:pos])
        raise JsonParseError(token, b"%s is not a valid Unicode character" % written)
    return codepoint, pos


def number_value(token: Token) -> int | float:
    """parse_literal() for JSON_INTEGER / JSON_FLOAT."""
    if token.kind == INTEGER:
        return integer_value(token.text)
    # strtod(), which Python's float() matches: correctly rounded, inf on overflow.
    return float(token.text)


def integer_value(text: bytes | str) -> int | float:
    """parse_literal() for the text of a JSON_INTEGER."""
    if len(text) <= _LONGEST_64_BIT_INTEGER:
        value = int(text)
        # int64 first; uint64 only for non-negative text (qemu_strtou64 is not tried on
        # a leading '-'), which for out-of-int64 values is the same as value >= 0.
        if INT64_MIN <= value <= UINT64_MAX:
            return value
    return float(text)


def scalar_value(token: Token) -> JsonValue:
    """A value that is a single token, or the error QEMU gives for a token that is not."""
    kind = token.kind
    if kind == STRING:
        return parse_string(token)
    if kind in (INTEGER, FLOAT):
        return number_value(token)
    if kind == KEYWORD:
        if token.text in _KEYWORDS:
            return _KEYWORDS[token.text]
        raise JsonParseError(token, b"invalid keyword '%s'" % token.text)
    raise JsonParseError(token, b"expecting value")


NOT_DONE: Final[tuple[bool, JsonValue]] = (False, None)
"""What feed() returns while the top-level value is still incomplete."""

_Frame = TypeVar("_Frame")


class _StackParser(Generic[_Frame]):
    """Both parsers: fed one token at a time, the containers still open on a stack."""

    def __init__(self) -> None:
        self._stack: list[_Frame] = []

    def reset(self) -> None:
        self._stack.clear()


# ClassicParser: what the innermost open container expects next.
_FIRST = 0  # just opened: its closing bracket, or the first key / element
_KEY = 1  # an object key (any value is parsed, then rejected unless a string)
_COLON = 2
_MEMBER = 3  # an object member's value or an array element
_SEPARATOR = 4  # ',' or the closing bracket


class _OpenContainer:
    __slots__ = ("container", "expecting", "key")

    def __init__(self, container: dict[str, JsonValue] | list[JsonValue]) -> None:
        self.container = container
        self.expecting = _FIRST
        self.key = ""


class ClassicParser(_StackParser[_OpenContainer]):
    """QEMU 7.2 / 10.0 json-parser.c, one token at a time; call reset() between values."""

    def feed(self, token: Token) -> tuple[bool, JsonValue]:
        """Returns (True, value) for the token completing the value, else NOT_DONE."""
        kind = token.kind
        if self._stack:
            top = self._stack[-1]
            is_object = type(top.container) is dict
            closing = RCURLY if is_object else RSQUARE
            if top.expecting == _COLON:
                if kind != COLON:
                    raise JsonParseError(token, b"missing : in object pair")
                top.expecting = _MEMBER
                return NOT_DONE
            if top.expecting == _SEPARATOR:
                if kind == closing:
                    return self._close(token)
                if kind != COMMA:
                    what = b"dict" if is_object else b"list"
                    raise JsonParseError(token, b"expected separator in %s" % what)
                top.expecting = _KEY if is_object else _MEMBER
                return NOT_DONE
            if top.expecting == _FIRST:
                if kind == closing:
                    return self._close(token)
                top.expecting = _KEY if is_object else _MEMBER
        # A value starts: at the top level, as an element, or as an object key or member.
        if kind == LCURLY:
            self._stack.append(_OpenContainer({}))
            return NOT_DONE
        if kind == LSQUARE:
            self._stack.append(_OpenContainer([]))
            return NOT_DONE
        return self._complete(scalar_value(token), token)

    def _close(self, token: Token) -> tuple[bool, JsonValue]:
        return self._complete(self._stack.pop().container, token)

    def _complete(self, value: JsonValue, token: Token) -> tuple[bool, JsonValue]:
        if not self._stack:
            return True, value
        top = self._stack[-1]
        container = top.container
        if top.expecting == _KEY:
            if not isinstance(value, str):
                raise JsonParseError(token, b"key is not a string in object")
            top.key = value
            top.expecting = _COLON
            return NOT_DONE
        if type(container) is dict:
            if top.key in container:
                raise JsonParseError(token, b"duplicate key")
            container[top.key] = value
        else:
            assert isinstance(container, list)
            container.append(value)
        top.expecting = _SEPARATOR
        return NOT_DONE


# PushParser states, as in QEMU 11.1's JSONParserState.
_AFTER_LCURLY = 0
_AFTER_LSQUARE = 1
_BEFORE_KEY = 2
_BEFORE_VALUE = 3
_END_OF_KEY = 4
_END_OF_VALUE = 5


class _StackEntry:
    # `partial` is the container being filled, or (on top of its dict) the pending key.
    __slots__ = ("partial", "state")

    def __init__(self, partial: dict[str, JsonValue] | list[JsonValue] | str, state: int):
        self.partial = partial
        self.state = state


class PushParser(_StackParser[_StackEntry]):
    """QEMU 11.1 json-parser.c; call reset() after a value or an error."""

    def feed(self, token: Token) -> tuple[bool, JsonValue]:
        """json_parser_feed(): (True, value) once the top-level value is complete."""
        kind = token.kind
        if kind == ERROR:
            raise JsonParseError(token, b"stray '%s'" % c_string(token.text))
        stack = self._stack
        entry = stack[-1] if stack else None
        state = entry.state if entry is not None else _BEFORE_VALUE
        if entry is not None and state == _AFTER_LCURLY:
            if kind == RCURLY:
                return self._complete(stack.pop().partial, token)
            entry.state = state = _BEFORE_KEY
        if state == _BEFORE_KEY:
            # Observed on QEMU 11.1.3 for every non-string token where a key is due
            # (Bonzini's published series still had "key is not a string in object").
            if kind != STRING:
                raise JsonParseError(token, b"expecting key")
            key = parse_string(token)
            stack.append(_StackEntry(key, _END_OF_KEY))
            return NOT_DONE
        if entry is not None and state == _END_OF_KEY:
            if kind != COLON:
                raise JsonParseError(token, b"expecting ':'")
            entry.state = _BEFORE_VALUE
            return NOT_DONE
        if entry is not None and state == _AFTER_LSQUARE:
            if kind == RSQUARE:
                return self._complete(stack.pop().partial, token)
            entry.state = state = _BEFORE_VALUE
        if entry is not None and state == _END_OF_VALUE:
            is_list = type(entry.partial) is list
            closing = RSQUARE if is_list else RCURLY
            if kind != closing:
                if kind != COMMA:
                    expected = b"']'" if is_list else b"'}'"
                    raise JsonParseError(token, b"expected ',' or %s" % expected)
                entry.state = _BEFORE_VALUE if is_list else _BEFORE_KEY
                return NOT_DONE
            return self._complete(stack.pop().partial, token)
        # BEFORE_VALUE: parse_begin_value()
        if kind == LCURLY:
            stack.append(_StackEntry({}, _AFTER_LCURLY))
            return NOT_DONE
        if kind == LSQUARE:
            stack.append(_StackEntry([], _AFTER_LSQUARE))
            return NOT_DONE
        return self._complete(scalar_value(token), token)

    def _complete(self, value: JsonValue, token: Token) -> tuple[bool, JsonValue]:
        stack = self._stack
        if not stack:
            return True, value
        entry = stack[-1]
        pending = entry.partial
        if isinstance(pending, str):  # the value of the member whose key is on top
            stack.pop()
            entry = stack[-1]
            members = entry.partial
            assert isinstance(members, dict)
            if pending in members:
                raise JsonParseError(token, b"duplicate key")
            members[pending] = value
        else:
            assert isinstance(pending, list)
            pending.append(value)
        entry.state = _END_OF_VALUE
        return NOT_DONE
