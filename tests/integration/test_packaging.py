"""``pip install .`` as a user runs it: no deprecation warning, an SPDX license and its file,
and faker only as an extra.

The build uses this environment's setuptools (``--no-build-isolation``) and fetches
nothing (``--no-index --no-deps``), on a copy of the sources, so that it works offline
and leaves nothing in the checkout.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from email.parser import Parser
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ("pyproject.toml", "README.md", "LICENSE", "fakeqemu")


@pytest.mark.slow
def test_pip_install_prints_no_warning_and_ships_the_license(tmp_path: Path) -> None:
    checkout = tmp_path / "checkout"
    for name in SOURCES:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, checkout / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            checkout.mkdir(exist_ok=True)
            shutil.copy(source, checkout / name)
    target = tmp_path / "site"
    result = subprocess.run(
        [
            *(sys.executable, "-m", "pip", "install", "--no-build-isolation", "--no-index"),
            *("--no-deps", "--no-cache-dir", "--disable-pip-version-check"),
            *("--target", str(target), str(checkout)),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "Successfully installed fakeqemu" in output
    assert "deprecat" not in output.lower(), output
    assert "BuildBackendWarning" not in output, output
    (info,) = target.glob("fakeqemu-*.dist-info")
    metadata = Parser().parsestr((info / "METADATA").read_text())
    assert metadata["License-Expression"] == "MIT"
    assert metadata["License-File"] == "LICENSE"
    assert (info / "licenses" / "LICENSE").read_text() == (ROOT / "LICENSE").read_text()
    requirements = metadata.get_all("Requires-Dist") or []
    assert 'faker>=25; extra == "faker"' in requirements
    assert not [r for r in requirements if r.startswith("faker") and "extra" not in r]
    assert (target / "fakeqemu" / "py.typed").exists()
