"""QEMU's "modified UTF-8" rules (util/unicode.c), reproduced byte for byte.

QEMU keeps strings as NUL-terminated modified UTF-8: exactly UTF-8, except that U+0000 is
written as the overlong pair C0 80.  Two places depend on its exact decoding rules:

* the JSON parser rejects a string whose raw bytes do not decode
  ("invalid UTF-8 sequence in string"), and
* the JSON writer prints every undecodable sequence as U+FFFD, which is how raw client
  bytes echoed in an error ("stray '...'") come back to the client.
"""

from __future__ import annotations

import re
from typing import Final

# Smallest code point that needs a sequence of 2, 3, 4, 5 or 6 bytes; anything below is an
# overlong encoding.
_MIN_CODEPOINT_BY_LENGTH: Final = (0x80, 0x800, 0x10000, 0x200000, 0x4000000)

REPLACEMENT_CHARACTER: Final = "\ufffd"

# Unicode's 66 noncharacters, which QEMU refuses although Python's codec accepts them.
_NONCHARACTER: Final = re.compile(
    "[\ufdd0-\ufdef"
    + "".join(chr(plane << 16 | 0xFFFE) + chr(plane << 16 | 0xFFFF) for plane in range(17))
    + "]"
)


def is_valid_codepoint(codepoint: int) -> bool:
    """util/unicode.c is_valid_codepoint(); -1 (C's "no code point") is invalid too."""
    # C compares the int against 0x10FFFFu, i.e. as unsigned, so negative values fail here.
    if codepoint < 0 or codepoint > 0x10FFFF:
        return False
    if 0xFDD0 <= codepoint <= 0xFDEF or (codepoint & 0xFFFE) == 0xFFFE:
        return False
    return not 0xD800 <= codepoint <= 0xDFFF


def mod_utf8_codepoint(data: bytes, pos: int) -> tuple[int, int]:
    """Decode the sequence starting at data[pos], like mod_utf8_codepoint(s, 6, &end).

    Returns (code point, end) with code point -1 for an invalid sequence.  The end of
    `data` acts as C's terminating NUL.  `end` advances exactly as in C: by one for an
    impossible or stray continuation byte, past the continuation bytes actually present
    for a truncated sequence, which is what makes each bad sequence print as one U+FFFD.
    """
    size = len(data)
    if pos >= size or data[pos] == 0:
        return -1, pos
    lead = data[pos]
    pos += 1
    if lead < 0x80:
        return lead, pos
    if lead >= 0xFE or not lead & 0x40:
        return -1, pos  # impossible byte, or a continuation byte where a lead was due
    length = 0
    mask = 0x80
    while lead & mask:
        length += 1
        mask >>= 1
    codepoint = lead & (mask - 1)
    for _ in range(1, length):
        byte = data[pos] if pos < size else 0
        if byte & 0xC0 != 0x80:
            return -1, pos  # continuation byte missing
        pos += 1
        codepoint = codepoint << 6 | byte & 0x3F
    if not is_valid_codepoint(codepoint):
        return -1, pos
    if codepoint < _MIN_CODEPOINT_BY_LENGTH[length - 2] and not (codepoint == 0 and length == 2):
        return -1, pos  # overlong, and not the C0 80 spelling of U+0000
    return codepoint, pos


def encode_mod_utf8(text: str) -> bytes:
    """The bytes QEMU holds for ``text``: UTF-8, with U+0000 as C0 80 (hashes see these)."""
    return text.encode("utf-8", "surrogatepass").replace(b"\x00", b"\xc0\x80")


def decode_mod_utf8(raw: bytes) -> str | None:
    """Decode string contents the way json-parser.c does, or None if QEMU would reject them.

    `raw` never holds NUL or other control bytes (the lexer refuses them inside strings).
    """
    if raw.isascii():
        return raw.decode("ascii")
    # Python's strict codec rejects exactly the sequences QEMU rejects, except that it also
    # rejects C0 80 (QEMU's U+0000) and accepts noncharacters.  A C0 byte is only ever valid
    # as the first half of C0 80, and turning that pair into a NUL cannot make an invalid
    # neighbouring sequence valid, so patching both differences keeps the verdict exact.
    try:
        text = raw.replace(b"\xc0\x80", b"\x00").decode("utf-8")
    except UnicodeDecodeError:
        return None
    if _NONCHARACTER.search(text):
        return None
    return text


def qemu_bytes_to_str(raw: bytes) -> str:
    """The text QEMU's JSON writer would print for the C string `raw`.

    Stops at the first NUL byte; every invalid sequence becomes one U+FFFD.
    """
    raw = raw.split(b"\x00", 1)[0]
    text = decode_mod_utf8(raw)
    if text is not None:
        return text
    pieces: list[str] = []
    pos = 0
    while pos < len(raw):
        codepoint, pos = mod_utf8_codepoint(raw, pos)
        pieces.append(REPLACEMENT_CHARACTER if codepoint < 0 else chr(codepoint))
    return "".join(pieces)
