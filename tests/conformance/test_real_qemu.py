"""Against a live QEMU, when one is installed: the capture tool re-records what is stored.

CI installs Debian's QEMU 7.2 for this; elsewhere these tests skip.  They keep
the stored recordings honest: the probes and queries the fake is compared
with are what `fakeqemu capture` gets from the real binary today.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from fakeqemu.recorder.capture import capture_probes, capture_queries
from tests.support.recordings import RECORDINGS, mask_timestamps

pytestmark = pytest.mark.real_qemu


def _real_qemu() -> tuple[str, str]:
    binary = os.environ.get("FAKEQEMU_REAL_QEMU") or shutil.which("qemu-system-x86_64")
    if binary is None:
        pytest.skip("no qemu-system-x86_64 installed")
    out = subprocess.run([binary, "--version"], capture_output=True, text=True, check=True)
    match = re.search(r"version (\d+)\.(\d+)", out.stdout)
    assert match, out.stdout
    version = f"{match[1]}.{match[2]}"
    if not (RECORDINGS / version).is_dir():
        pytest.skip(f"no recording of QEMU {version} to compare with")
    return binary, version


def test_probes_rerecord_identically(tmp_path: Path) -> None:
    binary, version = _real_qemu()
    stored = RECORDINGS / version / "probes.jsonl"
    fresh = tmp_path / "probes.jsonl"
    assert capture_probes(binary, stored, fresh) == 51
    for old, new in zip(
        stored.read_text().splitlines(), fresh.read_text().splitlines(), strict=True
    ):
        old_case, new_case = json.loads(old), json.loads(new)
        assert new_case["greeting"] == old_case["greeting"]
        masked = [mask_timestamps(r.encode("latin-1")) for r in new_case["replies"]]
        assert masked == [mask_timestamps(r.encode("latin-1")) for r in old_case["replies"]], (
            old_case["name"]
        )


def test_queries_rerecord_identically(tmp_path: Path) -> None:
    binary, version = _real_qemu()
    fresh = tmp_path / "queries.json"
    capture_queries(binary, fresh)
    stored = json.loads((RECORDINGS / version / "queries.json").read_text())
    for name, raw in json.loads(fresh.read_text()).items():
        assert raw == stored[name], name
