"""The one bind/listen/unlink helper: what it binds, what it removes, and what it leaves."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from fakeqemu.recorder.record import listening_on
from fakeqemu.server.endpoints import Endpoint
from fakeqemu.server.listeners import BindError, Listeners


def test_binds_unix_and_tcp_and_removes_only_its_own_files(tmp_path: Path) -> None:
    path = str(tmp_path / "m.sock")
    endpoints = [Endpoint("unix", path=path), Endpoint("connect", path="x"), Endpoint("tcp")]
    listeners = Listeners().bind_all(endpoints)
    assert sorted(listeners.sockets) == [0, 2]
    assert listeners.sockets[2].getsockname()[1] > 0
    with socket.socket(socket.AF_UNIX) as client:
        client.connect(path)
    listeners.close()
    assert not os.path.exists(path)


def test_a_failure_closes_what_was_bound_and_names_the_option(tmp_path: Path) -> None:
    first = str(tmp_path / "first.sock")
    endpoints = [Endpoint("unix", path=first), Endpoint("unix", path="/no/such/dir/x.sock")]
    with pytest.raises(BindError) as caught:
        Listeners().bind_all(endpoints)
    assert caught.value.option == "--unix /no/such/dir/x.sock"
    assert "Failed to bind socket to /no/such/dir/x.sock" in str(caught.value)
    assert not os.path.exists(first)


def test_the_recorder_leaves_a_socket_file_another_process_put_there(tmp_path: Path) -> None:
    path = str(tmp_path / "proxy.sock")
    with listening_on([Endpoint("unix", path=path)]) as (_, listening):
        assert listening.sockets == [path]
        os.unlink(path)
        with socket.socket(socket.AF_UNIX) as other:
            other.bind(path)  # another process takes the path over
    assert os.path.exists(path), "the recorder removed a socket file that was not its own"
