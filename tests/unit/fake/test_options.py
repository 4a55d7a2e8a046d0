"""Each configuration field is declared once; the CLI, the marker and the config agree."""

from __future__ import annotations

from dataclasses import fields

from fakeqemu.cli import build_parser
from fakeqemu.fake.config import FakeQemuConfig
from fakeqemu.fake.options import CONFIG_OPTIONS, SPEED, values_from_arguments
from fakeqemu.testing import pytest_plugin


def test_the_config_fields_are_the_declared_options() -> None:
    declared = tuple(field.metadata["option"] for field in fields(FakeQemuConfig))
    assert declared == CONFIG_OPTIONS
    assert [field.name for field in fields(FakeQemuConfig)] == [o.name for o in CONFIG_OPTIONS]


def test_serve_without_flags_is_the_default_config() -> None:
    args = build_parser().parse_args(["serve", "--unix", "x"])
    assert FakeQemuConfig(**values_from_arguments(args, CONFIG_OPTIONS)) == FakeQemuConfig()
    assert args.speed == SPEED.default == 1.0


def test_serve_flags_fill_every_field() -> None:
    argv = ["serve", "--unix", "x", "--profile", "7.2", "--shape", "new", "--name", "vm", "-S"]
    argv += ["--incoming", "defer", "-m", "1G", "--backend", "faker", "--seed", "7"]
    argv += ["--backend-opt", "zero-share=0.5", "--speed", "10"]
    args = build_parser().parse_args(argv)
    assert FakeQemuConfig(**values_from_arguments(args, CONFIG_OPTIONS)) == FakeQemuConfig(
        profile="7.2",
        shape="new",
        name="vm",
        start_paused=True,
        incoming="defer",
        memory=1 << 30,
        backend="faker",
        backend_options={"zero-share": "0.5"},
        seed=7,
    )
    assert args.speed == 10.0


def test_the_marker_takes_every_field_but_incoming_and_says_its_defaults() -> None:
    for option in CONFIG_OPTIONS:
        if option.name != "incoming":
            assert option.name in pytest_plugin.MARKER_KEYWORDS
            assert f"{option.name}={option.default!r}" in pytest_plugin.MARKER_HELP
    assert "incoming" not in pytest_plugin.MARKER_KEYWORDS
    assert "speed=1.0" in pytest_plugin.MARKER_HELP
