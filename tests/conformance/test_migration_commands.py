"""The generated migration-command sequence: the fake must answer as QEMU did.

``fakeqemu/recorder/differential`` builds, from each release's introspection, about 1,900
migration commands with valid and invalid arguments (see its stages), sent to a
source, a destination and spare destinations.  ``tests/data/recordings/<v>/
migration-commands.jsonl`` holds what real QEMU answered (``fakeqemu capture
commands``); the fake must answer the same, for every release, without QEMU.  With
a real QEMU installed (CI: 7.2; ``FAKEQEMU_REAL_QEMU`` picks another), the sequence
is also sent live to both.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import pytest

from fakeqemu.fake.config import FakeQemuConfig
from fakeqemu.profiles import get_profile
from fakeqemu.recorder.differential.capture import read_records
from fakeqemu.recorder.differential.machines import fake_machines, real_machines, scratch_directory
from fakeqemu.recorder.differential.runner import Record, probe_requests, run_probes
from fakeqemu.recorder.differential.sequence import sides_of
from fakeqemu.recorder.differential.stages import generate
from tests.conformance.test_real_qemu import _real_qemu
from tests.support.differential_compare import differences
from tests.support.recordings import RECORDINGS, VERSIONS
from tests.support.strict import STRICT_HOOKS

#: An idle ``-S`` guest: only the machine's ROM blocks hold data (observed: 49 to 51 of
#: its 32,898 pages are not zero).
IDLE_GUEST = {"zero-share": str(1 - 49 / 32898)}
#: The fakes run ten times faster than real time, so a quiet period can be shorter.
FAKE_SPEED = 10.0
FAKE_QUIET = 0.1
#: Generous bounds for one pass (measured: about 5 s against QEMU, 3 s against the fakes).
LIVE_SECONDS = 60


def _stored(version: str) -> list[Record]:
    return read_records(RECORDINGS / version / "migration-commands.jsonl")


def fake_records(version: str, requests: Sequence[tuple[str, str, bool]]) -> list[Record]:
    config = FakeQemuConfig(profile=version, start_paused=True, backend_options=IDLE_GUEST)
    with (
        scratch_directory() as directory,
        fake_machines(
            config, sides_of(requests), directory, speed=FAKE_SPEED, hooks=STRICT_HOOKS
        ) as paths,
    ):
        return run_probes(paths, requests, directory, quiet=FAKE_QUIET)


@pytest.mark.parametrize("version", VERSIONS)
def test_the_recording_holds_what_the_generator_makes(version: str) -> None:
    generated = probe_requests(generate(get_profile(version)))
    stored = [(r.side, r.request, r.volatile) for r in _stored(version)]
    assert stored == generated, "regenerate with: fakeqemu capture commands --qemu BINARY OUT"


@pytest.mark.parametrize("version", VERSIONS)
def test_the_fake_answers_the_recorded_sequence_as_qemu_did(version: str) -> None:
    stored = _stored(version)
    requests = [(r.side, r.request, r.volatile) for r in stored]
    found = differences(stored, fake_records(version, requests))
    assert not found, f"{len(found)} of {len(stored)} differ:\n" + "\n".join(found[:5])


@pytest.mark.real_qemu
def test_the_fake_answers_the_generated_sequence_as_real_qemu_does() -> None:
    binary, version = _real_qemu()
    requests = probe_requests(generate(get_profile(version)))
    started = time.monotonic()
    with scratch_directory() as directory, real_machines(binary, sides_of(requests)) as paths:
        real = run_probes(paths, requests, directory)
    found = differences(real, fake_records(version, requests))
    assert not found, f"{len(found)} of {len(real)} differ:\n" + "\n".join(found[:5])
    assert time.monotonic() - started < LIVE_SECONDS
