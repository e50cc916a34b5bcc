"""Expectation maximisation of a Fellegi-Sunter model on distinct level patterns.

:func:`expectation_maximisation` runs on the counts of DISTINCT level patterns of the candidate
pairs (:func:`pattern_counts`: ``np.unique`` over the level rows, weights = counts), so an
iteration costs the same for 10 thousand or 10 million pairs. :func:`fit_m` is the session loop
(one EM session per exact blocking rule, :func:`session_comparisons`) both engines train with;
:func:`lift_unseen_levels` and :func:`monotone_levels` shape the m it gives.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Mapping, Sequence

import attrs
import numpy as np
import numpy.typing as npt

from crmcore.errors import ModelError
from crmcore.matching._comparisons import Comparison
from crmcore.matching._expressions import parse_expression
from crmcore.matching._settings import TrainingOptions

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
LevelArray = npt.NDArray[np.int8]

#: The smallest m or u probability EM and training give a level (none is zero).
EM_FLOOR = 1e-6


#: An agreement level EM saw (almost) never among matches keeps at least the weight of "else"
#: unless, at that weight, more than this many matches would have been expected to show it.
_UNSEEN_EXPECTED = 3.0


def lift_unseen_levels(m: FloatArray, u: FloatArray, n_matches: float) -> FloatArray:
    """Raise the m of levels the data says nothing about so they weigh no less than "else".

    EM gives a level it never saw among the (expected) matches an m at the floor (1e-6), so a
    rare agreement level ("sounds the same") would weigh far LESS than disagreeing ("else").
    The floor for level ``k`` is ``u_k * m_else / u_else`` (the weight of "else"); it applies
    when the level's m is under it and, at the floor, fewer than ``_UNSEEN_EXPECTED`` of the
    ``n_matches`` matches would have shown the level (so not seeing it is no evidence). The
    levels are then rescaled to sum to one, which keeps every weight difference.
    """
    out = np.array(m, dtype=np.float64)
    if len(out) < 3 or u[-1] <= 0:
        return out
    floor = np.asarray(u, dtype=np.float64) * out[-1] / u[-1] * (1.0 + 1e-9)  # ties: >=
    lift = (out < floor) & (floor * n_matches <= _UNSEEN_EXPECTED)
    lift[0] = lift[-1] = False
    if lift.any():
        out[lift] = floor[lift]
        out[1:] = out[1:] / out[1:].sum()
    return out


def monotone_levels(m: FloatArray, u: FloatArray) -> FloatArray:
    """m with the levels' weights made non-increasing from the most to the least specific.

    Adjacent levels whose weights ``log(m / u)`` break the order are pooled (the
    pool-adjacent-violators algorithm on ``m / u`` weighted by ``u``): a pool's levels all get
    the ratio ``sum(m) / sum(u)``, so every pooled level weighs the same and the m of a
    comparison still sums to one. Level 0 ("missing") is left alone; "else" takes part.
    """
    out = np.array(m, dtype=np.float64)
    uu = np.asarray(u, dtype=np.float64)
    if len(out) < 3:
        return out
    blocks: list[list[float]] = []  # [sum m, sum u, first level, end]
    for k in range(1, len(out)):
        blocks.append([float(out[k]), float(uu[k]), k, k + 1])
        # merge while the later (less specific) pool weighs more than the one before it
        while len(blocks) >= 2 and (
            blocks[-1][0] * blocks[-2][1] > blocks[-2][0] * blocks[-1][1] * (1.0 + 1e-12)
        ):
            sm, su, _, end = blocks.pop()
            blocks[-1][0] += sm
            blocks[-1][1] += su
            blocks[-1][3] = end
    for sm, su, first, end in blocks:
        a, b = int(first), int(end)
        if b - a > 1:
            out[a:b] = sm / su * uu[a:b]
    return out


def default_u(comp: Comparison) -> FloatArray:
    """Prior u when there are no two records to sample: each level is half as likely as the
    next one, "else" the likeliest (the mirror image of :func:`default_m`)."""
    out = default_m(comp)
    out[1:] = out[1:][::-1].copy()
    return out


def default_prior(n_rows: int) -> float:
    """Prior match probability without candidate pairs: one match per record among all pairs."""
    return min(max(1.0 / max(n_rows, 2), 1e-9), 0.5)


def default_m(comp: Comparison) -> FloatArray:
    k = comp.n_levels - 1
    raw = np.array([0.0] + [2.0 ** -(i) for i in range(k)], dtype=np.float64)
    raw[1:] = raw[1:] / raw[1:].sum()
    raw[0] = 1.0
    return raw


def fixed_array(
    comp: Comparison, fixed: Mapping[str, Mapping[str, float]]
) -> FloatArray:
    out = np.full(comp.n_levels, np.nan)
    for label, value in fixed.get(comp.name, {}).items():
        if label not in comp.labels:
            raise ModelError(f"fixed parameter for unknown level {comp.name!r}/{label!r}")
        out[comp.labels.index(label)] = value
    return out


def _m_step(
    patterns: LevelArray, weights: FloatArray, n_levels: int, fixed: FloatArray
) -> FloatArray:
    counts = np.bincount(patterns, weights=weights, minlength=n_levels).astype(np.float64)
    counts[0] = 0.0
    free = np.isnan(fixed)
    free[0] = False
    fixed_mass = float(np.nansum(fixed[1:]))
    out = np.where(np.isnan(fixed), 0.0, fixed)
    total = counts[free].sum()
    if total > 0:
        out[free] = counts[free] / total * max(1.0 - fixed_mass, EM_FLOOR)
    else:
        out[free] = max(1.0 - fixed_mass, EM_FLOOR) / max(int(free.sum()), 1)
    out = np.maximum(out, EM_FLOOR)
    out[0] = 1.0
    return out


def expectation_maximisation(
    patterns: LevelArray,
    counts: FloatArray,
    comparisons: Sequence[Comparison],
    *,
    m: Sequence[FloatArray],
    u: Sequence[FloatArray],
    prior: float,
    options: TrainingOptions | None = None,
    trace: list[tuple[float, float]] | None = None,
) -> tuple[list[FloatArray], list[FloatArray], float, int, bool]:
    """EM on distinct level patterns weighted by their counts.

    Args:
        patterns: ``(k, n_comparisons)`` distinct level rows.
        counts: How many pairs have each pattern.
        comparisons: The comparisons (for level counts and fixed parameters).
        m: Starting m per comparison.
        u: Starting u per comparison.
        prior: Starting match rate.
        options: Training options (iterations, tolerance, fixed values, whether u moves).
        trace: When given, ``(largest parameter change, match rate)`` of every iteration is
            appended to it (the convergence chart plots it).

    Returns:
        ``(m, u, prior, iterations, converged)``.
    """
    opts = options or TrainingOptions()
    m = [np.array(x, dtype=np.float64) for x in m]
    u = [np.array(x, dtype=np.float64) for x in u]
    fixed_m = [fixed_array(c, opts.fixed_m) for c in comparisons]
    fixed_u = [fixed_array(c, opts.fixed_u) for c in comparisons]
    for c in range(len(comparisons)):
        m[c] = np.where(np.isnan(fixed_m[c]), m[c], fixed_m[c])
        u[c] = np.where(np.isnan(fixed_u[c]), u[c], fixed_u[c])
    if opts.fixed_prior is not None:
        prior = opts.fixed_prior
    total = float(counts.sum())
    iterations = 0
    converged = False
    for iterations in range(1, opts.max_iterations + 1):  # noqa: B007 - reported after the loop
        log_m = np.zeros(len(counts))
        log_u = np.zeros(len(counts))
        for c in range(len(comparisons)):
            lm = np.log(m[c])
            lu = np.log(u[c])
            lm[0] = lu[0] = 0.0
            log_m += lm[patterns[:, c]]
            log_u += lu[patterns[:, c]]
        logit = math.log(prior) - math.log1p(-prior) + log_m - log_u
        post = 1.0 / (1.0 + np.exp(-np.clip(logit, -700, 700)))
        wm = post * counts
        wu = (1.0 - post) * counts
        new_m = [
            _m_step(patterns[:, c], wm, comp.n_levels, fixed_m[c])
            for c, comp in enumerate(comparisons)
        ]
        new_u = (
            [
                _m_step(patterns[:, c], wu, comp.n_levels, fixed_u[c])
                for c, comp in enumerate(comparisons)
            ]
            if opts.em_estimates_u
            else u
        )
        if opts.monotone:
            for c in range(len(comparisons)):
                mono = monotone_levels(new_m[c], new_u[c])
                new_m[c] = np.where(np.isnan(fixed_m[c]), mono, fixed_m[c])
        new_prior = (
            opts.fixed_prior
            if opts.fixed_prior is not None
            else float(np.clip(wm.sum() / total, 1e-9, 1 - 1e-9))
        )
        change = max(
            [abs(new_prior - prior)]
            + [float(np.abs(a - b).max()) for a, b in zip(new_m, m, strict=True)]
            + [float(np.abs(a - b).max()) for a, b in zip(new_u, u, strict=True)]
        )
        m, u, prior = new_m, new_u, new_prior
        if trace is not None:
            trace.append((change, prior))
        if change < opts.tolerance:
            converged = True
            break
    return m, u, prior, iterations, converged


_MAX_CODE = 2**62


#: Pattern code spaces up to this size are counted with a table (no sort).
_COUNT_SPACE = 1 << 22


def _pattern_codes(levels: LevelArray) -> IntArray | None:
    """One int64 per level row (mixed radix, one radix per column, first column most
    significant), or None when the product of the radices exceeds 2**62."""
    radices = [int(r) + 1 for r in levels.max(axis=0, initial=0).tolist()]
    if math.prod(radices) > _MAX_CODE:
        return None
    codes = np.zeros(len(levels), dtype=np.int64)
    for c, radix in enumerate(radices):
        codes = codes * radix + levels[:, c]
    return codes


def pattern_counts(levels: LevelArray) -> tuple[LevelArray, FloatArray]:
    """Distinct level rows (in lexicographic order) and how many pairs have each.

    Rows are packed into one int64 per row with a per-column radix; when the product of the
    radices exceeds 2**62 (many comparisons with many levels) the rows are compared whole with
    ``np.unique(levels, axis=0)`` instead, so distinct rows never collide.
    """
    patterns, counts, _ = patterns_with_inverse(levels)
    return patterns, counts


def patterns_with_inverse(levels: LevelArray) -> tuple[LevelArray, FloatArray, IntArray]:
    """Distinct level rows, their counts, and the pattern index of every row (sort-based)."""
    if len(levels) == 0:
        return levels, np.zeros(0), np.zeros(0, dtype=np.int64)
    codes = _pattern_codes(levels)
    if codes is None:
        distinct, inverse, counted = np.unique(
            levels, axis=0, return_inverse=True, return_counts=True
        )
        rows: LevelArray = distinct.astype(levels.dtype)
        return rows, counted.astype(np.float64), inverse.reshape(-1).astype(np.int64)
    radices = [int(r) + 1 for r in levels.max(axis=0, initial=0).tolist()]
    space = math.prod(radices)
    if space <= max(_COUNT_SPACE, 2 * len(codes)):  # count per code: no sort
        per_code = np.bincount(codes, minlength=space)
        present = np.flatnonzero(per_code)  # the distinct codes, ascending (lexicographic)
        index = np.zeros(space, dtype=np.int64)
        index[present] = np.arange(len(present), dtype=np.int64)
        rows = np.empty((len(present), len(radices)), dtype=levels.dtype)
        rest = present
        for c in range(len(radices) - 1, -1, -1):
            rest, digit = np.divmod(rest, radices[c])
            rows[:, c] = digit
        return rows, per_code[present].astype(np.float64), index[codes]
    order = np.argsort(codes, kind="stable")
    sorted_codes = codes[order]
    new = np.concatenate(([True], sorted_codes[1:] != sorted_codes[:-1]))
    starts = np.flatnonzero(new)
    counts = np.diff(np.concatenate((starts, [len(codes)]))).astype(np.float64)
    inverse = np.empty(len(codes), dtype=np.int64)
    inverse[order] = np.cumsum(new) - 1
    return levels[order[starts]], counts, inverse


def merge_patterns(patterns: LevelArray, weights: FloatArray) -> tuple[LevelArray, FloatArray]:
    """Merge equal rows of a (small) pattern table, summing their weights."""
    if len(patterns) == 0:
        return patterns, weights
    distinct, inverse = np.unique(patterns, axis=0, return_inverse=True)
    summed: FloatArray = np.bincount(
        inverse.reshape(-1), weights=weights, minlength=len(distinct)
    ).astype(np.float64)
    out: LevelArray = distinct.astype(np.int8)
    return out, summed


#: An EM session (one per exact blocking rule) needs at least this many agreeing candidate pairs.
MIN_SESSION_PAIRS = 10


def session_comparisons(comps: Sequence[Comparison], rule_columns: Iterable[str]) -> list[int]:
    """Indexes of the comparisons an EM session on a blocking rule estimates: those that read
    none of the rule's columns (agreement on those was forced by blocking, so says nothing)."""
    blocked = set(rule_columns)
    return [i for i, c in enumerate(comps)
            if not {parse_expression(e).column for e in c.missing} & blocked]


@attrs.frozen
class FittedM:
    """m probabilities from EM sessions (see :func:`fit_m`) and what it took."""

    m: list[FloatArray]
    iterations: int
    converged: bool
    patterns: int
    em_seconds: float
    estimated: list[bool] = attrs.field(factory=list)
    trace: tuple[tuple[int, int, float, float], ...] = ()


def fit_m(
    comps: Sequence[Comparison],
    u: Sequence[FloatArray],
    options: TrainingOptions,
    sessions: Iterable[tuple[list[int], LevelArray, FloatArray]],
) -> FittedM:
    """m per comparison: the mean over EM sessions, then fixed parameters and the floor.

    Shared by :func:`train_model` and the Spark runner, so both engines train the same model.
    Each session is ``(free, patterns, counts)``: the comparisons it estimates (indexes into
    ``comps``, see :func:`session_comparisons`) and the distinct level patterns of the
    candidate pairs agreeing on its rule, projected on those comparisons, with their counts.
    u is fixed in every session; levels a session's matches never showed are lifted to the
    else weight (:func:`lift_unseen_levels`); a comparison no session estimated keeps the
    default m.
    """
    fixed_u = {c.name: dict(zip(c.labels[1:], u[i][1:].tolist(), strict=True))
               for i, c in enumerate(comps)}
    fixed_u.update({k: {**fixed_u.get(k, {}), **v} for k, v in options.fixed_u.items()})
    session_opts = attrs.evolve(options, fixed_u=fixed_u, em_estimates_u=False, fixed_prior=None)
    sums = [np.zeros(c.n_levels) for c in comps]
    runs = np.zeros(len(comps))
    iterations_total = 0
    converged_all = True
    patterns_seen = 0
    em_seconds = 0.0
    trace: list[tuple[int, int, float, float]] = []
    for session, (free, patterns, counts) in enumerate(sessions):
        sub = [comps[i] for i in free]
        patterns_seen += len(counts)
        t_em = time.perf_counter()
        steps: list[tuple[float, float]] = []
        m_s, _, prior_s, iters, conv = expectation_maximisation(
            patterns, counts, sub, m=[default_m(c) for c in sub], u=[u[i] for i in free],
            prior=0.3, options=session_opts, trace=steps,
        )
        trace.extend((session, k, c, p) for k, (c, p) in enumerate(steps, start=1))
        em_seconds += time.perf_counter() - t_em
        iterations_total += iters
        converged_all &= conv
        n_matches = prior_s * float(counts.sum())
        for k, i in enumerate(free):
            sums[i] += lift_unseen_levels(m_s[k], u[i], n_matches)
            runs[i] += 1
    m = [sums[i] / runs[i] if runs[i] else lift_unseen_levels(default_m(c), u[i], 0.0)
         for i, c in enumerate(comps)]
    for i, c in enumerate(comps):
        if options.monotone:
            m[i] = monotone_levels(m[i], u[i])
        fixed = fixed_array(c, options.fixed_m)
        m[i] = np.where(np.isnan(fixed), m[i], fixed)
        m[i][0] = 1.0
        m[i] = np.maximum(m[i], EM_FLOOR)
    return FittedM(m, iterations_total, converged_all, patterns_seen, em_seconds,
                   [bool(r) for r in runs], tuple(trace))
