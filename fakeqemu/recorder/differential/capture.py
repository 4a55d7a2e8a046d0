"""``fakeqemu capture commands|migrations``: record real QEMU for the differential tests.

    fakeqemu capture commands --qemu qemu-system-x86_64 OUT.jsonl
    fakeqemu capture migrations --qemu qemu-system-x86_64 OUTDIR

``commands``: the release is read from ``--version``; its profile's introspection
generates the sequence (:func:`fakeqemu.recorder.differential.stages.generate`), and one QEMU
process per side answers it.  Each line of OUT is a
:class:`~fakeqemu.recorder.differential.runner.Record`.  ``migrations``: each scenario of
:mod:`fakeqemu.recorder.differential.migrations` on a QEMU pair, in the format of the recorded
migrations (``tests/data/recordings/<v>/precopy.jsonl``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from fakeqemu.profiles import get_profile
from fakeqemu.recorder.differential.machines import qemu_version, real_machines, scratch_directory
from fakeqemu.recorder.differential.migrations import (
    SCENARIOS,
    Scenario,
    qemu_arguments,
    run_scenario,
)
from fakeqemu.recorder.differential.runner import Record, probe_requests, run_probes
from fakeqemu.recorder.differential.sequence import sides_of
from fakeqemu.recorder.differential.stages import generate


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


def capture_migrations(binary: str, out: Path) -> int:
    """Each capability's migration on a real QEMU pair, one ``<scenario>.jsonl`` in ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    for scenario in SCENARIOS:
        lines = record_migration(binary, scenario)
        with (out / f"{scenario.name}.jsonl").open("w") as sink:
            for line in lines:
                sink.write(json.dumps(line) + "\n")
    return len(SCENARIOS)


def record_migration(binary: str, scenario: Scenario) -> list[dict[str, Any]]:
    with scratch_directory() as directory:

        def arguments(side: str) -> tuple[str, ...]:
            return qemu_arguments(scenario, directory, side)

        with real_machines(
            binary, ("src", "dst"), memory=str(scenario.memory), side_arguments=arguments
        ) as paths:
            return run_scenario(scenario, paths)
