"""The strictly typed consumer: the matrix shows the new shape breaking it on the destination."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

# Shared with pytester's in-process runs, which drop what they import (test_plugin.py).
import qemu.qmp.legacy  # noqa: F401

pytest_plugins = ["pytester"]

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "typed_consumer"


def test_the_matrix_catches_the_new_shape_breaking_the_destination(
    pytester: pytest.Pytester,
) -> None:
    for name in ("strict_stats.py", "test_strict_stats.py"):
        shutil.copy(EXAMPLE / name, pytester.path / name)
    pytester.makeini("[pytest]\nfilterwarnings = error\n")
    # The example marks the breakage it shows as expected; --runxfail shows it as a
    # consumer without the mark would see it.
    result = pytester.runpytest("-p", "no:cacheprovider", "--runxfail")
    # Every release's source decodes in both shapes, and so does today's destination;
    # the patched destination sends `ram` without the members the patch made optional.
    result.assert_outcomes(passed=9, failed=3)
    result.stdout.fnmatch_lines(
        [
            f"FAILED test_strict_stats.py::test_destination_stats_decode_once_completed"
            f"[[]{profile}-new[]]*"
            for profile in ("7.2", "10.0", "11.1")
        ]
    )
    decode_errors = [
        line
        for line in result.outlines
        if line.startswith("E ")
        and line.endswith("DecodeError: MigrationStats: missing field `dirty-pages-rate`")
    ]
    assert len(decode_errors) == 3, result.stdout.str()
    result.stdout.fnmatch_lines(
        [
            "*= fakeqemu matrix =*",
            "profile old *new*",
            "7.2     passed (2) *FAILED (1 of 2)*",
            "10.0    passed (2) *FAILED (1 of 2)*",
            "11.1    passed (2) *FAILED (1 of 2)*",
        ]
    )


def test_the_example_passes_with_its_expected_failures_marked(pytester: pytest.Pytester) -> None:
    """``pytest examples/`` passes: the breakage is expected (strictly) where it happens."""
    for name in ("strict_stats.py", "test_strict_stats.py"):
        shutil.copy(EXAMPLE / name, pytester.path / name)
    pytester.makeini("[pytest]\nfilterwarnings = error\n")
    result = pytester.runpytest("-p", "no:cacheprovider", "-rx")
    result.assert_outcomes(passed=9, xfailed=3)
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(
        [
            f"XFAIL test_strict_stats.py::test_destination_stats_decode_once_completed"
            f"[[]{profile}-new[]] - the patched destination sends ram without the members*"
            for profile in ("7.2", "10.0", "11.1")
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "*= fakeqemu matrix =*",
            "profile old *new*",
            "7.2     passed (2) *xfailed (1 of 2)*",
            "10.0    passed (2) *xfailed (1 of 2)*",
            "11.1    passed (2) *xfailed (1 of 2)*",
        ]
    )
