"""The layers below the server never import trio (sans-IO protocol, model, commands, data),
and ``fakeqemu serve`` imports nothing heavy before its greeting."""

from __future__ import annotations

import subprocess
import sys

import pytest

SANS_IO = [
    "fakeqemu",
    "fakeqemu.vocabulary",
    "fakeqemu.fake.options",
    "fakeqemu.fake.config",
    "fakeqemu.server",
    "fakeqemu.server.listeners",
    "fakeqemu.testing",
    "fakeqemu.cli",
    "fakeqemu.profiles.patch",
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
    # fakeqemu-system-x86_64 reads QEMU's command line and forks (-daemonize) first.
    "fakeqemu.cli.qemu.main",
    "fakeqemu.cli.qemu.command_line",
    "fakeqemu.cli.qemu.selection",
    "fakeqemu.cli.qemu.host",
    "fakeqemu.profiles.emulator_data",
    "fakeqemu.model.hardware",
    "fakeqemu.model.descriptors",
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


#: What ``fakeqemu serve`` does before its greeting (fakeqemu/cli/serve.py, fast_start).
SERVE_PATH = """
import sys
from fakeqemu.cli import build_parser
args = build_parser("serve").parse_args(["serve", "--unix", "/tmp/x.sock", "--tcp", "127.0.0.1:0"])
import fakeqemu.cli.serve, fakeqemu.server.listeners, fakeqemu.server.signals
from fakeqemu.cli.endpoints import endpoints_from
from fakeqemu.server.fast_start import greet_while_loading, greeting_bytes
from fakeqemu.vocabulary import recorded_version, version_text
endpoints_from(args), greeting_bytes(args.profile), version_text(recorded_version("7.2"))
heavy = ("trio", "dataclasses", "jsonschema", "fakeqemu.fake.qemu", "fakeqemu.contracts")
# nor the other subcommands' modules: only serve's arguments are built (fakeqemu.cli.COMMANDS)
heavy += ("fakeqemu.cli.contracts", "fakeqemu.cli.cassettes", "fakeqemu.cli.capture")
sys.exit(" ".join(name for name in heavy if name in sys.modules) or None)
"""


def test_serve_imports_nothing_heavy_before_its_greeting() -> None:
    result = subprocess.run([sys.executable, "-c", SERVE_PATH], capture_output=True, text=True)
    assert result.returncode == 0, f"imported before the greeting: {result.stderr}"
