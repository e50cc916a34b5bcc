"""Comparison levels: the tests a pair of records can pass, each in two forms.

Level specs are small frozen values (:class:`ExactLevel`, :class:`SimilarityLevel`,
:class:`DateDiffLevel`, :class:`NumericLevel`, :class:`SwappedLevel`, :class:`InitialLevel`,
:class:`CrossExactLevel`, :class:`TokenOverlapLevel`, :class:`AllOf`) over field expressions (see
:mod:`crmcore.matching._expressions`).

Every level has two forms of one test, side by side and tested against each other (as survivorship
policies carry ``scores`` and ``score_columns``): ``mask(ctx)`` over a whole array of candidate
pairs (a :class:`~crmcore.matching._pairs.PairContext`), and ``holds(left, right)`` for one pair
of records given as :class:`~crmcore.matching._expressions.RecordValues` (the real-time index
scores a few candidates that way, so it gets the batch levels by construction).
:data:`LEVELS` is their dict form.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, ClassVar, Protocol

import attrs
import numpy as np

from crmcore.errors import MatchingConfigError
from crmcore.matching._expressions import parse_expression
from crmcore.matching._functions import fold
from crmcore.matching._pairs import (
    DISTANCE_METRICS,
    SIMILARITY_METRICS,
    BoolArray,
    FloatArray,
    PairContext,
    Values,
    pair_similarity,
    parse_date,
    parse_number,
)
from crmcore.model import SpecCodec, SpecField


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


def to_level_tuple(values: Iterable[Level]) -> tuple[Level, ...]:
    """The levels as a tuple (the converter of every field holding levels)."""
    return tuple(values)


def levels_to_dicts(values: Iterable[Any]) -> list[Any]:
    """The dict forms of levels, in order (the encoder of every field holding levels)."""
    return [v.to_dict() for v in values]


def _expr(_i: object, _a: object, value: str) -> None:
    parse_expression(value)


class LevelBase:
    """What every built-in level shares: its label (``name``, else :meth:`_default_label`, a
    description of its test) and its dict form (through :data:`LEVELS`)."""

    __slots__ = ()
    kind: ClassVar[str]
    name: str

    def _default_label(self) -> str:
        raise NotImplementedError

    @property
    def label(self) -> str:
        """Short description."""
        return self.name or self._default_label()

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        return LEVELS.to_dict(self)


class OneExpressionLevel(LevelBase):
    """A level that reads one field expression, ``expression``."""

    __slots__ = ()
    expression: str

    @property
    def expressions(self) -> tuple[str, ...]:
        """Field expressions read."""
        return (self.expression,)


def _names(value: Iterable[str]) -> tuple[str, ...]:
    return tuple(value)


def _check_names(_i: object, _a: object, value: tuple[str, ...]) -> None:
    for text in value:
        parse_expression(text)


@attrs.frozen
class ExactLevel(OneExpressionLevel):
    """Values are equal. ``tf=True`` adjusts the weight by how common the shared value is.

    With ``unless_made_of`` (field expressions, e.g. the given and family name), a shared value
    made only of either record's own name words and initials does not count: an email local
    part ``giusepperomano`` or ``j.smith`` is shared by namesakes, and the name comparisons
    already count the name (see :func:`made_of_words`). A local part with more in it
    (``htanaka36``, ``bob.smith`` for a Robert, a role mailbox) still counts.

    Args:
        expression: Field expression compared.
        tf: Term-frequency adjustment for this level.
        name: Label (default ``"exact <expression>"``).
        unless_made_of: Field expressions whose words (and initials), on the same record, make
            an equal value not count.
    """

    kind: ClassVar[str] = "exact"
    expression: str = attrs.field(validator=_expr)
    tf: bool = False
    name: str = ""
    unless_made_of: tuple[str, ...] = attrs.field(
        default=(), converter=_names, validator=_check_names
    )

    def _default_label(self) -> str:
        return f"exact {self.expression}"

    @property
    def expressions(self) -> tuple[str, ...]:
        """Field expressions read."""
        return (self.expression, *self.unless_made_of)

    def mask(self, ctx: PairContext) -> BoolArray:
        """Pairs with equal values (not made of either record's own words, when asked)."""
        return self.mask_among(ctx, None)

    def mask_among(self, ctx: PairContext, among: BoolArray | None) -> BoolArray:
        """:meth:`mask` for the pairs in ``among`` (others False): a comparison passes the
        pairs no earlier level took, so the words are read only where the level decides."""
        equal = ctx.equal(self.expression)
        if among is not None:
            equal &= among
        if not self.unless_made_of:
            return equal
        rows = np.flatnonzero(equal)
        if len(rows) == 0:
            return equal
        sides = np.concatenate([ctx.left[rows], ctx.right[rows]])
        made = _made_rows(ctx.frame, self.expression, self.unless_made_of, sides)
        equal[rows[made[: len(rows)] | made[len(rows):]]] = False
        return equal

    def holds(self, left: Values, right: Values) -> bool:
        """Whether the pair's values are equal (and present)."""
        x = left[self.expression]
        if x is None or x != right[self.expression]:
            return False
        return not self.unless_made_of or not any(
            made_of_words(x, [side[e] for e in self.unless_made_of]) for side in (left, right)
        )


def _made_rows(frame: Any, expression: str, words: tuple[str, ...], rows: Any) -> BoolArray:
    """:func:`made_of_words` of ``expression`` over each row's own ``words``, evaluated once
    per distinct combination of values (records repeat names and mailboxes), on letters made
    once per distinct value."""
    # one int64 key per combination, built a column at a time (np.unique on 1-D keys)
    key = np.zeros(len(rows), dtype=np.int64)
    for e in (*words, expression):
        codes = frame.codes(e)[rows].astype(np.int64) + 1
        _, key = np.unique(key * (int(codes.max(initial=0)) + 1) + codes, return_inverse=True)
    first, back = np.unique(key, return_index=True, return_inverse=True)[1:]
    text, *own = (_letters_of(frame, e, rows[first]) for e in (expression, *words))
    made = np.fromiter(
        map(_made_of_letters, text, zip(*own, strict=True)), dtype=bool, count=len(first)
    )
    result: BoolArray = made[np.asarray(back).reshape(-1)]
    return result


def _letters_of(frame: Any, expression: str, rows: Any) -> list[str | None]:
    """:func:`_letters` of each row's value of ``expression`` (None where it is missing),
    made once per distinct value."""
    distinct, inverse = np.unique(frame.codes(expression)[rows], return_inverse=True)
    present = distinct >= 0
    letters = np.full(len(distinct), None, dtype=object)
    letters[present] = [_letters(t) for t in frame.texts(distinct[present])]
    out: list[str | None] = letters[np.asarray(inverse).reshape(-1)].tolist()
    return out


_NOT_ALNUM = re.compile(r"[^0-9a-z]+")


def made_of_words(value: str, words: Sequence[str | None]) -> bool:
    """Whether ``value`` is a mailbox name made of the words the usual ways: one whole word,
    or two words in either order, each whole or its initial, at least one whole (given
    ``John``, family ``Smith``: ``john``, ``smith``, ``johnsmith``, ``smithjohn``, ``jsmith``,
    ``smithj``, ``johns``, ``sjohn``).

    Case, accents and punctuation are ignored (``j_smith``, ``J.Smith``), so is a word's
    inner space or hyphen (``vanderberg``). A digit makes it more than the name.

    Example:
        >>> made_of_words("giusepperomano", ("Giuseppe", "Romano"))
        True
        >>> made_of_words("j_smith", ("John", "Smith")), made_of_words("smithj", ("John", "Smith"))
        (True, True)
        >>> made_of_words("htanaka36", ("Hiroshi", "Tanaka"))
        False
        >>> made_of_words("bobsmith", ("Robert", "Smith")), made_of_words("js", ("John", "Smith"))
        (False, False)
    """
    return _made_of_letters(_letters(value), [_letters(x) for x in words if x])


def _letters(value: str) -> str:
    """A value's letters and digits, folded (what :func:`made_of_words` compares)."""
    return _NOT_ALNUM.sub("", fold(value))


def _made_of_letters(text: str | None, words: Sequence[str | None]) -> bool:
    """:func:`made_of_words` of values already reduced to :func:`_letters` (None: missing)."""
    if text is None or not text.isalpha():
        return False
    whole = [w for w in words if w]
    if text in whole:
        return True
    for i, a in enumerate(whole):
        if not text.startswith(a[0]):
            continue
        for j, b in enumerate(whole):
            if i != j and text in (a + b, a[0] + b, a + b[0]):
                return True
    return False


def _check_metric(metric: str | None) -> None:
    if metric is not None and metric not in SIMILARITY_METRICS + DISTANCE_METRICS:
        raise MatchingConfigError(
            f"unknown metric {metric!r}; use one of {SIMILARITY_METRICS + DISTANCE_METRICS}"
        )


def _check_threshold(metric: str | None, value: float) -> None:
    if metric in SIMILARITY_METRICS and not 0.0 <= value <= 1.0:
        raise MatchingConfigError(f"{metric} threshold must be in [0, 1], got {value}")
    if value < 0:
        raise MatchingConfigError(f"threshold must not be negative, got {value}")


def _within(metric: str, threshold: float, score: Any) -> Any:
    """Whether a similarity (at least) or a distance (at most) passes ``threshold``; for one
    score or an array of them (NaN never passes)."""
    with np.errstate(invalid="ignore"):
        if metric in DISTANCE_METRICS:
            return score <= threshold
        return score >= threshold - 1e-9


@attrs.frozen
class SimilarityLevel(OneExpressionLevel):
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
    def _metric_known(self, _a: object, value: str | None) -> None:
        _check_metric(value)

    @threshold.validator
    def _threshold_in_range(self, _a: object, value: float) -> None:
        _check_threshold(self.metric, value)

    def _default_label(self) -> str:
        op = "<=" if self.metric in DISTANCE_METRICS else ">="
        return f"{self.metric} {self.expression} {op} {self.threshold:g}"

    def mask(self, ctx: PairContext) -> BoolArray:
        """Pairs within the threshold."""
        result: BoolArray = _within(self.metric, self.threshold,
                                    ctx.scores(self.expression, self.metric))
        return result

    def holds(self, left: Values, right: Values) -> bool:
        """Whether the pair's values are within the threshold."""
        x, y = left[self.expression], right[self.expression]
        if x is None or y is None:
            return False
        return bool(_within(self.metric, self.threshold, pair_similarity(self.metric, x, y)))


@attrs.frozen
class DateDiffLevel(OneExpressionLevel):
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

    def _default_label(self) -> str:
        return f"{self.expression} within {self.max_days} days"

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


@attrs.frozen
class NumericLevel(OneExpressionLevel):
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

    def _default_label(self) -> str:
        unit = " (relative)" if self.relative else ""
        return f"{self.expression} within {self.tolerance:g}{unit}"

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


@attrs.frozen
class SwappedLevel(LevelBase):
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
    def _metric_known(self, _a: object, value: str | None) -> None:
        _check_metric(value)

    @threshold.validator
    def _threshold_in_range(self, _a: object, value: float) -> None:
        _check_threshold(self.metric, value)

    def _default_label(self) -> str:
        return f"{self.first} / {self.second} swapped"

    @property
    def expressions(self) -> tuple[str, ...]:
        """Field expressions read."""
        return (self.first, self.second)

    def _within(self, score: FloatArray) -> BoolArray:
        assert self.metric is not None
        result: BoolArray = _within(self.metric, self.threshold, score)
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
        return bool(_within(self.metric, self.threshold, pair_similarity(self.metric, a, b)))

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


@attrs.frozen
class CrossExactLevel(LevelBase):
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

    def _default_label(self) -> str:
        return f"{self.expression} = {self.other}"

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


TOKEN_METRICS = ("dice", "containment")


@attrs.frozen
class TokenOverlapLevel(OneExpressionLevel):
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

    def _default_label(self) -> str:
        return f"{self.metric} of rare words {self.expression} >= {self.threshold:g}"

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


@attrs.frozen
class InitialLevel(OneExpressionLevel):
    """One side is an initial (one letter) that starts the other side's value.

    Args:
        expression: Field expression (e.g. ``"first_name"``).
        name: Label.
    """

    kind: ClassVar[str] = "initial"
    expression: str = attrs.field(validator=_expr)
    name: str = ""

    def _default_label(self) -> str:
        return f"initial of {self.expression}"

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


@attrs.frozen
class AllOf(LevelBase):
    """All the given levels hold at once (e.g. same email domain AND similar local part).

    Args:
        levels: The levels combined.
        name: Label.
    """

    kind: ClassVar[str] = "all_of"
    levels: tuple[Level, ...] = attrs.field(converter=to_level_tuple)
    name: str = ""

    def _default_label(self) -> str:
        return " and ".join(level.label for level in self.levels)

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


#: The dict form of every built-in comparison level, dispatched by ``"kind"``.
LEVELS = SpecCodec("level", key="kind", error=MatchingConfigError.from_problems,
                   noun="comparison level")
for _kind, _cls in LEVEL_KINDS.items():
    if _cls not in (SwappedLevel, ExactLevel):
        LEVELS.register(_cls, _kind)
# written only when set: files written before the option load and write unchanged
LEVELS.register(ExactLevel, "exact", fields={
    "unless_made_of": SpecField(omit=lambda value: not value,
                                encode=list),
})
# an exact swap keeps the form files were written in: metric and threshold only when fuzzy
LEVELS.register(SwappedLevel, "swapped", fields={
    "metric": SpecField(omit=lambda value: value is None),
    "threshold": SpecField(omit=lambda value: value == 1.0),
})
LEVELS.register(AllOf, "all_of", fields={"levels": SpecField(
    encode=levels_to_dicts, decode=SpecCodec.list_of(LEVELS.decode, rule="level.levels"))})


def mask_among(level: Level, ctx: PairContext, among: BoolArray) -> BoolArray:
    """``level.mask(ctx) & among``, through the level's own ``mask_among`` when the class that
    defines its ``mask`` defines one (it may then skip work on pairs outside ``among``; a
    subclass that overrides ``mask`` only is tested by its own ``mask``)."""
    owner = next((k for k in type(level).__mro__ if "mask" in vars(k)), None)
    if owner is not None and "mask_among" in vars(owner):
        result: BoolArray = vars(owner)["mask_among"](level, ctx, among)
        return result
    return level.mask(ctx) & among


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

