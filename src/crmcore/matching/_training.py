"""Training a Fellegi-Sunter model (:func:`train_model`): u sampling, EM, the prior, anchors.

1. u from a random sample of pairs (``TrainingOptions.u_sample_pairs``, ``_u_sampling.py``);
2. m, the prior and (by default) u by expectation maximisation on the counts of DISTINCT level
   patterns of the candidate pairs (``np.unique`` over the level rows, weights = counts,
   ``_em.py``), so an EM iteration costs the same for 10 thousand or 10 million pairs. The
   parameters therefore describe the candidate population (pairs that passed blocking), which
   is exactly the population that is scored. A comparison no EM session estimates takes its m
   from the rare-word anchor (``_anchors.py``).
3. Term-frequency tables (``_tf.py``) for exact levels flagged ``tf=True``.

:func:`fit_parameters` turns the EM sessions into m, u and the prior; :func:`model_from_fit`
assembles the model and its report (both engines call them).
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence

import attrs
import numpy as np
import numpy.typing as npt

from crmcore.errors import TrainingWarning
from crmcore.matching._anchors import (
    ANCHOR_MAX_RECORDS,
    MIN_ANCHOR_PAIRS,
    anchor_m,
    rare_word_anchor_counts,
)
from crmcore.matching._comparisons import Comparison
from crmcore.matching._em import (
    EM_FLOOR,
    MIN_SESSION_PAIRS,
    default_prior,
    default_u,
    fit_m,
    fixed_array,
    merge_patterns,
    monotone_levels,
    pattern_counts,
    patterns_with_inverse,
    session_comparisons,
)
from crmcore.matching._expressions import Frame
from crmcore.matching._model import MatchModel, TrainingReport
from crmcore.matching._settings import MatchSettings, TrainingOptions
from crmcore.matching._tf import TermFrequencies, tf_bonus
from crmcore.matching._u_sampling import estimate_u

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
LevelArray = npt.NDArray[np.int8]


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
    fixed = fixed_array(comp, options.fixed_u)
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
                m[i] = np.maximum(monotone_levels(m[i], u[i]), EM_FLOOR)
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
        prior = default_prior(n_rows)
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
    from crmcore.matching._agreement import rule_agrees
    from crmcore.matching._blocking import BlockOn

    comps = settings.comparisons
    opts = settings.training
    clock = time.perf_counter
    t_u = clock()
    n = frame.n_rows
    one_side = source is not None and bool((source == 0).all() | (source != 0).all())
    if n < 2 or one_side:  # no pair of records at all: prior parameters, nothing to learn
        u = [default_u(c) for c in comps]
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
    all_patterns, all_counts, pattern_of = patterns_with_inverse(levels)
    patterns_seconds += clock() - t_p

    def sessions() -> Iterator[tuple[list[int], LevelArray, FloatArray]]:
        nonlocal patterns_seconds
        equal: dict[str, npt.NDArray[np.bool_]] = {}  # rules share expressions
        for rule in settings.blocking:
            if not isinstance(rule, BlockOn) or rule.name in skipped:
                continue
            agree = rule_agrees(rule, frame, left, right, equal=equal)
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
