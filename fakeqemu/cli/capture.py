"""``fakeqemu capture``: record a real QEMU in the formats of ``tests/data/recordings``."""

from __future__ import annotations

import argparse
import sys


def add_arguments(capture: argparse.ArgumentParser) -> None:
    capture.add_argument(
        "what", choices=("probes", "queries", "hmp", "commands", "migrations", "libvirt")
    )
    capture.add_argument("out", help="file to write (libvirt: a directory)")
    capture.add_argument("--qemu", default="qemu-system-x86_64", help="QEMU binary")
    capture.add_argument("--cases", help="probes file whose cases to replay (for probes)")


def run_capture(args: argparse.Namespace) -> int:
    from pathlib import Path

    from fakeqemu.recorder.capture import capture_hmp, capture_probes, capture_queries

    if args.what == "probes":
        if not args.cases:
            print("fakeqemu capture probes: --cases FILE is required", file=sys.stderr)
            return 2
        count = capture_probes(args.qemu, Path(args.cases), Path(args.out))
    elif args.what == "hmp":
        count = capture_hmp(args.qemu, Path(args.out))
    elif args.what == "libvirt":
        from fakeqemu.recorder.libvirt.capture import capture_emulator

        count = capture_emulator(args.qemu, Path(args.out))
    elif args.what in ("commands", "migrations"):
        from fakeqemu.recorder.differential import capture

        record = capture.capture_commands if args.what == "commands" else capture.capture_migrations
        count = record(args.qemu, Path(args.out))
    else:
        count = capture_queries(args.qemu, Path(args.out))
    print(f"fakeqemu: recorded {count} entries in {args.out}")
    return 0
