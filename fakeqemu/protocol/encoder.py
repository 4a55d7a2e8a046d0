"""QEMU's JSON output, byte for byte (qobject/json-writer.c, qobject/qdict.c).

Three things make QEMU's output differ from ``json.dumps``:

* Key order.  A QDict is a 512-bucket hash table and QEMU prints it by
  ascending bucket, newest insertion first inside a bucket.  Callers build
  dicts in QAPI member order (the order QEMU inserts them); :func:`qdict_order`
  turns that into wire order.
* Numbers.  Doubles are printed with C's ``%.17g``; integers as decimals.
* Strings.  Pure ASCII out: uppercase ``\\uXXXX`` for control characters and
  everything from DEL up, surrogate pairs beyond the BMP, ``/`` unescaped.

Every message ends with ``\\r\\n`` because the monitor turns ``\\n`` into ``\\r\\n``.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, TypeAlias

#: A value QEMU can print: what the JSON parser produces and handlers return.
QValue: TypeAlias = "dict[str, Any] | list[Any] | str | int | float | bool | None"

_BUCKETS = 512

_SIMPLE_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
}


def tdb_hash(key: str) -> int:
    """The hash QDict uses to place a key (``tdb_hash`` in qobject/qdict.c)."""
    data = key.encode("utf-8", "surrogatepass")
    value = (0x238F13AF * len(data)) & 0xFFFFFFFF
    for i, byte in enumerate(data):
        value = (value + (byte << (i * 5 % 24))) & 0xFFFFFFFF
    return (1103515243 * value + 12345) & 0xFFFFFFFF


@lru_cache(maxsize=4096)
def _bucket(key: str) -> int:
    return tdb_hash(key) % _BUCKETS


def qdict_order(keys: list[str]) -> list[str]:
    """Wire order of ``keys`` given in insertion order.

    Python's sort is stable, so sorting the reversed insertion order by bucket
    puts the newest key first within a bucket, exactly as QEMU's
    ``QLIST_INSERT_HEAD`` does.
    """
    return sorted(reversed(keys), key=_bucket)  # noqa: C414 - reversal breaks ties


def format_double(value: float) -> str:
    """C's ``%.17g`` (json-writer.c uses it for every QNum double)."""
    return format(value, ".17g")


def _escape_char(char: str) -> str:
    escaped = _SIMPLE_ESCAPES.get(char)
    if escaped is not None:
        return escaped
    code = ord(char)
    if 0x20 <= code < 0x7F:
        return char
    if 0xD800 <= code <= 0xDFFF or (0xFDD0 <= code <= 0xFDEF) or (code & 0xFFFE) == 0xFFFE:
        # QEMU's writer decodes with mod_utf8_codepoint, which refuses
        # surrogates and noncharacters and prints U+FFFD instead.
        return "\\uFFFD"
    if code > 0xFFFF:
        code -= 0x10000
        return f"\\u{0xD800 + (code >> 10):04X}\\u{0xDC00 + (code & 0x3FF):04X}"
    return f"\\u{code:04X}"


def quote_string(text: str) -> str:
    """A JSON string literal as QEMU prints it."""
    if text.isascii() and text.isprintable() and '"' not in text and "\\" not in text:
        return f'"{text}"'
    return '"' + "".join(_escape_char(c) for c in text) + '"'


def encode_value(value: QValue) -> str:
    """Compact JSON with QEMU's separators, key order, numbers and escaping."""
    parts: list[str] = []
    _encode_into(value, parts)
    return "".join(parts)


def _encode_into(value: QValue, out: list[str]) -> None:
    if isinstance(value, str):
        out.append(quote_string(value))
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif value is None:
        out.append("null")
    elif isinstance(value, int):
        out.append(str(value))
    elif isinstance(value, float):
        out.append(format_double(value))
    elif isinstance(value, dict):
        if not value:
            out.append("{}")
            return
        out.append("{")
        first = True
        for key in qdict_order(list(value)):
            if not first:
                out.append(", ")
            first = False
            out.append(quote_string(key))
            out.append(": ")
            _encode_into(value[key], out)
        out.append("}")
    else:
        if not value:
            out.append("[]")
            return
        out.append("[")
        for index, item in enumerate(value):
            if index:
                out.append(", ")
            _encode_into(item, out)
        out.append("]")


def encode_message(value: QValue) -> bytes:
    """One QMP message on the wire: compact JSON, then ``\\r\\n``."""
    return (encode_value(value) + "\r\n").encode("ascii")
