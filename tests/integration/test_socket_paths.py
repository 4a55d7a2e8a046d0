"""Socket paths and addresses: a second serve on a live socket, IPv6, public binds.

QEMU unlinks a unix socket path and binds its own, even over a live server; the
fake keeps that default but says so, and removes only socket files it created.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import sys
from pathlib import Path

from fakeqemu.server.endpoints import Endpoint
from tests.support.processes import TIMEOUT, serving, spawn_serve, stop


def greeted(path: str) -> bytes:
    with socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(TIMEOUT)
        sock.connect(path)
        return sock.recv(65536)


def test_a_second_serve_on_a_live_socket_warns_and_the_first_exit_leaves_it(
    tmp_path: Path,
) -> None:
    path = str(tmp_path / "m.sock")
    with serving("--profile", "7.2", "--unix", path) as first:
        assert b'"major": 7' in greeted(path)
        with serving("--profile", "11.1", "--unix", path) as second:
            assert b'"major": 11' in greeted(path)
            # The first fake ends: the file is the second's now, and stays.
            first.send_signal(signal.SIGTERM)
            _, first_err = stop(first)
            assert first.returncode == 0
            assert os.path.exists(path)
            assert b'"major": 11' in greeted(path)
            second.send_signal(signal.SIGTERM)
            _, second_err = stop(second)
        assert not os.path.exists(path), "the second fake removes the file it created"
    warning = (
        f"fakeqemu: warning: {path} is being served by process {first.pid} ({sys.executable}); "
        "taking the path over as QEMU does"
    )
    assert warning.encode() in second_err
    assert b"warning" not in first_err


def test_a_stale_socket_file_is_replaced_silently(tmp_path: Path) -> None:
    path = str(tmp_path / "m.sock")
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(path)
    stale.close()  # the file stays, nobody listens
    with serving("--unix", path) as proc:
        assert b"QMP" in greeted(path)
        proc.send_signal(signal.SIGTERM)
        _, err = stop(proc)
    assert b"warning" not in err


def test_the_start_line_names_the_bound_ipv6_port() -> None:
    proc = spawn_serve("--tcp", "[::1]:0")
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().decode()
        match = re.search(r" on tcp:\[::1\]:(\d+)$", line.strip())
        assert match, line
        with socket.create_connection(("::1", int(match[1])), timeout=TIMEOUT) as sock:
            assert b"QMP" in sock.recv(65536)
        proc.send_signal(signal.SIGTERM)
    finally:
        stop(proc)
    assert Endpoint("tcp", host="::", port=4444).describe() == "tcp:[::]:4444"


def test_a_public_address_is_warned_about() -> None:
    """192.0.2.1 (TEST-NET-1) is on no interface here: the bind fails after the warning,
    so the test listens on nothing but loopback."""
    proc = spawn_serve("--tcp", "192.0.2.1:0")
    _, err = stop(proc)
    assert proc.returncode == 1
    lines = err.decode().splitlines()
    assert lines[0] == (
        "fakeqemu: warning: tcp:192.0.2.1:0 listens on address 192.0.2.1: other machines may "
        "reach this fake QEMU; use 127.0.0.1 or ::1 to keep it on this machine"
    )
    assert lines[1].startswith("fakeqemu serve: --tcp 192.0.2.1:0: Failed to bind socket to ")
    everywhere = Endpoint("tcp", host="0.0.0.0", port=4444).exposure_warning()
    assert everywhere is not None
    assert everywhere.startswith("tcp:0.0.0.0:4444 listens on every network interface")
    assert Endpoint("tcp", host="127.0.0.1").exposure_warning() is None
    assert Endpoint("tcp", host="::1").exposure_warning() is None
    assert Endpoint("tcp", host="127.1.2.3").exposure_warning() is None
