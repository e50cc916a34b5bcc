"""Evaluation: pairwise and cluster precision / recall / F1 against brute-force pair counting."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crmcore.errors import MatchingConfigError
from crmcore.matching import (
    ClusterOptions,
    Scores,
    blocking_quality,
    cluster_pairs,
    cluster_scores,
    pair_scores,
    precision_recall_table,
)
from crmcore.matching._evaluate import truth_codes
from tests.matching.strategies import scored_pairs

truth_labels = st.sampled_from(["a", "b", "c", "d", None])


def brute(predicted: set[tuple[int, int]], actual: set[tuple[int, int]]) -> tuple[float, ...]:
    """Precision, recall and F1 by counting pairs."""
    tp = len(predicted & actual)
    p = tp / len(predicted) if predicted else 1.0
    r = tp / len(actual) if actual else 1.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return p, r, f


def same_label_pairs(labels: list[object]) -> set[tuple[int, int]]:
    """All pairs i < j whose labels are equal and not None."""
    return {(i, j) for i, j in itertools.combinations(range(len(labels)), 2)
            if labels[i] is not None and labels[i] == labels[j]}


@st.composite
def labelled(draw: st.DrawFn) -> tuple[list[int], list[str | None]]:
    """Cluster labels and truth labels for the same rows."""
    n = draw(st.integers(0, 25))
    clusters = draw(st.lists(st.integers(0, 6), min_size=n, max_size=n))
    truth = draw(st.lists(truth_labels, min_size=n, max_size=n))
    return clusters, truth


class TestClusterScores:
    @settings(max_examples=80, deadline=None)
    @given(labelled())
    def test_equals_brute_force_pair_counts(self, case) -> None:
        """Cluster P/R/F1 equal pairwise counts over every pair of rows (None: own entity)."""
        clusters, truth = case
        got = cluster_scores(clusters, truth)
        predicted = same_label_pairs(list(clusters))
        actual = same_label_pairs(list(truth))
        assert (got.predicted, got.actual) == (len(predicted), len(actual))
        assert got.true_positives == len(predicted & actual)
        assert (got.precision, got.recall, got.f1) == pytest.approx(brute(predicted, actual))

    @settings(max_examples=30, deadline=None)
    @given(labelled())
    def test_text_entity_ids_score_like_labels(self, case) -> None:
        """Entity ids given as text score exactly like the integer labels they stand for."""
        clusters, truth = case
        ids = [f"E{c:06d}" for c in clusters]
        assert cluster_scores(ids, truth) == cluster_scores(clusters, truth)

    def test_length_mismatch(self) -> None:
        """Labels and truth of different lengths are refused."""
        with pytest.raises(MatchingConfigError, match="2 cluster labels for 3 truth labels"):
            cluster_scores([0, 0], ["a", "a", "b"])


class TestPairScores:
    @settings(max_examples=60, deadline=None)
    @given(st.integers(2, 20).flatmap(lambda n: st.tuples(
        st.lists(truth_labels, min_size=n, max_size=n),
        st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=30),
    )))
    def test_equals_brute_force(self, case) -> None:
        """Pair P/R/F1 equal brute-force counts of the predicted pairs (no transitive closure)."""
        truth, raw = case
        pairs = sorted({(min(a, b), max(a, b)) for a, b in raw if a != b})
        left = np.array([a for a, _ in pairs], dtype=np.int64)
        right = np.array([b for _, b in pairs], dtype=np.int64)
        got = pair_scores(left, right, truth)
        expected = brute(set(pairs), same_label_pairs(list(truth)))
        assert (got.precision, got.recall, got.f1) == pytest.approx(expected)


class TestBlockingQuality:
    @settings(max_examples=40, deadline=None)
    @given(st.integers(2, 20).flatmap(lambda n: st.tuples(
        st.lists(truth_labels, min_size=n, max_size=n),
        st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=30),
    )))
    def test_pairs_completeness_and_reduction_ratio(self, case) -> None:
        """Pairs completeness is the share of true pairs among candidates; RR the share avoided."""
        truth, raw = case
        pairs = sorted({(min(a, b), max(a, b)) for a, b in raw if a != b})
        left = np.array([a for a, _ in pairs], dtype=np.int64)
        right = np.array([b for _, b in pairs], dtype=np.int64)
        got = blocking_quality(left, right, truth)
        actual = same_label_pairs(list(truth))
        n = len(truth)
        found = len(set(pairs) & actual)
        assert got["pairs_completeness"] == pytest.approx(found / len(actual) if actual else 1.0)
        assert got["reduction_ratio"] == pytest.approx(1 - len(pairs) / (n * (n - 1) / 2))
        assert (got["true_pairs_found"], got["true_pairs"]) == (found, len(actual))


class TestPrecisionRecallTable:
    @settings(max_examples=30, deadline=None)
    @given(scored_pairs(max_nodes=15), st.data(), st.booleans())
    def test_rows_equal_scores_at_each_threshold(self, case, data, clusters) -> None:
        """Each row equals scoring the clusters (or pairs) cut at that threshold."""
        n, pairs = case
        truth = data.draw(st.lists(truth_labels, min_size=n, max_size=n))
        options = ClusterOptions(method="components")
        table = precision_recall_table(pairs, truth, thresholds=(0.2, 0.5, 0.9),
                                       clusters=clusters, options=options)
        assert [row["threshold"] for row in table] == [0.2, 0.5, 0.9]
        actual = same_label_pairs(list(truth))
        for row in table:
            kept = pairs.above(row["threshold"])
            if clusters:
                labels = cluster_pairs(n, pairs, threshold=row["threshold"], options=options)
                predicted = same_label_pairs(labels.tolist())
            else:
                predicted = set(zip(kept.left.tolist(), kept.right.tolist(), strict=True))
            p, r, f = brute(predicted, actual)
            assert (row["precision"], row["recall"], row["f1"]) == pytest.approx((p, r, f))

    def test_a_result_is_clustered_as_the_run_clustered(self) -> None:
        """Given a run's result, the table keeps vetoed pairs apart as the run did: scored
        against the run's own entities it is exact at the run's threshold, where the plain
        components of the same pairs merge the households the vetoes split."""
        from tests.matching.realtime.test_index import HOUSEHOLD_BATCH

        res = HOUSEHOLD_BATCH
        assert res.cut_links  # the vetoes split something
        own = [str(label) for label in res.labels.tolist()]
        (row,) = precision_recall_table(res, own, thresholds=(res.threshold,))
        assert (row["precision"], row["recall"], row["f1"]) == (1.0, 1.0, 1.0)
        (plain,) = precision_recall_table(res.pairs, own, thresholds=(res.threshold,),
                                          options=res.settings.cluster)
        assert plain["precision"] < 1.0


class TestTruthCodes:
    def test_none_is_its_own_entity(self) -> None:
        """Equal labels share a code; each missing label gets a fresh one."""
        codes = truth_codes(["a", None, "a", None, "b"]).tolist()
        assert codes[0] == codes[2]
        assert len({codes[1], codes[3], codes[0], codes[4]}) == 4


class TestScores:
    def test_edge_cases_and_dict(self) -> None:
        """No predictions means precision 1; nothing right means F1 0; to_dict rounds."""
        assert Scores(0, 0, 5).precision == 1.0
        assert Scores(0, 3, 5).f1 == 0.0
        assert Scores(2, 3, 4).to_dict() == {
            "precision": 0.666667, "recall": 0.5, "f1": 0.571429,
            "true_positives": 2, "predicted": 3, "actual": 4}
