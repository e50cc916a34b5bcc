"""Prediction: weights against a per-pair sum, rules, symmetry, scoring across two tables."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings

from crmcore.errors import ModelError
from crmcore.matching import (
    Frame,
    MatchModel,
    MatchRule,
    ScoredPairs,
    TermFrequencies,
    compute_levels,
    exact_match,
    fuzzy_comparison,
    given_name_comparison,
    score_levels,
    score_pairs,
)
from crmcore.matching._predict import RULE_WEIGHT, stack_frames
from tests.matching.strategies import frame_of, naive_value, records

COMPS = (
    given_name_comparison("first_name", family="last_name"),
    fuzzy_comparison("last_name", thresholds=(0.9,), tf=True),
    exact_match("city", tf=True),
)


def make_model(frame: Frame, rules: tuple[MatchRule, ...] = ()) -> MatchModel:
    """A hand-set model: agreement levels favour a match, the else level does not."""
    m, u = [], []
    for comp in COMPS:
        k = comp.n_levels - 1
        m.append((1.0, *np.linspace(0.5, 0.05, k)))
        u.append((1.0, *np.linspace(0.01, 0.9, k)))
    tf = {(ci, li): TermFrequencies.from_frame(frame, COMPS[ci].levels[li - 1].expressions[0])
          for ci, comp in enumerate(COMPS) for li in comp.tf_levels}
    return MatchModel(COMPS, m=m, u=u, prior=0.02, tf=tf, rules=rules)


def all_pairs(n: int) -> tuple[np.ndarray, np.ndarray]:
    i, j = np.triu_indices(n, 1)
    return i.astype(np.int64), j.astype(np.int64)


COLUMNS = ["first_name", "last_name", "city"]


class TestScoreLevels:
    @settings(max_examples=30, deadline=None)
    @given(records(columns=COLUMNS))
    def test_weight_is_prior_plus_level_weights_plus_tf(self, rows) -> None:
        """Each pair's weight equals the prior plus its levels' weights plus TF, summed by hand."""
        frame = frame_of(rows, COLUMNS)
        model = make_model(frame)
        left, right = all_pairs(len(rows))
        levels = compute_levels(model.comparisons, frame, left, right)
        weight, prob, rule = score_levels(model, levels, frame=frame, left=left, right=right)
        for k, (a, b) in enumerate(zip(left.tolist(), right.tolist(), strict=True)):
            total = model.prior_weight
            for ci in range(len(COMPS)):
                li = int(levels[k, ci])
                if li:
                    total += math.log2(model.m[ci][li] / model.u[ci][li])
                tf = model.tf.get((ci, li))
                if tf is not None:
                    value = naive_value(tf.expression, rows[a])
                    assert value == naive_value(tf.expression, rows[b])
                    total += tf.adjustment(value)
            assert weight[k] == pytest.approx(total)
            assert prob[k] == pytest.approx(2**total / (1 + 2**total))
        assert (rule == -1).all()

    def test_rules_force_the_outcome_first_rule_wins(self) -> None:
        """A match rule forces +RULE_WEIGHT, a veto -RULE_WEIGHT; the first rule that holds wins."""
        frame = Frame({"first_name": ["ann", "ann", "bob"], "last_name": ["lee", "lee", "ray"],
                       "city": ["x", "y", "x"]})
        rules = (
            MatchRule("different city", {"city": ("else",)}, "non_match"),
            MatchRule("same names", {"given name": ("exact first_name",),
                                     "last_name": ("exact last_name",)}),
        )
        model = make_model(frame, rules)
        left, right = np.array([0, 0, 1]), np.array([1, 2, 2])
        levels = compute_levels(model.comparisons, frame, left, right)
        weight, prob, rule = score_levels(model, levels)
        assert rule.tolist() == [0, -1, 0]
        assert weight[0] == -RULE_WEIGHT
        assert prob[0] < 1e-15
        forced = make_model(frame, rules[1:])
        weight, prob, rule = score_levels(forced, levels)
        assert rule.tolist() == [0, -1, -1]
        assert weight[0] == RULE_WEIGHT

    def test_wrong_width_raises(self) -> None:
        """A level matrix for other comparisons is refused."""
        model = make_model(Frame({c: ["x"] for c in COLUMNS}))
        with pytest.raises(ModelError, match="levels have 2 columns for 3 comparisons"):
            score_levels(model, np.zeros((1, 2), dtype=np.int8))


class TestScorePairs:
    @settings(max_examples=30, deadline=None)
    @given(records(columns=COLUMNS))
    def test_symmetric_for_dedupe(self, rows) -> None:
        """Scoring (j, i) gives the same weight, probability and levels as (i, j)."""
        frame = frame_of(rows, COLUMNS)
        model = make_model(frame)
        left, right = all_pairs(len(rows))
        forward = score_pairs(model, frame, None, left, right)
        backward = score_pairs(model, frame, None, right, left)
        assert np.allclose(forward.match_weight, backward.match_weight)
        assert np.allclose(forward.probability, backward.probability)
        assert np.array_equal(forward.levels, backward.levels)

    @settings(max_examples=20, deadline=None)
    @given(records(min_size=1, max_size=8, columns=COLUMNS),
           records(min_size=1, max_size=8, columns=COLUMNS))
    def test_two_tables_score_like_one_stacked_table(self, lrows, rrows) -> None:
        """Scoring across two tables equals scoring the same rows stacked in one frame."""
        lcols = {c: [r[c] for r in lrows] for c in COLUMNS}
        rcols = {c: [r[c] for r in rrows] for c in COLUMNS}
        stacked = frame_of(lrows + rrows, COLUMNS)
        model = make_model(stacked)
        li, ri = np.meshgrid(np.arange(len(lrows)), np.arange(len(rrows)), indexing="ij")
        li, ri = li.ravel(), ri.ravel()
        across = score_pairs(model, lcols, rcols, li, ri)
        within = score_pairs(model, stacked, None, li, ri + len(lrows))
        assert across.right.tolist() == ri.tolist()
        assert np.allclose(across.match_weight, within.match_weight)

    def test_frame_not_allowed_when_linking(self) -> None:
        """Linking needs column mappings, not a frame."""
        frame = Frame({c: ["x"] for c in COLUMNS})
        with pytest.raises(ModelError, match="not a Frame"):
            score_pairs(make_model(frame), frame, {c: ["x"] for c in COLUMNS}, [0], [0])


class TestStackFrames:
    def test_shared_columns_left_then_right(self) -> None:
        """The stacked frame holds the shared columns, left rows first."""
        frame, n_left = stack_frames({"a": ["x", "y"], "b": ["1", "2"]}, {"a": ["z"], "c": ["9"]})
        assert n_left == 2
        assert frame.column_names == ["a"]
        assert frame.values("a") == ["x", "y", "z"]


class TestScoredPairs:
    def pairs(self) -> ScoredPairs:
        return ScoredPairs(
            left=np.array([0, 0, 1]), right=np.array([1, 2, 2]),
            match_weight=np.array([5.0, -3.0, 0.0]),
            probability=np.array([0.97, 0.11, 0.5]),
            levels=np.array([[1, 1], [3, 2], [0, 1]], dtype=np.int8),
            rule=np.full(3, -1, dtype=np.int8), comparison_names=("a", "b"),
        )

    def test_above_and_select(self) -> None:
        """above keeps pairs at or above the threshold; select keeps the chosen pairs."""
        pairs = self.pairs()
        assert pairs.above(0.5).left.tolist() == [0, 1]
        assert len(pairs.select(np.array([2]))) == 1
        assert pairs.select(np.array([2])).levels.tolist() == [[0, 1]]

    def test_to_columns_with_labels_and_ids(self) -> None:
        """Columns carry ids, rounded scores and, with a model, level labels."""
        model = MatchModel(
            (fuzzy_comparison("a", thresholds=(0.8,)), exact_match("b")),
            m=[(1.0, 0.7, 0.2, 0.1), (1.0, 0.9, 0.1)],
            u=[(1.0, 0.01, 0.09, 0.9), (1.0, 0.2, 0.8)], prior=0.1,
        )
        cols = self.pairs().to_columns(model, left_ids=["x", "y", "z"], right_ids=["x", "y", "z"])
        assert cols["left"] == ["x", "x", "y"]
        assert cols["right"] == ["y", "z", "z"]
        assert cols["a"] == ["exact a", "else", "missing"]
        assert cols["b"] == ["exact b", "else", "exact b"]
        assert self.pairs().to_columns()["a"] == [1, 3, 0]


class TestScoreRecords:
    @settings(max_examples=40, deadline=None)
    @given(records(columns=COLUMNS, min_size=2))
    def test_pairwise_scores_are_the_batch_ones_bit_for_bit(self, rows) -> None:
        """Every earlier row scored against the last one pair by pair gets the levels, weight,
        probability and rule of score_pairs, to the last bit (TF tables and a rule included)."""
        from crmcore.matching import RecordValues, score_records

        frame = frame_of(rows, COLUMNS)
        rule = MatchRule("same names", {"given name": ("exact first_name",),
                                        "last_name": ("exact last_name",)}, "match")
        model = make_model(frame, (rule,))
        k = len(rows) - 1
        left, right = np.arange(k), np.full(k, k)
        batch = score_pairs(model, frame, None, left, right)
        values = [RecordValues({c: r.get(c) for c in COLUMNS}) for r in rows]
        got = score_records(model, values[:k], values[k])
        np.testing.assert_array_equal(got.levels, batch.levels)
        assert got.match_weight.tolist() == batch.match_weight.tolist()
        assert got.probability.tolist() == batch.probability.tolist()
        assert got.rule.tolist() == batch.rule.tolist()
        assert got.left.tolist() == list(range(k))
        assert got.right.tolist() == [k] * k


class TestModelScorer:
    @settings(max_examples=40, deadline=None)
    @given(records(columns=COLUMNS, min_size=2))
    def test_few_and_many_pairs_give_the_same_bits(self, rows) -> None:
        """The cumulative sum used for a few pairs and the per-comparison loop used for many
        add the same numbers in the same order: equal weights to the last bit."""
        from crmcore.matching import ModelScorer

        frame = frame_of(rows, COLUMNS)
        model = make_model(frame)
        left, right = all_pairs(len(rows))
        levels = compute_levels(model.comparisons, frame, left, right)
        tf = np.linspace(-1.5, 2.5, len(levels))
        scorer = ModelScorer(model)
        reps = 300 // len(levels) + 1  # more than 256 rows: the loop
        many, many_tf = np.tile(levels, (reps, 1)), np.tile(tf, reps)
        n = len(levels)
        for got, want in zip(scorer.score(levels, tf), scorer.score(many, many_tf), strict=True):
            assert got.tolist() == want[:n].tolist()
        assert scorer.score(levels)[0].tolist() == scorer.score(many)[0][:n].tolist()
