"""``--backend replay:PATH``: a recorded migration's counters, played back by the fakes.

The recorded requests are sent to two fakes at their recorded times (the conformance
driver, on trio's virtual clock); the source fake replays the ``src`` side of the same
recording.  Each recorded ``query-migrate`` must get the recorded ``ram`` back, or the
one recorded just before or after it.
"""

from __future__ import annotations

import dataclasses
import io
import json
from pathlib import Path

import pytest
import trio
import trio.testing

from fakeqemu.backends import BackendError
from fakeqemu.fake.config import FakeQemuConfig
from fakeqemu.fake.qemu import FakeQemu
from tests.support.fakes import migrate
from tests.support.recordings import RECORDINGS, VERSIONS
from tests.support.scenario_checks import compare, query_migrate_returns
from tests.support.scenario_driver import Transcript, replay
from tests.support.scenario_recording import SCENARIOS, Recording, load_recording
from tests.support.strict import make_fake


async def replayed(version: str, scenario: str, workdir: Path) -> tuple[Recording, Transcript]:
    path = RECORDINGS / version / f"{scenario}.jsonl"

    def replaying_fake(config: FakeQemuConfig) -> FakeQemu:
        return make_fake(dataclasses.replace(config, backend=f"replay:{path}"))

    recording = load_recording(version, scenario)
    return recording, await replay(recording, version, workdir, make_fake=replaying_fake)


def sample_offsets(recording: Recording, transcript: Transcript) -> list[int | None]:
    """Per recorded source query-migrate with ram: which recorded sample the fake answered
    with, relative to it (0: the same; None: none of them)."""
    recorded = [
        (exchange.index, info["ram"])
        for exchange, info in query_migrate_returns(recording.sides["src"])
        if "ram" in info
    ]
    rams = [ram for _, ram in recorded]
    fake = {e.index: info for e, info in query_migrate_returns(transcript.sides["src"])}
    offsets: list[int | None] = []
    for position, (index, _) in enumerate(recorded):
        got = fake.get(index, {}).get("ram")
        matches = [n - position for n, ram in enumerate(rams) if ram == got]
        offsets.append(min(matches, key=abs) if matches else None)
    return offsets


@pytest.mark.parametrize("version", VERSIONS)
async def test_precopy_replays_the_recorded_ram_within_one_sample(
    version: str, tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    recording, transcript = await replayed(version, "precopy", tmp_path)
    offsets = sample_offsets(recording, transcript)
    assert len(offsets) >= 9
    assert all(offset is not None and abs(offset) <= 1 for offset in offsets), offsets
    if version in ("10.0", "11.1"):
        # Measured: every sample at its own time (7.2's recorder paused 157 ms once).
        assert offsets == [0] * len(offsets)


@pytest.mark.parametrize("scenario", SCENARIOS)
@pytest.mark.parametrize("version", VERSIONS)
async def test_replaying_fakes_still_look_like_qemu(
    version: str, scenario: str, tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    """Events, key layouts per status and final replies stay QEMU's (a cancelled recording
    never converges, so the fake runs until it is cancelled too)."""
    recording, transcript = await replayed(version, scenario, tmp_path)
    assert compare(recording, transcript) == []


async def test_a_cassette_of_one_fake_replays_through_another(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    """``fakeqemu record``'s own format: record a model migration through the proxy, then
    play its numbers from a fake whose guest is eight times bigger."""
    cassette = io.StringIO()
    parameters = {"max-bandwidth": 16 << 20}
    source = make_fake(FakeQemuConfig(profile="11.1"))
    recorded = await migrate(
        tmp_path, source, parameters=parameters, poll=0.1, proxy_cassette=cassette
    )
    path = tmp_path / "migration.cassette"
    path.write_text(cassette.getvalue())
    player = make_fake(FakeQemuConfig(profile="11.1", memory=1 << 30, backend=f"replay:{path}"))
    replayed = await migrate(tmp_path, player, poll=0.1)
    assert replayed.final["ram"] == recorded.final["ram"]
    assert replayed.final["ram"]["total"] == 134750208
    # Polled at the same pace, the samples come back in the same order.
    shown = [info["ram"] for info in replayed.infos if "ram" in info]
    assert shown[1:-1] == [info["ram"] for info in recorded.infos if "ram" in info][1:-1]


async def test_a_destination_replays_the_dst_side(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    """A two-sided cassette of new-shape fakes: a destination replaying it reports what
    the recorded destination received, not what its own source sends."""
    cassette = io.StringIO()

    def fakes(**options: str) -> tuple[FakeQemu, FakeQemu]:
        source = FakeQemuConfig(profile="10.0", shape="new", backend_options=options)
        return make_fake(source), make_fake(dataclasses.replace(source, incoming="defer"))

    recorded = await migrate(
        tmp_path, *fakes(**{"zero-share": "0.5"}), poll=0.2, proxy_cassette=cassette
    )
    path = tmp_path / "both.cassette"
    path.write_text(cassette.getvalue())
    source, _ = fakes(**{"zero-share": "0.9"})
    destination = make_fake(
        FakeQemuConfig(profile="10.0", shape="new", incoming="defer", backend=f"replay:{path}")
    )
    replayed = await migrate(tmp_path, source, destination, poll=0.2)
    assert replayed.final["ram"]["duplicate"] != recorded.final["ram"]["duplicate"]
    for key in ("normal", "duplicate", "transferred", "normal-bytes", "total"):
        assert replayed.destination["ram"][key] == recorded.destination["ram"][key], key


def test_a_recording_without_counters_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "empty.jsonl"
    path.write_text(json.dumps({"t": 0, "side": "src", "dir": "<", "raw": '{"return": {}}\r'}))
    with pytest.raises(BackendError, match="no query-migrate with ram on side 'src'"):
        make_fake(FakeQemuConfig(backend=f"replay:{path}"))
    with pytest.raises(BackendError, match="needs a recording"):
        make_fake(FakeQemuConfig(backend="replay"))
