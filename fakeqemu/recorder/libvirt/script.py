"""What libvirt 9.0 runs and asks, as data: the capture replays it against real QEMU.

Copied from libvirt 9.0's own monitor log (``log_filters="1:qemu.qemu_monitor
1:qemu.qemu_monitor_json 1:util.command"``) while it probed, started and migrated a
domain on Debian's QEMU 7.2.  libvirt asks the same of 10.0 and 11.1.

The capture asks every probe command in both probe passes (``accel=kvm:tcg`` and
``accel=tcg``, with ``host`` and ``max`` CPU models) so that the fake can answer them
by command and arguments whatever order, pass or libvirt version asks them.
"""

from __future__ import annotations

from typing import Any

from fakeqemu.profiles.emulator_data import NO_SUCH

#: One request: the command and its arguments (None: no ``arguments`` member).
Request = tuple[str, dict[str, Any] | None]

#: The probe's command line (virQEMUCapsInitQMPCommandRun); {accel}, {monitor}, {pidfile}.
PROBE_ARGV = (
    "-S -no-user-config -nodefaults -nographic -machine none,accel={accel}"
    " -qmp unix:{monitor},server=on,wait=off -pidfile {pidfile} -daemonize"
)
#: The two passes: a KVM pass (when KVM is usable), then a TCG pass.
PROBE_ACCELS = ("kvm:tcg", "tcg")

_DEVICES = (
    "virtio-blk-pci",
    "virtio-net-pci",
    "virtio-scsi-pci",
    "virtio-net-ccw",
    "virtio-scsi-ccw",
    "vfio-pci",
    "scsi-hd",
    "ide-hd",
    "PIIX4_PM",
    "usb-redir",
    "usb-storage",
    "kvm-pit",
    "VGA",
    "vmware-svga",
    "qxl",
    "virtio-gpu-pci",
    "virtio-gpu-device",
    "ICH9-LPC",
    "virtio-balloon-pci",
    "virtio-balloon-ccw",
    "virtio-balloon-device",
    "intel-iommu",
    "mch",
    "nvdimm",
    "pcie-root-port",
    "usb-host",
    "vhost-user-fs-device",
    "virtio-mem-pci",
    "virtio-iommu-pci",
)
_CLASSES = ("memory-backend-file", "memory-backend-memfd", "max-x86_64-cpu", "none-machine")


def _expansions(model: str) -> list[Request]:
    static: list[Request] = [
        ("query-cpu-model-expansion", {"type": "static", "model": {"name": model}}),
        (
            "query-cpu-model-expansion",
            {"type": "static", "model": {"name": model, "props": {"migratable": False}}},
        ),
    ]
    full_props = {"migratable": False, "hv-passthrough": True}
    full: Request = ("query-cpu-model-expansion", {"type": "full", "model": {"name": model}})
    return [
        *static,
        full,
        (
            "query-cpu-model-expansion",
            {"type": "full", "model": {"name": model, "props": full_props}},
        ),
    ]


#: What the probe asks whose answer is recorded (qmp_capabilities, query-version,
#: query-target, query-qmp-schema, query-commands and query-kvm are answered elsewhere).
PROBE_COMMANDS: tuple[Request, ...] = (
    ("qom-list-types", None),
    *(("device-list-properties", {"typename": name}) for name in _DEVICES),
    *(("qom-list-properties", {"typename": name}) for name in _CLASSES),
    ("query-machines", None),
    ("query-cpu-definitions", None),
    ("query-tpm-models", None),
    ("query-tpm-types", None),
    ("query-command-line-options", None),
    ("query-sev-capabilities", None),
    ("query-sgx-capabilities", None),
    *_expansions("host"),
    *_expansions("max"),
)

#: Requests about unknown things; the recorded error texts, with NO_SUCH replaced by the
#: name asked about, are the fake's answers to names it has no recording of.
MISSING_PROBES: tuple[Request, ...] = (
    ("device-list-properties", {"typename": NO_SUCH}),
    ("qom-list-properties", {"typename": NO_SUCH}),
    ("query-cpu-model-expansion", {"type": "static", "model": {"name": NO_SUCH}}),
    ("qom-list", {"path": f"/machine/{NO_SUCH}"}),
    ("qom-get", {"path": f"/machine/{NO_SUCH}", "property": "type"}),
    ("qom-get", {"path": "/machine/unattached/device[0]", "property": NO_SUCH}),
    ("getfd", {"fdname": "migrate"}),
    ("closefd", {"fdname": NO_SUCH}),
)
#: Asked with a file descriptor passed along (SCM_RIGHTS), in this order.
FD_PROBES: tuple[Request, ...] = (
    ("getfd", {"fdname": "9lives"}),
    ("getfd", {"fdname": "migrate"}),
    ("getfd", {"fdname": "migrate"}),
)
#: Asked without one, after them.
FD_AFTER: tuple[Request, ...] = (
    ("closefd", {"fdname": "migrate"}),
    ("closefd", {"fdname": "migrate"}),
    ("getfd", {"fdname": "migrate"}),
)
#: What the probe's machine (``-machine none``) says about its hardware.
MACHINE_NONE: tuple[Request, ...] = (
    ("query-chardev", None),
    ("query-hotpluggable-cpus", None),
    ("query-cpus-fast", None),
    ("query-balloon", None),
    ("balloon", {"value": 1}),
    ("qom-list", {"path": "/machine/peripheral"}),
    ("query-uuid", None),
    ("query-name", None),
    ("query-iothreads", None),
    ("query-block", None),
    ("query-named-block-nodes", None),
    ("query-status", None),
)

#: The start's command line (qemuBuildCommandLine for a 128 MiB, 1 vCPU TCG domain with
#: ``<acpi/>``); {name}, {secret}, {machine}, {cpu}, {memory}, {smp}, {uuid}, {fd},
#: {incoming}.  The monitor is a socket libvirt binds and passes as fd {fd}.
START_ARGV = (
    "-name guest={name},debug-threads=on -S"
    ' -object {{"qom-type":"secret","id":"masterKey0","format":"raw","file":"{secret}"}}'
    " -machine {machine},usb=off,dump-guest-core=off,memory-backend=pc.ram"
    " -accel tcg -cpu {cpu} -m {memory}"
    ' -object {{"qom-type":"memory-backend-ram","id":"pc.ram","size":{memory_bytes}}}'
    " -overcommit mem-lock=off -smp {smp} -uuid {uuid} -display none -no-user-config -nodefaults"
    " -chardev socket,id=charmonitor,fd={fd},server=on,wait=off"
    " -mon chardev=charmonitor,id=monitor,mode=control -rtc base=utc -no-shutdown -boot strict=on"
    ' -device {{"driver":"piix3-usb-uhci","id":"usb","bus":"pci.0","addr":"0x1.0x2"}}'
    ' -audiodev {{"id":"audio1","driver":"none"}}{incoming}'
    ' -device {{"driver":"virtio-balloon-pci","id":"balloon0","bus":"pci.0","addr":"0x2"}}'
    " -sandbox on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny"
    " -msg timestamp=on"
)

#: The start, before the per-property reads of the CPU (qemuProcessLaunch and
#: qemuProcessFinishStartup).
START_BEFORE_CPU: tuple[Request, ...] = (
    ("query-migrate-capabilities", None),
    ("migrate-set-capabilities", {"capabilities": [{"capability": "events", "state": True}]}),
    ("query-chardev", None),
    ("query-hotpluggable-cpus", None),
    ("query-cpus-fast", None),
)
#: After them: the rest of the start, then suspend, resume and what virsh asks.
START_AFTER_CPU: tuple[Request, ...] = (
    ("query-iothreads", None),
    # (here libvirt sets the balloon to the guest's memory: ``balloon`` {"value": BYTES})
    ("query-balloon", None),
    ("query-named-block-nodes", {"flat": True}),
    ("qom-list", {"path": "/machine/peripheral"}),
    ("query-block", None),
    ("query-uuid", None),
    ("query-name", None),
    ("query-kvm", None),
    ("cont", None),
    ("stop", None),
    ("cont", None),
    ("query-status", None),
    ("query-migrate", None),
)
