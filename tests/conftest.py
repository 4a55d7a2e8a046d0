"""Strict contracts for the whole suite: every message any fake sends is checked.

Violations are collected (a fake serving from a thread or a trio task must not
crash mid-test) and fail the test that caused them.  A test that makes a fake
break its contract on purpose opts out with ``@pytest.mark.no_strict_contracts``.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator

import pytest

from fakeqemu.testing.strict import ContractMonitor, strict_everywhere

MONITOR = ContractMonitor(collect=True)


@pytest.fixture(scope="session", autouse=True)
def _strict_contracts() -> Iterator[ContractMonitor]:
    with strict_everywhere(MONITOR) as monitor:
        yield monitor


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
