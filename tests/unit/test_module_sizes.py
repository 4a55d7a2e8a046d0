"""Modules stay under 400 lines, tests too (CONTRIBUTING, "Rules the review checks")."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LIMIT = 400
MODULES = sorted(
    path.relative_to(ROOT)
    for folder in ("fakeqemu", "tests", "bench", "examples")
    for path in (ROOT / folder).rglob("*.py")
)


def test_the_project_has_modules_to_check() -> None:
    assert len(MODULES) > 200


@pytest.mark.parametrize("module", MODULES, ids=str)
def test_a_module_stays_under_the_limit(module: Path) -> None:
    lines = (ROOT / module).read_text(encoding="utf-8").count("\n")
    assert lines <= LIMIT, f"{module} has {lines} lines; split it"
