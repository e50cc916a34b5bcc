"""Labels when a user has them: fit the model and the threshold from labelled pairs, and an
active-learning loop that asks for the pairs worth labelling.

Unsupervised training (:func:`~crmcore.matching.train_model`) gives every level a weight from EM.
A few dozen answers from a person ("these two are the same", "these are not") then correct it:

* :func:`fit_labels` refits the model to labelled pairs (a list of pairs with ``match`` true or
  false, or the decisions of a :class:`~crmcore.matching.ReviewQueue`). The fit is
  discriminative: it maximises the likelihood of the labels given the pairs' levels (a logistic
  model whose coefficients are the Fellegi-Sunter weights ``log2(m / u)`` and whose intercept is
  the prior), with a Gaussian penalty that keeps every ``log m`` near its EM value and the prior
  near EM's. u stays as sampled from random pairs; m stays a probability distribution per
  comparison (softmax parameters). Because the likelihood is conditional on the levels, labels
  picked by their score (as active learning picks them) do not bias it, unlike counting m from
  the labelled matches would.
* The prior: from the labels when they were picked by score (active learning), else the match
  rate the refitted model gives over all pairs. The threshold: the settings', or (active
  learning) the one among a few candidates whose clusters have the best F1 expected from the
  labels and the refitted probabilities (transitive links included); see :func:`fit_labels`.
* :class:`ActiveLearning` (made by :func:`active_learning`) runs a job once (prepare, block,
  compare, train), then asks for pairs in rounds: the candidates nearest to even odds or to the
  threshold under the current model (uncertainty sampling), one per distinct comparison
  pattern and patterns already labelled pushed back (diversity), refitting after every round.
  Every step is columnar over the candidate pairs; a round costs milliseconds at 1,000
  records, under a second of CPU at 50k.

Example:
    >>> rows = [
    ...     {"id": "1", "first_name": "Ann", "last_name": "Lee", "email": "ann@x.com"},
    ...     {"id": "2", "first_name": "Ann", "last_name": "Lee", "email": "ann@x.com"},
    ...     {"id": "3", "first_name": "Anna", "last_name": "Lee", "email": "al@y.org"},
    ... ]
    >>> session = active_learning(rows, id_column="id")
    >>> asked = session.next_pairs(2)
    >>> for pair in asked:
    ...     _ = session.label(pair, match=True)
    >>> session.fit().labels == len(asked) > 0
    True
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import attrs
import numpy as np
import numpy.typing as npt

from crmcore.errors import FieldProblem, MatchingConfigError, ValidationError
from crmcore.matching._api import dedupe
from crmcore.matching._cluster import connected_components
from crmcore.matching._comparisons import compute_levels
from crmcore.matching._model import MatchModel
from crmcore.matching._predict import score_levels
from crmcore.matching._result import MatchResult
from crmcore.matching._review import ReviewDecision
from crmcore.matching._settings import MatchSettings
from crmcore.matching._training import global_prior

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
LevelArray = npt.NDArray[np.int8]

_LN2 = math.log(2.0)
#: Thresholds are kept inside this band (a probability of exactly 0 or 1 matches all or nothing).
_T_MIN, _T_MAX = 1e-4, 1.0 - 1e-6


def _check_id(_inst: object, attr: Any, value: str) -> None:
    if not isinstance(value, str) or not value:
        raise ValidationError(FieldProblem(attr.name, value, "labels.id", "must be non-empty"))


@attrs.frozen
class LabelledPair:
    """A person's answer about one pair of records.

    Attributes:
        left_id: One record id.
        right_id: The other record id.
        match: Whether the two records are the same person (or company).
    """

    left_id: str = attrs.field(validator=_check_id)
    right_id: str = attrs.field(validator=_check_id)
    match: bool = attrs.field(converter=bool)

    @right_id.validator
    def _distinct(self, _a: object, value: str) -> None:
        if value == self.left_id:
            raise ValidationError(
                FieldProblem("right_id", value, "labels.distinct", "a pair needs two records")
            )


@attrs.frozen
class PairQuestion:
    """A pair the active-learning loop asks about.

    Attributes:
        left_id: Id of one record.
        right_id: Id of the other record.
        probability: Match probability under the current model.
        match_weight: Match weight (bits) under the current model.
        left: The compared values of the first record (column -> prepared value).
        right: The compared values of the second record.
        levels: Comparison name -> level label of the pair.
    """

    left_id: str
    right_id: str
    probability: float
    match_weight: float
    left: Mapping[str, str | None] = attrs.field(factory=dict)
    right: Mapping[str, str | None] = attrs.field(factory=dict)
    levels: Mapping[str, str] = attrs.field(factory=dict)

    def __str__(self) -> str:
        cols = list(self.left)
        width = max((len(c) for c in cols), default=0)
        lines = [(f"{self.left_id} vs {self.right_id}: p={self.probability:.3f} "
                 f"({self.match_weight:+.2f} bits)")]
        lines += [f"  {c:<{width}}  {self.left[c]!s:<30}  {self.right[c]!s}" for c in cols]
        return "\n".join(lines)


@attrs.frozen
class LabelFit:
    """A model and threshold fitted to labels.

    Attributes:
        model: The refitted model (same comparisons, u, TF tables and rules; new m and prior).
        threshold: Match probability threshold chosen for it.
        settings: The job's settings with that threshold (pass both to ``dedupe`` or
            ``MatchIndex``).
        labels: Labelled pairs used.
        matches: Of which matches.
        ignored: Labelled pairs not used: decided by a deterministic rule (their score does not
            depend on the weights) or naming an unknown record.
        log_loss_before: Mean log loss of the labels under the EM model.
        log_loss_after: Mean log loss under the refitted model.
    """

    model: MatchModel
    threshold: float
    settings: MatchSettings
    labels: int
    matches: int
    ignored: int
    log_loss_before: float
    log_loss_after: float


# -- the fit ------------------------------------------------------------------------------------


def _log_loss(score: FloatArray, y: FloatArray) -> float:
    """Mean logistic loss of natural-log odds ``score`` against labels ``y``."""
    if len(y) == 0:
        return 0.0
    return float(np.mean(np.logaddexp(0.0, score) - y * score))


def fit_weights(
    model: MatchModel,
    levels: LevelArray,
    y: Sequence[float] | FloatArray,
    *,
    offsets: FloatArray | None = None,
    strength: float = 1.0,
    prior_strength: float = 0.05,
    max_iterations: int = 500,
) -> MatchModel:
    """Refit m and the prior of a model to labelled pairs (discriminatively, u fixed).

    Maximises ``sum(log P(y | levels)) - strength / 2 * sum((log m - log m_em)**2)
    - prior_strength / 2 * (logit(prior) - logit(prior_em))**2`` (natural logs) by gradient
    descent with backtracking; m is a softmax per comparison, so it stays a distribution.

    Args:
        model: The starting model (its m and prior are also the penalty's centre).
        levels: ``(n_labels, n_comparisons)`` levels of the labelled pairs.
        y: 1 for a match, 0 for a non-match (values between act as soft labels).
        offsets: Extra match weight (bits) per pair that the fit does not change (term-frequency
            adjustments).
        strength: Penalty on moving ``log m`` away from the model's (per level, natural log);
            larger keeps closer to EM.
        prior_strength: Penalty on moving the prior's log odds.
        max_iterations: Gradient steps at most.

    Returns:
        The refitted model.
    """
    target = np.asarray(y, dtype=np.float64)
    n_comp = len(model.comparisons)
    if levels.shape != (len(target), n_comp):
        raise MatchingConfigError(
            f"levels of shape {levels.shape} for {len(target)} labels and {n_comp} comparisons"
        )
    if len(target) == 0:
        return model
    off = np.zeros(len(target)) if offsets is None else np.asarray(offsets) * _LN2
    log_u = [np.log(np.asarray(u, dtype=np.float64)) for u in model.u]
    theta0 = [np.log(np.asarray(m, dtype=np.float64)[1:]) for m in model.m]
    b0 = math.log(model.prior) - math.log1p(-model.prior)
    cols = [levels[:, c].astype(np.int64) for c in range(n_comp)]

    def unpack(theta: list[FloatArray]) -> list[FloatArray]:
        out = []
        for t in theta:
            z = t - t.max()
            out.append(z - math.log(float(np.exp(z).sum())))  # log softmax
        return out

    def objective(theta: list[FloatArray], b: float) -> tuple[float, list[FloatArray], float]:
        log_m = unpack(theta)
        score = b + off
        for c in range(n_comp):
            w = np.concatenate(([0.0], log_m[c] - log_u[c][1:]))
            score = score + w[cols[c]]
        loss = float(np.sum(np.logaddexp(0.0, score) - target * score))
        r = 1.0 / (1.0 + np.exp(-score)) - target
        grads = []
        for c in range(n_comp):
            k = len(theta[c])
            d = log_m[c] - theta0[c]
            loss += 0.5 * strength * float(d @ d)
            g = np.bincount(cols[c], weights=r, minlength=k + 1)[1:] + strength * d
            m = np.exp(log_m[c])
            grads.append(g - m * g.sum())  # through the softmax
        loss += 0.5 * prior_strength * (b - b0) ** 2
        return loss, grads, float(r.sum()) + prior_strength * (b - b0)

    theta = [t.copy() for t in theta0]
    b = b0
    loss, grads, gb = objective(theta, b)
    step = 1.0
    for _ in range(max_iterations):
        norm2 = gb * gb + sum(float(g @ g) for g in grads)
        if norm2 < 1e-12:
            break
        while step > 1e-10:
            cand = [t - step * g for t, g in zip(theta, grads, strict=True)]
            cb = b - step * gb
            new_loss, new_grads, new_gb = objective(cand, cb)
            if new_loss <= loss - 0.5 * step * norm2:
                break
            step *= 0.5
        else:
            break
        if loss - new_loss < 1e-10 * max(1.0, abs(loss)):
            theta, b, loss, grads, gb = cand, cb, new_loss, new_grads, new_gb
            break
        theta, b, loss, grads, gb = cand, cb, new_loss, new_grads, new_gb
        step = min(step * 2.0, 16.0)
    m_new = []
    for t in unpack(theta):
        m_c = np.concatenate(([1.0], np.exp(t)))
        m_c[1:] = np.maximum(m_c[1:], 1e-12)
        m_new.append(tuple(m_c.tolist()))
    prior = float(np.clip(1.0 / (1.0 + math.exp(-b)), 1e-15, 1 - 1e-12))
    return attrs.evolve(model, m=m_new, prior=prior)


def best_threshold(probability: FloatArray) -> float:
    """The threshold that maximises the pairwise F1 expected from calibrated probabilities.

    With ``p`` the match probability of every candidate pair, the expected true positives at
    threshold ``t`` are ``sum(p[p >= t])``, the predicted pairs ``count(p >= t)`` and the true
    pairs ``sum(p)``; the returned ``t`` maximises ``2 * TP / (predicted + true)`` (one sort).
    """
    p = np.asarray(probability, dtype=np.float64)
    if len(p) == 0 or p.sum() <= 0:
        return 0.5
    order = np.sort(p)[::-1]
    tp = np.cumsum(order)
    k = np.arange(1, len(order) + 1)
    f1 = 2.0 * tp / (k + tp[-1])
    # only where the next probability differs: a threshold cannot split equal probabilities
    last = np.concatenate((order[1:] != order[:-1], [True]))
    best = int(np.flatnonzero(last)[np.argmax(f1[last])])
    return float(np.clip(order[best], _T_MIN, _T_MAX))


def _as_labels(
    labels: Iterable[LabelledPair | ReviewDecision | tuple[str, str, bool]],
) -> list[LabelledPair]:
    out: list[LabelledPair] = []
    latest: dict[tuple[str, str], int] = {}
    for item in labels:
        if isinstance(item, LabelledPair):
            lab = item
        elif isinstance(item, ReviewDecision):
            lab = LabelledPair(item.left_id, item.right_id, item.decision == "same")
        else:
            a, b, match = item
            lab = LabelledPair(str(a), str(b), bool(match))
        key = (min(lab.left_id, lab.right_id), max(lab.left_id, lab.right_id))
        if key in latest:  # the latest answer about a pair counts
            out[latest[key]] = lab
        else:
            latest[key] = len(out)
            out.append(lab)
    return out


@attrs.frozen
class _Labelled:
    """Labelled pairs located in a result: rows, levels, TF offsets, targets, and the rest."""

    rows: tuple[IntArray, IntArray]
    levels: LevelArray
    offsets: FloatArray
    y: FloatArray
    ignored: int


def _locate(result: MatchResult, labels: Sequence[LabelledPair]) -> _Labelled:
    pos: dict[str, int] = {}
    for i, rid in enumerate(result.ids):
        if rid is not None:
            pos.setdefault(rid, i)
    left: list[int] = []
    right: list[int] = []
    y: list[float] = []
    unknown = 0
    for lab in labels:
        a, b = pos.get(lab.left_id), pos.get(lab.right_id)
        if a is None or b is None or a == b:
            unknown += 1
            continue
        left.append(a)
        right.append(b)
        y.append(1.0 if lab.match else 0.0)
    li = np.array(left, dtype=np.int64)
    ri = np.array(right, dtype=np.int64)
    model = result.model
    levels = compute_levels(model.comparisons, result.frame, li, ri)
    weight, _, rule = score_levels(model, levels, frame=result.frame, left=li, right=ri)
    offsets = weight - _base_weight(model, levels)
    free = rule < 0
    return _Labelled(
        rows=(li[free], ri[free]), levels=levels[free], offsets=offsets[free],
        y=np.array(y)[free], ignored=unknown + int((~free).sum()),
    )


def _base_weight(model: MatchModel, levels: LevelArray) -> FloatArray:
    """Prior plus level weights (bits), without TF adjustments or rules."""
    out = np.full(len(levels), model.prior_weight)
    for c, w in enumerate(model.weights()):
        out += w[levels[:, c]]
    return out


def _fit(
    result: MatchResult,
    labelled: _Labelled,
    n_labels: int,
    *,
    pool_levels: LevelArray,
    pool_offsets: FloatArray,
    pool_rule_weight: FloatArray | None,
    strength: float,
    threshold: float | str,
    prior: str,
    model: MatchModel | None = None,
) -> LabelFit:
    _check_policy(threshold)
    start = result.model
    before = _log_loss((_base_weight(start, labelled.levels) + labelled.offsets) * _LN2, labelled.y)
    if model is None:
        model = _refit(result, labelled, strength=strength, prior=prior)
    after = _log_loss((_base_weight(model, labelled.levels) + labelled.offsets) * _LN2, labelled.y)
    weight = _base_weight(model, pool_levels) + pool_offsets
    if pool_rule_weight is not None:
        weight = np.where(np.isnan(pool_rule_weight), weight, pool_rule_weight)
    if threshold == "expected_f1":
        chosen = best_threshold(1.0 / (1.0 + np.exp2(-np.clip(weight, -1000, 1000))))
    elif threshold == "settings":
        chosen = result.settings.threshold
    elif threshold == "labels":
        chosen = _labels_threshold(result, model, labelled, weight)
    else:
        chosen = float(threshold)
    return LabelFit(
        model=model,
        threshold=chosen,
        settings=attrs.evolve(result.settings, threshold=chosen),
        labels=n_labels,
        matches=int(labelled.y.sum()),
        ignored=labelled.ignored,
        log_loss_before=before,
        log_loss_after=after,
    )


def _total_pairs(result: MatchResult) -> int:
    n = len(result.ids)
    n_right = int((result.source != 0).sum())
    return (n - n_right) * n_right if n_right else n * (n - 1) // 2


def _refit(result: MatchResult, labelled: _Labelled, *, strength: float, prior: str) -> MatchModel:
    """m (and the prior) from the labels; with ``prior="data"`` the prior is then the match
    rate the refitted m and u give over all pairs (labels sampled by outcome, e.g. a file with
    as many matches as non-matches, say nothing about it)."""
    if prior not in ("data", "labels"):
        raise MatchingConfigError(f"prior must be 'data' or 'labels', not {prior!r}")
    model = fit_weights(
        result.model, labelled.levels, labelled.y, offsets=labelled.offsets, strength=strength
    )
    if prior == "data" and len(labelled.y):
        model = attrs.evolve(
            model, prior=global_prior(model, result.pairs.levels, total_pairs=_total_pairs(result))
        )
    return model


def _check_policy(threshold: float | str) -> None:
    ok = threshold in ("labels", "settings", "expected_f1") or (
        isinstance(threshold, (int, float)) and not isinstance(threshold, bool)
        and 0.0 < threshold < 1.0
    )
    if not ok:
        raise MatchingConfigError(
            "threshold must be 'labels', 'settings', 'expected_f1' or a probability between "
            f"0 and 1, got {threshold!r}"
        )


#: Thresholds :func:`_labels_threshold` chooses from.
_GRID = (0.5, 0.7, 0.8, 0.9, 0.95, 0.98, 0.99, 0.995, 0.999)


def _labels_threshold(
    result: MatchResult, model: MatchModel, labelled: _Labelled, weight: FloatArray
) -> float:
    """The threshold (of the grid and the settings') whose clusters give the best pairwise F1
    expected over the candidate pairs (the labelled pairs counted by their answer, the others
    by the refitted model's probability); ties go to the settings' threshold, then to the
    higher threshold."""
    default = result.settings.threshold
    if len(labelled.y) == 0 or labelled.y.sum() == 0:
        return default
    grid = sorted({*_GRID, default})
    f1 = _expected_cluster_f1(result, model, labelled, weight, grid)
    best = max(zip(np.round(f1, 9).tolist(), (int(t == default) for t in grid), grid,
                   strict=True))
    return best[2]


def _expected_cluster_f1(
    result: MatchResult, model: MatchModel, labelled: _Labelled, weight: FloatArray,
    grid: Sequence[float],
) -> FloatArray:
    """Pairwise F1 expected at each threshold of ``grid``: the candidates scored with
    ``weight`` (bits) and clustered as the run clusters them (:meth:`MatchResult.labels_at`:
    the settings' cluster options, pairs vetoed by a ``"non_match"`` rule of ``model`` kept
    apart); a pair is predicted when its records share a cluster (so links made by
    transitivity count) and is a match with its probability, or its answer when labelled.

    Labels picked near the decision boundary (as active learning picks them) are no sample of
    the pairs: F1 over them alone favours the lowest threshold. The model refitted to them is
    calibrated where they are, and its probabilities stand for the pairs nobody labelled.
    """
    prob = 1.0 / (1.0 + np.exp2(-np.clip(weight, -1000, 1000)))
    scored = attrs.evolve(result.pairs, match_weight=weight, probability=prob)
    n = len(result.ids)
    left, right = labelled.rows
    key = np.minimum(scored.left, scored.right) * n + np.maximum(scored.left, scored.right)
    asked = np.isin(key, np.minimum(left, right) * n + np.maximum(left, right))
    q = np.where(asked, 0.0, prob)  # labelled candidates count through their answer below
    true = float(q.sum() + labelled.y.sum())
    # Two records share a cluster only inside a component of the links at the lowest
    # threshold, and clustering (vetoes included) works per component: the rest is never
    # predicted.
    linked = prob >= min(grid)
    comp = connected_components(n, scored.left[linked], scored.right[linked])
    inside = comp[scored.left] == comp[scored.right]
    run = attrs.evolve(result, pairs=scored.select(inside), model=model)
    q_in = q[inside]
    pl, pr = scored.left[inside], scored.right[inside]
    out = np.zeros(len(grid))
    for g, t in enumerate(grid):
        labels = run.labels_at(t)
        together = labels[pl] == labels[pr]
        lab_together = labels[left] == labels[right]
        tp = float(q_in[together].sum() + labelled.y[lab_together].sum())
        predicted = float(together.sum() - asked[inside][together].sum() + lab_together.sum())
        out[g] = 2.0 * tp / (predicted + true) if predicted + true > 0 else 0.0
    return out


def _pool(result: MatchResult) -> tuple[LevelArray, FloatArray, FloatArray]:
    """Levels, TF offsets and rule weights (NaN where no rule decides) of the candidates."""
    pairs = result.pairs
    base = _base_weight(result.model, pairs.levels)
    ruled = pairs.rule >= 0
    offsets = np.where(ruled, 0.0, pairs.match_weight - base)
    rule_weight = np.where(ruled, pairs.match_weight, np.nan)
    return pairs.levels, offsets, rule_weight


def fit_labels(
    result: MatchResult,
    labels: Iterable[LabelledPair | ReviewDecision | tuple[str, str, bool]],
    *,
    strength: float = 1.0,
    threshold: float | str = "settings",
    prior: str = "data",
) -> LabelFit:
    """Refit a job's model and pick its threshold from labelled pairs.

    Args:
        result: A finished job (its records, candidate pairs and EM model).
        labels: Labelled pairs: :class:`LabelledPair` values, ``(id, id, match)`` tuples, or
            review decisions (``"same"`` is a match). The latest answer about a pair counts.
        strength: How strongly the fit stays near the EM model (see :func:`fit_weights`).
        threshold: How the threshold is picked. ``"settings"`` (default here) keeps the
            settings' threshold. ``"labels"`` (the active-learning default): among 0.5, 0.7,
            0.8, 0.9, 0.95, 0.98, 0.99, 0.995, 0.999 and the settings' threshold, the one whose
            clusters have the best pairwise F1 expected over the candidate pairs (a pair is
            predicted when its records share a cluster, so links made by transitivity count,
            each threshold clustered as the run clusters it, vetoed pairs kept apart; it is a
            match with its refitted probability, or its answer when labelled; ties go to the
            settings' threshold, then the higher one): right when the labels
            were picked near the decision boundary. ``"expected_f1"`` picks the best pairwise
            F1 the calibrated model expects (:func:`best_threshold`; it ignores transitive
            links, so it runs low for clusters). A float sets it.
        prior: ``"data"`` (default here) keeps m from the labels but takes the prior as the
            match rate they give over all pairs (the fixed point training uses): right whatever
            way the labels were chosen, e.g. a file with as many matches as non-matches.
            ``"labels"`` (the active-learning default) takes the prior from the labels too,
            right only when the labelled pairs were chosen by what they look like (by score,
            as active learning chooses them), not by their answer.

    Returns:
        The refitted model, its threshold and settings. Run the job again with them:
        ``dedupe(data, settings=fit.settings, model=fit.model)``.

    Example:
        >>> from crmcore.matching import dedupe
        >>> rows = [{"id": str(i), "first_name": f, "last_name": "Lee"}
        ...         for i, f in enumerate(["Ann", "Ann", "Anne", "Bo"])]
        >>> fit = fit_labels(dedupe(rows, id_column="id"), [("0", "2", True), ("0", "3", False)])
        >>> fit.labels, fit.matches
        (2, 1)
    """
    pairs = _as_labels(labels)
    labelled = _locate(result, pairs)
    levels, offsets, rule_weight = _pool(result)
    return _fit(
        result, labelled, len(pairs), pool_levels=levels, pool_offsets=offsets,
        pool_rule_weight=rule_weight, strength=strength, threshold=threshold, prior=prior,
    )


# -- the loop -----------------------------------------------------------------------------------


def _pattern_index(levels: LevelArray) -> IntArray:
    """Index of each row's distinct level pattern."""
    if len(levels) == 0:
        return np.zeros(0, dtype=np.int64)
    packed = np.ascontiguousarray(levels).view(np.dtype((np.void, levels.shape[1])))
    _, inverse = np.unique(packed.reshape(-1), return_inverse=True)
    out: IntArray = inverse.reshape(-1).astype(np.int64)
    return out


class ActiveLearning:
    """An active-learning session over one job's candidate pairs (see :func:`active_learning`).

    Args:
        result: A finished job: its candidate pairs are the pool to ask about, its model the
            starting point.
        strength: Penalty that keeps the fit near the EM model (see :func:`fit_weights`).
        threshold: How the threshold is picked (see :func:`fit_labels`; default ``"labels"``).
        prior: Where the prior comes from (see :func:`fit_labels`; default ``"labels"``: the
            session picks pairs by their score, which does not bias it).
        ask_near: ``"both"`` (default) asks about the pairs nearest to either even odds or
            the current threshold; ``"even"`` about those nearest to even odds (probability 0.5
            under the current model: classic uncertainty sampling, the labels that teach the
            model most); ``"threshold"`` about those nearest to the threshold, where a label can
            change a decision (and the pairs just above it, where clusters merge). On the
            accuracy suite ``"both"`` raised F1 with 50 labels more than ``"even"`` on
            fake_1000, synthetic and household contacts, and held it elsewhere
            (``benchmarks/bench_labels.py``).
        seed: Seed for the choice among equally informative pairs.
    """

    def __init__(
        self, result: MatchResult, *, strength: float = 1.0, threshold: float | str = "labels",
        ask_near: str = "both", prior: str = "labels", seed: int = 0,
    ) -> None:
        if ask_near not in ("threshold", "even", "both"):
            raise MatchingConfigError(
                f"ask_near must be 'threshold', 'even' or 'both', not {ask_near!r}"
            )
        self.result = result
        self.strength = float(strength)
        self.threshold_policy = threshold
        self.prior_policy = prior
        self.ask_near = ask_near
        self._rng = np.random.default_rng(seed)
        self._levels, self._offsets, self._rule_weight = _pool(result)
        self._pattern = _pattern_index(self._levels)
        self._n_patterns = int(self._pattern.max(initial=-1)) + 1
        self._asked = np.zeros(len(self._levels), dtype=bool)
        self._asked[self.result.pairs.rule >= 0] = True  # a rule decides them: nothing to learn
        self._pattern_labels = np.zeros(self._n_patterns, dtype=np.int64)
        self._labels: list[LabelledPair] = []
        self._pair_of: dict[tuple[str, str], int] = {}
        ids = result.ids
        self._known = {rid for rid in ids if rid is not None}
        left, right = result.pairs.left.tolist(), result.pairs.right.tolist()
        for k, (a, b) in enumerate(zip(left, right, strict=True)):
            ia, ib = ids[a], ids[b]
            if ia is not None and ib is not None:
                self._pair_of.setdefault((min(ia, ib), max(ia, ib)), k)
        self._fit: LabelFit | None = None
        self._model: MatchModel | None = None
        _check_policy(threshold)

    # -- state --------------------------------------------------------------------------------
    @property
    def labels(self) -> list[LabelledPair]:
        """The labels given so far (the latest per pair), in order."""
        return list(self._labels)

    def _labelled(self) -> _Labelled:
        return _locate(self.result, self._labels)

    def _current_model(self) -> MatchModel:
        """The model refitted to the labels so far (no threshold pick: cheaper than fit())."""
        if self._fit is not None:
            return self._fit.model
        if self._model is None:
            if not self._labels:
                return self.result.model
            self._model = _refit(
                self.result, self._labelled(), strength=self.strength, prior=self.prior_policy
            )
        return self._model

    def fit(self) -> LabelFit:
        """The model and threshold fitted to the labels so far (the EM model before any)."""
        if self._fit is None:
            self._fit = _fit(
                self.result, self._labelled(), len(self._labels), pool_levels=self._levels,
                pool_offsets=self._offsets, pool_rule_weight=self._rule_weight,
                strength=self.strength, threshold=self.threshold_policy,
                prior=self.prior_policy, model=self._current_model(),
            )
        return self._fit

    def model(self) -> MatchModel:
        """The fitted model (see :meth:`fit`)."""
        return self.fit().model

    def threshold(self) -> float:
        """The fitted threshold (see :meth:`fit`)."""
        return self.fit().threshold

    def _weights(self, model: MatchModel) -> FloatArray:
        weight = _base_weight(model, self._levels) + self._offsets
        return np.where(np.isnan(self._rule_weight), weight, self._rule_weight)

    # -- asking -------------------------------------------------------------------------------
    def next_pairs(self, k: int = 10) -> list[PairQuestion]:
        """The ``k`` pairs whose labels would teach the model most.

        Candidates are ranked by their distance (bits) from the current model's even odds (or
        from the threshold, see ``ask_near``);
        only the nearest pair of each distinct comparison pattern is eligible (diversity), and a
        pattern is pushed back one bit for every label it already has. Pairs asked before are
        never asked again.
        """
        if k < 1:
            raise MatchingConfigError(f"k must be at least 1, got {k}")
        if self.ask_near == "even":  # no threshold needed: skip its pick
            model, threshold = self._current_model(), 0.5
        elif self._labels or self._fit is not None:
            fit = self.fit()
            model, threshold = fit.model, fit.threshold
        else:
            model, threshold = self.result.model, self.result.threshold
        t = min(max(threshold, _T_MIN), _T_MAX)
        boundary = math.log2(t / (1.0 - t)) if self.ask_near != "even" else 0.0
        free = np.flatnonzero(~self._asked)
        if len(free) == 0:
            return []
        weights = self._weights(model)[free]
        distance = np.abs(weights - boundary)
        if self.ask_near == "both":
            distance = np.minimum(distance, np.abs(weights))
        distance += self._pattern_labels[self._pattern[free]]
        # a random tie-break among equally near pairs of a pattern
        jitter = self._rng.random(len(free)) * 1e-9
        order = np.lexsort((jitter, distance, self._pattern[free]))
        pats = self._pattern[free][order]
        first = np.concatenate(([True], pats[1:] != pats[:-1]))
        best = order[first]  # nearest pair per pattern
        chosen = free[best[np.argsort(distance[best], kind="stable")[:k]]]
        return [self._question(int(i), model) for i in chosen]

    def _question(self, i: int, model: MatchModel) -> PairQuestion:
        pairs, frame, ids = self.result.pairs, self.result.frame, self.result.ids
        a, b = int(pairs.left[i]), int(pairs.right[i])
        weight = float(
            self._rule_weight[i] if not np.isnan(self._rule_weight[i])
            else _base_weight(model, self._levels[i: i + 1])[0] + self._offsets[i]
        )
        columns = sorted(self.result.settings.columns)
        rows = np.array([a, b], dtype=np.int64)
        values = {c: frame.values(c, rows) for c in columns}
        levels = {
            comp.name: comp.labels[int(self._levels[i, c])]
            for c, comp in enumerate(model.comparisons)
        }
        return PairQuestion(
            left_id=str(ids[a]), right_id=str(ids[b]),
            probability=float(1.0 / (1.0 + 2.0 ** -max(min(weight, 1000.0), -1000.0))),
            match_weight=weight,
            left={c: v[0] for c, v in values.items()},
            right={c: v[1] for c, v in values.items()},
            levels=levels,
        )

    # -- answering ----------------------------------------------------------------------------
    def label(self, pair: PairQuestion | tuple[str, str], *, match: bool) -> LabelledPair:
        """Record the answer about a pair (a question from :meth:`next_pairs`, or two ids).

        The model is refitted lazily, at the next :meth:`next_pairs` or :meth:`fit`.

        Raises:
            ValidationError: For a pair naming a record the job does not have.
        """
        left_id, right_id = (
            (pair.left_id, pair.right_id) if isinstance(pair, PairQuestion) else pair
        )
        lab = LabelledPair(str(left_id), str(right_id), match)
        for rid in (lab.left_id, lab.right_id):
            if rid not in self._known:
                raise ValidationError(
                    FieldProblem("record_id", rid, "labels.known", "no record with this id")
                )
        key = (min(lab.left_id, lab.right_id), max(lab.left_id, lab.right_id))
        self._labels = [x for x in self._labels
                        if (min(x.left_id, x.right_id), max(x.left_id, x.right_id)) != key]
        self._labels.append(lab)
        k = self._pair_of.get(key)
        if k is not None:
            if self.result.pairs.rule[k] < 0:
                self._pattern_labels[self._pattern[k]] += 1
            self._asked[k] = True
        self._fit = None
        self._model = None
        return lab

    def label_many(
        self, labels: Iterable[LabelledPair | ReviewDecision | tuple[str, str, bool]]
    ) -> int:
        """Record several answers at once (e.g. a review queue's decisions); returns how many."""
        items = _as_labels(labels)
        for lab in items:
            self.label((lab.left_id, lab.right_id), match=lab.match)
        return len(items)

    def dedupe(self, data: object, **kwargs: Any) -> MatchResult:
        """Run the job again on ``data`` with the fitted model and threshold.

        ``kwargs`` are passed to :func:`~crmcore.matching.dedupe` (``id_column``,
        ``mapping`` ...); ``settings``, ``model`` and ``threshold`` come from the fit.
        """
        fit = self.fit()
        return dedupe(data, settings=fit.settings, model=fit.model, **kwargs)


def active_learning(
    data: object,
    settings: MatchSettings | None = None,
    *,
    id_column: str | None = None,
    preset: str | None = None,
    mapping: Mapping[str, str] | None = None,
    strength: float = 1.0,
    threshold: float | str = "labels",
    prior: str = "labels",
    ask_near: str = "both",
    seed: int = 0,
) -> ActiveLearning:
    """Start an active-learning session on a table (runs the job once, unsupervised).

    Args:
        data: Records (anything :func:`~crmcore.matching.dedupe` accepts), or a finished
            :class:`~crmcore.matching.MatchResult`.
        settings: Explicit settings (else the preset's).
        id_column: Column with record ids.
        preset: Preset name when no settings are given.
        mapping: Column renames.
        strength: Penalty that keeps the fit near the EM model.
        threshold: How the threshold is picked (see :func:`fit_labels`).
        prior: Where the prior comes from (see :func:`fit_labels`).
        ask_near: Which pairs are asked about (see :class:`ActiveLearning`).
        seed: Seed for ties among equally informative pairs.

    Returns:
        The session: ``next_pairs(k)``, ``label(pair, match=...)``, ``fit()``, ``model()``.
    """
    result = data if isinstance(data, MatchResult) else dedupe(
        data, id_column=id_column, preset=preset, settings=settings, mapping=mapping
    )
    return ActiveLearning(result, strength=strength, threshold=threshold, prior=prior,
                          ask_near=ask_near, seed=seed)
