"""Two libvirt daemons on one machine, each in its own mount namespace.

Each daemon gets private /etc/libvirt, /run/libvirt, /var/lib/libvirt,
/var/cache/libvirt and /var/log/libvirt (bind mounts inside ``unshare -m``), its own
socket directory and its own ``host_uuid``, so that ``virsh migrate`` from one to
the other is a migration between two hosts.  Monitor debugging is on:
``libvirtd.log`` holds every QMP message.  Loopback and unix sockets only.

:meth:`Daemon.stop` ends the domain processes the daemon started (their pid files)
and the daemon itself, by their own pids: libvirt leaves its QEMUs running when it
exits.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

#: Every wait here is bounded by this.
TIMEOUT = 60.0
VIRSH_TIMEOUT = 120.0
_QEMU_CONF = """
user = "root"
group = "root"
dynamic_ownership = 0
remember_owner = 0
security_driver = "none"
namespaces = [ ]
cgroup_controllers = [ ]
stdio_handler = "file"
"""
_MOUNTS = (
    "etc:/etc/libvirt",
    "run:/run/libvirt",
    "lib:/var/lib/libvirt",
    "cache:/var/cache/libvirt",
    "log:/var/log/libvirt",
)


def missing() -> str | None:
    """Why these daemons cannot run here, or None."""
    for tool in ("libvirtd", "virsh", "unshare"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
    if os.geteuid() != 0:
        return "libvirtd in system mode needs root"
    if not Path("/etc/libvirt").is_dir():
        return "/etc/libvirt is missing"
    # Private state directories are bind mounts in a mount namespace of their own.
    tried = subprocess.run(
        ["unshare", "-m", "--propagation", "private", "true"], capture_output=True, check=False
    )
    if tried.returncode != 0:
        return f"no mount namespace here: {tried.stderr.decode().strip()}"
    return None


@dataclass
class Daemon:
    root: Path
    host_uuid: str
    pid: int | None = None

    @property
    def uri(self) -> str:
        return f"qemu+unix:///system?socket={self.root}/sock/libvirt-sock"

    @property
    def log(self) -> Path:
        return self.root / "libvirtd.log"

    def start(self) -> None:
        for part in ("etc", "run", "lib/qemu", "cache", "log/qemu", "sock"):
            (self.root / part).mkdir(parents=True, exist_ok=True)
        shutil.copytree("/etc/libvirt", self.root / "etc", dirs_exist_ok=True, symlinks=True)
        for leftover in (self.root / "etc/qemu").glob("*.xml"):
            leftover.unlink()
        autostart = self.root / "etc/qemu/networks/autostart"
        if autostart.is_dir():
            shutil.rmtree(autostart)
        with (self.root / "etc/qemu.conf").open("a") as conf:
            conf.write(_QEMU_CONF)
        with (self.root / "etc/libvirtd.conf").open("a") as conf:
            conf.write(
                f'\nhost_uuid = "{self.host_uuid}"\nunix_sock_dir = "{self.root}/sock"\n'
                'log_filters = "1:qemu.qemu_monitor 1:qemu.qemu_monitor_json 1:util.command"\n'
                f'log_outputs = "1:file:{self.log}"\n'
            )
        mounts = " && ".join(
            f"mkdir -p {target} && mount --bind {self.root / source} {target}"
            for source, target in (mount.split(":") for mount in _MOUNTS)
        )
        pidfile = self.root / "libvirtd.pid"
        script = f"{mounts} && exec libvirtd -d -p {pidfile}"
        subprocess.run(
            ["unshare", "-m", "--propagation", "private", "sh", "-c", script],
            check=True,
            timeout=TIMEOUT,
            capture_output=True,
        )
        socket_file = self.root / "sock/libvirt-sock"
        deadline = time.monotonic() + TIMEOUT
        while not (socket_file.exists() and pidfile.exists() and pidfile.read_text().strip()):
            if time.monotonic() > deadline:
                raise AssertionError(f"libvirtd in {self.root} did not start")
            time.sleep(0.05)
        self.pid = int(pidfile.read_text())

    def virsh(
        self, *args: str, check: bool = True, timeout: float = VIRSH_TIMEOUT
    ) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            ["virsh", "-q", "-c", self.uri, *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and done.returncode != 0:
            raise AssertionError(f"virsh {' '.join(args)}: {done.stderr.strip()}")
        return done

    def virsh_background(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            ["virsh", "-q", "-c", self.uri, *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def domain_pid(self, name: str) -> int | None:
        """The pid of the domain's emulator process, from libvirt's own pid file."""
        path = self.root / f"run/qemu/{name}.pid"
        with contextlib.suppress(OSError, ValueError):
            return int(path.read_text())
        return None

    def stop(self) -> None:
        """Every domain process this daemon started, then the daemon: by their pids."""
        for pidfile in (self.root / "run/qemu").glob("*.pid"):
            with contextlib.suppress(OSError, ValueError):
                _end(int(pidfile.read_text()))
        if self.pid is not None:
            _end(self.pid)
            self.pid = None


def _end(pid: int) -> None:
    """SIGTERM, then SIGKILL if it is still there after a few seconds."""
    for signo, grace in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
        try:
            os.kill(pid, signo)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + grace
        while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)
            if _zombie(pid):
                return
            time.sleep(0.05)


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1].startswith("Z")
    except (OSError, IndexError):
        return True


#: Two hosts, as far as libvirt can tell.
HOST_UUIDS = ("11111111-2222-4333-8444-555555555501", "11111111-2222-4333-8444-555555555502")


@contextlib.contextmanager
def daemon_pair(workdir: Path) -> Iterator[tuple[Daemon, Daemon]]:
    """Two started daemons; both stopped at the end, whatever happened."""
    first, second = (Daemon(workdir / f"d{n}", uuid) for n, uuid in enumerate(HOST_UUIDS, 1))
    try:
        first.start()
        second.start()
        yield first, second
    finally:
        first.stop()
        second.stop()
