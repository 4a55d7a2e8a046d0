"""Comparing two recordings of the generated differential sequence, QEMU's and the fake's.

Masked: event timestamps everywhere; in records sent while a migration runs
(``volatile``), every number and size (``485 KiB``), so that lines and members are
compared but not the counters' values.  Where QEMU itself races, the reply to a
command that starts background work may come before or after that work's events;
such a success reply is compared apart from the events, whose order still counts.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

from fakeqemu.recorder.differential.runner import BACKGROUND, Record

_TIMESTAMP = re.compile(r'"timestamp": \{"seconds": \d+, "microseconds": \d+\}')
_NUMBER = re.compile(r"\d+(\.\d+)?( [KMGTPE]i)?B?")


def _mask(line: str, volatile: bool) -> str:
    line = _TIMESTAMP.sub('"timestamp": {}', line)
    return _NUMBER.sub("N", line) if volatile else line


def normalized(record: Record) -> list[str]:
    lines = [_mask(line, record.volatile) for line in record.lines]
    if json.loads(record.request)["execute"] in BACKGROUND and lines:
        reply = next((line for line in lines if line.startswith('{"return"')), None)
        if reply is not None:
            lines = [line for line in lines if line is not reply] + ["reply: " + reply]
    for side in sorted(record.later):
        lines += [f"{side}: {_mask(line, record.volatile)}" for line in record.later[side]]
    return lines


def differences(expected: Sequence[Record], actual: Sequence[Record]) -> list[str]:
    """One message per record that differs (both lists answer the same requests)."""
    assert len(expected) == len(actual), (len(expected), len(actual))
    found = []
    for want, got in zip(expected, actual, strict=True):
        assert want.request == got.request
        if normalized(want) != normalized(got):
            found.append(
                f"{want.side} {want.request}\n  QEMU {normalized(want)}\n  fake {normalized(got)}"
            )
    return found
