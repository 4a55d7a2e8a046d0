"""``fakeqemu contracts validate|export|diff``.

Only argparse and the vocabulary are imported here: ``fakeqemu serve`` builds this
parser too and must stay quick to start.  jsonschema is loaded by the subcommands
that use it.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING

from fakeqemu.vocabulary import PROFILE_NAMES, ROLES, SHAPES

if TYPE_CHECKING:
    from fakeqemu.contracts.messages import Received, Unreadable


def add_arguments(contracts: argparse.ArgumentParser) -> None:
    """``validate``, ``export`` and ``diff`` under ``fakeqemu contracts``."""
    actions = contracts.add_subparsers(dest="contracts_command", required=True)

    check = actions.add_parser("validate", help="check QMP messages against a contract")
    check.add_argument(
        "file",
        help="QMP messages one per line (requests may be included), a transcript of"
        " tests/data/recordings, or a cassette of fakeqemu record",
    )
    check.add_argument("--profile", required=True, choices=PROFILE_NAMES)
    check.add_argument("--shape", required=True, choices=SHAPES)
    check.add_argument(
        "--role",
        choices=ROLES,
        help="role for query-migrate replies (otherwise the src/dst sides of a transcript or"
        " cassette give it)",
    )
    check.add_argument(
        "--command",
        # Not "command": that dest names the fakeqemu subcommand.
        dest="answers",
        default="query-migrate",
        help="what replies without a logged request answer (default: query-migrate)",
    )

    export = actions.add_parser("export", help="write every schema to DIR/<profile>/<shape>/")
    export.add_argument("dir")

    compare = actions.add_parser("diff", help="what changes from one contract to another")
    compare.add_argument("old", metavar="P1/S1", help="e.g. 11.1/old")
    compare.add_argument("new", metavar="P2/S2", help="e.g. 11.1/new")
    compare.add_argument(
        "--verdict",
        action="store_true",
        help="mark each change breaking or safe for strict, lenient and allow-list decoders",
    )


def run(args: argparse.Namespace) -> int:
    if args.contracts_command == "validate":
        return _validate(args)
    if args.contracts_command == "export":
        return _export(args)
    return _diff(args)


def _read(path: str, text: str, args: argparse.Namespace) -> Iterator[Received | Unreadable]:
    """A cassette or a transcript (their first entry says so), or a client's log."""
    import json

    from fakeqemu.contracts.messages import read_conversation, read_entries

    first = next((line for line in text.splitlines() if line.strip()), "")
    try:
        value = json.loads(first)
    except ValueError:
        value = None
    if isinstance(value, dict) and ("cassette" in value or "dir" in value):
        # The cassette module reads the format it defines (transcripts are cassettes too).
        from fakeqemu.protocol.cassette import Cassette

        entries = Cassette.parse(text.splitlines(), path).entries
        return read_entries(entries, default_command=args.answers, role=args.role)
    return read_conversation(text, default_command=args.answers, role=args.role)


def _validate(args: argparse.Namespace) -> int:
    from pathlib import Path

    from fakeqemu.contracts.messages import Unreadable
    from fakeqemu.contracts.validator import problems

    try:
        text = Path(args.file).read_text(encoding="utf-8")
        conversation = _read(args.file, text, args)
    except (OSError, ValueError) as error:
        print(f"fakeqemu contracts validate: {error}", file=sys.stderr)
        return 2
    checked = broken = 0
    for item in conversation:
        checked += 1
        if isinstance(item, Unreadable):
            broken += 1
            print(f"{args.file}:{item.line}: {item.reason}")
            continue
        found = problems(
            item.message,
            profile=args.profile,
            shape=args.shape,
            command=item.command,
            role=item.role if item.command == "query-migrate" else None,
        )
        if found:
            broken += 1
            what = item.command or "greeting"
            if item.role and item.command == "query-migrate":
                what += f" ({item.role})"
            for problem in found:
                print(f"{args.file}:{item.line}: {what}: {problem}")
    print(
        f"{checked} messages checked against {args.profile}/{args.shape}:"
        f" {broken} broke their contract"
    )
    return 1 if broken else 0


def _export(args: argparse.Namespace) -> int:
    from pathlib import Path

    from fakeqemu.contracts.store import package_root

    root = Path(args.dir)
    count = 0
    for profile in PROFILE_NAMES:
        for shape in SHAPES:
            folder = root / profile / shape
            folder.mkdir(parents=True, exist_ok=True)
            for entry in package_root().joinpath(profile, shape).iterdir():
                if entry.name.endswith(".json"):
                    (folder / entry.name).write_bytes(entry.read_bytes())
                    count += 1
    print(f"fakeqemu: wrote {count} schemas to {root}")
    return 0


def _diff(args: argparse.Namespace) -> int:
    from fakeqemu.contracts.diff import diff

    try:
        lines = diff(args.old, args.new, verdict=args.verdict)
    except ValueError as error:
        print(f"fakeqemu contracts diff: {error}", file=sys.stderr)
        return 2
    print("\n".join(lines))
    return 0
