"""Postcopy recovery on two real QEMU processes: what ``tests/data/postcopy_recovery/7.2.json``
says QEMU 7.2 does, it still does (the fakes are held to that file in
tests/integration/test_postcopy_recovery.py).

Only 7.2: under tcg, 10.0's destination stops answering its monitor once postcopy
pauses (its vCPU waits for a page with the big lock held), so its recovery cannot be
driven here (10.0.json keeps what was seen up to the pause).  7.2's does the same when
the pause comes at once after the switch (the BIOS is still faulting pages in): the
test waits 0.3 s first, as the recording did (9 runs of 9 passed).
"""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conformance.test_real_qemu import _real_qemu
from tests.support.processes import real_qemu

OBSERVED = Path(__file__).parents[1] / "data" / "postcopy_recovery" / "7.2.json"
#: Precopy slow enough to start postcopy in; a postcopy that lasts about ten seconds.
SLOW = {"max-bandwidth": 4 << 20, "max-postcopy-bandwidth": 30000}
TIMEOUT = 20.0


class Monitor:
    """A blocking QMP client that keeps each side's events, and the errors it was given."""

    def __init__(self, side: str, path: str, errors: list[tuple[str, str, str, str]]) -> None:
        self.side, self.errors, self.state = side, errors, "none"
        self.events: list[dict[str, Any]] = []
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.settimeout(TIMEOUT)
        self.sock.connect(path)
        self.file = self.sock.makefile("rb")
        self.file.readline()
        self.command("qmp_capabilities")

    def command(self, name: str, arguments: dict[str, Any] | None = None) -> Any:
        request: dict[str, Any] = {"execute": name}
        if arguments is not None:
            request["arguments"] = arguments
        self.sock.sendall(json.dumps(request).encode())
        while True:
            message = json.loads(self.file.readline())
            if "event" in message:
                self.events.append(message)
                continue
            if "error" in message:
                self.errors.append((self.state, self.side, name, message["error"]["desc"]))
            return message.get("return")

    def wait(self, status: str) -> dict[str, Any]:
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            info: dict[str, Any] = self.command("query-migrate")
            if info.get("status") == status:
                return info
            time.sleep(0.02)
        raise AssertionError(f"{self.side} never reached {status}")

    def statuses(self) -> list[str]:
        found = [e["data"]["status"] for e in self.events if e["event"] == "MIGRATION"]
        return found[found.index("postcopy-paused") :]

    def close(self) -> None:
        self.file.close()
        self.sock.close()


def wrong_state_calls(src: Monitor, dst: Monitor, directory: str, state: str) -> None:
    """The calls 7.2.json recorded in ``state``, in its order."""
    src.state = dst.state = state
    stale = f"unix:{directory}/r0.sock"
    if state == "none":
        dst.command("migrate-recover", {"uri": stale})
        src.command("migrate-recover", {"uri": stale})
        src.command("migrate-pause")
        dst.command("migrate-pause")
        src.command("migrate", {"uri": f"unix:{directory}/m.sock", "resume": True})
    elif state == "postcopy-active":
        dst.command("migrate-recover", {"uri": stale})
        src.command("migrate", {"uri": stale, "resume": True})
    else:
        src.command("migrate-pause")
        dst.command("migrate-pause")
        src.command("migrate", {"uri": f"unix:{directory}/m.sock"})
        src.command("migrate-recover", {"uri": stale})


@pytest.mark.real_qemu
def test_qemu_7_2_pauses_recovers_and_answers_as_recorded(tmp_path: Path) -> None:
    _, version = _real_qemu()
    if version != "7.2":
        pytest.skip(f"QEMU {version}: only 7.2's recovery can be driven under tcg")
    observed = json.loads(OBSERVED.read_text())
    directory = str(tmp_path)
    errors: list[tuple[str, str, str, str]] = []
    with (
        real_qemu(f"{directory}/src.qmp", "-m", "128"),
        real_qemu(f"{directory}/dst.qmp", "-m", "128", "-incoming", "defer"),
    ):
        src = Monitor("src", f"{directory}/src.qmp", errors)
        dst = Monitor("dst", f"{directory}/dst.qmp", errors)
        try:
            caps = [{"capability": c, "state": True} for c in ("events", "postcopy-ram")]
            for monitor in (src, dst):
                monitor.command("migrate-set-capabilities", {"capabilities": caps})
            wrong_state_calls(src, dst, directory, "none")
            dst.command("migrate-incoming", {"uri": f"unix:{directory}/m.sock"})
            src.command("migrate-set-parameters", SLOW)
            src.command("migrate", {"uri": f"unix:{directory}/m.sock"})
            src.wait("active")
            src.command("migrate-start-postcopy")
            src.wait("postcopy-active")
            dst.wait("postcopy-active")
            time.sleep(0.3)  # as recorded: the guest runs on the destination a while
            wrong_state_calls(src, dst, directory, "postcopy-active")
            src.command("migrate-pause")
            paused = src.wait("postcopy-paused")
            dst.wait("postcopy-paused")
            wrong_state_calls(src, dst, directory, "postcopy-paused")
            for name in ("r1", "r2"):
                dst.command("migrate-recover", {"uri": f"unix:{directory}/{name}.sock"})
            listening = dst.command("query-migrate")
            src.command("migrate", {"uri": f"unix:{directory}/r1.sock", "resume": True})
            time.sleep(0.3)
            src.command("migrate", {"uri": f"unix:{directory}/r2.sock", "resume": True})
            src.wait("postcopy-active")
            src.command("migrate-set-parameters", {"max-postcopy-bandwidth": 0})
            src.wait("completed")
            dst.wait("completed")
            src.command("query-status")
            dst.command("query-status")
        finally:
            src.close()
            dst.close()
    recorded = [(e["state"], e["side"], e["command"], e["desc"]) for e in observed["errors"]]
    assert errors == recorded
    assert src.statuses() == observed["source_statuses"]
    assert dst.statuses() == observed["destination_statuses"]
    assert sorted(paused) == observed["source_paused_query_members"]
    assert listening["status"] == observed["destination_after_recover"]["status"]
    assert listening["socket-address"] == [{"path": f"{directory}/r2.sock", "type": "unix"}]
