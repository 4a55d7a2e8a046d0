"""``pytest --fakeqemu-drift``: rerun each fakeqemu test once per schema-drift mutation.

Part of the fakeqemu plugin (:mod:`fakeqemu.testing.pytest_plugin` adds the options
and registers :class:`DriftPlugin`).  Each combination a test runs against becomes
the plain run (``[11.1-new]``) followed by one run per mutation of that profile and
shape (``[11.1-new-drop:ram.dirty-sync-count]``), pairs too with
``--fakeqemu-drift-pairs``.  The plain run records what the fakes sent; a mutation
that would change none of it is not rerun but reported ``unexercised`` (the run
would be message for message the plain one).  Local mutations of different members
also run together first, in groups split in halves only where something broke
(:mod:`fakeqemu.drift.groups`): ids like ``[11.1-new-group:2.01]``.  The report comes at the end
(:mod:`fakeqemu.drift.report`), and as JSON with ``--fakeqemu-drift-report=FILE``.
"""

from __future__ import annotations

import gc
import json
import re
from collections.abc import Generator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from fakeqemu.drift.groups import Group
    from fakeqemu.drift.mutation import Mutation
    from fakeqemu.drift.report import DriftReport
    from fakeqemu.testing.drift_run import DriftRun, Traced
    from fakeqemu.testing.handles import FakeHook

#: The name the plugin object is registered under.
PLUGIN_NAME = "fakeqemu-drift"
#: ``--fakeqemu-drift`` without a value: every mutation.
ALL = "all"


def add_options(group: Any) -> None:
    group.addoption(
        "--fakeqemu-drift",
        nargs="?",
        const=ALL,
        default=None,
        metavar="ID,ID",
        help="rerun each test that uses a fakeqemu fixture once per schema-drift mutation "
        "(derived from the contracts; or only the mutations named) and report which "
        "ones the tool survives",
    )
    group.addoption(
        "--fakeqemu-drift-pairs",
        action="store_true",
        default=False,
        help="with --fakeqemu-drift: also run pairs of mutations, covering every member",
    )
    group.addoption(
        "--fakeqemu-drift-report",
        default=None,
        metavar="FILE",
        help="with --fakeqemu-drift: write the compatibility report to FILE as JSON",
    )


def selected(config: pytest.Config, profile: str, shape: str) -> list[str]:
    """The runs one combination makes: its groups, then its mutations (and pairs)."""
    plugin = config.pluginmanager.get_plugin(PLUGIN_NAME)
    assert isinstance(plugin, DriftPlugin)
    return [*plugin.trees(profile, shape), *plugin.drifts(profile, shape)]


def _pair_of_known(name: str, singles: Sequence[Mutation]) -> bool:
    parts = name.split("+")
    return len(parts) > 1 and all(part in {m.id for m in singles} for part in parts)


def check_selection(config: pytest.Config) -> None:
    """``--fakeqemu-drift=ID,...``: every id is one some profile and shape has."""
    from fakeqemu.drift.catalog import known_ids
    from fakeqemu.vocabulary import PROFILE_NAMES, SHAPES

    wanted = config.getoption("fakeqemu_drift")
    if wanted in (None, ALL):
        return
    known = set().union(*(known_ids(p, s) for p in PROFILE_NAMES for s in SHAPES))
    unknown = [
        name.strip()
        for name in wanted.split(",")
        if name.strip() and not set(name.strip().split("+")) <= known
    ]
    if unknown:
        raise pytest.UsageError(
            f"--fakeqemu-drift: unknown mutation(s) {', '.join(unknown)}; "
            "ids look like drop:ram.dirty-sync-count, enum:status=failing, release:11.1->7.2"
        )


@dataclass
class _Running:
    run: DriftRun
    drift: str
    test: str
    plain_key: str
    failure: str | None = None
    failed: bool = False


class DriftPlugin:
    """Decides which runs to make, collects their outcomes, prints the report.

    Runs of one test share its plain run's key (its node id): what the plain run
    recorded, and how each of its group runs went.
    """

    def __init__(self, config: pytest.Config) -> None:
        from fakeqemu.drift.report import DriftReport

        self.config = config
        self.report: DriftReport = DriftReport()
        #: What the plain run of a test (key: its node id) saw the fakes send.
        self.traces: dict[str, list[Traced]] = {}
        self._running: dict[str, _Running] = {}
        self._trees: dict[tuple[str, str], dict[str, Group]] = {}
        #: (plain key, group id) -> passed, failed, or idle (fewer than two to run).
        self.group_states: dict[tuple[str, str], str] = {}
        #: (plain key, group id) -> what a group run applied, and where each changed.
        self._group_runs: dict[tuple[str, str], DriftRun] = {}
        #: Test function -> mutations that broke one of its runs: its later combinations
        #: leave them out of group runs (they would only make them break) and do not
        #: rerun them alone (the report has the combination where they broke).
        self.suspects: dict[str, set[Mutation]] = {}
        #: Plain run's key -> mutations whose member a group's failure names (``KeyError:
        #: 'dirty-sync-count'``): the group's halves leave them out, they run alone.
        self.named: dict[str, set[Mutation]] = {}
        self._reaches: dict[tuple[str, Mutation], bool] = {}
        self._planned: dict[str, list[Mutation]] = {}
        #: Runs not made: unexercised, or vouched for by a group that survived.
        self.runs_not_made = 0

    def drifts(self, profile: str, shape: str) -> list[str]:
        """The mutations (and pairs) one combination runs under, as ids."""
        from fakeqemu.drift.catalog import mutations_for, pairs_for
        from fakeqemu.drift.mutation import join

        singles = mutations_for(profile, shape)
        drifts = [mutation.id for mutation in singles]
        if self.config.getoption("fakeqemu_drift_pairs"):
            drifts += [join(pair) for pair in pairs_for(singles)]
        wanted = self.config.getoption("fakeqemu_drift")
        if wanted == ALL:
            return drifts
        names = [name.strip() for name in wanted.split(",") if name.strip()]
        return [name for name in names if name in drifts or _pair_of_known(name, singles)]

    def trees(self, profile: str, shape: str) -> dict[str, Group]:
        """The group runs of one combination, by id, parents first."""
        from fakeqemu.drift.groups import group_tree
        from fakeqemu.drift.mutation import Mutation

        found = self._trees.get((profile, shape))
        if found is None:
            singles = [Mutation.parse(d) for d in self.drifts(profile, shape) if "+" not in d]
            found = {group.id: group for group in group_tree(singles)}
            self._trees[(profile, shape)] = found
        return found

    def _reaching(
        self, key: str, trace: list[Traced] | None, plain_id: str, mutation: Mutation
    ) -> bool:
        """Whether ``mutation`` changes something the plain run of ``key`` received."""
        from fakeqemu.drift.transform import exercised_by

        if trace is None:
            return True
        found = self._reaches.get((key, mutation))
        if found is None:
            profile, _, shape = plain_id.rpartition("-")
            found = bool(exercised_by([mutation], trace, profile=profile, shape=shape))
            self._reaches[(key, mutation)] = found
        return found

    def _group_members(self, plain_id: str, plain_key: str, drift: str) -> list[Mutation] | str:
        profile, _, shape = plain_id.rpartition("-")
        group = self.trees(profile, shape)[drift]
        parent = None if group.parent is None else self.group_states.get((plain_key, group.parent))
        if parent in ("passed", "idle"):
            self.group_states[(plain_key, drift)] = parent
            return f"not needed: {group.parent} {parent}"
        trace = self.traces.get(plain_key)
        suspects = self.suspects.get(_function(plain_key), set()) | self.named.get(plain_key, set())
        members = [
            m
            for m in group.members
            if m not in suspects and self._reaching(plain_key, trace, plain_id, m)
        ]
        if len(members) < 2:
            self.group_states[(plain_key, drift)] = "idle"
            return f"{drift}: fewer than two of its mutations reach this test"
        return members

    def _covered(self, plain_key: str, plain_id: str, mutation: Mutation) -> frozenset[str] | None:
        """Where ``mutation`` changed messages in the smallest group run that survived it
        (None: no group run decided it, run it alone)."""
        from fakeqemu.drift.groups import containing

        profile, _, shape = plain_id.rpartition("-")
        for group in containing(list(self.trees(profile, shape).values()), mutation):
            run = self._group_runs.get((plain_key, group.id))
            if run is None or mutation not in run.mutations:
                continue  # not run, vouched for by a larger group, or ran without it
            places = run.exercised.get(mutation)
            if self.group_states[(plain_key, group.id)] == "failed" or not places:
                return None  # it broke, or never came through (an enum value's turn)
            return frozenset(places)
        return None

    def _plan(self, item: pytest.Item) -> tuple[str, str, str] | None:
        """(plain combination id, plain run's key, drift) of one of the drift runs."""
        from fakeqemu.testing.matrix_table import COMBINATION
        from fakeqemu.testing.pytest_plugin import Combination

        callspec = getattr(item, "callspec", None)
        case = None if callspec is None else callspec.params.get(COMBINATION)
        if not isinstance(case, Combination):
            return None
        plain_id, drift = Combination(case.profile, case.shape).id, case.drift
        plain_key = item.nodeid.replace(f"{plain_id}-{drift}", plain_id) if drift else item.nodeid
        return plain_id, plain_key, drift

    def _members(self, item: pytest.Item, plain_id: str, plain_key: str, drift: str) -> Any:
        """The mutations a run applies, or why it need not be made (recorded here)."""
        from fakeqemu.drift.groups import is_group
        from fakeqemu.drift.mutation import parse_drift
        from fakeqemu.drift.report import Result

        if not drift:
            return []
        if is_group(drift):
            return self._group_members(plain_id, plain_key, drift)
        mutations = parse_drift(drift)
        trace = self.traces.get(plain_key)
        if not all(self._reaching(plain_key, trace, plain_id, m) for m in mutations):
            self.report.add(Result(drift, item.nodeid, failed=False))
            return f"unexercised: {drift} changes nothing this test received"
        if len(mutations) == 1 and mutations[0] in self.suspects.get(_function(plain_key), ()):
            # Its outcome is known (broke) and this test function's dependence on it is
            # on record: its other combinations need not show it again.
            return f"{drift} already broke this test in another combination"
        covered = None if len(mutations) > 1 else self._covered(plain_key, plain_id, *mutations)
        if covered is not None:
            self.report.add(Result(drift, item.nodeid, failed=False, where=covered))
            return f"survived with the other mutations of its group: {drift}"
        return list(mutations)

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_protocol(
        self, item: pytest.Item, nextitem: pytest.Item | None
    ) -> bool | None:
        """A run that need not be made is not made at all: no setup, no report (the
        drift report accounts for it).  Thousands of them cost nothing this way."""
        plan = self._plan(item)
        if plan is None:
            return None
        decided = self._members(item, *plan)
        if isinstance(decided, str):
            self.runs_not_made += 1
            return True
        self._planned[item.nodeid] = decided
        return None

    def hooks_for(self, item: pytest.Item) -> list[FakeHook]:
        """The hooks of one run: record (the plain run) or mutate (the others)."""
        from fakeqemu.testing.drift_run import DriftRun

        plan = self._plan(item)
        if plan is None:
            return []  # a test the drift runs leave alone (no combination parameter)
        drift = plan[2]
        decided = self._planned.pop(item.nodeid, None)
        if decided is None:
            decided = self._members(item, *plan)
        if isinstance(decided, str):
            pytest.skip(decided)
        run = DriftRun(decided) if drift else DriftRun(record=True)
        self._running[item.nodeid] = _Running(run, drift, item.nodeid, plan[1])
        return [run.attach]

    def after_run(self, item: pytest.Item) -> None:
        """After a run that failed, collect its garbage now: a client it left open must
        warn (ResourceWarning) in this run's teardown, not in the next run's setup."""
        running = self._running.get(item.nodeid)
        if running is not None and running.failed:
            gc.collect()

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        report = yield
        running = self._running.get(item.nodeid)
        if running is None:
            return report
        if report.failed and not running.failed:
            running.failed = True
            excinfo = call.excinfo
            text = excinfo.exconly() if excinfo is not None else str(report.longrepr)
            running.failure = (text.strip().splitlines() or [""])[0]
            if call.when == "call" and running.drift.startswith("group:"):
                # Not a verdict: the group's halves and mutations run next and say which.
                report.outcome = "skipped"
                reason = f"Skipped: {running.drift} broke ({running.failure}); its halves run next"
                report.longrepr = (str(item.path), item.location[1] or 0, reason)
        if call.when == "teardown":
            self._finish(self._running.pop(item.nodeid))
        return report

    def _finish(self, running: _Running) -> None:
        from fakeqemu.drift.report import Result

        run = running.run
        if not running.drift:
            self.traces[running.plain_key] = run.trace
            return
        if running.drift.startswith("group:"):
            key = (running.plain_key, running.drift)
            self.group_states[key] = "failed" if running.failed else "passed"
            self._group_runs[key] = run
            if running.failed:
                named = [m for m in run.mutations if _names(running.failure or "", m)]
                self.named.setdefault(running.plain_key, set()).update(named)
            self.report.fake_errors += [f"{running.test}: {error}" for error in run.violations()]
            return
        self.report.fake_errors += [f"{running.test}: {error}" for error in run.violations()]
        where = frozenset(place for places in run.exercised.values() for place in places)
        self.report.add(Result(running.drift, running.test, running.failed, where, running.failure))
        if running.failed and where:
            self.suspects.setdefault(_function(running.test), set()).update(run.mutations)

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if not self.report.results:
            return
        terminalreporter.write_sep("=", "fakeqemu drift")
        made = "runs not made (unexercised, survived in a group run, or broke already)"
        terminalreporter.write_line(f"{self.runs_not_made} {made}")
        for line in self.report.lines():
            terminalreporter.write_line(line)
        target = self.config.getoption("fakeqemu_drift_report")
        if target:
            Path(target).write_text(json.dumps(self.report.as_json(), indent=2) + "\n")
            terminalreporter.write_line(f"drift report written to {target}")


def _function(nodeid: str) -> str:
    """The test function a run belongs to (its node id without the parameters)."""
    return nodeid.partition("[")[0]


def _names(failure: str, mutation: Mutation) -> bool:
    """The failure names the member ``mutation`` changes (as a word of its own; names
    shorter than four letters, like ``to``, are too common to tell)."""
    member = mutation.member
    leaf = member.leaf.removesuffix("[]") if member is not None and member.steps else ""
    if len(leaf) < 4:
        return False
    return re.search(rf"(?<![\w-]){re.escape(leaf)}(?![\w-])", failure) is not None
