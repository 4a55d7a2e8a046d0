"""The README's "Contract-testing your tool" example, pasted and run as a reader would."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

# Shared with pytester's in-process runs, which drop what they import (test_plugin.py).
import qemu.qmp  # noqa: F401

pytest_plugins = ["pytester"]

README = Path(__file__).resolve().parents[2] / "README.md"


def section(text: str, title: str) -> str:
    start = text.index(f"## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


def test_the_readme_example_runs_as_printed(pytester: pytest.Pytester) -> None:
    text = section(README.read_text(encoding="utf-8"), "Contract-testing your tool")
    code = re.search(r"```python\n(.*?)```", text, re.S)
    table = re.search(r"```text\n(.*?)```", text, re.S)
    assert code is not None
    assert table is not None
    assert len(code.group(1).strip().splitlines()) <= 15, "a short example"
    pytester.makeini("[pytest]\nfilterwarnings = error\n")
    pytester.makepyfile(test_my_tool=code.group(1))
    result = pytester.runpytest("-p", "no:cacheprovider", "--fakeqemu-matrix", "test_my_tool.py")
    result.assert_outcomes(passed=6)
    printed = [line.rstrip() for line in table.group(1).splitlines()[1:]]
    result.stdout.fnmatch_lines(printed)


def test_the_readme_threaded_example_runs_as_printed() -> None:
    text = section(README.read_text(encoding="utf-8"), "Contract-testing your tool")
    after = text[text.index("Outside pytest") :]
    code = re.search(r"```python\n(.*?)```", after, re.S)
    assert code is not None
    namespace: dict[str, object] = {}
    exec(compile(code.group(1), "README.md", "exec"), namespace)
    fake = namespace["fake"]
    address = fake.address  # type: ignore[attr-defined]
    assert isinstance(address, str)
    assert address.endswith(".sock")
    assert not Path(address).exists(), "the socket file is removed on leaving the block"
