"""Run a fake QEMU in a background thread, for asyncio and plain test suites."""

from __future__ import annotations

import contextlib
import threading
from types import TracebackType

import trio

from fakeqemu.fake import FakeQemu, FakeQemuConfig
from fakeqemu.server import Endpoint, Listening, serve


class ThreadedFakeQemu:
    """``with ThreadedFakeQemu(config, [Endpoint("unix", path=...)]) as fake: ...``

    The fake runs in its own trio loop on a daemon thread; ``address`` is ready
    for ``qemu.qmp.QMPClient.connect`` once the ``with`` block is entered.
    """

    def __init__(self, config: FakeQemuConfig, endpoints: list[Endpoint]) -> None:
        self.fake = FakeQemu(config)
        self._endpoints = endpoints
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None
        self._token: trio.lowlevel.TrioToken | None = None
        self._scope: trio.CancelScope | None = None
        self._error: BaseException | None = None
        self.listening: Listening | None = None

    @property
    def address(self) -> str | tuple[str, int]:
        assert self.listening is not None, "not started"
        return self.listening.sockets[0]

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="fakeqemu", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout=10):
            raise TimeoutError("fakeqemu did not start within 10 s")
        if self._error is not None:
            raise self._error

    def _run(self) -> None:
        async def main() -> None:
            self._token = trio.lowlevel.current_trio_token()
            with trio.CancelScope() as scope:
                self._scope = scope
                async with trio.open_nursery() as nursery:
                    self.listening = await nursery.start(serve, self.fake, self._endpoints)
                    self._ready.set()

        try:
            trio.run(main)
        except BaseException as error:  # reported to the starting thread
            self._error = error
        finally:
            self._ready.set()

    def stop(self) -> None:
        if self._thread is None:
            return
        if self._thread.is_alive() and self._token is not None and self._scope is not None:
            scope = self._scope
            with contextlib.suppress(trio.RunFinishedError):
                trio.from_thread.run_sync(scope.cancel, trio_token=self._token)
        self._thread.join(timeout=10)
        self._thread = None

    def __enter__(self) -> ThreadedFakeQemu:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
