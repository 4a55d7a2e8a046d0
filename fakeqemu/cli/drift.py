"""``fakeqemu drift -- COMMAND ARGS...``: schema drift for a tool in any language.

Starts a source and a ``--incoming defer`` destination, exports where they listen
(``FAKEQEMU_ADDRESS`` and ``FAKEQEMU_SOURCE``: the source; ``FAKEQEMU_DESTINATION``),
and runs the command: once plainly, then once per mutation, each time with fresh
fakes.  Exit status 0 is ``survived``.  A mutation that would change nothing the
plain run's fakes sent is not run but reported ``unexercised``.  The report is the
one ``pytest --fakeqemu-drift`` prints (:mod:`fakeqemu.drift.report`).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

from fakeqemu.vocabulary import DEFAULT_PROFILE, DEFAULT_SHAPE, PROFILE_NAMES, SHAPES


def add_arguments(drift: argparse.ArgumentParser) -> None:
    drift.add_argument("--profile", choices=PROFILE_NAMES, default=DEFAULT_PROFILE)
    drift.add_argument("--shape", choices=SHAPES, default=DEFAULT_SHAPE)
    drift.add_argument("--drift", metavar="ID,ID", help="only these mutations (default: every one)")
    drift.add_argument("--pairs", action="store_true", help="also pairs of mutations")
    drift.add_argument("--report", metavar="FILE", help="write the report as JSON")
    drift.add_argument(
        "--speed", type=float, default=1.0, help="the fakes' clock against real time"
    )
    drift.add_argument(
        "--timeout", type=float, default=60.0, help="seconds one run of COMMAND may take"
    )
    drift.add_argument("tool", nargs=argparse.REMAINDER, help="-- COMMAND ARGS...")


class _Outcome:
    def __init__(self, failed: bool, failure: str | None) -> None:
        self.failed, self.failure = failed, failure


def _run_once(args: argparse.Namespace, command: list[str], drift: str, run: object) -> _Outcome:
    from fakeqemu.testing.drift_run import DriftRun
    from fakeqemu.testing.settings import FakeSettings
    from fakeqemu.testing.threaded import threaded_fakes

    assert isinstance(run, DriftRun)
    settings = FakeSettings.from_keywords(profile=args.profile, shape=args.shape, speed=args.speed)
    with threaded_fakes(settings, [run.attach]) as group:
        source, destination = group.start("source"), group.start("destination")
        env = dict(os.environ)
        env.update(
            FAKEQEMU_ADDRESS=str(source.address),
            FAKEQEMU_SOURCE=str(source.address),
            FAKEQEMU_DESTINATION=str(destination.address),
            FAKEQEMU_DRIFT=drift,
        )
        try:
            done = subprocess.run(
                command, env=env, capture_output=True, text=True, timeout=args.timeout, check=False
            )
        except subprocess.TimeoutExpired:
            return _Outcome(True, f"timed out after {args.timeout:g} s")
        if done.returncode == 0:
            return _Outcome(False, None)
        said = (done.stderr.strip() or done.stdout.strip()).splitlines()
        return _Outcome(True, said[0] if said else f"exit status {done.returncode}")


def run_drift(args: argparse.Namespace) -> int:
    from fakeqemu.drift.catalog import mutations_for, pairs_for
    from fakeqemu.drift.mutation import join, parse_drift
    from fakeqemu.drift.report import DriftReport, Result
    from fakeqemu.drift.transform import exercised_by
    from fakeqemu.testing.drift_run import DriftRun

    command = args.tool[1:] if args.tool[:1] == ["--"] else args.tool
    if not command:
        print("fakeqemu drift: no command; usage: fakeqemu drift [...] -- COMMAND", file=sys.stderr)
        return 2
    singles = mutations_for(args.profile, args.shape)
    drifts = [m.id for m in singles] + ([join(p) for p in pairs_for(singles)] if args.pairs else [])
    if args.drift:
        wanted = [name.strip() for name in args.drift.split(",") if name.strip()]
        unknown = [name for name in wanted if not set(name.split("+")) <= {m.id for m in singles}]
        if unknown:
            print(f"fakeqemu drift: unknown mutation(s) {', '.join(unknown)}", file=sys.stderr)
            return 2
        drifts = wanted
    plain = DriftRun(record=True)
    outcome = _run_once(args, command, "", plain)
    if outcome.failed:
        print(
            f"fakeqemu drift: the command fails without drift: {outcome.failure}", file=sys.stderr
        )
        return 1
    report = DriftReport()
    name = " ".join(command)
    for drift in drifts:
        mutations = parse_drift(drift)
        if not exercised_by(mutations, plain.trace, profile=args.profile, shape=args.shape):
            report.add(Result(drift, name, failed=False))
            continue
        run = DriftRun(mutations)
        outcome = _run_once(args, command, drift, run)
        report.fake_errors += [str(error) for error in run.violations()]
        where = frozenset(place for places in run.exercised.values() for place in places)
        report.add(Result(drift, name, outcome.failed, where, outcome.failure))
    print(f"fakeqemu drift {args.profile}/{args.shape}: {name}")
    for line in report.lines():
        print(line)
    if args.report:
        Path(args.report).write_text(json.dumps(report.as_json(), indent=2) + "\n")
    return 1 if report.by_outcome("broke") else 0
