"""bench/drift.py: the counts it prints come from the catalog (the timing is `make bench`'s)."""

from __future__ import annotations

from bench.drift import mutation_counts
from fakeqemu.drift.catalog import mutations_for
from fakeqemu.vocabulary import PROFILE_NAMES, SHAPES


def test_the_counts_are_the_catalog_s() -> None:
    counts = mutation_counts()
    assert [(p, s) for p, s, *_ in counts] == [(p, s) for p in PROFILE_NAMES for s in SHAPES]
    for profile, shape, singles, pairs, groups in counts:
        assert singles == len(mutations_for(profile, shape))
        assert 0 < pairs < singles
        assert 0 < groups < singles
