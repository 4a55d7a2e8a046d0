"""Regenerate a profile's recorded data from a capture of real QEMU.

    python -m fakeqemu.profiles.build tests/data/recordings [fakeqemu/profiles/data]

reads ``<version>/queries.json`` (written by ``fakeqemu capture``) and writes
``<version>/introspection.json`` and ``<version>/recorded.json`` next to the
profiles.  Only facts a fresh QEMU states about itself go here; behaviour that
needs a migration or a bad request to observe lives in ``catalog.py``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

DATA_DIR = Path(__file__).with_name("data")


def _reply(raw: str) -> Any:
    return json.loads(raw)["return"]


def recorded_facts(queries: dict[str, str]) -> dict[str, Any]:
    """The profile facts one ``queries.json`` capture holds."""
    greeting = json.loads(queries["greeting"])["QMP"]
    schema = _reply(queries["query-qmp-schema"])
    by_name = {entity["name"]: entity for entity in schema}
    params_type = by_name[by_name["query-migrate-parameters"]["ret-type"]]
    recorded_params = _reply(queries["query-migrate-parameters"])
    return {
        "version": greeting["version"],
        "greeting-capabilities": greeting["capabilities"],
        "commands": [entry["name"] for entry in _reply(queries["query-commands"])],
        "migrate-capabilities": [
            entry["capability"] for entry in _reply(queries["query-migrate-capabilities"])
        ],
        # Declaration order, which is the order QEMU inserts them into the reply.
        "migrate-parameters": {
            member["name"]: recorded_params[member["name"]]
            for member in params_type["members"]
            if member["name"] in recorded_params
        },
        "hmp-info-migrate-idle": _reply(queries["hmp:info migrate"]),
        "uuid": _reply(queries["query-uuid"])["UUID"],
        "kvm": _reply(queries["query-kvm"]),
        "target": _reply(queries["query-target"]),
    }


def _listed_names(listing: str, prefix: str = "") -> list[str]:
    """Command names from HMP's ``help`` or ``info`` text (``c|cont`` lists aliases)."""
    names: list[str] = []
    for line in listing.replace("\r\n", "\n").splitlines():
        if not line.startswith(prefix) or line[:1].isspace() or " -- " not in line:
            continue
        word = line[len(prefix) :].split(" ", 1)[0]
        names += [name for name in word.split("|") if name]
    return names


def hmp_facts(hmp: dict[str, str]) -> dict[str, Any]:
    """What ``fakeqemu capture hmp`` recorded: the release's HMP commands."""
    return {
        "hmp-help": hmp["help"],
        "hmp-info": hmp["info"],
        "hmp-commands": _listed_names(hmp["help"]),
        "hmp-info-commands": _listed_names(hmp["info"], "info "),
    }


def build(recordings: Path, out_dir: Path = DATA_DIR) -> list[Path]:
    written: list[Path] = []
    for queries_file in sorted(recordings.glob("*/queries.json")):
        version = queries_file.parent.name
        queries = json.loads(queries_file.read_text())
        target = out_dir / version
        target.mkdir(parents=True, exist_ok=True)
        introspection = target / "introspection.json"
        introspection.write_text(json.dumps(_reply(queries["query-qmp-schema"])) + "\n")
        facts = recorded_facts(queries)
        hmp_file = queries_file.with_name("hmp.json")
        if hmp_file.exists():
            facts |= hmp_facts(json.loads(hmp_file.read_text()))
        recorded = target / "recorded.json"
        recorded.write_text(json.dumps(facts, indent=1) + "\n")
        written += [introspection, recorded]
    return written


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args:
        print(__doc__, file=sys.stderr)
        return 2
    out_dir = Path(args[1]) if len(args) > 1 else DATA_DIR
    for path in build(Path(args[0]), out_dir):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
