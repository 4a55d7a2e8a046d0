"""``fakeqemu contracts diff --verdict``: each change judged for three kinds of decoder."""

from __future__ import annotations

import pytest

from fakeqemu.cli import main
from fakeqemu.contracts.diff import diff


def verdicts(old: str, new: str) -> dict[str, str]:
    """Each changed path (first occurrence) -> its change and bracketed verdicts."""
    found: dict[str, str] = {}
    for line in diff(old, new, verdict=True)[2:]:
        if line.startswith("  "):
            path, _, rest = line.strip().partition("  ")
            found.setdefault(path, rest.strip())
    return found


ALL_BREAK = "[strict: breaking, lenient: breaking, allow-list: breaking]"
ALL_SAFE = "[strict: safe, lenient: safe, allow-list: safe]"
UNKNOWN_MEMBER = "[strict: breaking, lenient: safe, allow-list: safe]"
UNKNOWN_VALUE = "[strict: breaking, lenient: safe, allow-list: breaking]"


def test_the_seed_patch_breaks_every_decoder_that_relied_on_the_members_it_made_optional() -> None:
    found = verdicts("11.1/old", "11.1/new")
    assert found["ram.dirty-sync-count"] == f"made optional  {ALL_BREAK}"
    # The patch's own code drops dirty-pages-rate from a completed source.
    source = diff("11.1/old", "11.1/new", verdict=True)
    assert f"  ram.dirty-pages-rate  required, = 0 -> absent  (status completed)  {ALL_BREAK}" in (
        source
    )
    # Members appearing on the destination are safe in themselves (their type's
    # changes are judged in the type's section).
    assert found["ram.transferred"] == f"absent -> required  (status completed)  {ALL_SAFE}"


def test_a_release_that_adds_members_and_statuses() -> None:
    found = verdicts("10.0/old", "11.1/old")
    assert found["remaining"] == f"added (optional integer)  {UNKNOWN_MEMBER}"
    assert found["status"] == f"enum values added: postcopy-device, failing  {UNKNOWN_VALUE}"
    assert found["status failing"].endswith(UNKNOWN_VALUE)


def test_removing_a_required_member_breaks_all_and_an_optional_one_none() -> None:
    found = verdicts("7.2/old", "10.0/old")
    assert found["ram.skipped"] == f"removed  {ALL_BREAK}"  # 9.1's break of Rust and Go
    assert found["compression"] == f"removed  {ALL_SAFE}"
    assert verdicts("11.1/old", "10.0/old")["status"].endswith(ALL_SAFE)  # values removed


def test_the_command_line_prints_the_verdicts(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["contracts", "diff", "10.0/old", "11.1/old", "--verdict"]) == 0
    assert capsys.readouterr().out.splitlines() == diff("10.0/old", "11.1/old", verdict=True)
    assert main(["contracts", "diff", "10.0/old", "11.1/old"]) == 0
    assert "breaking" not in capsys.readouterr().out
