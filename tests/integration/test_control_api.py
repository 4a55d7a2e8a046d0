"""The control API of ``fakeqemu serve --control``, driven from outside: curl and socat
(the shell session), ``fakeqemu ctl``, and plain HTTP; and ``serve -v``'s log."""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from fakeqemu.cli.ctl import request
from tests.support.processes import TIMEOUT, serving, spawn_serve

HERE = Path(__file__).parent


@contextmanager
def controlled(*args: str) -> Iterator[tuple[str, str, subprocess.Popen[bytes]]]:
    """A ``fakeqemu serve --control`` on unix sockets: (monitor, control, process)."""
    with tempfile.TemporaryDirectory(prefix="fq-ctl-") as directory:
        monitor, control = f"{directory}/qmp.sock", f"unix:{directory}/ctl.sock"
        with serving("--unix", monitor, "--control", control, *args) as proc:
            yield monitor, control, proc


def ctl(control: str, *arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fakeqemu", "ctl", "--control", control, *arguments],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )


def test_the_shell_session_with_curl_and_socat_only() -> None:
    fakeqemu = Path(sys.executable).with_name("fakeqemu")
    if not (shutil.which("curl") and shutil.which("socat") and fakeqemu.exists()):
        pytest.skip("needs curl, socat and the fakeqemu script")
    with tempfile.TemporaryDirectory(prefix="fq-sh-") as directory:
        done = subprocess.run(
            ["bash", str(HERE / "control_session.sh"), str(fakeqemu), directory],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.endswith("control session passed\n")


def test_advancing_a_real_clock_is_a_409_that_says_why() -> None:
    with controlled() as (_, control, _proc):
        status, answer = request(control, "POST", "/clock/advance", {"seconds": 1})
        assert status == 409
        assert "real time" in answer["error"]
        assert "--clock virtual" in answer["error"]
        done = ctl(control, "advance", "1")
        assert done.returncode == 1
        assert done.stderr.startswith("fakeqemu ctl: 409: the fake runs on real time")


def test_errors_are_json_naming_the_problem() -> None:
    with controlled() as (_, control, _proc):
        status, answer = request(control, "POST", "/faults", {"kind": "error", "command": "x"})
        assert (status, answer) == (
            400,
            {"error": "fault 'error': desc is required (the error text)"},
        )
        status, answer = request(control, "GET", "/nowhere")
        assert status == 404
        assert answer["error"].startswith("no endpoint GET /nowhere; endpoints: GET /health")
        status, answer = request(control, "PUT", "/faults")
        assert (status, answer) == (
            405,
            {"error": "/faults does not take PUT; it takes POST, GET, DELETE"},
        )
        status, answer = request(control, "PUT", "/scenario", {"scenario": "stall-at:120"})
        assert status == 400
        assert "between 0 and 100" in answer["error"]
        status, answer = request(control, "POST", "/wait", {"status": "completed", "timeout": 0.2})
        assert (status, answer["status"]) == (408, "none")
        assert _oversized(control.removeprefix("unix:")).startswith(b"HTTP/1.1 413 ")
        status, answer = request(control, "POST", "/faults", [1, 2])
        assert status == 400
        assert answer["error"].startswith("a fault is a JSON object")
        assert request(control, "GET", "/health")[0] == 200  # and it serves on


def test_serve_fault_and_scenario_then_ctl_and_reset() -> None:
    fault = '{"kind": "error", "command": "query-name", "desc": "from the command line"}'
    with controlled("--fault", fault, "--scenario", "dirty-burst") as (_monitor, control, proc):
        listed = json.loads(ctl(control, "faults").stdout)
        assert [(f["id"], f["kind"], f["state"]) for f in listed] == [("f1", "error", "active")]
        assert json.loads(ctl(control, "migration").stdout)["model"]["scenario"] == "dirty-burst"
        health = json.loads(ctl(control, "health").stdout)
        assert health == {
            "status": "ok",
            "profile": "11.1",
            "shape": "old",
            "role": "source",
            "clock": "real",
        }
        added = json.loads(ctl(control, "add-fault", '{"kind": "latency", "ms": 5}').stdout)
        assert added == {"id": "f2"}
        assert json.loads(ctl(control, "remove-fault", "f1").stdout) == {"removed": "f1"}
        assert json.loads(ctl(control, "scenario", "converge").stdout)["scenario"]["name"] == (
            "converge"
        )
        # Reset: the faults and the scenario of the command line again, the journal empty.
        assert ctl(control, "reset").returncode == 0
        listed = json.loads(ctl(control, "faults").stdout)
        assert [(f["kind"], f["desc"]) for f in listed] == [("error", "from the command line")]
        assert json.loads(ctl(control, "migration").stdout)["model"]["scenario"] == "dirty-burst"
        assert json.loads(ctl(control, "journal").stdout) == {"calls": [], "faults": []}
        bad = ctl(control, "add-fault", "{not json")
        assert (bad.returncode, bad.stderr.startswith("fakeqemu ctl: not JSON")) == (2, True)
        assert proc.poll() is None


def test_verbose_json_log_progress_at_most_once_a_second(tmp_path: Path) -> None:
    with tempfile.TemporaryDirectory(prefix="fq-log-") as directory:
        source, destination = f"{directory}/src.sock", f"{directory}/dst.sock"
        control = f"unix:{directory}/ctl.sock"
        args = ("--clock", "virtual", "--memory", "1G", "-v", "--log-format", "json")
        with serving("--unix", destination, "--incoming", "defer"):
            proc = spawn_serve("--unix", source, "--control", control, *args)
            try:
                err = _drive_and_stop(proc, source, destination, control)
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.communicate()
    lines = [json.loads(line) for line in err.decode().splitlines() if line.startswith("{")]
    kinds = [line["event"] for line in lines]
    assert {"connected", "disconnected", "command", "rejected", "status", "progress"} <= set(kinds)
    rejected = next(line for line in lines if line["event"] == "rejected")
    assert rejected["error"]["class"] == "CommandNotFound"
    progress = [line for line in lines if line["event"] == "progress"]
    assert {"status", "pass", "percent", "mbps", "remaining"} <= set(progress[0])
    # 5 s of the fake's clock: one line a second, plus one at each status change.
    statuses = sum(1 for line in lines if line["event"] == "status")
    assert 2 <= len(progress) <= 5 + statuses


def _oversized(path: str) -> bytes:
    """A 2 MiB body: the answer's first bytes (the server stops reading at 1 MiB)."""
    import socket

    with socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(TIMEOUT)
        sock.connect(path)
        size = 2 << 20
        head = f"PUT /scenario HTTP/1.1\r\nhost: x\r\ncontent-length: {size}\r\n\r\n"
        with contextlib.suppress(OSError):  # it answered and closed before taking it all
            sock.sendall(head.encode() + b"x" * size)
        return sock.recv(65536)


def _drive_and_stop(
    proc: subprocess.Popen[bytes], source: str, destination: str, control: str
) -> bytes:
    """Migrate with a rejected command on the way, 5 s of virtual time; stderr."""
    assert proc.stdout is not None
    started = json.loads(proc.stdout.readline())
    assert (started["event"], started["memory"], started["speed"]) == (
        "started",
        1 << 30,
        "virtual",
    )
    port = _listen(destination)
    _qmp(source, {"execute": "migrate", "arguments": {"uri": f"tcp:127.0.0.1:{port}"}})
    _qmp(source, {"execute": "no-such-command"})
    for _ in range(5):
        request(control, "POST", "/clock/advance", {"seconds": 1})
    assert request(control, "POST", "/wait", {"status": "completed", "timeout": 5})[0] == 200
    proc.terminate()
    _, err = proc.communicate(timeout=TIMEOUT)
    return err


def _qmp(path: str, *requests: dict[str, object]) -> list[dict[str, object]]:
    import socket

    with socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(TIMEOUT)
        sock.connect(path)
        data = b'{"execute": "qmp_capabilities"}' + b"".join(
            json.dumps(r).encode() for r in requests
        )
        sock.sendall(data)
        received = b""
        while received.count(b"\r\n") < len(requests) + 2:
            received += sock.recv(65536)
    return [json.loads(line) for line in received.split(b"\r\n")[2:] if line]


def _listen(destination: str) -> str:
    _qmp(destination, {"execute": "migrate-incoming", "arguments": {"uri": "tcp:127.0.0.1:0"}})
    (info,) = _qmp(destination, {"execute": "query-migrate"})
    address = info["return"]["socket-address"][0]  # type: ignore[index]
    return str(address["port"])
