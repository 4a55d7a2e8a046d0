"""What libvirt saw of real QEMU: recorded once per release, compared with the fake.

``tests/data/libvirt/VERSION/reference.json.gz`` keeps, from a run of
:func:`tests.support.libvirt.scenario.run_lifecycle` against real QEMU: ``virsh
domcapabilities``, the capabilities libvirt caches for the binary, and every QMP
session from libvirt's log (replies with what depends on time masked).  Paths and
times, and what libvirt learns from the host rather than from QEMU (its own CPUID
probe, the kernel, microcode), are masked in both.  Record it with::

    .venv/bin/python -m tests.support.libvirt.reference 7.2

When real QEMU of the release is installed, the tests compare with a live run instead.
"""

from __future__ import annotations

import gzip
import json
import re
import sys
import tempfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from tests.support.libvirt.daemons import daemon_pair
from tests.support.libvirt.monitor_log import Exchange, Session, read_sessions
from tests.support.libvirt.real_qemu import real_emulator
from tests.support.libvirt.scenario import run_lifecycle

REFERENCES = Path(__file__).parents[2] / "data" / "libvirt"
#: Elements of libvirt's capability cache that are not QEMU's answers.
_HOST_FACTS = re.compile(
    r"<(emulator|qemuctime|qemumoddirmtime|selfctime|kernelVersion|microcodeVersion"
    r"|hostCPUSignature)>.*?</\1>|<cpudata arch='[^']*'>.*?</cpudata>",
    re.DOTALL,
)


def mask_capabilities(xml: str) -> str:
    return _HOST_FACTS.sub(lambda match: f"<{match[1] or 'cpudata'}/>", xml)


def mask_domcapabilities(xml: str, emulator: str) -> str:
    return xml.replace(f"<path>{emulator}</path>", "<path>EMULATOR</path>")


def _cache_file(root: Path) -> Path:
    files = sorted((root / "cache/qemu/capabilities").glob("*.xml"))
    assert len(files) == 1, f"expected one cached emulator, found {files}"
    return files[0]


def cached_capabilities(root: Path) -> str:
    """The one capabilities file a daemon cached (one emulator binary per daemon)."""
    return mask_capabilities(_cache_file(root).read_text())


def host_cpu(root: Path) -> str:
    """libvirt's ``hostCPUSignature`` of this machine, from the daemon's cache: what
    KVM's answers (``host`` CPU model, usable CPU models) depend on."""
    match = re.search(r"<hostCPUSignature>(.*?)</hostCPUSignature>", _cache_file(root).read_text())
    return "" if match is None else match[1]


def kvm_enabled(sessions: list[Session]) -> bool:
    for session in sessions:
        for exchange in session.exchanges:
            if exchange.command == "query-kvm":
                return '"enabled": true' in exchange.reply
    return False


@dataclass
class Observed:
    """One side of the comparison: what libvirt saw of one emulator."""

    domcapabilities: str
    capabilities: str
    source_sessions: list[Session]
    destination_sessions: list[Session]
    #: What virsh said: the states after start, suspend and resume, the monitor
    #: command's reply, and migrate's error (libvirt 9.0 cannot migrate 11.1).
    virsh: dict[str, Any]
    #: The CPU of the machine it ran on (:func:`host_cpu`).
    host_cpu: str = ""

    @property
    def kvm(self) -> bool:
        return kvm_enabled(self.source_sessions)

    def to_json(self) -> dict[str, Any]:
        def sessions(items: list[Session]) -> list[dict[str, Any]]:
            return [
                {
                    "command_line": s.command_line,
                    "exchanges": [[e.command, e.arguments, e.masked_reply()] for e in s.exchanges],
                    "events": s.events,
                }
                for s in items
            ]

        return {
            "domcapabilities": self.domcapabilities,
            "capabilities": self.capabilities,
            "source": sessions(self.source_sessions),
            "destination": sessions(self.destination_sessions),
            "virsh": self.virsh,
            "host_cpu": self.host_cpu,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Observed:
        def sessions(items: list[dict[str, Any]]) -> list[Session]:
            return [
                Session(
                    item["command_line"],
                    [Exchange(c, a, r) for c, a, r in item["exchanges"]],
                    item["events"],
                )
                for item in items
            ]

        return cls(
            data["domcapabilities"],
            data["capabilities"],
            sessions(data["source"]),
            sessions(data["destination"]),
            data["virsh"],
            data.get("host_cpu", ""),
        )


def observe(workdir: Path, emulator: str) -> Observed:
    """Run the lifecycle against ``emulator`` on a fresh pair of daemons."""
    with daemon_pair(workdir) as (source, destination):
        run = run_lifecycle(source, destination, emulator, workdir)
        return Observed(
            mask_domcapabilities(run.domcapabilities, emulator),
            cached_capabilities(source.root),
            read_sessions(source.log),
            read_sessions(destination.log),
            {
                "states": run.states,
                "monitor_reply": run.monitor_reply,
                "migrate_error": run.migrate_error,
                "migrated_state": run.migrated_state,
                "destroyed": run.destroyed,
            },
            host_cpu(source.root),
        )


@cache
def stored(profile: str) -> Observed | None:
    """The stored reference of ``profile`` (read once; not to be modified)."""
    path = REFERENCES / profile / "reference.json.gz"
    if not path.exists():
        return None
    return Observed.from_json(json.loads(gzip.decompress(path.read_bytes())))


def record(profile: str) -> Path:
    with tempfile.TemporaryDirectory(prefix="fakeqemu-libvirt-", dir="/tmp") as scratch:
        emulator = real_emulator(profile, Path(scratch))
        if emulator is None:
            raise SystemExit(f"no real QEMU {profile} here")
        observed = observe(Path(scratch), emulator)
    path = REFERENCES / profile / "reference.json.gz"
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(observed.to_json(), indent=0, sort_keys=True).encode()
    with gzip.GzipFile(path, "wb", mtime=0) as packed:
        packed.write(text)
    return path


if __name__ == "__main__":
    for name in sys.argv[1:]:
        print(record(name))
