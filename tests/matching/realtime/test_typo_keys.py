"""Typo-tolerant block keys (``deletions(...)``) in the real-time index as in batch."""

from __future__ import annotations

import warnings

from hypothesis import given, settings
from hypothesis import strategies as st

from crmcore.matching import (
    ClusterOptions,
    MatchModel,
    MatchSettings,
    block_on,
    dedupe,
    exact_match,
    fuzzy_comparison,
)
from crmcore.matching.realtime import MatchIndex

COMPARISONS = (
    exact_match("first_name"),
    fuzzy_comparison("last_name", thresholds=(0.7,)),
    exact_match("city"),
)
#: A surname one keystroke off pairs with the same city; with the same given name only in
#: blocks of at most three records (a capped multi-valued rule).
SETTINGS = MatchSettings(
    comparisons=COMPARISONS,
    blocking=(
        block_on("deletions(last_name)", "city"),
        block_on("canonical_given(first_name)", "deletions(last_name)", max_block_size=3),
    ),
    prepare={"first_name": "name", "last_name": "name", "city": "text"},
    threshold=0.9,
    cluster=ClusterOptions(method="components"),
)
MODEL = MatchModel(
    comparisons=COMPARISONS,
    m=[(1.0, 0.9, 0.1), (1.0, 0.6, 0.3, 0.1), (1.0, 0.9, 0.1)],
    u=[(1.0, 0.05, 0.95), (1.0, 0.01, 0.01, 0.98), (1.0, 0.1, 0.9)],
    prior=0.05,
)
rows_strategy = st.lists(
    st.fixed_dictionaries(
        {
            "first_name": st.sampled_from(["Ann", "Anne", "Bob", None]),
            "last_name": st.sampled_from(["Smith", "Smiht", "Smyth", "Smit", "Lee", "Le", None]),
            "city": st.sampled_from(["Oslo", "Lyon", None]),
        }
    ),
    min_size=2,
    max_size=16,
)


def _partition(mapping: dict[str, str]) -> set[frozenset[str]]:
    groups: dict[str, set[str]] = {}
    for record, entity in mapping.items():
        groups.setdefault(entity, set()).add(record)
    return {frozenset(g) for g in groups.values()}


def _batch(rows: list[dict[str, str | None]]) -> set[frozenset[str]]:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "no blocking rule can pair", UserWarning)
        res = dedupe(rows, id_column="record_id", settings=SETTINGS, model=MODEL)
    return _partition(dict(zip(res.ids, res.entity_ids, strict=True)))


class TestTypoKeysInIndex:
    @settings(max_examples=40, deadline=None)
    @given(rows_strategy, st.randoms(use_true_random=False))
    def test_incremental_equals_batch(self, rows, rnd) -> None:
        """Records added one by one, in any order, end in the batch clusters."""
        rows = [{"record_id": f"r{i:02d}", **r} for i, r in enumerate(rows)]
        index = MatchIndex(MODEL, SETTINGS)
        order = list(rows)
        rnd.shuffle(order)
        for row in order:
            index.add(row)
        assert _partition(index.entities()) == _batch(rows)

    def test_typo_pairs_in_index(self) -> None:
        """A transposed surname in the same city is a candidate, and matches."""
        index = MatchIndex(MODEL, SETTINGS)
        index.add({"record_id": "a", "first_name": "Ann", "last_name": "Smith", "city": "Oslo"})
        index.add({"record_id": "b", "first_name": "Ann", "last_name": "Smiht", "city": "Oslo"})
        assert index.entity_of("a") == index.entity_of("b")
