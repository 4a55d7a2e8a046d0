"""The layers below the server never import trio (sans-IO protocol, model, commands, data)."""

from __future__ import annotations

import subprocess
import sys

import pytest

SANS_IO = [
    "fakeqemu.protocol.session",
    "fakeqemu.protocol.json_stream",
    "fakeqemu.protocol.encoder",
    "fakeqemu.protocol.qapi",
    "fakeqemu.commands",
    "fakeqemu.model.machine",
    "fakeqemu.model.stats",
    "fakeqemu.profiles",
    "fakeqemu.backends",
    "fakeqemu.contracts",
    "fakeqemu.fake.qemu",
    "fakeqemu.server.fast_start",
    "fakeqemu.protocol.cassette",
    "fakeqemu.protocol.cassette_matchers",
]


@pytest.mark.parametrize("module", SANS_IO)
def test_module_does_not_pull_in_trio(module: str) -> None:
    code = f"import sys, {module}; sys.exit('trio' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, f"{module} imports trio (or failed): {result.stderr}"


def test_only_the_faker_backend_imports_faker() -> None:
    code = "import sys, fakeqemu.fake.qemu, fakeqemu.backends; sys.exit('faker' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
