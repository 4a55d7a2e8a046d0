"""Every fault kind and scenario is documented where users look: the README, the pytest
marker's help, ``fakeqemu serve --help`` and ``fakeqemu faults``."""

from __future__ import annotations

import argparse
import contextlib
import io
from pathlib import Path

import pytest

from fakeqemu.cli import main
from fakeqemu.fault_catalog import FAULT_KINDS, SCENARIOS, TRIGGERS
from fakeqemu.testing.pytest_plugin import MARKER_HELP

ROOT = Path(__file__).parents[2]
NAMES = [*FAULT_KINDS, *SCENARIOS]


def build_serve_parser() -> argparse.ArgumentParser:
    from fakeqemu.cli.serve import add_serve_arguments

    parser = argparse.ArgumentParser()
    add_serve_arguments(parser)
    return parser


def _output(*argv: str) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):
        main(list(argv))
    return out.getvalue()


@pytest.mark.parametrize("name", NAMES)
def test_the_readme_documents_it(name: str) -> None:
    section = (ROOT / "README.md").read_text(encoding="utf-8")
    section = section[section.index("## Faults, scenarios and the control API") :]
    assert f"| `{name}` |" in section


def test_fakeqemu_faults_the_marker_and_serve_help_name_every_one() -> None:
    listing = _output("faults")
    # What serve --help prints for --scenario and --fault (argparse wraps it at hyphens).
    serve_help = " ".join(
        action.help or ""
        for action in build_serve_parser()._actions
        if {"--scenario", "--fault"} & set(action.option_strings)
    )
    for name in NAMES:
        assert f"  {name}: " in listing
        assert name in MARKER_HELP
        assert name in serve_help
    assert all(f"  {trigger}: " in listing for trigger in TRIGGERS)
