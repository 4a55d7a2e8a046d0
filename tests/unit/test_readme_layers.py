"""The README's layer table names every module of the package, in its own row."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).parents[2]


def _table() -> dict[str, str]:
    """Each row's "where" cell, by layer."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index("## How it is built")
    rows = re.findall(r"^\| ([^|]+) \| ([^|]+) \| [^|]+ \|$", text[start:], flags=re.M)
    return {layer.strip(): where for layer, where in rows[1:]}  # after the header


def test_every_module_is_in_the_layer_table() -> None:
    table = _table()
    missing = []
    for path in sorted((ROOT / "fakeqemu").rglob("*.py")):
        relative = path.relative_to(ROOT / "fakeqemu")
        if len(relative.parts) == 1:
            named = f"`{relative.name}`" in " ".join(table.values())
        else:
            package = relative.parts[0]
            cell = next((where for where in table.values() if f"`{package}/`" in where), "")
            package_init = relative.stem == "__init__"
            name = relative.parts[-2] + "/" if package_init else relative.stem
            # A layer's own __init__ is its row; a subpackage is named with its slash.
            named = f"`{name}`" in cell or (package_init and len(relative.parts) == 2)
        if not named:
            missing.append(str(relative))
    assert missing == []
