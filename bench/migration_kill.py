"""kill -9 of either side in the middle of a migration, for two fakes and for two QEMUs.

A source and a destination (``-incoming defer``, then ``migrate-incoming
tcp:127.0.0.1:0``) migrate with a bandwidth limit low enough to stay ``active``
for seconds.  Then one side gets SIGKILL:

* the destination: the source must report ``failed`` with an ``error-desc`` and
  go on serving its monitor;
* the source: the destination must exit with status 1, saying why on stderr
  (QEMU's exit-on-error).

What each side reports is printed next to what real QEMU reports.
"""

from __future__ import annotations

import subprocess
import time
from contextlib import ExitStack
from typing import Any

from bench.config import Sizes
from bench.qmp_io import QmpLines
from bench.report import Outcome
from bench.servers import BenchError, Processes, Server, Target

POLL = 0.05
EVENTS = {"capabilities": [{"capability": "events", "state": True}]}
#: Source states on the way to ``failed`` (11.1 passes through ``failing``).
STILL_GOING = ("setup", "active", "device", "pre-switchover", "failing")
#: How long a surviving side gets to notice that its peer has gone.
NOTICE_TIMEOUT = 30.0


def _memory_args(target: Target, sizes: Sizes) -> tuple[str, ...]:
    if target.kind == "fake":
        return ("--memory", sizes.fake_memory)
    return ("-m", sizes.qemu_memory)


def _incoming_args(target: Target) -> tuple[str, ...]:
    return ("--incoming", "defer") if target.kind == "fake" else ("-incoming", "defer")


def _ok(reply: dict[str, Any], what: str) -> Any:
    if "return" not in reply:
        raise BenchError(f"{what}: {reply!r}")
    return reply["return"]


def _start_migration(
    procs: Processes, stack: ExitStack, target: Target, sizes: Sizes, pair: str
) -> tuple[Server, Server, QmpLines, QmpLines]:
    """A source and a destination, migrating; once the source has been active a while.
    Their monitors are closed with ``stack``."""
    memory = _memory_args(target, sizes)
    source = procs.start(target, 1, *memory, name=f"{pair}-src")
    destination = procs.start(target, 1, *memory, *_incoming_args(target), name=f"{pair}-dst")
    src = stack.enter_context(QmpLines.connect(source.sockets[0], sizes.timeout))
    dst = stack.enter_context(QmpLines.connect(destination.sockets[0], sizes.timeout))
    for monitor in (src, dst):
        monitor.negotiate()
        _ok(monitor.execute("migrate-set-capabilities", EVENTS), "migrate-set-capabilities")
    _ok(dst.execute("migrate-incoming", {"uri": "tcp:127.0.0.1:0"}), "migrate-incoming")
    listening = _ok(dst.execute("query-migrate"), "query-migrate")
    port = listening["socket-address"][0]["port"]
    bandwidth = sizes.fake_bandwidth if target.kind == "fake" else sizes.qemu_bandwidth
    _ok(src.execute("migrate-set-parameters", {"max-bandwidth": bandwidth}), "max-bandwidth")
    _ok(src.execute("migrate", {"uri": f"tcp:127.0.0.1:{port}"}), "migrate")
    deadline = time.monotonic() + NOTICE_TIMEOUT
    while _ok(src.execute("query-migrate"), "query-migrate").get("status") != "active":
        if time.monotonic() > deadline:
            raise BenchError("the migration never became active")
        time.sleep(POLL)
    time.sleep(sizes.kill_after)
    status = _ok(src.execute("query-migrate"), "query-migrate").get("status")
    if status != "active":
        raise BenchError(f"the migration ended before the kill ({status}): lower the bandwidth")
    return source, destination, src, dst


def _kill_destination(
    procs: Processes, stack: ExitStack, target: Target, sizes: Sizes, outcome: Outcome
) -> None:
    source, destination, src, dst = _start_migration(procs, stack, target, sizes, "a")
    before = source.rss_kib()
    dst.close()
    destination.kill()
    killed = time.monotonic()
    info: dict[str, Any] = {}
    while time.monotonic() - killed < NOTICE_TIMEOUT:
        info = _ok(src.execute("query-migrate"), "query-migrate")
        if info.get("status") not in STILL_GOING:
            break
        time.sleep(POLL)
    noticed = time.monotonic() - killed
    status = info.get("status", "?")
    outcome.add("dst killed: source status", status)
    outcome.add("dst killed: source error-desc", info.get("error-desc", "(none)"))
    outcome.add("dst killed: seconds to notice", round(noticed, 2))
    serving = "return" in src.execute("query-status") and source.proc.poll() is None
    outcome.add("dst killed: source still serves", "yes" if serving else "no")
    if status != "failed" or "error-desc" not in info:
        outcome.problems.append(f"the source reported {info!r} after its destination died")
    if not serving:
        outcome.problems.append("the source stopped serving after its destination died")
    outcome.memory(source, before)


def _kill_source(
    procs: Processes, stack: ExitStack, target: Target, sizes: Sizes, outcome: Outcome
) -> None:
    source, destination, src, dst = _start_migration(procs, stack, target, sizes, "b")
    src.close()
    source.kill()
    last_status = "?"
    dst.sock.settimeout(NOTICE_TIMEOUT)
    try:
        while True:  # the destination's events, until it exits and the connection closes
            message = dst.read_message()
            if message.get("event") == "MIGRATION":
                last_status = message["data"]["status"]
    except (OSError, ConnectionError, ValueError):
        pass
    dst.close()
    try:
        code = destination.proc.wait(NOTICE_TIMEOUT)
    except subprocess.TimeoutExpired:
        code = None
    lines = [line for line in destination.stderr().splitlines() if line.strip()]
    outcome.add("src killed: last MIGRATION event", last_status)
    outcome.add("src killed: destination exit status", "running" if code is None else code)
    outcome.add("src killed: destination stderr", " | ".join(lines[-3:]) or "(nothing)")
    if code != 1 or not any("load of migration failed" in line for line in lines):
        outcome.problems.append(f"destination: exit status {code}, stderr {lines[-3:]!r}")


def migration_kill(procs: Processes, target: Target, sizes: Sizes) -> Outcome:
    """Both kills, each on a fresh pair of servers."""
    outcome = Outcome("kill", target)
    with ExitStack() as stack:
        _kill_destination(procs, stack, target, sizes, outcome)
    with ExitStack() as stack:
        _kill_source(procs, stack, target, sizes, outcome)
    return outcome
