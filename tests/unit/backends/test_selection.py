"""Choosing a backend: by name, as ``module:Class``, through the entry-point group, and
from the command line; a name nobody knows is refused with the names that exist."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import trio
import trio.testing

from fakeqemu.backends import BackendError, known_backends
from fakeqemu.backends.faker_backend import workload_for_seed
from fakeqemu.fake.config import FakeQemuConfig
from fakeqemu.model.ram import PC_EXTRA_RAM
from tests.support.custom_backend import SteadyBackend
from tests.support.fakes import migrate
from tests.support.strict import make_fake

REPO = Path(__file__).resolve().parents[3]
STEADY = "tests.support.custom_backend:SteadyBackend"


def test_an_unknown_backend_is_refused_with_the_known_ones() -> None:
    with pytest.raises(BackendError) as raised:
        make_fake(FakeQemuConfig(backend="fast"))
    assert str(raised.value) == (
        "unknown backend 'fast'; known backends: faker, model, replay (or module:Class)"
    )
    with pytest.raises(BackendError, match="cannot load backend 'nowhere:Thing': No module"):
        make_fake(FakeQemuConfig(backend="nowhere:Thing"))
    with pytest.raises(BackendError, match="has no option zero-shar"):
        make_fake(FakeQemuConfig(backend_options={"zero-shar": "0.5"}))


async def test_a_plain_class_plugs_in_as_module_colon_class(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    fake = make_fake(FakeQemuConfig(backend=STEADY, backend_options={"seconds": "3"}))
    migration = await migrate(tmp_path, fake, poll=0.5)
    final = migration.final
    pages = final["ram"]["total"] // 4096
    assert final["status"] == "completed"
    # The class's numbers, whatever max-bandwidth says: 3 s for everything, all normal.
    assert 3000 <= final["total-time"] <= 3200
    assert final["ram"]["normal"] == pages
    assert final["ram"]["duplicate"] == 0
    assert final["ram"]["normal-bytes"] == pages * 4096
    halfway = next(info for info in migration.infos if info.get("total-time", 0) >= 1500)
    assert 0.45 * pages <= halfway["ram"]["normal"] <= 0.6 * pages


def test_a_backend_object_can_be_passed_in_python() -> None:
    fake = make_fake(FakeQemuConfig(), backend=SteadyBackend)
    assert fake.vm.backend.factory is SteadyBackend


@pytest.fixture
def steady_distribution(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An installed distribution that registers ``steady`` in the ``fakeqemu.backends`` group."""
    site = tmp_path / "site"
    info = site / "steady_backend-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: steady-backend\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[fakeqemu.backends]\nsteady = {STEADY}\n")
    monkeypatch.syspath_prepend(str(site))
    return site


async def test_a_backend_plugs_in_through_the_entry_point_group(
    steady_distribution: Path, tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    assert known_backends()["steady"] == STEADY
    fake = make_fake(FakeQemuConfig(backend="steady", backend_options={"seconds": "1"}))
    assert fake.vm.backend.factory is SteadyBackend
    final = (await migrate(tmp_path, fake)).final
    assert final["ram"]["normal"] == final["ram"]["total"] // 4096


def test_faker_workloads_repeat_with_their_seed() -> None:
    workloads = [workload_for_seed(seed) for seed in range(1000)]
    assert workloads[:10] == [workload_for_seed(seed) for seed in range(10)]
    assert len(set(workloads)) == 1000
    sizes = [w.ram for w in workloads if w.ram is not None]
    assert min(sizes) < 256 << 20
    assert max(sizes) > 1 << 40
    assert all(0 <= w.zero_share <= 0.99 for w in workloads)
    assert 0.1 < sum(w.dirty_rate == 0 for w in workloads) / 1000 < 0.3


async def test_faker_serves_the_workload_of_its_seed(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    # Fixing the guest's size keeps it quick; the rest of workload 7 stays made up.
    fake = make_fake(FakeQemuConfig(backend="faker", seed=7, backend_options={"ram": "256M"}))
    info = (await migrate(tmp_path, fake, poll=0.2)).infos[1]
    assert info["ram"]["total"] == (256 << 20) + PC_EXTRA_RAM
    workload = workload_for_seed(7)
    link = workload.link_bandwidth
    assert info["ram"]["mbps"] <= min(link, 128 << 20) * 8 / 1e6 * 1.01


def _wait_for_line(process: subprocess.Popen[str]) -> str:
    assert process.stdout is not None
    return process.stdout.readline()


def test_the_command_line_takes_a_backend_an_option_and_a_seed(
    steady_distribution: Path, tmp_path: Path
) -> None:
    """``fakeqemu serve --backend steady`` finds the entry point of an installed
    distribution; an unknown name ends the command before it listens."""
    env = {**os.environ, "PYTHONPATH": f"{steady_distribution}{os.pathsep}{REPO}"}
    refused = subprocess.run(
        [
            sys.executable,
            "-m",
            "fakeqemu",
            "serve",
            "--unix",
            str(tmp_path / "x.sock"),
            "--backend",
            "fast",
        ],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert refused.returncode == 2
    assert "known backends: faker, model, replay, steady" in refused.stderr
    assert not (tmp_path / "x.sock").exists()

    path = str(tmp_path / "qmp.sock")
    command = [
        sys.executable,
        "-m",
        "fakeqemu",
        "serve",
        "--unix",
        path,
        "--backend",
        "steady",
        "--backend-opt",
        "seconds=1",
        "--seed",
        "3",
    ]
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    ) as process:
        try:
            assert "on unix:" in _wait_for_line(process)
            with socket.socket(socket.AF_UNIX) as sock:
                sock.settimeout(10)
                sock.connect(path)
                assert b"QMP" in sock.recv(65536)
                # Answered by the trio server, which by then handles SIGTERM.
                sock.sendall(b'{"execute": "qmp_capabilities"}')
                assert sock.recv(65536) == b'{"return": {}}\r\n'
        finally:
            process.send_signal(signal.SIGTERM)
            _, stderr = process.communicate(timeout=10)
    assert process.returncode == 0, stderr
