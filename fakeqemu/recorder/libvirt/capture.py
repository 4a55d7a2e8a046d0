"""Record a real QEMU as libvirt meets it: its command line, the probe and the start.

    fakeqemu capture libvirt --qemu qemu-system-x86_64 OUT_DIR

writes ``OUT_DIR/emulator.json.gz`` (profile data: what ``fakeqemu-system-x86_64``
answers from recordings) and ``OUT_DIR/libvirt.jsonl`` (the probe and start
conversations, which the tests compare the fake with byte for byte).

* The probe runs QEMU with libvirt's probe command line, ``-daemonize`` and
  ``-pidfile`` included, once with ``accel=kvm:tcg`` and once with ``accel=tcg``, and
  asks every command of :data:`~fakeqemu.recorder.libvirt.script.PROBE_COMMANDS` in
  both (a KVM pass recorded where /dev/kvm is not usable is a TCG pass, and is stored
  as one).  Replies are stored as QEMU wrote them, keyed by command and arguments.
* The start runs QEMU with libvirt's start command line, the monitor a listening
  socket passed as a file descriptor, and asks what libvirt asks, every property of
  every CPU included.  A few variants (a second CPU, the migration destination's
  ``-cpu`` and ``-incoming defer``) show what follows the command line.

Plain blocking sockets, one QEMU at a time: this is a recorder, not the server.
"""

from __future__ import annotations

import array
import contextlib
import gzip
import json
import os
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from fakeqemu.profiles.emulator_data import FILENAME, request_key
from fakeqemu.recorder.libvirt import script
from fakeqemu.recorder.libvirt.command_line import capture_cli

#: Start variants: what libvirt runs for the test domain, its migration destination,
#: and a guest with more CPUs and memory (what is computed from the command line).
START_VARIANTS: dict[str, dict[str, Any]] = {
    "start": {
        "name": "fq",
        "cpu": "qemu64",
        "smp": "1,sockets=1,cores=1,threads=1",
        "memory": 128,
        "uuid": "271e299b-74d7-48de-8a82-18ccb61e2e34",
        "incoming": False,
    },
    "incoming": {
        "name": "fq",
        "cpu": "qemu64,hypervisor=on,lahf-lm=on",
        "smp": "1,sockets=1,cores=1,threads=1",
        "memory": 128,
        "uuid": "271e299b-74d7-48de-8a82-18ccb61e2e34",
        "incoming": True,
    },
    "smp": {
        "name": "guest-two",
        "cpu": "qemu64",
        "smp": "3,maxcpus=4,sockets=2,cores=2,threads=1",
        "extra": [
            "-object",
            "iothread,id=iothread1",
            "-object",
            '{"qom-type":"iothread","id":"io2"}',
            "-device",
            "virtio-rng-pci,id=rng0,addr=0x5",
            "-device",
            '{"driver":"virtio-serial-pci","id":"virtio-serial0","addr":"0x6"}',
        ],
        "memory": 256,
        "uuid": "0c8f7a3e-6d1b-4f0e-9b1a-2f3c4d5e6f70",
        "incoming": False,
    },
}
#: The CPU model whose properties become profile data (libvirt's default for TCG).
CPU_MODEL = "qemu64"
#: The conversations, for the tests (tests/data/recordings/VERSION/).
CONVERSATIONS = "libvirt.jsonl"
REPLY_TIMEOUT = 30.0


class Monitor:
    """One blocking QMP client that keeps every line as QEMU wrote it."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self._buffer = b""
        sock.settimeout(REPLY_TIMEOUT)

    def line(self) -> bytes:
        while b"\n" not in self._buffer:
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                raise ConnectionError("QEMU closed the monitor")
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line + b"\n"

    def ask(
        self, command: str, arguments: dict[str, Any] | None = None, *, fd: int | None = None
    ) -> list[bytes]:
        """Every line up to and including the reply (events that came first included);
        ``fd`` goes along with the request (SCM_RIGHTS)."""
        request: dict[str, Any] = {"execute": command}
        if arguments is not None:
            request["arguments"] = arguments
        data = json.dumps(request).encode()
        if fd is None:
            self.sock.sendall(data)
        else:
            rights = array.array("i", [fd]).tobytes()
            self.sock.sendmsg([data], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, rights)])
        lines = []
        while True:
            lines.append(self.line())
            message = json.loads(lines[-1])
            if "return" in message or "error" in message:
                return lines

    def negotiate(self) -> bytes:
        greeting = self.line()
        self.ask("qmp_capabilities")
        return greeting


class Recorder:
    """Writes each exchange of one QEMU run to the conversation file, as it happens."""

    def __init__(self, sink: Any, variant: str, monitor: Monitor, argv: list[str]) -> None:
        self.sink, self.variant, self.monitor = sink, variant, monitor
        greeting = monitor.negotiate()
        self._write({"variant": variant, "argv": argv, "greeting": greeting.decode()})

    def _write(self, record: dict[str, Any]) -> None:
        self.sink.write(json.dumps(record) + "\n")

    def ask(
        self, command: str, arguments: dict[str, Any] | None = None, *, fd: int | None = None
    ) -> list[bytes]:
        lines = self.monitor.ask(command, arguments, fd=fd)
        record: dict[str, Any] = {"variant": self.variant, "execute": command}
        if arguments is not None:
            record["arguments"] = arguments
        if fd is not None:
            record["fd"] = True
        record["lines"] = [line.decode() for line in lines]
        self._write(record)
        return lines


def _connect(path: str, process: subprocess.Popen[bytes] | None = None) -> socket.socket:
    deadline = time.monotonic() + 30
    while True:
        sock = socket.socket(socket.AF_UNIX)
        try:
            sock.connect(path)
            return sock
        except OSError:
            sock.close()
            if time.monotonic() > deadline or (process is not None and process.poll() is not None):
                raise
            time.sleep(0.02)


def _end(pid: int) -> None:
    """SIGTERM, then wait until the process is gone (it is not our child after -daemonize)."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 10
    while os.path.exists(f"/proc/{pid}") and time.monotonic() < deadline:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
        time.sleep(0.02)


@contextlib.contextmanager
def probe_qemu(binary: str, accel: str) -> Iterator[tuple[Monitor, list[str]]]:
    """QEMU as libvirt starts it to probe: daemonized, its pid in a pidfile."""
    with tempfile.TemporaryDirectory(prefix="fakeqemu-probe-", dir="/tmp") as tmp:
        monitor, pidfile = os.path.join(tmp, "qmp.monitor"), os.path.join(tmp, "qmp.pid")
        argv = script.PROBE_ARGV.format(accel=accel, monitor=monitor, pidfile=pidfile).split()
        done = subprocess.run([binary, *argv], capture_output=True, timeout=60, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"QEMU did not start: {done.stderr.decode()[:500]}")
        pid = int(Path(pidfile).read_text())
        try:
            with _connect(monitor) as sock:
                yield Monitor(sock), argv
        finally:
            _end(pid)


def start_argv(variant: dict[str, Any], machine: str, secret: str, fd: int) -> list[str]:
    text = script.START_ARGV.format(
        name=variant["name"],
        secret=secret,
        machine=machine,
        cpu=variant["cpu"],
        memory=variant["memory"],
        memory_bytes=variant["memory"] << 20,
        smp=variant["smp"],
        uuid=variant["uuid"],
        fd=fd,
        incoming=" -incoming defer" if variant["incoming"] else "",
    )
    return [*text.split(" "), *variant.get("extra", ())]


@contextlib.contextmanager
def started_qemu(
    binary: str, variant: dict[str, Any], machine: str
) -> Iterator[tuple[Monitor, list[str]]]:
    """QEMU as libvirt starts a domain: its monitor a listening socket passed as an fd."""
    with contextlib.ExitStack() as stack:
        tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="fakeqemu-start-", dir="/tmp"))
        path, secret = os.path.join(tmp, "monitor.sock"), os.path.join(tmp, "master-key.aes")
        Path(secret).write_bytes(os.urandom(32))
        log = stack.enter_context(Path(tmp, "qemu.log").open("wb"))
        with socket.socket(socket.AF_UNIX) as listener:
            listener.bind(path)
            listener.listen(1)
            argv = start_argv(variant, machine, secret, listener.fileno())
            process = subprocess.Popen(
                [binary, *argv], pass_fds=[listener.fileno()], stdout=log, stderr=log
            )
        try:
            with _connect(path, process) as sock:
                yield Monitor(sock), argv
        finally:
            process.terminate()
            process.wait(timeout=10)


def _reply(lines: list[bytes]) -> str:
    return lines[-1].decode()


def capture_probe(binary: str, sink: Any) -> tuple[dict[str, dict[str, str]], dict[str, str]]:
    """Per accelerator mode (``kvm``, ``tcg``): request key -> the reply line QEMU wrote;
    and what the probe's machine (``-machine none``) says of its hardware (also written
    to ``sink``), by request key."""
    passes: dict[str, dict[str, str]] = {}
    machine_none: dict[str, str] = {}
    for accel in script.PROBE_ACCELS:
        with probe_qemu(binary, accel) as (monitor, argv):
            recorder = Recorder(sink, f"probe-{accel}", monitor, argv)
            answer = _reply(recorder.ask("query-kvm"))
            mode = "kvm" if json.loads(answer)["return"]["enabled"] else "tcg"
            answers = passes.setdefault(mode, {})
            for command, arguments in script.PROBE_COMMANDS:
                answers[request_key(command, arguments)] = _reply(monitor.ask(command, arguments))
            for command, arguments in script.MACHINE_NONE:
                reply = _reply(recorder.ask(command, arguments))
                if command != "query-chardev":  # it names this run's own socket path
                    machine_none[request_key(command, arguments)] = reply
    return passes, machine_none


def _cpu_paths(lines: list[bytes]) -> list[str]:
    cpus = json.loads(lines[-1])["return"]
    return [cpu["qom-path"] for cpu in sorted(cpus, key=lambda cpu: cpu["cpu-index"])]


def _record_cpus(recorder: Recorder, paths: list[str]) -> dict[str, Any]:
    """qom-list and every property of each vCPU; returns the first one's."""
    first: dict[str, Any] = {}
    for path in paths:
        listing = recorder.ask("qom-list", {"path": path})
        values = {}
        for prop in json.loads(listing[-1])["return"]:
            reply = recorder.ask("qom-get", {"path": path, "property": prop["name"]})
            values[prop["name"]] = _reply(reply)
        if not first:
            first = {"qom-list": _reply(listing), "properties": values}
    return first


def _record_descriptors(recorder: Recorder) -> None:
    for command, arguments in script.FD_PROBES:
        mine, theirs = socket.socketpair()
        with mine, theirs:
            recorder.ask(command, arguments, fd=mine.fileno())
    for command, arguments in script.FD_AFTER:
        recorder.ask(command, arguments)


def capture_start(binary: str, machine: str, sink: Any) -> dict[str, Any]:
    """Every start variant, written to ``sink``; returns the CPU model's data, QEMU's
    errors for unknown names (:data:`~fakeqemu.recorder.libvirt.script.MISSING_PROBES`)
    and the members an iothread reports besides its id and thread."""
    cpu_model: dict[str, Any] = {}
    missing: dict[str, str] = {}
    defaults: dict[str, Any] = {}
    for name, variant in START_VARIANTS.items():
        with started_qemu(binary, variant, machine) as (monitor, argv):
            recorder = Recorder(sink, name, monitor, argv)
            answers = {
                command: recorder.ask(command, arguments)
                for command, arguments in script.START_BEFORE_CPU
            }
            first = _record_cpus(recorder, _cpu_paths(answers["query-cpus-fast"]))
            iothreads = recorder.ask("query-iothreads")
            recorder.ask("balloon", {"value": variant["memory"] << 20})
            for command, arguments in script.START_AFTER_CPU[1:]:
                recorder.ask(command, arguments)
            for thread in json.loads(iothreads[-1])["return"]:
                defaults = {k: v for k, v in thread.items() if k not in ("id", "thread-id")}
            if name != "start":
                continue
            cpu_model = first
            missing[request_key("balloon", {"value": 0})] = _reply(
                recorder.ask("balloon", {"value": 0})
            )
            for command, arguments in script.MISSING_PROBES:
                missing[request_key(command, arguments)] = _reply(recorder.ask(command, arguments))
            _record_descriptors(recorder)
    return {"cpu-models": {CPU_MODEL: cpu_model}, "errors": missing, "iothread": defaults}


def _pc_machine(probe: dict[str, dict[str, str]]) -> str:
    machines = json.loads(next(iter(probe.values()))[request_key("query-machines", None)])
    name: str = next(m["name"] for m in machines["return"] if m.get("alias") == "pc")
    return name


def capture_emulator(binary: str, out_dir: Path) -> int:
    """Record everything into ``out_dir``; returns the number of replies recorded."""
    out_dir.mkdir(parents=True, exist_ok=True)
    with (out_dir / CONVERSATIONS).open("w") as sink:
        probe, machine_none = capture_probe(binary, sink)
        machine = _pc_machine(probe)
        started = capture_start(binary, machine, sink)
    data = {
        "cli": capture_cli(binary),
        "machine": machine,
        "probe": probe,
        "machine-none": machine_none,
        **started,
    }
    text = json.dumps(data, indent=0, sort_keys=True).encode()
    with gzip.GzipFile(out_dir / FILENAME, "wb", mtime=0) as packed:
        packed.write(text)
    properties = started["cpu-models"][CPU_MODEL]["properties"]
    return sum(len(answers) for answers in probe.values()) + len(properties)
