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

import re
import sys
from collections.abc import Iterator
from functools import cache
from itertools import repeat
from typing import Any, TypeAlias

from fakeqemu.protocol.qemu_utf8 import encode_mod_utf8

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
    """The hash QDict uses to place a key (``tdb_hash`` in qobject/qdict.c).

    C adds ``byte << (i * 5 % 24)`` for each byte, modulo 2**32.  The shift repeats every
    24 bytes, so the bytes are summed per residue class first: a key may be 64 MiB long,
    and a Python loop per byte would stall the server for seconds.
    """
    data = encode_mod_utf8(key)  # QEMU's own bytes for the key: U+0000 is C0 80
    value = 0x238F13AF * len(data)
    for residue in range(min(len(data), 24)):
        value += sum(data[residue::24]) << (residue * 5 % 24)
    return (1103515243 * (value & 0xFFFFFFFF) + 12345) & 0xFFFFFFFF


#: Keys up to this long have their buckets and layouts cached; clients choose keys, and a
#: cache must not pin their megabyte-long ones.
_CACHED_KEY_LENGTH = 64
_CACHED_BUCKETS = 4096


class _BucketCache(dict[str, int]):
    """key -> QDict bucket; a hit is a plain dict lookup, misses compute (and keep short keys)."""

    def __missing__(self, key: str) -> int:
        bucket = tdb_hash(key) % _BUCKETS
        if len(key) <= _CACHED_KEY_LENGTH:
            if len(self) >= _CACHED_BUCKETS:
                self.clear()
            self[key] = bucket
        return bucket


_bucket = _BucketCache().__getitem__


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


def _unit_escape(unit: int) -> str:
    """How QEMU prints one UTF-16 code unit of a string (a pair prints as two units)."""
    char = chr(unit)
    escaped = _SIMPLE_ESCAPES.get(char)
    if escaped is not None:
        return escaped
    if 0x20 <= unit < 0x7F:
        return char
    if 0xFDD0 <= unit <= 0xFDEF or unit >= 0xFFFE:
        # QEMU's writer decodes with mod_utf8_codepoint, which refuses noncharacters
        # and prints U+FFFD instead (the same goes for surrogates: see _UNPRINTABLE).
        return "\\uFFFD"
    return f"\\u{unit:04X}"


@cache
def _unit_escapes() -> list[str]:
    """Every UTF-16 code unit's text, built on first use (3 MB: strings can be 64 MiB)."""
    return [_unit_escape(unit) for unit in range(0x10000)]


#: Code points QEMU prints as U+FFFD that are not a single noncharacter unit: lone
#: surrogates, and the noncharacters beyond the BMP.
_UNPRINTABLE = re.compile(
    "[\ud800-\udfff"
    + "".join(chr(p << 16 | 0xFFFE) + chr(p << 16 | 0xFFFF) for p in range(1, 17))
    + "]"
)
_UTF16 = "utf-16-le" if sys.byteorder == "little" else "utf-16-be"


def quote_string(text: str) -> str:
    """A JSON string literal as QEMU prints it.

    Pure ASCII out, beyond the BMP as surrogate pairs: the text goes out as UTF-16 code
    units, each looked up in a table, at C speed (ids and arguments reach 64 MiB).
    """
    if text.isascii() and text.isprintable() and '"' not in text and "\\" not in text:
        return f'"{text}"'
    text = _UNPRINTABLE.sub("\ufffd", text)
    units = memoryview(text.encode(_UTF16, "surrogatepass")).cast("H")
    return '"' + "".join(map(_unit_escapes().__getitem__, units)) + '"'


#: How one dict prints: its keys in wire order, and the text before each member's value
#: (the first one opens the dict: ``{"key": ``, the others ``, "key": ``).
_Layout: TypeAlias = tuple[list[str], list[str]]

#: Layouts of the key sets seen most (replies repeat a few shapes thousands of times).
_LAYOUTS: dict[tuple[str, ...], _Layout] = {}
_LAYOUTS_KEPT = 1024
_LAYOUT_KEYS_CACHED = 16


def _new_layout(keys: tuple[str, ...]) -> _Layout:
    ordered = qdict_order(list(keys))
    prefixes = [", " + quote_string(key) + ": " for key in ordered]
    prefixes[0] = "{" + prefixes[0][2:]
    if len(keys) <= _LAYOUT_KEYS_CACHED and all(len(k) <= _CACHED_KEY_LENGTH for k in keys):
        if len(_LAYOUTS) >= _LAYOUTS_KEPT:
            _LAYOUTS.clear()
        _LAYOUTS[keys] = ordered, prefixes
    return ordered, prefixes


class AsGiven(dict[str, Any]):
    """A dict printed in the order of its own keys instead of QDict's hash order.

    QEMU never prints one: its order comes from the hash table.  Schema drift
    (``order:`` mutations, :mod:`fakeqemu.drift`) uses it to send an object's members
    in an order another hash table could give, so that the bytes really change.
    """


def _given_layout(keys: tuple[str, ...]) -> _Layout:
    prefixes = [", " + quote_string(key) + ": " for key in keys]
    prefixes[0] = "{" + prefixes[0][2:]
    return list(keys), prefixes


_TOP_LEVEL = ("",)
_SEPARATORS = repeat(", ")


def encode_value(value: QValue) -> str:
    """Compact JSON with QEMU's separators, key order, numbers and escaping.

    Iterative: a client may send (and get echoed) 1,024 levels of nesting, more than
    Python's recursion limit.  Each open container is a frame on an explicit stack: its
    (prefix, child) pairs still to print, its closing bracket, and the index in ``parts``
    of its first prefix, which becomes the opening bracket when the container closes
    (lists are printed with ", " before every element, dicts with their layout).
    """
    parts: list[str] = []
    append = parts.append
    layouts = _LAYOUTS
    # zip(strict=True) would cost on the hot path; the lengths match by construction.
    if type(value) is dict and value:  # a QMP message: start with its own frame
        keys = tuple(value)
        ordered, prefixes = layouts.get(keys) or _new_layout(keys)
        members = zip(prefixes, [value[key] for key in ordered])  # noqa: B905
        top = (members, "}", 0, prefixes[0])
    else:
        top = (zip(_TOP_LEVEL, (value,)), "", 0, "")  # noqa: B905
    stack: list[tuple[Iterator[tuple[str, Any]], str, int, str]] = [top]
    while stack:
        items, closing, first, opening = stack[-1]
        for prefix, item in items:
            append(prefix)
            if isinstance(item, str):
                append(quote_string(item))
            elif item is True:
                append("true")
            elif item is False:
                append("false")
            elif item is None:
                append("null")
            elif isinstance(item, int):
                append(str(item))
            elif isinstance(item, float):
                append(format_double(item))
            elif isinstance(item, dict):
                if not item:
                    append("{}")
                    continue
                keys = tuple(item)
                if type(item) is AsGiven:
                    ordered, prefixes = _given_layout(keys)
                else:
                    ordered, prefixes = layouts.get(keys) or _new_layout(keys)
                values = [item[key] for key in ordered]
                members = zip(prefixes, values)  # noqa: B905
                stack.append((members, "}", len(parts), prefixes[0]))
                break
            elif item:
                stack.append((zip(_SEPARATORS, item, strict=False), "]", len(parts), "["))
                break
            else:
                append("[]")
        else:
            stack.pop()
            parts[first] = opening
            append(closing)
    return "".join(parts)


def encode_message(value: QValue) -> bytes:
    """One QMP message on the wire: compact JSON, then ``\\r\\n``."""
    return (encode_value(value) + "\r\n").encode("ascii")
