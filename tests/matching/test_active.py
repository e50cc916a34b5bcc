"""Labels: the discriminative refit, the threshold pick and the active-learning loop."""

from __future__ import annotations

import math
from pathlib import Path

import attrs
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crmcore.errors import MatchingConfigError, ValidationError
from crmcore.io import read_table
from crmcore.matching import (
    ActiveLearning,
    LabelledPair,
    PairQuestion,
    ReviewQueue,
    active_learning,
    best_threshold,
    cluster_pairs,
    cluster_scores,
    dedupe,
    fit_labels,
    fit_weights,
)
from crmcore.matching._evaluate import truth_codes
from crmcore.matching._training import global_prior

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "contacts.csv"
TRUTH = ROOT / "examples" / "contacts_truth.csv"


@pytest.fixture(scope="module")
def example() -> tuple[object, object, np.ndarray]:
    """The example CRM export, its unsupervised result and the truth code of every row."""
    table = read_table(EXAMPLE)
    result = dedupe(table, id_column="record_id")
    truth = read_table(TRUTH)
    entity = dict(zip(truth.column("record_id"), truth.column("entity_id"), strict=True))
    codes = truth_codes([entity.get(r) for r in result.ids])
    return table, result, codes


def synth_truth(rows: list[dict[str, str]]) -> dict[str, str]:
    """Record id -> entity of the household rows (regenerated with their truth column)."""
    from benchmarks import synth

    table = synth.generate_contacts(len(rows), seed=5, household_rate=0.3, namesake_rate=0.1)
    truth = dict(zip(table.column("record_id"), table.column("entity_id"), strict=True))
    assert set(truth) == {r["record_id"] for r in rows}
    return truth


def objective(model, levels, y, strength, prior_strength, model0) -> float:
    """The penalised negative log likelihood fit_weights minimises, written out plainly."""
    total = 0.0
    for row, target in zip(levels, y, strict=True):
        s = math.log(model.prior / (1 - model.prior))
        for c, level in enumerate(row):
            if level:
                s += math.log(model.m[c][level] / model.u[c][level])
        total += math.log1p(math.exp(s)) - target * s
    for c in range(len(model.m)):
        for lv in range(1, len(model.m[c])):
            d = math.log(model.m[c][lv]) - math.log(model0.m[c][lv])
            total += 0.5 * strength * d * d
    b = math.log(model.prior / (1 - model.prior))
    b0 = math.log(model0.prior / (1 - model0.prior))
    return total + 0.5 * prior_strength * (b - b0) ** 2


class TestFitWeights:
    def test_no_labels_keeps_model(self, example) -> None:
        """Without labels the model is returned unchanged."""
        _, result, _ = example
        n = len(result.model.comparisons)
        assert fit_weights(result.model, np.zeros((0, n), dtype=np.int8), []) == result.model

    @settings(max_examples=25, deadline=None)
    @given(st.data())
    def test_reaches_a_minimum(self, example, data) -> None:
        """The fitted m stay distributions and no small move of m or prior lowers the objective."""
        _, result, _ = example
        model = attrs.evolve(result.model, tf={}, rules=())
        comps = model.comparisons
        k = data.draw(st.integers(1, 12))
        levels = np.array(
            [[data.draw(st.integers(0, c.n_levels - 1)) for c in comps] for _ in range(k)],
            dtype=np.int8,
        )
        y = [float(data.draw(st.booleans())) for _ in range(k)]
        fitted = fit_weights(model, levels, y, strength=1.0, prior_strength=0.05)
        for m in fitted.m:
            assert sum(m[1:]) == pytest.approx(1.0)
        best = objective(fitted, levels, y, 1.0, 0.05, model)
        assert best <= objective(model, levels, y, 1.0, 0.05, model) + 1e-9
        eps = 1e-3
        for c in range(len(comps)):
            for lv in range(1, comps[c].n_levels):
                for sign in (1, -1):
                    m = [list(x) for x in fitted.m]
                    m[c][lv] *= math.exp(sign * eps)
                    m[c][1:] = [v / sum(m[c][1:]) for v in m[c][1:]]
                    moved = attrs.evolve(fitted, m=m)
                    got = objective(moved, levels, y, 1.0, 0.05, model)
                    assert got >= best - 1e-5
        for sign in (1, -1):
            b = math.log(fitted.prior / (1 - fitted.prior)) + sign * eps
            moved = attrs.evolve(fitted, prior=1 / (1 + math.exp(-b)))
            assert objective(moved, levels, y, 1.0, 0.05, model) >= best - 1e-5

    def test_non_matches_lower_their_pattern(self, example) -> None:
        """Pairs labelled non-matches make their levels weigh less than EM said."""
        _, result, _ = example
        model = result.model
        levels = np.tile(result.pairs.levels[np.argmax(result.pairs.match_weight)], (20, 1))
        fitted = fit_weights(model, levels, [0.0] * 20)
        before = sum(w[lv] for w, lv in zip(model.weights(), levels[0], strict=True))
        after = sum(w[lv] for w, lv in zip(fitted.weights(), levels[0], strict=True))
        assert after + fitted.prior_weight < before + model.prior_weight

    def test_shape_checked(self, example) -> None:
        """Levels that do not fit the labels or the comparisons are a configuration error."""
        _, result, _ = example
        with pytest.raises(MatchingConfigError, match="levels of shape"):
            fit_weights(result.model, np.zeros((2, 1), dtype=np.int8), [1.0])


class TestBestThreshold:
    @settings(max_examples=100, deadline=None)
    @given(st.lists(st.floats(0.0, 1.0), min_size=1, max_size=40))
    def test_maximises_expected_f1(self, probs) -> None:
        """No other threshold has a higher expected pairwise F1 (brute force over the values)."""
        p = np.array(probs)
        t = best_threshold(p)

        def expected_f1(th: float) -> float:
            kept = p >= th
            return 2 * p[kept].sum() / (kept.sum() + p.sum()) if p.sum() else 0.0

        if p.sum() == 0:
            assert t == 0.5
            return
        chosen = expected_f1(t)
        for v in p:
            if 1e-4 <= v <= 1 - 1e-6:
                assert expected_f1(float(v)) <= chosen + 1e-9


class TestFitLabels:
    def test_from_review_decisions(self, example) -> None:
        """A review queue's decisions are labels: "same" a match, "different" not."""
        _, result, _ = example
        a, b = result.ids[int(result.pairs.left[0])], result.ids[int(result.pairs.right[0])]
        c = result.ids[int(result.pairs.right[1])]
        queue = ReviewQueue()
        queue.decide(a, b, "same", reviewer="ann")
        queue.decide(a, c, "different", reviewer="ann") if a != c else None
        fit = fit_labels(result, queue.decisions())
        assert fit.labels == len(queue.decisions())
        assert fit.matches + fit.ignored >= 1
        assert fit.settings.threshold == fit.threshold

    def test_unknown_ids_ignored(self, example) -> None:
        """Labels naming records the job does not have are counted as ignored."""
        _, result, _ = example
        fit = fit_labels(result, [("no-such", result.ids[0], True)])
        assert fit.ignored == 1
        assert fit.model.m == result.model.m

    def test_latest_label_counts(self, example) -> None:
        """A pair labelled twice counts once, with its latest answer."""
        _, result, _ = example
        a, b = result.ids[0], result.ids[1]
        fit = fit_labels(result, [(a, b, True), (b, a, False)])
        assert fit.labels == 1
        assert fit.matches == 0 or fit.ignored == 1

    def test_label_validation(self) -> None:
        """A label needs two different, non-empty ids."""
        with pytest.raises(ValidationError, match="two records"):
            LabelledPair("a", "a", True)
        with pytest.raises(ValidationError, match="non-empty"):
            LabelledPair("", "a", True)


class TestActiveLearning:
    def test_questions_are_nearest_one_per_pattern(self, example) -> None:
        """Each round asks new pairs, one per level pattern, nearest to the boundary first."""
        _, result, codes = example
        session = ActiveLearning(result, ask_near="even")
        row = {r: i for i, r in enumerate(result.ids)}
        asked: set[tuple[str, str]] = set()
        for _ in range(3):
            qs = session.next_pairs(5)
            assert qs
            patterns = [tuple(q.levels.values()) for q in qs]
            assert len(set(patterns)) == len(patterns)
            dist = [abs(q.match_weight) for q in qs]  # nearest to even odds first
            assert dist == sorted(dist)
            for q in qs:
                key = (min(q.left_id, q.right_id), max(q.left_id, q.right_id))
                assert key not in asked
                asked.add(key)
                session.label(q, match=bool(codes[row[q.left_id]] == codes[row[q.right_id]]))
        assert len(session.labels) == len(asked)
        assert session.fit().labels == len(asked)

    @pytest.mark.parametrize("near", ["even", "threshold", "both"])
    def test_first_round_brute_force(self, example, near) -> None:
        """Before any label the first question is the unasked, rule-free pair nearest the
        boundary (even odds, the threshold, or either)."""
        _, result, _ = example
        session = ActiveLearning(result, ask_near=near)
        (q,) = session.next_pairs(1)
        t = math.log2(result.threshold / (1 - result.threshold))
        w = result.pairs.match_weight[result.pairs.rule < 0]
        dist = {"even": np.abs(w), "threshold": np.abs(w - t),
                "both": np.minimum(np.abs(w), np.abs(w - t))}[near]
        mine = {"even": abs(q.match_weight), "threshold": abs(q.match_weight - t),
                "both": min(abs(q.match_weight), abs(q.match_weight - t))}[near]
        assert mine == pytest.approx(float(dist.min()))
        assert isinstance(q, PairQuestion)
        assert q.left_id in str(q)

    def test_bad_options(self, example) -> None:
        """Unknown policies are refused before any work."""
        _, result, _ = example
        with pytest.raises(MatchingConfigError, match="ask_near"):
            ActiveLearning(result, ask_near="middle")
        with pytest.raises(MatchingConfigError, match="threshold must be"):
            ActiveLearning(result, threshold="best")
        with pytest.raises(MatchingConfigError, match="threshold must be"):
            fit_labels(result, [], threshold=1.5)

    @pytest.mark.parametrize("policy", ["labels", "settings", "expected_f1", 0.8])
    def test_threshold_policies(self, example, policy) -> None:
        """Each policy gives a threshold in (0, 1); 'settings' and a number are kept as is."""
        _, result, codes = example
        session = ActiveLearning(result, threshold=policy)
        row = {r: i for i, r in enumerate(result.ids)}
        for q in session.next_pairs(10):
            session.label(q, match=bool(codes[row[q.left_id]] == codes[row[q.right_id]]))
        t = session.threshold()
        assert 0.0 < t < 1.0
        if policy == "settings":
            assert t == result.settings.threshold
        if isinstance(policy, float):
            assert t == policy

    def test_labels_improve_the_example(self, example) -> None:
        """50 labels from the truth raise cluster F1 of the example export."""
        table, result, codes = example
        session = active_learning(result)
        row = {r: i for i, r in enumerate(result.ids)}
        for _ in range(5):
            for q in session.next_pairs(10):
                session.label(q, match=bool(codes[row[q.left_id]] == codes[row[q.right_id]]))
        rerun = session.dedupe(table, id_column="record_id")
        assert cluster_scores(rerun.labels, codes).f1 > cluster_scores(result.labels, codes).f1

    def test_label_rejects_unknown_and_bad_k(self, example) -> None:
        """Unknown ids and a k below one are refused with a clear error."""
        _, result, _ = example
        session = ActiveLearning(result)
        with pytest.raises(ValidationError, match="no record with this id"):
            session.label(("nope", result.ids[0]), match=True)
        with pytest.raises(MatchingConfigError, match="k must be"):
            session.next_pairs(0)

    def test_label_many_and_model(self, example) -> None:
        """Several answers at once; model() and threshold() come from the same fit."""
        _, result, _ = example
        session = ActiveLearning(result)
        a, b = result.ids[int(result.pairs.left[0])], result.ids[int(result.pairs.right[0])]
        assert session.label_many([(a, b, True), LabelledPair(a, b, False)]) == 1
        assert session.labels == [LabelledPair(a, b, False)]
        assert session.model() is session.fit().model
        assert session.threshold() == session.fit().threshold


def expected_f1(run, labels) -> float:
    """Pairwise F1 a run's clusters are expected to have, written out plainly: every candidate
    pair is a match with its probability, or its answer when labelled; predicted when its two
    records share a cluster; labelled pairs that are no candidates count by their answer."""
    row = {r: i for i, r in enumerate(run.ids)}
    answer = {frozenset((a, b)): float(m) for a, b, m in labels}
    tp = predicted = true = 0.0
    seen = set()
    for k in range(len(run.pairs)):
        a, b = int(run.pairs.left[k]), int(run.pairs.right[k])
        key = frozenset((run.ids[a], run.ids[b]))
        q = answer.get(key, float(run.pairs.probability[k]))
        seen.add(key)
        together = run.labels[a] == run.labels[b]
        true += q
        if together:
            tp += q
            predicted += 1
    for key, q in answer.items():
        if key not in seen:
            a, b = (row[x] for x in key)
            true += q
            if run.labels[a] == run.labels[b]:
                tp += q
                predicted += 1
    return 2 * tp / (predicted + true)


GRID = (0.5, 0.7, 0.8, 0.9, 0.95, 0.98, 0.99, 0.995, 0.999)


class TestLabelsThreshold:
    def test_grid_maximum_of_expected_f1(self, example) -> None:
        """The 'labels' threshold maximises the pairwise F1 expected of the clusters (brute
        force over the grid: a real re-run with the fitted model at every threshold)."""
        table, result, codes = example
        row = {r: i for i, r in enumerate(result.ids)}
        free = np.flatnonzero(result.pairs.rule < 0)[::7][:40]
        pairs = [(result.ids[int(result.pairs.left[k])], result.ids[int(result.pairs.right[k])])
                 for k in free]
        labels = [(a, b, bool(codes[row[a]] == codes[row[b]])) for a, b in pairs]
        fit = fit_labels(result, labels, threshold="labels", prior="labels")
        f1 = {}
        for t in sorted({*GRID, result.settings.threshold}):
            rerun = dedupe(table, id_column="record_id", model=fit.model,
                           settings=attrs.evolve(result.settings, threshold=t))
            f1[t] = expected_f1(rerun, labels)
        assert f1[fit.threshold] == pytest.approx(max(f1.values()))
        assert len(set(np.round(list(f1.values()), 6))) > 1  # the threshold matters


class TestPriorPolicies:
    def test_data_prior_is_the_fixed_point(self, example) -> None:
        """prior='data' keeps the labels' m and sets the prior to the all-pairs match rate;
        labels that are all matches inflate only the 'labels' prior."""
        _, result, _ = example
        ids = result.ids
        labels = [(ids[int(a)], ids[int(b)], True)
                  for a, b in zip(result.pairs.left[:30], result.pairs.right[:30], strict=True)]
        by_labels = fit_labels(result, labels, prior="labels")
        by_data = fit_labels(result, labels, prior="data")
        n = len(ids)
        expected = global_prior(by_labels.model, result.pairs.levels,
                                total_pairs=n * (n - 1) // 2)
        assert by_data.model.m == by_labels.model.m
        assert by_data.model.prior == pytest.approx(expected)
        assert by_data.model.prior < by_labels.model.prior
        with pytest.raises(MatchingConfigError, match="prior must be"):
            fit_labels(result, labels, prior="guess")


class TestThresholdClustersAsTheRun:
    @pytest.mark.parametrize("seed", [1, 2, 9])
    def test_household_vetoes_kept_apart(self, seed) -> None:
        """The 'labels' threshold is judged on the clusters the run makes: on household data
        (pairs vetoed by the household rule are cannot-link), the picked threshold's run has
        the best expected F1 of the grid, each threshold's clusters taken from a real re-run
        with the fitted model (vetoes kept apart); and the vetoes do change the expected F1
        (clustering without them would judge other clusters)."""
        from tests.matching.realtime.test_index import HOUSEHOLD_BATCH, HOUSEHOLD_ROWS

        res = HOUSEHOLD_BATCH
        truth = synth_truth(HOUSEHOLD_ROWS)
        ids, p = res.ids, res.pairs
        pool = np.flatnonzero((p.probability > 0.3) & (p.rule < 0))
        pick = np.random.default_rng(seed).choice(pool, 40, replace=False)
        labels = [(ids[p.left[k]], ids[p.right[k]], truth[ids[p.left[k]]] == truth[ids[p.right[k]]])
                  for k in pick.tolist()]
        fit = fit_labels(res, labels, threshold="labels", prior="labels")
        run_f1, plain_f1 = {}, {}
        for t in sorted({*GRID, res.settings.threshold}):
            settings_t = attrs.evolve(res.settings, threshold=t)
            run = dedupe(HOUSEHOLD_ROWS, id_column="record_id", settings=settings_t,
                         model=fit.model)
            run_f1[t] = expected_f1(run, labels)
            plain = attrs.evolve(run, labels=cluster_pairs(
                run.n_records, run.pairs, threshold=t, options=res.settings.cluster))
            plain_f1[t] = expected_f1(plain, labels)
        assert run_f1[fit.threshold] == pytest.approx(max(run_f1.values()))
        assert run_f1 != plain_f1  # the vetoes matter for these labels
