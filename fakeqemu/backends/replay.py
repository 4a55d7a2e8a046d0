"""``replay:PATH``: the counters of a recorded migration, sample by sample, at their times.

PATH is a cassette (``fakeqemu record``) or a transcript in the format of the
recordings of real QEMU (``tests/data/recordings/<version>/precopy.jsonl``).  Every
``query-migrate`` reply with ``ram`` on the replayed side is a sample, taken at its
``total-time``; at each moment of its own migration the fake shows the sample
recorded nearest to that moment (each one from halfway after the one before).  The
migration switches over when the recorded one did (``total-time`` less ``downtime``
of the completed sample), or never, and then shows the completed sample.

A source replays the side named ``src``, a destination ``dst`` (``--backend-opt
side=NAME`` picks another; a cassette with one side only is used whatever its name).
A destination without recorded counters reports what arrives, like ``model``'s.
"""

from __future__ import annotations

import bisect
import itertools
from dataclasses import replace

from fakeqemu.backends.interface import BackendInputs, Limits, RamCounters, ReceivedPages
from fakeqemu.backends.options import BackendError, BackendOptions
from fakeqemu.backends.recorded import Sample, load_samples
from fakeqemu.protocol.cassette import Cassette
from fakeqemu.vocabulary import ROLE_SIDES

OPTIONS = {
    "path": "the cassette or transcript to replay (or replay:PATH)",
    "side": "which side of it to replay (default: src for a source, dst for a destination)",
}
#: The state machine asks once a 100 ms window: the window nearest the recorded
#: switchover takes it, so the fake switches over within 50 ms of the recording.
HALF_WINDOW_MS = 50.0


def _side(cassette: Cassette, inputs: BackendInputs, options: BackendOptions) -> str:
    wanted = options.text("side") or ROLE_SIDES[inputs.role]
    sides = cassette.sides
    if wanted not in sides and len(sides) == 1 and options.text("side") is None:
        return sides[0]
    return wanted


def replay_backend(inputs: BackendInputs) -> ReplaySource | ReplayDestination:
    """The ``replay`` entry: ``replay:PATH`` or ``--backend-opt path=PATH``."""
    options = BackendOptions("replay", inputs.options, OPTIONS)
    path = inputs.argument or options.text("path")
    if not path:
        raise BackendError("backend 'replay' needs a recording: --backend replay:PATH")
    try:
        cassette = Cassette.load(path)
    except OSError as error:
        raise BackendError(f"backend 'replay': cannot read {path}: {error.strerror}") from None
    except ValueError as error:
        raise BackendError(f"backend 'replay': {error}") from None
    side = _side(cassette, inputs, options)
    samples = load_samples(cassette, side)
    if inputs.role == "destination":
        return ReplayDestination(samples)
    if not samples:
        raise BackendError(
            f"backend 'replay': {path} has no query-migrate with ram on side {side!r}"
            f" (sides: {', '.join(cassette.sides) or 'none'})"
        )
    return ReplaySource(inputs, samples)


class ReplaySource:
    """The source side of a recording, played on the fake's clock."""

    def __init__(self, inputs: BackendInputs, samples: list[Sample]) -> None:
        self._start = inputs.clock()
        self._running = [s for s in samples if not s.finished]
        # Each sample shows from halfway after the one before: a client asking at about the
        # recorded moment, a little early or late, sees what QEMU showed then.
        times = [0.0] + [s.elapsed_ms for s in self._running]
        self._shown_from = [(before + at) / 2 for before, at in itertools.pairwise(times)]
        finals = [s for s in samples if s.finished]
        self._final = finals[0] if finals else samples[-1]
        self.total = self._final.total or inputs.ram_total
        self.page_size = self._final.page_size
        switches = [s.switched_at_ms for s in samples if s.switched_at_ms is not None]
        self._switch_at_ms = min(switches) if switches else None
        self._syncs = 0
        self._finished = False

    def _elapsed_ms(self, now: float) -> float:
        return (now - self._start) * 1000

    def _sample(self, now: float) -> RamCounters:
        if self._finished:
            return self._final.counters
        index = bisect.bisect_right(self._shown_from, self._elapsed_ms(now))
        if index == 0:
            return RamCounters(remaining=self.total)
        return self._running[index - 1].counters

    def sync(self, now: float) -> None:
        # The fake syncs where its release does; a recording of the same release agrees.
        self._syncs += 1

    def transfer(self, now: float, limits: Limits) -> None:
        """The recording already says what was sent when."""

    def converged(self, now: float, limits: Limits) -> bool:
        switch = self._switch_at_ms
        return switch is not None and self._elapsed_ms(now) + HALF_WINDOW_MS >= switch

    def stop(self, now: float, postcopy: bool) -> None:
        self._finished = not postcopy

    def finish(self, now: float) -> None:
        self._finished = True

    def counters(self, now: float) -> RamCounters:
        sample = self._sample(now)
        if sample.sync_count >= self._syncs:
            return sample
        return replace(sample, sync_count=self._syncs)


class ReplayDestination:
    """The destination side: the recorded counters once there are some, else what arrives."""

    def __init__(self, samples: list[Sample]) -> None:
        self._received = ReceivedPages()
        self._recorded = samples[-1].counters if samples else None

    def receive(self, now: float, normal: int, zero: int, xbzrle: int) -> None:
        self._received.receive(now, normal, zero, xbzrle)

    def counters(self, now: float) -> RamCounters:
        return self._recorded or self._received.counters(now)
