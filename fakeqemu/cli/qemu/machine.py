"""From a QEMU command line to what the fake serves: monitors, hardware, configuration.

A monitor is a unix or TCP socket the fake binds (``-qmp``, ``-chardev socket,path=``),
or a listening socket passed already bound (``-chardev socket,fd=N``: libvirt binds
the monitor itself and hands it over).  Each vCPU and iothread gets a thread of its
own, so the thread ids QEMU reports are real ones of this process.
"""

from __future__ import annotations

import socket
import threading
from dataclasses import dataclass, field

from fakeqemu.cli.qemu.command_line import MonitorSpec, QemuCommandLine
from fakeqemu.cli.qemu.host import kvm_usable
from fakeqemu.cli.qemu.selection import Selection
from fakeqemu.fake.config import FakeQemuConfig
from fakeqemu.model.hardware import Chardev, Hardware
from fakeqemu.server.endpoints import Endpoint
from fakeqemu.server.listeners import Listeners, bind_tcp, bind_unix


class MachineError(Exception):
    """The machine cannot start; the message is QEMU's (after ``PROG: ``)."""


@dataclass
class Monitors:
    endpoints: list[Endpoint] = field(default_factory=list)
    #: Every monitor's listening socket by endpoint index, and the socket files the fake
    #: created (never a passed socket's).
    listeners: Listeners = field(default_factory=Listeners)
    chardevs: list[Chardev] = field(default_factory=list)

    def close(self) -> None:
        self.listeners.close()


def _passed(monitor: MonitorSpec) -> tuple[Endpoint, socket.socket, str]:
    assert monitor.fd is not None
    try:
        sock = socket.socket(fileno=monitor.fd)
    except OSError:
        # Observed (7.2): the same words for a closed descriptor and for a file.
        raise MachineError(
            f"{monitor.option}: File descriptor '{monitor.fd}' is not a socket"
        ) from None
    if not sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN):
        sock.listen(1)  # a bound socket that does not listen yet: QEMU listens on it
    if sock.family == socket.AF_UNIX:
        path = sock.getsockname()
        return Endpoint("unix", path=path), sock, f"unix:{path},server=on"
    host, port = sock.getsockname()[:2]
    return Endpoint("tcp", host=host, port=port), sock, f"tcp:{host}:{port},server=on"


def open_monitors(line: QemuCommandLine) -> Monitors:
    """Bind (or take over) every QMP monitor; raises :class:`MachineError`."""
    monitors = Monitors()
    try:
        for monitor in line.monitors:
            index = len(monitors.endpoints)
            if monitor.kind == "fd":
                endpoint, sock, filename = _passed(monitor)
            elif monitor.kind == "unix":
                assert monitor.path is not None
                endpoint = Endpoint("unix", path=monitor.path)
                sock, monitors.listeners.files[monitor.path] = bind_unix(monitor.path)
                filename = f"unix:{monitor.path},server=on"
            else:
                endpoint = Endpoint("tcp", host=monitor.host, port=monitor.port)
                sock = bind_tcp(monitor.host, monitor.port)
                filename = f"tcp:{monitor.host}:{sock.getsockname()[1]},server=on"
            monitors.endpoints.append(endpoint)
            monitors.listeners.sockets[index] = sock
            monitors.chardevs.append(Chardev(monitor.label, filename))
    except OSError as error:
        monitors.close()
        raise MachineError(f"{monitor.option}: {error.strerror or error}") from None
    except MachineError:
        monitors.close()
        raise
    return monitors


def _idle_threads(count: int) -> tuple[int, ...]:
    """``count`` threads that do nothing, as a stopped vCPU or an idle iothread does."""
    never = threading.Event()
    ids = []
    for _ in range(count):
        thread = threading.Thread(target=never.wait, daemon=True)
        thread.start()
        assert thread.native_id is not None
        ids.append(thread.native_id)
    return tuple(ids)


def kvm_enabled(line: QemuCommandLine, recorded_modes: list[str]) -> bool:
    """The first accelerator that would initialise: KVM needs /dev/kvm (and, for the
    fake, a KVM recording of the release's probe answers)."""
    for accel in line.accelerators:
        if accel == "kvm" and "kvm" in recorded_modes and kvm_usable():
            return True
        if accel == "tcg":
            return False
    return False


def hardware(line: QemuCommandLine, chardevs: list[Chardev], kvm: bool) -> Hardware:
    has_cpus = line.machine != "none"
    return Hardware(
        machine=line.machine,
        kvm=kvm,
        cpu_model=line.cpu_model,
        cpu_features=line.cpu_features,
        topology=line.topology,
        uuid=line.uuid,
        chardevs=tuple(chardevs),
        devices=tuple(line.devices),
        iothreads=tuple(line.iothreads),
        vcpu_threads=_idle_threads(line.topology.cpus if has_cpus else 0),
        iothread_threads=_idle_threads(len(line.iothreads)),
    )


def config(line: QemuCommandLine, selection: Selection) -> FakeQemuConfig:
    return FakeQemuConfig(
        profile=selection.profile,
        shape=selection.shape,
        name=line.name,
        start_paused=line.start_paused,
        incoming=line.incoming,
        memory=line.memory,
        backend=selection.backend,
        backend_options=selection.backend_options,
        seed=selection.seed,
    )
