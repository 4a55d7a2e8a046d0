"""Scenarios: a guest workload that changes over a migration, as data.

A scenario is a timeline of steps; each step sets some of the workload's dirty rate,
link bandwidth, zero share and working set (:data:`fakeqemu.fault_catalog.SCENARIO_FIELDS`),
and starts at a time, at a share of RAM transferred, or some time after the step
before it.  The built-in ones are named (``converge``, ``stall-at:60``, ...:
:data:`fakeqemu.fault_catalog.SCENARIOS`); any other is a list of steps, from JSON,
TOML or Python.  The model backend (:mod:`fakeqemu.backends.model`) plays it through
:class:`ScenarioPlayer`: the numbers stay QEMU's, only the guest and the link change.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from fakeqemu.backends.options import BackendError
from fakeqemu.fault_catalog import SCENARIO_FIELDS, SCENARIO_TRIGGERS, builtin_scenario
from fakeqemu.sizes import parse_size


class ScenarioError(BackendError, ValueError):
    """A scenario that cannot be played; the message names the step and the field."""


@dataclass(frozen=True)
class Rate:
    """Bytes per second, or a share of the bandwidth in force (``"150%"``: 1.5)."""

    value: float
    relative: bool = False

    def resolve(self, bandwidth: float) -> float:
        return self.value * bandwidth if self.relative else self.value


@dataclass(frozen=True)
class Step:
    """One step: when it starts, and what it sets (``None``: unchanged)."""

    at: float | None = None
    at_percent: float | None = None
    after: float | None = None
    dirty_rate: Rate | None = None
    link_bandwidth: Rate | None = None
    zero_share: float | None = None
    working_set: float | None = None


@dataclass(frozen=True)
class Timeline:
    """A scenario: its name (for logs and ``GET /migration``) and its steps, in order."""

    name: str
    steps: tuple[Step, ...]

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "steps": len(self.steps)}


def _rate(where: str, value: Any) -> Rate:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ScenarioError(f"{where}: a size per second or a percentage, got {value!r}")
    if isinstance(value, str) and value.strip().endswith("%"):
        try:
            share = float(value.strip()[:-1]) / 100
        except ValueError:
            raise ScenarioError(f"{where}: {value!r} is not a percentage") from None
        if share < 0:
            raise ScenarioError(f"{where}: {value!r} is negative")
        return Rate(share, relative=True)
    try:
        amount = parse_size(value) if isinstance(value, str) else value
    except ValueError as error:
        raise ScenarioError(f"{where}: {error}") from None
    if amount < 0:
        raise ScenarioError(f"{where}: {value!r} is negative")
    return Rate(float(amount))


def _number(where: str, value: Any, high: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ScenarioError(f"{where}: a number, got {value!r}")
    if value < 0 or (high is not None and value > high):
        bounds = "at least 0" if high is None else f"between 0 and {high}"
        raise ScenarioError(f"{where}: must be {bounds}, got {value!r}")
    return float(value)


def parse_step(index: int, data: Any) -> Step:
    where = f"scenario step {index + 1}"
    if not isinstance(data, Mapping):
        raise ScenarioError(f"{where}: a step is an object, got {data!r}")
    known = {*SCENARIO_FIELDS, *SCENARIO_TRIGGERS}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ScenarioError(
            f"{where}: unknown field {', '.join(map(repr, unknown))}; a step takes "
            f"{', '.join(sorted(known))}"
        )
    starts = [key for key in SCENARIO_TRIGGERS if key in data]
    if len(starts) > 1:
        raise ScenarioError(f"{where}: give one of {', '.join(starts)}, not several")
    values: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{where}: {key}"
        if key in ("at", "after"):
            values[key] = _number(name, value)
        elif key == "at-percent":
            values["at_percent"] = _number(name, value, 100)
        elif key in ("dirty-rate", "link-bandwidth"):
            values[key.replace("-", "_")] = _rate(name, value)
        else:
            values[key.replace("-", "_")] = _number(name, value, 1)
    return Step(**values)


def parse_timeline(data: Any, name: str = "custom") -> Timeline:
    """A timeline from a list of steps or ``{"name": ..., "steps": [...]}``."""
    if isinstance(data, Mapping):
        unknown = sorted(set(data) - {"name", "steps"})
        if unknown or "steps" not in data:
            raise ScenarioError(
                'a scenario object is {"name": ..., "steps": [...]}'
                + (f"; unknown field {', '.join(map(repr, unknown))}" if unknown else "")
            )
        name = str(data.get("name", name))
        data = data["steps"]
    if isinstance(data, str | bytes) or not isinstance(data, Sequence) or not data:
        raise ScenarioError(f"a scenario's steps are a non-empty list, got {data!r}")
    return Timeline(name, tuple(parse_step(i, step) for i, step in enumerate(data)))


def scenario(spec: str | Mapping[str, Any] | Sequence[Any] | Timeline) -> Timeline:
    """A built-in scenario by name (``stall-at:60``), or a timeline as data."""
    if isinstance(spec, Timeline):
        return spec
    if isinstance(spec, str):
        try:
            return parse_timeline(builtin_scenario(spec), spec)
        except KeyError as error:
            raise ScenarioError(error.args[0]) from None
    return parse_timeline(spec)


class ScenarioPlayer:
    """Which steps have started, and the workload settings they add up to."""

    def __init__(self, timeline: Timeline) -> None:
        self.timeline = timeline
        self._next = 0
        self._last_start: float | None = None
        self.dirty_rate: Rate | None = None
        self.link_bandwidth: Rate | None = None
        self.zero_share: float | None = None
        self.working_set: float | None = None

    @property
    def step(self) -> int:
        """How many steps have started."""
        return self._next

    def play(self, elapsed: float, percent: float) -> list[Step]:
        """Start every step due at ``elapsed`` seconds into the migration and ``percent``
        of RAM transferred; returns the steps started (in order)."""
        started: list[Step] = []
        while self._next < len(self.timeline.steps):
            step = self.timeline.steps[self._next]
            if step.at is not None:
                due = elapsed >= step.at
            elif step.at_percent is not None:
                due = percent >= step.at_percent
            elif step.after is not None:
                due = self._last_start is not None and elapsed >= self._last_start + step.after
            else:
                due = True
            if not due:
                break
            self._next += 1
            self._last_start = elapsed
            for field in ("dirty_rate", "link_bandwidth", "zero_share", "working_set"):
                value = getattr(step, field)
                if value is not None:
                    setattr(self, field, value)
            started.append(step)
        return started
