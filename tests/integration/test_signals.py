"""SIGTERM, SIGINT and SIGHUP end ``fakeqemu serve`` as they end QEMU, at any moment.

Observed on QEMU 7.2, 10.0 and 11.1: SHUTDOWN ``host-signal`` to each negotiated
client, ``qemu-system-x86_64: terminating on signal N from pid P (ARGV0)`` on
stderr, socket files removed, exit status 0.
"""

from __future__ import annotations

import ast
import json
import os
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from fakeqemu.cli import main
from tests.support.processes import (
    TIMEOUT,
    my_name,
    read_all,
    real_qemu,
    signals_blocked,
    spawn_serve,
    stop,
    wait_for,
)
from tests.support.recordings import mask_timestamps

SIGNALS = [signal.SIGTERM, signal.SIGINT, signal.SIGHUP]
SHUTDOWN = (
    b'{"timestamp": {"seconds": 0, "microseconds": 0}, "event": "SHUTDOWN", '
    b'"data": {"guest": false, "reason": "host-signal"}}\r\n'
)


def kill_line(signo: int) -> bytes:
    return (
        f"qemu-system-x86_64: terminating on signal {int(signo)} from pid {os.getpid()} "
        f"({my_name()})\n"
    ).encode()


def assert_ended_as_qemu(proc: subprocess.Popen[bytes], signo: int, path: str) -> bytes:
    _, stderr = stop(proc)
    assert proc.returncode == 0, stderr
    assert stderr.endswith(kill_line(signo)), stderr
    assert b"Traceback" not in stderr
    assert not os.path.exists(path), "the socket file is removed"
    return stderr


@pytest.mark.parametrize("signo", SIGNALS)
def test_a_signal_as_soon_as_the_fake_can_see_it(signo: int, tmp_path: Path) -> None:
    """The earliest moment: right after `serve` blocked the signals, before it binds."""
    path = str(tmp_path / "m.sock")
    proc = spawn_serve("--unix", path)
    try:
        wait_for(lambda: signals_blocked(proc.pid, signo), "the signals to be blocked")
        proc.send_signal(signo)
    finally:
        assert_ended_as_qemu(proc, signo, path)


@pytest.mark.parametrize("signo", SIGNALS)
def test_a_signal_while_the_fake_imports(signo: int, tmp_path: Path) -> None:
    """The socket file exists (bound, greeting early clients) but trio is not running."""
    path = str(tmp_path / "m.sock")
    proc = spawn_serve("--unix", path)
    try:
        wait_for(lambda: os.path.exists(path), "the socket file")
        proc.send_signal(signo)
    finally:
        assert_ended_as_qemu(proc, signo, path)


@pytest.mark.parametrize("signo", SIGNALS)
def test_a_negotiated_client_receives_shutdown_host_signal(signo: int, tmp_path: Path) -> None:
    path = str(tmp_path / "m.sock")
    other = str(tmp_path / "other.sock")
    proc = spawn_serve("--profile", "7.2", "--unix", path, "--unix", other)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().startswith(b"fakeqemu: QEMU 7.2.22")
        with socket.socket(socket.AF_UNIX) as client, socket.socket(socket.AF_UNIX) as idle:
            client.settimeout(TIMEOUT)
            client.connect(path)
            client.sendall(b'{"execute":"qmp_capabilities"}')
            received = b""
            while received.count(b"\r\n") < 2:
                received += client.recv(65536)
            idle.connect(other)  # greeted, never negotiated: no event for it
            proc.send_signal(signo)
            after = read_all(client)
            assert read_all(idle).count(b"\r\n") == 1
    finally:
        assert_ended_as_qemu(proc, signo, path)
    assert not os.path.exists(other)
    assert mask_timestamps(after) == SHUTDOWN
    assert json.loads(after)["timestamp"]["seconds"] > 0


def test_a_second_signal_during_shutdown_changes_nothing(tmp_path: Path) -> None:
    path = str(tmp_path / "m.sock")
    proc = spawn_serve("--unix", path)
    try:
        assert proc.stdout is not None
        proc.stdout.readline()
        with socket.socket(socket.AF_UNIX) as client:
            client.settimeout(TIMEOUT)
            client.connect(path)
            client.sendall(b'{"execute":"qmp_capabilities"}')
            received = b""
            while received.count(b"\r\n") < 2:
                received += client.recv(65536)
            proc.send_signal(signal.SIGTERM)
            while b"SHUTDOWN" not in received:
                received += client.recv(65536)
            proc.send_signal(signal.SIGINT)
    finally:
        stderr = assert_ended_as_qemu(proc, signal.SIGTERM, path)
    assert stderr.count(b"terminating on signal") == 1


@pytest.mark.real_qemu
@pytest.mark.parametrize("signo", [signal.SIGTERM, signal.SIGINT])
def test_real_qemu_sends_the_same_shutdown_and_line(signo: int, tmp_path: Path) -> None:
    """The fake's SHUTDOWN bytes and stderr line against real QEMU's (timestamps masked)."""

    def after_signal(proc: subprocess.Popen[bytes], path: str) -> tuple[bytes, bytes]:
        with socket.socket(socket.AF_UNIX) as client:
            client.settimeout(TIMEOUT)
            client.connect(path)
            client.sendall(b'{"execute":"qmp_capabilities"}')
            received = b""
            while received.count(b"\r\n") < 2:
                received += client.recv(65536)
            proc.send_signal(signo)
            return received, read_all(client)

    path = str(tmp_path / "q.sock")
    with real_qemu(path) as qemu:
        real_before, real_after = after_signal(qemu, path)
        _, real_stderr = qemu.communicate(timeout=TIMEOUT)
    assert qemu.returncode == 0
    version = json.loads(real_before.split(b"\r\n")[0])["QMP"]["version"]["qemu"]
    fake_path = str(tmp_path / "f.sock")
    proc = spawn_serve("--profile", f"{version['major']}.{version['minor']}", "--unix", fake_path)
    try:
        assert proc.stdout is not None
        proc.stdout.readline()
        fake_before, fake_after = after_signal(proc, fake_path)
    finally:
        _, fake_stderr = stop(proc)
    assert fake_before == real_before
    assert mask_timestamps(fake_after) == mask_timestamps(real_after) == SHUTDOWN
    assert fake_stderr == real_stderr == kill_line(signo)
    assert proc.returncode == qemu.returncode == 0


#: Runs `fakeqemu serve` on a pseudo-terminal and types Ctrl-C at it, as a user would.
#: In a child interpreter, so that pytest's own process never forks.
CTRL_C_AT_A_TERMINAL = r"""
import os, pty, sys, time
path = sys.argv[1]
pid, fd = pty.fork()
if pid == 0:
    os.execv(sys.executable, [sys.executable, "-m", "fakeqemu", "serve", "--unix", path])
output = b""
while b"\n" not in output:
    output += os.read(fd, 4096)
os.write(fd, b"\x03")
while True:
    try:
        chunk = os.read(fd, 4096)
    except OSError:
        break
    if not chunk:
        break
    output += chunk
_, status = os.waitpid(pid, 0)
sys.stdout.write(repr((output, os.waitstatus_to_exitcode(status))))
"""


def test_ctrl_c_at_a_terminal_has_no_sender_pid(tmp_path: Path) -> None:
    """The kernel sends it: QEMU then prints the short line (observed on all three)."""
    path = str(tmp_path / "m.sock")
    done = subprocess.run(
        [sys.executable, "-c", CTRL_C_AT_A_TERMINAL, path],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=True,
    )
    output, status = ast.literal_eval(done.stdout)
    assert status == 0
    assert output.endswith(b"^Cqemu-system-x86_64: terminating on signal 2\r\n")
    assert b"Traceback" not in output
    assert not os.path.exists(path)


def test_a_program_that_calls_main_gets_its_signals_back() -> None:
    before = signal.pthread_sigmask(signal.SIG_BLOCK, [])
    assert main(["serve"]) == 2  # no monitor: a usage error, after the signals were taken
    assert signal.pthread_sigmask(signal.SIG_BLOCK, []) == before
    assert not [t for t in threading.enumerate() if t.name == "fakeqemu-signals"]
