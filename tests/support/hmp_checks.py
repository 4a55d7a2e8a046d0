"""HMP ``info migrate`` during a replayed migration: the same lines as QEMU's, in order.

Numbers and sizes masked, the fake's ``info migrate`` answers in each status must be
QEMU's: so a line QEMU prints only while its counter is non-zero (``dirty pages rate``,
``downtime ram``, ``precopy ram``, ...) must come and go in the fake's answers too, and
the xbzrle block likewise.  Compared per status rather than per poll, as the layouts
of ``query-migrate`` are: a poll near a transition may find either side a window ahead.
"""

from __future__ import annotations

import json
import re

from tests.support.scenario_checks import SHOWN
from tests.support.scenario_driver import Transcript
from tests.support.scenario_recording import SIDES, Recording, SideLog

#: A number, with its size unit if it is a size (``32.9 MiB``, ``0 B``): sizes are numbers.
_NUMBER = re.compile(r"\d+(?:\.\d+)?(?: [KMGTPE]?i?B\b)?")


def _lines(reply: str | None) -> list[str] | None:
    if reply is None:
        return None
    text = json.loads(reply).get("return")
    return _NUMBER.sub("#", text).split("\r\n") if isinstance(text, str) else None


def _status(lines: list[str]) -> str:
    """The status line of a masked ``info migrate`` (``-`` when it shows none)."""
    return next((line for line in lines if line.startswith(("Migration status", "Status"))), "-")


def layouts_by_status(log: SideLog) -> dict[str, list[list[str]]]:
    """Each ``info migrate`` answer, masked, grouped by the status it shows; distinct ones."""
    found: dict[str, list[list[str]]] = {}
    for exchange in log.replayed():
        if exchange.command != "human-monitor-command" or "info migrate" not in exchange.request:
            continue
        lines = _lines(exchange.reply)
        if lines is not None and lines not in found.setdefault(_status(lines), []):
            found[_status(lines)].append(lines)
    return found


def check_hmp(recorded: SideLog, fake: SideLog) -> list[str]:
    """Per status both show (statuses themselves are the layouts check's business), the
    same distinct ``info migrate`` answers, lines in order."""
    theirs, ours = layouts_by_status(recorded), layouts_by_status(fake)
    problems = []
    for status in sorted(theirs.keys() & ours.keys()):
        problems += [
            f"{recorded.side} {status!r}: QEMU's {lines} never in the fake's {ours[status]}"
            for lines in theirs[status]
            if lines not in ours[status]
        ]
        problems += [
            f"{recorded.side} {status!r}: the fake's {lines} never in QEMU's {theirs[status]}"
            for lines in ours[status]
            if lines not in theirs[status]
        ]
    return problems[:SHOWN]


def compare_hmp(recording: Recording, transcript: Transcript) -> list[str]:
    return [
        f"[hmp] {problem}"
        for side in SIDES
        for problem in check_hmp(recording.sides[side], transcript.sides[side])
    ]
