"""The plugin as a downstream project meets it: pytest runs of small test files (pytester).

Each run is in-process, in a fresh directory with no conftest: only what the
``pytest11`` entry point registers is there.
"""

from __future__ import annotations

import importlib.metadata
import os
import threading

import pytest

# In-process runs drop the modules they imported when they end; a library
# imported afresh by each run leaves the next one a half-torn-down copy (qemu.qmp's
# disconnect then raises CancelledError).  Imported here, every run shares one.
import qemu.qmp.legacy  # noqa: F401

pytest_plugins = ["pytester"]

#: Every run: warnings are errors, as in this project.
INI = "[pytest]\nfilterwarnings = error\n"

QUERY_VERSION = """
import asyncio
import pytest
from qemu.qmp import QMPClient

def version(address):
    async def query():
        qmp = QMPClient("plugin-test")
        await qmp.connect(address)
        try:
            return await qmp.execute("query-version")
        finally:
            await qmp.disconnect()
    qemu = asyncio.run(query())["qemu"]
    return f"{qemu['major']}.{qemu['minor']}"
"""


def run(pytester: pytest.Pytester, source: str, *args: str) -> pytest.RunResult:
    pytester.makeini(INI)
    pytester.makepyfile(test_downstream=source)
    return pytester.runpytest("-p", "no:cacheprovider", *args)


def test_the_entry_point_registers_the_plugin(pytester: pytest.Pytester) -> None:
    (entry,) = [
        e for e in importlib.metadata.entry_points(group="pytest11") if e.name == "fakeqemu"
    ]
    assert entry.value == "fakeqemu.testing.pytest_plugin"
    pytester.makeini(INI)
    result = pytester.runpytest("--help")
    result.stdout.fnmatch_lines(["*--fakeqemu-matrix*"])
    result = pytester.runpytest("--markers")
    result.stdout.fnmatch_lines(["@pytest.mark.fakeqemu(profile='11.1', shape='old', role=*"])
    # A new process: --fixtures lists what the entry point registers, as a user sees it.
    result = pytester.runpytest_subprocess("--fixtures")
    for fixture in ("fakeqemu", "fakeqemu_threaded", "fakeqemu_pair", "fakeqemu_trio_pair"):
        result.stdout.fnmatch_lines([f"{fixture} -- *pytest_plugin.py:*"])


def test_fixtures_and_marker(pytester: pytest.Pytester) -> None:
    result = run(
        pytester,
        QUERY_VERSION
        + """
def test_default(fakeqemu_threaded):
    assert (fakeqemu_threaded.profile, fakeqemu_threaded.shape) == ("11.1", "old")
    assert version(fakeqemu_threaded.address) == "11.1"

@pytest.mark.fakeqemu(profile="7.2", monitor="tcp")
def test_marked(fakeqemu_threaded):
    assert isinstance(fakeqemu_threaded.address, tuple)
    assert version(fakeqemu_threaded.address) == "7.2"

@pytest.mark.fakeqemu(profile="10.0", shape="new")
class TestClassMarker:
    def test_pair(self, fakeqemu_pair):
        for side in (fakeqemu_pair.source, fakeqemu_pair.destination):
            assert (side.profile, side.shape) == ("10.0", "new")
            assert version(side.address) == "10.0"

    @pytest.mark.fakeqemu(profile="11.1")
    def test_closest_marker_wins(self, fakeqemu_threaded):
        assert (fakeqemu_threaded.profile, fakeqemu_threaded.shape) == ("11.1", "new")

@pytest.mark.trio
async def test_trio(fakeqemu, fakeqemu_trio_pair):
    assert fakeqemu.role == "source"
    assert fakeqemu_trio_pair.destination.role == "destination"
""",
    )
    result.assert_outcomes(passed=5)
    result.stdout.no_fnmatch_line("*fakeqemu matrix*")


def test_the_matrix_option_runs_every_profile_and_shape(pytester: pytest.Pytester) -> None:
    result = run(
        pytester,
        QUERY_VERSION
        + """
def test_version(fakeqemu_threaded):
    assert version(fakeqemu_threaded.address) == fakeqemu_threaded.profile

def test_without_fakeqemu():
    pass
""",
        "--fakeqemu-matrix",
        "-v",
    )
    result.assert_outcomes(passed=7)
    result.stdout.fnmatch_lines(
        [
            f"*test_version[[]{profile}-{shape}[]] PASSED*"
            for profile in ("7.2", "10.0", "11.1")
            for shape in ("old", "new")
        ]
    )
    result.stdout.fnmatch_lines(["*test_without_fakeqemu PASSED*"])
    result.stdout.fnmatch_lines(
        [
            "*= fakeqemu matrix =*",
            "profile old *new*",
            "7.2     passed (1)  passed (1)*",
            "10.0    passed (1)  passed (1)*",
            "11.1    passed (1)  passed (1)*",
        ]
    )


def test_the_marker_chooses_the_matrix(pytester: pytest.Pytester) -> None:
    result = run(
        pytester,
        """
import pytest

@pytest.mark.fakeqemu(matrix=True, shape="new")
def test_new_everywhere(fakeqemu_threaded):
    assert fakeqemu_threaded.shape == "new"

@pytest.mark.fakeqemu(profile=["7.2", "11.1"])
def test_two_profiles(fakeqemu_threaded):
    assert fakeqemu_threaded.profile in ("7.2", "11.1")

@pytest.mark.fakeqemu(profile=["10.0"], shape=("new",))
def test_lists_of_one(fakeqemu_threaded):
    assert (fakeqemu_threaded.profile, fakeqemu_threaded.shape) == ("10.0", "new")
""",
        "-v",
    )
    result.assert_outcomes(passed=6)
    result.stdout.fnmatch_lines(
        [
            "test_downstream.py::test_new_everywhere[[]7.2-new[]] PASSED*",
            "test_downstream.py::test_new_everywhere[[]10.0-new[]] PASSED*",
            "test_downstream.py::test_new_everywhere[[]11.1-new[]] PASSED*",
            "test_downstream.py::test_two_profiles[[]7.2-old[]] PASSED*",
            "test_downstream.py::test_two_profiles[[]11.1-old[]] PASSED*",
            "test_downstream.py::test_lists_of_one PASSED*",
        ]
    )


def test_the_table_shows_which_combinations_fail(pytester: pytest.Pytester) -> None:
    result = run(
        pytester,
        """
import pytest

@pytest.mark.fakeqemu(matrix=True)
def test_not_on_10(fakeqemu_threaded):
    assert fakeqemu_threaded.profile != "10.0", "breaks on 10.0"

@pytest.mark.fakeqemu(matrix=True)
def test_skips_on_new(fakeqemu_threaded):
    if fakeqemu_threaded.shape == "new":
        pytest.skip("not relevant")
""",
    )
    result.assert_outcomes(passed=7, failed=2, skipped=3)
    result.stdout.fnmatch_lines(
        [
            "*= fakeqemu matrix =*",
            "profile old *new*",
            "7.2     passed (2) *passed (1, 1 skipped)*",
            "10.0    FAILED (1 of 2) *FAILED (1 of 2)*",
            "11.1    passed (2) *passed (1, 1 skipped)*",
        ]
    )
    result.stdout.fnmatch_lines(["FAILED test_downstream.py::test_not_on_10[[]10.0-old[]]*"])


def test_a_journal_mismatch_shows_similar_commands(pytester: pytest.Pytester) -> None:
    result = run(
        pytester,
        """
import asyncio
from qemu.qmp import QMPClient

def test_tool_migrates(fakeqemu_threaded):
    async def tool():
        qmp = QMPClient("tool")
        await qmp.connect(fakeqemu_threaded.address)
        await qmp.execute("migrate-set-parameters", {"downtime-limit": 500})
        await qmp.execute("query-migrate")
        await qmp.disconnect()
    asyncio.run(tool())
    fakeqemu_threaded.journal.assert_called("migrate", times=1)
""",
    )
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            '>*fakeqemu_threaded.journal.assert_called("migrate", times=1)',
            "E*AssertionError: fakeqemu: expected 'migrate' to be called once; "
            "it was never called.",
            "E*similar commands received:",
            'E*  migrate-set-parameters {"downtime-limit": 500} -> ok',
            "E*  query-migrate -> ok",
            "E*all 3 commands received: qmp_capabilities, migrate-set-parameters, query-migrate",
        ]
    )


BAD_MARKERS = {
    "test_typo": """
import pytest

@pytest.mark.fakeqemu(profil="10.0")
def test_typo(fakeqemu_threaded):
    pass
""",
    "test_unknown_profile": """
import pytest

@pytest.mark.fakeqemu(profile="9.9", matrix=True)
def test_unknown_profile(fakeqemu_threaded):
    pass
""",
    "test_unknown_role": """
import pytest

@pytest.mark.fakeqemu(role="bystander")
def test_unknown_role(fakeqemu_threaded):
    pass
""",
    "test_speed_in_trio": """
import pytest

@pytest.mark.trio
@pytest.mark.fakeqemu(speed=10)
async def test_speed_in_trio(fakeqemu):
    pass
""",
}


def test_a_bad_marker_is_reported(pytester: pytest.Pytester) -> None:
    pytester.makeini(INI)
    pytester.makepyfile(**BAD_MARKERS)
    result = pytester.runpytest("-p", "no:cacheprovider", "--continue-on-collection-errors")
    # pytest-trio sets trio fixtures up inside the test: their errors fail the test.
    result.assert_outcomes(errors=3, failed=1)
    for message in (
        "test_typo.py::test_typo: @pytest.mark.fakeqemu got unknown keyword(s) profil; "
        "it takes profile, shape, matrix, role, *",
        "test_unknown_profile.py::test_unknown_profile: @pytest.mark.fakeqemu profile='9.9': "
        "expected one or more of 7.2, 10.0, 11.1",
        "test_unknown_role.py::test_unknown_role: @pytest.mark.fakeqemu: unknown role "
        "'bystander'; expected one of source, destination",
        "speed= sets the clock of threaded fakes; a trio test's fakes run on the test's own "
        "clock (request autojump_clock for virtual time)",
    ):
        result.stdout.fnmatch_lines([f"*MarkerError: {message}"])


CLEANUP = """
import asyncio
import threading
import pytest
from qemu.qmp import QMPClient

def record(*handles):
    with open("addresses.txt", "a") as out:
        for handle in handles:
            out.write(handle.address + "\\n")

def test_threaded(fakeqemu_threaded):
    record(fakeqemu_threaded)

def test_pair_after_a_failed_migration(fakeqemu_pair):
    record(fakeqemu_pair.source, fakeqemu_pair.destination)
    async def migrate():
        destination = QMPClient("d")
        await destination.connect(fakeqemu_pair.destination.address)
        await destination.execute("migrate-incoming", {"uri": "tcp:127.0.0.1:0"})
        port = (await destination.execute("query-migrate"))["socket-address"][0]["port"]
        await destination.disconnect()
        source = QMPClient("s")
        await source.connect(fakeqemu_pair.source.address)
        await source.execute("migrate-set-parameters", {"max-bandwidth": 1024})
        await source.execute("migrate", {"uri": f"tcp:127.0.0.1:{port}"})
        await source.disconnect()
    asyncio.run(migrate())
    fakeqemu_pair.source.wait_for_migration("active")
    fakeqemu_pair.source.fail_migration()

def test_a_test_that_fails(fakeqemu_pair):
    record(fakeqemu_pair.source, fakeqemu_pair.destination)
    raise RuntimeError("the test broke")

@pytest.mark.trio
async def test_trio(fakeqemu, fakeqemu_trio_pair):
    record(fakeqemu, fakeqemu_trio_pair.source, fakeqemu_trio_pair.destination)
    record(await fakeqemu.start_peer())

@pytest.mark.trio
async def test_a_trio_test_that_fails(fakeqemu_trio_pair):
    record(fakeqemu_trio_pair.source, fakeqemu_trio_pair.destination)
    raise RuntimeError("the trio test broke")
"""


def test_fixtures_leave_no_sockets_and_no_threads(pytester: pytest.Pytester) -> None:
    threads_before = set(threading.enumerate())
    result = run(pytester, CLEANUP)
    result.assert_outcomes(passed=3, failed=2)
    addresses = (pytester.path / "addresses.txt").read_text().split()
    assert len(addresses) == 11
    for address in addresses:
        assert not os.path.exists(address), f"{address} left behind"
        assert not os.path.exists(os.path.dirname(address)), f"{address}'s directory left"
    left = [thread.name for thread in set(threading.enumerate()) - threads_before]
    assert left == [], f"threads left running: {left}"


def test_the_plugin_knows_every_shape_and_profile() -> None:
    from dataclasses import fields

    from fakeqemu import vocabulary
    from fakeqemu.fake.config import FakeQemuConfig
    from fakeqemu.profiles import PROFILES
    from fakeqemu.testing import pytest_plugin

    # The plugin reads the vocabulary, which lists the profiles' data without importing them:
    # the two must agree.
    assert vocabulary.SHAPES == ("old", "new")
    assert tuple(PROFILES) == vocabulary.PROFILE_NAMES
    # Every configuration field is a marker keyword, but incoming (the role sets it).
    configured = {field.name for field in fields(FakeQemuConfig)} - {"incoming"}
    assert configured <= set(pytest_plugin.MARKER_KEYWORDS)
