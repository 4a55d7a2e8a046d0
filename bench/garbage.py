"""Garbage streamed at a monitor: how fast it is consumed, and the monitor survives it.

The same bytes go to the fake and to QEMU (a seeded generator), and the replies of
both are hashed: equal digests mean the fake answered a gigabyte of garbage byte for
byte as QEMU did.  Two streams, on two connections, then a clean client:

* ``mixed``: 1 MiB blocks of 1 KiB of uniformly random bytes, a few invalid or odd
  JSON texts (parse errors, wrong types, nesting past QEMU's limit, a deep id,
  control bytes), then random bytes that QEMU's lexer skips while it recovers from
  an error (anything but control bytes, 0xFE/0xFF and ``[]{}:,``).  QEMU answers each
  lexical error, so most of the volume is in the skipped part, or replies would be
  all that is measured.
* ``random``: uniformly random bytes: an error reply every seven bytes or so.
"""

from __future__ import annotations

import hashlib
import random
import threading
import time
from dataclasses import dataclass, field

from bench.config import Sizes
from bench.qmp_io import QmpLines, request_line
from bench.report import Outcome
from bench.servers import Processes, Target

BLOCK = 1 << 20
RANDOM_HEAD = 1024
#: Distinct blocks generated; the stream cycles through them.
DISTINCT_BLOCKS = 16
SEED = 9
#: The deep id's nesting.  QEMU accepts up to 1,023; fakeqemu's encoder recursed until
#: h9-protocol's iterative one (then raise this to 1023).
_DEEP = 500
FRAGMENTS = (
    b'{"execute": "query-status", "arguments": {"a": [1, 2, }}\n',
    b'{"execute": 42}\n',
    b"{'execute': 'no-such-command'}\n",
    b'{"execute": "query-status", "id": 1e400}\n',
    b'"unterminated \\x string\n',
    b"[1, 2, 3]\n",
    b'{"exec\xff": 1}\n',
    b"nul tru fals\n",
    b"-01.e+\n",
    b"}}]]\n",
    b"[" * 1030 + b"]" * 1030 + b"\n",
    b'{"execute": "query-status", "id": ' + b"[" * _DEEP + b"]" * _DEEP + b"}\n",
    b"\x00\x01\x02\x1b[0m\n",
    b'{"execute": "qmp_capabilities"}\n',
    b'{"execute": "query-migrate", "arguments": {"unknown": true}}\n',
    b'{"execute": "query-name", "id": "\xc3\x28"}\n',
)
#: Bytes that keep QEMU's lexer in error recovery (json-lexer.c, IN_RECOVERY).
_SKIPPED = bytes(b for b in range(0x20, 0xFE) if b not in b"[]{}:,")
_TO_SKIPPED = bytes(_SKIPPED[b % len(_SKIPPED)] for b in range(256))
#: Ends whatever token is open (0xFF is a lexical error everywhere), then asks for a reply.
END = b"\xff\n" + request_line("query-status", 424242)
END_ID = b'"id": 424242'


def mixed_blocks(size: int = BLOCK) -> list[bytes]:
    """The ``mixed`` stream's distinct blocks of ``size`` bytes (the same in every run)."""
    rng = random.Random(SEED)
    blocks = []
    for _ in range(DISTINCT_BLOCKS):
        head = rng.randbytes(min(RANDOM_HEAD, size // 4))
        texts = b"".join(rng.choice(FRAGMENTS) for _ in range(16))[: size // 4]
        rest = size - len(head) - len(texts) - 2
        skipped = b"\x80" + rng.randbytes(max(rest, 0)).translate(_TO_SKIPPED) + b"\n"
        blocks.append((head + texts + skipped)[:size])
    return blocks


def random_blocks(size: int = BLOCK) -> list[bytes]:
    rng = random.Random(SEED + 1)
    return [rng.randbytes(size) for _ in range(DISTINCT_BLOCKS)]


@dataclass
class _Replies:
    """What a reader thread saw: lines, bytes, their digest; whether the end came."""

    lines: int = 0
    size: int = 0
    digest: hashlib._Hash = field(default_factory=hashlib.sha256)
    ended: bool = False
    failed: str = ""


def _read_replies(monitor: QmpLines, replies: _Replies) -> None:
    try:
        while True:
            line = monitor.read_line()
            replies.lines += 1
            replies.size += len(line)
            replies.digest.update(line)
            if END_ID in line:
                replies.ended = True
                return
    except (OSError, ConnectionError) as error:
        replies.failed = str(error) or type(error).__name__


def stream(path: str, blocks: list[bytes], total: int, timeout: float) -> tuple[float, _Replies]:
    """Write ``total`` bytes of ``blocks`` (cycled) while a thread reads the replies;
    then the end marker.  Seconds from the first byte to the marker's reply."""
    monitor = QmpLines.connect(path, timeout)
    try:
        monitor.negotiate()
        replies = _Replies()
        reader = threading.Thread(target=_read_replies, args=(monitor, replies), daemon=True)
        reader.start()
        began = time.perf_counter()
        sent = 0
        index = 0
        while sent < total:
            block = blocks[index % len(blocks)][: total - sent]
            monitor.send(block)
            sent += len(block)
            index += 1
        monitor.send(END)
        reader.join(timeout)
        return time.perf_counter() - began, replies
    finally:
        monitor.close()


def garbage(procs: Processes, target: Target, sizes: Sizes) -> Outcome:
    """Mixed garbage, then random bytes, then a clean client on the same monitor."""
    outcome = Outcome("garbage", target)
    server = procs.start(target, 1)
    before = server.rss_kib()
    path = server.sockets[0]
    for name, blocks, total in (
        ("mixed", mixed_blocks(min(BLOCK, sizes.garbage_bytes)), sizes.garbage_bytes),
        ("random", random_blocks(min(BLOCK, sizes.random_bytes)), sizes.random_bytes),
    ):
        seconds, replies = stream(path, blocks, total, sizes.timeout)
        outcome.add(f"{name}: MiB sent", round(total / (1 << 20), 1))
        outcome.add(f"{name}: MB/s", round(total / seconds / 1e6, 2), ratio=True)
        outcome.add(f"{name}: error replies", replies.lines)
        outcome.add(f"{name}: reply digest", replies.digest.hexdigest()[:12])
        if not replies.ended:
            outcome.problems.append(f"{name}: no reply to the end marker ({replies.failed})")
    clean = QmpLines.connect(path, sizes.timeout)
    try:
        clean.negotiate()
        status = clean.execute("query-status")
        outcome.add("clean client served", "yes" if "return" in status else "no")
        if "return" not in status:
            outcome.problems.append(f"a clean client got {status!r}")
    finally:
        clean.close()
    outcome.memory(server, before)
    return outcome
