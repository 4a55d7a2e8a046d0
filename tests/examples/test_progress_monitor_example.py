"""The progress-monitor example's contract tests: in place, and out of the project.

Out of the project means what a downstream author has: the test file and the
tool copied to a directory of their own, fakeqemu built as a wheel and
installed from it, and this checkout nowhere on ``sys.path``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

# Shared with pytester's in-process runs, which drop what they import (test_plugin.py).
import qemu.qmp  # noqa: F401

pytest_plugins = ["pytester"]

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "progress_monitor"
FILES = ("progress_monitor.py", "test_progress_monitor.py")
TABLE = [
    "*= fakeqemu matrix =*",
    "profile old *new*",
    "7.2     passed (3)  passed (3)*",
    "10.0    passed (3)  passed (3)*",
    "11.1    passed (3)  passed (3)*",
]

#: Runs pytest with this checkout taken off sys.path (the editable install puts it there).
BOOTSTRAP = """
import os
import sys

repo = os.path.realpath(sys.argv[1])
sys.path[:] = [p for p in sys.path if os.path.realpath(p or os.curdir) != repo]
import pytest


class Where:
    def pytest_sessionfinish(self):
        import fakeqemu

        print("fakeqemu imported from", fakeqemu.__file__)
        print("checkout on sys.path:", any(os.path.realpath(p or ".") == repo for p in sys.path))


sys.exit(pytest.main(sys.argv[2:], plugins=[Where()]))
"""


def test_contract_tests_pass_across_the_matrix(pytester: pytest.Pytester) -> None:
    for name in FILES:
        shutil.copy(EXAMPLE / name, pytester.path / name)
    pytester.makeini("[pytest]\nfilterwarnings = error\n")
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=18)
    result.stdout.fnmatch_lines(TABLE)


def _pip(*args: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pip", "--disable-pip-version-check", *args],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, f"pip {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"


def install_from_a_wheel(workdir: Path) -> Path:
    """Build fakeqemu's wheel from a copy of the sources, install it in a directory of its own."""
    source = workdir / "source"
    shutil.copytree(
        REPO / "fakeqemu", source / "fakeqemu", ignore=shutil.ignore_patterns("__pycache__")
    )
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source / name)
    _pip("wheel", "--quiet", "--no-deps", "--wheel-dir", str(workdir / "dist"), str(source))
    (wheel,) = (workdir / "dist").glob("fakeqemu-*.whl")
    site = workdir / "site"
    _pip("install", "--quiet", "--no-deps", "--target", str(site), str(wheel))
    return site


@pytest.mark.slow
def test_copied_tests_pass_outside_the_project(tmp_path: Path) -> None:
    site = install_from_a_wheel(tmp_path)
    project = tmp_path / "downstream"
    project.mkdir()
    for name in FILES:
        shutil.copy(EXAMPLE / name, project / name)
    (project / "pytest.ini").write_text("[pytest]\n")
    (tmp_path / "bootstrap.py").write_text(BOOTSTRAP)
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTEST_")}
    env["PYTHONPATH"] = str(site)
    done = subprocess.run(
        [
            sys.executable,
            str(tmp_path / "bootstrap.py"),
            str(REPO),
            "-p",
            "no:cacheprovider",
            "-W",
            "error",
            "test_progress_monitor.py",
        ],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert "18 passed" in output, output
    assert f"fakeqemu imported from {site}/fakeqemu/__init__.py" in output, output
    assert "checkout on sys.path: False" in output, output
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if "fakeqemu matrix" in line)
    assert [line.rstrip() for line in lines[start + 1 : start + 5]] == [
        "profile old         new",
        "7.2     passed (3)  passed (3)",
        "10.0    passed (3)  passed (3)",
        "11.1    passed (3)  passed (3)",
    ]
