"""Loading and masking the real-QEMU recordings the conformance tests compare against."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fakeqemu.recorder.capture import Chunk, chunk_bytes

RECORDINGS = Path(__file__).parents[1] / "data" / "recordings"
#: The releases recorded, oldest first: one folder each.
VERSIONS = tuple(
    sorted(
        (folder.name for folder in RECORDINGS.iterdir() if folder.is_dir()),
        key=lambda name: tuple(int(part) for part in name.split(".")),
    )
)

_TIMESTAMP = re.compile(rb'"timestamp": \{"seconds": \d+, "microseconds": \d+\}')


def mask_timestamps(data: bytes) -> bytes:
    """Event timestamps depend on when they were recorded; nothing else is masked."""
    return _TIMESTAMP.sub(b'"timestamp": {"seconds": 0, "microseconds": 0}', data)


@dataclass(frozen=True)
class ProbeCase:
    version: str
    name: str
    sent: list[Chunk]
    replies: list[bytes]
    greeting: bytes
    before_caps: bool

    @property
    def id(self) -> str:
        return f"{self.version}-{self.name}"

    @property
    def chunks(self) -> list[bytes]:
        """What was written, chunk by chunk (built on each use: limit cases are 64 MiB)."""
        return [chunk_bytes(chunk) for chunk in self.sent]


def probe_cases(version: str, filename: str = "probes.jsonl") -> list[ProbeCase]:
    """The cases of ``probes.jsonl``, or of ``limits.jsonl`` (the inputs at QEMU's limits)."""
    cases = []
    for line in (RECORDINGS / version / filename).read_text().splitlines():
        raw = json.loads(line)
        cases.append(
            ProbeCase(
                version=version,
                name=raw["name"],
                sent=raw["send"],
                # The recorder wrote everything as Latin-1 bytes.
                replies=[reply.encode("latin-1") for reply in raw["replies"]],
                greeting=raw["greeting"].encode("latin-1"),
                before_caps=raw["before_caps"],
            )
        )
    return cases


def queries(version: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((RECORDINGS / version / "queries.json").read_text())
    return data
