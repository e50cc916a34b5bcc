"""Prediction: score candidate pairs with a model, columnar.

:func:`score_levels` turns a level matrix into match weights and probabilities (table look-ups and
sums over numpy arrays; term-frequency adjustments looked up per distinct value; deterministic
rules applied as masks). :func:`score_pairs` scores arbitrary pairs of two tables (batch
prediction). :func:`score_records` scores one record against a few others pair by pair, with
each level's pairwise test (:meth:`Comparison.level_of`) and the same :class:`ModelScorer`: the
real-time index uses it, so a pair gets the same levels and score either way, by construction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import attrs
import numpy as np
import numpy.typing as npt

from crmcore.errors import ModelError
from crmcore.io._arrow import unique_sorted
from crmcore.matching._comparisons import compute_levels
from crmcore.matching._expressions import Frame
from crmcore.matching._model import MatchModel
from crmcore.matching._pairs import Values

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
LevelArray = npt.NDArray[np.int8]

#: Match weight given to pairs forced by a "match" rule (and minus it for "non_match").
RULE_WEIGHT = 60.0
#: Pairs up to which :meth:`ModelScorer.score` adds weights in Python floats (a real-time look-up
#: scores a handful: a dozen numpy calls would cost more than the sums); more go columnar.
_FEW = 256


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

    def vetoed(self, model: MatchModel) -> npt.NDArray[np.bool_]:
        """Which pairs a ``"non_match"`` rule of ``model`` decided (see :func:`vetoed`)."""
        return vetoed(model, self.rule)

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


def weight_probability(weight: FloatArray) -> FloatArray:
    """Match probability of match weights (log2 odds): ``1 / (1 + 2**-w)``, weights clipped to
    +-1000 (a forced match or veto is +-inf). The one formula scoring and clustering use."""
    clipped = np.minimum(np.maximum(np.asarray(weight, dtype=np.float64), -1000.0), 1000.0)
    out: FloatArray = 1.0 / (1.0 + np.exp2(-clipped))
    return out


def vetoed(model: MatchModel, rule: npt.NDArray[np.int8]) -> npt.NDArray[np.bool_]:
    """Which pairs a ``"non_match"`` rule vetoed, from each pair's deciding rule (-1: none).

    Clustering keeps such pairs apart (cannot-link), in batch, on Spark and in the real-time
    index alike (:func:`~crmcore.matching.cluster_with_decisions`): a veto says the two
    records are different people, so no chain of other links may join them either.

    Args:
        model: The model whose rules decided the pairs.
        rule: Index of the deciding rule per pair (:attr:`ScoredPairs.rule`).

    Returns:
        One flag per pair.
    """
    table = np.array([r.outcome == "non_match" for r in model.rules] + [False], dtype=bool)
    out: npt.NDArray[np.bool_] = table[np.asarray(rule, dtype=np.int64)]
    return out


def _tf_adjustments(
    model: MatchModel, frame: Frame, left: IntArray, right: IntArray, levels: LevelArray
) -> FloatArray:
    total = np.zeros(len(left))
    for (ci, li), tf in model.tf.items():
        hit = np.flatnonzero(levels[:, ci] == li)
        if len(hit) == 0:
            continue
        codes = frame.codes(tf.expression)[left[hit]]
        per_code = tf.adjustment_per_code(frame, unique_sorted(codes[codes >= 0]))
        # a left record without the table's value shares nothing: no adjustment
        total[hit] += np.where(codes >= 0, per_code[np.maximum(codes, 0)], 0.0)
    return total


class ModelScorer:
    """A model's scoring compiled once (weights per level, rules as level tables), in two
    forms: :meth:`score` over a level matrix and :meth:`tf_of` for a few pairs' term-frequency
    adjustments, with the batch arithmetic in the batch order, so the pairwise path
    (:func:`score_records`) gets the batch weight to the last bit.

    An engine object (not a spec): build one per model and reuse it.

    Args:
        model: The trained model.

    Raises:
        ModelError: If a rule names an unknown comparison.
        ValueError: If a rule names an unknown level label.
    """

    def __init__(self, model: MatchModel) -> None:
        self.model = model
        self.prior_weight = model.prior_weight
        self.weights = model.weights()
        self.labels = tuple(c.labels for c in model.comparisons)
        self._rules: list[tuple[list[tuple[int, npt.NDArray[np.bool_]]], float]] = []
        for rule in model.rules:
            when = []
            for cname, labels in rule.when.items():
                ci = model.comparison_index(cname)
                ok = np.zeros(len(self.labels[ci]), dtype=bool)
                ok[[self.labels[ci].index(lab) for lab in labels]] = True
                when.append((ci, ok))
            self._rules.append((when, RULE_WEIGHT if rule.outcome == "match" else -RULE_WEIGHT))
        self._tf = list(model.tf.items())
        self._tf_at = {at: k for k, (at, _table) in enumerate(self._tf)}
        self._tf_memo: dict[tuple[int, str], float] = {}
        self.weight_lists: tuple[list[float], ...] = tuple(w.tolist() for w in self.weights)
        """:attr:`weights` as Python floats (the same bits), for a few pairs."""
        # the rule tables as Python lists, for a few pairs (see _score_few)
        self._lists = (
            list(self.weight_lists),
            [([(ci, ok.tolist()) for ci, ok in when], forced) for when, forced in self._rules],
        )

    def tf_adjustment(self, comparison: int, level: int, value: str | None) -> float:
        """Term-frequency adjustment (bits) of a pair at ``level`` of ``comparison`` whose left
        record has ``value`` (:meth:`TermFrequencies.adjustment`, memoised per value; 0 where
        the model does not adjust that level)."""
        k = self._tf_at.get((comparison, level))
        if k is None or value is None:
            return 0.0
        memo = self._tf_memo
        got = memo.get((k, value))
        if got is None:
            if len(memo) > 100_000:
                memo.clear()
            got = memo[(k, value)] = self._tf[k][1].adjustment(value)
        return got

    def score(
        self, levels: LevelArray, tf: FloatArray | None = None
    ) -> tuple[FloatArray, FloatArray, npt.NDArray[np.int8]]:
        """Match weight, probability and deciding rule (-1 for none) of each row of a level
        matrix; ``tf`` is the pairs' summed term-frequency adjustment, if any."""
        k = len(levels)
        if k <= _FEW:
            weight, rule_of = self._score_few(levels, tf)
        else:
            weight = np.full(k, self.prior_weight)
            for c, w in enumerate(self.weights):
                weight += w[levels[:, c]]
            if tf is not None:
                weight += tf
            rule_of = np.full(k, -1, dtype=np.int8)
            for r, (when, forced) in enumerate(self._rules):
                hold = rule_of < 0
                for ci, ok in when:
                    hold &= ok[levels[:, ci]]
                rule_of[hold] = r
                weight[hold] = forced
        return weight, weight_probability(weight), rule_of

    def _score_few(
        self, levels: LevelArray, tf: FloatArray | None
    ) -> tuple[FloatArray, npt.NDArray[np.int8]]:
        """:meth:`score`'s weights and rules for a few pairs, in Python floats: the same
        additions in the same order as the columnar loop (IEEE doubles both), so the same bits,
        without a dozen numpy calls of fixed cost (a real-time look-up scores a handful)."""
        tf_list = tf.tolist() if tf is not None else None
        weights, rules = self._lists
        out: list[float] = []
        which: list[int] = []
        for p, row in enumerate(levels.tolist()):
            w = self.prior_weight
            for c, lv in enumerate(row):
                w += weights[c][lv]
            if tf_list is not None:
                w += tf_list[p]
            decided = -1
            for r, (when, forced) in enumerate(rules):
                if all(ok[row[ci]] for ci, ok in when):
                    decided, w = r, forced
                    break
            out.append(w)
            which.append(decided)
        return np.array(out, dtype=np.float64), np.array(which, dtype=np.int8)


    def tf_of(self, levels: LevelArray, lefts: Sequence[Values]) -> FloatArray:
        """Summed term-frequency adjustment of a few pairs, from each pair's left record
        values (:meth:`TermFrequencies.adjustment`, memoised per value), in table order."""
        out = np.zeros(len(lefts))
        if not self._tf:
            return out
        memo = self._tf_memo
        if len(memo) > 100_000:
            memo.clear()
        rows = levels.tolist()
        for p, (row, values) in enumerate(zip(rows, lefts, strict=True)):
            t = 0.0
            for k, ((ci, li), table) in enumerate(self._tf):
                if row[ci] != li:
                    continue
                value = values[table.expression]
                if value is None:
                    continue
                got = memo.get((k, value))
                if got is None:
                    got = memo[(k, value)] = table.adjustment(value)
                t += got
            out[p] = t
        return out


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
    tf = None
    if model.tf and frame is not None and left is not None and right is not None:
        tf = _tf_adjustments(model, frame, left, right, levels)
    return ModelScorer(model).score(levels, tf)


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


def score_records(
    model: MatchModel,
    lefts: Sequence[Values],
    right: Values,
    *,
    scorer: ModelScorer | None = None,
) -> ScoredPairs:
    """Score one record against a few others, pair by pair: the batch levels and scores.

    Each pair's levels come from :meth:`Comparison.level_of` (every level's pairwise test),
    its weight from :class:`ModelScorer` as in :func:`score_levels`; for a handful of pairs this
    costs microseconds where the columnar :func:`score_pairs` costs milliseconds of fixed numpy
    work. Each ``lefts[i]`` is the left record of pair ``i`` (as in batch, where the earlier
    row is left) and ``right`` the right one of every pair.

    Args:
        model: The model.
        lefts: The left records' values (:class:`~crmcore.matching._expressions.RecordValues`).
        right: The right record's values.
        scorer: The model's compiled scorer (built when not given; reuse one for speed).

    Returns:
        Scored pairs with ``left = 0..k-1`` and ``right = k`` (row ``k`` is ``right``).
    """
    scorer = ModelScorer(model) if scorer is None else scorer
    k = len(lefts)
    comparisons = model.comparisons
    rows = [[c.level_of(a, right) for c in comparisons] for a in lefts]
    levels = np.array(rows, dtype=np.int8).reshape(k, len(comparisons))
    tf = scorer.tf_of(levels, lefts) if model.tf else None
    weight, probability, rule = scorer.score(levels, tf)
    return ScoredPairs(
        left=np.arange(k, dtype=np.int64),
        right=np.full(k, k, dtype=np.int64),
        match_weight=weight,
        probability=probability,
        levels=levels,
        rule=rule,
        comparison_names=tuple(c.name for c in comparisons),
    )
