"""Reading QEMU's command line: what the fake models, and how a domain picks its fake."""

from __future__ import annotations

import pytest

from fakeqemu.cli.qemu.command_line import CommandLineError, QemuCommandLine, parse_command_line
from fakeqemu.cli.qemu.host import kvm_usable
from fakeqemu.cli.qemu.machine import kvm_enabled
from fakeqemu.cli.qemu.qemu_opts import OptsError, parse_object, parse_opts
from fakeqemu.cli.qemu.selection import select
from fakeqemu.cli.qemu.topology import parse_cpu, parse_smp
from fakeqemu.model.hardware import Topology
from fakeqemu.profiles import get_profile


def _parse(*argv: str, profile: str = "7.2") -> QemuCommandLine:
    return parse_command_line("qemu-system-x86_64", list(argv), get_profile(profile).emulator.cli)


def test_libvirts_start_command_line() -> None:
    line = parse_command_line(
        "/usr/bin/qemu-system-x86_64",
        [
            "-name", "guest=fq,debug-threads=on", "-S",
            "-machine", "pc-i440fx-7.2,usb=off,memory-backend=pc.ram", "-accel", "tcg",
            "-cpu", "qemu64,hypervisor=on,lahf-lm=on", "-m", "128",
            "-smp", "1,sockets=1,cores=1,threads=1",
            "-uuid", "271e299b-74d7-48de-8a82-18ccb61e2e34",
            "-chardev", "socket,id=charmonitor,fd=27,server=on,wait=off",
            "-mon", "chardev=charmonitor,id=monitor,mode=control", "-no-shutdown",
            "-device", '{"driver":"piix3-usb-uhci","id":"usb","bus":"pci.0","addr":"0x1.0x2"}',
            "-incoming", "defer", "-msg", "timestamp=on", "-rtc", "base=utc",
        ],
        get_profile("7.2").emulator.cli,
    )  # fmt: skip
    assert line.program == "qemu-system-x86_64"
    assert (line.name, line.start_paused, line.incoming) == ("fq", True, "defer")
    assert (line.machine, line.accelerators) == ("pc-i440fx-7.2", ["tcg"])
    assert (line.cpu_model, line.cpu_features) == (
        "qemu64",
        (("hypervisor", True), ("lahf-lm", True)),
    )
    assert line.memory == 128 << 20
    assert line.uuid == "271e299b-74d7-48de-8a82-18ccb61e2e34"
    assert [(m.label, m.kind, m.fd) for m in line.monitors] == [("charmonitor", "fd", 27)]
    assert line.devices == [("usb", "piix3-usb-uhci")]
    assert line.no_shutdown
    assert line.msg_timestamp
    assert line.ignored == ["-rtc base=utc"]


def test_the_probes_command_line() -> None:
    line = _parse(
        "-S", "-no-user-config", "-nodefaults", "-nographic", "-machine", "none,accel=kvm:tcg",
        "-qmp", "unix:/run/qmp.monitor,server=on,wait=off",
        "-pidfile", "/run/qmp.pid", "-daemonize",
    )  # fmt: skip
    assert line.machine == "none"
    assert line.accelerators == ["kvm", "tcg"]
    assert line.daemonize
    assert line.pidfile == "/run/qmp.pid"
    (monitor,) = line.monitors
    assert (monitor.label, monitor.kind, monitor.path) == (
        "compat_monitor0",
        "unix",
        "/run/qmp.monitor",
    )


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("128", 128 << 20),
        ("size=256M", 256 << 20),
        ("1G,slots=2,maxmem=4G", 1 << 30),
        ("2GiB", 2 << 30),
    ],
)
def test_memory_in_qemus_spellings(text: str, size: int) -> None:
    assert _parse("-m", text).memory == size


def test_accelerators_in_order() -> None:
    assert _parse("-accel", "kvm", "-accel", "tcg").accelerators == ["kvm", "tcg"]
    assert _parse("-enable-kvm").accelerators == ["kvm"]
    assert _parse().accelerators == ["tcg"]


def test_kvm_only_when_asked_usable_and_recorded() -> None:
    line = _parse("-machine", "none,accel=kvm:tcg")
    assert kvm_enabled(line, ["kvm", "tcg"]) is kvm_usable()
    assert not kvm_enabled(line, ["tcg"])
    assert not kvm_enabled(_parse("-machine", "none,accel=tcg:kvm"), ["kvm", "tcg"])


def test_chardev_monitors_and_errors() -> None:
    line = _parse(
        "-chardev", "socket,id=m1,path=/tmp/a,,b.sock,server=on,wait=off",
        "-mon", "chardev=m1,mode=control", "-qmp", "tcp:127.0.0.1:4444,server=on,wait=off",
    )  # fmt: skip
    kinds = [(m.label, m.kind, m.path, m.port) for m in line.monitors]
    assert kinds == [("compat_monitor0", "tcp", None, 4444), ("m1", "unix", "/tmp/a,b.sock", 0)]
    with pytest.raises(CommandLineError, match='chardev "nope" not found'):
        _parse("-mon", "chardev=nope,mode=control")


def test_devices_and_iothreads() -> None:
    line = _parse(
        "-device", "virtio-rng-pci,id=rng0", "-device", "piix3-usb-uhci",
        "-object", "iothread,id=io1", "-object", '{"qom-type":"iothread","id":"io2"}',
        "-object", '{"qom-type":"secret","id":"masterKey0","format":"raw","file":"/k"}',
    )  # fmt: skip
    assert line.devices == [("rng0", "virtio-rng-pci")]
    assert line.iothreads == ["io1", "io2"]


@pytest.mark.parametrize(
    ("text", "topology"),
    [
        ("1,sockets=1,cores=1,threads=1", Topology(1, 1, 1, 1, 1, 1)),
        ("4", Topology(4, 4, 1, 1, 4, 1)),  # machine types from 6.2 prefer cores
        ("3,maxcpus=4,sockets=2,cores=2,threads=1", Topology(3, 4, 2, 1, 2, 1)),
        ("8,sockets=2,threads=2", Topology(8, 8, 2, 1, 2, 2)),
        ("cpus=2,sockets=2,dies=2,cores=1,threads=1,maxcpus=4", Topology(2, 4, 2, 2, 1, 1)),
    ],
)
def test_smp(text: str, topology: Topology) -> None:
    assert parse_smp(text) == topology


def test_smp_that_does_not_add_up() -> None:
    with pytest.raises(OptsError, match="Invalid CPU topology"):
        parse_smp("4,sockets=3,cores=1,threads=1")


def test_apic_ids_follow_the_topology() -> None:
    """x86_apicid_from_topo_ids(): observed for 2 sockets x 2 cores (tests/emulator
    compares the recording); with threads each level takes its bits."""
    assert [Topology(4, 4, 2, 1, 2, 1).apic_id(i) for i in range(4)] == [0, 1, 2, 3]
    assert [Topology(6, 6, 2, 1, 3, 1).apic_id(i) for i in range(6)] == [0, 1, 2, 4, 5, 6]
    assert Topology(8, 8, 2, 1, 2, 2).slot(5) == (1, 0, 0, 1)


def test_cpu_features() -> None:
    assert parse_cpu("qemu64,+x2apic,-lm,hypervisor=on,vmx=off,level=13,pdpe1gb") == (
        "qemu64",
        (("x2apic", True), ("lm", False), ("hypervisor", True), ("vmx", False), ("pdpe1gb", True)),
    )


def test_qemu_opts() -> None:
    assert parse_opts("pc,accel=tcg,usb=off", implied="type") == {
        "type": "pc",
        "accel": "tcg",
        "usb": "off",
    }
    assert parse_opts("path=a,,b,server") == {"path": "a,b", "server": "on"}
    assert parse_object('{"driver":"e1000","id":"n"}', implied="driver") == {
        "driver": "e1000",
        "id": "n",
    }
    with pytest.raises(OptsError):
        parse_object("{not json", implied="driver")


def test_which_fake_a_domain_gets() -> None:
    assert select("/usr/bin/fakeqemu-system-x86_64", {}, []).profile == "7.2"
    assert select("/x/fakeqemu-system-x86_64-10.0", {}, []).profile == "10.0"
    environ = {
        "FAKEQEMU_PROFILE": "11.1",
        "FAKEQEMU_SHAPE": "new",
        "FAKEQEMU_BACKEND_OPTS": "ram=1G",
    }
    chosen = select("/x/fakeqemu-system-x86_64-10.0", environ, [])
    assert (chosen.profile, chosen.shape, chosen.backend_options) == ("11.1", "new", {"ram": "1G"})
    argv = ["-S", "-fakeqemu", "profile=7.2,backend=faker,seed=3,opt.zero-share=0.5,verbose=on"]
    chosen = select("/x/fakeqemu-system-x86_64-10.0", environ, argv)
    assert (chosen.profile, chosen.backend, chosen.seed, chosen.verbose) == (
        "7.2",
        "faker",
        3,
        True,
    )
    assert chosen.backend_options == {"ram": "1G", "zero-share": "0.5"}
    for bad in ("profile=9.9", "shape=odd", "speed=0", "colour=red"):
        with pytest.raises(OptsError):
            select("qemu-system-x86_64", {}, ["-fakeqemu", bad])


def test_the_fakes_own_options_pass_the_option_table() -> None:
    line = _parse("-fakeqemu", "shape=new", "-v")
    assert line.fakeqemu == {"shape": "new"}
    assert line.verbose
