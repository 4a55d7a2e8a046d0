"""libvirt's own record of its QMP conversations, read from ``libvirtd.log``.

With ``log_filters="1:qemu.qemu_monitor 1:qemu.qemu_monitor_json 1:util.command"``
libvirt logs the command line of every emulator it runs, every message it sends
(``QEMU_MONITOR_SEND_MSG``) and every reply and event it receives, byte for byte.
Conversations are compared here with what does not depend on time masked: event
timestamps, thread ids, the numbers of a migration in progress, and whether an
event overtook a reply (QEMU's migration thread races its monitor).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

_RUN = re.compile(r"virCommandRunAsync:\d+ : About to run (.*)$")
_NEW = re.compile(r"QEMU_MONITOR_NEW: mon=(0x[0-9a-f]+)")
_SEND = re.compile(r"QEMU_MONITOR_SEND_MSG: mon=(0x[0-9a-f]+) msg=(.*?)(?:\\r\\n)?(?: fd=-?\d+)?$")
_RECV = re.compile(r"QEMU_MONITOR_RECV_(REPLY|EVENT): mon=(0x[0-9a-f]+) (?:reply|event)=(.*)$")
_TIMESTAMP = re.compile(r'"timestamp": \{"seconds": \d+, "microseconds": \d+\}')
_NUMBER = re.compile(r"(?<=: )-?\d+(?:\.\d+)?(?:e[+-]?\d+)?")
#: Replies whose numbers count a migration in progress, or the clock.
TIME_DEPENDENT = frozenset({"query-migrate"})
#: Replies that name threads of the process (each process has its own thread ids).
THREAD_IDS = frozenset({"query-cpus-fast", "query-iothreads"})


@dataclass
class Exchange:
    """One command and its reply (the reply's text as QEMU sent it)."""

    command: str
    arguments: dict[str, Any] | None
    reply: str = ""
    #: When libvirt received the reply (its log's clock, seconds since the epoch).
    received: float = 0.0

    @property
    def request(self) -> str:
        """The request, its arguments' keys sorted (as the stored references keep them)."""
        return json.dumps({"execute": self.command, "arguments": self.arguments}, sort_keys=True)

    def reply_without_id(self) -> str:
        """The reply as QEMU wrote it, but for libvirt's own ``id``."""
        return re.sub(r', "id": "libvirt-\d+"|"id": "libvirt-\d+", ', "", self.reply)

    def masked_reply(self) -> str:
        text = self.reply_without_id()
        if self.command in THREAD_IDS and '"return"' in text:
            reply = json.loads(text)
            for item in reply["return"]:
                item["thread-id"] = 0
            text = json.dumps(reply)
        if self.command in TIME_DEPENDENT:
            text = _NUMBER.sub("0", text)
        return text


@dataclass
class Session:
    """One monitor connection, with the command line of the process it talked to."""

    command_line: str
    exchanges: list[Exchange] = field(default_factory=list)
    events: list[str] = field(default_factory=list)

    @property
    def kind(self) -> str:
        if "accel=kvm:tcg" in self.command_line:
            return "probe-kvm"
        if "accel=tcg" in self.command_line and "-daemonize" in self.command_line:
            return "probe-tcg"
        return "incoming" if "-incoming defer" in self.command_line else "start"

    def commands(self) -> list[str]:
        return [exchange.request for exchange in self.exchanges]


def read_sessions(log: Path) -> list[Session]:
    """Every monitor session in ``log``, in the order they opened."""
    every: list[Session] = []
    # Monitor addresses are reused once a monitor is freed: the latest one counts.
    sessions: dict[str, Session] = {}
    pending: dict[str, dict[str, Exchange]] = {}
    last_command_line = ""
    for line in log.read_text(errors="replace").splitlines():
        if match := _RUN.search(line):
            last_command_line = match[1]
        elif match := _NEW.search(line):
            sessions[match[1]] = Session(last_command_line)
            every.append(sessions[match[1]])
            pending[match[1]] = {}
        elif (match := _SEND.search(line)) and match[1] in sessions:
            message = json.loads(match[2])
            exchange = Exchange(message["execute"], message.get("arguments"))
            sessions[match[1]].exchanges.append(exchange)
            pending[match[1]][message["id"]] = exchange
        elif (match := _RECV.search(line)) and match[2] in sessions:
            if match[1] == "EVENT":
                sessions[match[2]].events.append(_TIMESTAMP.sub('"timestamp": 0', match[3]))
                continue
            reply_id = json.loads(match[3]).get("id")
            if reply_id in pending[match[2]]:
                exchange = pending[match[2]].pop(reply_id)
                exchange.reply = match[3]
                exchange.received = _log_time(line)
    return every


def _log_time(line: str) -> float:
    """``2026-12-01 04:52:17.443+0000: ...``: libvirt's clock when it logged the line."""
    return datetime.strptime(line[:28], "%Y-%m-%d %H:%M:%S.%f%z").timestamp()


def transfer_samples(sessions: list[Session], start: float, end: float) -> list[tuple[float, int]]:
    """``(time, ram.transferred)`` of every ``query-migrate`` reply libvirt received
    between ``start`` and ``end`` while the migration was ``active``."""
    samples = []
    for session in sessions:
        for exchange in session.exchanges:
            if exchange.command != "query-migrate" or not start <= exchange.received <= end:
                continue
            info = json.loads(exchange.reply).get("return", {})
            if info.get("status") == "active":
                samples.append((exchange.received, int(info["ram"]["transferred"])))
    return samples


def slope(samples: list[tuple[float, int]]) -> float:
    """The least-squares rate of ``samples`` (bytes per second)."""
    mean_t = sum(t for t, _ in samples) / len(samples)
    mean_b = sum(b for _, b in samples) / len(samples)
    covariance = sum((t - mean_t) * (b - mean_b) for t, b in samples)
    return covariance / sum((t - mean_t) ** 2 for t, _ in samples)


@dataclass
class Comparison:
    """How two conversations of the same kind compare (counts for the report):
    ``identical_replies`` are byte for byte the same but for libvirt's ids,
    ``masked_replies`` once thread ids and a migration's clock are masked too."""

    kind: str
    commands: int
    same_commands: bool
    identical_replies: int
    masked_replies: int
    events_equal: bool
    differences: list[str] = field(default_factory=list)


def compare(real: Session, fake: Session) -> Comparison:
    same = real.commands() == fake.commands()
    identical = masked = 0
    differences: list[str] = []
    for mine, theirs in zip(real.exchanges, fake.exchanges, strict=False):
        if mine.reply_without_id() == theirs.reply_without_id():
            identical += 1
        if mine.masked_reply() == theirs.masked_reply():
            masked += 1
        elif len(differences) < 5:
            differences.append(
                f"{mine.request}: {mine.masked_reply()[:300]} != {theirs.masked_reply()[:300]}"
            )
    if not same:
        differences.append(f"commands differ: {len(real.exchanges)} != {len(fake.exchanges)}")
    return Comparison(
        real.kind,
        len(real.exchanges),
        same,
        identical,
        masked,
        real.events == fake.events,
        differences,
    )
