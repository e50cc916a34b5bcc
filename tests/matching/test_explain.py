"""Explanations: pair waterfalls that add up, as data, text and chart; cluster spanning trees."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given, settings

from crmcore.errors import MatchingConfigError
from crmcore.matching import (
    ClusterOptions,
    Frame,
    MatchModel,
    MatchRule,
    TermFrequencies,
    Waterfall,
    cluster_pairs,
    exact_match,
    explain_cluster,
    explain_pair,
    fuzzy_comparison,
    score_pairs,
)
from tests.matching.strategies import (
    frame_of,
    naive_components,
    pairs_of,
    records,
    scored_pairs,
)

COLUMNS = ["first_name", "last_name", "city"]
COMPS = (
    fuzzy_comparison("first_name", thresholds=(0.85,)),
    exact_match("last_name", tf=True),
    exact_match("city"),
)


def make_model(frame: Frame, rules: tuple[MatchRule, ...] = ()) -> MatchModel:
    return MatchModel(
        COMPS,
        m=[(1.0, 0.8, 0.15, 0.05), (1.0, 0.9, 0.1), (1.0, 0.7, 0.3)],
        u=[(1.0, 0.02, 0.08, 0.9), (1.0, 0.05, 0.95), (1.0, 0.1, 0.9)],
        prior=0.01,
        tf={(1, 1): TermFrequencies.from_frame(frame, "last_name")},
        rules=rules,
    )


class TestExplainPair:
    @settings(max_examples=30, deadline=None)
    @given(records(min_size=2, max_size=10, columns=COLUMNS))
    def test_steps_add_up_to_the_batch_score(self, rows) -> None:
        """Prior plus each comparison's weight and TF equals the pair's batch match weight."""
        frame = frame_of(rows, COLUMNS)
        model = make_model(frame)
        scored = score_pairs(model, frame, None, [0], [1])
        waterfall = explain_pair(model, frame, 0, 1)
        assert [s.name for s in waterfall.steps] == ["prior", *(c.name for c in COMPS)]
        total = sum(s.weight + s.tf_adjustment for s in waterfall.steps)
        assert total == pytest.approx(waterfall.match_weight)
        assert waterfall.match_weight == pytest.approx(float(scored.match_weight[0]))
        assert waterfall.probability == pytest.approx(float(scored.probability[0]))
        for step, comp, level in zip(waterfall.steps[1:], COMPS, scored.levels[0], strict=True):
            assert step.level == comp.labels[int(level)]
            assert (step.left_value, step.right_value) == (
                rows[0][comp.missing[0]], rows[1][comp.missing[0]])

    @settings(max_examples=30, deadline=None)
    @given(records(min_size=2, max_size=10, columns=COLUMNS))
    def test_from_levels_and_record_values_is_the_batch_waterfall(self, rows) -> None:
        """explain_levels over the pair's levels and the two records' values gives the batch
        waterfall (explain_pair) exactly; its short form has the prior, each level and the rule."""
        from crmcore.matching import RecordValues, explain_levels

        frame = frame_of(rows, COLUMNS)
        model = make_model(frame)
        scored = score_pairs(model, frame, None, [0], [1])
        left, right = (RecordValues({c: r[c] for c in COLUMNS}) for r in rows[:2])
        got = explain_levels(model, scored.levels[0].tolist(), left, right,
                             match_weight=float(scored.match_weight[0]),
                             probability=float(scored.probability[0]), rows=(0, 1))
        assert got == explain_pair(model, frame, 0, 1)
        short = got.explanation()
        assert short["prior"] == model.prior_weight
        assert short["rule"] is None
        assert [short[c.name]["level"] for c in COMPS] == [s.level for s in got.steps[1:]]

    def test_rule_is_named(self) -> None:
        """A pair decided by a rule names the rule in the waterfall and its text."""
        frame = Frame({"first_name": ["ann", "ann"], "last_name": ["lee", "lee"],
                       "city": ["x", "x"]})
        rule = MatchRule("same everything", {"city": ("exact city",)})
        waterfall = explain_pair(make_model(frame, (rule,)), frame, 0, 1)
        assert waterfall.rule == "same everything"
        assert "decided by rule 'same everything'" in waterfall.to_text()

    def test_data_and_text(self) -> None:
        """to_dict is JSON-ready; to_text has one line per step plus the total."""
        frame = Frame({"first_name": ["ann", "anne"], "last_name": ["lee", "lee"],
                       "city": ["x", None]})
        waterfall = explain_pair(make_model(frame), frame, 0, 1)
        data = json.loads(json.dumps(waterfall.to_dict()))
        assert data["steps"][2]["level"] == "exact last_name"
        assert data["steps"][3]["level"] == "missing"
        lines = waterfall.to_text().splitlines()
        assert len(lines) == len(waterfall.steps) + 1
        assert lines[-1].startswith("total")
        assert "[ann | anne]" in lines[1]

    def test_chart(self) -> None:
        """plot draws one bar per step on a matplotlib Axes."""
        import matplotlib as mpl

        mpl.use("Agg")
        import matplotlib.pyplot as plt

        frame = Frame({"first_name": ["ann", "ann"], "last_name": ["lee", "li"],
                       "city": ["x", "x"]})
        waterfall = explain_pair(make_model(frame), frame, 0, 1)
        ax = waterfall.plot()
        try:
            assert len(ax.patches) == len(waterfall.steps)
            widths = [p.get_width() for p in ax.patches]
            assert widths == pytest.approx([abs(s.weight + s.tf_adjustment)
                                            for s in waterfall.steps])
        finally:
            plt.close(ax.figure)

    def test_hand_built_waterfall_text(self) -> None:
        """The running total in the text follows the steps."""
        from crmcore.matching import Contribution

        w = Waterfall(0, 1, (Contribution("prior", "prior odds", -5.0),
                             Contribution("a", "exact a", 7.0, 1.0, "x", "x")), 3.0, 0.89)
        text = w.to_text()
        assert "+8.00 (TF +1.00)  ->   +3.00  [x | x]" in text


def prim_weight(members: list[int], edges: list[tuple[int, int, float]]) -> float:
    """Total weight of a maximum spanning tree by Prim's algorithm (connected members)."""
    inside = {members[0]}
    total = 0.0
    while len(inside) < len(members):
        best = max((w, a, b) for a, b, w in edges if (a in inside) != (b in inside))
        total += best[0]
        inside |= {best[1], best[2]}
    return total


class TestExplainCluster:
    @settings(max_examples=40, deadline=None)
    @given(scored_pairs(max_nodes=12, max_edges=30))
    def test_members_edges_and_maximum_spanning_tree(self, case) -> None:
        """Members, inside edges and density match brute force; the tree is a maximum one."""
        n, pairs = case
        threshold = 0.5
        labels = cluster_pairs(n, pairs, threshold=threshold,
                               options=ClusterOptions(method="components"))
        for row in range(n):
            got = explain_cluster(pairs, labels, row, threshold=threshold)
            members = [i for i in range(n) if labels[i] == labels[row]]
            assert list(got.members) == members
            inside = [k for k in range(len(pairs))
                      if pairs.probability[k] >= threshold
                      and pairs.left[k] in members and pairs.right[k] in members]
            assert sorted(got.edges) == inside
            size = len(members)
            assert got.density == (len(inside) / (size * (size - 1) / 2) if size > 1 else 1.0)
            tree = list(got.spanning_tree)
            assert len(tree) == size - 1
            assert set(tree) <= set(inside)
            tree_edges = [(int(pairs.left[k]), int(pairs.right[k])) for k in tree]
            assert len({naive_components(n, tree_edges)[m] for m in members}) == 1
            weights = [float(pairs.match_weight[k]) for k in tree]
            assert weights == sorted(weights)
            edges = [(int(pairs.left[k]), int(pairs.right[k]), float(pairs.match_weight[k]))
                     for k in inside]
            if size > 1:
                assert math.isclose(sum(weights), prim_weight(members, edges))

    def test_text_and_bad_row(self) -> None:
        """The text names the links with ids; a row outside the data is refused."""
        pairs = pairs_of([(0, 1, 9.0), (1, 2, 2.0)])
        labels = cluster_pairs(3, pairs, threshold=0.5)
        explanation = explain_cluster(pairs, labels, 2, threshold=0.5)
        text = explanation.to_text(pairs, ["a", "b", "c"])
        assert text.splitlines()[1].strip().startswith("b -- c  weight +2.00")
        with pytest.raises(MatchingConfigError, match="row 3 is not in the data"):
            explain_cluster(pairs, labels, 3, threshold=0.5)
