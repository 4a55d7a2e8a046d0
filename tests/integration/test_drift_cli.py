"""``fakeqemu drift -- COMMAND``: a shell consumer speaking QMP through socat."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(shutil.which("socat") is None, reason="needs socat")

#: Migrates the two fakes, waits for the source to complete, and needs its sync count.
CONSUMER = r"""
q() { printf '{"execute":"qmp_capabilities"}\n%s\n' "$2" | socat - "UNIX-CONNECT:$1" | tail -n 1; }
q "$FAKEQEMU_DESTINATION" '{"execute":"migrate-incoming","arguments":{"uri":"tcp:127.0.0.1:0"}}'
port=$(q "$FAKEQEMU_DESTINATION" '{"execute":"query-migrate"}' |
       sed -n 's/.*"port": "\([0-9]*\)".*/\1/p')
q "$FAKEQEMU_ADDRESS" "{\"execute\":\"migrate\",\"arguments\":{\"uri\":\"tcp:127.0.0.1:$port\"}}"
until reply=$(q "$FAKEQEMU_SOURCE" '{"execute":"query-migrate"}')
      echo "$reply" | grep -q '"status": "completed"'; do sleep 0.02; done
echo "$reply" | grep -q '"dirty-sync-count"' ||
    { echo "no sync count, drift $FAKEQEMU_DRIFT" >&2; exit 3; }
"""
SELECTED = "drop:ram.dirty-sync-count,drop:ram,drop:total-time,add:x-drift,drop:vfio,shape:old->new"


def drift(*args: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fakeqemu", "drift", "--speed", "50", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=tmp_path,
    )


def test_a_shell_consumer_breaks_exactly_where_it_greps(tmp_path: Path) -> None:
    report = tmp_path / "drift.json"
    done = drift(
        "--drift", SELECTED, "--report", str(report), "--", "sh", "-c", CONSUMER, tmp_path=tmp_path
    )
    assert done.returncode == 1, done.stderr
    outcomes = {e["id"]: e for e in json.loads(report.read_text())["mutations"]}
    assert {drift: entry["outcome"] for drift, entry in outcomes.items()} == {
        "drop:ram.dirty-sync-count": "broke",
        "drop:ram": "broke",
        "drop:total-time": "survived",
        "add:x-drift": "survived",
        "drop:vfio": "unexercised",  # no reply the script gets has vfio
        "shape:old->new": "survived",  # the source is unchanged by the patch
    }
    assert outcomes["drop:ram"]["failures"] == [f"sh -c {CONSUMER}: no sync count, drift drop:ram"]
    assert "broke       drop:ram.dirty-sync-count  (source completed)" in done.stdout
    assert "  breaks if `ram.dirty-sync-count` is absent on a completed source" in done.stdout


def test_a_command_that_fails_without_drift_is_reported_as_such(tmp_path: Path) -> None:
    done = drift("--drift", "drop:total-time", "--", "sh", "-c", "exit 4", tmp_path=tmp_path)
    assert done.returncode == 1
    assert "the command fails without drift: exit status 4" in done.stderr


def test_unknown_ids_and_a_missing_command_are_usage_errors(tmp_path: Path) -> None:
    done = drift("--drift", "drop:nothing", "--", "true", tmp_path=tmp_path)
    assert (done.returncode, done.stderr) == (
        2,
        "fakeqemu drift: unknown mutation(s) drop:nothing\n",
    )
    assert drift(tmp_path=tmp_path).returncode == 2
