"""The shell example: two ``fakeqemu serve`` processes migrated with socat alone."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "examples" / "socat_migration.sh"


@pytest.mark.skipif(shutil.which("socat") is None, reason="socat is not installed")
@pytest.mark.parametrize(("profile", "shape"), [("7.2", "old"), ("11.1", "new")])
def test_the_script_migrates_with_socat_alone(profile: str, shape: str, tmp_path: Path) -> None:
    env = dict(os.environ)
    # `fakeqemu` as installed next to this interpreter, as `pip install` puts it on PATH.
    env["PATH"] = os.pathsep.join([os.path.dirname(sys.executable), env.get("PATH", "")])
    env["TMPDIR"] = str(tmp_path)
    done = subprocess.run(
        ["sh", str(SCRIPT), profile, shape],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("destination listening on tcp:127.0.0.1:")
    assert "source: completed" in lines
    destination = next(line for line in lines if line.startswith("destination: "))
    if shape == "new":
        assert '"status": "completed", "total-time": ' in destination
        assert '"ram": {' in destination
    else:
        assert destination == 'destination: {"return": {"status": "completed"}}'
    assert list(tmp_path.iterdir()) == [], "the script removes its sockets and logs"
