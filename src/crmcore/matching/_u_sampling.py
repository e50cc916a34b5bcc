"""u sampling: the level distribution of random pairs of records (:func:`estimate_u`).

u of a comparison level is how often two random records (almost all non-matches) fall in it;
it is measured on ``TrainingOptions.u_sample_pairs`` random pairs, optionally stratified.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from crmcore.errors import ModelError
from crmcore.matching._comparisons import Comparison, compute_levels
from crmcore.matching._expressions import Frame, parse_expression

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
LevelArray = npt.NDArray[np.int8]


def random_pairs(
    n: int, count: int, rng: np.random.Generator, source: IntArray | None = None
) -> tuple[IntArray, IntArray]:
    """``count`` random pairs of distinct rows (across the two sides when ``source`` is given);
    the in-process trainer and the Spark runner both draw them here, so they sample the same
    pairs from the same seed."""
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
    drawn = draw_within_strata(sizes, count, rng)
    if drawn is None:
        return None
    group, a, b = drawn
    return order[starts[group] + a], order[starts[group] + b]


def draw_within_strata(
    sizes: IntArray, count: int, rng: np.random.Generator
) -> tuple[IntArray, IntArray, IntArray] | None:
    """``count`` pairs uniform over the pairs of distinct members of strata of these sizes:
    the stratum of each pair and the two members' positions in it (``None`` when no stratum
    holds two). The in-process trainer and the Spark runner both draw here."""
    weights = sizes * (sizes - 1) / 2.0
    if weights.sum() <= 0:
        return None
    group = rng.choice(len(sizes), size=count, p=weights / weights.sum())
    a = rng.integers(0, sizes[group])
    b = rng.integers(0, sizes[group] - 1)
    b = b + (b >= a)
    return group, a, b


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
    i, j = random_pairs(n, count, rng, source)
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
    return [
        u_from_level_counts(np.bincount(levels[:, c], minlength=comp.n_levels))
        for c, comp in enumerate(comparisons)
    ]


def u_from_level_counts(counts: npt.ArrayLike) -> FloatArray:
    """u of one comparison from how many sampled pairs fell in each level (level 0, missing,
    is left out and set to 1 as a placeholder): each level's share of the pairs with both
    values present, half a pair added to every level so none is zero. Both engines call it.

    Example:
        >>> u_from_level_counts([5, 1, 8]).tolist()
        [1.0, 0.15, 0.85]
    """
    per_level = np.array(counts, dtype=np.float64)
    per_level[0] = 0.0
    u: FloatArray = (per_level + 0.5) / (per_level.sum() + 0.5 * (len(per_level) - 1))
    u[0] = 1.0
    return u
