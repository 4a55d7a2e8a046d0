"""The machines to send probes to: real QEMU processes, or fakes on a thread."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
import subprocess
import tempfile
from collections.abc import Callable, Iterator, Sequence

from fakeqemu.fake.config import FakeQemuConfig
from fakeqemu.fake.qemu import FakeQemu
from fakeqemu.recorder.capture import running_qemu
from fakeqemu.recorder.differential.sequence import SOURCE
from fakeqemu.server.endpoints import Endpoint

#: How the recordings start QEMU: ``-m 128 -S``; the destination adds ``-incoming defer``.
MEMORY = "128"


def qemu_version(binary: str) -> str:
    """``7.2``, ``10.0``, ... from ``BINARY --version``."""
    out = subprocess.run([binary, "--version"], capture_output=True, text=True, check=True)
    match = re.search(r"version (\d+)\.(\d+)", out.stdout)
    if match is None:
        raise RuntimeError(f"{binary} --version says no version: {out.stdout[:200]!r}")
    return f"{match[1]}.{match[2]}"


@contextlib.contextmanager
def scratch_directory() -> Iterator[str]:
    """Under /tmp: the chrooted QEMU 11.1 of the development machine sees only /tmp."""
    with tempfile.TemporaryDirectory(prefix="fakeqemu-diff-", dir="/tmp") as directory:
        yield directory


@contextlib.contextmanager
def real_machines(
    binary: str,
    sides: Sequence[str],
    *extra: str,
    memory: str = MEMORY,
    side_arguments: Callable[[str], Sequence[str]] = lambda side: (),
) -> Iterator[dict[str, str]]:
    """A QEMU process per side; yields their monitor paths; stops them afterwards."""
    base = ("-m", memory, "-S", *extra)
    with contextlib.ExitStack() as stack:
        paths = {}
        for side in sides:
            incoming = () if side == SOURCE else ("-incoming", "defer")
            own = tuple(side_arguments(side))
            paths[side] = stack.enter_context(running_qemu(binary, *base, *own, *incoming))
        yield paths


@contextlib.contextmanager
def fake_machines(
    config: FakeQemuConfig,
    sides: Sequence[str],
    directory: str,
    *,
    speed: float = 1.0,
    hooks: Sequence[Callable[[FakeQemu], None]] = (),
) -> Iterator[dict[str, str]]:
    """A fake per side (``config``, with ``-incoming defer`` but for ``src``), on one loop
    whose clock runs ``speed`` times faster than real time; ``hooks`` are called with
    each fake before it serves."""
    from fakeqemu.server.thread import TrioThread, VirtualWallClock

    configs = {
        side: config if side == SOURCE else dataclasses.replace(config, incoming="defer")
        for side in sides
    }
    paths = {side: os.path.join(directory, f"fake-{side}.sock") for side in configs}
    with TrioThread(speed=speed) as loop:
        for side, side_config in configs.items():
            fake = FakeQemu(side_config, wall_clock=VirtualWallClock())
            for hook in hooks:
                hook(fake)
            loop.serve(fake, [Endpoint("unix", path=paths[side])])
        yield paths
