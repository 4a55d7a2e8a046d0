"""Load and fault benchmark: the fake against real QEMU of the same release, in one run.

    python -m bench.load [--quick] [--qemu 7.2,10.0,11.1|PATH|none] [--only SCENARIO,...]

Scenarios (each on fresh servers, with a global timeout; see bench/config.py for sizes):
  monitors  200 monitors on one server, a client on each sending 1,000 commands with ids
            in batches of 50: commands/s; lost, misordered, malformed replies must be 0
  queue     200 clients connect at once to one monitor; each is greeted and served in turn
  flood     100,000 commands written without reading, then read: all answered, in order
  schemas   400 pipelined query-qmp-schema: all answered, in order
  garbage   1 GiB of garbage, then 4 MiB of random bytes: MB/s; then a clean client
  kill      kill -9 of the destination, then of the source, in the middle of a migration
For each server: RSS (VmRSS) before and after, and the peak (VmHWM); fake/QEMU ratios.
Real QEMU: ``--qemu`` (releases 7.2, 10.0, 11.1 as installed here, or binaries), else
``$FAKEQEMU_REAL_QEMU`` or ``qemu-system-x86_64`` on PATH; each is compared with a fake
serving the profile of its release.  Exit status 1 if any check failed.
"""

from __future__ import annotations

import argparse
import dataclasses
import re
import signal
import sys
import time
from collections.abc import Callable
from types import FrameType

from bench.config import PRESETS, Sizes
from bench.garbage import garbage
from bench.migration_kill import migration_kill
from bench.report import Outcome, print_table
from bench.scenarios import flood, many_monitors, queued_clients, schemas
from bench.servers import BenchError, Processes, Target, processes, qemu_targets

Scenario = Callable[[Processes, Target, Sizes], Outcome]

SCENARIOS: dict[str, tuple[Callable[[Sizes], str], Scenario]] = {
    "monitors": (
        lambda s: f"{s.monitors} monitors x {s.commands:,} commands (batches of {s.batch})",
        many_monitors,
    ),
    "queue": (lambda s: f"{s.queued_clients} clients queued on one monitor", queued_clients),
    "flood": (lambda s: f"{s.flood:,} commands written without reading, then read", flood),
    "schemas": (lambda s: f"{s.schemas} pipelined query-qmp-schema", schemas),
    "garbage": (
        lambda s: f"{_mib(s.garbage_bytes)} of garbage, {_mib(s.random_bytes)} of random bytes",
        garbage,
    ),
    "kill": (lambda s: "kill -9 of either side mid-migration", migration_kill),
}
#: The figures of the closing summary, per scenario.
HEADLINES = {
    "monitors": ("commands/s", "peak RSS (MiB)"),
    "queue": ("seconds", "peak RSS (MiB)"),
    "flood": ("seconds to last reply", "peak RSS (MiB)"),
    "schemas": ("seconds to last reply", "peak RSS (MiB)"),
    "garbage": ("mixed: MB/s", "random: MB/s", "same replies as QEMU", "peak RSS (MiB)"),
    "kill": ("dst killed: source status", "src killed: destination exit status"),
}


def _mib(size: int) -> str:
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if size >= 1 << shift:
            return f"{size / (1 << shift):g} {unit}"
    return f"{size} bytes"


def parse_size(text: str) -> int:
    """``1G``, ``64M``, ``512K`` (binary units) or a plain number of bytes."""
    match = re.fullmatch(r"(\d+)([KMG]?)(?:i?B)?", text.strip(), re.IGNORECASE)
    if match is None:
        raise argparse.ArgumentTypeError(f"not a size: {text!r}")
    return int(match[1]) << {"": 0, "K": 10, "M": 20, "G": 30}[match[2].upper()]


def run_scenario(name: str, target: Target, sizes: Sizes) -> Outcome:
    """One scenario on fresh servers, stopped at the end whatever happens."""
    function = SCENARIOS[name][1]
    with processes() as procs:
        try:
            with procs.watchdog(sizes.timeout_for(name)):
                outcome = function(procs, target, sizes)
        except (BenchError, OSError, ValueError, KeyError) as error:
            outcome = Outcome(name, target)
            outcome.problems.append(f"{type(error).__name__}: {error}")
        # An exception the server contained (fakeqemu/failures.py) is a failure all the same.
        for server in procs.servers:
            if "Traceback (most recent call last)" in server.stderr():
                outcome.problems.append(f"{server.target.label} printed a traceback on stderr")
        return outcome


def compare(name: str, outcomes: list[Outcome]) -> None:
    """Figures that need both sides: whether the garbage got the same replies."""
    if name != "garbage" or len(outcomes) != 2:
        return
    fake, qemu = outcomes
    same = all(
        fake.value(f"{stream}: reply digest") == qemu.value(f"{stream}: reply digest")
        for stream in ("mixed", "random")
    )
    fake.add("same replies as QEMU", "yes" if same else "no")


def _cell(value: object) -> str:
    if value is None:
        return "-"
    return f"{value:,}" if isinstance(value, int) else str(value)


def print_summary(sections: list[tuple[str, dict[str, list[Outcome]]]]) -> None:
    """The headline figures of every release, as a Markdown table."""
    columns = [outcome for _, results in sections for outcome in next(iter(results.values()))]
    print("\n## Summary\n")
    print("| scenario | figure | " + " | ".join(o.target.label for o in columns) + " |")
    print("|---|---|" + "---|" * len(columns))
    for name, figures in HEADLINES.items():
        for figure in figures:
            cells = [
                _cell(outcome.value(figure))
                for _, results in sections
                for outcome in results.get(name, [])
            ]
            if any(cell != "-" for cell in cells):
                print(f"| {name} | {figure} | " + " | ".join(cells) + " |")


def _stop_on_sigterm(signo: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signo)  # unwinds through every `finally`: servers are stopped


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    preset = parser.add_mutually_exclusive_group()
    preset.add_argument("--quick", action="store_true", help="smaller sizes (minutes, not an hour)")
    preset.add_argument("--tiny", action="store_true", help="smoke-test sizes (seconds)")
    parser.add_argument("--qemu", help="real QEMUs: 7.2,10.0,11.1, binaries, or none")
    parser.add_argument("--profile", default="11.1", help="the fake's profile without real QEMU")
    parser.add_argument("--only", help="comma-separated scenarios: " + ",".join(SCENARIOS))
    parser.add_argument("--garbage-size", type=parse_size, help="bytes of mixed garbage (1G)")
    parser.add_argument("--timeout", type=float, help="seconds per scenario and server")
    args = parser.parse_args(argv)
    sizes = PRESETS["quick" if args.quick else "tiny" if args.tiny else "full"]
    if args.garbage_size is not None:
        sizes = dataclasses.replace(sizes, garbage_bytes=args.garbage_size)
    if args.timeout is not None:
        sizes = dataclasses.replace(sizes, timeout=args.timeout)
    names = list(SCENARIOS) if args.only is None else args.only.split(",")
    unknown = [name for name in names if name not in SCENARIOS]
    if unknown:
        parser.error(f"unknown scenario {unknown[0]!r}; known: {', '.join(SCENARIOS)}")
    try:
        qemus = qemu_targets(args.qemu)
    except BenchError as error:
        parser.error(str(error))
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    pairs = [[Target("fake", qemu.release), qemu] for qemu in qemus]
    pairs = pairs or [[Target("fake", args.profile)]]
    sections: list[tuple[str, dict[str, list[Outcome]]]] = []
    failed = False
    for targets in pairs:
        began = time.monotonic()
        print(f"\n# {' against '.join(t.label for t in targets)}", flush=True)
        results: dict[str, list[Outcome]] = {}
        for name in names:
            outcomes = [run_scenario(name, target, sizes) for target in targets]
            compare(name, outcomes)
            print_table(SCENARIOS[name][0](sizes), outcomes)
            sys.stdout.flush()
            failed = failed or any(outcome.problems for outcome in outcomes)
            results[name] = outcomes
        sections.append((targets[0].release, results))
        print(f"\n({time.monotonic() - began:.0f} s)")
    print_summary(sections)
    print("\nall checks passed" if not failed else "\nSOME CHECKS FAILED (see FAILED above)")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
