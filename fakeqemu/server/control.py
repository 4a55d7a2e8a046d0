"""The control API: drive a served fake over HTTP/JSON, from any language.

``fakeqemu serve --control unix:PATH`` (or ``tcp:127.0.0.1:PORT``) serves these
endpoints (README, "The control API"); ``fakeqemu ctl`` is their client.  Faults
go to the fake's one fault engine (:mod:`fakeqemu.model.faults`), scenarios to its
model backend, and the journal is the fake's :class:`~fakeqemu.fake.journal.Journal`.
"""

from __future__ import annotations

import contextlib
import threading
from typing import Any

import trio
import trio.testing

from fakeqemu.backends.scenarios import ScenarioError
from fakeqemu.errors import FakeQemuError
from fakeqemu.fake.journal import Journal
from fakeqemu.fake.qemu import FakeQemu
from fakeqemu.model.fault_spec import FaultError
from fakeqemu.server.control_http import HttpError, Request, Response, Router
from fakeqemu.server.control_routes import ROUTES
from fakeqemu.server.thread import advance_clock

#: Statuses a migration does not leave by itself.
FINAL = frozenset({"completed", "failed", "cancelled"})
#: The most one ``POST /clock/advance`` moves the clock (seconds).
MAX_ADVANCE = 86400.0
#: ``POST /wait`` without a timeout waits this long (seconds of real time).
DEFAULT_WAIT = 60.0


class ControlApi:
    """One served fake's control endpoints; ``clock`` is the loop's MockClock when the
    fake runs on virtual time (``serve --clock virtual``), else ``None``."""

    def __init__(
        self,
        fake: FakeQemu,
        journal: Journal | None = None,
        clock: trio.testing.MockClock | None = None,
    ) -> None:
        self.fake = fake
        self.journal = journal if journal is not None else Journal.attach(fake)
        self.clock = clock
        #: Woken at each status change of this fake's migration (``POST /wait``).
        self._status_changed = trio.Event()
        fake.vm.status_observers.append(self._on_status)
        self.router = Router()
        for route in ROUTES:
            self.router.add(route.method, route.path, getattr(self, route.handler))

    def _on_status(self, status: str) -> None:
        self._status_changed.set()
        self._status_changed = trio.Event()

    @property
    def role(self) -> str:
        return "destination" if self.fake.config.incoming is not None else "source"

    # -- endpoints ----------------------------------------------------------------------

    async def on_health(self, request: Request) -> Response:
        config = self.fake.config
        body = {"status": "ok", "profile": config.profile, "shape": config.shape}
        body |= {"role": self.role, "clock": "virtual" if self.clock is not None else "real"}
        return Response(200, body)

    async def on_journal(self, request: Request) -> Response:
        calls = [call.to_json() for call in self.journal]
        faults = [record.to_json() for record in self.journal.faults]
        return Response(200, {"calls": calls, "faults": faults})

    async def on_clear_journal(self, request: Request) -> Response:
        cleared = len(self.journal)
        self.journal.clear()
        return Response(200, {"cleared": cleared})

    async def on_migration(self, request: Request) -> Response:
        vm = self.fake.vm
        view: dict[str, Any] = {"status": vm.migration_status}
        outgoing = vm.outgoing
        if outgoing is not None and self.role == "source":
            counters = outgoing.counters(vm.clock())
            view |= {
                "phase": outgoing.phase,
                "pass": counters.sync_count,
                "remaining": counters.remaining,
                # What the last bitmap sync left dirty: each pass's starting point.
                "remaining-at-pass-start": counters.remaining_at_sync,
                "total": outgoing.ram.total,
                "percent": self.fake.faults.progress(),
                "mbps": counters.mbps,
            }
        scenario = vm.scenario
        view["scenario"] = None if scenario is None else scenario.name
        return Response(200, {"query-migrate": vm.migration_info(), "model": view})

    async def on_add_fault(self, request: Request) -> Response:
        try:
            fault_id = self.fake.add_fault(request.json())
        except FaultError as error:
            raise HttpError(400, str(error)) from None
        return Response(201, {"id": fault_id})

    async def on_faults(self, request: Request) -> Response:
        return Response(200, self.fake.faults.listing())

    async def on_clear_faults(self, request: Request) -> Response:
        removed = len(self.fake.faults.faults)
        self.fake.faults.clear()
        return Response(200, {"removed": removed})

    async def on_remove_fault(self, request: Request) -> Response:
        try:
            self.fake.faults.remove(request.params["id"])
        except KeyError as error:
            raise HttpError(404, str(error.args[0])) from None
        return Response(200, {"removed": request.params["id"]})

    async def on_scenario(self, request: Request) -> Response:
        body = request.json()
        if isinstance(body, dict) and set(body) == {"scenario"}:
            body = body["scenario"]
        try:
            self.fake.set_scenario(body)
        except ScenarioError as error:
            raise HttpError(400, str(error)) from None
        scenario = self.fake.vm.scenario
        return Response(200, {"scenario": None if scenario is None else scenario.describe()})

    async def on_advance(self, request: Request) -> Response:
        if self.clock is None:
            raise HttpError(
                409,
                "the fake runs on real time: POST /clock/advance needs"
                " fakeqemu serve --clock virtual",
            )
        body = request.json()
        seconds = body.get("seconds") if isinstance(body, dict) else None
        if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
            raise HttpError(400, f'the body is {{"seconds": N}} with N >= 0, got {body!r}')
        if seconds > MAX_ADVANCE:
            # Timer by timer: a day of windows is many steps already; ask again for more.
            raise HttpError(400, f"advance at most {MAX_ADVANCE} seconds at a time, got {seconds}")
        await advance_clock(self.clock, float(seconds))
        return Response(200, {"advanced": seconds, "status": self.fake.vm.migration_status})

    async def on_wait(self, request: Request) -> Response:
        body = request.json()
        wanted = body.get("status") if isinstance(body, dict) else None
        wanted = [wanted] if isinstance(wanted, str) else wanted
        timeout = body.get("timeout", DEFAULT_WAIT) if isinstance(body, dict) else None
        if not wanted or not all(isinstance(status, str) for status in wanted):
            raise HttpError(400, f'the body is {{"status": S, "timeout": SECONDS}}, got {body!r}')
        if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout < 0:
            raise HttpError(400, f"timeout is a number of seconds, got {timeout!r}")
        status = await self._wait_for(set(wanted), float(timeout))
        if status is None:
            raise HttpError(
                408,
                f"the migration did not reach {' or '.join(wanted)} within {timeout} s",
                status=self.fake.vm.migration_status,
            )
        if status not in wanted:
            raise HttpError(
                409,
                f"the migration ended {status}, not {' or '.join(wanted)}",
                status=status,
            )
        return Response(200, {"status": status})

    async def _wait_for(self, wanted: set[str], seconds: float) -> str | None:
        """The status reached (one of ``wanted``, or a final one), or None at the timeout.

        The timeout is real time: on virtual time nothing else would end the wait.
        """
        token = trio.lowlevel.current_trio_token()
        with trio.CancelScope() as scope:

            def expire() -> None:
                with contextlib.suppress(trio.RunFinishedError):
                    token.run_sync_soon(scope.cancel)

            timer = threading.Timer(seconds, expire)
            timer.daemon = True
            timer.start()
            try:
                while True:
                    status = self.fake.vm.migration_status
                    started = self.fake.vm.outgoing is not None or self.role == "destination"
                    if status in wanted or (started and status in FINAL):
                        return status
                    await self._status_changed.wait()
            finally:
                timer.cancel()
        return None

    async def on_reset(self, request: Request) -> Response:
        try:
            self.fake.reset()
        except FakeQemuError as error:
            raise HttpError(409, str(error)) from None
        self.journal.clear()
        return Response(200, {"status": self.fake.vm.migration_status})
