"""The pair engine: the per-value rules and the columnar evaluation of candidate pairs.

:class:`PairContext` evaluates comparison levels (:mod:`crmcore.matching._levels`) for arrays of
candidate pairs: codes are compared with numpy, string similarities are computed once per
DISTINCT pair of values with ``rapidfuzz.process.cpdist`` (on all cores from 10,000 pairs) and
cached per expression and metric, so several thresholds on one field cost one similarity pass.

:func:`pair_similarity`, :func:`parse_date` and :func:`parse_number` are the per-value rules the
columnar form and the one-pair form of every level share; :func:`value_words` splits a value into
words for the word levels and the rare-word anchor.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from functools import cache, lru_cache
from typing import Any

import attrs
import numpy as np
import numpy.typing as npt

from crmcore.io._arrow import unique_sorted
from crmcore.matching._expressions import Frame, parse_expression

#: Distinct value pairs from which ``cpdist`` runs on all cores (below, thread start-up costs
#: more than it saves: the real-time index compares a few values per call).
_PARALLEL_FROM = 10_000

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
FloatArray = npt.NDArray[np.float64]

#: Similarity metrics (higher is closer; threshold is a minimum in [0, 1]).
SIMILARITY_METRICS = ("jaro_winkler", "jaro", "token_set", "token_sort", "ratio")
#: Distance metrics (lower is closer; threshold is a maximum number of edits).
DISTANCE_METRICS = ("levenshtein", "damerau_levenshtein")


#: One record's values of field expressions (a :class:`~crmcore.matching._expressions.RecordValues`
#: derives the expressions a level reads on first use).
Values = Mapping[str, "str | None"]

_RATIO_METRICS = frozenset({"token_set", "token_sort", "ratio"})
_F32 = struct.Struct("f")


@cache
def metric_scorer(metric: str) -> Any:
    """The rapidfuzz scorer of a metric (what ``cpdist`` runs in the columnar form).

    Raises:
        KeyError: For an unknown metric.
    """
    from rapidfuzz import distance, fuzz

    return {
        "jaro_winkler": distance.JaroWinkler.normalized_similarity,
        "jaro": distance.Jaro.normalized_similarity,
        "token_set": fuzz.token_set_ratio,
        "token_sort": fuzz.token_sort_ratio,
        "ratio": fuzz.ratio,
        "levenshtein": distance.Levenshtein.distance,
        "damerau_levenshtein": distance.DamerauLevenshtein.distance,
    }[metric]


@lru_cache(maxsize=1 << 17)
def _similarity(metric: str, a: str, b: str) -> float:
    raw = metric_scorer(metric)(a, b)
    if metric in DISTANCE_METRICS:
        return float(raw)
    # cpdist stores float32; the columnar form widens it to float64 (then / 100 for ratios)
    value: float = _F32.unpack(_F32.pack(raw))[0]
    return value / 100.0 if metric in _RATIO_METRICS else value


def pair_similarity(metric: str, a: str, b: str) -> float:
    """Similarity (or distance) of two present values, exactly as :meth:`PairContext.scores`
    gives it: 1 (distance 0) for equal texts, else the scorer's value rounded to float32 as
    ``cpdist`` stores it (ratio metrics then divided by 100). Cached per pair of values.

    Example:
        >>> pair_similarity("damerau_levenshtein", "1234", "1243")
        1.0
    """
    if a == b:
        return 0.0 if metric in DISTANCE_METRICS else 1.0
    return _similarity(metric, a, b) if a < b else _similarity(metric, b, a)


def parse_date(text: str) -> int | None:
    """Day number of an ISO date (its first 10 characters), or None when it is not one.

    Example:
        >>> parse_date("2024-02-01T10:00") - parse_date("2024-01-31")
        1
    """
    try:
        return date.fromisoformat(text.strip()[:10]).toordinal()
    except ValueError:
        return None


def parse_number(text: str) -> float | None:
    """A number with optional thousands commas (``"1,000.5"``), or None when it is not one."""
    try:
        return float(text.replace(",", "").strip())
    except ValueError:
        return None


def distinct_pairs(lo: IntArray, hi: IntArray) -> tuple[IntArray, IntArray, IntArray]:
    """The distinct code pairs ``(lo[k], hi[k])`` in sorted order and, per pair, the index of
    its distinct pair: what ``np.unique(lo * n + hi, return_inverse=True)`` gives, found
    quicker.

    The codes of each side are numbered over the values that side holds, so a pair's number
    and its position fit in one int64 and one plain sort groups the pairs (without the
    ``argsort`` that ``np.unique`` does for the inverse).

    >>> a, b, inverse = distinct_pairs(np.array([5, 2, 5, 2]), np.array([9, 7, 9, 9]))
    >>> a.tolist(), b.tolist(), inverse.tolist()
    ([2, 2, 5], [7, 9, 9], [2, 0, 2, 1])
    """
    n = len(lo)
    if n == 0:
        return lo.copy(), hi.copy(), np.zeros(0, dtype=np.int64)
    held_lo, rank_lo = _ranks(lo)
    held_hi, rank_hi = _ranks(hi)
    width = len(held_hi)
    bits = max(n - 1, 1).bit_length()
    if len(held_lo) * width >= 1 << (63 - bits):  # pragma: no cover - beyond 2**63 pairs
        nd = int(max(lo.max(), hi.max())) + 1
        distinct, inverse = np.unique(lo.astype(np.int64) * nd + hi, return_inverse=True)
        return distinct // nd, distinct % nd, np.asarray(inverse, dtype=np.int64).reshape(-1)
    packed = np.sort(((rank_lo[lo] * width + rank_hi[hi]) << bits) | np.arange(n))
    pair = packed >> bits
    first = np.empty(n, dtype=bool)
    first[0] = True
    np.not_equal(pair[1:], pair[:-1], out=first[1:])
    inverse = np.empty(n, dtype=np.int64)
    inverse[packed & ((1 << bits) - 1)] = np.cumsum(first) - 1
    distinct = pair[first]
    return held_lo[distinct // width], held_hi[distinct % width], inverse


def _ranks(codes: IntArray) -> tuple[IntArray, IntArray]:
    """The distinct codes (``>= 0``) in order, and a table from code to its place among them."""
    held = np.zeros(int(codes.max()) + 1, dtype=bool)
    held[codes] = True
    return np.flatnonzero(held), np.cumsum(held, dtype=np.int64) - 1


@attrs.frozen
class _ValuePairs:
    """The distinct pairs of values behind code pairs: what a metric is computed on.

    ``present`` marks the pairs with both values, ``same`` those with one value on both sides,
    ``todo`` lists the others, and ``inverse`` maps each of them to its distinct pair
    ``(a[k], b[k])``.
    """

    present: BoolArray
    same: BoolArray
    todo: IntArray
    inverse: IntArray
    a: npt.NDArray[Any]  # object arrays of str: no lists of millions for the collector
    b: npt.NDArray[Any]

    @classmethod
    def of(cls, frame: Frame, cl: IntArray, cr: IntArray) -> _ValuePairs:
        present = (cl >= 0) & (cr >= 0)
        same = present & (cl == cr)
        todo = np.flatnonzero(present & ~same)
        on_left, on_right = cl[todo], cr[todo]
        codes_a, codes_b, inverse = distinct_pairs(np.minimum(on_left, on_right),
                                                   np.maximum(on_left, on_right))
        return cls(present, same, todo, inverse, frame.text_array(codes_a),
                   frame.text_array(codes_b))

    def scores(self, metric: str) -> FloatArray:
        """The metric per pair: NaN where a value is missing, a perfect score where equal."""
        from rapidfuzz import process

        out = np.full(len(self.present), np.nan)
        out[self.same] = 0.0 if metric in DISTANCE_METRICS else 1.0
        if len(self.a):
            # threads pay off on big batches; a real-time match compares a handful of values
            workers = -1 if len(self.a) >= _PARALLEL_FROM else 1
            raw = process.cpdist(self.a, self.b, scorer=metric_scorer(metric), workers=workers)
            values = np.asarray(raw, dtype=np.float64).reshape(-1)
            if metric in _RATIO_METRICS:
                values = values / 100.0
            out[self.todo] = values[self.inverse]
        return out


class PairContext:
    """Evaluation engine for levels over candidate pairs, with per-expression caches.

    Args:
        frame: Prepared records.
        left: Row index of the first record of each pair.
        right: Row index of the second record of each pair.
    """

    def __init__(self, frame: Frame, left: IntArray, right: IntArray) -> None:
        self.frame = frame
        self.left = np.asarray(left, dtype=np.int64)
        self.right = np.asarray(right, dtype=np.int64)
        self._codes: dict[str, tuple[IntArray, IntArray]] = {}
        self._scores: dict[tuple[str, str], FloatArray] = {}
        self._value_pairs: dict[str, _ValuePairs] = {}
        self._parsed: dict[tuple[str, str], FloatArray] = {}
        self._tokens: dict[str, tuple[list[IntArray], FloatArray]] = {}

    def __len__(self) -> int:
        return len(self.left)

    def forget(self, keep: Iterable[str] = ()) -> None:
        """Drop the per-pair caches of every expression not in ``keep`` (memory: each cached
        expression holds a few arrays as long as the pairs)."""
        texts = {parse_expression(e).text for e in keep}
        for key in [k for k in self._codes if k not in texts]:
            del self._codes[key]
        for key in [k for k in self._value_pairs if k not in texts]:
            del self._value_pairs[key]
        for pair_cache in (self._scores, self._parsed):
            for both in [k for k in pair_cache if k[0] not in texts]:
                del pair_cache[both]
        for text in [k for k in self._tokens if k not in texts]:
            del self._tokens[text]

    def codes(self, expression: str) -> tuple[IntArray, IntArray]:
        """Codes of the expression on the left and right record of every pair.

        Held as int32 (half the memory of millions of pairs) while the dictionary fits; use
        them for comparisons, and widen before arithmetic.
        """
        key = parse_expression(expression).text
        got = self._codes.get(key)
        if got is None:
            codes = self.frame.codes(key)
            if self.frame.n_distinct < 2**31 - 1:
                codes = codes.astype(np.int32)
            got = (codes[self.left], codes[self.right])
            self._codes[key] = got
        return got

    def missing(self, expression: str) -> BoolArray:
        """Pairs where either side lacks a value."""
        cl, cr = self.codes(expression)
        result: BoolArray = (cl < 0) | (cr < 0)
        return result

    def equal(self, expression: str) -> BoolArray:
        """Pairs whose values are equal (and present)."""
        cl, cr = self.codes(expression)
        result: BoolArray = (cl == cr) & (cl >= 0)
        return result

    def scores(self, expression: str, metric: str) -> FloatArray:
        """Similarity (or distance) per pair; NaN where a side is missing.

        Computed once per distinct pair of values with ``rapidfuzz.process.cpdist``; the
        distinct pairs of an expression are found once for all its metrics.
        """
        key = (parse_expression(expression).text, metric)
        got = self._scores.get(key)
        if got is None:
            pairs = self._value_pairs.get(key[0])
            if pairs is None:
                pairs = self._value_pairs[key[0]] = _ValuePairs.of(self.frame,
                                                                   *self.codes(expression))
            got = self._scores[key] = pairs.scores(metric)
        return got

    def similarities(self, cl: IntArray, cr: IntArray, metric: str) -> FloatArray:
        """Similarity (or distance) of the code pairs ``(cl[k], cr[k])`` (codes of the frame's
        one shared dictionary, so they may come from different expressions, e.g. one record's
        given name against the other's family name); NaN where a code is missing. Computed
        once per distinct pair of values; not cached."""
        return _ValuePairs.of(self.frame, cl, cr).scores(metric)

    def parsed(self, expression: str, kind: str) -> tuple[FloatArray, FloatArray]:
        """Values parsed as day numbers (``kind="date"``) or floats (``"number"``), per side."""
        key = (parse_expression(expression).text, kind)
        got = self._parsed.get(key)
        if got is None:
            codes = self.frame.codes(key[0])
            distinct = unique_sorted(codes[codes >= 0])
            parse = parse_date if kind == "date" else parse_number
            table = np.full(max(self.frame.n_distinct, 1), np.nan)
            parsed = [parse(str(s)) for s in self.frame.texts(distinct)]
            table[distinct] = [np.nan if v is None else v for v in parsed]
            got = np.where(codes >= 0, table[np.maximum(codes, 0)], np.nan)
            self._parsed[key] = got
        return got[self.left], got[self.right]

    def token_weights(self, expression: str) -> tuple[list[IntArray], FloatArray]:
        """Per code of the frame's dictionary, the word ids of the expression's value (split on
        spaces, each word once, in sorted order), and per word id its weight
        (:func:`crmcore.normalize.company_word_weight`: 1 for a distinctive word, 0.5 for a
        generic one). Cached per expression."""
        from crmcore.normalize import company_word_weight

        text = parse_expression(expression).text
        got = self._tokens.get(text)
        if got is not None:
            return got
        codes = self.frame.codes(text)
        distinct = unique_sorted(codes[codes >= 0])
        vocabulary: dict[str, int] = {}
        words_of: list[IntArray] = [np.zeros(0, dtype=np.int64)] * max(self.frame.n_distinct, 1)
        for code, value in zip(distinct.tolist(), self.frame.texts(distinct), strict=True):
            words = value_words(str(value))
            ids = [vocabulary.setdefault(w, len(vocabulary)) for w in words]
            words_of[code] = np.asarray(ids, dtype=np.int64)
        weights = np.array([company_word_weight(w) for w in vocabulary], dtype=np.float64)
        got = (words_of, weights if len(weights) else np.zeros(1))
        self._tokens[text] = got
        return got

    def token_scores(self, expression: str, metric: str) -> FloatArray:
        """Weighted word overlap per pair (NaN where a side is missing), as
        :func:`crmcore.normalize.word_overlap` gives it for one pair.

        ``metric="dice"``: ``2 * shared / (left + right)``; ``"containment"``: ``shared /
        min(left, right)``, where each side is the sum of its words' weights (see
        :meth:`token_weights`). Computed once per distinct pair of values, in numpy.
        """
        key = (parse_expression(expression).text, f"token_{metric}")
        got = self._scores.get(key)
        if got is not None:
            return got
        words_of, weight = self.token_weights(expression)
        cl, cr = self.codes(expression)
        out = np.full(len(cl), np.nan)
        present = (cl >= 0) & (cr >= 0)
        out[present & (cl == cr)] = 1.0
        todo = present & (cl != cr)
        if todo.any():
            a, b, inverse = distinct_pairs(np.minimum(cl[todo], cr[todo]).astype(np.int64),
                                           np.maximum(cl[todo], cr[todo]).astype(np.int64))
            out[todo] = _overlap(words_of, weight, a, b, metric)[inverse]
        self._scores[key] = out
        return out

    def shares_rare_word(self, expression: str, max_records: int) -> BoolArray:
        """Pairs whose values share a word that at most ``max_records`` records of the frame
        hold (words split on spaces, as :meth:`token_weights` splits them).

        Vectorised over the distinct pairs of values; a word's record count is the number of
        rows whose value holds it.
        """
        words_of, _ = self.token_weights(expression)
        codes = self.frame.codes(parse_expression(expression).text)
        per_code = np.bincount(codes[codes >= 0], minlength=max(self.frame.n_distinct, 1))
        held = np.flatnonzero(per_code)
        sizes = np.fromiter((len(words_of[c]) for c in held.tolist()), dtype=np.int64,
                            count=len(held))
        flat = (np.concatenate([words_of[c] for c in held.tolist()]) if len(held)
                else np.zeros(0, dtype=np.int64))
        records = np.bincount(flat, weights=np.repeat(per_code[held], sizes).astype(np.float64))
        rare = records <= max_records
        cl, cr = self.codes(expression)
        out = np.zeros(len(cl), dtype=bool)
        todo = (cl >= 0) & (cr >= 0)
        if not todo.any() or not rare.any():
            return out
        a, b, inverse = distinct_pairs(np.minimum(cl[todo], cr[todo]).astype(np.int64),
                                       np.maximum(cl[todo], cr[todo]).astype(np.int64))
        only_rare = [w[rare[w]] if len(w) else w for w in words_of]
        hit = _overlap(only_rare, np.ones(max(len(rare), 1)), a, b, "containment") > 0
        out[todo] = hit[inverse]
        return out

    def lengths(self, expression: str) -> tuple[IntArray, IntArray]:
        """Length of the value on each side (0 where missing)."""
        codes = self.frame.codes(expression)
        distinct = unique_sorted(codes[codes >= 0])
        table = np.zeros(max(self.frame.n_distinct, 1), dtype=np.int64)
        table[distinct] = [len(s) for s in self.frame.texts(distinct)]
        per_row = np.where(codes >= 0, table[np.maximum(codes, 0)], 0)
        return per_row[self.left], per_row[self.right]


def value_words(value: str) -> list[str]:
    """The words of a value as word levels and the rare-word anchor see them: split on
    whitespace, each word once, sorted (both engines split with it).

    >>> value_words("acme  tech acme")
    ['acme', 'tech']
    """
    return sorted(set(value.split()))


def _overlap(
    words_of: Sequence[IntArray], idf: FloatArray, a: IntArray, b: IntArray, metric: str
) -> FloatArray:
    """Weighted word overlap of the value pairs ``(a[k], b[k])`` (codes), all pairs at once."""
    def explode(codes: IntArray) -> tuple[IntArray, IntArray]:
        lists = [words_of[c] for c in codes.tolist()]
        sizes = np.fromiter((len(x) for x in lists), dtype=np.int64, count=len(lists))
        pair = np.repeat(np.arange(len(codes), dtype=np.int64), sizes)
        words = np.concatenate(lists) if lists else np.zeros(0, dtype=np.int64)
        return pair, words.astype(np.int64)

    pa, wa = explode(a)
    pb, wb = explode(b)
    width = max(len(idf), 1)
    left_sum = np.bincount(pa, weights=idf[wa], minlength=len(a))
    right_sum = np.bincount(pb, weights=idf[wb], minlength=len(b))
    shared_codes = np.intersect1d(pa * width + wa, pb * width + wb, assume_unique=True)
    shared = np.bincount(shared_codes // width, weights=idf[shared_codes % width],
                         minlength=len(a))
    with np.errstate(invalid="ignore", divide="ignore"):
        if metric == "containment":
            score = shared / np.minimum(left_sum, right_sum)
        else:
            score = 2.0 * shared / (left_sum + right_sum)
    result: FloatArray = np.nan_to_num(score, nan=0.0, posinf=0.0, neginf=0.0)
    return result
