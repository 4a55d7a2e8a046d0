"""One monitor connection on trio, read and written as QEMU's monitor does.

* **Everything read is answered.**  A client that sends its requests and then
  closes its side (``printf ... | socat``, ``shutdown(SHUT_WR)``) gets the
  greeting and every reply; the connection closes once they are written, as
  QEMU's does after it sees the end of the input.
* **No reply is dropped and a batch never deadlocks.**  QEMU reads and answers
  requests however much output waits for the client (its output buffer
  grows).  The fake keeps reading too, but runs the requests it has read only
  while less than :data:`OUTPUT_BUDGET` of output waits: a client that writes
  a big batch before it reads gets every reply, in order, once it reads.  The
  memory a client can hold is bounded: :data:`INPUT_LIMIT` of requests read
  but not yet run (then reading pauses, which only a client that never reads
  notices), the output budget plus the replies of one slice of input, and
  events: a client that leaves more than :data:`UNREAD_LIMIT` unread is
  disconnected (QEMU would buffer without limit).
* **A failure ends this connection only.**  An exception while serving it (a
  command or the encoder raising) is reported with its traceback on stderr;
  the server, its other monitors and any migration go on.
"""

from __future__ import annotations

import sys

import trio

from fakeqemu.fake.qemu import FakeQemu
from fakeqemu.server.failures import report_failure

READ_SIZE = 65536
#: Requests are run about this many bytes of input at a time (at most twice as
#: many), so that a burst of requests with big replies (``query-qmp-schema``:
#: 250 KB) overshoots the output budget by a few replies only.
FEED_SLICE = 512
#: Run no more requests while this much output waits to be written.
OUTPUT_BUDGET = 1 << 20
#: Read no more while this much input waits to be run.
INPUT_LIMIT = 16 << 20
#: A client that leaves this much output unread (events pile up while requests wait)
#: is disconnected.
UNREAD_LIMIT = 64 << 20
#: Run at most this much input between two checkpoints, so other monitors and
#: migrations get their turn.
FEED_ROUND = 64 << 10


class MonitorConnection:
    """One client on one monitor; its counters show what it holds in memory."""

    def __init__(self, fake: FakeQemu, stream: trio.abc.Stream, *, greeting_sent: bool = False):
        self.fake = fake
        self.stream = stream
        self._outbox = bytearray()
        self._inbox = bytearray()
        self._inbox_start = 0
        #: Bytes taken from the outbox and being written now.
        self.in_flight = 0
        #: The most output this connection ever held (outbox plus in flight).
        self.peak_output = 0
        #: The most input it ever held unrun.
        self.peak_input = 0
        self.input_ended = False
        self.failure: Exception | None = None
        self.overflowed = False
        self._wake = trio.Event()
        self._room = trio.Event()
        #: Set after each write, and when the connection ends.
        self._sent = trio.Event()
        self._ended = False
        #: Cancelled to end the connection at once: a failure, or too much left unread.
        self._scope = trio.CancelScope()
        self.session = fake.open_session(
            on_output=self._collect, greeting_sent=greeting_sent, on_failure=self._failed
        )
        self._collect()

    # -- counters -------------------------------------------------------------------

    @property
    def pending_output(self) -> int:
        """Output the client has not taken yet (queued plus being written)."""
        return len(self._outbox) + self.in_flight

    @property
    def pending_input(self) -> int:
        """Input read from the client and not yet run."""
        return len(self._inbox) - self._inbox_start

    @property
    def flushed(self) -> bool:
        return self.pending_output == 0

    async def wait_flushed(self) -> None:
        """Until everything queued so far is written (or the connection ends)."""
        while not self.flushed and not self._ended:
            await self._sent.wait()

    # -- called by the session and the event bus (synchronously) ------------------------

    def _collect(self) -> None:
        data = self.session.data_to_send()
        if data:
            self._outbox += data
            pending = self.pending_output
            self.peak_output = max(self.peak_output, pending)
            if pending > UNREAD_LIMIT and not self.overflowed:
                self.overflowed = True
                self._outbox.clear()
                self._scope.cancel()
        self._wake.set()

    def _failed(self, error: Exception) -> None:
        if self.failure is None:
            self.failure = error
        self._scope.cancel()

    # -- the two tasks ----------------------------------------------------------------

    async def serve(self) -> None:
        """Serve until the client leaves, ``quit`` is answered, or serving it fails."""
        try:
            with self._scope:
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(self._read)
                    await self._pump()
                    nursery.cancel_scope.cancel()
        finally:
            self._ended = True
            self._sent.set()
            self.fake.close_session(self.session)
            with trio.CancelScope(shield=True):
                await self.stream.aclose()
            self._report()

    def _report(self) -> None:
        if self.failure is not None:
            report_failure(
                "an error while serving a monitor client; its connection is closed",
                self.failure,
            )
        elif self.overflowed:
            print(
                f"fakeqemu: a monitor client left more than {UNREAD_LIMIT >> 20} MiB of "
                "output unread; its connection is closed",
                file=sys.stderr,
                flush=True,
            )

    async def _read(self) -> None:
        try:
            while True:
                while self.pending_input >= INPUT_LIMIT:
                    await self._room.wait()
                    self._room = trio.Event()
                data = await self.stream.receive_some(READ_SIZE)
                if not data:
                    break
                self._inbox += data
                self.peak_input = max(self.peak_input, self.pending_input)
                self._wake.set()
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass  # the peer is gone: what it sent is answered, if it can still be written
        except Exception as error:
            self._failed(error)
        self.input_ended = True
        self._wake.set()

    async def _pump(self) -> None:
        """Run requests while the output budget allows, and write what they produce."""
        try:
            while not self._broken():
                self._feed()
                if self._broken():
                    break
                if self._outbox:
                    data, self._outbox = self._outbox, bytearray()
                    self.in_flight = len(data)
                    await self.stream.send_all(data)
                    self.in_flight = 0
                    self._sent.set()
                    self._sent = trio.Event()
                    continue
                if self.session.closing or (self.input_ended and not self.pending_input):
                    break
                if self.pending_input and self._may_feed():
                    await trio.lowlevel.checkpoint()
                    continue
                await self._wake.wait()
                self._wake = trio.Event()
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass  # the peer is gone
        except Exception as error:
            self._failed(error)

    def _broken(self) -> bool:
        return self.failure is not None or self.overflowed

    def _may_feed(self) -> bool:
        return not self.session.closing and len(self._outbox) < OUTPUT_BUDGET

    def _feed(self) -> None:
        fed = 0
        inbox = self._inbox
        while self.pending_input and fed < FEED_ROUND and self._may_feed():
            if self._broken():
                return
            start = self._inbox_start
            end = _slice_end(inbox, start)
            self._inbox_start = end
            fed += end - start
            self.session.receive_data(bytes(inbox[start:end]))
        if fed:
            if self._inbox_start == len(inbox):
                inbox.clear()
                self._inbox_start = 0
            elif self._inbox_start > len(inbox) // 2:
                del inbox[: self._inbox_start]
                self._inbox_start = 0
            self._room.set()


def _slice_end(inbox: bytearray, start: int) -> int:
    """Where the slice from ``start`` ends: about FEED_SLICE on, just after a ``}``.

    Cutting after a closing brace (and the braces right after it) usually cuts
    between two messages, which the streamer decodes on its fast path; a cut
    inside a message is still correct, only slower.
    """
    size = len(inbox)
    end = start + FEED_SLICE
    if end >= size:
        return size
    close = inbox.find(b"}", end - 1, min(end + FEED_SLICE, size))
    if close == -1:
        return end
    end = close + 1
    while end < size and inbox[end] == 0x7D:
        end += 1
    return end


async def serve_connection(
    fake: FakeQemu, stream: trio.abc.Stream, *, greeting_sent: bool = False
) -> None:
    """Serve one client (see :class:`MonitorConnection`)."""
    await MonitorConnection(fake, stream, greeting_sent=greeting_sent).serve()
