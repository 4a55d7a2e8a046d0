"""``--fakeqemu-matrix``'s table: which profile and shape combinations passed."""

from __future__ import annotations

from typing import Any

import pytest

from fakeqemu.vocabulary import PROFILE_NAMES, SHAPES

#: The fixture (and report property) naming a test's profile-shape combination.
COMBINATION = "fakeqemu_combination"
_RANK = {"skipped": 0, "passed": 1, "xfailed": 2, "failed": 3}


def _cell(counts: dict[str, int]) -> tuple[str, str]:
    total = sum(counts.values())
    if counts["failed"]:
        return f"FAILED ({counts['failed']} of {total})", "red"
    if counts["xfailed"]:
        # Expected to fail there (pytest.mark.xfail): still a combination that breaks.
        return f"xfailed ({counts['xfailed']} of {total})", "yellow"
    if counts["passed"]:
        skipped = f", {counts['skipped']} skipped" if counts["skipped"] else ""
        return f"passed ({counts['passed']}{skipped})", "green"
    return f"skipped ({total})", "yellow"


class MatrixTable:
    """Tallies the matrix tests' outcomes and prints them per profile and shape."""

    def __init__(self) -> None:
        #: nodeid → (combination id, worst outcome of its phases so far)
        self.outcomes: dict[str, tuple[str, str]] = {}

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        combination = dict(report.user_properties).get(COMBINATION)
        if combination is None:
            return
        if report.failed:
            outcome = "failed"
        elif hasattr(report, "wasxfail") and report.skipped:
            outcome = "xfailed"
        elif report.skipped:
            outcome = "skipped"
        elif report.when == "call":
            outcome = "passed"
        else:
            return  # a setup or teardown that passed says nothing yet
        previous = self.outcomes.get(report.nodeid)
        if previous is None or _RANK[outcome] > _RANK[previous[1]]:
            self.outcomes[report.nodeid] = (str(combination), outcome)

    def table(self) -> dict[tuple[str, str], dict[str, int]]:
        """(profile, shape) → how many tests passed, failed, failed as expected, were skipped."""
        table: dict[tuple[str, str], dict[str, int]] = {}
        for combination, outcome in self.outcomes.values():
            profile, _, shape = combination.rpartition("-")
            table.setdefault((profile, shape), dict.fromkeys(_RANK, 0))[outcome] += 1
        return table

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        table = self.table()
        if not table:
            return
        profiles = [p for p in PROFILE_NAMES if any(key[0] == p for key in table)]
        shapes = [s for s in SHAPES if any(key[1] == s for key in table)]
        width = 2 + max(len(_cell(counts)[0]) for counts in table.values())
        terminalreporter.write_sep("=", "fakeqemu matrix")
        terminalreporter.write_line("profile " + "".join(f"{s:<{width}}" for s in shapes).rstrip())
        for profile in profiles:
            terminalreporter.write(f"{profile:<8}")
            for column, shape in enumerate(shapes):
                counts = table.get((profile, shape))
                text, colour = ("-", "") if counts is None else _cell(counts)
                # Padding between columns only: no trailing blanks to trip a copy-paste.
                padded = text if column == len(shapes) - 1 else f"{text:<{width}}"
                terminalreporter.write(padded, **({colour: True} if colour else {}))
            terminalreporter.write_line("")
