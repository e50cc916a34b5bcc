"""Comparisons: declarative levels of agreement between two records, evaluated in bulk.

A :class:`Comparison` is an ordered tuple of levels. Level 0 is always "missing" (either side has
no value: it carries no evidence), then the levels you give from the most to the least specific;
the first level a pair satisfies is its level; pairs meeting none fall into the final "else" level.

Level specs are small frozen values (:class:`ExactLevel`, :class:`SimilarityLevel`,
:class:`DateDiffLevel`, :class:`NumericLevel`, :class:`SwappedLevel`, :class:`InitialLevel`,
:class:`CrossExactLevel`, :class:`AllOf`) over field expressions (see
:mod:`crmcore.matching._expressions`). The engine, :class:`PairContext`, evaluates them for arrays
of candidate pairs: codes are compared with numpy, string similarities are computed once per
DISTINCT pair of values with ``rapidfuzz.process.cpdist`` (on all cores from 10,000 pairs) and
cached per expression and metric, so several thresholds on one field cost one similarity pass.

Every level has two forms of one test, side by side and tested against each other (as survivorship
policies carry ``scores`` and ``score_columns``): ``mask(ctx)`` over a whole array of candidate
pairs, and ``holds(left, right)`` for one pair of records given as
:class:`~crmcore.matching._expressions.RecordValues` (the real-time index scores a few candidates
that way, so it gets the batch levels by construction). :func:`pair_similarity`,
:func:`parse_date` and :func:`parse_number` are the per-value rules both forms share.

The functions at the bottom (``exact_match``, ``given_name_comparison``, ``email_comparison`` ...)
build the CRM-specific comparisons.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date
from functools import cache, lru_cache
from typing import Any, ClassVar, Protocol

import attrs
import numpy as np
import numpy.typing as npt

from crmcore.errors import MatchingConfigError
from crmcore.io._arrow import unique_sorted
from crmcore.matching._expressions import Frame, parse_expression
from crmcore.model import SpecCodec, SpecField

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

        Computed once per distinct pair of values with ``rapidfuzz.process.cpdist``.
        """
        key = (parse_expression(expression).text, metric)
        got = self._scores.get(key)
        if got is None:
            cl, cr = self.codes(expression)
            got = self.similarities(cl, cr, metric)
            self._scores[key] = got
        return got

    def similarities(self, cl: IntArray, cr: IntArray, metric: str) -> FloatArray:
        """Similarity (or distance) of the code pairs ``(cl[k], cr[k])`` (codes of the frame's
        one shared dictionary, so they may come from different expressions, e.g. one record's
        given name against the other's family name); NaN where a code is missing. Computed
        once per distinct pair of values; not cached."""
        from rapidfuzz import process

        out = np.full(len(cl), np.nan)
        present = (cl >= 0) & (cr >= 0)
        same = present & (cl == cr)
        out[same] = 0.0 if metric in DISTANCE_METRICS else 1.0
        todo = present & ~same
        if todo.any():
            lo = np.minimum(cl[todo], cr[todo]).astype(np.int64)
            hi = np.maximum(cl[todo], cr[todo]).astype(np.int64)
            nd = max(self.frame.n_distinct, 1)
            distinct, inverse = np.unique(lo * nd + hi, return_inverse=True)
            strings = self.frame.strings()
            a = strings[distinct // nd].tolist()
            b = strings[distinct % nd].tolist()
            # threads pay off on big batches; a real-time match compares a handful of values
            workers = -1 if len(a) >= _PARALLEL_FROM else 1
            raw = process.cpdist(a, b, scorer=metric_scorer(metric), workers=workers)
            values = np.asarray(raw, dtype=np.float64).reshape(-1)
            if metric in _RATIO_METRICS:
                values = values / 100.0
            out[todo] = values[inverse.reshape(-1)]
        return out

    def parsed(self, expression: str, kind: str) -> tuple[FloatArray, FloatArray]:
        """Values parsed as day numbers (``kind="date"``) or floats (``"number"``), per side."""
        key = (parse_expression(expression).text, kind)
        got = self._parsed.get(key)
        if got is None:
            codes = self.frame.codes(key[0])
            distinct = unique_sorted(codes[codes >= 0])
            strings = self.frame.strings()
            parse = parse_date if kind == "date" else parse_number
            table = np.full(max(self.frame.n_distinct, 1), np.nan)
            parsed = [parse(str(s)) for s in strings[distinct].tolist()]
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
        strings = self.frame.strings()
        vocabulary: dict[str, int] = {}
        words_of: list[IntArray] = [np.zeros(0, dtype=np.int64)] * max(self.frame.n_distinct, 1)
        for code, value in zip(distinct.tolist(), strings[distinct].tolist(), strict=True):
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
            lo = np.minimum(cl[todo], cr[todo]).astype(np.int64)
            hi = np.maximum(cl[todo], cr[todo]).astype(np.int64)
            nd = max(self.frame.n_distinct, 1)
            distinct, inverse = np.unique(lo * nd + hi, return_inverse=True)
            a, b = distinct // nd, distinct % nd
            out[todo] = _overlap(words_of, weight, a, b, metric)[inverse.reshape(-1)]
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
        lo = np.minimum(cl[todo], cr[todo]).astype(np.int64)
        hi = np.maximum(cl[todo], cr[todo]).astype(np.int64)
        nd = max(self.frame.n_distinct, 1)
        distinct, inverse = np.unique(lo * nd + hi, return_inverse=True)
        only_rare = [w[rare[w]] if len(w) else w for w in words_of]
        hit = _overlap(only_rare, np.ones(max(len(rare), 1)), distinct // nd, distinct % nd,
                       "containment") > 0
        out[todo] = hit[inverse.reshape(-1)]
        return out

    def lengths(self, expression: str) -> tuple[IntArray, IntArray]:
        """Length of the value on each side (0 where missing)."""
        codes = self.frame.codes(expression)
        strings = self.frame.strings()
        distinct = unique_sorted(codes[codes >= 0])
        table = np.zeros(max(self.frame.n_distinct, 1), dtype=np.int64)
        table[distinct] = [len(s) for s in strings[distinct].tolist()]
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


class Level(Protocol):
    """One level of a comparison: a label and one test in two forms, over an array of candidate
    pairs (``mask``) and over one pair (``holds``); both must agree on every pair."""

    @property
    def label(self) -> str:
        """Short description shown in summaries and explanations."""

    @property
    def expressions(self) -> tuple[str, ...]:
        """Field expressions the level reads."""

    def mask(self, ctx: PairContext) -> BoolArray:
        """Which pairs satisfy the level."""

    def holds(self, left: Values, right: Values) -> bool:
        """Whether one pair satisfies the level (``left`` / ``right``: the two records' values,
        keyed by expression text, as a :class:`~crmcore.matching._expressions.RecordValues`)."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""


def _to_levels(values: Iterable[Level]) -> tuple[Level, ...]:
    return tuple(values)


def _to_strings(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(values)


def _expr(_i: object, _a: object, value: str) -> None:
    parse_expression(value)


@attrs.frozen
class ExactLevel:
    """Values are equal. ``tf=True`` adjusts the weight by how common the shared value is.

    Args:
        expression: Field expression compared.
        tf: Term-frequency adjustment for this level.
        name: Label (default ``"exact <expression>"``).
    """

    kind: ClassVar[str] = "exact"
    expression: str = attrs.field(validator=_expr)
    tf: bool = False
    name: str = ""

    @property
    def label(self) -> str:
        """Short description."""
        return self.name or f"exact {self.expression}"

    @property
    def expressions(self) -> tuple[str, ...]:
        """Field expressions read."""
        return (self.expression,)

    def mask(self, ctx: PairContext) -> BoolArray:
        """Pairs with equal values."""
        return ctx.equal(self.expression)

    def holds(self, left: Values, right: Values) -> bool:
        """Whether the pair's values are equal (and present)."""
        x = left[self.expression]
        return x is not None and x == right[self.expression]

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        return LEVELS.to_dict(self)


@attrs.frozen
class SimilarityLevel:
    """String similarity at least ``threshold`` (or edit distance at most ``threshold``).

    Args:
        expression: Field expression compared.
        metric: ``jaro_winkler``, ``jaro``, ``token_set``, ``token_sort``, ``ratio`` (similarity in
            [0, 1]) or ``levenshtein``, ``damerau_levenshtein`` (edits).
        threshold: Minimum similarity, or maximum distance.
        name: Label.
    """

    kind: ClassVar[str] = "similarity"
    expression: str = attrs.field(validator=_expr)
    metric: str = attrs.field()
    threshold: float = attrs.field()
    name: str = ""

    @metric.validator
    def _check_metric(self, _a: object, value: str) -> None:
        if value not in SIMILARITY_METRICS + DISTANCE_METRICS:
            raise MatchingConfigError(
                f"unknown metric {value!r}; use one of {SIMILARITY_METRICS + DISTANCE_METRICS}"
            )

    @threshold.validator
    def _check_threshold(self, _a: object, value: float) -> None:
        if self.metric in SIMILARITY_METRICS and not 0.0 <= value <= 1.0:
            raise MatchingConfigError(f"{self.metric} threshold must be in [0, 1], got {value}")
        if value < 0:
            raise MatchingConfigError(f"threshold must not be negative, got {value}")

    @property
    def label(self) -> str:
        """Short description."""
        if self.name:
            return self.name
        op = "<=" if self.metric in DISTANCE_METRICS else ">="
        return f"{self.metric} {self.expression} {op} {self.threshold:g}"

    @property
    def expressions(self) -> tuple[str, ...]:
        """Field expressions read."""
        return (self.expression,)

    def mask(self, ctx: PairContext) -> BoolArray:
        """Pairs within the threshold."""
        scores = ctx.scores(self.expression, self.metric)
        with np.errstate(invalid="ignore"):
            if self.metric in DISTANCE_METRICS:
                result: BoolArray = scores <= self.threshold
            else:
                result = scores >= self.threshold - 1e-9
        return result

    def holds(self, left: Values, right: Values) -> bool:
        """Whether the pair's values are within the threshold."""
        x, y = left[self.expression], right[self.expression]
        if x is None or y is None:
            return False
        score = pair_similarity(self.metric, x, y)
        if self.metric in DISTANCE_METRICS:
            return score <= self.threshold
        return score >= self.threshold - 1e-9

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        return LEVELS.to_dict(self)


@attrs.frozen
class DateDiffLevel:
    """ISO dates at most ``max_days`` apart.

    Args:
        expression: Field expression holding ISO dates (``YYYY-MM-DD``).
        max_days: Largest difference in days.
        name: Label.
    """

    kind: ClassVar[str] = "date_diff"
    expression: str = attrs.field(validator=_expr)
    max_days: int = attrs.field(validator=attrs.validators.ge(0))
    name: str = ""

    @property
    def label(self) -> str:
        """Short description."""
        return self.name or f"{self.expression} within {self.max_days} days"

    @property
    def expressions(self) -> tuple[str, ...]:
        """Field expressions read."""
        return (self.expression,)

    def mask(self, ctx: PairContext) -> BoolArray:
        """Pairs with dates close enough."""
        a, b = ctx.parsed(self.expression, "date")
        with np.errstate(invalid="ignore"):
            result: BoolArray = np.abs(a - b) <= self.max_days
        return result

    def holds(self, left: Values, right: Values) -> bool:
        """Whether the pair's dates are close enough."""
        x, y = left[self.expression], right[self.expression]
        if x is None or y is None:
            return False
        a, b = parse_date(x), parse_date(y)
        return a is not None and b is not None and abs(a - b) <= self.max_days

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        return LEVELS.to_dict(self)


@attrs.frozen
class NumericLevel:
    """Numbers within an absolute (or relative) tolerance.

    Args:
        expression: Field expression holding numbers.
        tolerance: Largest difference (a fraction of the larger magnitude when ``relative``).
        relative: Whether the tolerance is relative.
        name: Label.
    """

    kind: ClassVar[str] = "numeric"
    expression: str = attrs.field(validator=_expr)
    tolerance: float = attrs.field(validator=attrs.validators.ge(0.0))
    relative: bool = False
    name: str = ""

    @property
    def label(self) -> str:
        """Short description."""
        unit = " (relative)" if self.relative else ""
        return self.name or f"{self.expression} within {self.tolerance:g}{unit}"

    @property
    def expressions(self) -> tuple[str, ...]:
        """Field expressions read."""
        return (self.expression,)

    def mask(self, ctx: PairContext) -> BoolArray:
        """Pairs with numbers close enough."""
        a, b = ctx.parsed(self.expression, "number")
        with np.errstate(invalid="ignore"):
            limit = self.tolerance * np.maximum(np.abs(a), np.abs(b)) if self.relative else (
                self.tolerance
            )
            result: BoolArray = np.abs(a - b) <= limit
        return result

    def holds(self, left: Values, right: Values) -> bool:
        """Whether the pair's numbers are close enough."""
        x, y = left[self.expression], right[self.expression]
        if x is None or y is None:
            return False
        a, b = parse_number(x), parse_number(y)
        if a is None or b is None:
            return False
        # np.maximum, not max(): a NaN on either side makes the limit NaN, as in mask
        limit = self.tolerance * float(np.maximum(abs(a), abs(b))) if self.relative else (
            self.tolerance
        )
        return abs(a - b) <= limit

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        return LEVELS.to_dict(self)


@attrs.frozen
class SwappedLevel:
    """Two fields swapped: left ``first`` equals right ``second`` and vice versa.

    With a ``metric``, the crossed values need only be similar (at least ``threshold``, or at
    most ``threshold`` edits): a swap that also carries a typo or a nickname (``"Sakai Kaito"``
    ~ ``"Kato Sakai"``, ``"Lewis Jeff"`` ~ ``"Jeffrey Lewis"``) still counts, provided neither
    field is equal straight across (that is no swap). A record with the same value in both
    fields (``"Lee Lee"``) is never "swapped".

    Args:
        first: First field expression (e.g. given name).
        second: Second field expression (e.g. family name).
        name: Label.
        metric: None (the crossed values are equal) or a metric of :data:`SIMILARITY_METRICS` /
            :data:`DISTANCE_METRICS`.
        threshold: Smallest similarity (or largest distance) of each crossed pair of values.
    """

    kind: ClassVar[str] = "swapped"
    first: str = attrs.field(validator=_expr)
    second: str = attrs.field(validator=_expr)
    name: str = ""
    metric: str | None = attrs.field(default=None)
    threshold: float = attrs.field(default=1.0)

    @metric.validator
    def _check_metric(self, _a: object, value: str | None) -> None:
        if value is not None and value not in SIMILARITY_METRICS + DISTANCE_METRICS:
            raise MatchingConfigError(
                f"unknown metric {value!r}; use one of {SIMILARITY_METRICS + DISTANCE_METRICS}"
            )

    @threshold.validator
    def _check_threshold(self, _a: object, value: float) -> None:
        if self.metric in SIMILARITY_METRICS and not 0.0 <= value <= 1.0:
            raise MatchingConfigError(f"{self.metric} threshold must be in [0, 1], got {value}")
        if value < 0:
            raise MatchingConfigError(f"threshold must not be negative, got {value}")

    @property
    def label(self) -> str:
        """Short description."""
        return self.name or f"{self.first} / {self.second} swapped"

    @property
    def expressions(self) -> tuple[str, ...]:
        """Field expressions read."""
        return (self.first, self.second)

    def _within(self, score: FloatArray) -> BoolArray:
        with np.errstate(invalid="ignore"):
            if self.metric in DISTANCE_METRICS:
                result: BoolArray = score <= self.threshold
            else:
                result = score >= self.threshold - 1e-9
        return result

    def mask(self, ctx: PairContext) -> BoolArray:
        """Pairs with the two fields crossed."""
        f_l, f_r = ctx.codes(self.first)
        s_l, s_r = ctx.codes(self.second)
        if self.metric is None:
            result: BoolArray = (
                (f_l == s_r) & (s_l == f_r) & (f_l >= 0) & (s_l >= 0) & (f_l != s_l)
            )
            return result
        # crossed, not straight: both fields differ from the other record's same field
        todo = (f_l != s_l) & (f_r != s_r) & (f_l != f_r) & (s_l != s_r)
        todo &= (f_l >= 0) & (f_r >= 0) & (s_l >= 0) & (s_r >= 0)
        result = np.zeros(len(ctx), dtype=bool)
        if todo.any():
            rows = np.flatnonzero(todo)
            close = self._within(ctx.similarities(f_l[rows], s_r[rows], self.metric))
            rows = rows[close]
            close = self._within(ctx.similarities(s_l[rows], f_r[rows], self.metric))
            result[rows[close]] = True
        return result

    def _close(self, a: str, b: str) -> bool:
        assert self.metric is not None
        score = pair_similarity(self.metric, a, b)
        if self.metric in DISTANCE_METRICS:
            return score <= self.threshold
        return score >= self.threshold - 1e-9

    def holds(self, left: Values, right: Values) -> bool:
        """Whether the pair has the two fields crossed."""
        fl, sl = left[self.first], left[self.second]
        if self.metric is None:
            return (fl is not None and sl is not None and fl != sl
                    and fl == right[self.second] and sl == right[self.first])
        fr, sr = right[self.first], right[self.second]
        if fl is None or sl is None or fr is None or sr is None:
            return False
        if fl in (sl, fr) or sr in (fr, sl):  # same value in both fields, or straight
            return False
        return self._close(fl, sr) and self._close(sl, fr)

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        return LEVELS.to_dict(self)


@attrs.frozen
class CrossExactLevel:
    """One side's ``expression`` equals the other side's ``other`` (either way round).

    Used for acronyms: ``CrossExactLevel("company_key(company)", "acronym(company)")`` matches
    "IBM" with "International Business Machines".

    Args:
        expression: Field expression on one side.
        other: Field expression on the other side.
        name: Label.
    """

    kind: ClassVar[str] = "cross_exact"
    expression: str = attrs.field(validator=_expr)
    other: str = attrs.field(validator=_expr)
    name: str = ""

    @property
    def label(self) -> str:
        """Short description."""
        return self.name or f"{self.expression} = {self.other}"

    @property
    def expressions(self) -> tuple[str, ...]:
        """Field expressions read."""
        return (self.expression, self.other)

    def mask(self, ctx: PairContext) -> BoolArray:
        """Pairs where the expressions cross-match."""
        a_l, a_r = ctx.codes(self.expression)
        b_l, b_r = ctx.codes(self.other)
        result: BoolArray = ((a_l == b_r) & (a_l >= 0)) | ((b_l == a_r) & (b_l >= 0))
        return result

    def holds(self, left: Values, right: Values) -> bool:
        """Whether the pair's expressions cross-match."""
        xl, yl = left[self.expression], left[self.other]
        return (xl is not None and xl == right[self.other]) or (
            yl is not None and yl == right[self.expression]
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        return LEVELS.to_dict(self)


TOKEN_METRICS = ("dice", "containment")


@attrs.frozen
class TokenOverlapLevel:
    """Weighted share of words in common at least ``threshold``.

    The expression's value is split into words (``company_words(company)`` gives canonical
    words: abbreviations expanded, legal forms and noise removed); a distinctive word weighs 1
    and a generic one (GROUP, UNIVERSITY, a country, a number) 0.5
    (:func:`crmcore.normalize.company_word_weight`), so sharing AGILENT counts far more than
    sharing INC or GROUP; the comparison's TF-adjusted exact level adds the data's own rarity.
    The weights do not depend on the other records, so one pair scores the same in batch and in
    real time. ``metric="dice"``
    compares the shared weight with both sides, ``"containment"`` with the smaller side (one
    name is a shorter form of the other: "IBM" ~ "IBM Almaden Research Center").

    Args:
        expression: Field expression whose value is space-separated words.
        threshold: Smallest overlap in [0, 1].
        metric: ``dice`` or ``containment``.
        name: Label.
    """

    kind: ClassVar[str] = "token_overlap"
    expression: str = attrs.field(validator=_expr)
    threshold: float = attrs.field()
    metric: str = attrs.field(default="dice")
    name: str = ""

    @threshold.validator
    def _check_threshold(self, _a: object, value: float) -> None:
        if not 0.0 <= value <= 1.0:
            raise MatchingConfigError(f"token overlap threshold must be in [0, 1], got {value}")

    @metric.validator
    def _check_metric(self, _a: object, value: str) -> None:
        if value not in TOKEN_METRICS:
            raise MatchingConfigError(f"unknown token metric {value!r}; use one of {TOKEN_METRICS}")

    @property
    def label(self) -> str:
        """Short description."""
        return self.name or f"{self.metric} of rare words {self.expression} >= {self.threshold:g}"

    @property
    def expressions(self) -> tuple[str, ...]:
        """Field expressions read."""
        return (self.expression,)

    def mask(self, ctx: PairContext) -> BoolArray:
        """Pairs sharing enough of their (weighted) words."""
        scores = ctx.token_scores(self.expression, self.metric)
        with np.errstate(invalid="ignore"):
            result: BoolArray = scores >= self.threshold - 1e-9
        return result

    def holds(self, left: Values, right: Values) -> bool:
        """Whether one pair shares enough of its (weighted) words."""
        from crmcore.normalize import word_overlap

        x, y = left[self.expression], right[self.expression]
        if x is None or y is None:
            return False
        score = 1.0 if x == y else word_overlap(x, y, self.metric)
        return score >= self.threshold - 1e-9

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        return LEVELS.to_dict(self)


@attrs.frozen
class InitialLevel:
    """One side is an initial (one letter) that starts the other side's value.

    Args:
        expression: Field expression (e.g. ``"first_name"``).
        name: Label.
    """

    kind: ClassVar[str] = "initial"
    expression: str = attrs.field(validator=_expr)
    name: str = ""

    @property
    def label(self) -> str:
        """Short description."""
        return self.name or f"initial of {self.expression}"

    @property
    def expressions(self) -> tuple[str, ...]:
        """Field expressions read (the expression, and its initial)."""
        return (self.expression, f"initial({self.expression})")

    def mask(self, ctx: PairContext) -> BoolArray:
        """Pairs where an initial agrees with a full value."""
        same_initial = ctx.equal(f"initial({self.expression})")
        len_l, len_r = ctx.lengths(self.expression)
        result: BoolArray = same_initial & ((len_l == 1) | (len_r == 1))
        return result

    def holds(self, left: Values, right: Values) -> bool:
        """Whether an initial of the pair agrees with a full value."""
        key = f"initial({self.expression})"
        x = left[key]
        if x is None or x != right[key]:
            return False
        a, b = left[self.expression], right[self.expression]
        return (a is not None and len(a) == 1) or (b is not None and len(b) == 1)

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        return LEVELS.to_dict(self)


@attrs.frozen
class AllOf:
    """All the given levels hold at once (e.g. same email domain AND similar local part).

    Args:
        levels: The levels combined.
        name: Label.
    """

    kind: ClassVar[str] = "all_of"
    levels: tuple[Level, ...] = attrs.field(converter=_to_levels)
    name: str = ""

    @property
    def label(self) -> str:
        """Short description."""
        return self.name or " and ".join(level.label for level in self.levels)

    @property
    def expressions(self) -> tuple[str, ...]:
        """Field expressions read."""
        return tuple(e for level in self.levels for e in level.expressions)

    def mask(self, ctx: PairContext) -> BoolArray:
        """Pairs satisfying every level."""
        result = np.ones(len(ctx), dtype=bool)
        for level in self.levels:
            result &= level.mask(ctx)
        return result

    def holds(self, left: Values, right: Values) -> bool:
        """Whether the pair satisfies every level."""
        return all(level.holds(left, right) for level in self.levels)

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        return LEVELS.to_dict(self)


#: Every built-in level kind: ``kind`` -> class (the codec of :func:`level_from_dict`).
LEVEL_KINDS: Mapping[str, type[Any]] = {
    cls.kind: cls
    for cls in (
        ExactLevel,
        SimilarityLevel,
        DateDiffLevel,
        NumericLevel,
        SwappedLevel,
        CrossExactLevel,
        InitialLevel,
        TokenOverlapLevel,
        AllOf,
    )
}


def _to_dicts(values: Iterable[Any]) -> list[Any]:
    return [v.to_dict() for v in values]


#: The dict form of every built-in comparison level, dispatched by ``"kind"``.
LEVELS = SpecCodec("level", key="kind", error=MatchingConfigError.from_problems,
                   noun="comparison level")
for _kind, _cls in LEVEL_KINDS.items():
    if _cls is not SwappedLevel:
        LEVELS.register(_cls, _kind)
# an exact swap keeps the form files were written in: metric and threshold only when fuzzy
LEVELS.register(SwappedLevel, "swapped", fields={
    "metric": SpecField(omit=lambda value: value is None),
    "threshold": SpecField(omit=lambda value: value == 1.0),
})
LEVELS.register(AllOf, "all_of", fields={"levels": SpecField(
    encode=_to_dicts, decode=SpecCodec.list_of(LEVELS.decode, rule="level.levels"))})


def has_pairwise_form(level: Level) -> bool:
    """Whether a level's pairwise test is its own: the class that defines ``mask`` also
    defines ``holds`` (a subclass that overrides ``mask`` only would inherit a ``holds`` that
    tests something else), for it and every level it combines.

    The real-time index scores through ``holds`` when every level has its own, and through the
    columnar code otherwise (a user-defined kind with ``mask`` only still works, slower).
    """
    owner = next((k for k in type(level).__mro__ if "mask" in vars(k)), None)
    if owner is None or "holds" not in vars(owner):
        return False
    inner: Iterable[Level] = getattr(level, "levels", ())
    return all(has_pairwise_form(lv) for lv in inner)


def level_from_dict(data: Mapping[str, Any]) -> Level:
    """Rebuild a level from its ``to_dict()`` form.

    Raises:
        MatchingConfigError: For an unknown kind or bad fields.
    """
    level: Level = LEVELS.from_dict(data, path="level")
    return level


def _check_levels(_i: object, _a: object, value: tuple[Level, ...]) -> None:
    if not value:
        raise MatchingConfigError("a comparison needs at least one level besides missing / else")
    if len(value) > 30:
        raise MatchingConfigError("a comparison may have at most 30 levels")


@attrs.frozen
class Comparison:
    """A named comparison: missing level, the given levels in order, then "else".

    Args:
        name: Name shown in summaries (unique within a model).
        levels: Levels from the most to the least specific (missing and else are implicit).
        missing: Field expressions checked for the "missing" level: a pair is missing when NO
            expression has a value on both sides; defaults to the first level's first
            expression.

    Level indexes: 0 is missing, ``1..len(levels)`` are the given levels, the last is else.
    """

    name: str
    levels: tuple[Level, ...] = attrs.field(converter=_to_levels, validator=_check_levels)
    missing: tuple[str, ...] = attrs.field(converter=_to_strings, default=())

    def __attrs_post_init__(self) -> None:
        if not self.missing:
            object.__setattr__(self, "missing", tuple(self.levels[0].expressions[:1]))

    @property
    def n_levels(self) -> int:
        """Number of levels including missing and else."""
        return len(self.levels) + 2

    @property
    def labels(self) -> tuple[str, ...]:
        """Labels of every level, missing and else included."""
        return ("missing", *(lv.label for lv in self.levels), "else")

    @property
    def columns(self) -> frozenset[str]:
        """Base columns the comparison reads."""
        exprs = [*self.missing, *(e for lv in self.levels for e in lv.expressions)]
        return frozenset(parse_expression(e).column for e in exprs)

    @property
    def tf_levels(self) -> tuple[int, ...]:
        """Level indexes with a term-frequency adjustment."""
        return tuple(
            i + 1 for i, lv in enumerate(self.levels) if isinstance(lv, ExactLevel) and lv.tf
        )

    def evaluate(self, ctx: PairContext) -> npt.NDArray[np.int8]:
        """Level index of every pair (first level that holds wins)."""
        out = np.full(len(ctx), len(self.levels) + 1, dtype=np.int8)
        undecided = np.ones(len(ctx), dtype=bool)
        missing = np.ones(len(ctx), dtype=bool)
        for expr in self.missing:
            missing &= ctx.missing(expr)
        out[missing] = 0
        undecided &= ~missing
        for index, level in enumerate(self.levels, start=1):
            hit = level.mask(ctx) & undecided
            out[hit] = index
            undecided &= ~hit
        return out

    def level_of(self, left: Values, right: Values) -> int:
        """Level index of one pair: the pairwise form of :meth:`evaluate`.

        Args:
            left: The left record's values (a :class:`~crmcore.matching._expressions.RecordValues`).
            right: The right record's values.
        """
        for expr in self.missing:
            if left[expr] is not None and right[expr] is not None:
                break
        else:
            return 0
        for index, level in enumerate(self.levels, start=1):
            if level.holds(left, right):
                return index
        return len(self.levels) + 1

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        return COMPARISONS.to_dict(self)


#: The dict form of a comparison (its levels through :data:`LEVELS`; a level class of the
#: host's own is written by its own ``to_dict``).
COMPARISONS = SpecCodec("comparison", key=None, error=MatchingConfigError.from_problems)
COMPARISONS.register(Comparison, fields={"levels": SpecField(
    encode=_to_dicts, decode=SpecCodec.list_of(LEVELS.decode, rule="comparison.levels"))})


def comparison_from_dict(data: Mapping[str, Any]) -> Comparison:
    """Rebuild a comparison from :meth:`Comparison.to_dict`."""
    comparison: Comparison = COMPARISONS.from_dict(data, path="comparison")
    return comparison


def compute_levels(
    comparisons: Sequence[Comparison],
    frame: Frame,
    left: IntArray,
    right: IntArray,
    *,
    progress: Callable[[str], None] | None = None,
) -> npt.NDArray[np.int8]:
    """Level of every comparison for every pair: an ``(n_pairs, n_comparisons)`` int8 array.

    ``progress`` (if given) is called with a message before each comparison.
    """
    ctx = PairContext(frame, left, right)
    out = np.empty((len(left), len(comparisons)), dtype=np.int8)
    # per comparison, the expressions later comparisons read: the others' caches are dropped
    later: list[set[str]] = [set() for _ in comparisons]
    for j in range(len(comparisons) - 2, -1, -1):
        nxt = comparisons[j + 1]
        later[j] = later[j + 1] | set(nxt.missing) | {
            e for level in nxt.levels for e in level.expressions
        }
    for j, comparison in enumerate(comparisons):
        if progress is not None:
            progress(f"  comparison {j + 1}/{len(comparisons)}: {comparison.name}")
        out[:, j] = comparison.evaluate(ctx)
        ctx.forget(later[j])
    return out


# -- the comparison library ------------------------------------------------------------------


def exact_match(expression: str, *, tf: bool = False, name: str | None = None) -> Comparison:
    """Two levels: equal, else.

    Args:
        expression: Field expression.
        tf: Term-frequency adjustment on the exact level.
        name: Comparison name (default: the expression).
    """
    return Comparison(name or expression, (ExactLevel(expression, tf=tf),))


def fuzzy_comparison(
    expression: str,
    *,
    metric: str = "jaro_winkler",
    thresholds: Sequence[float] = (0.92, 0.8),
    tf: bool = False,
    name: str | None = None,
) -> Comparison:
    """Exact, then one level per threshold of a similarity or distance metric, else."""
    levels: list[Level] = [ExactLevel(expression, tf=tf)]
    levels += [SimilarityLevel(expression, metric, t) for t in thresholds]
    return Comparison(name or expression, tuple(levels))


#: Smallest Jaro-Winkler similarity of each crossed pair of names for "swapped" (a swap
#: that also carries a typo or a nickname: ``kaito`` ~ ``kato`` 0.95, ``jeff`` ~ ``jeffrey`` 0.91).
SWAP_SIMILARITY = 0.9

#: Label of the given-name and family-name comparisons' swapped level.
SWAPPED_NAMES = "given and family names swapped"


def given_name_comparison(
    expression: str = "first_name",
    *,
    family: str | None = "last_name",
    tf: bool = True,
    name: str = "given name",
) -> Comparison:
    """Given names: exact, nickname-equivalent, swapped with the family name, fuzzy, initial.

    Levels: exact (TF-adjusted), same canonical name (Bob = Robert, via
    ``crmcore.normalize.canonical_given_name``), given/family swapped (when ``family`` is set;
    each crossed pair Jaro-Winkler >= :data:`SWAP_SIMILARITY`, so a swap with a typo or a
    nickname counts), Jaro-Winkler >= 0.92, initial agrees with a full name, Jaro-Winkler >= 0.8,
    else: two clearly different given names (the level the presets' household rule reads).
    """
    levels: list[Level] = [
        ExactLevel(expression, tf=tf),
        ExactLevel(f"canonical_given({expression})", name="nickname of the same name"),
    ]
    if family is not None:
        levels.append(SwappedLevel(expression, family, name=SWAPPED_NAMES,
                                   metric="jaro_winkler", threshold=SWAP_SIMILARITY))
    levels += [
        SimilarityLevel(expression, "jaro_winkler", 0.92),
        InitialLevel(expression, name="initial agrees"),
        SimilarityLevel(expression, "jaro_winkler", 0.8),
    ]
    return Comparison(name, tuple(levels), missing=(expression,))


def family_name_comparison(
    expression: str = "last_name",
    *,
    given: str | None = None,
    tf: bool = True,
    name: str = "family name",
) -> Comparison:
    """Family names: exact, similar, swapped with the given name, same sound, fuzzy, else.

    Levels: exact (TF-adjusted), Jaro-Winkler >= 0.92, swapped with the given name (when
    ``given`` is set), same sound (metaphone), Jaro-Winkler >= 0.8, else.

    The swapped level mirrors the given-name comparison's: a swap is the same person with both
    names in the wrong fields, so the family-name comparison must not count it as two different
    family names (without it a swap with the same email and phone scored 0.93, under 0.95).
    """
    levels: list[Level] = [
        ExactLevel(expression, tf=tf),
        SimilarityLevel(expression, "jaro_winkler", 0.92),
    ]
    if given is not None:
        levels.append(SwappedLevel(expression, given, name=SWAPPED_NAMES,
                                   metric="jaro_winkler", threshold=SWAP_SIMILARITY))
    levels += [
        ExactLevel(f"metaphone({expression})", name="sounds the same"),
        SimilarityLevel(expression, "jaro_winkler", 0.8),
    ]
    return Comparison(name, tuple(levels), missing=(expression,))


#: Label of the email comparison's level for two numbered mailboxes of one name at one domain.
NUMBERED_MAILBOX = "another numbered mailbox at the same domain"


def email_comparison(expression: str = "email", *, name: str = "email") -> Comparison:
    """Emails: same address, same local part, another numbered mailbox, same domain, else.

    Levels: same address; same local part (TF-adjusted); another numbered mailbox at the same
    domain; same domain; else.

    The local part ignores dots and ``+tags`` (``j.doe+crm@x.com`` ~ ``jdoe@y.com``). Merely
    *similar* local parts are not a level: local parts are usually made of the person's name, so
    namesakes share them and the name comparisons already count that evidence. Two local parts
    that differ only by a trailing number at one domain (``a.rodriguez@`` and
    ``a.rodriguez2@``) are two mailboxes: the mail server numbered the second one because the
    name was taken, i.e. by a namesake (:data:`NUMBERED_MAILBOX`; the contacts preset's
    namesake rule reads it). Sharing a domain is weak evidence; it is not TF-adjusted: a rare
    (company) domain says "same employer", which the company comparison already counts, not
    "same person".
    """
    local = f"email_local({expression})"
    domain = f"email_domain({expression})"
    return Comparison(
        name,
        (
            ExactLevel(expression, name="same address"),
            ExactLevel(local, tf=True, name="same local part"),
            AllOf((ExactLevel(domain), ExactLevel(f"without_number({local})")),
                  name=NUMBERED_MAILBOX),
            ExactLevel(domain, name="same domain"),
        ),
        missing=(expression,),
    )


def phone_comparison(expression: str = "phone", *, name: str = "phone") -> Comparison:
    """Phones: same number (all digits, i.e. same E.164), same national number, one digit off."""
    national = f"national_number({expression})"
    return Comparison(
        name,
        (
            ExactLevel(f"digits({expression})", name="same number"),
            ExactLevel(national, name="same national number"),
            SimilarityLevel(national, "damerau_levenshtein", 1, name="one digit off"),
        ),
        missing=(expression,),
    )


def company_comparison(
    expression: str = "company", *, tf: bool = True, name: str = "company"
) -> Comparison:
    """Company names: same name ignoring legal form (TF-adjusted), acronym, token-set, fuzzy."""
    key = f"company_key({expression})"
    return Comparison(
        name,
        (
            ExactLevel(key, tf=tf, name="same name ignoring legal form"),
            CrossExactLevel(key, f"acronym({expression})", name="acronym of the other"),
            SimilarityLevel(key, "token_set", 0.9, name="same words (token set >= 0.9)"),
            SimilarityLevel(key, "jaro_winkler", 0.88),
        ),
        missing=(expression,),
    )


def organisation_comparison(
    expression: str = "company", *, name: str = "organisation name"
) -> Comparison:
    """Organisation names as the main evidence (an account list, often the name alone).

    Levels: same name ignoring legal form (TF-adjusted); same words once abbreviations are
    expanded (TECH ~ TECHNOLOGIES, INTL ~ INTERNATIONAL, CO ~ COMPANY); acronym of the other;
    then rarity-weighted word overlap (:class:`TokenOverlapLevel` on ``company_words``: a shared
    rare word like AGILENT weighs more than INC or GROUP): Dice >= 0.8, Jaro-Winkler >= 0.92 on
    the key (a typo), Dice >= 0.7, one name's words contained in the other's (>= 0.8: "IBM" ~
    "IBM Almaden Research Center", but also "Meridian" ~ "Meridian Logistics", another company
    of a group: how often it is a duplicate depends on the list, so it sits below the typo and
    the Dice levels, and training pools it with them where the list says it is as good), Dice
    >= 0.6, 0.5, 0.4, 0.3; else (training keeps the weights in that order).

    On a name-only list no EM session can estimate this comparison; its m then comes from the
    pairs sharing a rare word or a typo apart
    (:func:`crmcore.matching._training.rare_word_anchor_counts`).
    """
    key = f"company_key({expression})"
    words = f"company_words({expression})"
    return Comparison(
        name,
        (
            ExactLevel(key, tf=True, name="same name ignoring legal form"),
            ExactLevel(words, name="same words after abbreviations"),
            CrossExactLevel(key, f"acronym({expression})", name="acronym of the other"),
            TokenOverlapLevel(words, 0.8, name="rare words mostly shared (dice >= 0.8)"),
            SimilarityLevel(key, "jaro_winkler", 0.92, name="a typo apart (jaro-winkler >= 0.92)"),
            TokenOverlapLevel(words, 0.7),
            TokenOverlapLevel(words, 0.8, metric="containment",
                              name="one name within the other (containment >= 0.8)"),
            *(TokenOverlapLevel(words, t) for t in (0.6, 0.5, 0.4, 0.3)),
        ),
        missing=(expression,),
    )


def date_comparison(
    expression: str = "dob", *, tf: bool = True, name: str | None = None
) -> Comparison:
    """Dates: exact (TF-adjusted: a placeholder like 1900-01-01 weighs less), one typo, within a
    month, within a year, within ten years, else. Unparseable dates still match exactly or by typo.
    """
    return Comparison(
        name or expression,
        (
            ExactLevel(expression, tf=tf),
            SimilarityLevel(expression, "damerau_levenshtein", 1, name="one character off"),
            DateDiffLevel(expression, 31, name="within a month"),
            DateDiffLevel(expression, 366, name="within a year"),
            DateDiffLevel(expression, 3653, name="within ten years"),
        ),
        missing=(expression,),
    )


def location_comparison(
    postcode: str = "postcode", city: str = "city", *, name: str = "location"
) -> Comparison:
    """Where a record is, as ONE comparison (postcode and city are not independent evidence).

    Levels: same postcode (TF-adjusted), postcode one character off, same city (TF-adjusted),
    similar city (Jaro-Winkler >= 0.9), else; missing when neither field is on both sides.
    """
    return Comparison(
        name,
        (
            ExactLevel(postcode, tf=True, name="same postcode"),
            SimilarityLevel(postcode, "damerau_levenshtein", 1, name="postcode one character off"),
            ExactLevel(city, tf=True, name="same city"),
            SimilarityLevel(city, "jaro_winkler", 0.9, name="similar city"),
        ),
        missing=(postcode, city),
    )


def postcode_comparison(
    expression: str = "postcode", *, tf: bool = True, name: str = "postcode"
) -> Comparison:
    """Postcodes: exact (TF-adjusted), one character off, same district (first token), else."""
    return Comparison(
        name,
        (
            ExactLevel(expression, tf=tf),
            SimilarityLevel(expression, "damerau_levenshtein", 1, name="one character off"),
            ExactLevel(f"first_token({expression})", name="same district"),
        ),
        missing=(expression,),
    )
