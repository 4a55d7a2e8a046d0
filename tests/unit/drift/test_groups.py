"""Group runs: compatible local mutations together, halves only below a group that broke."""

from __future__ import annotations

import pytest

from fakeqemu.drift.catalog import mutations_for
from fakeqemu.drift.groups import containing, group_tree, is_group, pack
from fakeqemu.drift.mutation import compatible
from fakeqemu.vocabulary import PROFILE_NAMES, SHAPES


@pytest.mark.parametrize("profile", PROFILE_NAMES)
@pytest.mark.parametrize("shape", SHAPES)
def test_groups_hold_only_mutations_that_cannot_hide_each_other(profile: str, shape: str) -> None:
    singles = mutations_for(profile, shape)
    groups = pack(singles)
    for group in groups:
        assert len(group) > 1
        if group[0].kind != "enum":
            assert all(compatible(a, b) for a in group for b in group if a != b)
    grouped = [m for group in groups for m in group]
    assert len(grouped) == len(set(grouped))
    # Far fewer group runs than mutations: what makes a drift run affordable.
    assert len(groups) * 8 < len(grouped)
    # Local mutations of different members, or the values of one enumeration.
    for group in groups:
        kinds = {m.kind for m in group}
        assert all(m.local for m in group) or (
            kinds == {"enum"} and len({m.path for m in group}) == 1
        )


def test_the_tree_halves_each_group_down_to_pairs_parents_first() -> None:
    singles = mutations_for("11.1", "new")
    tree = group_tree(singles)
    ids = [group.id for group in tree]
    by_id = {group.id: group for group in tree}
    assert ids[0] == "group:1"
    assert all(is_group(i) for i in ids)
    for group in tree:
        if group.parent is not None:
            assert ids.index(group.parent) < ids.index(group.id)
            assert set(group.members) < set(by_id[group.parent].members)
        assert len(group.members) >= 2
    first = by_id["group:1"].members[0]
    chain = containing(tree, first)
    assert [len(g.members) for g in chain] == sorted(len(g.members) for g in chain)
    assert chain[-1].id == "group:1"
    assert chain[0].id.startswith("group:1.0")
