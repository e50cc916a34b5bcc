"""The Fellegi-Sunter model: weights, JSON, u by sampling, EM, pattern counts, training."""

from __future__ import annotations

import json
import math
import tempfile
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crmcore.errors import ModelError
from crmcore.matching import (
    Comparison,
    ExactLevel,
    Frame,
    MatchModel,
    MatchRule,
    MatchSettings,
    TermFrequencies,
    TrainingOptions,
    block,
    block_on,
    compute_levels,
    estimate_u,
    exact_match,
    expectation_maximisation,
    fuzzy_comparison,
    score_levels,
    train_model,
)
from crmcore.matching._em import pattern_counts, patterns_with_inverse

COMPS = (fuzzy_comparison("a", thresholds=(0.8,), tf=True), exact_match("b"))


def model_with(m_a=(0.7, 0.2, 0.1), u_a=(0.01, 0.09, 0.9), m_b=(0.9, 0.1), u_b=(0.2, 0.8),
               prior=0.01, **kwargs) -> MatchModel:
    return MatchModel(COMPS, m=[(1.0, *m_a), (1.0, *m_b)], u=[(1.0, *u_a), (1.0, *u_b)],
                      prior=prior, **kwargs)


def simulate(rng: np.random.Generator, n: int, m: list[np.ndarray], u: list[np.ndarray],
             prior: float) -> np.ndarray:
    """Level rows of n pairs drawn from a Fellegi-Sunter model (levels start at 1)."""
    match = rng.random(n) < prior
    cols = [np.where(match, rng.choice(len(mc), size=n, p=mc), rng.choice(len(uc), size=n, p=uc))
            + 1 for mc, uc in zip(m, u, strict=True)]
    return np.stack(cols, axis=1).astype(np.int8)


def distribution(first: float, n_levels: int, rest_first: bool) -> np.ndarray:
    """A level distribution with ``first`` on level 1 and the rest spread geometrically."""
    tail = np.array([2.0 ** -k for k in range(n_levels - 1)])
    if not rest_first:
        tail = tail[::-1]
    return np.r_[first, (1 - first) * tail / tail.sum()]


class TestMatchModel:
    def test_weights_are_log2_m_over_u(self) -> None:
        """A level's weight is log2(m / u); the missing level weighs 0."""
        model = model_with()
        weights = model.weights()
        assert weights[0][0] == 0.0
        assert weights[0][1] == pytest.approx(math.log2(0.7 / 0.01))
        assert weights[1][2] == pytest.approx(math.log2(0.1 / 0.8))
        assert model.prior_weight == pytest.approx(math.log2(0.01 / 0.99))

    def test_validation(self) -> None:
        """Priors, level counts, probabilities and rules are checked."""
        with pytest.raises(ModelError, match="prior"):
            model_with(prior=1.0)
        with pytest.raises(ModelError, match="levels but"):
            MatchModel(COMPS, m=[(1.0, 0.5), (1.0, 0.9, 0.1)],
                       u=[(1.0, 0.5), (1.0, 0.2, 0.8)], prior=0.1)
        with pytest.raises(ModelError, match="positive"):
            model_with(m_b=(1.0, 0.0))
        with pytest.raises(ModelError, match="unknown comparison 'zz'"):
            model_with(rules=[MatchRule("r", {"zz": ("else",)})])
        with pytest.raises(ModelError, match="no levels"):
            model_with(rules=[MatchRule("r", {"b": ("nope",)})])

    def test_with_parameters(self) -> None:
        """with_parameters changes one level only and refuses unknown names."""
        model = model_with().with_parameters("b", "exact b", m=0.95, u=0.1)
        assert model.m[1][1] == 0.95
        assert model.u[1][1] == 0.1
        assert model.m[0] == model_with().m[0]
        with pytest.raises(ModelError, match="no level"):
            model.with_parameters("b", "nope", m=0.5)
        with pytest.raises(ModelError, match="no comparison named"):
            model.comparison_index("zz")

    def test_summary_lists_every_level(self) -> None:
        """The summary shows every comparison, level, m, u, weight, TF marks and rules."""
        frame = Frame({"a": ["x", "x", "y"], "b": ["1", "2", "3"]})
        tf = {(0, 1): TermFrequencies.from_frame(frame, "a")}
        rule = MatchRule("same b", {"b": ("exact b",)})
        text = model_with(tf=tf, rules=[rule]).summary()
        for label in ("exact a", "jaro_winkler a >= 0.8", "exact b", "else", "+TF",
                      "rule 'same b'"):
            assert label in text
        assert f"{math.log2(0.7 / 0.01):+6.2f}" in text

    @settings(max_examples=25, deadline=None)
    @given(
        st.lists(st.floats(0.01, 1.0), min_size=5, max_size=5),
        st.lists(st.floats(0.001, 1.0), min_size=5, max_size=5),
        st.floats(1e-6, 0.9),
        st.lists(st.sampled_from(["x", "y", "z", None]), min_size=2, max_size=12),
        st.booleans(),
    )
    def test_saved_and_loaded_model_predicts_the_same(self, m, u, prior, values, rule) -> None:
        """A model saved to JSON and loaded back scores every pair identically."""
        frame = Frame({"a": values, "b": [v and v.upper() for v in values]})
        tf = {(0, 1): TermFrequencies.from_frame(frame, "a")}
        rules = [MatchRule("b decides", {"b": ("exact b",)}, "non_match")] if rule else []
        model = MatchModel(COMPS, m=[(1.0, *m[:3]), (1.0, *m[3:])],
                           u=[(1.0, *u[:3]), (1.0, *u[3:])], prior=prior, tf=tf, rules=rules)
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "model.json"
            model.save(path)
            loaded = MatchModel.load(path)
        assert loaded == model
        i, j = np.triu_indices(len(values), 1)
        left, right = i.astype(np.int64), j.astype(np.int64)
        levels = compute_levels(model.comparisons, frame, left, right)
        before = score_levels(model, levels, frame=frame, left=left, right=right)
        after = score_levels(loaded, levels, frame=frame, left=left, right=right)
        for x, y in zip(before, after, strict=True):
            assert np.array_equal(x, y)

    def test_load_refuses_other_files(self, tmp_path: Path) -> None:
        """Loading something that is not a saved model raises ModelError."""
        bad = tmp_path / "bad.json"
        bad.write_text(json.dumps({"format": "other"}), encoding="utf-8")
        with pytest.raises(ModelError, match="not a saved crmcore match model"):
            MatchModel.load(bad)
        with pytest.raises(ModelError, match="cannot read model"):
            MatchModel.load(tmp_path / "missing.json")
        damaged = model_with().to_dict()
        del damaged["m"]
        with pytest.raises(ModelError, match="damaged"):
            MatchModel.from_dict(damaged)


class TestTermFrequencies:
    @settings(max_examples=60, deadline=None)
    @given(st.lists(st.sampled_from(["a", "b", "c", "d"]), min_size=1, max_size=30),
           st.data())
    def test_without_equals_counting_the_other_records(self, values, data) -> None:
        """Leaving records out gives the table counted over the other records."""
        leave = data.draw(st.lists(st.integers(0, len(values) - 1), unique=True))
        full = TermFrequencies.from_frame(Frame({"a": values}), "a")
        kept = [v for i, v in enumerate(values) if i not in set(leave)]
        got = full.without(Counter(values[i] for i in leave))
        if kept:
            want = TermFrequencies.from_frame(Frame({"a": kept}), "a")
            assert (got.counts, got.total) == (want.counts, want.total)
            assert got.agreement == pytest.approx(want.agreement)
        else:
            assert got.total == 0
            assert got.counts == {}

    def test_adjustment_is_the_per_code_value(self) -> None:
        """adjustment(value) equals adjustment_per_code for the value's code, bit for bit."""
        frame = Frame({"a": ["x", "x", "y", "z", "z", "z"]})
        tf = TermFrequencies.from_frame(frame, "a")
        per_code = tf.adjustment_per_code(frame)
        codes = frame.codes("a")
        for row, value in enumerate(["x", "x", "y", "z", "z", "z"]):
            assert tf.adjustment(value) == per_code[codes[row]]
        assert tf.adjustment(None) == 0.0

    def test_counts_and_agreement(self) -> None:
        """Counts keep values seen twice or more; agreement is sum(p_v ** 2)."""
        frame = Frame({"a": ["x", "x", "x", "y", "z", None]})
        tf = TermFrequencies.from_frame(frame, "a")
        assert tf.counts == {"x": 3}
        assert tf.total == 5
        assert tf.agreement == pytest.approx((9 + 1 + 1) / 25)

    def test_rare_values_weigh_more(self) -> None:
        """Sharing a rare value adds more weight than sharing a common one."""
        frame = Frame({"a": ["x", "x", "x", "y", "z"]})
        tf = TermFrequencies.from_frame(frame, "a")
        assert tf.adjustment("y") > 0 > tf.adjustment("x")
        assert tf.adjustment(None) == 0.0
        assert tf.adjustment("x") == pytest.approx(math.log2(tf.agreement * 5 / 3))

    def test_per_code_equals_per_value(self) -> None:
        """The per-code table holds the per-value adjustment at every code of the column."""
        frame = Frame({"a": ["x", "x", "x", "y", "z", None]})
        tf = TermFrequencies.from_frame(frame, "a")
        table = tf.adjustment_per_code(frame)
        for code in tf.frame_codes(frame).tolist():
            assert table[code] == pytest.approx(tf.adjustment(frame.string(code)))


class TestEstimateU:
    @settings(max_examples=8, deadline=None)
    @given(st.lists(st.integers(1, 20), min_size=2, max_size=5))
    def test_close_to_brute_force_rate(self, weights) -> None:
        """u of the exact level is close to the share of ALL pairs that agree (brute force)."""
        rng = np.random.default_rng(7)
        p = np.array(weights, dtype=float) / sum(weights)
        values = [f"v{k}" for k in rng.choice(len(p), size=80, p=p)]
        frame = Frame({"a": values})
        u = estimate_u([exact_match("a")], frame, sample_pairs=20_000, seed=1)[0]
        n = len(values)
        agree = sum(values[i] == values[j] for i in range(n) for j in range(i + 1, n))
        assert u[1] == pytest.approx(agree / (n * (n - 1) / 2), abs=0.03)
        assert u[1] + u[2] == pytest.approx(1.0)

    @settings(max_examples=6, deadline=None)
    @given(st.lists(st.integers(1, 20), min_size=2, max_size=4), st.integers(0, 2**16))
    def test_within_a_stratum_close_to_brute_force_rate(self, weights, seed) -> None:
        """With within=, u of other fields is their agreement rate among pairs sharing it."""
        rng = np.random.default_rng(seed)
        n = 120
        country = rng.choice(["gb", "fr", "de"], size=n).tolist()
        p = np.array(weights, dtype=float) / sum(weights)
        name = [f"{c}{k}" for c, k in zip(country, rng.choice(len(p), size=n, p=p), strict=True)]
        frame = Frame({"name": name, "country": country})
        comps = [exact_match("name"), exact_match("country")]
        u = estimate_u(comps, frame, sample_pairs=30_000, seed=seed, within="country")
        pairs = [(i, j) for i in range(n) for j in range(i + 1, n)]
        same = [(i, j) for i, j in pairs if country[i] == country[j]]
        inside = sum(name[i] == name[j] for i, j in same) / len(same)
        overall = len(same) / len(pairs)
        assert u[0][1] == pytest.approx(inside, abs=0.03)
        assert u[1][1] == pytest.approx(overall, abs=0.03)

    def test_link_samples_cross_source_pairs(self) -> None:
        """When linking, only cross-source pairs are sampled."""
        frame = Frame({"a": ["x"] * 10 + ["y"] * 10})
        source = np.array([0] * 10 + [1] * 10, dtype=np.int64)
        u = estimate_u([exact_match("a")], frame, sample_pairs=2000, source=source)[0]
        assert u[1] < 0.01

    def test_needs_two_records(self) -> None:
        """One record, or an empty side when linking, cannot give u."""
        with pytest.raises(ModelError, match="at least two records"):
            estimate_u([exact_match("a")], Frame({"a": ["x"]}))
        with pytest.raises(ModelError, match="at least two records"):
            estimate_u([exact_match("a")], Frame({"a": ["x", "y"]}),
                       source=np.zeros(2, dtype=np.int64))


class TestExpectationMaximisation:
    @settings(max_examples=8, deadline=None)
    @given(
        st.lists(st.tuples(st.floats(0.75, 0.95), st.floats(0.01, 0.1), st.integers(2, 3)),
                 min_size=4, max_size=5),
        st.floats(0.1, 0.4),
        st.integers(0, 2**16),
    )
    def test_recovers_simulated_parameters(self, params, prior, seed) -> None:
        """EM on pattern counts recovers the m, u and prior the levels were simulated with."""
        rng = np.random.default_rng(seed)
        true_m = [distribution(m1, k, rest_first=True) for m1, _, k in params]
        true_u = [distribution(u1, k, rest_first=False) for _, u1, k in params]
        levels = simulate(rng, 80_000, true_m, true_u, prior)
        comps = [Comparison(f"c{c}", tuple(ExactLevel(f"x{c}{j}") for j in range(len(mc) - 1)))
                 for c, mc in enumerate(true_m)]
        start_m = [np.r_[1.0, distribution(0.5, len(mc), True)] for mc in true_m]
        start_u = [np.r_[1.0, distribution(0.2, len(uc), False)] for uc in true_u]
        patterns, counts = pattern_counts(levels)
        m, u, got_prior, _, _ = expectation_maximisation(
            patterns, counts, comps, m=start_m, u=start_u, prior=0.5,
            options=TrainingOptions(max_iterations=500),
        )
        assert got_prior == pytest.approx(prior, abs=0.02)
        for c in range(len(comps)):
            assert np.abs(m[c][1:] - true_m[c]).max() < 0.04
            assert np.abs(u[c][1:] - true_u[c]).max() < 0.04

    def test_fixed_parameters_stay_fixed(self) -> None:
        """Fixed m, u and prior are not moved by EM."""
        rng = np.random.default_rng(0)
        levels = simulate(rng, 5000, [np.array([0.9, 0.1])] * 3, [np.array([0.1, 0.9])] * 3, 0.3)
        comps = [exact_match(f"x{c}") for c in range(3)]
        patterns, counts = pattern_counts(levels)
        start = [np.array([1.0, 0.5, 0.5])] * 3
        opts = TrainingOptions(fixed_m={"x0": {"exact x0": 0.8}}, fixed_u={"x1": {"else": 0.7}},
                               fixed_prior=0.25)
        m, u, prior, _, _ = expectation_maximisation(
            patterns, counts, comps, m=start, u=start, prior=0.5, options=opts)
        assert m[0][1] == 0.8
        assert u[1][2] == 0.7
        assert prior == 0.25

    def test_unknown_fixed_level(self) -> None:
        """Fixing a level that does not exist is an error naming it."""
        comps = [exact_match("x")]
        with pytest.raises(ModelError, match="'x'/'nope'"):
            expectation_maximisation(
                np.array([[1]], dtype=np.int8), np.array([1.0]), comps,
                m=[np.array([1.0, 0.5, 0.5])], u=[np.array([1.0, 0.5, 0.5])], prior=0.5,
                options=TrainingOptions(fixed_m={"x": {"nope": 0.5}}),
            )


class TestPatternsWithInverse:
    @settings(max_examples=40, deadline=None)
    @given(st.sampled_from([(3, 6), (8, 15), (12, 31)]).flatmap(lambda shape: st.lists(
        st.lists(st.integers(0, shape[1]), min_size=shape[0], max_size=shape[0]),
        min_size=1, max_size=40)))
    def test_sorted_distinct_rows_counts_and_inverse(self, rows) -> None:
        """Distinct rows in lexicographic order, their counts and each row's pattern index,
        whether the codes are counted in a table, sorted, or the rows compared whole."""
        levels = np.array(rows, dtype=np.int8)
        patterns, counts, inverse = patterns_with_inverse(levels)
        distinct = sorted(set(map(tuple, rows)))
        assert patterns.dtype == np.int8
        assert patterns.tolist() == [list(p) for p in distinct]
        assert counts.tolist() == [float(rows.count(list(p))) for p in distinct]
        assert inverse.tolist() == [distinct.index(tuple(r)) for r in rows]


class TestPatternCounts:
    @settings(max_examples=40, deadline=None)
    @given(st.integers(1, 4).flatmap(lambda k: st.lists(
        st.lists(st.integers(0, 6), min_size=k, max_size=k), min_size=1, max_size=40)))
    def test_equals_counter_of_rows(self, rows) -> None:
        """Distinct patterns and counts equal a Counter over the level rows."""
        patterns, counts = pattern_counts(np.array(rows, dtype=np.int8))
        got = {tuple(p): c for p, c in zip(patterns.tolist(), counts.tolist(), strict=True)}
        assert got == dict(Counter(tuple(r) for r in rows))

    @settings(max_examples=25, deadline=None)
    @given(st.integers(10, 20).flatmap(lambda k: st.lists(
        st.lists(st.integers(0, 31), min_size=k, max_size=k), min_size=1, max_size=30)))
    def test_many_comparisons_with_many_levels_do_not_collide(self, rows) -> None:
        """When the radices' product exceeds int64, rows are still counted exactly."""
        rows = [[31, *r[1:]] for r in rows]  # radix 32 in column 0: at least 32**10 = 2**50
        levels = np.array(rows, dtype=np.int8)
        levels[:, 1:] = np.where(levels[:, 1:] > 15, 31, levels[:, 1:])
        patterns, counts = pattern_counts(levels)
        got = {tuple(p): c for p, c in zip(patterns.tolist(), counts.tolist(), strict=True)}
        assert got == dict(Counter(tuple(r) for r in levels.tolist()))

    def test_rows_differing_only_in_the_first_column(self) -> None:
        """32**14 = 2**70 patterns: two rows differing in the first column stay apart."""
        levels = np.zeros((2, 14), dtype=np.int8)
        levels[:, 1] = 31
        levels[1, 0] = 1
        patterns, counts = pattern_counts(levels)
        assert patterns.tolist() == levels.tolist()
        assert counts.tolist() == [1.0, 1.0]

    def test_empty(self) -> None:
        """No level rows give no patterns."""
        patterns, counts = pattern_counts(np.zeros((0, 3), dtype=np.int8))
        assert len(patterns) == 0
        assert len(counts) == 0


def training_frame(seed: int = 0, n_people: int = 120) -> tuple[Frame, list[int]]:
    """Records of people, most of them twice with small differences; returns (frame, truth)."""
    rng = np.random.default_rng(seed)
    given = ["ann", "bob", "cara", "dan", "eve", "finn", "gus", "hana", "ivan", "jo"]
    rows: list[tuple[str | None, str, str | None]] = []
    truth: list[int] = []
    for p in range(n_people):
        first = given[p % len(given)]
        last = f"family{p // 3}"
        city = f"town{rng.integers(0, 12)}"
        for copy in range(1 + int(rng.random() < 0.8)):
            typo = copy == 1 and rng.random() < 0.3
            rows.append((first + "x" if typo else first, last,
                         None if rng.random() < 0.1 else city))
            truth.append(p)
    frame = Frame({"first": [r[0] for r in rows], "last": [r[1] for r in rows],
                   "city": [r[2] for r in rows]})
    return frame, truth


class TestTrainModel:
    def settings(self, **training) -> MatchSettings:
        return MatchSettings(
            comparisons=(fuzzy_comparison("first", thresholds=(0.8,)),
                         exact_match("last", tf=True), exact_match("city")),
            blocking=(block_on("last"), block_on("first", "city")),
            training=TrainingOptions(u_sample_pairs=5000, **training),
        )

    def train(self, **training) -> tuple[MatchModel, Frame, list[int]]:
        frame, truth = training_frame()
        s = self.settings(**training)
        pairs = block(frame, s.blocking)
        levels = compute_levels(s.comparisons, frame, pairs.left, pairs.right)
        return train_model(s, frame, levels, left=pairs.left, right=pairs.right), frame, truth

    def test_agreement_is_evidence_for_a_match(self) -> None:
        """Trained exact levels weigh positive and else levels negative; the report is filled."""
        model, frame, _ = self.train()
        for w in model.weights():
            assert w[1] > 0 > w[-1]
        assert 0 < model.prior < 0.05
        assert model.report is not None
        assert model.report.patterns > 0
        assert model.report.candidate_pairs == len(block(frame, self.settings().blocking))
        assert "trained by EM on" in model.summary()
        assert (1, 1) in model.tf

    def test_scores_separate_true_pairs(self) -> None:
        """True pairs score higher on average than false candidate pairs."""
        model, frame, truth = self.train()
        s = self.settings()
        pairs = block(frame, s.blocking)
        levels = compute_levels(s.comparisons, frame, pairs.left, pairs.right)
        weight, _, _ = score_levels(model, levels, frame=frame, left=pairs.left,
                                    right=pairs.right)
        same = np.array(truth)[pairs.left] == np.array(truth)[pairs.right]
        assert weight[same].mean() > weight[~same].mean() + 5

    def test_fixed_values_are_kept(self) -> None:
        """fixed_m and fixed_prior in the options end up in the model."""
        model, _, _ = self.train(fixed_m={"city": {"exact city": 0.77}}, fixed_prior=0.002)
        assert model.m[2][1] == 0.77
        assert model.prior == 0.002

    def test_no_candidates(self) -> None:
        """Without candidate pairs training gives the prior parameters: default m, sampled u,
        prior 1 / n_rows, every else level weighing less than every agreement level."""
        frame, _ = training_frame()
        empty = np.zeros(0, dtype=np.int64)
        model = train_model(self.settings(), frame, np.zeros((0, 3), dtype=np.int8),
                            left=empty, right=empty)
        assert model.prior == pytest.approx(1.0 / frame.n_rows)
        for w in model.weights():
            assert w[1] > 0 > w[-1]
            assert (w[1:-1] > w[-1]).all()

    @pytest.mark.parametrize("n_rows", [0, 1])
    def test_fewer_than_two_records(self, n_rows) -> None:
        """Zero or one record: no u sample is possible, training still gives a valid model."""
        frame = Frame({"first": ["ann"] * n_rows, "last": ["lee"] * n_rows,
                       "city": ["x"] * n_rows})
        empty = np.zeros(0, dtype=np.int64)
        model = train_model(self.settings(), frame, np.zeros((0, 3), dtype=np.int8),
                            left=empty, right=empty)
        for w in model.weights():
            assert w[1] > 0 > w[-1]
        assert 0 < model.prior <= 0.5

    def test_a_few_pairs_fall_back_to_the_default_m(self) -> None:
        """Too few pairs for EM: m stays at the documented default, no error."""
        frame = Frame({"first": ["ann", "ann", "bob", "bobx"], "last": ["lee", "lee", "ray", "ray"],
                       "city": ["x", "x", "y", None]})
        s = self.settings()
        pairs = block(frame, s.blocking)
        levels = compute_levels(s.comparisons, frame, pairs.left, pairs.right)
        assert 0 < len(levels) < 10
        model = train_model(s, frame, levels, left=pairs.left, right=pairs.right)
        for comp, m in zip(s.comparisons, model.m, strict=True):
            k = comp.n_levels - 1
            default = np.array([2.0 ** -i for i in range(k)])
            assert np.allclose(m[1:], default / default.sum())

    def test_agreement_levels_never_weigh_less_than_else(self) -> None:
        """A level EM never saw among matches (family name "sounds the same" on the example
        export) weighs at least as much as the comparison's else level, not the 1e-6 floor."""
        import csv

        from crmcore.matching import dedupe

        path = Path(__file__).resolve().parents[2] / "examples" / "contacts.csv"
        with path.open(encoding="utf-8", newline="") as fh:
            rows = list(csv.DictReader(fh))
        model = dedupe(rows, id_column="record_id", preset="contacts").model
        bad = [(c.name, label, float(w[k]), float(w[-1]))
               for c, w in zip(model.comparisons, model.weights(), strict=True)
               for k, label in enumerate(c.labels[1:-1], start=1) if w[k] < w[-1]]
        assert bad == []
        # the data does speak for the levels it saw: exact agreement stays well above else
        assert all(w[1] > w[-1] + 1 for w in model.weights())

    def test_unseen_level_weighs_as_else(self) -> None:
        """Training data where no pair ever reaches the middle level of "first": its weight is
        lifted to the else weight, the other weights are what EM found."""
        frame, _ = training_frame()
        s = MatchSettings(
            comparisons=(fuzzy_comparison("first", thresholds=(0.99,)),
                         exact_match("last", tf=True), exact_match("city")),
            blocking=s_blocking(), training=TrainingOptions(u_sample_pairs=5000),
        )
        pairs = block(frame, s.blocking)
        levels = compute_levels(s.comparisons, frame, pairs.left, pairs.right)
        assert not (levels[:, 0] == 2).any()
        model = train_model(s, frame, levels, left=pairs.left, right=pairs.right)
        w = model.weights()[0]
        assert w[2] >= w[-1]
        assert w[2] == pytest.approx(w[-1], abs=1e-6)
        assert w[1] > w[-1]


def s_blocking() -> tuple[object, ...]:
    return (block_on("last"), block_on("first", "city"))



class TestFitM:
    """fit_m: the EM session loop train_model and the Spark runner share."""

    def test_no_session_keeps_default_and_fixed_parameters(self) -> None:
        """Without sessions every m is the default (levels as likely as the else level at
        least), fixed m values win, and level 0 (null) is 1."""
        from crmcore.matching._em import fit_m

        comps = (fuzzy_comparison("first", thresholds=(0.9,)), exact_match("city"))
        u = [np.array([1.0, 0.01, 0.09, 0.9]), np.array([1.0, 0.05, 0.95])]
        opts = TrainingOptions(fixed_m={"city": {"exact city": 0.8}})
        fitted = fit_m(comps, u, opts, [])
        assert fitted.iterations == 0
        assert fitted.patterns == 0
        assert fitted.converged
        assert fitted.m[1][1] == pytest.approx(0.8)
        for m, uu in zip(fitted.m, u, strict=True):
            assert m[0] == 1.0
            w = np.log(m[1:]) - np.log(uu[1:])
            assert (w[:-1] >= w[-1] - 1e-9).all()

    def test_sessions_average_per_comparison(self) -> None:
        """A comparison estimated by two sessions gets the mean of their m; one left out of a
        session (its column was blocked on) gets only the other session's."""
        from crmcore.matching._em import fit_m, session_comparisons

        frame, _ = training_frame()
        s = MatchSettings(
            comparisons=(exact_match("first"), exact_match("last"), exact_match("city")),
            blocking=(block_on("last"), block_on("city")),
            training=TrainingOptions(u_sample_pairs=5000),
        )
        pairs = block(frame, s.blocking)
        levels = compute_levels(s.comparisons, frame, pairs.left, pairs.right)
        u = estimate_u(s.comparisons, frame, sample_pairs=5000, seed=0)
        assert session_comparisons(s.comparisons, {"last"}) == [0, 2]
        sessions = []
        for col in ("last", "city"):
            agree = frame.codes(col)[pairs.left] == frame.codes(col)[pairs.right]
            free = session_comparisons(s.comparisons, {col})
            pats, counts = pattern_counts(levels[agree][:, free])
            sessions.append((free, pats, counts))
        both = fit_m(s.comparisons, u, s.training, sessions)
        first_only = fit_m(s.comparisons, u, s.training, sessions[:1])
        second_only = fit_m(s.comparisons, u, s.training, sessions[1:])
        assert both.patterns == sum(len(c) for _, _, c in sessions)
        np.testing.assert_allclose(both.m[0], (first_only.m[0] + second_only.m[0]) / 2)
        np.testing.assert_allclose(both.m[1], second_only.m[1])
        np.testing.assert_allclose(both.m[2], first_only.m[2])


def _weights(m: np.ndarray, u: np.ndarray) -> np.ndarray:
    return np.log(m[1:]) - np.log(u[1:])


_probs = st.lists(st.floats(0.001, 1.0), min_size=2, max_size=7).map(
    lambda xs: np.array([1.0, *(np.array(xs) / sum(xs))])
)


class TestMonotoneLevels:
    """monotone_levels: pool adjacent levels so the weights never rise with less specificity."""

    @given(_probs, st.data())
    @settings(max_examples=200, deadline=None)
    def test_weights_never_rise_and_mass_is_kept(self, m: np.ndarray, data: st.DataObject) -> None:
        """The weights come out non-increasing, m still sums to the same, level 0 untouched."""
        from crmcore.matching._em import monotone_levels

        u = data.draw(_probs.filter(lambda x: len(x) == len(m)))
        out = monotone_levels(m, u)
        w = _weights(out, u)
        assert (np.diff(w) <= 1e-9).all()
        assert out[1:].sum() == pytest.approx(m[1:].sum())
        assert out[0] == m[0]

    @given(_probs, st.data())
    @settings(max_examples=100, deadline=None)
    def test_already_monotone_is_unchanged(self, u: np.ndarray, data: st.DataObject) -> None:
        """m whose weights already fall level by level is returned as it is."""
        from crmcore.matching._em import monotone_levels

        steps = data.draw(st.lists(st.floats(0.0, 3.0), min_size=len(u) - 1,
                                   max_size=len(u) - 1))
        w = np.cumsum(-np.array(steps))
        m = np.array([1.0, *(u[1:] * np.exp(w))])
        m[1:] /= m[1:].sum()
        np.testing.assert_allclose(monotone_levels(m, u), m)

    def test_matches_brute_force_on_a_reversal(self) -> None:
        """Two reversed levels are pooled to the ratio of their sums (the PAVA reference)."""
        from crmcore.matching._em import monotone_levels

        m = np.array([1.0, 0.3, 0.6, 0.1])
        u = np.array([1.0, 0.01, 0.01, 0.98])
        out = monotone_levels(m, u)
        np.testing.assert_allclose(out[1:3], [0.45, 0.45])
        assert out[3] == pytest.approx(0.1)

    def test_training_keeps_levels_monotone(self) -> None:
        """A trained model's weights never rise from a specific level to a looser one."""
        model, _, _ = TestTrainModel().train()
        for m, u in zip(model.m, model.u, strict=True):
            w = _weights(np.array(m), np.array(u))
            assert (np.diff(w) <= 1e-9).all()


class TestFitParameters:
    """fit_parameters: the unestimable comparison, the prior's floor and the warnings."""

    def one_comparison(self) -> tuple[MatchSettings, Frame, list[int]]:
        """A name-only list: the only comparison is on the only blocked column."""
        rng = np.random.default_rng(3)
        names, truth = [], []
        for e in range(300):
            base = "".join(rng.choice(list("abcdefghijklmnop"), size=8))
            for _ in range(int(rng.integers(1, 4))):
                typo = rng.random() < 0.4
                names.append(base[:-1] + "z" if typo else base)
                truth.append(e)
        s = MatchSettings(
            comparisons=(fuzzy_comparison("name", thresholds=(0.9,)),),
            blocking=(block_on("name"), block_on("prefix(name, 4)")),
        )
        return s, Frame({"name": names}), truth

    def test_single_comparison_model_can_match(self) -> None:
        """With one comparison no session can run, yet the model is not degenerate: equal names
        match at the default threshold, nothing else does by mistake, and the report notes what
        happened."""
        s, frame, truth = self.one_comparison()
        pairs = block(frame, s.blocking)
        levels = compute_levels(s.comparisons, frame, pairs.left, pairs.right)
        model = train_model(s, frame, levels, left=pairs.left, right=pairs.right)
        _, prob, _ = score_levels(model, levels, frame=frame, left=pairs.left, right=pairs.right)
        same = np.array(truth)[pairs.left] == np.array(truth)[pairs.right]
        matched = prob >= s.threshold
        equal = levels[:, 0] == 1
        assert matched[equal & same].all()
        assert same[matched].mean() > 0.9
        assert model.prior > 1e-6
        assert model.report is not None
        assert any("no EM session" in w for w in model.report.notes)
        assert model.report.warnings == ()

    def test_rare_word_anchor_sets_m_of_a_lone_word_comparison(self) -> None:
        """A name-only list compared by words: m comes from the pairs sharing a rare word (the
        note says so), so a level where those pairs fall weighs more than with the default m,
        and the shares follow the anchor pairs' levels."""
        from crmcore.matching import Comparison, ExactLevel, TokenOverlapLevel
        from crmcore.matching._anchors import ANCHOR_MAX_RECORDS, rare_word_anchor_counts

        rng = np.random.default_rng(5)
        common = ["group", "systems", "services", "holding"]
        names: list[str] = []
        for e in range(200):
            stem = "".join(rng.choice(list("bcdfgklmnprstvz"), size=6))
            word, other = common[e % 4], common[(e + 1) % 4]
            names += [f"{stem} {word}", f"{stem} {other}", f"{stem} {word}"][
                : int(rng.integers(1, 4))]
        comp = Comparison("name", (ExactLevel("name"), TokenOverlapLevel("name", 0.6),
                                   TokenOverlapLevel("name", 0.3)))
        s = MatchSettings(comparisons=(comp,),
                          blocking=(block_on("name"), block_on("sorted_tokens(name)")))
        frame = Frame({"name": names})
        pairs = block(frame, (block_on("first_token(name)"), block_on("name")))
        levels = compute_levels(s.comparisons, frame, pairs.left, pairs.right)
        counts = rare_word_anchor_counts(s.comparisons, frame, left=pairs.left,
                                         right=pairs.right, levels=levels, which=[0])
        assert ANCHOR_MAX_RECORDS >= 2
        assert counts[0][2] > 0  # "stem group" ~ "stem systems": dice 0.67
        model = train_model(s, frame, levels, left=pairs.left, right=pairs.right)
        assert model.report is not None
        assert any("sharing a rare word" in n for n in model.report.notes)
        want = (counts[0][1:] + 0.5) / (counts[0][1:] + 0.5).sum()
        # the anchor pairs' shares (the two top levels may be pooled to keep them monotone)
        assert np.allclose(model.m[0][3:], want[2:])
        assert np.isclose(sum(model.m[0][1:3]), want[:2].sum())
        _, prob, _ = score_levels(model, levels, frame=frame, left=pairs.left, right=pairs.right)
        assert (prob[levels[:, 0] == 2] >= s.threshold).all()

    def test_anchor_takes_a_typo_apart_unless_the_numbers_differ(self) -> None:
        """Long names one edit apart anchor (a misspelt brand shares no rare word); names whose
        numbers differ (``paris 5`` / ``paris 6``) and short ones do not."""
        from crmcore.matching import Comparison, TokenOverlapLevel
        from crmcore.matching._anchors import rare_word_anchor_counts

        names = ["meridian logistics", "meridian logistcs", "university paris 5",
                 "university paris 6", "acme co", "acme cp"]
        # every shared word is held by 4+ records: no pair shares a rare word
        names += ["meridian logistics"] * 2 + ["university paris"] * 2 + ["acme co"] * 3
        comp = Comparison("name", (TokenOverlapLevel("name", 0.99),))
        frame = Frame({"name": names})
        left = np.array([0, 2, 4], dtype=np.int64)
        right = left + 1
        levels = compute_levels((comp,), frame, left, right)
        got = rare_word_anchor_counts((comp,), frame, left=left, right=right, levels=levels,
                                      which=[0])
        assert got[0].sum() == 1
        assert got[0][levels[0, 0]] == 1

    def test_prior_floor_and_never_match_are_reported(self) -> None:
        """A model that can never reach the threshold says so, with what to do."""
        from crmcore.matching._training import fit_parameters

        comps = (exact_match("a"),)
        u = [np.array([1.0, 0.5, 0.5])]
        patterns = np.array([[2]], dtype=np.int8)
        fitted = fit_parameters(
            comps, u, TrainingOptions(), [], patterns=patterns, counts=np.array([50.0]),
            total_pairs=10**9, n_rows=50_000, threshold=0.9,
        )
        text = " ".join(fitted.warnings)
        assert "can never match" in text
        assert "lower the threshold" in text

    def test_prior_is_at_least_the_exact_duplicates_share(self) -> None:
        """The prior never falls under the exact duplicates divided by their recall (prod m1)."""
        from crmcore.matching._training import fit_parameters

        comps = (exact_match("a"), exact_match("b"))
        u = [np.array([1.0, 0.4, 0.6]), np.array([1.0, 0.4, 0.6])]
        patterns = np.array([[1, 1], [2, 2]], dtype=np.int8)
        fitted = fit_parameters(
            comps, u, TrainingOptions(), [], patterns=patterns,
            counts=np.array([1000.0, 10.0]), total_pairs=100_000, n_rows=500,
        )
        assert fitted.prior >= 1000 / 100_000

    def test_report_warnings_reach_the_summary(self) -> None:
        """The model summary prints every training note."""
        s, frame, _ = self.one_comparison()
        pairs = block(frame, s.blocking)
        levels = compute_levels(s.comparisons, frame, pairs.left, pairs.right)
        model = train_model(s, frame, levels, left=pairs.left, right=pairs.right)
        assert "note: no EM session could estimate" in model.summary()
