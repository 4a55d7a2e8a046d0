"""The ``fakeqemu`` pytest plugin: contract-test a tool against every QEMU it may meet.

Installed with fakeqemu (entry point ``pytest11: fakeqemu``).  Fixtures:

* ``fakeqemu``: a fake served in a trio test's own nursery (needs pytest-trio);
  with ``autojump_clock`` a 60-second migration takes milliseconds.
* ``fakeqemu_threaded``: the same fake on a background thread, for plain and
  asyncio tests (``qemu.qmp``'s ``QMPClient`` and its legacy sync client).
* ``fakeqemu_pair`` (threaded) and ``fakeqemu_trio_pair`` (trio): ``.source``
  and a ``.destination`` started with ``--incoming defer``.

Configure them with ``@pytest.mark.fakeqemu(profile="10.0", shape="new",
role="destination", ...)``.  ``--fakeqemu-matrix`` (or ``matrix=True``) runs each
test once per profile and shape, with ids like ``[11.1-new]``, and ends with a
table of the combinations that passed.  ``--fakeqemu-drift`` reruns it once per
schema-drift mutation (:mod:`fakeqemu.testing.drift_plugin`).

Faults and scenarios: ``@pytest.mark.fakeqemu(faults=[{"kind": "error", "command":
"migrate", "desc": "no"}], scenario="stall-at:60")`` holds the faults from the start
(those acting on one side only go to that side of a pair) and plays the scenario in
every migration; each handle also has ``add_fault``, ``remove_fault``,
``clear_faults``, ``faults``, ``set_scenario`` and ``fail_migration`` (a
``migration-fail`` fault), and its journal lists the faults injected
(``journal.faults``).  ``fakeqemu faults`` describes every kind, trigger and scenario.
A ``link-break`` fault (or ``migrate-pause``) in ``postcopy-active`` pauses both fakes
of a pair in ``postcopy-paused``; ``migrate-recover`` on the destination and
``migrate`` with ``resume: true`` on the source take the migration on to the end.

Heavy imports wait until a fixture runs: pytest loads this module in every
session of an environment where fakeqemu is installed.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import pytest

from fakeqemu.fake.options import CONFIG_OPTIONS, FIXTURE_OPTIONS, OPTIONS, SPEED, Option, signature
from fakeqemu.fault_catalog import fault_kind_names, scenario_names
from fakeqemu.testing import drift_plugin
from fakeqemu.testing.matrix_table import COMBINATION, MatrixTable
from fakeqemu.vocabulary import DEFAULT_PROFILE, DEFAULT_SHAPE, PROFILE_NAMES, SHAPES

__all__ = [
    "Combination",
    "MarkerError",
    "fakeqemu",
    "fakeqemu_combination",
    "fakeqemu_drift_hooks",
    "fakeqemu_hooks",
    "fakeqemu_pair",
    "fakeqemu_settings",
    "fakeqemu_threaded",
    "fakeqemu_trio_pair",
]

if TYPE_CHECKING:
    from fakeqemu.testing.handles import (
        FakeHook,
        TrioFakeGroup,
        TrioFakeQemuHandle,
        TrioFakeQemuPair,
    )
    from fakeqemu.testing.settings import FakeSettings
    from fakeqemu.testing.threaded import FakeQemuPair, ThreadedFakeQemu

T = TypeVar("T")

#: The fixture the matrix parametrizes; every fakeqemu fixture depends on it.
MATRIX = Option("matrix", False, "run the test once per profile and shape")
#: The marker's keywords: every configuration field but ``incoming`` (the role sets it),
#: the fixtures' own, and ``matrix``; ``profile``, ``shape`` and ``role`` first.
MARKER_OPTIONS = (
    OPTIONS["profile"],
    OPTIONS["shape"],
    OPTIONS["role"],
    MATRIX,
    *(
        option
        for option in (*CONFIG_OPTIONS, *FIXTURE_OPTIONS, SPEED)
        if option.name not in ("profile", "shape", "role", "incoming")
    ),
)
#: The keywords FakeSettings reads (profile and shape come from the combination).
SETTING_KEYWORDS = tuple(
    option.name for option in MARKER_OPTIONS if option.name not in ("profile", "shape", "matrix")
)
MARKER_KEYWORDS = ("profile", "shape", "matrix", *SETTING_KEYWORDS)
MARKER_HELP = (
    f"fakeqemu({signature(MARKER_OPTIONS)}): configure this test's fakeqemu fixtures; "
    "profile and shape may be lists, matrix=True runs every profile x shape; "
    f"faults=[{{'kind': ...}}] with kinds {fault_kind_names()}; "
    f"scenario= one of {scenario_names()} or a timeline (fakeqemu faults describes each)"
)


@dataclass(frozen=True)
class Combination:
    """One cell of the matrix: a QEMU release and a query-migrate shape."""

    profile: str = DEFAULT_PROFILE
    shape: str = DEFAULT_SHAPE
    #: ``--fakeqemu-drift``: the mutation (or pair) this run is under; "" the plain run.
    drift: str = ""

    @property
    def id(self) -> str:
        plain = f"{self.profile}-{self.shape}"
        return f"{plain}-{self.drift}" if self.drift else plain


class MarkerError(ValueError):
    """A ``@pytest.mark.fakeqemu`` that cannot be honoured."""


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("fakeqemu", "fake QEMU contract testing")
    group.addoption(
        "--fakeqemu-matrix",
        action="store_true",
        default=False,
        help="run each test that uses a fakeqemu fixture once per QEMU profile and "
        "query-migrate shape, and print which combinations passed",
    )
    drift_plugin.add_options(group)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", MARKER_HELP)
    config.pluginmanager.register(MatrixTable(), "fakeqemu-matrix-table")
    if config.getoption("fakeqemu_drift", None) is not None:
        drift_plugin.check_selection(config)
        plugin = drift_plugin.DriftPlugin(config)
        config.pluginmanager.register(plugin, drift_plugin.PLUGIN_NAME)


def marker_keywords(node: pytest.Item | pytest.Function | Any) -> dict[str, Any]:
    """The fakeqemu marker keywords that apply to ``node``: the closest marker wins."""
    keywords: dict[str, Any] = {}
    for marker in reversed(list(node.iter_markers("fakeqemu"))):
        if marker.args:
            raise MarkerError(
                f"{node.nodeid}: @pytest.mark.fakeqemu takes keywords only, got {marker.args!r}"
            )
        keywords.update(marker.kwargs)
    unknown = sorted(set(keywords) - set(MARKER_KEYWORDS))
    if unknown:
        raise MarkerError(
            f"{node.nodeid}: @pytest.mark.fakeqemu got unknown keyword(s) {', '.join(unknown)}; "
            f"it takes {', '.join(MARKER_KEYWORDS)}"
        )
    return keywords


def _dimension(
    node_id: str, what: str, value: object, known: Sequence[str], default: Sequence[str]
) -> tuple[str, ...]:
    if value is None:
        return tuple(default)
    values = (value,) if isinstance(value, str) else tuple(value)  # type: ignore[arg-type]
    bad = [item for item in values if item not in known]
    if bad or not values:
        raise MarkerError(
            f"{node_id}: @pytest.mark.fakeqemu {what}={value!r}: expected one or more of "
            f"{', '.join(known)}"
        )
    return tuple(str(item) for item in values)


def combinations(node_id: str, keywords: dict[str, Any], matrix: bool) -> list[Combination]:
    """What a test runs against: every profile and shape with the matrix on, unless the
    marker names some; otherwise the marker's (default 11.1, old)."""
    profiles = _dimension(
        node_id,
        "profile",
        keywords.get("profile"),
        PROFILE_NAMES,
        PROFILE_NAMES if matrix else (DEFAULT_PROFILE,),
    )
    shapes = _dimension(
        node_id, "shape", keywords.get("shape"), SHAPES, SHAPES if matrix else (DEFAULT_SHAPE,)
    )
    return [Combination(profile, shape) for profile in profiles for shape in shapes]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if COMBINATION not in metafunc.fixturenames:
        return
    node = metafunc.definition
    keywords = marker_keywords(node)
    matrix = bool(metafunc.config.getoption("fakeqemu_matrix") or keywords.get("matrix"))
    cells = combinations(node.nodeid, keywords, matrix)
    if metafunc.config.getoption("fakeqemu_drift") is not None:
        cells = [
            Combination(cell.profile, cell.shape, drift)
            for cell in cells
            for drift in ("", *drift_plugin.selected(metafunc.config, cell.profile, cell.shape))
        ]
    elif not matrix and len(cells) == 1:
        return  # one combination: the fixture reads it from the marker, the id stays plain
    metafunc.parametrize(COMBINATION, cells, ids=[cell.id for cell in cells])


@pytest.fixture
def fakeqemu_combination(request: pytest.FixtureRequest) -> Combination:
    """The profile and shape of this test (a parameter when the matrix is on)."""
    (cell,) = combinations(request.node.nodeid, marker_keywords(request.node), matrix=False)
    return cell


@pytest.fixture
def fakeqemu_settings(
    request: pytest.FixtureRequest, fakeqemu_combination: Combination
) -> FakeSettings:
    """Everything the fixtures start their fakes with: marker keywords and combination."""
    from fakeqemu.testing.settings import FakeSettings

    keywords = marker_keywords(request.node)
    settings = {key: keywords[key] for key in SETTING_KEYWORDS if key in keywords}
    settings["shape"] = fakeqemu_combination.shape
    try:
        return FakeSettings.from_keywords(profile=fakeqemu_combination.profile, **settings)
    except (ValueError, LookupError) as error:
        raise MarkerError(f"{request.node.nodeid}: @pytest.mark.fakeqemu: {error}") from None


@pytest.fixture
def fakeqemu_hooks() -> list[FakeHook]:
    """Called with each fake the fixtures create, before it serves; none by default.

    Override it in a ``conftest.py`` to watch every fake a test gets (fakeqemu's own
    suite holds each one to its contracts this way: ``tests/conftest.py``).
    """
    return []


@pytest.fixture
def fakeqemu_drift_hooks(
    request: pytest.FixtureRequest, fakeqemu_hooks: list[FakeHook]
) -> Iterator[list[FakeHook]]:
    """``fakeqemu_hooks`` and, under ``--fakeqemu-drift``, the hook of this run's mutation."""
    plugin = request.config.pluginmanager.get_plugin(drift_plugin.PLUGIN_NAME)
    if plugin is None:
        yield fakeqemu_hooks
        return
    yield [*fakeqemu_hooks, *plugin.hooks_for(request.node)]
    plugin.after_run(request.node)


@pytest.fixture
def fakeqemu_threaded(
    fakeqemu_settings: FakeSettings, fakeqemu_drift_hooks: list[FakeHook]
) -> Iterator[ThreadedFakeQemu]:
    """A fake QEMU on a background thread, for plain and asyncio tests."""
    from fakeqemu.testing.threaded import threaded_fakes

    with threaded_fakes(fakeqemu_settings, fakeqemu_drift_hooks) as group:
        yield group.start(fakeqemu_settings.role)


@pytest.fixture
def fakeqemu_pair(
    fakeqemu_settings: FakeSettings, fakeqemu_drift_hooks: list[FakeHook]
) -> Iterator[FakeQemuPair]:
    """A source and a ``--incoming defer`` destination on one background clock."""
    from fakeqemu.testing.threaded import FakeQemuPair, threaded_fakes

    with threaded_fakes(fakeqemu_settings, fakeqemu_drift_hooks) as group:
        yield FakeQemuPair(group.start("source"), group.start("destination"))


def _trio_fixture(function: Callable[..., AsyncIterator[T]]) -> Any:
    """pytest-trio's ``trio_fixture``; without pytest-trio, a fixture that says so."""
    try:
        from pytest_trio import trio_fixture  # type: ignore[import-untyped]
    except ImportError:  # pragma: no cover - exercised only without pytest-trio

        @functools.wraps(function)
        def needs_pytest_trio(*args: Any, **kwargs: Any) -> None:
            raise pytest.UsageError(
                f"the {function.__name__} fixture runs in a trio test and needs pytest-trio "
                "(pip install pytest-trio); plain and asyncio tests use fakeqemu_threaded "
                "and fakeqemu_pair"
            )

        return pytest.fixture(needs_pytest_trio)
    return trio_fixture(function)


@asynccontextmanager
async def _trio_fakes(
    settings: FakeSettings, hooks: list[FakeHook]
) -> AsyncIterator[TrioFakeGroup]:
    from fakeqemu.testing.handles import open_trio_fakes

    if settings.speed != 1.0:
        raise MarkerError(
            "speed= sets the clock of threaded fakes; a trio test's fakes run on the "
            "test's own clock (request autojump_clock for virtual time)"
        )
    async with open_trio_fakes(settings, hooks) as group:
        yield group


@_trio_fixture
async def fakeqemu(
    fakeqemu_settings: FakeSettings, fakeqemu_drift_hooks: list[FakeHook]
) -> AsyncIterator[TrioFakeQemuHandle]:
    """A fake QEMU served in this trio test's nursery, on the test's clock."""
    async with _trio_fakes(fakeqemu_settings, fakeqemu_drift_hooks) as group:
        yield await group.start(fakeqemu_settings.role)


@_trio_fixture
async def fakeqemu_trio_pair(
    fakeqemu_settings: FakeSettings, fakeqemu_drift_hooks: list[FakeHook]
) -> AsyncIterator[TrioFakeQemuPair]:
    """A source and a ``--incoming defer`` destination in this trio test's nursery."""
    from fakeqemu.testing.handles import TrioFakeQemuPair

    async with _trio_fakes(fakeqemu_settings, fakeqemu_drift_hooks) as group:
        source = await group.start("source")
        yield TrioFakeQemuPair(source, await group.start("destination"))


# -- the matrix table (fakeqemu.testing.matrix_table) ---------------------------------


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        callspec = getattr(item, "callspec", None)
        combination = None if callspec is None else callspec.params.get(COMBINATION)
        if isinstance(combination, Combination) and not combination.drift:
            # Reports carry user_properties, also from xdist workers to the controller.
            item.user_properties.append((COMBINATION, combination.id))
