"""The load and fault benchmark (bench/load.py) works: every scenario, tiny, on fakes.

No figure is asserted: speed and memory belong to ``make bench``.  What is asserted
is that each scenario ran to its end, checked every reply and found nothing wrong,
and that its checks and its timeout fire when something is wrong.  With real QEMU
installed, the fake must answer the garbage and the kills exactly as QEMU does.
"""

from __future__ import annotations

import time

import pytest

from bench.config import TINY
from bench.load import SCENARIOS, compare, main, run_scenario
from bench.qmp_io import QmpLines, ReplyChecker
from bench.report import Value
from bench.servers import BenchError, Target, processes, qemu_targets

FAKE = Target("fake", "11.1")

#: Per scenario, figures that say it ran to its end (the problems list says it passed).
RAN_TO_THE_END: dict[str, dict[str, Value]] = {
    "monitors": {"commands answered": TINY.monitors * TINY.commands, "clients failed": 0},
    "queue": {"clients greeted": TINY.queued_clients, "clients served": TINY.queued_clients},
    "flood": {"requests written": TINY.flood, "lost": 0, "misordered": 0, "malformed": 0},
    "schemas": {"requests written": TINY.schemas, "lost": 0, "replies of another size": 0},
    "garbage": {"mixed: MiB sent": 1.0, "clean client served": "yes"},
    "kill": {
        "dst killed: source status": "failed",
        "dst killed: source still serves": "yes",
        "src killed: destination exit status": 1,
    },
}


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_each_scenario_runs_clean_on_a_fake(scenario: str) -> None:
    outcome = run_scenario(scenario, FAKE, TINY)
    assert outcome.problems == []
    for name, value in RAN_TO_THE_END[scenario].items():
        assert outcome.value(name) == value, name
    assert isinstance(outcome.value("RSS after (MiB)"), float)


def test_the_command_line_runs_and_reports(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--tiny", "--qemu", "none", "--only", "queue,flood"]) == 0
    out = capsys.readouterr().out
    assert "== 10 clients queued on one monitor ==" in out
    assert "| flood | seconds to last reply |" in out
    assert out.rstrip().endswith("all checks passed")


def test_the_reply_checker_counts_what_is_wrong() -> None:
    checker = ReplyChecker(100)
    checker.sent(5)
    for line in (
        b'{"return": {}, "id": 100}\r\n',
        b'{"return": {}, "id": 102}\r\n',  # 101 skipped: misordered
        b'{"event": "STOP", "data": {}}\r\n',
        b'{"return": {}, "id": 102}\r\n',  # twice: malformed
        b'{"return": {}, "id": 7}\r\n',  # never sent: malformed
        b'{"error": {"class": "GenericError", "desc": "x"}, "id": 103}\r\n',  # no return
        b"{not json\r\n",
        b'{"return": {}, "id": 101}\r\n',
    ):
        checker.check(line)
    # 100, 102, 103 (with an error: malformed too) and 101 answered; 102 and 103 early.
    assert (checker.answered, checker.misordered, checker.malformed) == (4, 2, 4)
    assert (checker.lines, checker.events) == (7, 1)
    assert checker.outstanding == 1  # 104: lost


def test_the_watchdog_kills_the_servers_of_a_scenario_that_runs_too_long() -> None:
    with processes() as procs:
        server = procs.start(FAKE, 1)
        began = time.monotonic()
        with QmpLines.connect(server.sockets[0], 30) as monitor:
            monitor.negotiate()
            with pytest.raises(BenchError, match="timed out"), procs.watchdog(0.2):
                monitor.read_line()  # a reply that never comes, until the server is killed
        assert server.proc.poll() is not None
        assert time.monotonic() - began < 10


def _real_qemu() -> Target:
    try:
        targets = qemu_targets(None)
    except BenchError as error:
        pytest.skip(str(error))
    if not targets:
        pytest.skip("no qemu-system-x86_64 installed")
    return targets[0]


@pytest.mark.real_qemu
def test_garbage_gets_the_same_replies_from_the_fake_as_from_qemu() -> None:
    qemu = _real_qemu()
    outcomes = [
        run_scenario("garbage", target, TINY) for target in (Target("fake", qemu.release), qemu)
    ]
    compare("garbage", outcomes)
    assert [outcome.problems for outcome in outcomes] == [[], []]
    assert outcomes[0].value("same replies as QEMU") == "yes"


@pytest.mark.real_qemu
def test_both_kills_are_reported_as_qemu_reports_them() -> None:
    qemu = _real_qemu()
    fake, real = (
        run_scenario("kill", target, TINY) for target in (Target("fake", qemu.release), qemu)
    )
    assert (fake.problems, real.problems) == ([], [])
    for name in (
        "dst killed: source status",
        "dst killed: source error-desc",
        "src killed: last MIGRATION event",
        "src killed: destination exit status",
        "src killed: destination stderr",
    ):
        assert fake.value(name) == real.value(name), name
