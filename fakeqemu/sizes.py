"""Sizes as QEMU spells them (``qemu_strtosz()`` in util/cutils.c), in one place.

The CLI's ``--memory``, the backends' size options and the pytest marker's
``memory=`` all read sizes through this module, so ``4G`` means the same
everywhere.  Standard library only: ``fakeqemu serve`` parses its arguments
before it imports anything heavy.

QEMU's rules, checked against the real binaries: a decimal number (no sign, no
exponent, no hexadecimal in 10.0 and later), an optional fraction, and one
optional suffix ``B``, ``K``, ``M``, ``G``, ``T``, ``P`` or ``E`` in either
case (binary units).  A fraction needs a scale: ``1.5`` bytes is an error,
``1.5G`` is not.  The result must stay below 2^64.  ``-m`` then reads a
number without a suffix as MiB and rounds the size up to 8 KiB.  As a
convenience that QEMU does not offer, a unit may also be written ``GB`` or
``GiB``.
"""

from __future__ import annotations

import re

__all__ = ["parse_memory", "parse_size"]

_MULTIPLIERS = {
    "B": 1,
    "K": 1 << 10,
    "M": 1 << 20,
    "G": 1 << 30,
    "T": 1 << 40,
    "P": 1 << 50,
    "E": 1 << 60,
}
#: strtoull() skips leading white space; nothing may follow the suffix.
_SIZE = re.compile(
    r"\s*(?P<whole>[0-9]+)(?P<fraction>\.[0-9]*)?(?P<unit>[BKMGTPE](?:I?B)?)?", re.IGNORECASE
)
_LIMIT = 1 << 64
#: -m rounds the RAM size up to this (QEMU_ALIGN_UP(sz, 8192) in parse_memory_options()).
_RAM_ALIGN = 8192
_HINT = "a size like 4096, 512K, 1.5G or 2GiB"


def parse_size(text: str, default_unit: str = "B") -> int:
    """Bytes from ``text``; ``default_unit`` is the unit of a number without a suffix.

    Raises :class:`ValueError` naming ``text`` when it is not a size.
    """
    match = _SIZE.fullmatch(text) if isinstance(text, str) else None
    if match is None or (match["unit"] or "").upper() in ("BB", "BIB"):
        raise ValueError(f"expected {_HINT}, got {text!r}")
    unit = (match["unit"] or default_unit).upper()[0]
    multiplier = _MULTIPLIERS[unit]
    digits = (match["fraction"] or ".")[1:]
    if digits.strip("0") and multiplier == 1:
        raise ValueError(f"a fraction needs a unit (K, M, G, ...), got {text!r}")
    # Exact in integers (no float, no fractions module on the start-up path):
    # whole.digits * multiplier, half a byte rounded up as QEMU rounds it.
    scale: int = 10 ** len(digits)
    numerator = (int(match["whole"]) * scale + int(digits or "0")) * multiplier
    size = (2 * numerator + scale) // (2 * scale)
    if size >= _LIMIT:
        raise ValueError(f"a size must be below 2^64 bytes, got {text!r}")
    return size


def parse_memory(text: str) -> int:
    """The guest RAM of ``-m TEXT``: a plain number is MiB; rounded up to 8 KiB; not 0."""
    # QEMU checks the text as a size in bytes first (so "1.5" is refused), then reads a
    # text that ends in a digit as MiB.
    size = parse_size(text)
    if text[-1:].isdigit():
        size = parse_size(text, default_unit="M")
    if size == 0:
        raise ValueError(f"the guest needs some RAM, got {text!r}")
    if size >= _LIMIT:
        raise ValueError(f"a size must be below 2^64 bytes, got {text!r}")
    return -(-size // _RAM_ALIGN) * _RAM_ALIGN
