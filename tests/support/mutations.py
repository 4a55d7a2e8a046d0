"""Mutating recorded QMP input: shared by the fuzz test and the differential test."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, TypeVar

T = TypeVar("T")

#: Fragments that stress QEMU's JSON lexer and parser: structure, quotes, escapes,
#: invalid UTF-8, numbers at the edges, keywords and command names.
TOKENS: tuple[bytes, ...] = (
    b"{", b"}", b"[", b"]", b":", b",", b'"', b"'", b"\\", b"\n", b"\x00", b"\x01", b"\x7f",
    b"\xff", b"\xfe", b"\xc3\xa9", b"execute", b"exec-oob", b"arguments", b"id", b"true",
    b"null", b"nul", b"-0.0", b"1e999", b"1.5", b"-", b"0x1", b"99999999999999999999999",
    b"\\u0000", b"\\ud800", b"\\u00e9", b"query-status", b"qmp_capabilities",
)  # fmt: skip


class Choices(Protocol):
    """Where the randomness comes from: Hypothesis draws or a seeded random.Random."""

    def integer(self, low: int, high: int) -> int: ...

    def pick(self, options: Sequence[T]) -> T: ...


def mutate(seed: bytes, choose: Choices, *, edits: int = 6) -> bytes:
    """Up to ``edits`` insertions, deletions, bit flips and token insertions into ``seed``."""
    data = bytearray(seed)
    for _ in range(choose.integer(0, edits)):
        position = choose.integer(0, len(data))
        action = choose.pick(("insert", "delete", "flip", "token"))
        if action == "insert":
            data[position:position] = bytes(
                choose.integer(0, 255) for _ in range(choose.integer(1, 4))
            )
        elif action == "delete":
            del data[position : position + choose.integer(1, 8)]
        elif action == "flip" and position < len(data):
            data[position] ^= 1 << choose.integer(0, 7)
        else:
            data[position:position] = choose.pick(TOKENS)
    return bytes(data)
