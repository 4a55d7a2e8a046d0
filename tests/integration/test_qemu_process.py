"""fakeqemu-system-x86_64 as a process, the way libvirt runs QEMU.

The texts compared here were observed on the real binaries (QEMU prints its
messages under the name it runs as; so does the fake).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import stat
import subprocess
import time
from pathlib import Path

import pytest

from fakeqemu.profiles import get_profile
from tests.support.libvirt_conversations import TIMEOUT, emulator
from tests.support.recordings import VERSIONS

PROBE = ["-S", "-no-user-config", "-nodefaults", "-nographic", "-machine", "none,accel=tcg"]


def _run(program: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [program, *args], capture_output=True, text=True, timeout=TIMEOUT, check=False
    )


@pytest.mark.parametrize("version", VERSIONS)
def test_version_and_help_are_the_releases(version: str, tmp_path: Path) -> None:
    program = emulator(version, tmp_path)
    cli = get_profile(version).emulator.cli
    assert _run(program, "-version").stdout == cli["version"]
    assert _run(program, "--version").stdout == cli["version"]
    helped = _run(program, "-help").stdout
    assert helped == cli["help"].replace("{prog}", f"fakeqemu-system-x86_64-{version}")
    assert helped.startswith(cli["version"])


@pytest.mark.parametrize("version", VERSIONS)
def test_command_line_errors_are_qemus(version: str, tmp_path: Path) -> None:
    program = emulator(version, tmp_path)
    prog = f"fakeqemu-system-x86_64-{version}"
    cases = {
        ("-fakeqemu-nonsense",): f"{prog}: -fakeqemu-nonsense: invalid option\n",
        ("-S", "-name"): f"{prog}: -name: requires an argument\n",
        ("-semihosting",): f"{prog}: -semihosting: Option not supported for this target\n",
        ("-g", "1x1"): f"{prog}: -g 1x1: Option not supported for this target\n",
    }
    for args, text in cases.items():
        done = _run(program, *args)
        assert (done.returncode, done.stderr) == (1, text), args


def test_options_a_release_dropped_are_invalid_there(tmp_path: Path) -> None:
    """libvirt 9.0 passes -no-acpi to a domain without <acpi/>: QEMU 10.0 has no such
    option any more."""
    assert _run(emulator("7.2", tmp_path), "-no-acpi", "-version").returncode == 0
    done = _run(emulator("10.0", tmp_path), "-no-acpi", "-version")
    assert (done.returncode, done.stderr) == (
        1,
        "fakeqemu-system-x86_64-10.0: -no-acpi: invalid option\n",
    )


def test_daemonize_returns_once_the_monitor_listens(tmp_path: Path) -> None:
    program = emulator("7.2", tmp_path)
    monitor, pidfile = tmp_path / "qmp.monitor", tmp_path / "qmp.pid"
    qmp = f"unix:{monitor},server=on,wait=off"
    done = _run(program, *PROBE, "-qmp", qmp, "-pidfile", str(pidfile), "-daemonize")
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")
    text = pidfile.read_text()
    pid = int(text)
    assert text == f"{pid}\n"
    assert stat.S_IMODE(pidfile.stat().st_mode) == 0o600
    try:
        with socket.socket(socket.AF_UNIX) as sock:
            sock.connect(str(monitor))  # listening before the parent exited: no retry
            sock.settimeout(TIMEOUT)
            assert sock.recv(4096).startswith(b'{"QMP": {"version": {"qemu": {"micro": 22')
    finally:
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + TIMEOUT
    while (pidfile.exists() or monitor.exists()) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not pidfile.exists(), "QEMU removes its pidfile at exit"
    assert not monitor.exists()


def test_daemonize_fails_with_qemus_error_when_the_monitor_cannot_listen(tmp_path: Path) -> None:
    program = emulator("7.2", tmp_path)
    qmp = "unix:/nonexistent/qmp.monitor,server=on,wait=off"
    done = _run(program, *PROBE, "-qmp", qmp, "-daemonize")
    assert done.returncode == 1
    assert done.stderr == (
        f"fakeqemu-system-x86_64-7.2: -qmp {qmp}: "
        "Failed to bind socket to /nonexistent/qmp.monitor: No such file or directory\n"
    )


def test_a_pidfile_that_cannot_be_written(tmp_path: Path) -> None:
    done = _run(emulator("7.2", tmp_path), *PROBE, "-pidfile", "/nonexistent/x.pid", "-daemonize")
    assert done.returncode == 1
    assert done.stderr == (
        "fakeqemu-system-x86_64-7.2: cannot create PID file: "
        "Could not create '/nonexistent/x.pid': No such file or directory\n"
    )


def _events_until(file: object, name: str) -> list[dict[str, object]]:
    seen = []
    while True:
        line = file.readline()  # type: ignore[attr-defined]
        assert line, f"the monitor closed before {name}"
        message = json.loads(line)
        seen.append(message)
        if message.get("event") == name:
            return seen


def test_sigterm_ends_it_as_it_ends_qemu(tmp_path: Path) -> None:
    """``virsh destroy``: SIGTERM, SHUTDOWN host-signal, QEMU's line with -msg timestamp=on."""
    monitor = tmp_path / "monitor.sock"
    with socket.socket(socket.AF_UNIX) as listener:
        listener.bind(str(monitor))
        listener.listen(1)
        chardev = f"socket,id=charmonitor,fd={listener.fileno()},server=on,wait=off"
        argv = [emulator("7.2", tmp_path), "-S", "-chardev", chardev, "-msg", "timestamp=on"]
        argv += ["-mon", "chardev=charmonitor,id=monitor,mode=control"]
        process = subprocess.Popen(
            argv, pass_fds=[listener.fileno()], stderr=subprocess.PIPE, text=True
        )
    with socket.socket(socket.AF_UNIX) as sock:
        sock.connect(str(monitor))
        sock.settimeout(TIMEOUT)
        file = sock.makefile("rb")
        file.readline()
        sock.sendall(b'{"execute": "qmp_capabilities"}')
        assert file.readline() == b'{"return": {}}\r\n'
        process.send_signal(signal.SIGTERM)
        (shutdown,) = _events_until(file, "SHUTDOWN")
    _, stderr = process.communicate(timeout=TIMEOUT)
    assert shutdown["data"] == {"guest": False, "reason": "host-signal"}
    assert process.returncode == 0
    stamp, line = stderr.strip().split(" ", 1)
    assert time.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ")
    assert line.startswith(
        f"fakeqemu-system-x86_64-7.2: terminating on signal 15 from pid {os.getpid()} ("
    )
    assert monitor.exists(), "a monitor socket QEMU was given is not QEMU's to remove"


_NOT_A_STREAM = ["Not a migration stream", "load of migration failed: Invalid argument"]


@pytest.mark.parametrize(
    ("version", "statuses", "stderr"),
    [
        ("7.2", ["setup", "active", "failed"], _NOT_A_STREAM),
        ("10.0", ["setup", "active", "failed"], _NOT_A_STREAM),
        ("11.1", ["setup", "failed"], ["Failed to peek at channel"]),
    ],
)
def test_a_source_that_leaves_without_a_byte(
    version: str, statuses: list[str], stderr: list[str], tmp_path: Path
) -> None:
    """What libvirt's destination sees when libvirt closes the socket it dialled (its own
    migrate failed): observed on each real release."""
    monitor = tmp_path / "m.sock"
    argv = [emulator(version, tmp_path), "-S", "-incoming", "defer"]
    argv += ["-qmp", f"unix:{monitor},server=on,wait=off"]
    process = subprocess.Popen(argv, stderr=subprocess.PIPE, text=True)
    with socket.socket(socket.AF_INET) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    try:
        deadline = time.monotonic() + TIMEOUT
        while not monitor.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        with socket.socket(socket.AF_UNIX) as sock:
            sock.connect(str(monitor))
            sock.settimeout(TIMEOUT)
            file = sock.makefile("rb")
            file.readline()
            events_on = [{"capability": "events", "state": True}]
            lines: list[bytes] = []
            for request in (
                {"execute": "qmp_capabilities"},
                {"execute": "migrate-set-capabilities", "arguments": {"capabilities": events_on}},
                {"execute": "migrate-incoming", "arguments": {"uri": f"tcp:127.0.0.1:{port}"}},
            ):
                sock.sendall(json.dumps(request).encode())
                while b'"return"' not in (line := file.readline()):
                    lines.append(line)
            socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT).close()
            lines += iter(file.readline, b"")
            events = [line for line in lines if b'"event"' in line]
        _, err = process.communicate(timeout=TIMEOUT)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert [json.loads(e)["data"]["status"] for e in events] == statuses
    assert process.returncode == 1
    # (Messages of the migration layer carry QEMU's default program name.)
    assert [line.split(": ", 1)[1] for line in err.splitlines()] == stderr


def test_a_monitor_descriptor_that_is_no_socket(tmp_path: Path) -> None:
    chardev = "socket,id=x,fd=0,server=on,wait=off"
    argv = ["-S", "-chardev", chardev, "-mon", "chardev=x,mode=control"]
    done = subprocess.run(
        [emulator("7.2", tmp_path), *argv],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert (done.returncode, done.stderr) == (
        1,
        f"fakeqemu-system-x86_64-7.2: -chardev {chardev}: File descriptor '0' is not a socket\n",
    )


def test_a_bound_monitor_descriptor_is_listened_on(tmp_path: Path) -> None:
    """Observed (7.2): a socket passed bound but not listening yet gets QEMU's listen()."""
    path = tmp_path / "m.sock"
    with socket.socket(socket.AF_UNIX) as bound:
        bound.bind(str(path))
        chardev = f"socket,id=x,fd={bound.fileno()},server=on,wait=off"
        argv = ["-S", "-chardev", chardev, "-mon", "chardev=x,mode=control"]
        process = subprocess.Popen(
            [emulator("7.2", tmp_path), *argv], pass_fds=[bound.fileno()], stderr=subprocess.PIPE
        )
    try:
        deadline = time.monotonic() + TIMEOUT
        with socket.socket(socket.AF_UNIX) as client:
            client.settimeout(TIMEOUT)
            while True:
                try:
                    client.connect(str(path))
                    break
                except ConnectionRefusedError:  # not listening yet: the fake is starting
                    assert time.monotonic() < deadline, "the descriptor was never listened on"
                    time.sleep(0.02)
            assert client.recv(4096).startswith(b'{"QMP": {"version": {"qemu": {"micro": 22')
    finally:
        process.terminate()
        process.communicate(timeout=TIMEOUT)
