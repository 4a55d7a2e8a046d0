"""QEMU's command line, read as the release reads it (qemu_init() in system/vl.c).

First every option's name and argument is checked against the release's own option
table (recorded by ``fakeqemu capture libvirt``): an option the release does not have
is ``invalid option``, one that needs an argument and has none ``requires an
argument``, another target's option ``Option not supported for this target``, each
in QEMU's words.  Then the options the fake models are read; every other option of
the release is accepted and ignored (``-v`` lists them).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from fakeqemu.cli.qemu.qemu_opts import OptsError, on_off, parse_object, parse_opts
from fakeqemu.cli.qemu.topology import parse_cpu, parse_smp
from fakeqemu.model.hardware import Topology
from fakeqemu.sizes import parse_memory

#: The fake's own options: ``-fakeqemu profile=10.0,shape=new,...`` and ``-v``.
OWN_OPTIONS = {"fakeqemu": "argument", "v": "flag"}


class CommandLineError(Exception):
    """QEMU would refuse this command line: the message is QEMU's, after ``PROG: ``."""


@dataclass
class MonitorSpec:
    """A QMP monitor: a socket to bind, or one passed already listening (``fd=N``)."""

    label: str
    kind: str  # "unix", "tcp" or "fd"
    #: The option as given, for QEMU's error messages.
    option: str = ""
    path: str | None = None
    host: str = "127.0.0.1"
    port: int = 0
    fd: int | None = None


@dataclass
class QemuCommandLine:
    program: str
    version: bool = False
    help: bool = False
    verbose: bool = False
    name: str | None = None
    start_paused: bool = False
    incoming: str | None = None
    memory: int = 128 << 20
    topology: Topology = field(default_factory=Topology)
    uuid: str | None = None
    machine: str | None = None
    #: In the order QEMU tries them (``accel=kvm:tcg``, ``-accel``, ``-enable-kvm``).
    accelerators: list[str] = field(default_factory=lambda: ["tcg"])
    cpu_model: str = "qemu64"
    cpu_features: tuple[tuple[str, bool], ...] = ()
    monitors: list[MonitorSpec] = field(default_factory=list)
    devices: list[tuple[str, str]] = field(default_factory=list)
    iothreads: list[str] = field(default_factory=list)
    daemonize: bool = False
    pidfile: str | None = None
    no_shutdown: bool = False
    msg_timestamp: bool = False
    #: ``-fakeqemu KEY=VALUE,...``.
    fakeqemu: dict[str, str] = field(default_factory=dict)
    #: Options accepted and not modelled, as given.
    ignored: list[str] = field(default_factory=list)
    chardevs: dict[str, dict[str, str]] = field(default_factory=dict)
    chardev_texts: dict[str, str] = field(default_factory=dict)
    #: -mon mode=control: the chardevs QMP is served on, in order.
    control_monitors: list[str] = field(default_factory=list)
    compat_monitors: int = 0
    accel_given: bool = False


def _lookup(argv: list[str], cli: dict[str, Any]) -> list[tuple[str, str | None]]:
    """lookup_opt() over the whole command line: (option, argument) pairs; positional
    arguments (a disk image) come as ("", argument)."""
    table: dict[str, str] = {**cli["options"], **OWN_OPTIONS}
    pairs: list[tuple[str, str | None]] = []
    index = 0
    while index < len(argv):
        token = argv[index]
        index += 1
        if not token.startswith("-") or token == "-":
            pairs.append(("", token))
            continue
        name = token[2:] if token.startswith("--") else token[1:]
        kind = table.get(name)
        if kind is None:
            raise CommandLineError(_text(cli["invalid-option"], token))
        if not kind.endswith("argument"):
            pairs.append((name, None))
            continue
        if index >= len(argv):
            raise CommandLineError(_text(cli["requires-argument"], token))
        pairs.append((name, argv[index]))
        index += 1
    for name, argument in pairs:
        if table.get(name, "").startswith("other-target"):
            where = f"-{name}" if argument is None else f"-{name} {argument}"
            raise CommandLineError(_text(cli["other-target"], where))
    return pairs


def _text(template: str, option: str) -> str:
    return template.replace("{prog}: ", "", 1).replace("{option}", option, 1)


def parse_command_line(program: str, argv: list[str], cli: dict[str, Any]) -> QemuCommandLine:
    """Raises :class:`CommandLineError` with QEMU's message."""
    line = QemuCommandLine(program=os.path.basename(program))
    for name, argument in _lookup(argv, cli):
        try:
            _apply(line, name, argument)
        except (OptsError, ValueError) as error:
            where = f"-{name} {argument}" if argument is not None else f"-{name}"
            raise CommandLineError(f"{where}: {error}") from None
    for chardev_id in line.control_monitors:
        monitor = _chardev_monitor(chardev_id, line.chardevs[chardev_id])
        monitor.option = "-chardev " + line.chardev_texts[chardev_id]
        line.monitors.append(monitor)
    return line


def _apply(line: QemuCommandLine, name: str, argument: str | None) -> None:
    handler = _HANDLERS.get(name)
    if handler is not None:
        handler(line, argument or "")
    elif name in _FLAGS:
        setattr(line, _FLAGS[name], True)
    else:
        line.ignored.append(f"-{name}" if argument is None else f"-{name} {argument}")


_FLAGS = {
    "S": "start_paused",
    "version": "version",
    "h": "help",
    "help": "help",
    "v": "verbose",
    "daemonize": "daemonize",
    "no-shutdown": "no_shutdown",
}


def _name(line: QemuCommandLine, value: str) -> None:
    line.name = parse_opts(value, implied="guest").get("guest")


def _memory(line: QemuCommandLine, value: str) -> None:
    size = parse_opts(value, implied="size").get("size")
    if size is not None:
        line.memory = parse_memory(size)


def _smp(line: QemuCommandLine, value: str) -> None:
    line.topology = parse_smp(value)


def _machine(line: QemuCommandLine, value: str) -> None:
    options = parse_opts(value, implied="type")
    line.machine = options.get("type", line.machine)
    if "accel" in options:
        line.accelerators = options["accel"].split(":")
        line.accel_given = True


def _accel(line: QemuCommandLine, value: str) -> None:
    accel = parse_opts(value, implied="accel").get("accel", "tcg")
    # Several -accel options are tried in order; the first one given replaces the default.
    line.accelerators = [*line.accelerators, accel] if line.accel_given else [accel]
    line.accel_given = True


def _enable_kvm(line: QemuCommandLine, value: str) -> None:
    line.accelerators = ["kvm"]


def _cpu(line: QemuCommandLine, value: str) -> None:
    line.cpu_model, line.cpu_features = parse_cpu(value)


def _chardev(line: QemuCommandLine, value: str) -> None:
    options = parse_opts(value, implied="backend")
    chardev_id = options.get("id")
    if not chardev_id:
        raise OptsError("Parameter 'id' is missing")
    line.chardevs[chardev_id] = options
    line.chardev_texts[chardev_id] = value


def _mon(line: QemuCommandLine, value: str) -> None:
    options = parse_opts(value, implied="chardev")
    chardev_id = options.get("chardev", "")
    if chardev_id not in line.chardevs:
        raise OptsError(f'chardev "{chardev_id}" not found')
    if options.get("mode", "readline") == "control":
        line.control_monitors.append(chardev_id)


def _chardev_monitor(label: str, options: dict[str, str]) -> MonitorSpec:
    backend = options.get("backend")
    if backend != "socket":
        raise CommandLineError(f"-chardev {backend}: fakeqemu serves QMP on sockets only")
    if "fd" in options:
        return MonitorSpec(label, "fd", fd=int(options["fd"]))
    if "path" in options:
        return MonitorSpec(label, "unix", path=options["path"])
    return MonitorSpec(
        label, "tcp", host=options.get("host") or "127.0.0.1", port=int(options.get("port", 0))
    )


def _qmp(line: QemuCommandLine, value: str) -> None:
    """``-qmp unix:PATH,server=on,wait=off`` or ``tcp:HOST:PORT,...`` (a compat monitor)."""
    label = f"compat_monitor{line.compat_monitors}"
    line.compat_monitors += 1
    address = value.split(",", 1)[0]
    scheme, _, rest = address.partition(":")
    option = f"-qmp {value}"
    if scheme == "unix":
        line.monitors.append(MonitorSpec(label, "unix", option, path=rest))
    elif scheme == "tcp":
        host, _, port = rest.rpartition(":")
        host = host.strip("[]") or "127.0.0.1"
        line.monitors.append(MonitorSpec(label, "tcp", option, host=host, port=int(port)))
    else:
        raise OptsError(f"fakeqemu serves QMP on unix: and tcp: sockets only, not {scheme}:")


def _monitor(line: QemuCommandLine, value: str) -> None:
    line.compat_monitors += 1  # an HMP monitor: it takes a label, the fake has no HMP socket
    line.ignored.append(f"-monitor {value}")


def _incoming(line: QemuCommandLine, value: str) -> None:
    line.incoming = value


def _pidfile(line: QemuCommandLine, value: str) -> None:
    line.pidfile = value


def _uuid(line: QemuCommandLine, value: str) -> None:
    line.uuid = value


def _msg(line: QemuCommandLine, value: str) -> None:
    line.msg_timestamp = on_off(parse_opts(value).get("timestamp", "off"), "timestamp")


def _device(line: QemuCommandLine, value: str) -> None:
    device = parse_object(value, implied="driver")
    if "id" in device:
        line.devices.append((str(device["id"]), str(device.get("driver"))))


def _object(line: QemuCommandLine, value: str) -> None:
    item = parse_object(value, implied="qom-type")
    if item.get("qom-type") == "iothread":
        line.iothreads.append(str(item.get("id")))


def _fakeqemu(line: QemuCommandLine, value: str) -> None:
    line.fakeqemu.update(parse_opts(value))


_HANDLERS = {
    "name": _name,
    "m": _memory,
    "smp": _smp,
    "machine": _machine,
    "M": _machine,
    "accel": _accel,
    "enable-kvm": _enable_kvm,
    "cpu": _cpu,
    "chardev": _chardev,
    "mon": _mon,
    "qmp": _qmp,
    "qmp-pretty": _qmp,
    "monitor": _monitor,
    "incoming": _incoming,
    "pidfile": _pidfile,
    "uuid": _uuid,
    "msg": _msg,
    "device": _device,
    "object": _object,
    "fakeqemu": _fakeqemu,
}
