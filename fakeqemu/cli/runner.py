"""Serve a loaded fake until ``quit`` or a host signal: what ``fakeqemu serve`` and
``fakeqemu-system-x86_64`` share once their monitors are bound."""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import trio
    import trio.testing

    from fakeqemu.cli.serve_log import ServeLog
    from fakeqemu.fake.qemu import FakeQemu
    from fakeqemu.server.endpoints import Endpoint
    from fakeqemu.server.listeners import Listeners
    from fakeqemu.server.signals import HostSignals


def run_server(
    fake: FakeQemu,
    endpoints: list[Endpoint],
    listeners: Listeners,
    signals: HostSignals | None,
    *,
    on_listening: Callable[[list[str], str | None], None],
    speed: float = 1.0,
    virtual_clock: bool = False,
    log: ServeLog | None = None,
    control: str | None = None,
    greeted: dict[int, socket.socket] | None = None,
    report: Callable[[str], None] | None = None,
) -> int:
    """Serve until ``quit`` or a host signal (``report`` prints QEMU's line for it).

    ``on_listening`` is called with the monitors' addresses and the control API's
    (``None`` without ``control``) once every monitor listens.  ``speed`` scales the
    fake's clock; ``virtual_clock`` stops it until ``POST /clock/advance`` moves it.
    ``log``: ``-v``'s lines.  Raises :class:`~fakeqemu.server.serve.StartupError`;
    returns the exit status QEMU would.
    """
    import trio
    import trio.testing

    from fakeqemu.server.failures import qemu_error_report
    from fakeqemu.server.serve import Listening, ServeControl, StartupError, serve
    from fakeqemu.server.signals import kill_report

    say = report or qemu_error_report
    # A scaled clock: every timer of the fake runs FACTOR times faster; a virtual one
    # stands still until POST /clock/advance moves it.
    clock = None
    if virtual_clock:
        clock = trio.testing.MockClock(rate=0)
    elif speed != 1.0:
        clock = trio.testing.MockClock(rate=speed)

    async def main() -> None:
        stopping = ServeControl()
        if signals is not None:
            token = trio.lowlevel.current_trio_token()

            def stop(signo: int, pid: int) -> None:
                say(kill_report(signo, pid))
                stopping.host_signal.set()

            signals.hand_over(lambda signo, pid: token.run_sync_soon(stop, signo, pid))
        async with trio.open_nursery() as nursery:
            if log is not None:
                log.attach()
                nursery.start_soon(log.progress)
            control_address = None
            if control is not None:
                control_address = await _start_control(
                    fake, control, clock if virtual_clock else None, nursery
                )

            async def serve_then_stop(task_status: trio.TaskStatus[Listening]) -> None:
                await serve(
                    fake,
                    endpoints,
                    prebound=listeners.sockets,
                    greeted=greeted,
                    socket_files=listeners.files,
                    control=stopping,
                    task_status=task_status,
                )
                nursery.cancel_scope.cancel()  # the log and the control API end with it

            listening = await nursery.start(serve_then_stop)
            on_listening(listening.addresses, control_address)

    try:
        trio.run(main, clock=clock)
    except (StartupError, BaseExceptionGroup) as error:
        startup = _find(error, StartupError)
        if startup is None:
            raise
        raise startup from None
    finally:
        if signals is not None:
            signals.hand_over(None)
    # A failed incoming migration ends QEMU with status 1; so it does here.
    return fake.vm.exit_status or 0


async def _start_control(
    fake: FakeQemu, address: str, virtual: trio.testing.MockClock | None, nursery: trio.Nursery
) -> str:
    """Serve the control API in ``nursery``; returns where it listens.  ``virtual``: the
    loop's clock when ``POST /clock/advance`` may move it."""
    from fakeqemu.server.control import ControlApi
    from fakeqemu.server.control_http import serve_http
    from fakeqemu.server.endpoints import parse_control

    api = ControlApi(fake, clock=virtual)
    where: str = await nursery.start(serve_http, api.router, parse_control(address))
    return where


def _find(error: BaseException, kind: type[Exception]) -> Exception | None:
    """``error`` itself if of ``kind``, else the first of ``kind`` in its groups."""
    if isinstance(error, kind):
        return error
    if isinstance(error, BaseExceptionGroup):
        for inner in error.exceptions:
            if (found := _find(inner, kind)) is not None:
                return found
    return None
