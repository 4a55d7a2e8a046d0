"""``fakeqemu serve``: bind, greet early, load, serve; every user error in one line.

The start-up order is QEMU's: nothing is said to have started until every
monitor listens (or is connected) and ``--incoming URI`` listens; an error
before that is one line on stderr naming what is wrong, exit status 1 (2 for
usage errors, which argparse and the checks here report).  Termination signals
are QEMU's too (see :mod:`fakeqemu.server.signals`).
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

    from fakeqemu.fake.qemu import FakeQemu
    from fakeqemu.server.endpoints import Endpoint
    from fakeqemu.server.listeners import Listeners
    from fakeqemu.server.signals import HostSignals


class ServeError(Exception):
    """A user error: printed as ``fakeqemu serve: MESSAGE``, exit ``status``."""

    def __init__(self, message: str, status: int = 1) -> None:
        super().__init__(message)
        self.status = status


def add_serve_arguments(serve: argparse.ArgumentParser) -> None:
    """``fakeqemu serve``: its monitors, then every configuration field (fake.options)."""
    from fakeqemu.cli.endpoints import add_endpoint_arguments
    from fakeqemu.fake.options import CONFIG_OPTIONS, SPEED, add_arguments

    add_endpoint_arguments(serve, "monitors (at least one; each may be repeated)", connect=True)
    add_arguments(serve, (*CONFIG_OPTIONS, SPEED))
    serve.add_argument("-v", "--verbose", action="store_true", help="log each command served")


def check_backend(args: argparse.Namespace) -> str | None:
    """What is wrong with ``serve``'s backend choice, before anything is bound."""
    if args.backend == "model" and not args.backend_options:
        return None  # the default: nothing to import on the fast path
    import time

    from fakeqemu.backends import BackendChoice, BackendError, BackendInputs
    from fakeqemu.model.ram import PAGE_SIZE, ram_total
    from fakeqemu.vocabulary import Role

    inputs = BackendInputs(
        role=Role.SOURCE,
        guest_ram=args.memory,
        ram_total=ram_total(args.memory),
        page_size=PAGE_SIZE,
        capabilities=frozenset(),
        clock=time.monotonic,
        options={},
    )
    try:
        # Made once for the side it starts as: a misspelt option or a missing file shows now.
        choice = BackendChoice.from_spec(args.backend, dict(args.backend_options), args.seed)
        if args.incoming is None:
            choice.source(inputs)
        else:
            choice.destination(inputs)
    except BackendError as error:
        return str(error)
    return None


def log_commands(fake: FakeQemu) -> None:
    """``-v``: every command served and every event raised, on stderr, as they happen."""
    from fakeqemu.model.events import Event
    from fakeqemu.protocol.encoder import encode_value
    from fakeqemu.protocol.session import Request

    def log(request: Request) -> None:
        args = f" {encode_value(request.arguments)}" if request.arguments else ""
        print(f"fakeqemu: {request.command}{args}", file=sys.stderr, flush=True)

    def log_event(event: Event) -> None:
        data = f" {encode_value(event.data)}" if event.data else ""
        print(f"fakeqemu: event {event.name}{data}", file=sys.stderr, flush=True)

    fake.executor.observers.append(log)
    fake.vm.events.subscribe(log_event)


def _bind_all(endpoints: list[Endpoint], signals: HostSignals | None) -> Listeners:
    """Bind every listening monitor now, with the standard library (see fast_start)."""
    from fakeqemu.server.listeners import BindError, Listeners

    for endpoint in endpoints:
        if endpoint.kind == "tcp" and (warning := endpoint.exposure_warning()) is not None:
            print(f"fakeqemu: warning: {warning}", file=sys.stderr, flush=True)
    try:
        if signals is None:
            return Listeners().bind_all(endpoints)
        return Listeners().bind_all(
            endpoints, lock=signals.startup_lock, on_file=signals.owns_socket_file
        )
    except BindError as error:
        raise ServeError(f"{error.option}: {error.strerror or error}") from None


def _load_fake(args: argparse.Namespace) -> FakeQemu:
    """Everything heavy: trio, the commands, the profile's data."""
    import trio  # noqa: F401 - imported here, in the loader thread, to be ready early

    from fakeqemu.fake.config import FakeQemuConfig
    from fakeqemu.fake.options import CONFIG_OPTIONS, values_from_arguments
    from fakeqemu.fake.qemu import FakeQemu

    fake = FakeQemu(FakeQemuConfig(**values_from_arguments(args, CONFIG_OPTIONS)))
    if args.verbose:
        log_commands(fake)
    return fake


def _check(args: argparse.Namespace, endpoints: list[Endpoint]) -> None:
    from fakeqemu.vocabulary import PROFILE_NAMES

    if not endpoints:
        raise ServeError("give at least one of --unix, --tcp, --connect", 2)
    if args.profile not in PROFILE_NAMES:
        known = ", ".join(PROFILE_NAMES)
        raise ServeError(f"unknown profile {args.profile!r}; known profiles: {known}", 2)
    if args.speed <= 0:
        raise ServeError("--speed must be positive", 2)
    if (problem := check_backend(args)) is not None:
        raise ServeError(problem, 2)


def run_serve(args: argparse.Namespace, signals: HostSignals | None) -> int:
    """``fakeqemu serve``; ``signals``: the process's signal owner, when it is the process."""
    try:
        return _serve(args, signals)
    except ServeError as error:
        print(f"fakeqemu serve: {error}", file=sys.stderr, flush=True)
        return error.status


def _serve(args: argparse.Namespace, signals: HostSignals | None) -> int:
    from fakeqemu.cli.endpoints import endpoints_from
    from fakeqemu.errors import FakeQemuError
    from fakeqemu.server.fast_start import greet_while_loading, greeting_bytes
    from fakeqemu.vocabulary import recorded_version, version_text

    endpoints = endpoints_from(args)
    _check(args, endpoints)
    greeting = greeting_bytes(args.profile)
    listeners = _bind_all(endpoints, signals)
    indexes = sorted(listeners.sockets)
    try:
        fake, early = greet_while_loading(
            [listeners.sockets[i] for i in indexes], greeting, lambda: _load_fake(args)
        )
    except FakeQemuError as error:
        listeners.close()
        raise ServeError(str(error)) from None
    greeted = {indexes[position]: conn for position, conn in early.items()}
    version = version_text(recorded_version(args.profile))
    started = f"fakeqemu: QEMU {version} (profile {args.profile}, shape {args.shape}) on "
    return _run_server(fake, endpoints, (listeners, greeted), args.speed, started, signals)


def _announce(line: str) -> None:
    try:
        print(line, flush=True)
    except BrokenPipeError:
        # Nobody reads our stdout any more; serving goes on regardless.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def _run_server(
    fake: FakeQemu,
    endpoints: list[Endpoint],
    sockets: tuple[Listeners, dict[int, socket.socket]],
    speed: float,
    started: str,
    signals: HostSignals | None,
) -> int:
    from fakeqemu.server.serve import StartupError

    listeners, greeted = sockets
    try:
        return run_server(
            fake,
            endpoints,
            listeners,
            speed,
            signals,
            greeted=greeted,
            on_listening=lambda addresses: _announce(started + ", ".join(addresses)),
        )
    except StartupError as error:
        raise ServeError(str(error)) from None


def run_server(
    fake: FakeQemu,
    endpoints: list[Endpoint],
    listeners: Listeners,
    speed: float,
    signals: HostSignals | None,
    *,
    on_listening: Callable[[list[str]], None],
    greeted: dict[int, socket.socket] | None = None,
    report: Callable[[str], None] | None = None,
) -> int:
    """Serve until ``quit`` or a host signal (``report`` prints QEMU's line for it);
    ``on_listening`` is called with the addresses once every monitor listens.  Raises
    :class:`~fakeqemu.server.serve.StartupError`; returns the exit status QEMU would."""
    import trio
    import trio.testing

    from fakeqemu.server.failures import qemu_error_report
    from fakeqemu.server.serve import ServeControl, StartupError, serve
    from fakeqemu.server.signals import kill_report

    say = report or qemu_error_report

    async def main() -> None:
        control = ServeControl()
        if signals is not None:
            token = trio.lowlevel.current_trio_token()

            def stop(signo: int, pid: int) -> None:
                say(kill_report(signo, pid))
                control.host_signal.set()

            signals.hand_over(lambda signo, pid: token.run_sync_soon(stop, signo, pid))
        async with trio.open_nursery() as nursery:
            listening = await nursery.start(
                lambda task_status: serve(
                    fake,
                    endpoints,
                    prebound=listeners.sockets,
                    greeted=greeted,
                    socket_files=listeners.files,
                    control=control,
                    task_status=task_status,
                )
            )
            on_listening(listening.addresses)

    # A scaled clock: every timer of the fake runs FACTOR times faster.
    clock = trio.testing.MockClock(rate=speed) if speed != 1.0 else None
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


def _find(error: BaseException, kind: type[Exception]) -> Exception | None:
    """``error`` itself if of ``kind``, else the first of ``kind`` in its groups."""
    if isinstance(error, kind):
        return error
    if isinstance(error, BaseExceptionGroup):
        for inner in error.exceptions:
            if (found := _find(inner, kind)) is not None:
                return found
    return None
