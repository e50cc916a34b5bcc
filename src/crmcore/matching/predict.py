"""Prediction: score candidate pairs with a model, columnar.

:func:`score_levels` turns a level matrix into match weights and probabilities (table look-ups and
sums over numpy arrays; term-frequency adjustments looked up per distinct value; deterministic
rules applied as masks). :func:`score_pairs` scores arbitrary pairs of two tables — the one
function both batch prediction and the real-time index use, so a pair gets the same score either
way.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import attrs
import numpy as np
import numpy.typing as npt

from crmcore.errors import ModelError
from crmcore.matching.comparisons import compute_levels
from crmcore.matching.expressions import Frame
from crmcore.matching.model import MatchModel

__all__ = ["ScoredPairs", "score_levels", "score_pairs", "stack_frames"]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
LevelArray = npt.NDArray[np.int8]

#: Match weight given to pairs forced by a "match" rule (and minus it for "non_match").
RULE_WEIGHT = 60.0


@attrs.frozen
class ScoredPairs:
    """Scored pairs, columnar: one entry per pair in every array.

    Args:
        left: Row of the first record.
        right: Row of the second record.
        match_weight: Total match weight in bits.
        probability: Match probability.
        levels: ``(n_pairs, n_comparisons)`` level index per comparison.
        rule: Index of the deterministic rule that decided the pair, or -1.
        comparison_names: Names of the comparisons (columns of ``levels``).
    """

    left: IntArray
    right: IntArray
    match_weight: FloatArray
    probability: FloatArray
    levels: LevelArray
    rule: npt.NDArray[np.int8]
    comparison_names: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.left)

    def select(self, mask: npt.NDArray[np.bool_] | IntArray) -> ScoredPairs:
        """The pairs picked by a boolean mask or an index array."""
        return ScoredPairs(
            left=self.left[mask],
            right=self.right[mask],
            match_weight=self.match_weight[mask],
            probability=self.probability[mask],
            levels=self.levels[mask],
            rule=self.rule[mask],
            comparison_names=self.comparison_names,
        )

    def above(self, threshold: float) -> ScoredPairs:
        """Pairs with probability at or above ``threshold``."""
        return self.select(self.probability >= threshold)

    def to_columns(
        self,
        model: MatchModel | None = None,
        *,
        left_ids: Sequence[str | None] | None = None,
        right_ids: Sequence[str | None] | None = None,
    ) -> dict[str, list[Any]]:
        """Columns for a table: ids (or rows), weight, probability, and level labels if a model."""
        left = self.left.tolist()
        right = self.right.tolist()
        out: dict[str, list[Any]] = {
            "left": [left_ids[i] for i in left] if left_ids is not None else left,
            "right": [right_ids[i] for i in right] if right_ids is not None else right,
            "match_weight": np.round(self.match_weight, 4).tolist(),
            "probability": np.round(self.probability, 6).tolist(),
        }
        for c, name in enumerate(self.comparison_names):
            col = self.levels[:, c]
            if model is not None:
                labels = np.array(model.comparisons[c].labels, dtype=object)
                out[name] = labels[col].tolist()
            else:
                out[name] = col.tolist()
        return out


def _tf_adjustments(
    model: MatchModel, frame: Frame, left: IntArray, right: IntArray, levels: LevelArray
) -> FloatArray:
    total = np.zeros(len(left))
    for (ci, li), tf in model.tf.items():
        hit = np.flatnonzero(levels[:, ci] == li)
        if len(hit) == 0:
            continue
        per_code = tf.adjustment_per_code(frame)
        codes = frame.codes(tf.expression)
        total[hit] += per_code[np.maximum(codes[left[hit]], 0)]
    return total


def score_levels(
    model: MatchModel,
    levels: LevelArray,
    *,
    frame: Frame | None = None,
    left: IntArray | None = None,
    right: IntArray | None = None,
) -> tuple[FloatArray, FloatArray, npt.NDArray[np.int8]]:
    """Match weight, probability and deciding rule for each row of a level matrix.

    Term-frequency adjustments need the frame and the pair rows.

    Returns:
        ``(match_weight, probability, rule)``.
    """
    if levels.shape[1] != len(model.comparisons):
        raise ModelError(
            f"levels have {levels.shape[1]} columns for {len(model.comparisons)} comparisons"
        )
    weight = np.full(len(levels), model.prior_weight)
    for c, w in enumerate(model.weights()):
        weight += w[levels[:, c]]
    if model.tf and frame is not None and left is not None and right is not None:
        weight += _tf_adjustments(model, frame, left, right, levels)
    rule_of = np.full(len(levels), -1, dtype=np.int8)
    for r, rule in enumerate(model.rules):
        hold = np.ones(len(levels), dtype=bool)
        for cname, labels in rule.when.items():
            ci = model.comparison_index(cname)
            accepted = [model.comparisons[ci].labels.index(lab) for lab in labels]
            hold &= np.isin(levels[:, ci], accepted)
        hold &= rule_of < 0
        rule_of[hold] = r
        weight[hold] = RULE_WEIGHT if rule.outcome == "match" else -RULE_WEIGHT
    probability = 1.0 / (1.0 + np.exp2(-np.clip(weight, -1000, 1000)))
    return weight, probability, rule_of


def _score(model: MatchModel, frame: Frame, left: IntArray, right: IntArray) -> ScoredPairs:
    levels = compute_levels(model.comparisons, frame, left, right)
    weight, prob, rule = score_levels(model, levels, frame=frame, left=left, right=right)
    return ScoredPairs(
        left=left,
        right=right,
        match_weight=weight,
        probability=prob,
        levels=levels,
        rule=rule,
        comparison_names=tuple(c.name for c in model.comparisons),
    )


def stack_frames(
    left: Mapping[str, Sequence[str | None]], right: Mapping[str, Sequence[str | None]]
) -> tuple[Frame, int]:
    """One frame holding the rows of ``left`` then those of ``right`` (shared columns only)."""
    names = [n for n in left if n in right]
    columns = {n: [*left[n], *right[n]] for n in names}
    n_left = len(next(iter(left.values()))) if left else 0
    return Frame(columns), n_left


def score_pairs(
    model: MatchModel,
    left_table: Frame | Mapping[str, Sequence[str | None]],
    right_table: Mapping[str, Sequence[str | None]] | None,
    left_idx: Sequence[int] | IntArray,
    right_idx: Sequence[int] | IntArray,
) -> ScoredPairs:
    """Score given pairs with a model; the same scores as batch prediction.

    Args:
        model: The model.
        left_table: Prepared columns of the left records (or a :class:`Frame` for dedupe).
        right_table: Prepared columns of the right records; ``None`` when both indexes refer
            to ``left_table``.
        left_idx: Row in the left table of each pair.
        right_idx: Row in the right table of each pair.

    Returns:
        The scored pairs, indexes as given (right indexes relative to the right table).
    """
    li = np.asarray(left_idx, dtype=np.int64)
    ri = np.asarray(right_idx, dtype=np.int64)
    if right_table is None:
        frame = left_table if isinstance(left_table, Frame) else Frame(left_table)
        return _score(model, frame, li, ri)
    if isinstance(left_table, Frame):
        raise ModelError("pass prepared columns (a mapping), not a Frame, when linking two tables")
    frame, n_left = stack_frames(left_table, right_table)
    scored = _score(model, frame, li, ri + n_left)
    return attrs.evolve(scored, right=ri)
