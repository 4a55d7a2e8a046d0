"""``fakeqemu contracts diff A B --verdict``: is each change breaking for a tool's decoder?

A decoder is written (or generated) against the first contract, and then reads what
the second one allows.  Three kinds:

* ``strict``: rejects unknown members and unknown enum values, and requires every
  member its contract declares required (go-qemu's generated structs, qapi-rs);
* ``lenient``: ignores what it does not know (unknown members, unknown enum values)
  but still needs the members its contract promised;
* ``allow-list``: reads only the members it names and accepts only the values it
  lists: unknown members pass, an unknown ``status`` is rejected.

Any decoder breaks when a member it may rely on can be missing (removed while
required, made optional, absent in a status where it was required) or changes type.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fakeqemu.contracts.diff import Member

DECODERS = ("strict", "lenient", "allow-list")
BREAKING, SAFE = "breaking", "safe"


def _all(verdict: str) -> dict[str, str]:
    return dict.fromkeys(DECODERS, verdict)


def _unknown_member() -> dict[str, str]:
    return {"strict": BREAKING, "lenient": SAFE, "allow-list": SAFE}


def _unknown_value() -> dict[str, str]:
    return {"strict": BREAKING, "lenient": SAFE, "allow-list": BREAKING}


def judge(path: str, change: str, known: Mapping[str, Member] | None) -> dict[str, str]:
    """The verdict per decoder for one line of ``fakeqemu contracts diff``."""
    if path.startswith("status ") and change.startswith("added"):
        return _unknown_value()  # a status a rule covers that the first contract lacks
    if change.startswith("added"):
        return _unknown_member()
    if change == "removed":
        member = None if known is None else known.get(path)
        return _all(BREAKING if member is None or member.required else SAFE)
    if change == "made optional" or change.startswith("type changed"):
        return _all(BREAKING)
    if change.startswith("enum values added"):
        return _unknown_value()
    if change.startswith(("made required", "enum values removed", "features changed")):
        return _all(SAFE)
    # A role's presence in some statuses: "required -> absent  (status completed)".
    before, _, after = change.partition("  (")[0].partition(" -> ")
    was_required = before.startswith("required")
    now_required = after.startswith("required")
    return _all(BREAKING if was_required and not now_required else SAFE)
