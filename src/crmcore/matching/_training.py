"""Training a Fellegi-Sunter model (:func:`train_model`): u sampling, EM, the prior, anchors.

1. u from a random sample of pairs (``TrainingOptions.u_sample_pairs``);
2. m, the prior and (by default) u by expectation maximisation on the counts of DISTINCT level
   patterns of the candidate pairs (``np.unique`` over the level rows, weights = counts), so an
   EM iteration costs the same for 10 thousand or 10 million pairs. The parameters therefore
   describe the candidate population (pairs that passed blocking), which is exactly the
   population that is scored.
3. Term-frequency tables (``_tf.py``) for exact levels flagged ``tf=True``.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence

import attrs
import numpy as np
import numpy.typing as npt

from crmcore.errors import ModelError, TrainingWarning
from crmcore.matching._comparisons import Comparison, compute_levels
from crmcore.matching._expressions import Frame, parse_expression
from crmcore.matching._levels import TokenOverlapLevel
from crmcore.matching._model import MatchModel, TrainingReport
from crmcore.matching._pairs import PairContext
from crmcore.matching._settings import MatchSettings, TrainingOptions
from crmcore.matching._tf import TermFrequencies, tf_bonus

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
LevelArray = npt.NDArray[np.int8]

_FLOOR = 1e-6


# -- training -----------------------------------------------------------------------------------


def _random_pairs(
    n: int, count: int, rng: np.random.Generator, source: IntArray | None
) -> tuple[IntArray, IntArray]:
    if source is None:
        i = rng.integers(0, n, size=count, dtype=np.int64)
        j = rng.integers(0, n - 1, size=count, dtype=np.int64)
        j = j + (j >= i)
        return i, j
    lefts = np.flatnonzero(source == 0)
    rights = np.flatnonzero(source != 0)
    i = lefts[rng.integers(0, len(lefts), size=count)]
    j = rights[rng.integers(0, len(rights), size=count)]
    return i, j


def _pairs_within(
    codes: IntArray, count: int, rng: np.random.Generator
) -> tuple[IntArray, IntArray] | None:
    """Random pairs of distinct rows sharing a stratum code (uniform over such pairs)."""
    rows = np.flatnonzero(codes >= 0)
    if len(rows) < 2:
        return None
    order = rows[np.argsort(codes[rows], kind="stable")]
    k = codes[order]
    starts = np.flatnonzero(np.concatenate(([True], k[1:] != k[:-1])))
    sizes = np.diff(np.concatenate((starts, [len(k)])))
    weights = sizes * (sizes - 1) / 2.0
    if weights.sum() <= 0:
        return None
    group = rng.choice(len(sizes), size=count, p=weights / weights.sum())
    a = rng.integers(0, sizes[group])
    b = rng.integers(0, sizes[group] - 1)
    b = b + (b >= a)
    return order[starts[group] + a], order[starts[group] + b]


#: Tables of at most this many records sample up to ten times ``u_sample_pairs`` for u.
_SMALL_TABLE = 10_000


def u_sample_size(n_rows: int, sample_pairs: int) -> int:
    """How many random pairs u is estimated from (both engines draw exactly this many).

    A small table (at most ``_SMALL_TABLE`` records) samples up to ten times ``sample_pairs``
    (never more than its pairs), so a rare agreement is not floored at half a pair of a sample
    smaller than the table's pairs; no table samples more than four times its pairs.

    Example:
        >>> u_sample_size(100, 150_000), u_sample_size(1_000_000, 150_000)
        (19800, 150000)
    """
    all_pairs = max(n_rows * (n_rows - 1) // 2, 1)
    if n_rows <= _SMALL_TABLE:
        sample_pairs = max(sample_pairs, min(all_pairs, 10 * sample_pairs))
    return min(sample_pairs, all_pairs * 4)


def estimate_u(
    comparisons: Sequence[Comparison],
    frame: Frame,
    *,
    sample_pairs: int = 150_000,
    seed: int = 0,
    source: IntArray | None = None,
    within: str | None = None,
) -> list[FloatArray]:
    """u probabilities from random pairs (which are almost all non-matches).

    With ``within`` (a field expression such as ``"country"``), comparisons that do not read
    that field take u from random pairs that SHARE its value: the u of name agreement is then
    the chance among people of one country, not of the whole world, which removes the
    double counting between a name's and the country's evidence (blocking makes almost every
    candidate pair share the country anyway). Comparisons on the field itself keep the global
    u. Ignored for linkage.

    Returns:
        Per comparison, u per level (level 0 set to 1 as a placeholder).

    Raises:
        ModelError: With fewer than two records (or an empty side when linking).
    """
    n = frame.n_rows
    if n < 2 or (source is not None and (source == 0).all() | (source != 0).all()):
        raise ModelError("u estimation needs at least two records (one per side when linking)")
    rng = np.random.default_rng(seed)
    count = u_sample_size(n, sample_pairs)
    i, j = _random_pairs(n, count, rng, source)
    strat = None
    inside_cols: list[int] = []
    if within is not None and source is None:
        stratum = parse_expression(within)
        strat = _pairs_within(frame.codes(stratum), count, rng)
        inside_cols = [
            c for c, comp in enumerate(comparisons) if stratum.column not in comp.columns
        ]
    if strat is None:
        inside_cols = []
    outside_cols = [c for c in range(len(comparisons)) if c not in inside_cols]
    levels = np.zeros((count, len(comparisons)), dtype=np.int8)
    if outside_cols:
        levels[:, outside_cols] = compute_levels(
            [comparisons[c] for c in outside_cols], frame, i, j
        )
    if strat is not None and inside_cols:
        levels[:, inside_cols] = compute_levels(
            [comparisons[c] for c in inside_cols], frame, strat[0], strat[1]
        )
    out: list[FloatArray] = []
    for c, comp in enumerate(comparisons):
        counts = np.bincount(levels[:, c], minlength=comp.n_levels).astype(np.float64)
        counts[0] = 0.0
        present = counts.sum()
        u = (counts + 0.5) / (present + 0.5 * (comp.n_levels - 1))
        u[0] = 1.0
        out.append(u)
    return out


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


def _default_u(comp: Comparison) -> FloatArray:
    """Prior u when there are no two records to sample: each level is half as likely as the
    next one, "else" the likeliest (the mirror image of :func:`_default_m`)."""
    out = _default_m(comp)
    out[1:] = out[1:][::-1].copy()
    return out


def _default_prior(n_rows: int) -> float:
    """Prior match probability without candidate pairs: one match per record among all pairs."""
    return min(max(1.0 / max(n_rows, 2), 1e-9), 0.5)


def _default_m(comp: Comparison) -> FloatArray:
    k = comp.n_levels - 1
    raw = np.array([0.0] + [2.0 ** -(i) for i in range(k)], dtype=np.float64)
    raw[1:] = raw[1:] / raw[1:].sum()
    raw[0] = 1.0
    return raw


def _fixed_array(
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
        out[free] = counts[free] / total * max(1.0 - fixed_mass, _FLOOR)
    else:
        out[free] = max(1.0 - fixed_mass, _FLOOR) / max(int(free.sum()), 1)
    out = np.maximum(out, _FLOOR)
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
    fixed_m = [_fixed_array(c, opts.fixed_m) for c in comparisons]
    fixed_u = [_fixed_array(c, opts.fixed_u) for c in comparisons]
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
    patterns, counts, _ = _patterns_with_inverse(levels)
    return patterns, counts


def _patterns_with_inverse(levels: LevelArray) -> tuple[LevelArray, FloatArray, IntArray]:
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
            patterns, counts, sub, m=[_default_m(c) for c in sub], u=[u[i] for i in free],
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
    m = [sums[i] / runs[i] if runs[i] else lift_unseen_levels(_default_m(c), u[i], 0.0)
         for i, c in enumerate(comps)]
    for i, c in enumerate(comps):
        if options.monotone:
            m[i] = monotone_levels(m[i], u[i])
        fixed = _fixed_array(c, options.fixed_m)
        m[i] = np.where(np.isnan(fixed), m[i], fixed)
        m[i][0] = 1.0
        m[i] = np.maximum(m[i], _FLOOR)
    return FittedM(m, iterations_total, converged_all, patterns_seen, em_seconds,
                   [bool(r) for r in runs], tuple(trace))


#: A prior at or below this is "at the floor": the model thinks (almost) nothing matches.
_PRIOR_FLOOR = 1e-11
#: Levels with no candidate pair are reported once the candidate set is at least this big.
_EVIDENCE_FROM = 1000


@attrs.frozen
class FittedParameters:
    """m and prior of a trained model, with what it took and what went wrong (see
    :func:`fit_parameters`)."""

    m: list[FloatArray]
    u: list[FloatArray]
    prior: float
    iterations: int
    converged: bool
    patterns: int
    em_seconds: float
    warnings: tuple[str, ...]
    notes: tuple[str, ...] = ()
    #: ``(session, iteration, largest change, match rate)`` of every EM iteration.
    trace: tuple[tuple[int, int, float, float], ...] = ()


def _u_without_matches(
    comp: Comparison, u: FloatArray, m: FloatArray, prior: float, options: TrainingOptions
) -> FloatArray:
    """u with the matches among random pairs taken out: ``(u - prior * m) / (1 - prior)``,
    never under the sampling floor (half a pair of the sample) nor above the measured u; fixed
    u values are kept."""
    floor = 0.05 / options.u_sample_pairs
    out = (np.asarray(u) - prior * np.asarray(m)) / (1.0 - prior)
    out = np.minimum(np.maximum(out, np.minimum(u, floor)), u)
    out[1:] = out[1:] / out[1:].sum()
    fixed = _fixed_array(comp, options.fixed_u)
    out = np.where(np.isnan(fixed), out, fixed)
    out[0] = 1.0
    return np.asarray(out, dtype=np.float64)


def _exact_duplicates_prior(
    patterns: LevelArray, counts: FloatArray, m: Sequence[FloatArray], total_pairs: int
) -> float:
    """The prior the data's own exact duplicates imply: the candidate pairs agreeing on the
    most specific level of EVERY comparison (none missing) are matches, and they are the share
    ``prod(m[c][1])`` of all matches (the rule's recall), so there are ``D / prod(m[c][1])``
    matches among ``total_pairs`` (Splink's ``estimate_probability_two_random_records_match``
    with the recall taken from the model instead of a guess)."""
    if len(counts) == 0 or total_pairs <= 0:
        return 0.0
    exact = float(counts[np.all(patterns == 1, axis=1)].sum())
    recall = math.prod(float(x[1]) for x in m)
    return min(exact / max(recall, 1e-3) / total_pairs, 0.5)


def _best_weight(
    m: Sequence[FloatArray], u: Sequence[FloatArray], tf_bonus: Mapping[tuple[int, int], float]
) -> float:
    """Largest sum of level weights (bits) any pair can reach, term frequencies included."""
    best = 0.0
    for c, (mc, uc) in enumerate(zip(m, u, strict=True)):
        w = np.log2(np.asarray(mc[1:]) / np.asarray(uc[1:]))
        for li in range(1, len(mc)):
            w[li - 1] += max(tf_bonus.get((c, li), 0.0), 0.0)
        best += max(float(w.max()), 0.0)
    return best


#: A word held by at most this many records is rare: candidate pairs sharing one are the anchor
#: from which a comparison no EM session can estimate takes its m (see :func:`fit_parameters`).
ANCHOR_MAX_RECORDS = 3
#: The rare-word anchor is used from this many anchor pairs (else the default m stays).
MIN_ANCHOR_PAIRS = 30


def anchor_m(
    comp: Comparison, counts: FloatArray, fixed: Mapping[str, Mapping[str, float]]
) -> FloatArray:
    """m of a comparison from the level counts of its anchor pairs (taken as matches): each
    level's share, with half a pair added to every level so none is zero; fixed values kept."""
    raw = np.asarray(counts, dtype=np.float64)[: comp.n_levels] + 0.5
    raw[0] = 0.0
    out = raw / raw[1:].sum()
    pinned = _fixed_array(comp, fixed)
    out = np.where(np.isnan(pinned), out, pinned)
    out[0] = 1.0
    return np.asarray(out, dtype=np.float64)


def rare_word_anchor_counts(
    comps: Sequence[Comparison],
    frame: Frame,
    *,
    left: IntArray,
    right: IntArray,
    levels: LevelArray,
    which: Sequence[int],
) -> dict[int, FloatArray]:
    """Per comparison of ``which`` that compares words (has a :class:`TokenOverlapLevel`), how
    many anchor pairs fall in each of its levels: candidate pairs sharing a rare word (held by
    at most ``ANCHOR_MAX_RECORDS`` records), or whose words are one typo apart (long enough, the
    same numbers).

    A name-only list gives EM nothing to learn m from, but two records sharing a word almost
    no other record has (AGILENT, a coined brand, a town) are nearly always the same
    organisation; where their other words, legal forms and spellings fall in the comparison's
    levels is how duplicates of THIS list differ (exact copies in a clean CRM, free-form
    variants in typed-in affiliations). Vectorised over the distinct pairs of values.
    """
    out: dict[int, FloatArray] = {}
    ctx: PairContext | None = None
    for i in which:
        words = anchor_words(comps[i])
        if words is None or len(left) == 0:
            continue
        ctx = ctx or PairContext(frame, left, right)
        hit = ctx.shares_rare_word(words, ANCHOR_MAX_RECORDS) | one_typo_apart(ctx, words)
        out[i] = np.bincount(levels[hit, i], minlength=comps[i].n_levels).astype(np.float64)
    return out


def anchor_words(comp: Comparison) -> str | None:
    """The word expression a comparison's rare-word anchor reads (that of its first
    :class:`TokenOverlapLevel`), or None: the comparison compares no words and has no anchor.
    Both engines pick the anchored comparisons with it."""
    return next((lv.expression for lv in comp.levels if isinstance(lv, TokenOverlapLevel)), None)


#: Names at least this long one edit apart are the same (a typo), when their numbers agree.
ANCHOR_TYPO_LENGTH = 8


def one_typo_apart(ctx: PairContext, words: str) -> npt.NDArray[np.bool_]:
    """Pairs whose word values are one edit apart (Damerau-Levenshtein), both at least
    ``ANCHOR_TYPO_LENGTH`` characters long, with the same digits (``paris 5`` / ``paris 6``
    are two organisations): a misspelt distinctive word shares no rare word, so without
    this the anchor would miss the duplicates that differ by a typo in their brand."""
    from rapidfuzz import process
    from rapidfuzz.distance import DamerauLevenshtein

    text = parse_expression(words).text
    len_l, len_r = ctx.lengths(text)
    dl, dr = ctx.codes(f"digits({text})")
    cl, cr = ctx.codes(text)
    # one edit apart needs lengths at most one apart: only those pairs are measured, with a
    # cutoff (long strings such as affiliations stay cheap)
    todo = ((np.minimum(len_l, len_r) >= ANCHOR_TYPO_LENGTH) & (np.abs(len_l - len_r) <= 1)
            & (dl == dr) & (cl != cr))
    out = np.zeros(len(cl), dtype=bool)
    if not todo.any():
        return out
    lo = np.minimum(cl[todo], cr[todo]).astype(np.int64)
    hi = np.maximum(cl[todo], cr[todo]).astype(np.int64)
    nd = max(ctx.frame.n_distinct, 1)
    distinct, inverse = np.unique(lo * nd + hi, return_inverse=True)
    strings = ctx.frame.strings()
    dist = np.asarray(process.cpdist(strings[distinct // nd].tolist(),
                                     strings[distinct % nd].tolist(),
                                     scorer=DamerauLevenshtein.distance, score_cutoff=1))
    out[todo] = (dist == 1)[inverse.reshape(-1)]
    return out


def fit_parameters(
    comps: Sequence[Comparison],
    u: Sequence[FloatArray],
    options: TrainingOptions,
    sessions: Iterable[tuple[list[int], LevelArray, FloatArray]],
    *,
    patterns: LevelArray,
    counts: FloatArray,
    total_pairs: int,
    n_rows: int,
    threshold: float | None = None,
    tf_bonus: Mapping[tuple[int, int], float] | None = None,
    has_match_rules: bool = False,
    anchors: Callable[[Sequence[int]], Mapping[int, FloatArray]] | None = None,
) -> FittedParameters:
    """m and prior from EM sessions and the candidate patterns; the steps both engines share.

    1. m from the EM sessions (:func:`fit_m`).
    2. A comparison no session could estimate (every exact blocking rule reads its columns, as
       with a name-only list) takes its m from the rare-word anchor when ``anchors`` gives one
       (the level counts of the candidate pairs sharing a word that at most
       ``ANCHOR_MAX_RECORDS`` records hold, see :func:`rare_word_anchor_counts`; from
       ``MIN_ANCHOR_PAIRS`` such pairs), else keeps the default m (each level half as likely
       as the one above it): EM on one comparison alone is not identifiable and, on a short
       list, settles on "every pair sharing a common word is a match".
    3. The prior: the match rate over all pairs (:func:`_global_prior`), but never under what
       the data's own exact duplicates imply (:func:`_exact_duplicates_prior`). When
       that rate is high (over 1e-4: a small, heavily duplicated list), the matches among the
       random pairs are taken out of u (``(u - prior * m) / (1 - prior)``) and the prior is
       fitted again; on big tables this changes nothing.
    4. Warnings, in words with what to do: EM that did not converge, a prior at its floor, and
       a model whose best possible pair stays under ``threshold`` (it can never match); notes:
       comparisons no session estimated (step 2) and levels no candidate pair showed (from
       1,000 candidate pairs).

    Args:
        comps: The comparisons.
        u: u per comparison.
        options: Training options.
        sessions: EM sessions (see :func:`fit_m`).
        patterns: Distinct level patterns of ALL candidate pairs.
        counts: How many candidate pairs have each pattern.
        total_pairs: Pairs the data could form (n(n-1)/2, or n_left * n_right).
        n_rows: Records.
        threshold: The match probability threshold (for the "can never match" check).
        tf_bonus: (comparison, level) -> largest term-frequency adjustment (bits).
        has_match_rules: Whether deterministic match rules can match pairs regardless.
        anchors: Called with the indexes of the comparisons no session estimated; returns, per
            comparison it can anchor, how many anchor pairs fall in each level.
    """
    fitted = fit_m(comps, u, options, sessions)
    m = [np.array(x) for x in fitted.m]
    notes: list[str] = []
    info: list[str] = []
    em_seconds = fitted.em_seconds
    iterations = fitted.iterations
    converged = fitted.converged
    trace = list(fitted.trace)
    unestimated = [
        i for i, c in enumerate(comps)
        if not (fitted.estimated[i] if i < len(fitted.estimated) else False)
        and len(options.fixed_m.get(c.name, {})) < c.n_levels - 1
    ]
    n_candidates = float(counts.sum())
    if unestimated and n_candidates >= MIN_SESSION_PAIRS:
        # One comparison alone is not identifiable by EM (any share of the candidates could be
        # the matches, and on a short list "shares a common word" wins): keep the default m
        # (each level half as likely as the one above it) and let the prior come from the
        # data's exact duplicates (step 3) -- unless pairs sharing a rare word anchor it.
        anchored = dict(anchors(unestimated)) if anchors is not None else {}
        for i in unestimated:
            got = anchored.get(i)
            if got is not None and float(np.sum(got[1:])) >= MIN_ANCHOR_PAIRS:
                m[i] = anchor_m(comps[i], got, options.fixed_m)
            if options.monotone:
                m[i] = np.maximum(monotone_levels(m[i], u[i]), _FLOOR)
        used = [i for i in unestimated
                if i in anchored and float(np.sum(anchored[i][1:])) >= MIN_ANCHOR_PAIRS]
        rest = [i for i in unestimated if i not in used]
        if used:
            names = ", ".join(repr(comps[i].name) for i in used)
            pairs = ", ".join(f"{int(np.sum(anchored[i][1:])):,}" for i in used)
            info.append(
                f"no EM session could estimate {names} (every exact blocking rule with "
                f"{MIN_SESSION_PAIRS}+ pairs reads its columns): its m comes from the "
                f"{pairs} candidate pairs sharing a rare word (held by at most "
                f"{ANCHOR_MAX_RECORDS} records), taken as matches; give labelled pairs or "
                "TrainingOptions.fixed_m to do better"
            )
        if rest:
            names = ", ".join(repr(comps[i].name) for i in rest)
            info.append(
                f"no EM session could estimate {names} (every exact blocking rule with "
                f"{MIN_SESSION_PAIRS}+ pairs reads its columns): its m is the default (each "
                "level half as likely as the one above) and the prior comes from the exact "
                "duplicates; add an exact blocking rule on another field, or give labelled "
                "pairs or TrainingOptions.fixed_m"
            )
    t_em = time.perf_counter()
    anchor = 0.0
    if options.fixed_prior is not None:
        prior = options.fixed_prior
    elif n_candidates == 0:
        prior = _default_prior(n_rows)
    else:
        prior = _global_prior(
            patterns, counts, comps, m=m, u=u, total_pairs=total_pairs,
            start=1.0 / max(n_rows, 2),
        )
        anchor = _exact_duplicates_prior(patterns, counts, m, total_pairs)
        prior = max(prior, anchor)
        sampled = list(u)
        for _ in range(50):
            if prior <= 1e-4:
                break
            # Random pairs are a mixture: a share ``prior`` of them are matches. In a small,
            # heavily duplicated list that share inflates u of the agreement levels (two
            # copies of one company look like a chance agreement); take it out and re-fit
            # the prior, to a joint fixed point.
            u = [_u_without_matches(c, sampled[i], m[i], prior, options)
                 for i, c in enumerate(comps)]
            before = prior
            prior = max(anchor, _global_prior(
                patterns, counts, comps, m=m, u=u, total_pairs=total_pairs, start=prior,
            ))
            if abs(math.log(prior) - math.log(before)) < 1e-3:
                break
    em_seconds += time.perf_counter() - t_em
    if not converged:
        notes.append(
            f"EM did not converge within {options.max_iterations} iterations: the weights may "
            "be unstable; raise TrainingOptions.max_iterations, or add an exact blocking rule "
            "on a field the comparisons do not all depend on"
        )
    if options.fixed_prior is None and n_candidates > 0 and prior <= _PRIOR_FLOOR:
        notes.append(
            f"the match rate fell to its floor ({prior:.1e}): the model finds (almost) no "
            "match among the candidate pairs; check that the blocking rules pair up "
            "duplicates, or set TrainingOptions.fixed_prior"
        )
    if n_candidates >= _EVIDENCE_FROM:
        for c, comp in enumerate(comps):
            seen = np.bincount(patterns[:, c], weights=counts, minlength=comp.n_levels)
            empty = [comp.labels[k] for k in range(1, comp.n_levels - 1) if seen[k] == 0]
            if empty:
                info.append(
                    f"comparison {comp.name!r}: no candidate pair has level(s) {empty}; their "
                    "weights are guesses (no evidence)"
                )
    if threshold is not None and not has_match_rules and 0.0 < threshold < 1.0:
        best = math.log2(prior / (1.0 - prior)) + _best_weight(m, u, tf_bonus or {})
        needed = math.log2(threshold / (1.0 - threshold))
        if best < needed:
            notes.append(
                f"no pair can reach the threshold {threshold:g}: the best possible match "
                f"weight is {best:+.1f} bits, {needed:+.1f} are needed, so this model can "
                "never match; check the blocking rules and the prior, lower the threshold, "
                "or give labelled pairs"
            )
    return FittedParameters(
        m=m, u=list(u), prior=prior, iterations=iterations, converged=converged,
        patterns=fitted.patterns, em_seconds=em_seconds, warnings=tuple(notes),
        notes=tuple(info), trace=tuple(trace),
    )


#: Tables with fewer records keep their training warnings in the report only (a table that
#: small is a demo or a test; its model is a guess either way).
_WARN_FROM_ROWS = 100


def warn_training(report: TrainingReport, n_rows: int) -> None:
    """Issue a :class:`~crmcore.errors.TrainingWarning` for each warning of a training report
    (from 100 records; smaller tables keep them in ``report.warnings`` only)."""
    if n_rows < _WARN_FROM_ROWS:
        return
    for text in report.warnings:
        warnings.warn(text, TrainingWarning, stacklevel=3)


def _global_prior(
    patterns: LevelArray, counts: FloatArray, comparisons: Sequence[Comparison], *,
    m: Sequence[FloatArray], u: Sequence[FloatArray], total_pairs: int, start: float,
) -> float:
    """Match rate over ALL pairs: fixed point of ``prior = sum(posterior) / total_pairs``.

    Pairs that blocking did not produce are taken as non-matches, so the expected number of
    matches is the sum of the posteriors of the candidate pairs.
    """
    log_bf = np.zeros(len(counts))
    for c in range(len(comparisons)):
        w = np.log(m[c]) - np.log(u[c])
        w[0] = 0.0
        log_bf += w[patterns[:, c]]
    prior = min(max(start, 1e-12), 0.5)
    for _ in range(200):
        logit = math.log(prior) - math.log1p(-prior) + log_bf
        post = 1.0 / (1.0 + np.exp(-np.clip(logit, -700, 700)))
        new = float(np.clip((post * counts).sum() / max(total_pairs, 1), 1e-12, 0.5))
        if abs(math.log(new) - math.log(prior)) < 1e-6:
            return new
        prior = new
    return prior


def global_prior(model: MatchModel, levels: LevelArray, *, total_pairs: int) -> float:
    """Match rate over all pairs for a model's m and u, given its candidate pairs' levels.

    The fixed point training uses (``prior = sum(posterior) / total_pairs``, pairs blocking did
    not produce taken as non-matches), started from the model's prior; for a model whose m
    came from elsewhere (e.g. labelled pairs, :func:`crmcore.matching.fit_labels`).
    """
    patterns, counts = pattern_counts(levels)
    if len(counts) == 0:
        return model.prior
    return _global_prior(
        patterns, counts, model.comparisons, m=[np.asarray(x) for x in model.m],
        u=[np.asarray(x) for x in model.u], total_pairs=total_pairs, start=model.prior,
    )


def train_model(
    settings: MatchSettings,
    frame: Frame,
    levels: LevelArray,
    *,
    left: IntArray,
    right: IntArray,
    source: IntArray | None = None,
    skip_rules: Iterable[str] = (),
) -> MatchModel:
    """Train a model on prepared records and the levels of their candidate pairs.

    u comes from random pairs. m is estimated by EM in one session per exact blocking rule: the
    session sees the candidate pairs that agree on the rule and leaves out the comparisons on
    the rule's columns (their agreement was forced by blocking, so it says nothing); each m is
    the mean over the sessions that estimated it. The prior is then the match rate over all
    pairs (see :func:`_global_prior`). Every EM runs on distinct pattern counts.

    Small tables never fail: a comparison no EM session could estimate (no exact blocking rule
    with at least 10 agreeing candidate pairs) keeps the default m (each level half as likely
    as the one above it); with fewer than two records (or an empty side when linking) u is the
    mirror image of that default; with no candidate pairs the prior is ``1 / n_rows``. A table
    with no candidate pairs thus gets a model, and every row its own entity.

    Args:
        settings: Comparisons, blocking rules, rules and training options.
        frame: Prepared records.
        levels: Levels of the candidate pairs (from :func:`compute_levels`).
        left: First row of every candidate pair.
        right: Second row of every candidate pair.
        source: For linkage, the source (0/1) of every row.
        skip_rules: Names of blocking rules that produced no pairs (adaptive rules skipped by
            blocking, see :attr:`BlockingAnalysis.skipped`): no EM session for them.

    Returns:
        The trained model.

    Raises:
        ModelError: If a fixed parameter names an unknown level.
    """
    from crmcore.matching._blocking import BlockOn, rule_agrees

    comps = settings.comparisons
    opts = settings.training
    clock = time.perf_counter
    t_u = clock()
    n = frame.n_rows
    one_side = source is not None and bool((source == 0).all() | (source != 0).all())
    if n < 2 or one_side:  # no pair of records at all: prior parameters, nothing to learn
        u = [_default_u(c) for c in comps]
    else:
        u = estimate_u(
            comps, frame, sample_pairs=opts.u_sample_pairs, seed=opts.seed, source=source,
            within=opts.u_within,
        )
    u_seconds = clock() - t_u
    patterns_seconds = 0.0
    skipped = set(skip_rules)
    # Distinct patterns of all candidate pairs, once; each session then only counts, per
    # pattern, the pairs that agree on its rule (a bincount) and projects the patterns.
    t_p = clock()
    all_patterns, all_counts, pattern_of = _patterns_with_inverse(levels)
    patterns_seconds += clock() - t_p

    def sessions() -> Iterator[tuple[list[int], LevelArray, FloatArray]]:
        nonlocal patterns_seconds
        for rule in settings.blocking:
            if not isinstance(rule, BlockOn) or rule.name in skipped:
                continue
            agree = rule_agrees(rule, frame, left, right)
            if agree.sum() < MIN_SESSION_PAIRS:
                continue
            free = session_comparisons(comps, rule.columns)
            if not free:
                continue
            t_p = clock()
            per_pattern = np.bincount(pattern_of[agree], minlength=len(all_counts)).astype(float)
            used = per_pattern > 0
            patterns, counts = merge_patterns(all_patterns[used][:, free], per_pattern[used])
            patterns_seconds += clock() - t_p
            yield free, patterns, counts

    if source is None:
        total_pairs = n * (n - 1) // 2
    else:
        n_left = int((source == 0).sum())
        total_pairs = n_left * (n - n_left)
    t_tf = clock()
    tf: dict[tuple[int, int], TermFrequencies] = {}
    for ci, comp in enumerate(comps):
        for li in comp.tf_levels:
            level = comp.levels[li - 1]
            tf[(ci, li)] = TermFrequencies.from_frame(frame, level.expressions[0])
    tf_seconds = clock() - t_tf
    fitted = fit_parameters(
        comps, u, opts, sessions(), patterns=all_patterns, counts=all_counts,
        total_pairs=total_pairs,
        n_rows=n, threshold=settings.threshold, tf_bonus=tf_bonus(tf),
        has_match_rules=any(r.outcome == "match" for r in settings.rules),
        anchors=lambda which: rare_word_anchor_counts(
            comps, frame, left=left, right=right, levels=levels, which=which),
    )
    return model_from_fit(
        fitted, comps, tf, settings, n_rows=n, candidate_pairs=int(all_counts.sum()),
        u_sample_pairs=opts.u_sample_pairs, patterns_seconds=patterns_seconds,
        u_seconds=u_seconds, tf_seconds=tf_seconds,
    )


def model_from_fit(
    fitted: FittedParameters,
    comps: tuple[Comparison, ...],
    tf: dict[tuple[int, int], TermFrequencies],
    settings: MatchSettings,
    *,
    n_rows: int,
    candidate_pairs: int,
    u_sample_pairs: int,
    patterns_seconds: float = 0.0,
    u_seconds: float = 0.0,
    tf_seconds: float = 0.0,
) -> MatchModel:
    """The trained model and its report from :func:`fit_parameters`' result (both engines);
    training warnings are issued here."""
    report = TrainingReport(
        iterations=fitted.iterations,
        converged=fitted.converged,
        patterns=fitted.patterns,
        candidate_pairs=candidate_pairs,
        u_sample_pairs=u_sample_pairs,
        em_seconds=fitted.em_seconds,
        patterns_seconds=patterns_seconds,
        u_seconds=u_seconds,
        tf_seconds=tf_seconds,
        warnings=fitted.warnings,
        notes=fitted.notes,
        trace=fitted.trace,
    )
    warn_training(report, n_rows)
    return MatchModel(
        comparisons=comps,
        m=[tuple(x) for x in fitted.m],
        u=[tuple(x) for x in fitted.u],
        prior=fitted.prior,
        tf=tf,
        rules=settings.rules,
        report=report,
    )
