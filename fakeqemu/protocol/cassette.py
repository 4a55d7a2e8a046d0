"""Cassettes: recorded QMP conversations, one JSON object a line (no trio here).

The format extends the transcripts of ``tests/data/recordings/<version>/*.jsonl``,
so either one can be replayed::

    {"cassette": 1, "monitor": "unix:/run/qemu.sock", "masked-timestamps": false,
     "renumbered-ids": false}                                   (header, optional)
    {"t": 0.0012, "side": "src", "conn": 0, "dir": "<", "raw": "{\\"QMP\\": ...}\\r"}
    {"t": 0.0020, "side": "src", "conn": 0, "dir": ">", "raw": "{\\"execute\\": ...}"}

``t`` is seconds since recording began; ``dir`` is ``>`` for what the client sent
and ``<`` for what QEMU wrote; ``raw`` is one message exactly as it went over the
wire, less the ``\\n`` that ends QEMU's lines (so replies end in ``\\r``) and less
the whitespace between a client's messages.  Bytes that are not UTF-8 are kept in
``b64`` instead of ``raw``.  ``conn`` numbers the monitor connections (0 when absent).
``{"dir": "<", "eof": true}`` marks QEMU closing a connection (after ``quit``).

Messages are read with the fake's own JSON reader (:func:`parse_json`), as QEMU reads
them: ids and arguments may nest 1,023 levels deep, past :func:`json.loads`.
"""

from __future__ import annotations

import base64
import json
import re
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from fakeqemu.protocol.encoder import encode_value
from fakeqemu.protocol.json_stream import parse_json

FORMAT_VERSION = 1
_WHITESPACE = b" \t\r\n"
_TIMESTAMP = re.compile(rb'"timestamp": \{"seconds": \d+, "microseconds": \d+\}')
MASKED_TIMESTAMP = b'"timestamp": {"seconds": 0, "microseconds": 0}'


@dataclass(frozen=True)
class Entry:
    """One message of a cassette; ``line`` is its line number in the file (from 1)."""

    line: int
    t: float
    side: str
    conn: int
    direction: str
    data: bytes
    #: QEMU closed the connection here (``data`` is empty).
    eof: bool = False

    @property
    def from_client(self) -> bool:
        return self.direction == ">"

    def message(self) -> Any:
        """The message as JSON, or ``None`` when it is not JSON."""
        try:
            return parse_json(self.data)
        except ValueError:
            return None


@dataclass
class Cassette:
    header: dict[str, Any] = field(default_factory=dict)
    entries: list[Entry] = field(default_factory=list)

    @classmethod
    def load(cls, path: str | Path) -> Cassette:
        with open(path, encoding="utf-8") as file:
            return cls.parse(file, str(path))

    @classmethod
    def parse(cls, lines: Iterable[str], name: str = "cassette") -> Cassette:
        cassette = cls()
        for number, text in enumerate(lines, start=1):
            if not text.strip():
                continue
            try:
                record = json.loads(text)
                if "cassette" in record:
                    cassette.header = record
                    continue
                eof = bool(record.get("eof", False))
                if eof:
                    data = b""
                elif "b64" in record:
                    data = base64.b64decode(record["b64"])
                else:
                    data = record["raw"].encode("utf-8")
                entry = Entry(
                    number,
                    float(record["t"]),
                    str(record.get("side", "src")),
                    int(record.get("conn", 0)),
                    record["dir"],
                    data,
                    eof,
                )
            except (ValueError, KeyError, TypeError) as error:
                raise ValueError(f"{name}:{number}: not a cassette line ({error})") from None
            if entry.direction not in "<>" or len(entry.direction) != 1:
                raise ValueError(f"{name}:{number}: dir must be '<' or '>'")
            cassette.entries.append(entry)
        return cassette

    @property
    def sides(self) -> list[str]:
        return list(dict.fromkeys(entry.side for entry in self.entries))

    def connection(self, side: str, conn: int) -> list[Entry]:
        return [e for e in self.entries if e.side == side and e.conn == conn]

    def connections(self, side: str) -> list[int]:
        return sorted({e.conn for e in self.entries if e.side == side})


def entry_record(t: float, side: str, conn: int, direction: str, data: bytes) -> dict[str, Any]:
    record: dict[str, Any] = {"t": round(t, 6), "side": side, "conn": conn, "dir": direction}
    try:
        record["raw"] = data.decode("utf-8")
    except UnicodeDecodeError:
        record["b64"] = base64.b64encode(data).decode("ascii")
    return record


class CassetteWriter:
    """Appends entries to an open text file, one flushed line each (a crash loses nothing)."""

    def __init__(self, file: IO[str], header: dict[str, Any]) -> None:
        self._file = file
        self._write({"cassette": FORMAT_VERSION, **header})

    def _write(self, record: dict[str, Any]) -> None:
        self._file.write(json.dumps(record, ensure_ascii=False) + "\n")
        self._file.flush()

    def add(self, t: float, side: str, conn: int, direction: str, data: bytes) -> None:
        self._write(entry_record(t, side, conn, direction, data))

    def closed(self, t: float, side: str, conn: int) -> None:
        """QEMU closed connection ``conn``."""
        self._write({"t": round(t, 6), "side": side, "conn": conn, "dir": "<", "eof": True})


# -- splitting the byte streams into messages ----------------------------------------------


class RequestSplitter:
    """A client's bytes → its messages, where QEMU's JSON streamer ends them: when braces and
    brackets balance outside strings (no newline needed).  Stray text between messages (not
    JSON at all) is one message per whitespace-separated run."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._scan = 0
        self._depth = 0
        self._in_string = False
        self._escaped = False

    def feed(self, data: bytes) -> list[bytes]:
        self._buffer += data
        messages: list[bytes] = []
        while True:
            message = self._next()
            if message is None:
                return messages
            messages.append(message)

    def rest(self) -> bytes:
        """What never became a whole message (the client left mid-way)."""
        return bytes(self._buffer).strip(_WHITESPACE)

    def _next(self) -> bytes | None:
        buffer = self._buffer
        if self._depth == 0 and not self._in_string:
            start = 0
            while start < len(buffer) and buffer[start] in _WHITESPACE:
                start += 1
            del buffer[:start]
            self._scan = 0
            if buffer and buffer[0] not in b"{[":
                end = next((i for i, b in enumerate(buffer) if b in _WHITESPACE + b"{["), None)
                if end is None:
                    return None
                return self._take(end)
        for index in range(self._scan, len(buffer)):
            byte = buffer[index]
            if self._in_string:
                if self._escaped:
                    self._escaped = False
                elif byte == 0x5C:  # backslash
                    self._escaped = True
                elif byte == 0x22:
                    self._in_string = False
            elif byte == 0x22:
                self._in_string = True
            elif byte in b"{[":
                self._depth += 1
            elif byte in b"}]":
                self._depth -= 1
                if self._depth <= 0:
                    self._depth = 0
                    return self._take(index + 1)
        self._scan = len(buffer)
        return None

    def _take(self, end: int) -> bytes:
        message = bytes(self._buffer[:end])
        del self._buffer[:end]
        self._scan = 0
        return message


class LineSplitter:
    """QEMU's output → its lines, without the ``\\n`` (each line still ends in ``\\r``)."""

    def __init__(self) -> None:
        self._buffer = b""

    def feed(self, data: bytes) -> list[bytes]:
        *lines, self._buffer = (self._buffer + data).split(b"\n")
        return lines

    def rest(self) -> bytes:
        return self._buffer


def mask_timestamps(data: bytes) -> bytes:
    """Event timestamps depend on when they were recorded: zero them."""
    return _TIMESTAMP.sub(MASKED_TIMESTAMP, data)


# -- ids -------------------------------------------------------------------------------------


def top_level_member(data: bytes, key: str) -> tuple[int, int] | None:
    """Where the value of ``key`` in the outermost JSON object of ``data`` is, as a slice."""
    wanted = json.dumps(key).encode()
    depth, index, size = 0, 0, len(data)
    while index < size:
        byte = data[index]
        if byte == 0x22:
            end = _string_end(data, index)
            if depth == 1 and data[index:end] == wanted:
                colon = data.find(b":", end)
                start = colon + 1
                while start < size and data[start] in _WHITESPACE:
                    start += 1
                return start, _value_end(data, start)
            index = end
            continue
        if byte in b"{[":
            depth += 1
        elif byte in b"}]":
            depth -= 1
        index += 1
    return None


def _string_end(data: bytes, start: int) -> int:
    index = start + 1
    while index < len(data):
        if data[index] == 0x5C:
            index += 2
            continue
        if data[index] == 0x22:
            return index + 1
        index += 1
    return len(data)


def _value_end(data: bytes, start: int) -> int:
    depth, index = 0, start
    while index < len(data):
        byte = data[index]
        if byte == 0x22:
            index = _string_end(data, index)
            continue
        if byte in b"{[":
            depth += 1
        elif byte in b"}]":
            if depth == 0:
                return index
            depth -= 1
        elif byte == 0x2C and depth == 0:  # comma
            return index
        index += 1
    return index


def replace_id(data: bytes, new_id: bytes) -> tuple[bytes, Any]:
    """``data`` with its top-level ``id`` value replaced by ``new_id``; and the old value."""
    span = top_level_member(data, "id")
    if span is None:
        return data, None
    start, end = span
    old = data[start:end].rstrip(_WHITESPACE)
    try:
        value = parse_json(old)
    except ValueError:
        value = old.decode("utf-8", "replace")
    return data[:start] + new_id + data[start + len(old) :], value


class IdRenumbering:
    """Per connection: request ids become 1, 2, 3... and replies carry the same numbers.

    A reply is matched by its id's bytes, which QEMU prints as :func:`encode_id` does
    (so ``1.0`` comes back as ``1``, and key order changes).
    """

    def __init__(self) -> None:
        self._numbers: dict[bytes, deque[int]] = {}
        self._next = 1

    def request(self, data: bytes) -> bytes:
        if top_level_member(data, "id") is None:
            return data
        renumbered, old = replace_id(data, str(self._next).encode())
        self._numbers.setdefault(encode_id(old), deque()).append(self._next)
        self._next += 1
        return renumbered

    def reply(self, data: bytes) -> bytes:
        span = top_level_member(data, "id")
        if span is None:
            return data
        start, end = span
        waiting = self._numbers.get(data[start:end].rstrip(_WHITESPACE))
        if not waiting:
            return data
        return replace_id(data, str(waiting.popleft()).encode())[0]


def encode_id(value: Any) -> bytes:
    """An id as QEMU echoes it."""
    return encode_value(value).encode("utf-8")


def without_id(message: Any) -> Any:
    if isinstance(message, dict):
        return {key: value for key, value in message.items() if key != "id"}
    return message


# -- migrations in a cassette -------------------------------------------------------------


def exchanges(entries: Iterable[Entry]) -> Iterator[tuple[Entry, Entry]]:
    """(request, reply) pairs per connection, in order: QMP answers in request order."""
    pending: dict[tuple[str, int], deque[Entry]] = {}
    for entry in entries:
        queue = pending.setdefault((entry.side, entry.conn), deque())
        if entry.from_client:
            queue.append(entry)
            continue
        message = entry.message()
        if entry.eof or not isinstance(message, dict) or "QMP" in message or "event" in message:
            continue
        if queue:
            yield queue.popleft(), entry


def query_migrate_replies(cassette: Cassette, side: str) -> list[tuple[Entry, dict[str, Any]]]:
    """Every ``query-migrate`` answered on ``side``, with its ``return`` object."""
    found = []
    for request, reply in exchanges(e for e in cassette.entries if e.side == side):
        asked = request.message()
        answer = reply.message()
        if not isinstance(asked, dict) or asked.get("execute") != "query-migrate":
            continue
        result = answer.get("return") if isinstance(answer, dict) else None
        if isinstance(result, dict):
            found.append((reply, result))
    return found
