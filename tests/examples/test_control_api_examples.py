"""The control API's client examples, Go (net/http) and Python (http.client), run for real.

Each plays the README's session against two ``fakeqemu serve`` processes on unix
sockets: the source with ``--control`` on virtual time, and a destination.  The Go
test skips without ``go`` on PATH, unless ``FAKEQEMU_REQUIRE_GO`` is set (CI installs
it); it builds offline, with Go's caches in the checkout's ``.cache/go`` (gitignored),
so only the first run compiles.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.support.processes import serving

REPO = Path(__file__).resolve().parents[2]
GO_EXAMPLE = REPO / "examples" / "control_api_go"
PYTHON_EXAMPLE = REPO / "examples" / "control_api.py"
GO_CACHE = REPO / ".cache" / "go"

#: What a passing session prints, line by line (regular expressions).
SESSION = [
    r"health: ok, profile 11\.1, shape old, clock virtual",
    r"destination listening on tcp:127\.0\.0\.1:\d+",
    r"fault f1: migrate answered GenericError: injected by the (Go|Python) example",
    r"fault f1 removed; an unknown one is a 404: no fault 'nope'; faults held: none",
    r"plateau: passes \[\d+(,? \d+){5}\], remaining at pass start >= 40% of \d+",
    r"completed once downtime-limit was 5000 ms",
    r"journal: 5 calls, 1 fault; 5 cleared",
    r"control session passed",
]


@contextmanager
def fakes(*clock: str) -> Iterator[list[str]]:
    """A destination and a controlled source: [control, source, destination] addresses."""
    with tempfile.TemporaryDirectory(prefix="fq-ex-") as directory:
        source, destination = f"{directory}/src.sock", f"{directory}/dst.sock"
        control = f"unix:{directory}/ctl.sock"
        with (
            serving("--unix", destination, "--incoming", "defer"),
            serving("--unix", source, "--control", control, *clock, "--memory", "1G"),
        ):
            yield [control, f"unix:{source}", f"unix:{destination}"]


def go_environment() -> dict[str, str]:
    """Offline, this machine's toolchain, caches kept in the checkout."""
    env = dict(os.environ)
    env |= {
        "GOCACHE": str(GO_CACHE / "build"),
        "GOPATH": str(GO_CACHE / "path"),
        "GOTOOLCHAIN": "local",
        "GOPROXY": "off",
        "GOFLAGS": "",
        "GOENV": "off",
        "CGO_ENABLED": "0",
    }
    return env


@pytest.fixture(scope="module")
def go_program(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The Go example, built in its module's directory, as ``go run .`` there builds it."""
    go = shutil.which("go")
    if go is None:
        if os.environ.get("FAKEQEMU_REQUIRE_GO"):
            pytest.fail("FAKEQEMU_REQUIRE_GO is set, but go is not on PATH")
        pytest.skip("go is not installed")
    program = tmp_path_factory.mktemp("go") / "controlapi"
    done = subprocess.run(
        [go, "build", "-o", str(program), "."],
        cwd=REPO / "examples" / "control_api_go",
        env=go_environment(),
        capture_output=True,
        text=True,
        timeout=600,  # a cold cache on a Go that ships no compiled std compiles net/http
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return program


@pytest.fixture(params=["go", "python"])
def example(request: pytest.FixtureRequest) -> list[str]:
    """The command line of one example, without its addresses."""
    if request.param == "go":
        return [str(request.getfixturevalue("go_program"))]
    return [sys.executable, str(PYTHON_EXAMPLE)]


def run(command: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=120, check=False
    )


def test_the_example_plays_the_session(example: list[str]) -> None:
    with fakes("--clock", "virtual") as addresses:
        done = run([*example, *addresses])
    assert (done.returncode, done.stderr) == (0, ""), done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == len(SESSION), done.stdout
    for line, pattern in zip(lines, SESSION, strict=True):
        assert re.fullmatch(pattern, line), f"{line!r} does not match {pattern!r}"


def test_the_addresses_can_come_from_the_environment(example: list[str]) -> None:
    with fakes("--clock", "virtual") as (control, source, destination):
        env = dict(os.environ)
        env |= {
            "FAKEQEMU_CONTROL": control,
            "FAKEQEMU_SOURCE": source,
            "FAKEQEMU_DESTINATION": destination,
        }
        done = run(example, env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.endswith("control session passed\n")


def test_an_unexpected_answer_fails_with_a_message(example: list[str]) -> None:
    # On real time the session cannot be played: the example says so and exits 1.
    with fakes() as addresses:
        done = run([*example, *addresses])
    assert done.returncode == 1, done.stdout + done.stderr
    assert done.stdout == ""
    assert done.stderr.startswith("FAIL: health: ")
    assert done.stderr.rstrip().endswith("(serve the source with --control and --clock virtual)")


def test_a_bad_address_is_named(example: list[str]) -> None:
    done = run([*example, "http://127.0.0.1:1", "unix:/nowhere", "unix:/nowhere"])
    assert done.returncode == 1
    assert "'http://127.0.0.1:1' is not unix:PATH or tcp:HOST:PORT" in done.stderr.replace('"', "'")


@pytest.mark.parametrize(
    ("language", "source"), [("go", GO_EXAMPLE / "main.go"), ("python", PYTHON_EXAMPLE)]
)
def test_the_readme_shows_lines_of_the_running_program(language: str, source: Path) -> None:
    """The README's block for each example is made of lines of the program tested here."""
    readme = (REPO / "README.md").read_text()
    example = GO_EXAMPLE if language == "go" else PYTHON_EXAMPLE
    section = readme[readme.index(f"`{example.relative_to(REPO).as_posix()}` is ") :]
    block = re.search(rf"```{language}\n(.*?)```", section, re.DOTALL)
    assert block is not None
    program = {line.strip() for line in source.read_text().splitlines()}
    shown = [line.strip() for line in block.group(1).splitlines() if line.strip()]
    assert len(shown) > 5
    assert [line for line in shown if line not in program] == []
