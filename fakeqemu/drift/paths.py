"""Where a mutation acts: member paths as ``fakeqemu contracts diff`` prints them.

A path names a member of the ``query-migrate`` reply (relative to ``return``:
``ram.dirty-sync-count``, ``total-time``) or of an event's ``data`` (after the
event's name: ``MIGRATION.status``, ``MIGRATION_PASS.pass``).  ``name[]`` steps
into every element of an array and ``{tag=case}`` keeps the objects of one union
variant: ``socket-address[].{type=inet}.port``.  An object as a whole (``order:``)
is named by its path, the reply's own object by :data:`REPLY_ROOT`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from fakeqemu.contracts.store import SPECIFIC_EVENTS

#: The command whose replies drift mutates (the events are :data:`SPECIFIC_EVENTS`).
COMMAND = "query-migrate"
#: How a path names the ``return`` object of a ``query-migrate`` reply itself.
REPLY_ROOT = "return"
#: Messages drift may change: the reply and the events that have contracts of their own.
TARGETS = (COMMAND, *SPECIFIC_EVENTS)


@dataclass(frozen=True)
class Path:
    """A parsed path: which message it is in, and the steps from that message's root."""

    #: ``query-migrate`` or an event name.
    target: str
    steps: tuple[str, ...]

    @classmethod
    def parse(cls, text: str) -> Path:
        if not text:
            raise ValueError("an empty path")
        steps = tuple(text.split("."))
        if steps[0] in SPECIFIC_EVENTS:
            return cls(steps[0], steps[1:])
        if steps == (REPLY_ROOT,):
            return cls(COMMAND, ())
        return cls(COMMAND, steps)

    def __str__(self) -> str:
        if self.target == COMMAND:
            return ".".join(self.steps) if self.steps else REPLY_ROOT
        return ".".join((self.target, *self.steps))

    @property
    def parent(self) -> Path:
        return Path(self.target, self.steps[:-1])

    @property
    def leaf(self) -> str:
        """The member's own name (a path to a member ends with it)."""
        return self.steps[-1]

    def child(self, name: str) -> Path:
        return Path(self.target, (*self.steps, name))

    def covers(self, other: Path) -> bool:
        """``other`` is this path or inside it (``ram`` covers ``ram.total``)."""
        if self.target != other.target or len(other.steps) < len(self.steps):
            return False
        own = [_member(step) for step in self.steps]
        theirs = [_member(step) for step in other.steps[: len(self.steps)]]
        return own == theirs


def _member(step: str) -> str:
    return step.removesuffix("[]")


def root_of(target: str, message: dict[str, Any]) -> Any:
    """The object paths start from: the reply's ``return``, or the event's ``data``."""
    return message.get("return") if target == COMMAND else message.get("data")


def target_of(name: str | None, message: dict[str, Any]) -> str | None:
    """Which target ``message`` is (sent for command or event ``name``), or None."""
    if name == COMMAND and isinstance(message.get("return"), dict):
        return COMMAND
    if name in SPECIFIC_EVENTS and isinstance(message.get("data"), dict):
        return name
    return None


def objects_at(root: Any, steps: tuple[str, ...]) -> Iterator[dict[str, Any]]:
    """Every object of ``root`` that ``steps`` lead to (none when a step is missing)."""
    current: list[Any] = [root]
    for step in steps:
        following: list[Any] = []
        if step.startswith("{"):
            tag, _, case = step[1:-1].partition("=")
            following = [obj for obj in current if isinstance(obj, dict) and obj.get(tag) == case]
        else:
            name = _member(step)
            for obj in current:
                value = obj.get(name) if isinstance(obj, dict) else None
                if step.endswith("[]"):
                    following += value if isinstance(value, list) else []
                elif value is not None:
                    following.append(value)
        current = following
    yield from (obj for obj in current if isinstance(obj, dict))


def copy_message(target: str, message: dict[str, Any]) -> dict[str, Any]:
    """A copy whose ``return`` or ``data`` may be changed: the fake keeps the originals (a
    destination's ``socket-address`` is the model's own list).  The envelope is copied
    shallowly: an echoed ``id`` may nest 1,023 levels, and drift never touches it."""
    key = "return" if target == COMMAND else "data"
    return {**message, key: _copy(message[key])}


def _copy(value: Any) -> Any:
    # A reply's return and an event's data nest a few levels at most.
    if isinstance(value, dict):
        return type(value)((key, _copy(item)) for key, item in value.items())
    if isinstance(value, list):
        return [_copy(item) for item in value]
    return value
