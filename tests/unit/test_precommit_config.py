"""The pre-commit hooks are local and run this venv's tools: a commit needs no network."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

CONFIG = Path(__file__).resolve().parents[2] / ".pre-commit-config.yaml"


def test_every_hook_is_local_and_runs_a_tool_of_the_venv() -> None:
    yaml = pytest.importorskip("yaml", reason="pre-commit (the dev extra) brings PyYAML")
    config = yaml.safe_load(CONFIG.read_text())
    hooks = [hook for repo in config["repos"] for hook in repo["hooks"]]
    assert [repo["repo"] for repo in config["repos"]] == ["local"]
    assert {hook["id"] for hook in hooks} == {"ruff-check", "ruff-format", "mypy"}
    for hook in hooks:
        tool = hook["entry"].split()[0]
        assert tool.startswith(".venv/bin/"), hook
        # The tool the hook names is the one this venv has (the tests run in it).
        assert (Path(sys.executable).parent / Path(tool).name).exists(), hook


def test_pre_commit_accepts_the_configuration() -> None:
    pytest.importorskip("pre_commit", reason="pre-commit is in the dev extra")
    result = subprocess.run(
        [sys.executable, "-m", "pre_commit", "validate-config", str(CONFIG)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "warning" not in (result.stdout + result.stderr).lower()
