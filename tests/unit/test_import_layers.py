"""The import layers of fakeqemu: each part imports only parts below it.

    cli
    server | recorder | testing   (testing and recorder may import server)
    fake
    drift                         (schema drift: mutations read from the contracts)
    contracts                     (a leaf: only drift, testing and cli import it)
    commands
    model
    backends
    profiles
    protocol
    vocabulary, errors, sizes, fault_catalog   (import nothing of fakeqemu)

Every ``import`` counts, inside functions and under ``TYPE_CHECKING`` too, so no
cycle between two parts can hide.  ``fakeqemu/__init__.py`` (the public API, lazy)
and ``__main__.py`` stand above everything; nothing inside the package imports them.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parents[2] / "fakeqemu"

LAYERS: list[tuple[str, ...]] = [
    ("vocabulary", "errors", "sizes", "fault_catalog"),
    ("protocol",),
    ("profiles",),
    ("backends",),
    ("model",),
    ("commands",),
    ("contracts",),
    ("drift",),
    ("fake",),
    ("server", "recorder", "testing"),
    ("cli",),
]
RANK = {part: rank for rank, parts in enumerate(LAYERS) for part in parts}
#: Imports allowed between parts of one layer.
SIBLINGS = {("testing", "server"), ("recorder", "server")}
#: Who may import the contracts, which the fake itself never needs.
CONTRACT_USERS = {"contracts", "drift", "testing", "cli"}


def part_of(module: str) -> str:
    """``fakeqemu.server.serve`` -> ``server``; the root package is ``fakeqemu``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "fakeqemu"


def module_name(path: Path) -> str:
    relative = path.relative_to(PACKAGE.parent).with_suffix("")
    names = list(relative.parts)
    if names[-1] == "__init__":
        names.pop()
    return ".".join(names)


def imports(path: Path) -> list[tuple[int, str]]:
    """Every fakeqemu module ``path`` imports, with the line."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            # fakeqemu imports absolutely (ruff's isort); a relative import is a finding.
            module = "fakeqemu.<relative>" if node.level else node.module or ""
            found.append((node.lineno, module))
    return [(line, name) for line, name in found if name.split(".")[0] == "fakeqemu"]


def violations() -> list[str]:
    problems = []
    for path in sorted(PACKAGE.rglob("*.py")):
        source = module_name(path)
        own = part_of(source)
        if own in ("fakeqemu", "__main__"):
            continue  # the public API and the entry point stand above every part
        if own not in RANK:
            problems.append(f"{path}: fakeqemu.{own} has no layer in LAYERS")
            continue
        for line, target in imports(path):
            other = part_of(target)
            where = f"{path.relative_to(PACKAGE.parent)}:{line}: {own} imports {target}"
            if other == own:
                continue
            if other in ("fakeqemu", "__main__"):
                problems.append(f"{where} (the public API is for users, not for the package)")
            elif other == "contracts" and own not in CONTRACT_USERS:
                problems.append(f"{where} (contracts is a leaf: drift, testing, cli use it)")
            elif RANK.get(other, len(LAYERS)) > RANK[own]:
                problems.append(f"{where} (a layer above)")
            elif RANK[other] == RANK[own] and (own, other) not in SIBLINGS:
                problems.append(f"{where} (a sibling)")
    return problems


def test_every_part_imports_only_parts_below_it() -> None:
    assert violations() == []


def test_the_leaves_import_nothing_of_fakeqemu() -> None:
    for leaf in LAYERS[0]:
        assert imports(PACKAGE / f"{leaf}.py") == [], f"fakeqemu.{leaf} must stay a leaf"


def _write(root: Path, name: str, text: str) -> None:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_the_check_finds_an_import_from_above(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The checker itself: a model module that imports the server, lazily, is caught."""
    root = tmp_path / "fakeqemu"
    _write(root, "__init__.py", "")
    _write(root, "model/machine.py", "def f():\n    from fakeqemu.server import serve\n")
    _write(root, "commands/qmp.py", "from fakeqemu.contracts import validate\n")
    _write(root, "server/serve.py", "from fakeqemu.testing import handles\n")
    monkeypatch.setattr(f"{__name__}.PACKAGE", root)
    found = "\n".join(violations())
    assert "model/machine.py:2: model imports fakeqemu.server (a layer above)" in found
    assert "commands/qmp.py:1: commands imports fakeqemu.contracts (contracts is a leaf" in found
    assert "server/serve.py:1: server imports fakeqemu.testing (a sibling)" in found
