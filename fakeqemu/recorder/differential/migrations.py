"""The same live migration, capability by capability, on real QEMU pairs and on fake pairs.

Each scenario is driven the way the recorded migrations were (``tests/data/recordings/
README.md``): ``events`` and the scenario's capabilities on both sides, the source's
parameters, ``cont``, ``migrate-incoming`` then ``migrate``, and then both sides asked
``query-migrate`` and HMP ``info migrate`` every 100 ms until the source ends; last,
``query-migrate``, ``query-status`` and ``info migrate`` once more, and ``quit``.  The
log has the format of ``tests/data/recordings/<v>/precopy.jsonl``, so the recorded
migrations' replay (``tests/support/scenario_driver.py``) replays these as well.
Postcopy is started once the source is ``active``; ``pre-switchover`` is answered with
``migrate-continue``.
"""

from __future__ import annotations

import json
import random
import select
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fakeqemu.recorder.differential.runner import REPLY_TIMEOUT, connect_unix

PAGE = 4096
#: The recordings' bandwidth: 32 MiB/s, about a second for 128 MiB with a quarter data.
BANDWIDTH = 32 << 20
POLL = 0.1
#: A migration that has not ended by then is recorded as it stands.
TIME_LIMIT = 20.0
ENDED = frozenset({"completed", "failed", "cancelled"})
QUERIES = (
    ("query-migrate", None),
    ("human-monitor-command", {"command-line": "info migrate"}),
)


@dataclass(frozen=True)
class Scenario:
    name: str
    capabilities: tuple[str, ...] = ()
    parameters: Mapping[str, Any] = field(default_factory=lambda: {"max-bandwidth": BANDWIDTH})
    #: ``-m`` in MiB; with ``data``, the source's RAM has every 4th page random.
    memory: int = 128
    data: bool = True
    #: Start postcopy once the source is active.
    postcopy: bool = False


SCENARIOS = (
    Scenario("plain"),
    # An idle 16 MiB guest, no bandwidth limit: done within the first 100 ms window.
    Scenario("small-fast", parameters={"max-bandwidth": 0}, memory=16, data=False),
    Scenario("xbzrle", ("xbzrle",)),
    Scenario("multifd", ("multifd",)),
    Scenario("auto-converge", ("auto-converge",)),
    Scenario("postcopy-ram", ("postcopy-ram",), postcopy=True),
    Scenario("pause-before-switchover", ("pause-before-switchover",)),
)


def memory_file(path: Path, mebibytes: int, seed: int = 9) -> None:
    """A guest RAM image: every 4th page random bytes (fixed seed), the rest zero."""
    rng = random.Random(seed)
    zero = bytes(PAGE)
    with path.open("wb") as out:
        for page in range(mebibytes * 256):
            out.write(rng.randbytes(PAGE) if page % 4 == 0 else zero)


def qemu_arguments(scenario: Scenario, directory: str, side: str) -> tuple[str, ...]:
    """Extra QEMU arguments for ``side``: the source's RAM backed by a file, as in the
    recordings.  The destination keeps anonymous RAM: postcopy refuses a file that is
    not on tmpfs or hugetlbfs ("Host backend files need to be TMPFS or HUGETLBFS only")."""
    if side != "src" or not scenario.data:
        return ()
    path = Path(directory, f"{side}.ram")
    memory_file(path, scenario.memory)
    backend = f"memory-backend-file,id=pc.ram,size={scenario.memory}M,mem-path={path},share=off"
    return ("-object", backend, "-machine", "pc,memory-backend=pc.ram")


class Recorder:
    """Plain QMP clients for ``src`` and ``dst`` that log every line, in the recordings'
    format: ``{"t": seconds since start, "side", "dir": ">" or "<", "raw": the line}``.

    Before each request, whatever both sides have sent meanwhile is read and logged, so
    the log shows which events had arrived by the time each request went out.
    """

    def __init__(self, paths: Mapping[str, str]) -> None:
        self.lines: list[dict[str, Any]] = []
        self._start = time.monotonic()
        self._sockets = {side: connect_unix(path) for side, path in paths.items()}
        self._buffers = dict.fromkeys(paths, b"")
        #: Lines read and logged but not yet looked at by :meth:`request`.
        self._unread: dict[str, deque[str]] = {side: deque() for side in paths}
        for side in paths:
            self._next_line(side)  # the greeting
            self.request(side, {"execute": "qmp_capabilities"})

    def close(self) -> None:
        for sock in self._sockets.values():
            sock.close()

    def _log(self, side: str, direction: str, raw: str) -> None:
        t = round(time.monotonic() - self._start, 4)
        self.lines.append({"t": t, "side": side, "dir": direction, "raw": raw})

    def _read(self, side: str, timeout: float) -> bool:
        """Read what is there within ``timeout`` and log whole lines; ``False`` at the end."""
        sock = self._sockets[side]
        sock.settimeout(timeout)
        try:
            data = sock.recv(65536)
        except TimeoutError:
            return True
        except OSError:
            data = b""
        if not data:
            return False
        self._buffers[side] += data
        while b"\n" in self._buffers[side]:
            line, _, self._buffers[side] = self._buffers[side].partition(b"\n")
            text = line.decode("utf-8", "replace")
            self._log(side, "<", text)
            self._unread[side].append(text)
        return True

    def _drain(self) -> None:
        readable, _, _ = select.select(list(self._sockets.values()), [], [], 0)
        for side, sock in self._sockets.items():
            if sock in readable:
                self._read(side, 0.01)

    def _next_line(self, side: str) -> str | None:
        deadline = time.monotonic() + REPLY_TIMEOUT
        while not self._unread[side]:
            left = deadline - time.monotonic()
            if left <= 0 or not self._read(side, left):
                return None
        return self._unread[side].popleft()

    def request(self, side: str, message: Mapping[str, Any]) -> Any:
        """Send ``message``; its reply's ``return`` (``None`` for an error or no reply)."""
        self._drain()
        self._unread[side].clear()
        raw = json.dumps(message)
        self._log(side, ">", raw)
        try:
            self._sockets[side].sendall(raw.encode() + b"\n")
        except OSError:
            return None
        while True:
            line = self._next_line(side)
            if line is None:
                return None
            reply = json.loads(line)
            if isinstance(reply, dict) and "event" not in reply and "QMP" not in reply:
                return reply.get("return")


def _execute(command: str, arguments: Mapping[str, Any] | None = None) -> dict[str, Any]:
    message: dict[str, Any] = {"execute": command}
    if arguments is not None:
        message["arguments"] = dict(arguments)
    return message


def run_scenario(scenario: Scenario, paths: Mapping[str, str]) -> list[dict[str, Any]]:
    """Drive one migration from ``paths['src']`` to ``paths['dst']``; the log of it."""
    recorder = Recorder(paths)
    try:
        for side in ("src", "dst"):
            recorder.request(side, _execute("query-migrate"))
            caps = [{"capability": c, "state": True} for c in ("events", *scenario.capabilities)]
            recorder.request(side, _execute("migrate-set-capabilities", {"capabilities": caps}))
        if scenario.parameters:
            recorder.request("src", _execute("migrate-set-parameters", scenario.parameters))
        recorder.request("src", _execute("cont"))
        recorder.request("dst", _execute("migrate-incoming", {"uri": "tcp:127.0.0.1:0"}))
        listening = recorder.request("dst", _execute("query-migrate")) or {}
        port = listening.get("socket-address", [{}])[0].get("port", "0")
        recorder.request("src", _execute("migrate", {"uri": f"tcp:127.0.0.1:{port}"}))
        _poll(recorder, scenario)
        for side in ("src", "dst"):
            for command, arguments in (*QUERIES, ("query-status", None)):
                recorder.request(side, _execute(command, arguments))
        for side in ("src", "dst"):
            recorder.request(side, _execute("quit"))
    finally:
        recorder.close()
    return recorder.lines


def _poll(recorder: Recorder, scenario: Scenario) -> None:
    deadline = time.monotonic() + TIME_LIMIT
    postcopy_started = False
    while time.monotonic() < deadline:
        time.sleep(POLL)
        info = recorder.request("src", _execute("query-migrate")) or {}
        recorder.request("src", _execute(*QUERIES[1]))
        recorder.request("dst", _execute("query-migrate"))
        recorder.request("dst", _execute(*QUERIES[1]))
        status = info.get("status")
        if status in ENDED:
            return
        if scenario.postcopy and status == "active" and not postcopy_started:
            recorder.request("src", _execute("migrate-start-postcopy"))
            postcopy_started = True
        if status == "pre-switchover":
            recorder.request("src", _execute("migrate-continue", {"state": "pre-switchover"}))
