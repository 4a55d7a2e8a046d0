"""The drift report on three consumers: each one's broke set is exactly what its code implies."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from fakeqemu.contracts.store import documents
from fakeqemu.drift.catalog import mutations_for

pytest_plugins = ["pytester"]

HERE = Path(__file__).resolve().parent
#: The statuses the status checker knows (drift_consumers.py reads the same).
KNOWN_STATUSES = documents("11.1", "old")["query-migrate.json"]["$defs"]["MigrationStatus"]["enum"]


def run_drift(pytester: pytest.Pytester, *options: str) -> tuple[Any, dict[str, Any]]:
    shutil.copy(HERE / "drift_consumers.py", pytester.path / "test_consumers.py")
    pytester.makeini("[pytest]\nfilterwarnings = error\n")
    report = pytester.path / "drift.json"
    result = pytester.runpytest(
        "-p", "no:cacheprovider", f"--fakeqemu-drift-report={report}", *options
    )
    return result, json.loads(report.read_text())


def broke_by(report: dict[str, Any], test: str) -> set[str]:
    """The mutations that broke ``test``."""
    return {
        entry["id"]
        for entry in report["mutations"]
        if entry["outcome"] == "broke" and any(f"::{test}[" in t for t in entry["tests"])
    }


def test_each_consumer_breaks_on_exactly_what_it_depends_on(pytester: pytest.Pytester) -> None:
    _, report = run_drift(pytester, "--fakeqemu-drift")
    # The status values fakeqemu tries that the checker was not generated with.
    unknown_statuses = {
        m.id
        for m in mutations_for("11.1", "old")
        if m.kind == "enum" and m.value not in KNOWN_STATUSES
    }
    assert unknown_statuses == {"enum:status=x-drift"}  # 11.1 has every later value
    assert broke_by(report, "test_counter_on_the_source") == {"drop:ram.dirty-sync-count"}
    # The destination sends ram only with the seed patch, and then without the count.
    assert broke_by(report, "test_counter_on_the_destination") == {"shape:old->new"}
    assert broke_by(report, "test_status_checker") == unknown_statuses
    assert broke_by(report, "test_strict_decoder") == {
        "add:x-drift",
        "add:ram.x-drift",
        "release:11.1->7.2",  # 7.2's `skipped` and `compression`
    }
    outcomes = {entry["id"]: entry["outcome"] for entry in report["mutations"]}
    assert outcomes["drop:vfio"] == "unexercised"  # no test gets vfio
    assert outcomes["drop:socket-address"] == "unexercised"  # the harness reads none
    assert outcomes["order:ram"] == "survived"
    assert report["fake_errors"] == []
    assert "tolerates unknown members" not in " ".join(report["summary"])


def test_the_seed_patch_alone_breaks_the_counter_on_a_completed_destination_only(
    pytester: pytest.Pytester,
) -> None:
    result, report = run_drift(pytester, "--fakeqemu-drift=shape:old->new", "-v", "-k", "counter")
    (entry,) = report["mutations"]
    assert entry["id"] == "shape:old->new"
    assert entry["outcome"] == "broke"
    assert entry["where"] == ["destination completed"]
    assert entry["failures"] == [
        "test_consumers.py::test_counter_on_the_destination[11.1-old-shape:old->new]: "
        "KeyError: 'dirty-sync-count'"
    ]
    result.stdout.fnmatch_lines(
        [
            "*::test_counter_on_the_source[[]11.1-old-shape:old->new[]] PASSED*",
            "*::test_counter_on_the_destination[[]11.1-old-shape:old->new[]] FAILED*",
        ]
    )
    result.assert_outcomes(passed=3, failed=1)  # the plain runs pass


def test_an_unknown_mutation_id_is_a_usage_error(pytester: pytest.Pytester) -> None:
    shutil.copy(HERE / "drift_consumers.py", pytester.path / "test_consumers.py")
    result = pytester.runpytest("--fakeqemu-drift=drop:no-such-member")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--fakeqemu-drift: unknown mutation(s) drop:no-such-member*"])
