"""Live migration the way libvirt drives it, between two fakeqemu-system-x86_64.

libvirt starts the source with its monitor passed as a listening socket, connects to
the destination's ``migrate-incoming`` port itself, hands that connection to the
source with SCM_RIGHTS and ``getfd``, then says ``migrate {"uri": "fd:migrate"}``,
holding the source in ``pre-switchover`` until ``migrate-continue``.  Same here,
without libvirt (the libvirt-marked tests run the real thing).
"""

from __future__ import annotations

import json
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.support.libvirt_conversations import TIMEOUT, Client, Exchange, emulator
from tests.support.recordings import VERSIONS

SOURCE_CAPS = {"pause-before-switchover": True, "return-path": True}
DESTINATION_CAPS = {"late-block-activate": True, "return-path": True}


@contextmanager
def fake(program: str, directory: Path, *extra: str) -> Iterator[Client]:
    """A fake with its monitor passed as a listening socket, as libvirt starts QEMU."""
    path = directory / f"monitor-{len(list(directory.glob('monitor-*')))}.sock"
    with socket.socket(socket.AF_UNIX) as listener:
        listener.bind(str(path))
        listener.listen(1)
        chardev = f"socket,id=charmonitor,fd={listener.fileno()},server=on,wait=off"
        argv = [program, "-S", "-chardev", chardev, *extra]
        argv += ["-mon", "chardev=charmonitor,id=monitor,mode=control"]
        process = subprocess.Popen(argv, pass_fds=[listener.fileno()], stderr=subprocess.DEVNULL)
    try:
        with socket.socket(socket.AF_UNIX) as sock:
            sock.connect(str(path))
            client = Client(sock)
            client.line()
            client.execute("qmp_capabilities")
            yield client
    finally:
        process.terminate()
        process.wait(timeout=TIMEOUT)


def _caps(client: Client, caps: dict[str, bool]) -> None:
    states = [{"capability": "events", "state": True}]
    states += [{"capability": name, "state": on} for name, on in caps.items()]
    assert (
        client.execute("migrate-set-capabilities", {"capabilities": states})[-1]
        == b'{"return": {}}\r\n'
    )


def _wait_for_status(client: Client, status: str, seen: list[str]) -> None:
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        message = json.loads(client.line())
        seen.append(message.get("event", "") + "/" + str(message.get("data", {}).get("status", "")))
        if message.get("event") == "MIGRATION" and message["data"]["status"] == status:
            return
    raise AssertionError(f"no {status} in time: {seen}")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.mark.parametrize("version", VERSIONS)
def test_migration_over_a_passed_socket(version: str, tmp_path: Path) -> None:
    program = emulator(version, tmp_path)
    with fake(program, tmp_path) as source, fake(program, tmp_path, "-incoming", "defer") as dest:
        _caps(source, SOURCE_CAPS)
        _caps(dest, DESTINATION_CAPS)
        source.execute("cont")
        port = _free_port()
        assert b'"return"' in dest.execute("migrate-incoming", {"uri": f"tcp:127.0.0.1:{port}"})[-1]
        with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as dialled:
            getfd = {"fdname": "migrate"}
            assert (
                source.ask(Exchange("getfd", getfd, []), fd=dialled.fileno())[-1]
                == b'{"return": {}}\r\n'
            )
        arguments: dict[str, Any] = {"uri": "fd:migrate"}
        if version == "7.2":
            arguments |= {"detach": True, "resume": False}  # as libvirt 9.0 sends it
        assert source.execute("migrate", arguments)[-1] == b'{"return": {}}\r\n'
        seen: list[str] = []
        _wait_for_status(source, "pre-switchover", seen)
        assert "STOP/" in seen, f"the guest stops before pre-switchover: {seen}"
        reply = source.execute("migrate-continue", {"state": "pre-switchover"})
        assert reply == [b'{"return": {}}\r\n'], "migrate-continue answers before its events"
        _wait_for_status(source, "completed", seen)
        _wait_for_status(dest, "completed", [])
        info = json.loads(source.execute("query-migrate")[-1])["return"]
        assert info["status"] == "completed"
        assert info["ram"]["transferred"] > 0
        # The descriptor was migrate's: the monitor no longer holds it.
        closed = source.execute("closefd", {"fdname": "migrate"})[-1]
        assert b"File descriptor named 'migrate' not found" in closed
        assert b'"RESUME"' in b"".join(dest.execute("cont"))


def test_an_unknown_descriptor_fails_the_migration(tmp_path: Path) -> None:
    with fake(emulator("10.0", tmp_path), tmp_path) as source:
        reply = json.loads(source.execute("migrate", {"uri": "fd:nothing"})[-1])
    assert reply["error"]["desc"] == "File descriptor named 'nothing' has not been found"
