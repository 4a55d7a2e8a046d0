r"""How ``fakeqemu replay`` compares a client's request with the recorded one (no I/O here).

Requests are compared as JSON values: member order and spacing do not count, the
values do.  A *matcher* relaxes the comparison at one key, as vcrpy's ``match_on``
relaxes it per request attribute, so that a recording replays to a client whose
requests differ where they must (a migration to another port)::

    [COMMAND:]PATH            ignore PATH: its value, and whether it is there at all
    [COMMAND:]PATH=~REGEX     PATH's value in the client's request must match REGEX

* ``PATH`` is a dotted path into the request object: ``arguments.uri``.  A number
  indexes a list: ``arguments.capabilities.0.state``.  (QMP member names never
  contain dots.)
* ``COMMAND:`` limits the matcher to requests that run that command
  (``migrate:arguments.uri``); without it the matcher applies to every request.
* ``REGEX`` is a Python regular expression, searched for (:func:`re.search`): anchor it
  with ``^...$`` to match the whole value.  A value that is not a string is matched as
  its JSON text (``arguments.value=~^\d+$``).
* A regex matcher applies where the recorded request has ``PATH``; the client's request
  must have it too, and its value must match.  The recorded value is not compared.
* Ids are not matched this way: a cassette recorded with ``--renumber-ids`` accepts any
  id and answers with the client's own.

On the command line: ``fakeqemu replay CASSETTE --ignore PATH --match PATH=~REGEX``.  From
Python: ``replay(..., matchers=[Matcher.parse("migrate:arguments.uri=~^tcp:")])``, or
:meth:`Matcher.ignore` and :meth:`Matcher.regex`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from fakeqemu.protocol.cassette import top_level_member, without_id
from fakeqemu.protocol.json_stream import parse_json
from fakeqemu.protocol.values import copy_value, values_equal

_REGEX = "=~"
_ABSENT = object()
#: Stands for a list element a matcher accepted, on both sides (deleting it would shift
#: the elements after it).
_ACCEPTED = "<accepted by a matcher>"


class MatcherError(ValueError):
    """A matcher that cannot be used; the message says what is wrong with it."""


@dataclass(frozen=True)
class Matcher:
    """One relaxation of the comparison; ``pattern`` None ignores ``path``."""

    path: tuple[str, ...]
    pattern: re.Pattern[str] | None = None
    command: str | None = None

    @classmethod
    def parse(cls, spec: str) -> Matcher:
        """``[COMMAND:]PATH`` (ignore) or ``[COMMAND:]PATH=~REGEX`` (match)."""
        target, regex, pattern = spec.partition(_REGEX)
        command, path = _target(spec, target)
        if not regex:
            return cls(path, None, command)
        try:
            compiled = re.compile(pattern)
        except re.error as error:
            raise MatcherError(f"matcher {spec!r}: bad regular expression: {error}") from None
        return cls(path, compiled, command)

    @classmethod
    def ignore(cls, spec: str) -> Matcher:
        """``[COMMAND:]PATH``: the key does not count."""
        if _REGEX in spec:
            raise MatcherError(
                f"matcher {spec!r}: an ignore takes [COMMAND:]PATH only (to match a value by"
                " regex, use --match PATH=~REGEX)"
            )
        return cls.parse(spec)

    @classmethod
    def regex(cls, spec: str) -> Matcher:
        """``[COMMAND:]PATH=~REGEX``: the client's value must match."""
        if _REGEX not in spec:
            raise MatcherError(
                f"matcher {spec!r}: expected [COMMAND:]PATH=~REGEX, e.g."
                r" 'arguments.uri=~^tcp:127\.0\.0\.1:\d+$' (to ignore a key, use --ignore PATH)"
            )
        return cls.parse(spec)

    def __str__(self) -> str:
        text = (f"{self.command}:" if self.command else "") + ".".join(self.path)
        return text if self.pattern is None else f"{text}{_REGEX}{self.pattern.pattern}"


def _target(spec: str, target: str) -> tuple[str | None, tuple[str, ...]]:
    if target.count(":") > 1:
        raise MatcherError(f"matcher {spec!r}: expected [COMMAND:]PATH, with one ':' at most")
    command, colon, path = target.rpartition(":")
    if colon and not command.strip():
        raise MatcherError(f"matcher {spec!r}: empty command name before ':'")
    if any(character.isspace() for character in command):
        raise MatcherError(f"matcher {spec!r}: a command name has no spaces: {command!r}")
    keys = tuple(path.split("."))
    if not path or any(not key for key in keys):
        raise MatcherError(
            f"matcher {spec!r}: PATH must be dotted member names such as arguments.uri,"
            f" got {path!r}"
        )
    if keys[0] == "id":
        raise MatcherError(
            f"matcher {spec!r}: ids are not matched by key; record with --renumber-ids and"
            " replay answers any id with the client's own"
        )
    return command or None, keys


def _command(request: Any) -> Any:
    return request.get("execute", request.get("exec-oob")) if isinstance(request, dict) else None


def _parent(value: Any, path: tuple[str, ...]) -> tuple[Any, str | int] | None:
    """The container holding ``path``'s last key and that key, when the path is there."""
    for key in path[:-1]:
        found = _child(value, key)
        if found is _ABSENT:
            return None
        value = found
    last = path[-1]
    if isinstance(value, dict):
        return (value, last) if last in value else None
    if isinstance(value, list) and last.isdigit() and int(last) < len(value):
        return value, int(last)
    return None


def _child(value: Any, key: str) -> Any:
    if isinstance(value, dict):
        return value.get(key, _ABSENT)
    if isinstance(value, list) and key.isdigit() and int(key) < len(value):
        return value[int(key)]
    return _ABSENT


def _accept(place: tuple[Any, str | int] | None) -> None:
    if place is None:
        return
    container, key = place
    if isinstance(container, dict):
        del container[key]
    else:
        container[key] = _ACCEPTED


def _as_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _relax(matcher: Matcher, recorded: Any, got: Any) -> str | None:
    """Take what ``matcher`` accepts out of both requests; or say why the client's fails it."""
    if matcher.command is not None and _command(recorded) != matcher.command:
        return None
    expected_at = _parent(recorded, matcher.path)
    got_at = _parent(got, matcher.path)
    if matcher.pattern is not None and expected_at is not None:
        where = ".".join(matcher.path)
        if got_at is None:
            return f"{where} is missing (matcher {matcher})"
        container, key = got_at
        value = container[key]
        if matcher.pattern.search(_as_text(value)) is None:
            return f"{where} {json.dumps(value)} does not match {matcher.pattern.pattern}"
    if matcher.pattern is None or expected_at is not None:
        _accept(expected_at)
        _accept(got_at)
    return None


def compare(recorded: Any, got: Any, matchers: Sequence[Matcher] = ()) -> str | None:
    """``None`` when the client's request ``got`` counts as the ``recorded`` one (parsed JSON
    values); otherwise what differs: ``""`` for a plain difference, or the value a regex
    matcher refused."""
    # Matchers take what they accept out of the requests: of copies, not the caller's.
    recorded, got = copy_value(recorded), copy_value(got)
    for matcher in matchers:
        refused = _relax(matcher, recorded, got)
        if refused is not None:
            return refused
    # QEMU reads members in any order, but tells 1 from 1.0 and true.
    return None if values_equal(recorded, got, strict_types=True) else ""


def compare_requests(
    recorded: bytes, got: bytes, *, ignore_ids: bool = False, matchers: Sequence[Matcher] = ()
) -> str | None:
    """:func:`compare` on the wire bytes: ``None`` when ``got`` counts as ``recorded``.

    Text that is not JSON must be the same text.  ``ignore_ids`` (a cassette with
    renumbered ids): any id stands for the recorded one, but an id must be there exactly
    when the recorded request had one.
    """
    try:
        expected, actual = parse_json(recorded), parse_json(got)
    except ValueError:
        return None if recorded.strip() == got.strip() else ""
    if ignore_ids:
        if (top_level_member(recorded, "id") is None) != (top_level_member(got, "id") is None):
            return ""
        expected, actual = without_id(expected), without_id(actual)
    return compare(expected, actual, matchers)
