"""The machine's hardware as its command line describes it: CPUs, devices, chardevs.

``fakeqemu serve`` describes a default machine (one ``qemu64`` CPU, no devices);
``fakeqemu-system-x86_64`` fills it from QEMU's own options (``-smp``, ``-cpu``,
``-device``, ``-uuid``, ``-machine accel=``, ``-chardev``, ...).  The commands that
report hardware (``query-cpus-fast``, ``qom-list``, ``query-chardev``, ...) compute their
answers from it.  No trio here.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Topology:
    """``-smp``: how many vCPUs run, how many could, and how they are laid out."""

    cpus: int = 1
    maxcpus: int = 1
    sockets: int = 1
    dies: int = 1
    cores: int = 1
    threads: int = 1

    def slot(self, index: int) -> tuple[int, int, int, int]:
        """(socket, die, core, thread) of the vCPU with cpu-index ``index``."""
        thread = index % self.threads
        core = index // self.threads % self.cores
        die = index // (self.threads * self.cores) % self.dies
        socket = index // (self.threads * self.cores * self.dies)
        return socket, die, core, thread

    def apic_id(self, index: int) -> int:
        """x86_apicid_from_topo_ids(): each level gets as many bits as its count needs."""
        socket, die, core, thread = self.slot(index)
        thread_bits = _bits(self.threads)
        core_bits = _bits(self.cores)
        die_bits = _bits(self.dies)
        core_offset = thread_bits
        die_offset = core_offset + core_bits
        socket_offset = die_offset + die_bits
        return socket << socket_offset | die << die_offset | core << core_offset | thread


def _bits(count: int) -> int:
    return (count - 1).bit_length()


@dataclass(frozen=True)
class Chardev:
    """A character device as ``query-chardev`` lists it."""

    label: str
    filename: str


@dataclass(frozen=True)
class Hardware:
    """What the machine is made of (see the module docstring)."""

    #: ``-machine TYPE`` (None: the default, ``pc``); ``none`` has no CPUs at all.
    machine: str | None = None
    #: ``query-kvm``'s ``enabled``: KVM was asked for (``accel=kvm``) and is usable.
    kvm: bool = False
    #: ``-cpu MODEL``.
    cpu_model: str = "qemu64"
    #: ``-cpu MODEL,feature=on,-feature,...``: the features named, in order.
    cpu_features: tuple[tuple[str, bool], ...] = ()
    topology: Topology = field(default_factory=Topology)
    #: ``-uuid`` (None: QEMU's all-zero default).
    uuid: str | None = None
    #: The chardevs, in creation order (monitors among them).
    chardevs: tuple[Chardev, ...] = ()
    #: ``-device`` entries with an ``id``: (id, driver), in command line order.
    devices: tuple[tuple[str, str], ...] = ()
    #: ``-object iothread,id=ID``: their ids.
    iothreads: tuple[str, ...] = ()
    #: Thread ids of the vCPU threads (the front end starts one per vCPU); empty: the
    #: process's own id for each.
    vcpu_threads: tuple[int, ...] = ()
    #: Thread ids of the iothreads, likewise.
    iothread_threads: tuple[int, ...] = ()

    @property
    def has_cpus(self) -> bool:
        return self.machine != "none"

    def vcpu_thread(self, index: int) -> int:
        if index < len(self.vcpu_threads):
            return self.vcpu_threads[index]
        return os.getpid()

    def iothread_thread(self, index: int) -> int:
        if index < len(self.iothread_threads):
            return self.iothread_threads[index]
        return os.getpid()

    def has_device(self, driver_prefix: str) -> bool:
        return any(driver.startswith(driver_prefix) for _, driver in self.devices)
