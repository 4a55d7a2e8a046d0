"""The seed patch as the contracts state it: the "To-be" and "As-is" replies, the source side."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from fakeqemu.contracts import ContractError, validate
from fakeqemu.profiles import get_profile
from fakeqemu.profiles.patch import PATCH_OPTIONAL_STATS, apply_patch, index
from fakeqemu.profiles.patch import migration_stats as stats_type
from tests.support.recordings import VERSIONS

#: The patch's "To-be" destination reply, as its mail prints it.
TO_BE = json.loads("""
{
    "return": {
        "status": "completed",
        "total-time": 94,
        "ram": {
            "total": 554508288,
            "pages-per-second": 1440234,
            "page-size": 4096,
            "remaining": 0,
            "mbps": 97.955404255319152,
            "transferred": 1150976,
            "duplicate": 135101,
            "normal-bytes": 1150976,
            "normal": 281
        }
    }
}
""")
AS_IS = {"return": {"status": "completed"}}


def test_to_be_keeps_the_new_contract_of_a_destination() -> None:
    validate(TO_BE, profile="11.1", shape="new", role="destination")
    validate(TO_BE, profile="11.1", shape="new")


def test_to_be_breaks_the_old_contract_naming_ram() -> None:
    with pytest.raises(ContractError) as caught:
        validate(TO_BE, profile="11.1", shape="old", role="destination")
    first = caught.value.problems[0]
    assert first.startswith("$.return.ram: is not allowed here"), first
    assert "$.return.total-time: is not allowed here" in str(caught.value)


def test_to_be_breaks_the_old_type_even_without_a_role() -> None:
    with pytest.raises(ContractError) as caught:
        validate(TO_BE, profile="11.1", shape="old")
    assert {problem.split(":")[0] for problem in caught.value.problems} == {"$.return.ram"}
    assert "'dirty-sync-count' is a required property" in str(caught.value)


def test_as_is_is_old_and_no_longer_enough_for_new() -> None:
    validate(AS_IS, profile="11.1", shape="old", role="destination")
    with pytest.raises(ContractError, match="'ram' is a required property"):
        validate(AS_IS, profile="11.1", shape="new", role="destination")


def _to_be(**changes: Any) -> dict[str, Any]:
    reply: dict[str, Any] = copy.deepcopy(TO_BE)
    reply["return"]["ram"].update(changes)
    return reply


def test_a_destination_sends_no_source_only_member() -> None:
    with pytest.raises(ContractError, match=r"\$\.return\.ram\.dirty-sync-count: is not allowed"):
        validate(_to_be(**{"dirty-sync-count": 0}), profile="11.1", shape="new", role="destination")


def test_a_destination_total_time_is_only_sent_when_positive() -> None:
    reply = _to_be()
    reply["return"]["total-time"] = 0
    with pytest.raises(ContractError, match=r"\$\.return\.total-time: 0 is less than"):
        validate(reply, profile="11.1", shape="new", role="destination")
    del reply["return"]["total-time"]
    validate(reply, profile="11.1", shape="new", role="destination")


def test_a_7_2_destination_still_sends_skipped() -> None:
    # 7.2's MigrationStats has the mandatory `skipped`; the patch leaves it mandatory.
    with pytest.raises(ContractError, match="'skipped' is a required property"):
        validate(TO_BE, profile="7.2", shape="new", role="destination")
    validate(_to_be(skipped=0), profile="7.2", shape="new", role="destination")


def _completed_source(*dropped: str) -> dict[str, Any]:
    members = stats_type(index(get_profile("11.1").introspection))["members"]
    ram: dict[str, Any] = {entry["name"]: 0 for entry in members}
    ram["mbps"] = 1.5
    for name in dropped:
        del ram[name]
    return {
        "return": {
            "status": "completed",
            "setup-time": 1,
            "total-time": 90,
            "downtime": 10,
            "ram": ram,
        }
    }


def test_a_completed_source_drops_dirty_pages_rate_with_the_patch() -> None:
    # populate_ram_info() sets has_dirty_pages_rate only while not completed.
    validate(_completed_source(), profile="11.1", shape="old", role="source")
    validate(_completed_source("dirty-pages-rate"), profile="11.1", shape="new", role="source")
    with pytest.raises(ContractError, match=r"ram\.dirty-pages-rate: is not allowed"):
        validate(_completed_source(), profile="11.1", shape="new", role="source")
    with pytest.raises(ContractError, match="'dirty-sync-count' is a required property"):
        validate(
            _completed_source("dirty-pages-rate", "dirty-sync-count"),
            profile="11.1",
            shape="new",
            role="source",
        )


@pytest.mark.parametrize("version", VERSIONS)
def test_the_patch_marks_exactly_eight_members_optional(version: str) -> None:
    old = get_profile(version).introspection
    new = apply_patch(old)
    changed = [(a, b) for a, b in zip(old, new, strict=True) if a != b]
    assert len(changed) == 1
    before, after = changed[0]
    assert before is stats_type(index(old))
    optional = [m["name"] for m in after["members"] if "default" in m]
    assert sorted(optional) == sorted(PATCH_OPTIONAL_STATS)
    # QEMU's own layout for an optional member: name, default, then type.
    first = next(m for m in after["members"] if m["name"] == "dirty-pages-rate")
    assert list(first) == ["name", "default", "type"]
    assert first["default"] is None
