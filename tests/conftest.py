"""Strict contracts for the whole suite: every message any fake sends is checked.

The fakes are watched one by one, through their own ``session_observers``: tests make
them with ``tests.support.strict.make_fake`` (or hand ``STRICT_HOOKS`` to the helper
that does), and the plugin's fixtures take the hook from ``fakeqemu_hooks``,
overridden here.  Nothing global is patched.  Violations are collected (a fake
serving from a thread or a trio task must not crash mid-test) and fail the test
that caused them.  A test that makes a fake break its contract on purpose opts out
with ``@pytest.mark.no_strict_contracts``.
"""

from __future__ import annotations

from collections.abc import Generator

import pytest

from fakeqemu.testing.handles import FakeHook
from tests.support.strict import MONITOR, STRICT_HOOKS


@pytest.fixture
def fakeqemu_hooks() -> list[FakeHook]:
    """Every fake the plugin's fixtures create is held to its contract."""
    return list(STRICT_HOOKS)


def _report(when: str) -> str | None:
    violations = MONITOR.take()
    if not violations:
        return None
    details = "\n".join(str(violation) for violation in violations)
    return f"{len(violations)} contract violation(s) during {when}:\n{details}"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Generator[None, None, None]:
    MONITOR.take()
    MONITOR.enabled = item.get_closest_marker("no_strict_contracts") is None
    return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    try:
        result = yield
    except BaseException as error:
        # The test failed anyway; say what the fake broke on the way, once.
        report = _report("the test")
        if report is not None:
            error.add_note(report)
        raise
    report = _report("the test")
    if report is not None:
        pytest.fail(report)
    return result


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item) -> Generator[None, None, None]:
    result = yield
    MONITOR.enabled = True
    report = _report("teardown")
    if report is not None:
        pytest.fail(report)
    return result
