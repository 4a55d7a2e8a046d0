"""``model`` under a thousand made-up workloads (``faker``), on a plain float clock.

Each example is one migration: a workload from a seed (a guest of MiB to TiB, its
zero pages, its dirty rate, its network), tunables and capabilities drawn by
Hypothesis, and the source's state machine driven window by window with a
destination fed everything the source sends.  No sockets: the state machines and the
backend are sans-IO, so a thousand migrations take seconds.
"""

from __future__ import annotations

import itertools
from typing import Any

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from fakeqemu.backends.faker_backend import workload_for_seed
from fakeqemu.backends.interface import as_counters
from fakeqemu.model.outgoing import COMPLETION_SECONDS
from fakeqemu.model.stats import destination_info, query_migrate
from tests.support.drive import PROFILE, Run, start, step

#: Virtual seconds each migration may take before the example stops looking.
HORIZON = 20.0
EXAMPLES = 1000


def check_window(run: Run, now: float, before: dict[str, Any] | None) -> dict[str, Any]:
    ram: dict[str, Any] = query_migrate(PROFILE, "new", None, run.outgoing, now, 0)["ram"]
    assert ram["normal-bytes"] == ram["normal"] * ram["page-size"]
    if before is not None:
        assert ram["transferred"] >= before["transferred"], (before, ram)
        if ram["dirty-sync-count"] == before["dirty-sync-count"]:
            assert ram["remaining"] <= before["remaining"], (before, ram)
    sent, received = run.spy.counters(now), as_counters(run.incoming.ram.counters(now))
    assert (received.normal, received.zero, received.xbzrle) == (
        sent.normal,
        sent.zero,
        sent.xbzrle,
    )
    return ram


def switchover_time(answers: list[tuple[float, bool, bool]]) -> float | None:
    """The first window whose two questions (before and after its sync) both said yes."""
    for (first_at, first, _), (second_at, second, _) in itertools.pairwise(answers):
        if first_at == second_at and first and second:
            return first_at
    return None


@st.composite
def tunables(draw: st.DrawFn) -> tuple[dict[str, Any], frozenset[str], float | None]:
    bandwidth = draw(st.sampled_from([0, 1 << 20, 32 << 20, 128 << 20, 1 << 30, 10 << 30]))
    parameters: dict[str, Any] = {
        "max-bandwidth": bandwidth,
        "downtime-limit": draw(st.integers(10, 2000)),
        "avail-switchover-bandwidth": draw(st.sampled_from([0, 0, 0, 64 << 20])),
        "cpu-throttle-tailslow": draw(st.booleans()),
        "max-postcopy-bandwidth": draw(st.sampled_from([0, 8 << 20])),
    }
    chosen = draw(st.sets(st.sampled_from(["xbzrle", "auto-converge", "multifd"])))
    if "xbzrle" in chosen:  # 10.0 on refuse multifd together with xbzrle
        chosen.discard("multifd")
    postcopy_after = draw(st.none() | st.floats(0.1, 5.0))
    return parameters, frozenset(chosen), postcopy_after


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(seed=st.integers(0, 2**32 - 1), drawn=tunables())
def test_model_keeps_qemus_rules_under_any_workload(
    seed: int, drawn: tuple[dict[str, Any], frozenset[str], float | None]
) -> None:
    parameters, capabilities, postcopy_after = drawn
    run = start(workload_for_seed(seed), parameters, capabilities)
    before: dict[str, Any] | None = None
    now = 0.0
    # Past the horizon, a switchover already begun still gets to complete.
    while run.outgoing.is_running and (now < HORIZON or run.outgoing.status == "device"):
        if postcopy_after is not None and now >= postcopy_after:
            run.outgoing.start_postcopy()
        now = step(run, now)
        before = check_window(run, now, before)

    event(f"ended {run.outgoing.status}")
    if run.spy.counters(now).cpu_throttle_percentage:
        event("auto-converge throttled the guest")
    answers = run.spy.answers
    assert all(answer == expected for _, answer, expected in answers), [
        a for a in answers if a[1] != a[2]
    ]
    if postcopy_after is None:
        switched = switchover_time(answers)
        if switched is None:
            assert run.outgoing.status == "active"
        else:
            assert run.outgoing.status == "completed"
            assert run.outgoing.total_time_ms == round((switched + COMPLETION_SECONDS) * 1000)
    if run.outgoing.status == "completed":
        assert run.incoming.status == "completed"
        source = query_migrate(PROFILE, "new", None, run.outgoing, now, 0)["ram"]
        xbzrle = run.spy.counters(now).xbzrle
        destination = destination_info(PROFILE, "new", run.incoming, source["total"], now)["ram"]
        assert destination["normal"] == source["normal"] + xbzrle
        assert destination["duplicate"] == source["duplicate"]
        assert destination["total"] == source["total"]
        assert destination["page-size"] == source["page-size"]
        assert destination["remaining"] == source["remaining"] == 0
