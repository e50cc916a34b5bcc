"""The rare-word anchor: m of a comparison no EM session can estimate.

On a name-only list no EM session can estimate the organisation comparison; its m then comes
from the candidate pairs sharing a rare word or a typo apart (:func:`rare_word_anchor_counts`,
:func:`anchor_m`). Both engines pick the anchored comparisons with :func:`anchor_words`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import numpy.typing as npt

from crmcore.matching._comparisons import Comparison
from crmcore.matching._em import fixed_array
from crmcore.matching._expressions import Frame, parse_expression
from crmcore.matching._levels import TokenOverlapLevel
from crmcore.matching._pairs import PairContext, distinct_pairs

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
LevelArray = npt.NDArray[np.int8]

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
    pinned = fixed_array(comp, fixed)
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
    a, b, inverse = distinct_pairs(np.minimum(cl[todo], cr[todo]).astype(np.int64),
                                   np.maximum(cl[todo], cr[todo]).astype(np.int64))
    dist = np.asarray(process.cpdist(ctx.frame.text_array(a), ctx.frame.text_array(b),
                                     scorer=DamerauLevenshtein.distance, score_cutoff=1))
    out[todo] = (dist == 1)[inverse]
    return out
