"""User errors of ``fakeqemu``: one line naming what is wrong, status 2 or 1, no traceback.

And nothing is announced as started before it has started.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.processes import TIMEOUT


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fakeqemu", *args],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )


@pytest.mark.parametrize(
    ("args", "status", "message"),
    [
        (
            ["--tcp", "127.0.0.1:99999"],
            2,
            "argument --tcp: port 99999 is out of range (0 to 65535) in '127.0.0.1:99999'",
        ),
        (
            ["--incoming", "bogus:uri"],
            1,
            "--incoming bogus:uri: unknown migration protocol: bogus:uri",
        ),
        (
            ["--incoming", "tcp:127.0.0.1:nosuchservice"],
            1,
            "--incoming tcp:127.0.0.1:nosuchservice: address resolution failed for "
            "127.0.0.1:nosuchservice: Servname not supported for ai_socktype",
        ),
        (
            ["--connect", "{tmp}/missing.sock"],
            1,
            "--connect {tmp}/missing.sock: Failed to connect to '{tmp}/missing.sock': "
            "No such file or directory",
        ),
        (
            ["--unix", "/nonexistent/dir/x.sock"],
            1,
            "--unix /nonexistent/dir/x.sock: Failed to bind socket to /nonexistent/dir/x.sock: "
            "No such file or directory",
        ),
        (["--memory", "1.5"], 2, "a fraction needs a unit (K, M, G, ...), got '1.5'"),
        (["--memory", "4GB", "--profile", "6.0"], 2, "unknown profile '6.0'"),
    ],
)
def test_serve_errors_are_one_line(
    args: list[str], status: int, message: str, tmp_path: Path
) -> None:
    monitor = str(tmp_path / "m.sock")
    done = run("serve", "--unix", monitor, *[arg.format(tmp=tmp_path) for arg in args])
    assert done.returncode == status, done.stderr
    assert message.format(tmp=tmp_path) in done.stderr.splitlines()[-1]
    assert "Traceback" not in done.stderr
    assert done.stdout == "", "nothing is announced as started"
    assert not os.path.exists(monitor), "what was bound is removed again"


#: As on a machine without PYTHONUNBUFFERED: stdout to a pipe is block-buffered.
BUFFERED = {name: value for name, value in os.environ.items() if name != "PYTHONUNBUFFERED"}


@pytest.mark.parametrize(
    "command",
    [("contracts", "diff", "11.1/old", "11.1/new"), ("profiles",)],
    ids=["contracts-diff", "profiles"],
)
def test_a_broken_pipe_on_stdout_is_not_a_traceback(command: tuple[str, ...]) -> None:
    """``fakeqemu contracts diff 11.1/old 11.1/new | head -3``: nothing on stderr."""
    with subprocess.Popen(
        [sys.executable, "-m", "fakeqemu", *command],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=BUFFERED,
    ) as proc:
        assert proc.stdout is not None
        # `head` left before it was written to (the interpreter takes longer to start).
        proc.stdout.close()
        _, stderr = proc.communicate(timeout=TIMEOUT)
    assert stderr == b""
