"""The drift example: --fakeqemu-drift names exactly the mutation the watcher's bug needs,
and the one-line fix the example shows leaves nothing broken."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

pytest_plugins = ["pytester"]

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "sync_report"
BUG = 'ram["dirty-sync-count"]  # the bug'
FIX = 'ram.get("dirty-sync-count")  # fixed'


def drift_report(pytester: pytest.Pytester, *extra: str) -> tuple[Any, dict[str, Any]]:
    pytester.makeini("[pytest]\nfilterwarnings = error\n")
    report = pytester.path / "drift.json"
    result = pytester.runpytest(
        "-p", "no:cacheprovider", "--fakeqemu-drift", f"--fakeqemu-drift-report={report}", *extra
    )
    return result, json.loads(report.read_text())


def copy_example(pytester: pytest.Pytester) -> Path:
    for name in ("sync_report.py", "test_sync_report.py"):
        shutil.copy(EXAMPLE / name, pytester.path / name)
    return pytester.path / "sync_report.py"


def broke(report: dict[str, Any]) -> set[str]:
    return {entry["id"] for entry in report["mutations"] if entry["outcome"] == "broke"}


def test_the_plain_run_passes(pytester: pytest.Pytester) -> None:
    copy_example(pytester)
    pytester.makeini("[pytest]\nfilterwarnings = error\n")
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)


def test_drift_names_exactly_the_mutation_the_bug_needs(pytester: pytest.Pytester) -> None:
    copy_example(pytester)
    result, report = drift_report(pytester)
    assert broke(report) == {"drop:ram.dirty-sync-count"}
    (entry,) = [e for e in report["mutations"] if e["outcome"] == "broke"]
    assert entry["tests"] == [
        "test_sync_report.py::test_reports_the_finished_migration"
        "[11.1-new-drop:ram.dirty-sync-count]"
    ]
    assert entry["failures"] == [f"{entry['tests'][0]}: KeyError: 'dirty-sync-count'"]
    result.stdout.fnmatch_lines(
        [
            "*= fakeqemu drift =*",
            "* mutations: 1 broke, * survived, * unexercised",
            # Whether the watcher polls while the migration is active depends on timing.
            "broke       drop:ram.dirty-sync-count  (*source completed)",
            "the tool:",
            "  breaks if `ram.dirty-sync-count` is absent on *a completed source",
            "  tolerates unknown members *",
        ]
    )
    # Members the watcher never receives are not claimed as survived.
    outcomes = {e["id"]: e["outcome"] for e in report["mutations"]}
    assert outcomes["drop:vfio"] == "unexercised"
    assert outcomes["drop:ram"] == "survived"


def test_the_fix_the_example_shows_survives_every_mutation(pytester: pytest.Pytester) -> None:
    tool = copy_example(pytester)
    source = tool.read_text()
    assert source.count(BUG) == 1
    tool.write_text(source.replace(BUG, FIX))
    result, report = drift_report(pytester, "--fakeqemu-drift=drop:ram.dirty-sync-count,drop:ram")
    assert broke(report) == set()
    assert {e["id"]: e["outcome"] for e in report["mutations"]} == {
        "drop:ram.dirty-sync-count": "survived",
        "drop:ram": "survived",
    }
    result.assert_outcomes(passed=3)


def test_pairs_add_runs_of_two_mutations_each(pytester: pytest.Pytester) -> None:
    from fakeqemu.drift.catalog import mutations_for, pairs_for
    from fakeqemu.drift.mutation import join

    copy_example(pytester)
    _, report = drift_report(pytester, "--fakeqemu-drift-pairs")
    pairs = {join(pair) for pair in pairs_for(mutations_for("11.1", "new"))}
    ran = {entry["id"] for entry in report["mutations"]}
    assert pairs <= ran
    # A pair with the buggy member breaks; every other pair and mutation survives or
    # was not exercised.
    assert broke(report) - pairs == {"drop:ram.dirty-sync-count"}
    assert all("drop:ram.dirty-sync-count" in pair for pair in broke(report) & pairs)


def test_k_selects_mutations_by_their_ids(pytester: pytest.Pytester) -> None:
    copy_example(pytester)
    result, report = drift_report(pytester, "-k", "dirty-sync-count and not type")
    assert [entry["id"] for entry in report["mutations"]] == ["drop:ram.dirty-sync-count"]
    assert broke(report) == {"drop:ram.dirty-sync-count"}
    result.assert_outcomes(failed=1)
