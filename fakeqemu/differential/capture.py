"""``fakeqemu capture commands``: record a real QEMU answering the generated sequence.

    fakeqemu capture commands --qemu qemu-system-x86_64 OUT.jsonl

The release is read from ``--version``; its profile's introspection generates the
sequence (:func:`fakeqemu.differential.stages.generate`), and one QEMU process per
side answers it.  Each line of OUT is a :class:`~fakeqemu.differential.runner.Record`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from fakeqemu.differential.machines import qemu_version, real_machines, scratch_directory
from fakeqemu.differential.runner import Record, probe_requests, run_probes
from fakeqemu.differential.sequence import sides_of
from fakeqemu.differential.stages import generate
from fakeqemu.profiles import get_profile


def capture_commands(binary: str, out: Path) -> int:
    requests = probe_requests(generate(get_profile(qemu_version(binary))))
    with scratch_directory() as directory, real_machines(binary, sides_of(requests)) as paths:
        records = run_probes(paths, requests, directory)
    write_records(out, records)
    return len(records)


def write_records(out: Path, records: Iterable[Record]) -> None:
    with out.open("w") as sink:
        for record in records:
            sink.write(json.dumps(record.to_json()) + "\n")


def read_records(path: Path) -> list[Record]:
    lines = path.read_text().splitlines()
    return [Record.from_json(json.loads(line)) for line in lines if line.strip()]
