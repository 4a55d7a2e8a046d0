"""The load scenarios: many monitors, a queue on one monitor, a flood, big replies.

Each takes a fresh server, drives it, checks every reply and returns an
:class:`~bench.report.Outcome`; :func:`bench.load.main` prints them side by side.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from dataclasses import dataclass

from bench.config import Sizes
from bench.qmp_io import CAPABILITIES, RECV_SIZE, QmpLines, ReplyChecker, request_line
from bench.report import Outcome
from bench.servers import Processes, Target

#: Cheap queries every release answers, taken in turn by the pipelining clients.
QUERIES = ("query-status", "query-name", "query-version", "query-kvm", "query-migrate")
#: Client k uses ids from k * ID_STRIDE: unique across the whole run.
ID_STRIDE = 1_000_000


def _batch(first_id: int, count: int) -> bytes:
    return b"".join(
        request_line(QUERIES[ident % len(QUERIES)], ident)
        for ident in range(first_id, first_id + count)
    )


# -- 200 monitors x 1,000 commands ---------------------------------------------------


@dataclass
class _MonitorRun:
    checker: ReplyChecker
    failed: str = ""


class _StartLine:
    """Holds the clients until every one has negotiated (or failed), then lets them go."""

    def __init__(self, clients: int) -> None:
        self.waiting = clients
        self.go = asyncio.Event()

    def arrive(self) -> None:
        self.waiting -= 1
        if self.waiting <= 0:
            self.go.set()


async def _monitor_client(path: str, index: int, sizes: Sizes, start: _StartLine) -> _MonitorRun:
    run = _MonitorRun(ReplyChecker(index * ID_STRIDE))
    arrived = False
    try:
        reader, writer = await asyncio.open_unix_connection(path, limit=RECV_SIZE)
    except OSError as error:
        run.failed = f"connect: {error}"
        start.arrive()
        return run
    try:
        await reader.readline()  # the greeting
        writer.write(CAPABILITIES)
        await reader.readline()
        arrived = True
        start.arrive()
        await start.go.wait()
        await _pipeline(reader, writer, index * ID_STRIDE, sizes, run)
    except (OSError, ValueError) as error:
        run.failed = str(error) or type(error).__name__
    finally:
        if not arrived:
            start.arrive()
        writer.close()
    return run


async def _pipeline(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    first: int,
    sizes: Sizes,
    run: _MonitorRun,
) -> None:
    """Batches of requests, each batch's replies read and checked before the next."""
    buffer = bytearray()
    checker = run.checker
    for start in range(0, sizes.commands, sizes.batch):
        count = min(sizes.batch, sizes.commands - start)
        writer.write(_batch(first + start, count))
        checker.sent(count)
        await writer.drain()
        wanted = checker.lines + count
        while checker.lines < wanted:
            data = await reader.read(RECV_SIZE)
            if not data:
                run.failed = "the server closed the connection"
                return
            buffer += data
            end = buffer.rfind(b"\n") + 1
            for line in bytes(buffer[:end]).splitlines():
                checker.check(line)
            del buffer[:end]


async def _all_monitors(paths: list[str], sizes: Sizes) -> tuple[list[_MonitorRun], float]:
    start = _StartLine(len(paths))
    async with asyncio.timeout(sizes.timeout):
        tasks = [
            asyncio.create_task(_monitor_client(path, index, sizes, start))
            for index, path in enumerate(paths)
        ]
        await start.go.wait()
        began = time.perf_counter()
        runs = await asyncio.gather(*tasks)
        return runs, time.perf_counter() - began


def many_monitors(procs: Processes, target: Target, sizes: Sizes) -> Outcome:
    """``sizes.monitors`` monitors on one server, a client on each, pipelining in batches."""
    outcome = Outcome("monitors", target)
    server = procs.start(target, sizes.monitors)
    before = server.rss_kib()
    runs, seconds = asyncio.run(_all_monitors(server.sockets, sizes))
    answered = sum(run.checker.answered for run in runs)
    outcome.add("commands answered", answered)
    outcome.add("seconds", round(seconds, 2), ratio=True)
    outcome.add("commands/s", round(answered / seconds), ratio=True)
    outcome.require_zero(
        lost=sum(run.checker.outstanding for run in runs),
        misordered=sum(run.checker.misordered for run in runs),
        malformed=sum(run.checker.malformed for run in runs),
        **{"clients failed": sum(1 for run in runs if run.failed)},
    )
    outcome.memory(server, before)
    for run in runs:
        if run.failed:
            outcome.problems.append(run.failed)
            break
    return outcome


# -- 200 clients queued on one monitor ------------------------------------------------


@dataclass
class _QueuedVisit:
    greeted_at: float = 0.0
    leaving_at: float = 0.0
    served: bool = False
    failed: str = ""


def _queued_client(path: str, index: int, timeout: float, visit: _QueuedVisit) -> None:
    try:
        monitor = QmpLines.connect(path, timeout)
    except OSError as error:
        visit.failed = f"connect: {error}"
        return
    try:
        if "QMP" in monitor.read_message():
            visit.greeted_at = time.monotonic()
        monitor.send(CAPABILITIES + request_line("query-status", index))
        monitor.reply()
        visit.served = monitor.reply().get("id") == index
    except (OSError, ValueError) as error:
        visit.failed = str(error) or type(error).__name__
    finally:
        # Taken before close(): the next client cannot be greeted before this moment.
        visit.leaving_at = time.monotonic()
        monitor.close()


def queued_clients(procs: Processes, target: Target, sizes: Sizes) -> Outcome:
    """``sizes.queued_clients`` clients connect at once to one monitor; each is served in turn."""
    outcome = Outcome("queue", target)
    server = procs.start(target, 1)
    before = server.rss_kib()
    visits = [_QueuedVisit() for _ in range(sizes.queued_clients)]
    threads = [
        threading.Thread(
            target=_queued_client,
            args=(server.sockets[0], index, sizes.timeout, visit),
            daemon=True,
        )
        for index, visit in enumerate(visits)
    ]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(sizes.timeout)
    seconds = time.perf_counter() - began
    greeted = sorted((v for v in visits if v.greeted_at), key=lambda v: v.greeted_at)
    # A greeting that arrived before the previous client left: two clients at once.
    overlapping = sum(
        1 for first, then in itertools.pairwise(greeted) if then.greeted_at < first.leaving_at
    )
    outcome.add("clients greeted", len(greeted))
    outcome.add("clients served", sum(v.served for v in visits))
    outcome.add("seconds", round(seconds, 2), ratio=True)
    outcome.add("clients/s", round(len(greeted) / seconds, 1), ratio=True)
    outcome.require_zero(
        **{
            "never served": sum(not v.served for v in visits),
            "greeted while another was on": overlapping,
        }
    )
    outcome.memory(server, before)
    failures = [v.failed for v in visits if v.failed]
    if failures:
        outcome.problems.append(failures[0])
    return outcome


# -- a flood written without reading, and 400 query-qmp-schema -----------------------


def _write_then_read(
    procs: Processes, target: Target, sizes: Sizes, scenario: str, command: str, count: int
) -> tuple[Outcome, ReplyChecker, list[int]]:
    """Write ``count`` requests without reading, then read every reply; the reply lengths."""
    outcome = Outcome(scenario, target)
    server = procs.start(target, 1)
    before = server.rss_kib()
    with QmpLines.connect(server.sockets[0], sizes.timeout) as monitor:
        monitor.negotiate()
        checker = ReplyChecker(0)
        payload = b"".join(request_line(command, ident) for ident in range(count))
        began = time.perf_counter()
        monitor.send(payload)
        checker.sent(count)
        written = time.perf_counter() - began
        lengths = []
        try:
            while checker.lines < count:
                line = monitor.read_line()
                lengths.append(len(line))
                checker.check(line)
        except (OSError, ConnectionError) as error:
            outcome.problems.append(str(error))
        seconds = time.perf_counter() - began
        outcome.add("requests written", count)
        outcome.add("bytes written", len(payload))
        outcome.add("write seconds", round(written, 2), ratio=True)
        outcome.add("seconds to last reply", round(seconds, 2), ratio=True)
        outcome.add("replies/s", round(checker.answered / seconds), ratio=True)
        outcome.add("reply MB/s", round(sum(lengths) / seconds / 1e6, 1), ratio=True)
        outcome.require_zero(
            lost=checker.outstanding, misordered=checker.misordered, malformed=checker.malformed
        )
        outcome.memory(server, before)
    return outcome, checker, lengths


def flood(procs: Processes, target: Target, sizes: Sizes) -> Outcome:
    """``sizes.flood`` commands written without reading, then read: all answered, in order."""
    outcome, _, _ = _write_then_read(procs, target, sizes, "flood", "query-status", sizes.flood)
    return outcome


def schemas(procs: Processes, target: Target, sizes: Sizes) -> Outcome:
    """``sizes.schemas`` pipelined ``query-qmp-schema`` (about 250 KB each), all answered."""
    outcome, _, lengths = _write_then_read(
        procs, target, sizes, "schemas", "query-qmp-schema", sizes.schemas
    )
    # Every reply is the same introspection; only the id's digits differ.
    differing = sum(1 for length in lengths if abs(length - lengths[0]) > 8) if lengths else 0
    outcome.require_zero(**{"replies of another size": differing})
    return outcome
