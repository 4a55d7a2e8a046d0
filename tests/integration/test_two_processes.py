"""Two `fakeqemu serve` processes migrate to each other through QMP alone.

Driven with the qemu.qmp library, as a tool author would drive two QEMUs.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from qemu.qmp import QMPClient


def serve(*args: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "fakeqemu", "serve", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().startswith("fakeqemu: QEMU "), "ready line"
    return proc


async def migrate(src_path: str, dst_path: str) -> tuple[dict[str, Any], dict[str, Any]]:
    src, dst = QMPClient("source"), QMPClient("destination")
    await src.connect(src_path)
    await dst.connect(dst_path)
    events = {"capabilities": [{"capability": "events", "state": True}]}
    await src.execute("migrate-set-capabilities", events)
    await dst.execute("migrate-set-capabilities", events)
    await dst.execute("migrate-incoming", {"uri": "tcp:127.0.0.1:0"})
    listening = await dst.execute("query-migrate")
    assert isinstance(listening, dict)
    port = listening["socket-address"][0]["port"]
    await src.execute("migrate", {"uri": f"tcp:127.0.0.1:{port}"})
    async with asyncio.timeout(30):
        source = await poll_until_completed(src)
        destination = await poll_until_completed(dst)
    for client in (src, dst):
        await client.disconnect()
    return source, destination


async def poll_until_completed(client: QMPClient) -> dict[str, Any]:
    """Poll query-migrate, as migration tools do; the fake must serve it."""
    while True:
        info = await client.execute("query-migrate")
        assert isinstance(info, dict)
        if info["status"] == "completed":
            return info
        await asyncio.sleep(0.05)


@pytest.mark.parametrize("shape", ["old", "new"])
def test_two_serve_processes_migrate_through_qmp(tmp_path: Path, shape: str) -> None:
    src_path, dst_path = str(tmp_path / "src.sock"), str(tmp_path / "dst.sock")
    source_proc = serve("--unix", src_path, "--speed", "4")
    dest_proc = serve("--unix", dst_path, "--incoming", "defer", "--shape", shape, "--speed", "4")
    try:
        source, destination = asyncio.run(migrate(src_path, dst_path))
        for proc in (source_proc, dest_proc):
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=10) == 0
    finally:
        for proc in (source_proc, dest_proc):
            proc.kill()
            proc.communicate()
    assert source["ram"]["remaining"] == 0
    if shape == "old":
        assert destination == {"status": "completed"}
    else:
        assert destination["ram"]["normal"] == source["ram"]["normal"]
        assert destination["ram"]["duplicate"] == source["ram"]["duplicate"]
        assert destination["total-time"] > 0
