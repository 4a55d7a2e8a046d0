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
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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
    from fakeqemu.fake.options import CONFIG_OPTIONS, SERVE_OPTIONS, SPEED, add_arguments

    add_endpoint_arguments(serve, "monitors (at least one; each may be repeated)", connect=True)
    add_arguments(serve, (*CONFIG_OPTIONS, SPEED, *SERVE_OPTIONS))
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

    config = FakeQemuConfig(**values_from_arguments(args, CONFIG_OPTIONS))
    if args.clock == "virtual":
        from fakeqemu.server.thread import VirtualWallClock

        # Event timestamps move with POST /clock/advance, as the fake's clock does.
        return FakeQemu(config, wall_clock=VirtualWallClock())
    return FakeQemu(config)


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
    if args.control is not None:
        from fakeqemu.server.endpoints import parse_control

        try:
            control = parse_control(args.control)
        except ValueError as error:
            raise ServeError(f"--control: {error}", 2) from None
        if (warning := control.exposure_warning()) is not None:
            print(f"fakeqemu: warning: control API: {warning}", file=sys.stderr, flush=True)
    elif args.clock == "virtual":
        raise ServeError("--clock virtual needs --control: POST /clock/advance moves it", 2)


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
    return _run_server(fake, endpoints, (listeners, greeted), args, signals)


def _settings(args: argparse.Namespace, fake: FakeQemu) -> dict[str, Any]:
    """What the start line names."""
    from fakeqemu.vocabulary import recorded_version, version_text

    scenario = fake.vm.scenario
    return {
        "qemu": version_text(recorded_version(args.profile)),
        "profile": args.profile,
        "shape": args.shape,
        "memory": args.memory,
        "backend": args.backend,
        "seed": args.seed,
        "speed": args.speed if args.clock == "real" else "virtual",
        "scenario": None if scenario is None else scenario.name,
        "control": None,
    }


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
    args: argparse.Namespace,
    signals: HostSignals | None,
) -> int:
    from fakeqemu.cli.runner import run_server
    from fakeqemu.cli.serve_log import ServeLog, start_line
    from fakeqemu.server.serve import StartupError

    listeners, greeted = sockets
    settings = _settings(args, fake)

    def started(addresses: list[str], control: str | None) -> None:
        settings["control"] = control
        _announce(start_line(settings, addresses, args.log_format))

    try:
        return run_server(
            fake,
            endpoints,
            listeners,
            signals,
            speed=args.speed,
            virtual_clock=args.clock == "virtual",
            log=ServeLog(fake, args.log_format) if args.verbose else None,
            control=args.control,
            greeted=greeted,
            on_listening=started,
        )
    except StartupError as error:
        raise ServeError(str(error)) from None
