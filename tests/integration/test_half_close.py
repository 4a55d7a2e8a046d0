"""Clients that close their input early get the greeting and every reply, as from QEMU.

The shell habit ``printf '...' | socat -t3 - UNIX-CONNECT:S`` sends its requests,
then shuts its sending side.  Real QEMU answers everything it read before the
end of the input (40 of 40 runs on 7.2, 10.0 and 11.1), then closes.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from fakeqemu.server.sockets import listening_inode
from tests.support.processes import (
    TIMEOUT,
    half_close_session,
    real_qemu,
    serving,
    spawn_serve,
    stop,
    wait_for,
)
from tests.support.recordings import VERSIONS, queries

RUNS = 40
REQUESTS = b'{"execute":"qmp_capabilities"}\n{"execute":"query-status"}\n'
needs_socat = pytest.mark.skipif(shutil.which("socat") is None, reason="socat is not installed")


def socat(path: str, stdin: bytes | None) -> bytes:
    """``printf ... | socat -t3 - UNIX-CONNECT:PATH`` (stdin None: ``</dev/null``)."""
    done = subprocess.run(
        ["socat", "-t3", "-", f"UNIX-CONNECT:{path}"],
        input=stdin,
        stdin=subprocess.DEVNULL if stdin is None else None,
        capture_output=True,
        timeout=TIMEOUT,
        check=True,
    )
    return done.stdout


def expected(version: str) -> bytes:
    """Greeting and the two replies of a ``-S`` guest, as recorded from real QEMU."""
    answers = queries(version)
    lines = [answers["greeting"].strip(), '{"return": {}}', answers["query-status"].strip()]
    return "".join(f"{line}\r\n" for line in lines).encode()


@needs_socat
@pytest.mark.parametrize("version", VERSIONS)
def test_socat_with_early_eof_gets_every_reply(version: str, tmp_path: Path) -> None:
    path = str(tmp_path / "m.sock")
    with serving("--profile", version, "-S", "--unix", path):
        complete = sum(socat(path, REQUESTS) == expected(version) for _ in range(RUNS))
        greeting_only = socat(path, None)
    assert complete == RUNS
    assert greeting_only == expected(version).split(b"\r\n")[0] + b"\r\n"


@pytest.mark.parametrize("version", VERSIONS)
def test_a_client_that_shuts_its_sending_side_gets_every_reply(
    version: str, tmp_path: Path
) -> None:
    path = str(tmp_path / "m.sock")
    pipelined = b'{"execute":"qmp_capabilities"}' + b"".join(
        b'{"execute":"query-status","id":%d}' % i for i in range(200)
    )
    with serving("--profile", version, "-S", "--unix", path):
        complete = sum(half_close_session(path, REQUESTS) == expected(version) for _ in range(RUNS))
        lines = half_close_session(path, pipelined).split(b"\r\n")
        # An unfinished request at the end of the input is not answered, as in QEMU.
        unfinished = half_close_session(path, REQUESTS + b'{"execute":"query-status"')
    assert complete == RUNS
    assert len(lines) == 1 + 1 + 200 + 1
    assert lines[-2].endswith(b', "id": 199}')
    assert unfinished == expected(version)


@pytest.mark.parametrize("version", VERSIONS)
def test_a_client_greeted_while_the_fake_still_imports_gets_every_reply(
    version: str, tmp_path: Path
) -> None:
    """The fast-start path: connect as soon as the socket file exists, before trio runs."""
    path = str(tmp_path / "m.sock")
    for _ in range(3):
        proc = spawn_serve("--profile", version, "-S", "--unix", path)
        try:
            # Listening, as a client that retries until it can connect would find it.
            wait_for(lambda: listening_inode(path) is not None, "the monitor to listen")
            assert half_close_session(path, REQUESTS) == expected(version)
        finally:
            proc.terminate()
            stop(proc)
        assert proc.returncode == 0


@needs_socat
@pytest.mark.real_qemu
def test_real_qemu_answers_a_half_closed_client_as_the_fake_does(tmp_path: Path) -> None:
    """The same 40 socat runs against real QEMU and the fake give the same bytes."""
    path = str(tmp_path / "q.sock")
    with real_qemu(path, "-S"):
        real = [socat(path, REQUESTS) for _ in range(RUNS)]
        real_eof = socat(path, None)
    version = real[0].split(b'"major": ')[1].split(b"}")[0].decode()
    minor = real[0].split(b'"minor": ')[1].split(b",")[0].decode()
    release = f"{version}.{minor}"
    if release not in VERSIONS:
        pytest.skip(f"no profile of QEMU {release}")
    assert real == [expected(release)] * RUNS
    fake_path = str(tmp_path / "f.sock")
    with serving("--profile", release, "-S", "--unix", fake_path):
        assert [socat(fake_path, REQUESTS) for _ in range(RUNS)] == real
        assert socat(fake_path, None) == real_eof
