"""A failure while serving one client ends that client's connection, nothing else.

Failures are injected through public seams of a FakeQemu instance: an executor
observer that raises (the same path as a failing command handler), a message
observer that raises for one session (a failing encoder or contract check), a
RAM backend that raises mid-migration.  Real unix and loopback sockets.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import trio
import trio.testing

from fakeqemu.fake.config import FakeQemuConfig
from fakeqemu.fake.qemu import FakeQemu
from fakeqemu.protocol.encoder import QValue
from fakeqemu.protocol.session import QmpSession, Request
from fakeqemu.server.serve import Endpoint, serve
from tests.support.custom_backend import SteadyBackend
from tests.support.qmp_client import Client
from tests.support.strict import make_fake

#: The fakes' clock runs this much faster than real time (not autojump: with real
#: sockets it could jump past a reply still in the kernel, to the test's deadline).
RATE = 20


def fail_on(command: str) -> Callable[[Request], None]:
    def observe(request: Request) -> None:
        if request.command == command:
            raise RuntimeError(f"injected failure in {command}")

    return observe


async def closed(client: Client) -> bool:
    with trio.fail_after(10):
        while data := await client.stream.receive_some(65536):
            client.buffer += data
    return True


async def test_a_failing_command_ends_its_connection_only(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake = make_fake(FakeQemuConfig())
    fake.executor.observers.append(fail_on("query-name"))
    a, b = str(tmp_path / "a.sock"), str(tmp_path / "b.sock")
    async with trio.open_nursery() as nursery:
        await nursery.start(serve, fake, [Endpoint("unix", path=a), Endpoint("unix", path=b)])
        victim = await Client.unix(a, negotiate=True)
        bystander = await Client.unix(b, negotiate=True)
        await victim.stream.send_all(b'{"execute":"query-name"}')
        assert await closed(victim)
        # The other monitor, the machine and the failed monitor itself go on.
        assert (await bystander.command("query-status"))["status"] == "running"
        await bystander.command("stop")
        assert bystander.event_names() == ["STOP"]
        assert await trio.Path(a).exists()
        again = await Client.unix(a, negotiate=True)
        assert (await again.command("query-status"))["status"] == "paused"
        for client in (victim, bystander, again):
            await client.aclose()
        nursery.cancel_scope.cancel()
    err = capsys.readouterr().err
    assert "an error while serving a monitor client; its connection is closed" in err
    assert "Traceback (most recent call last)" in err
    assert "RuntimeError: injected failure in query-name" in err


async def migrating_pair(
    nursery: trio.Nursery, tmp_path: Path, source: FakeQemu, *, monitors: int = 1
) -> tuple[list[Client], Client]:
    """Serve ``source`` (with ``monitors`` monitors) and a destination; start a migration."""
    destination = make_fake(FakeQemuConfig(incoming="defer"))
    paths = [str(tmp_path / f"src{i}.sock") for i in range(monitors)]
    await nursery.start(serve, source, [Endpoint("unix", path=path) for path in paths])
    await nursery.start(serve, destination, [Endpoint("unix", path=str(tmp_path / "dst.sock"))])
    clients = [await Client.unix(path, negotiate=True) for path in paths]
    dst = await Client.unix(str(tmp_path / "dst.sock"), negotiate=True)
    await dst.command("migrate-incoming", {"uri": "tcp:127.0.0.1:0"})
    port = (await dst.command("query-migrate"))["socket-address"][0]["port"]
    await clients[0].command("migrate-set-parameters", {"max-bandwidth": 32 << 20})
    events_on = {"capabilities": [{"capability": "events", "state": True}]}
    await clients[0].command("migrate-set-capabilities", events_on)
    await clients[0].command("migrate", {"uri": f"tcp:127.0.0.1:{port}"})
    return clients, dst


async def status_of(client: Client, *wanted: str) -> dict[str, Any]:
    with trio.fail_after(600):
        while True:
            info: dict[str, Any] = await client.command("query-migrate")
            if info.get("status") in wanted:
                return info
            await trio.sleep(0.1)


async def test_failures_on_one_monitor_leave_a_running_migration_alone(
    tmp_path: Path, mock_clock: trio.testing.MockClock, capsys: pytest.CaptureFixture[str]
) -> None:
    """A failing command and a failing event delivery, mid-migration, on two clients."""
    mock_clock.rate = RATE
    source = make_fake(FakeQemuConfig(memory=1 << 30))
    source.executor.observers.append(fail_on("query-name"))
    sessions: list[QmpSession] = []
    source.session_observers.append(sessions.append)

    def fail_on_migration_event(name: str | None, message: dict[str, QValue]) -> None:
        if name == "MIGRATION":
            raise RuntimeError("injected failure delivering MIGRATION")

    async with trio.open_nursery() as nursery:
        (controller, victim, spy), dst = await migrating_pair(nursery, tmp_path, source, monitors=3)
        sessions[2].message_observers.append(fail_on_migration_event)
        assert (await status_of(controller, "active"))["status"] == "active"
        await victim.stream.send_all(b'{"execute":"query-name"}')
        assert await closed(victim)
        # The spy's session raises on the next MIGRATION event (sent by the migration task).
        completed = await status_of(controller, "completed", "failed")
        assert completed["status"] == "completed"
        assert await closed(spy)
        assert (await status_of(dst, "completed"))["status"] == "completed"
        assert "MIGRATION:completed" in controller.event_names()
        for client in (controller, victim, spy, dst):
            await client.aclose()
        nursery.cancel_scope.cancel()
    err = capsys.readouterr().err
    assert "RuntimeError: injected failure in query-name" in err
    assert "RuntimeError: injected failure delivering MIGRATION" in err


class FailingBackend(SteadyBackend):
    """Sends for a while, then raises: a bug in a backend, as the migration task meets it."""

    def transfer(self, now: float, limits: Any) -> None:
        super().transfer(now, limits)
        if self._sent > self._pages // 4:
            raise RuntimeError("injected failure in the RAM backend")


async def test_a_failing_migration_task_fails_the_migration_not_the_server(
    tmp_path: Path, mock_clock: trio.testing.MockClock, capsys: pytest.CaptureFixture[str]
) -> None:
    mock_clock.rate = RATE
    source = make_fake(FakeQemuConfig(backend_options={"seconds": "20"}), backend=FailingBackend)
    async with trio.open_nursery() as nursery:
        (controller,), dst = await migrating_pair(nursery, tmp_path, source)
        failed = await status_of(controller, "failed", "completed")
        assert failed["status"] == "failed"
        assert "the migration task failed" in failed["error-desc"]
        # The source serves on; the destination fails as QEMU's does when the stream breaks.
        assert (await controller.command("query-status"))["status"] == "running"
        assert await closed(dst)
        await controller.aclose()
        await dst.aclose()
        nursery.cancel_scope.cancel()
    err = capsys.readouterr().err
    assert "the outgoing migration task failed; the migration fails, the server goes on" in err
    assert "RuntimeError: injected failure in the RAM backend" in err
    assert "qemu-system-x86_64: load of migration failed: Invalid argument" in err
