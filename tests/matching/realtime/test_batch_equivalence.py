"""One record matched by the index gets the batch levels, weight and explanation, for every
level kind (found by introspection: a kind without a pairwise strategy fails)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crmcore.io import Table
from crmcore.matching import (
    Comparison,
    ExactLevel,
    MatchModel,
    MatchRule,
    MatchSettings,
    TermFrequencies,
    block_on,
    explain_pair,
    prepare_frame,
    score_pairs,
)
from crmcore.matching.realtime import MatchIndex
from tests.matching.test_comparisons import (
    LEVEL_STRATEGIES,
    TEXT_EXPRESSIONS,
    level_kinds,
    pair_rows,
)

KINDS = sorted(level_kinds(), key=lambda k: k.__name__)


def _model(comparisons: tuple[Comparison, ...], frame, rule: bool) -> MatchModel:
    m, u = [], []
    for comp in comparisons:
        k = comp.n_levels - 1
        m.append((1.0, *np.linspace(0.6, 0.05, k)))
        u.append((1.0, *np.linspace(0.02, 0.9, k)))
    tf = {}
    for ci, comp in enumerate(comparisons):
        for li, level in enumerate(comp.levels, start=1):
            if isinstance(level, ExactLevel) and level.tf:
                tf[(ci, li)] = TermFrequencies.from_frame(frame, level.expression)
    rules = ()
    if rule:
        first = comparisons[0]
        rules = (MatchRule("first level", {first.name: (first.labels[1],)}, "match"),)
    return MatchModel(comparisons, m=m, u=u, prior=0.01, tf=tf, rules=rules)


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.__name__)
@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_index_match_is_the_batch_pair(kind, data) -> None:
    """Every candidate the index returns for a record has the levels, match weight,
    probability and explanation of the same pair scored and explained in batch."""
    strategy = LEVEL_STRATEGIES.get(kind)
    assert strategy is not None, f"no pairwise strategy for level kind {kind.__name__}"
    first = data.draw(strategy)
    others = data.draw(st.lists(st.lists(st.one_of(*LEVEL_STRATEGIES.values()), min_size=1,
                                         max_size=3), max_size=2))
    missing = data.draw(st.lists(TEXT_EXPRESSIONS, max_size=1))
    comparisons = (
        Comparison("c0", (first,), missing=tuple(missing)),
        *(Comparison(f"c{i + 1}", tuple(levels)) for i, levels in enumerate(others)),
    )
    rows = data.draw(st.lists(pair_rows, min_size=1, max_size=10))
    query = data.draw(pair_rows)
    records = [{"record_id": f"r{i}", "grp": "g", **r} for i, r in enumerate(rows)]
    table = Table.from_records([*records, {"record_id": "q", "grp": "g", **query}])
    match_settings = MatchSettings(comparisons=comparisons, blocking=(block_on("grp"),),
                                   threshold=0.5)
    frame, _ = prepare_frame(table, match_settings, ids=[*(r["record_id"] for r in records),
                                                         "q"])
    model = _model(comparisons, frame, data.draw(st.booleans()))
    index = MatchIndex.build(model, match_settings, records)
    assert index._pairwise  # scored pair by pair, through each level's holds
    got = {m.record_id: m for m in index.match({"record_id": "q", "grp": "g", **query},
                                               threshold=0.0)}
    n = len(records)
    assert sorted(got) == sorted(r["record_id"] for r in records)  # one block: all candidates
    batch = score_pairs(model, frame, None, np.arange(n), np.full(n, n))
    for i, record in enumerate(records):
        m = got[record["record_id"]]
        levels = {c.name: c.labels[int(lv)] for c, lv in zip(comparisons, batch.levels[i],
                                                              strict=True)}
        assert {c.name: m.explanation[c.name]["level"] for c in comparisons} == levels
        assert m.match_weight == float(batch.match_weight[i])
        assert m.probability == float(batch.probability[i])
        assert m.explanation == explain_pair(model, frame, i, n).explanation()


def test_every_kind_is_covered() -> None:
    """The kinds the equivalence test runs over are every level kind of crmcore.matching."""
    assert set(KINDS) == level_kinds()
    assert all(k in LEVEL_STRATEGIES for k in KINDS)


class TestDeprecatedModule:
    def test_old_import_path_warns_and_gives_the_same_class(self) -> None:
        """``crmcore.matching.index`` still gives MatchIndex, with a DeprecationWarning."""
        import crmcore.matching.index as old

        with pytest.warns(DeprecationWarning, match=r"crmcore\.matching\.realtime"):
            cls = old.MatchIndex
        assert cls is MatchIndex
        with warnings.catch_warnings():
            warnings.simplefilter("error")

    def test_unknown_names_still_fail(self) -> None:
        """Other names of the old module raise AttributeError."""
        import crmcore.matching.index as old

        with pytest.raises(AttributeError):
            _ = old.PairEngine
