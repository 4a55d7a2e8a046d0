"""A mutation: one way the next QEMU may send ``query-migrate`` and its events differently.

Its id is the same string in every report, the pytest ids and ``--fakeqemu-drift=ID``:

* ``drop:PATH``: the member is left out (``drop:ram.dirty-sync-count``);
* ``add:PATH``: an unknown member (named ``x-drift``) appears (``add:ram.x-drift``);
* ``enum:PATH=VALUE``: the value appears once, as the first one a client sees;
* ``type:PATH=float``: an integer member is a non-integral double (``%.17g``),
  ``type:PATH=uint64``: it is above 2^63 (a ``uint64`` counter a signed decoder overflows on);
* ``order:PATH``: the object's members come in another order than QEMU's hash order;
* ``release:A->B``: every difference ``fakeqemu contracts diff A/S B/S`` lists, together;
* ``shape:old->new`` (or ``new->old``): the seed patch applied (or taken away).

Several mutations applied together (``--fakeqemu-drift-pairs``) join with ``+``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from fakeqemu.drift.paths import Path

#: The kinds, in the order reports list them.
KINDS = ("drop", "add", "enum", "type", "order", "release", "shape")
#: Kinds whose effect stays inside one member or object: these may share a run
#: with others that touch other members (a tool's path through a migration does not
#: depend on them unless it breaks).
LOCAL_KINDS = ("drop", "add", "type", "order")
#: What ``type:`` makes of an integer.
TYPE_VALUES = ("float", "uint64")
#: How reports say what ``type:...=uint64`` does.
UINT64_TEXT = "above 2^63"
#: The member ``add:`` puts in (``x-`` marks an experimental member in QAPI).
ADDED_MEMBER = "x-drift"
#: The value ``enum:`` uses for a value no release has.
MADE_UP_VALUE = "x-drift"


@dataclass(frozen=True, order=True)
class Mutation:
    kind: str
    #: A member or object path; ``A->B`` for ``release`` and ``shape``.
    path: str
    #: ``enum``: the value; ``type``: ``float`` or ``uint64``.
    value: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown mutation kind {self.kind!r}; expected one of {KINDS}")
        if self.kind == "type" and self.value not in TYPE_VALUES:
            raise ValueError(f"type:{self.path} needs =float or =uint64")
        if (self.kind in ("release", "shape")) != ("->" in self.path):
            raise ValueError(f"{self.kind}:{self.path}: A->B is for release and shape")

    @property
    def id(self) -> str:
        value = "" if self.value is None else f"={self.value}"
        return f"{self.kind}:{self.path}{value}"

    def __str__(self) -> str:
        return self.id

    @classmethod
    def parse(cls, text: str) -> Mutation:
        kind, sep, rest = text.strip().partition(":")
        if not sep or not rest:
            raise ValueError(f"expected KIND:PATH such as drop:ram.total, got {text!r}")
        path, _, value = rest.rpartition("=") if kind in ("enum", "type") else (rest, "", "")
        return cls(kind, path, value or None)

    @property
    def member(self) -> Path | None:
        """The member or object it changes; None for ``release`` and ``shape``."""
        return None if self.kind in ("release", "shape") else Path.parse(self.path)

    @property
    def ends(self) -> tuple[str, str]:
        """``release``/``shape``: where from and where to."""
        before, _, after = self.path.partition("->")
        return before, after

    @property
    def local(self) -> bool:
        return self.kind in LOCAL_KINDS

    def reaches(self, other: Mutation) -> bool:
        """Its effect reaches what ``other`` changes, so that one may hide the other: a
        dropped or retyped member covers everything inside it; adding or ordering covers
        only the same member or object."""
        mine, theirs = self.member, other.member
        if mine is None or theirs is None:
            return True
        if self.kind in ("drop", "type"):
            return mine.covers(theirs)
        return mine == theirs


def join(mutations: Iterable[Mutation]) -> str:
    """The id of mutations applied together (a pair)."""
    return "+".join(mutation.id for mutation in mutations)


def parse_drift(text: str) -> tuple[Mutation, ...]:
    """``drop:total-time`` or a pair ``drop:total-time+add:x-drift``."""
    return tuple(Mutation.parse(part) for part in text.split("+"))


def compatible(first: Mutation, second: Mutation) -> bool:
    """Two local mutations that may share a run: neither can hide the other."""
    if not (first.local and second.local):
        return False
    return not (first.reaches(second) or second.reaches(first))
