"""The servers the load benchmark measures: ``fakeqemu serve`` and real QEMU, as processes.

Every process is started through a :class:`Processes` and stopped by it, by its own
pid, even when a scenario fails or times out (:meth:`Processes.watchdog` kills them
when a scenario runs past its deadline, which unblocks the clients waiting on them).
Socket paths are under /tmp: QEMU 11.1 here runs in a chroot that shares only /tmp.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from bench.qmp_io import QmpLines

#: How QEMU is started for the benchmark (as tests/data/recordings/README.md describes).
QEMU_BASE = ("-nodefaults", "-display", "none", "-accel", "tcg", "-machine", "pc")
#: Where ``--qemu 7.2``, ``10.0`` and ``11.1`` live on the development machine.
KNOWN_QEMUS = {
    "7.2": "/usr/bin/qemu-system-x86_64",
    "10.0": "/usr/local/bin/qemu-system-x86_64-10.0",
    "11.1": "/usr/local/bin/qemu-system-x86_64-11.1",
}
START_TIMEOUT = 30.0


class BenchError(Exception):
    """A server or a scenario did not do what the benchmark needs; the message says what."""


@dataclass(frozen=True)
class Target:
    """One server under test: a fake with a release's profile, or one real QEMU binary."""

    kind: str  # "fake" or "qemu"
    release: str  # "7.2", "10.0", "11.1"
    binary: str = ""  # the QEMU binary (for "qemu")

    @property
    def label(self) -> str:
        return f"{'fake' if self.kind == 'fake' else 'QEMU'} {self.release}"


def qemu_release(binary: str) -> str:
    """``MAJOR.MINOR`` of a QEMU binary, from ``--version``."""
    try:
        out = subprocess.run(
            [binary, "--version"], capture_output=True, text=True, timeout=30, check=False
        ).stdout
    except (OSError, subprocess.TimeoutExpired) as error:
        raise BenchError(f"{binary}: cannot run it: {error}") from None
    match = re.search(r"version (\d+)\.(\d+)", out)
    if match is None:
        raise BenchError(f"{binary}: no version in {out[:100]!r}")
    return f"{match[1]}.{match[2]}"


def qemu_targets(choice: str | None) -> list[Target]:
    """The real QEMUs named by ``--qemu`` (comma separated releases or binaries, ``none``);
    by default ``$FAKEQEMU_REAL_QEMU`` or ``qemu-system-x86_64`` on PATH, if any.

    Each must be a release the fake has a profile for: it is compared with that profile.
    """
    from fakeqemu.vocabulary import PROFILE_NAMES  # light: no trio, no profile data

    if choice is None:
        default = os.environ.get("FAKEQEMU_REAL_QEMU") or shutil.which("qemu-system-x86_64")
        names = [default] if default else []
    elif choice == "none":
        names = []
    else:
        names = [name for name in choice.split(",") if name]
    targets = []
    for name in names:
        binary = KNOWN_QEMUS.get(name) or shutil.which(name) or name
        if not os.path.exists(binary):
            raise BenchError(f"--qemu {name}: no such QEMU binary")
        release = qemu_release(binary)
        if name in KNOWN_QEMUS and release != name:
            raise BenchError(f"--qemu {name}: {binary} is QEMU {release}")
        if release not in PROFILE_NAMES:
            raise BenchError(f"{binary} is QEMU {release}; the fake imitates {PROFILE_NAMES}")
        targets.append(Target("qemu", release, binary))
    return targets


def vm_rss_kib(pid: int, field_name: str = "VmRSS") -> int:
    """A memory figure of ``pid`` from /proc/PID/status, in KiB (0 once it has gone)."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith(field_name + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def listening_paths() -> set[str]:
    """The unix socket paths something listens on (/proc/net/unix, read once)."""
    paths = set()
    with open("/proc/net/unix", encoding="utf-8", errors="replace") as table:
        next(table, None)
        for line in table:
            fields = line.split(None, 7)
            if len(fields) == 8 and int(fields[3], 16) & 0x10000:  # __SO_ACCEPTCON
                paths.add(fields[7].rstrip("\n"))
    return paths


@dataclass
class Server:
    """A started server: its process, its monitor socket paths, its stderr file."""

    target: Target
    proc: subprocess.Popen[bytes]
    sockets: list[str]
    stderr_path: Path

    @property
    def pid(self) -> int:
        return self.proc.pid

    def rss_kib(self) -> int:
        return vm_rss_kib(self.pid)

    def peak_rss_kib(self) -> int:
        return vm_rss_kib(self.pid, "VmHWM")

    def stderr(self) -> str:
        try:
            return self.stderr_path.read_text(errors="replace")
        except OSError:
            return ""

    def warm_up(self) -> None:
        """Serve one client, so that the RSS measured next is that of a server at work
        (the fake greets before it has loaded everything: see fakeqemu/fast_start.py)."""
        monitor = QmpLines.connect(self.sockets[0], START_TIMEOUT)
        try:
            monitor.negotiate()
            monitor.execute("query-status")
        finally:
            monitor.close()

    def kill(self) -> None:
        """SIGKILL, by this process's own pid, if it is still running."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


@dataclass
class Processes:
    """Starts servers in one scratch directory under /tmp and stops every one of them."""

    directory: Path = field(
        default_factory=lambda: Path(tempfile.mkdtemp(prefix="fqbench-", dir="/tmp"))
    )
    servers: list[Server] = field(default_factory=list)
    timed_out: bool = False

    def start(self, target: Target, monitors: int = 1, *extra: str, name: str = "m") -> Server:
        """A server with ``monitors`` unix monitors, once every one of them listens.

        ``extra`` are arguments for ``fakeqemu serve`` or QEMU, written the same way
        for both where they mean the same (``-S`` is always given).
        """
        sockets = [str(self.directory / f"{name}{index}.sock") for index in range(monitors)]
        stderr_path = self.directory / f"{name}.stderr"
        if target.kind == "fake":
            argv = [sys.executable, "-m", "fakeqemu", "serve", "--profile", target.release, "-S"]
            for path in sockets:
                argv += ["--unix", path]
        else:
            argv = [target.binary, *QEMU_BASE, "-S"]
            for path in sockets:
                argv += ["-qmp", f"unix:{path},server=on,wait=off"]
        argv += list(extra)
        with stderr_path.open("wb") as stderr:
            proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=stderr)
        server = Server(target, proc, sockets, stderr_path)
        self.servers.append(server)
        deadline = time.monotonic() + START_TIMEOUT
        while not set(sockets) <= listening_paths():
            if proc.poll() is not None or time.monotonic() > deadline:
                server.kill()
                raise BenchError(f"{target.label} did not start: {server.stderr()[-500:]}")
            time.sleep(0.01)
        server.warm_up()
        return server

    def stop_all(self) -> None:
        for server in self.servers:
            server.kill()

    @contextmanager
    def watchdog(self, seconds: float) -> Iterator[None]:
        """Kill every server started here if the block runs longer than ``seconds``."""

        def expire() -> None:
            self.timed_out = True
            self.stop_all()

        timer = threading.Timer(seconds, expire)
        timer.daemon = True
        timer.start()
        try:
            yield
        except Exception as error:
            if self.timed_out:
                raise BenchError(
                    f"timed out after {seconds:.0f} s; every server was killed"
                ) from error
            raise
        finally:
            timer.cancel()
            timer.join()  # if it fired: until every server is reaped
        if self.timed_out:
            raise BenchError(f"timed out after {seconds:.0f} s; every server was killed")

    def close(self) -> None:
        self.stop_all()
        shutil.rmtree(self.directory, ignore_errors=True)


@contextmanager
def processes() -> Iterator[Processes]:
    """A :class:`Processes` whose servers are all stopped (and files removed) at the end."""
    started = Processes()
    try:
        yield started
    finally:
        started.close()
