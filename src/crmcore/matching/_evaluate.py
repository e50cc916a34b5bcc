"""Evaluation against known truth: pairwise and cluster scores, blocking quality, PR tables.

Truth is either a column of entity labels (one per row) or a set of labelled matching pairs.
Pair counts are computed from cluster sizes (``sum(s * (s - 1) / 2)``), never by listing pairs,
so evaluating clusters of a million rows is instant.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import attrs
import numpy as np
import numpy.typing as npt

from crmcore.errors import MatchingConfigError
from crmcore.matching._cluster import cluster_pairs
from crmcore.matching._predict import ScoredPairs
from crmcore.matching._settings import ClusterOptions

if TYPE_CHECKING:
    from crmcore.matching._result import MatchResult

IntArray = npt.NDArray[np.int64]


@attrs.frozen
class Scores:
    """Precision, recall and F1 with the counts behind them."""

    true_positives: int
    predicted: int
    actual: int

    @property
    def precision(self) -> float:
        """Share of predicted matching pairs that are true."""
        return self.true_positives / self.predicted if self.predicted else 1.0

    @property
    def recall(self) -> float:
        """Share of true matching pairs that were predicted."""
        return self.true_positives / self.actual if self.actual else 1.0

    @property
    def f1(self) -> float:
        """Harmonic mean of precision and recall."""
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def _repr_html_(self) -> str:
        from crmcore.display import scores_html

        return scores_html(self)

    def to_dict(self) -> dict[str, float]:
        """JSON-friendly form."""
        return {
            "precision": round(self.precision, 6),
            "recall": round(self.recall, 6),
            "f1": round(self.f1, 6),
            "true_positives": self.true_positives,
            "predicted": self.predicted,
            "actual": self.actual,
        }


def truth_codes(truth: Sequence[str | None]) -> IntArray:
    """Integer entity code per row; rows without a truth label are their own entity."""
    lookup: dict[str, int] = {}
    out = np.empty(len(truth), dtype=np.int64)
    fresh = len(truth)
    for i, label in enumerate(truth):
        if label is None:
            out[i] = fresh + i
        else:
            out[i] = lookup.setdefault(label, len(lookup))
    return out


def _pairs_in(labels: IntArray) -> int:
    counts = np.bincount(np.unique(labels, return_inverse=True)[1].reshape(-1))
    return int((counts * (counts - 1) // 2).sum())


def cluster_scores(
    labels: Sequence[int] | Sequence[str] | IntArray, truth: Sequence[str | None] | IntArray
) -> Scores:
    """Pairwise precision / recall / F1 of clusters against true entities.

    Args:
        labels: Cluster label per row (integers, or entity ids as text).
        truth: True entity per row (labels or integer codes).

    Returns:
        The scores (a pair counts as predicted when both rows share a cluster).
    """
    if isinstance(labels, np.ndarray):
        lab = labels.astype(np.int64)
    elif len(labels) and isinstance(labels[0], str):
        lab = truth_codes(list(labels))  # type: ignore[arg-type]
    else:
        lab = np.asarray(labels, dtype=np.int64)
    tru = truth if isinstance(truth, np.ndarray) else truth_codes(truth)
    if len(lab) != len(tru):
        raise MatchingConfigError(f"{len(lab)} cluster labels for {len(tru)} truth labels")
    _, lab_c = np.unique(lab, return_inverse=True)
    _, tru_c = np.unique(tru, return_inverse=True)
    joint = lab_c.reshape(-1).astype(np.int64) * (int(tru_c.max(initial=0)) + 1) + tru_c.reshape(-1)
    return Scores(_pairs_in(joint), _pairs_in(lab_c.reshape(-1)), _pairs_in(tru_c.reshape(-1)))


def pair_scores(
    left: IntArray, right: IntArray, truth: Sequence[str | None] | IntArray
) -> Scores:
    """Precision / recall / F1 of predicted pairs (not their transitive closure)."""
    tru = truth if isinstance(truth, np.ndarray) else truth_codes(truth)
    tp = int((tru[left] == tru[right]).sum())
    return Scores(tp, len(left), _pairs_in(tru))


def blocking_quality(
    left: IntArray, right: IntArray, truth: Sequence[str | None] | IntArray
) -> dict[str, float]:
    """Pairs completeness (blocking recall) and reduction ratio of candidate pairs.

    Returns:
        ``{"pairs_completeness", "reduction_ratio", "candidate_pairs", "true_pairs_found",
        "true_pairs"}``.
    """
    tru = truth if isinstance(truth, np.ndarray) else truth_codes(truth)
    n = len(tru)
    found = int((tru[left] == tru[right]).sum())
    actual = _pairs_in(tru)
    total = n * (n - 1) // 2
    return {
        "pairs_completeness": found / actual if actual else 1.0,
        "reduction_ratio": 1.0 - len(left) / total if total else 1.0,
        "candidate_pairs": float(len(left)),
        "true_pairs_found": float(found),
        "true_pairs": float(actual),
    }


def precision_recall_table(
    pairs: ScoredPairs | MatchResult,
    truth: Sequence[str | None] | IntArray,
    *,
    thresholds: Sequence[float] = (0.5, 0.8, 0.9, 0.95, 0.99, 0.999),
    clusters: bool = True,
    options: ClusterOptions | None = None,
) -> list[dict[str, float]]:
    """Precision / recall / F1 at several probability thresholds.

    Args:
        pairs: A run's result (clusters are then made as the run made them, vetoed pairs kept
            apart: :meth:`MatchResult.labels_at`), or its scored pairs (connected components
            of the pairs above each threshold, nothing kept apart).
        truth: True entity per row.
        thresholds: Thresholds to try.
        clusters: Score the clusters (True) or the pairs above the threshold (False).
        options: Clustering policy when ``clusters`` and ``pairs`` are scored pairs.

    Returns:
        One row per threshold: threshold, precision, recall, f1.
    """
    tru = truth if isinstance(truth, np.ndarray) else truth_codes(truth)
    result = None if isinstance(pairs, ScoredPairs) else pairs
    scored = pairs if isinstance(pairs, ScoredPairs) else pairs.pairs
    rows = []
    for t in thresholds:
        if clusters and result is not None:
            s = cluster_scores(result.labels_at(t), tru)
        elif clusters:
            labels = cluster_pairs(len(tru), scored, threshold=t, options=options)
            s = cluster_scores(labels, tru)
        else:
            kept = scored.above(t)
            s = pair_scores(kept.left, kept.right, tru)
        rows.append({"threshold": t, "precision": s.precision, "recall": s.recall, "f1": s.f1})
    return rows
