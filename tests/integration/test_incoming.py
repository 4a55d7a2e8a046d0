"""The destination's side as QEMU's: its unix socket while migrating, and a failed load.

Observed with real QEMU 7.2, 10.0 and 11.1: a ``migrate-incoming unix:PATH``
listener keeps its file while the migration runs and removes it when the
incoming migration completes; a destination whose load fails prints
``qemu-system-x86_64: load of migration failed: ...`` and exits with status 1.
"""

from __future__ import annotations

import json
import os
import signal
import socket
from pathlib import Path
from typing import Any

import pytest
import trio
import trio.testing

from fakeqemu.fake.config import FakeQemuConfig
from fakeqemu.server.serve import Endpoint, serve
from tests.support.processes import TIMEOUT, serving, stop, wait_for
from tests.support.qmp_client import Client
from tests.support.strict import make_fake

#: The fakes' clock runs this much faster than real time (not autojump: with real
#: sockets it could jump past a reply still in the kernel, to the test's deadline).
RATE = 20


async def test_the_incoming_unix_socket_stays_while_migrating(
    tmp_path: Path, mock_clock: trio.testing.MockClock
) -> None:
    mock_clock.rate = RATE
    source = make_fake(FakeQemuConfig(memory=1 << 30))
    destination = make_fake(FakeQemuConfig(incoming="defer"))
    incoming = trio.Path(tmp_path / "mig.sock")
    async with trio.open_nursery() as nursery:
        await nursery.start(serve, source, [Endpoint("unix", path=str(tmp_path / "s.sock"))])
        await nursery.start(serve, destination, [Endpoint("unix", path=str(tmp_path / "d.sock"))])
        src = await Client.unix(str(tmp_path / "s.sock"), negotiate=True)
        dst = await Client.unix(str(tmp_path / "d.sock"), negotiate=True)
        await dst.command("migrate-incoming", {"uri": f"unix:{incoming}"})
        await src.command("migrate-set-parameters", {"max-bandwidth": 32 << 20})
        await src.command("migrate", {"uri": f"unix:{incoming}"})
        seen: list[tuple[str, bool]] = []
        with trio.fail_after(600):
            while True:
                info: dict[str, Any] = await dst.command("query-migrate")
                seen.append((info.get("status", "none"), await incoming.exists()))
                if info.get("status") in ("completed", "failed"):
                    break
                await trio.sleep(1)
        assert ("active", True) in seen, seen
        assert ("active", False) not in seen
        assert seen[-1] == ("completed", False)
        await src.aclose()
        await dst.aclose()
        nursery.cancel_scope.cancel()


def sent(src_path: str) -> int:
    """RAM bytes the source has written to the stream so far."""
    info = qmp(src_path, {"execute": "query-migrate"})[0]["return"]
    return int(info.get("ram", {}).get("transferred", 0))


def qmp(path: str, *commands: dict[str, Any]) -> list[dict[str, Any]]:
    with socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(TIMEOUT)
        sock.connect(path)
        data = b""
        sock.sendall(b'{"execute":"qmp_capabilities"}')
        sock.sendall(b"".join(json.dumps(command).encode() for command in commands))
        while data.count(b"\r\n") < 2 + len(commands):
            data += sock.recv(65536)
    replies = [json.loads(line) for line in data.split(b"\r\n")[2:] if line]
    return [reply for reply in replies if "event" not in reply]


#: What each release prints when its source is killed mid-migration (observed with
#: bench/migration_kill.py): the stream ends inside a RAM section.
TORN_STREAM_STDERR = {
    "7.2": b"load of migration failed: Invalid argument\n",
    "10.0": b"load of migration failed: Invalid argument\n",
    "11.1": b"load of migration failed: Invalid argument: Section footer error, section_id: 1\n",
}


@pytest.mark.parametrize("profile", sorted(TORN_STREAM_STDERR))
def test_a_failed_load_is_reported_on_stderr(tmp_path: Path, profile: str) -> None:
    src_path, dst_path = str(tmp_path / "src.sock"), str(tmp_path / "dst.sock")
    incoming = str(tmp_path / "mig.sock")
    release = ("--profile", profile)
    with (
        serving("--unix", src_path, "--memory", "64G", *release) as source,
        serving("--unix", dst_path, "--incoming", f"unix:{incoming}", *release) as destination,
    ):
        qmp(
            src_path,
            {"execute": "migrate-set-parameters", "arguments": {"max-bandwidth": 1 << 20}},
            {"execute": "migrate", "arguments": {"uri": f"unix:{incoming}"}},
        )

        def active() -> bool:
            reply = qmp(dst_path, {"execute": "query-migrate"})[0]
            return bool(reply["return"].get("status") == "active")

        wait_for(active, "the destination to be loading")
        # Up to 10.0 ``active`` comes at the connection; a source killed before its
        # first byte is an empty stream: "Not a migration stream" (test_qemu_process).
        wait_for(lambda: sent(src_path) > 0, "the stream to carry pages")
        assert os.path.exists(incoming)
        source.send_signal(signal.SIGKILL)
        _, stderr = stop(destination)
    assert destination.returncode == 1
    assert stderr.endswith(
        b"qemu-system-x86_64: check_section_footer: Read section footer failed: -5\n"
        b"qemu-system-x86_64: " + TORN_STREAM_STDERR[profile]
    )
    assert not os.path.exists(incoming)


@pytest.mark.parametrize("profile", ["10.0", "11.1"])
def test_a_failed_load_without_exit_on_error_shows_the_error(tmp_path: Path, profile: str) -> None:
    """``exit-on-error: false`` (9.1 on): the destination stays up and says why in query-migrate."""
    src_path, dst_path = str(tmp_path / "src.sock"), str(tmp_path / "dst.sock")
    incoming = f"unix:{tmp_path / 'mig.sock'}"
    release = ("--profile", profile)
    with (
        serving("--unix", src_path, "--memory", "64G", *release) as source,
        serving("--unix", dst_path, "--incoming", "defer", *release) as destination,
    ):
        arguments = {"uri": incoming, "exit-on-error": False}
        qmp(dst_path, {"execute": "migrate-incoming", "arguments": arguments})
        qmp(
            src_path,
            {"execute": "migrate-set-parameters", "arguments": {"max-bandwidth": 1 << 20}},
            {"execute": "migrate", "arguments": {"uri": incoming}},
        )

        def status() -> str:
            return str(qmp(dst_path, {"execute": "query-migrate"})[0]["return"].get("status"))

        wait_for(lambda: status() == "active", "the destination to be loading")
        # Up to 10.0 ``active`` comes at the connection; a source killed before its
        # first byte is an empty stream, which fails otherwise (test_qemu_process).
        wait_for(lambda: sent(src_path) > 0, "the stream to carry pages")
        source.send_signal(signal.SIGKILL)
        wait_for(lambda: status() == "failed", "the load to fail")
        info = qmp(dst_path, {"execute": "query-migrate"})[0]["return"]
        assert destination.poll() is None
        destination.send_signal(signal.SIGTERM)
        _, stderr = stop(destination)
    expected = TORN_STREAM_STDERR[profile].decode().rstrip("\n")
    assert info == {"status": "failed", "error-desc": expected}
    # check_section_footer() prints its line; nothing else is said about the load.
    assert b"check_section_footer: Read section footer failed: -5\n" in stderr
    assert b"load of migration failed" not in stderr


def test_a_cancelled_migration_fails_the_load_as_a_killed_source_does(tmp_path: Path) -> None:
    """Observed (7.2, 11.1): ``migrate_cancel`` cuts the stream inside a section too."""
    src_path, dst_path = str(tmp_path / "src.sock"), str(tmp_path / "dst.sock")
    incoming = f"unix:{tmp_path / 'mig.sock'}"
    release = ("--profile", "7.2")
    with (
        serving("--unix", src_path, "--memory", "64G", *release),
        serving("--unix", dst_path, "--incoming", incoming, *release) as destination,
    ):
        qmp(
            src_path,
            {"execute": "migrate-set-parameters", "arguments": {"max-bandwidth": 1 << 20}},
            {"execute": "migrate", "arguments": {"uri": incoming}},
        )

        def active() -> bool:
            reply = qmp(dst_path, {"execute": "query-migrate"})[0]
            return bool(reply["return"].get("status") == "active")

        wait_for(active, "the destination to be loading")
        qmp(src_path, {"execute": "migrate_cancel"})
        _, stderr = stop(destination)
    assert destination.returncode == 1
    assert stderr.endswith(
        b"qemu-system-x86_64: check_section_footer: Read section footer failed: -5\n"
        b"qemu-system-x86_64: " + TORN_STREAM_STDERR["7.2"]
    )
