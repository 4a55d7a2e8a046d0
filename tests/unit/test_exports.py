"""The public API: what ``fakeqemu`` exports resolves, is documented, and is all there is.

As trio's ``test_exports.py`` does: every name in ``__all__`` resolves (lazily), nothing
private leaks, the type checkers see the same names, and the examples and the README
import only from ``fakeqemu`` itself.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

import fakeqemu

ROOT = Path(__file__).parents[2]


def test_the_documented_import_works() -> None:
    from fakeqemu import (  # noqa: F401 - the import is the test
        PROFILES,
        ContractError,
        FakeQemu,
        FakeQemuConfig,
        FakeQemuPair,
        Journal,
        ThreadedFakeQemu,
        validate,
    )

    assert PROFILES == ("7.2", "10.0", "11.1")


@pytest.mark.parametrize("name", fakeqemu.__all__)
def test_every_exported_name_resolves_and_is_documented(name: str) -> None:
    value = getattr(fakeqemu, name)
    if callable(value):
        assert (value.__doc__ or "").strip(), f"fakeqemu.{name} has no docstring"


def test_nothing_private_leaks() -> None:
    assert all(not name.startswith("_") for name in fakeqemu.__all__)
    assert sorted(fakeqemu.__all__) == sorted(set(fakeqemu.__all__))
    # pytest's assertion rewriting adds "@py_..." names to a plugin's package.
    public = {name for name in vars(fakeqemu) if not name.startswith(("_", "@"))}
    # Submodules appear as attributes once imported; nothing else may.
    assert {name for name in public - set(fakeqemu.__all__) if not _is_submodule(name)} == set()
    with pytest.raises(AttributeError, match="no attribute 'nonexistent'"):
        fakeqemu.nonexistent  # noqa: B018


def _is_submodule(name: str) -> bool:
    return f"fakeqemu.{name}" in sys.modules


def test_type_checkers_see_what_runtime_exports() -> None:
    tree = ast.parse((ROOT / "fakeqemu" / "__init__.py").read_text())
    typed = {
        alias.asname
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
        if alias.asname is not None
    }
    assert typed == set(fakeqemu.__all__)


def test_importing_fakeqemu_imports_nothing_heavy() -> None:
    code = "import sys, fakeqemu; sys.exit([m for m in sys.modules if 'fakeqemu.' in m] or None)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def _imported_modules(text: str) -> list[str]:
    return re.findall(r"^\s*(?:from|import)\s+(fakeqemu[\w.]*)", text, flags=re.MULTILINE)


def test_examples_and_the_readme_use_only_public_names() -> None:
    sources = sorted((ROOT / "examples").rglob("*.py"))
    found = {
        f"{path.relative_to(ROOT)}: {module}"
        for path in [*sources, ROOT / "README.md"]
        for module in _imported_modules(path.read_text(encoding="utf-8"))
        if module != "fakeqemu"
    }
    assert found == set()
    assert any(_imported_modules(path.read_text()) for path in sources), "no example imports"
