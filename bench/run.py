"""Benchmark: fakeqemu against real QEMU on this machine, in one run.

    make bench            # or: python -m bench.run [--quick]

Measures, for each server, with the same blocking-socket client:
  * start-to-greeting: process start until the QMP greeting arrives (median of runs);
  * query-status round trip, median and p99;
  * pipelined throughput: many commands written at once, replies read back;
  * resident memory (VmRSS) after the load.
Real QEMU is ``qemu-system-x86_64`` on PATH or ``$FAKEQEMU_REAL_QEMU``; without
one, the fake is compared with its own previous figures (bench/.last-run.json).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

LAST_RUN = Path(__file__).with_name(".last-run.json")
STATUS = b'{"execute":"query-status"}\n'


@dataclass
class Figures:
    start_to_greeting_ms: float
    rtt_median_us: float
    rtt_p99_us: float
    pipelined_per_s: float
    rss_mb: float


def _connect(path: str, deadline: float) -> socket.socket:
    while True:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.connect(path)
            return sock
        except (FileNotFoundError, ConnectionRefusedError):
            sock.close()
            if time.monotonic() > deadline:
                raise
            time.sleep(0.0005)


def _read_lines(sock: socket.socket, count: int, buffer: bytearray) -> None:
    while buffer.count(b"\r\n") < count:
        data = sock.recv(1 << 20)
        if not data:
            raise ConnectionError("server closed the connection")
        buffer += data


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def measure(argv: Callable[[str], list[str]], *, starts: int, rtts: int, pipelined: int) -> Figures:
    greeting_ms = []
    with tempfile.TemporaryDirectory() as tmp:
        for attempt in range(starts):
            path = os.path.join(tmp, f"qmp{attempt}.sock")
            began = time.monotonic()
            proc = subprocess.Popen(
                argv(path), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
            try:
                sock = _connect(path, began + 20)
                buffer = bytearray()
                _read_lines(sock, 1, buffer)
                greeting_ms.append((time.monotonic() - began) * 1000)
                if attempt < starts - 1:
                    sock.close()
                    continue
                sock.sendall(b'{"execute":"qmp_capabilities"}\n')
                _read_lines(sock, 2, buffer)
                buffer.clear()
                samples = []
                for _ in range(rtts):
                    t0 = time.perf_counter()
                    sock.sendall(STATUS)
                    _read_lines(sock, 1, buffer)
                    samples.append((time.perf_counter() - t0) * 1e6)
                    buffer.clear()
                t0 = time.perf_counter()
                sock.sendall(STATUS * pipelined)
                _read_lines(sock, pipelined, buffer)
                per_s = pipelined / (time.perf_counter() - t0)
                rss = _rss_mb(proc.pid)
                sock.close()
            finally:
                proc.terminate()
                proc.wait(timeout=10)
    samples.sort()
    return Figures(
        start_to_greeting_ms=statistics.median(greeting_ms),
        rtt_median_us=statistics.median(samples),
        rtt_p99_us=samples[int(len(samples) * 0.99) - 1],
        pipelined_per_s=per_s,
        rss_mb=rss,
    )


def fake_argv(path: str) -> list[str]:
    return [sys.executable, "-m", "fakeqemu", "serve", "--profile", "11.1", "-S", "--unix", path]


def qemu_argv(binary: str) -> Callable[[str], list[str]]:
    def argv(path: str) -> list[str]:
        return [
            binary,
            "-nodefaults",
            "-display",
            "none",
            "-accel",
            "tcg",
            "-machine",
            "pc",
            "-m",
            "128",
            "-S",
            "-qmp",
            f"unix:{path},server=on,wait=off",
        ]

    return argv


def real_qemu() -> str | None:
    return os.environ.get("FAKEQEMU_REAL_QEMU") or shutil.which("qemu-system-x86_64")


def report(fake: Figures, baseline: Figures, baseline_name: str) -> None:
    rows = [
        ("start to greeting (ms)", "start_to_greeting_ms", "lower"),
        ("query-status RTT median (us)", "rtt_median_us", "lower"),
        ("query-status RTT p99 (us)", "rtt_p99_us", "lower"),
        ("pipelined commands/s", "pipelined_per_s", "higher"),
        ("resident memory (MB)", "rss_mb", "lower"),
    ]
    print(f"{'':32}{'fakeqemu':>12}{baseline_name:>14}{'ratio':>9}  better")
    for label, key, better in rows:
        ours, theirs = getattr(fake, key), getattr(baseline, key)
        print(f"{label:32}{ours:12.1f}{theirs:14.1f}{ours / theirs:9.2f}  {better}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer samples, for a smoke run")
    args = parser.parse_args(argv)
    sizes = (
        {"starts": 3, "rtts": 300, "pipelined": 1000}
        if args.quick
        else {"starts": 7, "rtts": 3000, "pipelined": 10000}
    )
    fake = measure(fake_argv, **sizes)
    binary = real_qemu()
    if binary is not None:
        baseline = measure(qemu_argv(binary), **sizes)
        report(fake, baseline, "real QEMU")
    elif LAST_RUN.exists():
        baseline = Figures(**json.loads(LAST_RUN.read_text()))
        report(fake, baseline, "previous run")
    else:
        report(fake, fake, "(no baseline)")
    LAST_RUN.write_text(json.dumps(asdict(fake)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
