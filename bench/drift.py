"""Benchmark: a full schema-drift run over the examples against their plain run.

    python -m bench.drift [--repeat N] [--report FILE] [--check]

Runs ``pytest examples/`` plainly (the median of ``--repeat`` runs) and with
``--fakeqemu-drift`` (once), each in a fresh process, both measured in this run,
and prints the ratio; the target is under 10x.  Also prints how many mutations
each profile and shape has (what a drift run could try), how many group runs
they pack into, and what the drift run made of them: runs made, mutations that
broke, survived or were never exercised.  No real QEMU is involved: both runs use
the fakes.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
#: What a drift run may cost, as a multiple of the plain run.
TARGET_RATIO = 10.0


def _pytest(*args: str, where: Path = EXAMPLES) -> tuple[float, str]:
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(where)]
    started = time.perf_counter()
    done = subprocess.run(
        [*command, *args], cwd=ROOT, capture_output=True, text=True, check=False, timeout=3600
    )
    elapsed = time.perf_counter() - started
    summary = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else done.stderr
    return elapsed, summary


def mutation_counts() -> list[tuple[str, str, int, int, int]]:
    """(profile, shape, single mutations, pairs, group runs at most) per contract."""
    from fakeqemu.drift.catalog import mutations_for, pairs_for
    from fakeqemu.drift.groups import group_tree
    from fakeqemu.vocabulary import PROFILE_NAMES, SHAPES

    found = []
    for profile in PROFILE_NAMES:
        for shape in SHAPES:
            singles = mutations_for(profile, shape)
            found.append(
                (profile, shape, len(singles), len(pairs_for(singles)), len(group_tree(singles)))
            )
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="plain runs to take the median of")
    parser.add_argument("--report", help="also write the figures as JSON")
    parser.add_argument(
        "--check", action="store_true", help=f"exit 1 if the ratio is {TARGET_RATIO:g}x or more"
    )
    args = parser.parse_args(argv)

    print("mutations per profile and shape (singles, pairs, group runs at most):")
    counts = mutation_counts()
    for profile, shape, singles, pairs, groups in counts:
        print(f"  {profile:<5} {shape:<4} {singles:4d} singles {pairs:3d} pairs {groups:4d} groups")

    plain_times = []
    for _ in range(args.repeat):
        elapsed, plain_summary = _pytest()
        plain_times.append(elapsed)
    plain = statistics.median(plain_times)
    with tempfile.TemporaryDirectory() as directory:
        report_path = Path(directory) / "drift.json"
        drift, drift_summary = _pytest("--fakeqemu-drift", f"--fakeqemu-drift-report={report_path}")
        report: dict[str, Any] = json.loads(report_path.read_text())
    ratio = drift / plain
    print("each example on its own (one run each):")
    for example in sorted(p for p in EXAMPLES.iterdir() if list(p.glob("test_*.py"))):
        alone, _ = _pytest(where=example)
        drifting, _ = _pytest("--fakeqemu-drift", where=example)
        print(
            f"  {example.name:<18} plain {alone:6.2f} s  drift {drifting:6.2f} s  "
            f"{drifting / alone:5.1f}x"
        )
    print(f"plain run of examples/:  {plain:6.2f} s  ({plain_summary})")
    print(f"drift run of examples/:  {drift:6.2f} s  ({drift_summary})")
    print(f"drift mutations: {report['counts']}")
    verdict = "under" if ratio < TARGET_RATIO else "OVER"
    print(f"drift / plain: {ratio:.1f}x ({verdict} the {TARGET_RATIO:g}x target)")
    if args.report:
        figures = {
            "plain_s": plain,
            "plain_runs_s": plain_times,
            "drift_s": drift,
            "ratio": ratio,
            "outcomes": report["counts"],
            "mutations": [
                {"profile": p, "shape": s, "singles": n, "pairs": pairs, "groups": g}
                for p, s, n, pairs, g in counts
            ],
        }
        Path(args.report).write_text(json.dumps(figures, indent=2) + "\n")
    return 1 if args.check and ratio >= TARGET_RATIO else 0


if __name__ == "__main__":
    raise SystemExit(main())
