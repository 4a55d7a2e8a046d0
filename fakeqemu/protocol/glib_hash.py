"""GLib's GHashTable of C strings, as far as iteration order goes (glib/ghash.c).

QEMU's input visitor puts an object's keys into a ``g_hash_table_new(g_str_hash,
g_str_equal)`` in QDict order, removes each member it visits, and reports the first key
left over, in the table's slot order, as "Parameter '...' is unexpected"
(qobject_input_check_struct).  Which key that is depends on GLib's hashing, probing,
tombstones and resizing, reproduced here step for step.  GLib 2.74 (Debian 12, QEMU 7.2
and 10.0) and 2.84 (Debian 13, QEMU 11.1) behave the same.
"""

from __future__ import annotations

from collections.abc import Iterable

from fakeqemu.protocol.qemu_utf8 import encode_mod_utf8

_MIN_SHIFT = 3
_UNUSED = 0
_TOMBSTONE = 1
#: The prime below each power of two: where probing starts (``prime_mod``).
_PRIME_MOD: tuple[int, ...] = (
    1,
    2,
    3,
    7,
    13,
    31,
    61,
    127,
    251,
    509,
    1021,
    2039,
    4093,
    8191,
    16381,
    32749,
)
_PRIME_MOD += (65521, 131071, 262139, 524287, 1048573, 2097143, 4194301, 8388593, 16777213)
_PRIME_MOD += (33554393, 67108859, 134217689, 268435399, 536870909, 1073741789, 2147483647)


def g_str_hash(key: bytes) -> int:
    """djb2 over *signed* chars, as glib's g_str_hash does."""
    value = 5381
    for byte in key:
        value = (value * 33 + (byte - 256 if byte >= 0x80 else byte)) & 0xFFFFFFFF
    return value


class StringSet:
    """A GHashTable used as QEMU's visitor uses it: insert, remove, first in slot order."""

    def __init__(self, keys: Iterable[str] = ()) -> None:
        self._set_shift(_MIN_SHIFT)
        self._hashes = [_UNUSED] * self._size
        self._keys: list[str | None] = [None] * self._size
        self._nodes = 0
        self._occupied = 0  # nodes and tombstones
        for key in keys:
            self.insert(key)

    def _set_shift(self, shift: int) -> None:
        self._size = 1 << shift
        self._mod = _PRIME_MOD[shift]
        self._mask = self._size - 1

    def _index(self, hash_value: int) -> int:
        return ((hash_value * 11) & 0xFFFFFFFF) % self._mod

    def _lookup(self, key: str) -> tuple[int, int]:
        """g_hash_table_lookup_node(): the key's slot, or where it would go; and its hash."""
        hash_value = max(g_str_hash(encode_mod_utf8(key)), 2)  # 0 and 1 mark unused and tombstones
        index = self._index(hash_value)
        tombstone = None
        step = 0
        while (node_hash := self._hashes[index]) != _UNUSED:
            if node_hash == hash_value and self._keys[index] == key:
                return index, hash_value
            if node_hash == _TOMBSTONE and tombstone is None:
                tombstone = index
            step += 1
            index = (index + step) & self._mask
        return (index if tombstone is None else tombstone), hash_value

    def insert(self, key: str) -> None:
        index, hash_value = self._lookup(key)
        old_hash = self._hashes[index]
        if old_hash >= 2:
            return  # already there: nothing moves
        self._hashes[index] = hash_value
        self._keys[index] = key
        self._nodes += 1
        if old_hash == _UNUSED:
            self._occupied += 1
            self._maybe_resize()

    def remove(self, key: str) -> None:
        index, _ = self._lookup(key)
        if self._hashes[index] < 2:
            return
        self._hashes[index] = _TOMBSTONE
        self._keys[index] = None
        self._nodes -= 1
        self._maybe_resize()

    def first(self) -> str | None:
        """What g_hash_table_iter_next() returns first."""
        for hash_value, key in zip(self._hashes, self._keys, strict=True):
            if hash_value >= 2:
                return key
        return None

    def in_order(self) -> list[str]:
        """Every key, in g_hash_table_iter_next() order."""
        return [key for h, key in zip(self._hashes, self._keys, strict=True) if h >= 2 and key]

    def _maybe_resize(self) -> None:
        size, occupied = self._size, self._occupied
        if (size > self._nodes * 4 and size > 1 << _MIN_SHIFT) or size <= occupied + occupied // 16:
            self._resize()

    def _resize(self) -> None:
        """g_hash_table_resize(): rehash in place, evicting along the way (resize_set)."""
        old_size = self._size
        wanted = int(self._nodes * 1.333)
        self._set_shift(max(wanted.bit_length(), _MIN_SHIFT))
        if self._size > old_size:
            self._hashes += [_UNUSED] * (self._size - old_size)
            self._keys += [None] * (self._size - old_size)
        placed = [False] * max(self._size, old_size)
        hashes, keys = self._hashes, self._keys
        for slot in range(old_size):
            node_hash = hashes[slot]
            if node_hash < 2:
                hashes[slot] = _UNUSED  # clears tombstones
                continue
            if placed[slot]:
                continue
            hashes[slot] = _UNUSED
            key, keys[slot] = keys[slot], None
            while True:
                index = self._index(node_hash)
                step = 0
                while placed[index]:
                    step += 1
                    index = (index + step) & self._mask
                placed[index] = True
                replaced = hashes[index]
                hashes[index] = node_hash
                key, keys[index] = keys[index], key
                if replaced < 2:
                    break
                node_hash = replaced  # carry the evicted node on
        del hashes[self._size :], keys[self._size :]
        self._occupied = self._nodes
