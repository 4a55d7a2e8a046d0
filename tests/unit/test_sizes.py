"""One size parser for the CLI, the backends and the marker: QEMU's spellings.

The expected values of ``-m`` were read from ``query-memory-size-summary`` of
real QEMU 7.2 and 11.1 started with each spelling.
"""

from __future__ import annotations

import pytest

from fakeqemu import ThreadedFakeQemu
from fakeqemu.backends.options import BackendError, BackendOptions
from fakeqemu.cli import build_parser
from fakeqemu.sizes import parse_memory, parse_size
from fakeqemu.testing.settings import FakeSettings

MIB = 1 << 20


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("128", 128 * MIB),  # a plain number is MiB
        ("128M", 128 * MIB),
        ("128m", 128 * MIB),
        ("0.5G", 512 * MIB),
        ("1g", 1 << 30),
        ("131072K", 128 * MIB),
        ("134217728B", 128 * MIB),
        ("1.5G", 1610612736),
        ("1.k", 8192),  # rounded up to 8 KiB, as QEMU's -m does
        ("1.5k", 8192),
        ("1.0000001G", 1073750016),
        (" 128", 128 * MIB),  # strtoull() skips leading white space
        ("010", 10 * MIB),  # decimal, not octal
        ("4GB", 4 << 30),  # fakeqemu also takes GB and GiB
        ("4GiB", 4 << 30),
    ],
)
def test_memory_spellings_mean_what_they_mean_to_qemu(text: str, size: int) -> None:
    assert parse_memory(text) == size


@pytest.mark.parametrize(
    "text", ["1.5", "12.5", "-1", "1e3", "128M ", "0x80", "0x80M", "1BB", "", "abc", "16E", "0"]
)
def test_what_qemu_refuses_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match=repr(text).replace(".", r"\.")):
        parse_memory(text)


def test_plain_sizes_are_bytes() -> None:
    assert parse_size("4096") == 4096
    assert parse_size("512K") == 512 << 10
    assert parse_size("2TiB") == 2 << 40
    with pytest.raises(ValueError, match="a fraction needs a unit"):
        parse_size("1.5")


def test_the_cli_the_backend_options_and_the_marker_agree() -> None:
    spelling = "1.5G"
    cli = build_parser().parse_args(["serve", "--unix", "x", "--memory", spelling]).memory
    backend = BackendOptions("model", {"ram": spelling}, {"ram": "guest RAM"}).size("ram", 0)
    marker = FakeSettings.from_keywords(memory=spelling).config("source").memory
    assert cli == backend == marker == 1610612736
    assert FakeSettings.from_keywords(memory="4G").config("source").memory == 4 << 30
    assert (
        FakeSettings.from_keywords(memory=512 << 20).config("source").memory == 512 << 20
    )  # bytes, as before


def test_a_bad_size_is_refused_where_it_is_given() -> None:
    with pytest.raises(ValueError, match="expected a size"):
        FakeSettings.from_keywords(memory="four gigs")
    with pytest.raises(BackendError, match="option ram: a fraction needs a unit"):
        BackendOptions("model", {"ram": "1.5"}, {"ram": "guest RAM"}).size("ram", 0)


@pytest.mark.fakeqemu(memory="4G")
def test_the_marker_takes_the_cli_spelling(fakeqemu_threaded: ThreadedFakeQemu) -> None:
    assert fakeqemu_threaded.vm.memory == 4 << 30
