"""`fakeqemu serve` and `fakeqemu profiles` as a user runs them: a real process."""

from __future__ import annotations

import signal
import socket
from pathlib import Path

import pytest

from fakeqemu.cli import main
from tests.support.processes import spawn_fakeqemu


def exchange(path: str, request: bytes, replies: int) -> list[bytes]:
    with socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(5)
        sock.connect(path)
        data = b""
        sock.sendall(request)
        while data.count(b"\r\n") < replies:
            chunk = sock.recv(65536)
            assert chunk
            data += chunk
    return data.split(b"\r\n")[:replies]


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT])
def test_serve_prints_where_it_listens_and_stops_cleanly(tmp_path: Path, stop: int) -> None:
    path = str(tmp_path / "qmp.sock")
    proc = spawn_fakeqemu("serve", "--profile", "10.0", "--unix", path, "-S", "--name", "vm1", "-v")
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line == (
            "fakeqemu: QEMU 10.0.2 (profile 10.0, shape old, memory 128 MiB, backend model,"
            f" seed none, speed 1.0, scenario none) on unix:{path}\n"
        )
        greeting, _caps, status, name, resume, _cont = exchange(
            path,
            b'{"execute":"qmp_capabilities"}{"execute":"query-status"}{"execute":"query-name"}'
            b'{"execute":"cont"}',
            6,
        )
        assert greeting.startswith(b'{"QMP": {"version": {"qemu": {"micro": 2, "minor": 0')
        assert status == b'{"return": {"status": "prelaunch", "running": false}}'
        assert name == b'{"return": {"name": "vm1"}}'
        assert b'"event": "RESUME"' in resume
        proc.send_signal(stop)
        _, stderr = proc.communicate(timeout=10)
    finally:
        proc.kill()
    assert proc.returncode == 0
    assert "fakeqemu: query-status" in stderr, "-v logs each command"
    assert "fakeqemu: event RESUME" in stderr, "-v logs each event"
    assert not Path(path).exists(), "the socket file is removed"


def test_serve_needs_a_monitor(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve"]) == 2
    assert "--unix" in capsys.readouterr().err


def test_serve_rejects_an_unknown_profile(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--profile", "9.9", "--unix", "/tmp/never.sock"]) == 2
    assert "unknown profile '9.9'" in capsys.readouterr().err


def test_profiles_lists_every_release(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["profiles"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in out] == ["7.2", "10.0", "11.1"]
    assert "Debian 1:11.1.3+ds-1~bpo13+1" in out[2]
