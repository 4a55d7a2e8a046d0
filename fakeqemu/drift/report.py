"""The compatibility report: which mutations a tool survived, which broke it, which it never saw.

The same report for ``pytest --fakeqemu-drift`` and ``fakeqemu drift -- COMMAND``:
each run of a test (or of the command) under a mutation adds one :class:`Result`;
a mutation is

* ``broke`` when a run it changed a message of failed,
* ``survived`` when it changed a message of some run and every such run passed,
* ``unexercised`` when it changed no message any run received (the member never
  reached the tool): not evidence of anything.

:meth:`DriftReport.summary` turns the outcomes into what the tool depends on
("breaks if ``ram.dirty-sync-count`` is absent on a completed source").
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from fakeqemu.drift.mutation import UINT64_TEXT, Mutation, parse_drift

OUTCOMES = ("broke", "survived", "unexercised")


@dataclass(frozen=True)
class Result:
    """One run (a test, or the command) under one mutation (or pair)."""

    drift: str
    test: str
    failed: bool
    #: Where the mutation changed a message (``source completed``); empty: unexercised.
    where: frozenset[str] = frozenset()
    #: The first line of the failure.
    failure: str | None = None


@dataclass
class DriftReport:
    results: list[Result] = field(default_factory=list)
    #: Messages that broke the mutated contract: the fake's mistakes, not the tool's.
    fake_errors: list[str] = field(default_factory=list)

    def add(self, result: Result) -> None:
        self.results.append(result)

    def drifts(self) -> list[str]:
        """Every mutation (or pair) that ran, in the order they first ran."""
        return list(dict.fromkeys(result.drift for result in self.results))

    def outcome(self, drift: str) -> str:
        exercised = [r for r in self.results if r.drift == drift and r.where]
        if any(r.failed for r in exercised):
            return "broke"
        return "survived" if exercised else "unexercised"

    def by_outcome(self, outcome: str) -> list[str]:
        return [drift for drift in self.drifts() if self.outcome(drift) == outcome]

    def entry(self, drift: str) -> dict[str, Any]:
        outcome = self.outcome(drift)
        runs = [r for r in self.results if r.drift == drift]
        exercised = [r for r in runs if r.where]
        shown = [r for r in exercised if r.failed] if outcome == "broke" else exercised
        return {
            "id": drift,
            "outcome": outcome,
            "tests": [r.test for r in shown],
            "failures": [f"{r.test}: {r.failure}" for r in shown if r.failed],
            "where": sorted({place for r in shown for place in r.where}),
        }

    def as_json(self) -> dict[str, Any]:
        drifts = self.drifts()
        return {
            "mutations": [self.entry(drift) for drift in drifts],
            "counts": {outcome: len(self.by_outcome(outcome)) for outcome in OUTCOMES},
            "summary": self.summary(),
            "fake_errors": list(self.fake_errors),
        }

    def lines(self) -> list[str]:
        """The report as printed at the end of a run."""
        counts = ", ".join(f"{len(self.by_outcome(o))} {o}" for o in OUTCOMES)
        out = [f"{len(self.drifts())} mutations: {counts}"]
        for drift in self.by_outcome("broke"):
            entry = self.entry(drift)
            out.append(f"broke       {drift}  ({', '.join(entry['where'])})")
            out += [f"    {failure}" for failure in entry["failures"]]
        for outcome in ("survived", "unexercised"):
            drifts = self.by_outcome(outcome)
            if drifts:
                out.append(f"{outcome:<11} {', '.join(drifts)}")
        if self.fake_errors:
            out.append("the fake broke its own mutated contract (a fakeqemu bug):")
            out += [f"    {error}" for error in self.fake_errors]
        out.append("the tool:")
        out += [f"  {line}" for line in self.summary()]
        return out

    def summary(self) -> list[str]:
        """What the tool depends on, in words, from the outcomes."""
        broke = self.by_outcome("broke")
        said = [_depends(drift, self.entry(drift)["where"]) for drift in broke]
        for kind, what in (("add", "unknown members"), ("enum", "unknown enum values")):
            tried = [d for d in self.drifts() if _kinds(d) == {kind}]
            exercised = [d for d in tried if self.outcome(d) != "unexercised"]
            if exercised and not any(d in broke for d in exercised):
                said.append(f"tolerates {what} ({len(exercised)} exercised)")
        if not broke:
            survived = len(self.by_outcome("survived"))
            said.append(f"survived every exercised mutation ({survived})")
        return said


def _kinds(drift: str) -> set[str]:
    return {mutation.kind for mutation in parse_drift(drift)}


def _depends(drift: str, where: Iterable[str]) -> str:
    places = " or ".join(_place(place) for place in where)
    on = f" on {places}" if places else ""
    mutations = parse_drift(drift)
    if len(mutations) > 1:
        return f"breaks under {drift} together{on}"
    return f"{_phrase(mutations[0])}{on}"


def _phrase(mutation: Mutation) -> str:
    path = f"`{mutation.path}`"
    if mutation.kind == "drop":
        return f"breaks if {path} is absent"
    if mutation.kind == "add":
        parent = mutation.member.parent if mutation.member is not None else None
        return f"breaks on an unknown member in `{parent}`"
    if mutation.kind == "enum":
        return f"breaks on {path} `{mutation.value}`"
    if mutation.kind == "type":
        what = "a float" if mutation.value == "float" else UINT64_TEXT
        return f"breaks if {path} is {what}"
    if mutation.kind == "order":
        return f"depends on the member order of {path}"
    before, after = mutation.ends
    if mutation.kind == "release":
        return f"breaks on what {after} sends where {before} is expected"
    return f"breaks on the {after} shape (seed patch {'applied' if after == 'new' else 'removed'})"


def _place(place: str) -> str:
    """``destination completed`` -> ``a completed destination``."""
    role, _, status = place.partition(" ")
    if status.startswith("(") or role not in ("source", "destination"):
        return f"the {place}" if status == "event" else place
    article = "an" if status[0] in "aeiou" else "a"
    return f"{article} {status} {role}"
