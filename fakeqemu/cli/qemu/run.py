"""Run the fake a QEMU command line describes, until ``quit`` or a host signal."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

from fakeqemu.cli.qemu.command_line import QemuCommandLine
from fakeqemu.cli.qemu.host import remove_pidfile, report_ready, write_pidfile
from fakeqemu.cli.qemu.machine import (
    MachineError,
    Monitors,
    config,
    hardware,
    kvm_enabled,
    open_monitors,
)
from fakeqemu.cli.qemu.selection import Selection
from fakeqemu.cli.runner import run_server
from fakeqemu.cli.serve_log import ServeLog
from fakeqemu.errors import FakeQemuError
from fakeqemu.fake.qemu import FakeQemu
from fakeqemu.profiles import get_profile
from fakeqemu.server.serve import StartupError

if TYPE_CHECKING:
    from fakeqemu.server.signals import HostSignals


def _verbose(line: QemuCommandLine, selection: Selection, fake: FakeQemu) -> ServeLog:
    print(
        f"fakeqemu: profile {selection.profile}, shape {selection.shape}, "
        f"backend {selection.backend}, kvm {'on' if fake.vm.hardware.kvm else 'off'}",
        file=sys.stderr,
        flush=True,
    )
    for option in line.ignored:
        print(f"fakeqemu: accepted and ignored: {option}", file=sys.stderr, flush=True)
    return ServeLog(fake)


def _build(line: QemuCommandLine, selection: Selection) -> tuple[FakeQemu, Monitors]:
    if line.pidfile is not None:
        write_pidfile(line.pidfile)
    monitors = open_monitors(line)
    try:
        modes = get_profile(selection.profile).emulator.probe_modes()
        machine = hardware(line, monitors.chardevs, kvm_enabled(line, modes))
        fake = FakeQemu(config(line, selection), hardware=machine)
    except BaseException:
        monitors.close()
        raise
    return fake, monitors


def run(
    line: QemuCommandLine,
    selection: Selection,
    report: Callable[[str], None],
    ready: int | None,
    signals: HostSignals | None,
) -> int:
    """Start, tell a daemonizing parent, serve; the exit status QEMU would have."""
    try:
        try:
            fake, monitors = _build(line, selection)
        except (OSError, MachineError, FakeQemuError, ValueError) as error:
            report(str(error.strerror if isinstance(error, OSError) else error))
            return 1
        log = _verbose(line, selection, fake) if line.verbose or selection.verbose else None
        try:
            _serve(fake, monitors, selection.speed, log, report, ready, signals)
        except StartupError as error:
            report(str(error))
            return 1
        return fake.vm.exit_status or 0
    finally:
        if line.pidfile is not None:
            remove_pidfile(line.pidfile)


def _serve(
    fake: FakeQemu,
    monitors: Monitors,
    speed: float,
    log: ServeLog | None,
    report: Callable[[str], None],
    ready: int | None,
    signals: HostSignals | None,
) -> None:
    def listening(addresses: list[str], control: str | None) -> None:
        if ready is not None:
            report_ready(ready)

    run_server(
        fake,
        monitors.endpoints,
        monitors.listeners,
        signals,
        speed=speed,
        log=log,
        on_listening=listening,
        report=report,
    )
