"""Survivorship policies: small frozen values that say which candidate value wins a field.

A :class:`Policy` narrows a field's candidates to the best ones. The built-in policies score each
candidate (:class:`ScoringPolicy`) and keep the top scorers; they also score whole columns at once
for the bulk path (:func:`crmcore.survivorship.golden_records`). A plain function becomes a policy
through :class:`FunctionPolicy` (the way ``httpx.FunctionAuth`` turns a function into an auth).

A :class:`FieldRule` chains them: the main policy, fallback policies tried in turn when the main
one yields nothing (no eligible candidate), then tie-breakers applied while more than one distinct
value is left, then the fixed final tie-break (source order, then record id) so the winner never
depends on input order. :class:`Aggregate` is the other kind of rule: it unions the values of every
record (emails, phones, tags, memberships) in sorted order.

:class:`SurvivorshipRules` maps field names to rules, with a default rule for the others.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, ClassVar, Literal, Protocol, runtime_checkable

import attrs
import numpy as np

from crmcore.errors import SurvivorshipError
from crmcore.model import parse_datetime
from crmcore.survivorship._records import Candidate, is_missing, to_microseconds

Score = tuple[float, ...]
FloatArray = np.ndarray[Any, np.dtype[np.float64]]
ValueKind = Literal["number", "text", "date"]
NEG_INF = float("-inf")


@attrs.frozen
class PolicyContext:
    """What a policy may look at besides the candidates it narrows.

    Args:
        field: The field being decided.
        candidates: Every valid candidate of the field (policies that count, such as
            :class:`MostFrequent`, count over these, not over the narrowed subset).
        source_priority: The rules' global source ranking (most trusted first).
    """

    field: str
    candidates: tuple[Candidate, ...]
    source_priority: tuple[str, ...] = ()


@runtime_checkable
class Policy(Protocol):
    """A survivorship policy: narrows candidates to the best ones.

    ``select`` returns the best candidates (a non-empty subset of its input), or an empty
    sequence when the policy has no opinion (then the field's fallback policy is tried).
    """

    @property
    def name(self) -> str:
        """Short name recorded in lineage."""
        ...

    def select(
        self, candidates: Sequence[Candidate], context: PolicyContext
    ) -> Sequence[Candidate]:
        """Return the best candidates, or an empty sequence when none is eligible."""
        ...


@attrs.define
class ColumnBatch:
    """The rows of a bulk survivorship run for one field, grouped by entity (engine internal).

    Rows are sorted by group; ``starts`` holds each group's first row. Per-row arrays:
    ``value_code`` (index into ``values``, -1 missing), ``key_code`` (-1 when missing or
    invalid), ``valid``, ``source_code`` (index into ``sources``), ``observed_us`` (NaN when
    unknown), ``group``.
    """

    field: str
    values: list[Any]
    value_code: np.ndarray[Any, np.dtype[np.int64]]
    key_code: np.ndarray[Any, np.dtype[np.int64]]
    valid: np.ndarray[Any, np.dtype[np.bool_]]
    sources: list[str]
    source_code: np.ndarray[Any, np.dtype[np.int64]]
    observed_us: np.ndarray[Any, np.dtype[np.float64]]
    group: np.ndarray[Any, np.dtype[np.int64]]
    starts: np.ndarray[Any, np.dtype[np.int64]]
    source_priority: tuple[str, ...] = ()
    cache: dict[str, FloatArray] = attrs.field(factory=dict)

    def per_value(self, fn: Callable[[Any], float | None], name: str | None = None) -> FloatArray:
        """Apply ``fn`` once per distinct value; return a per-row float array (NaN = None).

        With a ``name``, the per-distinct-value table is cached under it in ``cache``.
        """
        table = self.cache.get(name) if name else None
        if table is None:
            table = np.array(
                [np.nan if (s := fn(v)) is None else s for v in self.values] + [np.nan],
                dtype=np.float64,
            )
            if name:
                self.cache[name] = table
        out: FloatArray = table[self.value_code]  # code -1 picks the trailing NaN
        return out

    def times(self) -> FloatArray:
        """Per-row values parsed as times (microseconds, NaN when unparseable), cached."""
        if "date" not in self.cache:
            self.cache["date"] = np.append(parse_times_us(self.values), np.nan)
        out: FloatArray = self.cache["date"][self.value_code]
        return out

    def per_source(self, fn: Callable[[str], float | None]) -> FloatArray:
        """Apply ``fn`` once per distinct source system; return a per-row float array."""
        table = np.array(
            [np.nan if (s := fn(v)) is None else s for v in self.sources] + [np.nan],
            dtype=np.float64,
        )
        out: FloatArray = table[self.source_code]
        return out


def source_order_key(source: str, priority: Sequence[str]) -> tuple[int, str]:
    """Sort key of a source system: its place in ``priority``, unlisted ones after, by name."""
    try:
        return (list(priority).index(source), "")
    except ValueError:
        return (len(priority), source)


def parse_time_us(value: Any) -> float | None:
    """Parse a datetime, date or ISO / common date string into microseconds since the epoch.

    Naive times are UTC; unparseable values give None.

    Example:
        >>> parse_time_us("1970-01-01T00:00:02Z")
        2000000.0
    """
    if isinstance(value, dt.datetime):
        us = to_microseconds(value)
        return None if us is None else float(us)
    if isinstance(value, dt.date):
        return float(to_microseconds(dt.datetime(value.year, value.month, value.day)) or 0)
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    if text.endswith("]"):  # RFC 9557 zone suffix, as crmcore.model writes zoned datetimes
        try:
            zoned = parse_datetime(text)
        except ValueError:  # SerializationError: not ISO 8601, or an unknown zone
            return None
        us = to_microseconds(zoned)
        return None if us is None else float(us)
    try:
        parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        try:
            from dateutil import parser as date_parser

            # a fixed default: missing parts never come from today's date
            parsed = date_parser.parse(text, default=dt.datetime(1970, 1, 1))
        except (ValueError, OverflowError):
            return None
    us = to_microseconds(parsed)
    return None if us is None else float(us)


_ISO_EXTENDED = re.compile(
    r"\d{4}-\d{2}-\d{2}(?:[T ](?:[01]\d|2[0-3]):[0-5]\d(?::[0-5]\d(?:\.\d{1,6})?)?)?"
)


def parse_times_us(values: Sequence[Any]) -> FloatArray:
    """Vectorised :func:`parse_time_us`: microseconds since the epoch, NaN when unparseable.

    ISO 8601 extended text (``2021-06-12``, ``2021-06-12T10:30:00``, naive or ``Z``) is parsed
    by numpy in one call; anything else (``20210612``, ``12 June 2021``, offsets ...) goes to
    :func:`parse_time_us` value by value. Both give the same result for the same value (numpy
    alone would read ``"20210612"`` as a year and ``"now"`` as the clock: it never sees them).

    Example:
        >>> parse_times_us(["1970-01-01T00:00:01", None, "soon", "19700102"]).tolist()
        [1000000.0, nan, nan, 86400000000.0]
    """
    import warnings

    out = np.full(len(values), np.nan)
    if len(values) > 2_000:
        from crmcore.io._arrow import all_fullmatch

        # every value is ISO extended text, as numpy reads it
        if all_fullmatch(values, _ISO_EXTENDED.pattern):
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("error")
                    parsed = np.array(values, dtype="datetime64[us]")
            except (ValueError, Warning, OverflowError):
                pass
            else:
                us = parsed.astype(np.int64).astype(np.float64)
                out[:] = np.where(np.isnat(parsed), np.nan, us)
                return out
    iso_idx: list[int] = []
    iso_texts: list[str] = []
    for i, v in enumerate(values):
        if isinstance(v, str):
            text = v.strip()
            text = text[:-1] if text.endswith("Z") else text
            if _ISO_EXTENDED.fullmatch(text):
                iso_idx.append(i)
                iso_texts.append(text)
                continue
        t = parse_time_us(v)
        if t is not None:
            out[i] = t
    if iso_texts:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                parsed = np.array(iso_texts, dtype="datetime64[us]")
        except (ValueError, Warning, OverflowError):  # e.g. a month 13: value by value
            for i in iso_idx:
                t = parse_time_us(values[i])
                out[i] = np.nan if t is None else t
        else:
            us = parsed.astype(np.int64).astype(np.float64)
            out[np.array(iso_idx, dtype=np.int64)] = np.where(np.isnat(parsed), np.nan, us)
    return out


def _to_number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip().replace(",", ""))
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def _narrow(candidates: Sequence[Candidate], scores: Sequence[Score | None]) -> list[Candidate]:
    eligible = [(c, s) for c, s in zip(candidates, scores, strict=True) if s is not None]
    if not eligible:
        return []
    best = max(s for _, s in eligible)
    return [c for c, s in eligible if s == best]


class ScoringPolicy:
    """Base of the built-in policies: score each candidate, keep the highest scores.

    Subclasses implement :meth:`scores` (object path) and :meth:`score_columns` (bulk path) so
    that both rank candidates identically. A score of ``None`` means "not eligible".
    """

    name: ClassVar[str] = "scoring"
    #: True when every candidate is eligible (the policy always yields a value).
    always_eligible: ClassVar[bool] = False

    def scores(
        self, candidates: Sequence[Candidate], context: PolicyContext
    ) -> list[Score | None]:
        """Return one lexicographic score per candidate (higher wins), None when ineligible."""
        raise NotImplementedError

    def score_columns(
        self, batch: ColumnBatch
    ) -> tuple[list[np.ndarray[Any, np.dtype[np.float64]]], np.ndarray[Any, np.dtype[np.bool_]]]:
        """Return score columns (lexicographic, higher wins) and a per-row eligibility mask."""
        raise NotImplementedError

    def select(
        self, candidates: Sequence[Candidate], context: PolicyContext
    ) -> Sequence[Candidate]:
        """Keep the candidates with the highest score (none when no candidate is eligible)."""
        return _narrow(candidates, self.scores(candidates, context))


def _all(batch: ColumnBatch) -> np.ndarray[Any, np.dtype[np.bool_]]:
    return np.ones(len(batch.group), dtype=bool)


@attrs.frozen
class MostRecent(ScoringPolicy):
    """The most recently observed value wins; values of unknown time rank last."""

    name: ClassVar[str] = "most_recent"
    always_eligible: ClassVar[bool] = True

    def scores(
        self, candidates: Sequence[Candidate], context: PolicyContext
    ) -> list[Score | None]:
        """Score = observation time in microseconds (unknown = -inf)."""
        return [(NEG_INF if (t := c.observed_us) is None else float(t),) for c in candidates]

    def score_columns(
        self, batch: ColumnBatch
    ) -> tuple[list[np.ndarray[Any, np.dtype[np.float64]]], np.ndarray[Any, np.dtype[np.bool_]]]:
        """Vectorised :meth:`scores`."""
        t = np.where(np.isnan(batch.observed_us), NEG_INF, batch.observed_us)
        return [t], _all(batch)


@attrs.frozen
class Earliest(ScoringPolicy):
    """The earliest observed value wins (e.g. ``created_at``); unknown times rank last."""

    name: ClassVar[str] = "earliest"
    always_eligible: ClassVar[bool] = True

    def scores(
        self, candidates: Sequence[Candidate], context: PolicyContext
    ) -> list[Score | None]:
        """Score = minus the observation time (unknown = -inf)."""
        return [(NEG_INF if (t := c.observed_us) is None else -float(t),) for c in candidates]

    def score_columns(
        self, batch: ColumnBatch
    ) -> tuple[list[np.ndarray[Any, np.dtype[np.float64]]], np.ndarray[Any, np.dtype[np.bool_]]]:
        """Vectorised :meth:`scores`."""
        t = np.where(np.isnan(batch.observed_us), NEG_INF, -batch.observed_us)
        return [t], _all(batch)


@attrs.frozen
class MostFrequent(ScoringPolicy):
    """The value held by the most records wins (equal keys count as one value)."""

    name: ClassVar[str] = "most_frequent"
    always_eligible: ClassVar[bool] = True

    def scores(
        self, candidates: Sequence[Candidate], context: PolicyContext
    ) -> list[Score | None]:
        """Score = number of valid candidates of the field sharing the key."""
        counts = Counter(c.key for c in context.candidates)
        return [(float(counts[c.key]),) for c in candidates]

    def score_columns(
        self, batch: ColumnBatch
    ) -> tuple[list[np.ndarray[Any, np.dtype[np.float64]]], np.ndarray[Any, np.dtype[np.bool_]]]:
        """Vectorised :meth:`scores` (counts per group and key among valid rows)."""
        n_keys = int(batch.key_code.max(initial=-1)) + 1
        pair = batch.group * max(n_keys, 1) + batch.key_code
        pair = np.where(batch.valid, pair, -1)
        _, inverse, counts = np.unique(pair, return_inverse=True, return_counts=True)
        freq = counts[inverse.ravel()].astype(np.float64)
        return [np.where(batch.valid, freq, 0.0)], _all(batch)


@attrs.frozen
class SourcePriority(ScoringPolicy):
    """The value from the most trusted source wins; unlisted sources are not eligible.

    Args:
        ranking: Source systems, most trusted first; empty means the rules' ``source_priority``.
    """

    name: ClassVar[str] = "source_priority"
    ranking: tuple[str, ...] = attrs.field(default=(), converter=tuple)

    def _rank(self, source: str, priority: Sequence[str]) -> float | None:
        ranking = self.ranking or tuple(priority)
        return -float(ranking.index(source)) if source in ranking else None

    def scores(
        self, candidates: Sequence[Candidate], context: PolicyContext
    ) -> list[Score | None]:
        """Score = minus the source's place in the ranking; None when unlisted."""
        out: list[Score | None] = []
        for c in candidates:
            r = self._rank(c.source_system, context.source_priority)
            out.append(None if r is None else (r,))
        return out

    def score_columns(
        self, batch: ColumnBatch
    ) -> tuple[list[np.ndarray[Any, np.dtype[np.float64]]], np.ndarray[Any, np.dtype[np.bool_]]]:
        """Vectorised :meth:`scores`."""
        r = batch.per_source(lambda s: self._rank(s, batch.source_priority))
        return [np.nan_to_num(r, nan=NEG_INF)], ~np.isnan(r)


def _length(value: Any) -> float:
    if isinstance(value, str):
        return float(len(value.strip()))
    if isinstance(value, (list, tuple, set, frozenset, Mapping)):
        return float(len(value))
    return float(len(str(value)))


@attrs.frozen
class Longest(ScoringPolicy):
    """The most complete value wins: the longest text (stripped), the largest collection."""

    name: ClassVar[str] = "longest"
    always_eligible: ClassVar[bool] = True

    def scores(
        self, candidates: Sequence[Candidate], context: PolicyContext
    ) -> list[Score | None]:
        """Score = length of the value."""
        return [(_length(c.value),) for c in candidates]

    def score_columns(
        self, batch: ColumnBatch
    ) -> tuple[list[np.ndarray[Any, np.dtype[np.float64]]], np.ndarray[Any, np.dtype[np.bool_]]]:
        """Vectorised :meth:`scores`."""
        return [np.nan_to_num(batch.per_value(_length, "length"), nan=NEG_INF)], _all(batch)


#: Joins the values of a field group into one candidate value (ASCII unit separator).
GROUP_SEPARATOR = "\x1f"


def join_group(values: Sequence[Any]) -> str | None:
    """One text value for a record's field group (missing parts empty); None when all are
    missing.

    Example:
        >>> join_group(["1 Main St", None, "Leeds"]) == "1 Main St\x1f\x1fLeeds"
        True
    """
    parts = [None if is_missing(v) else str(v) for v in values]
    if all(p is None for p in parts):
        return None
    return GROUP_SEPARATOR.join(p or "" for p in parts)


def group_parts(value: Any, size: int) -> list[str | None]:
    """The parts of a :func:`join_group` value (empty parts None); ``size`` Nones for None."""
    if not isinstance(value, str):
        return [None] * size
    parts = value.split(GROUP_SEPARATOR)
    return [p or None for p in parts] + [None] * (size - len(parts))


def _completeness(value: Any) -> float:
    if isinstance(value, str):
        return float(sum(1 for p in value.split(GROUP_SEPARATOR) if p.strip()))
    if isinstance(value, (list, tuple, set, frozenset)):
        return float(sum(1 for v in value if not is_missing(v)))
    return 0.0 if is_missing(value) else 1.0


@attrs.frozen
class MostComplete(ScoringPolicy):
    """The value with the most parts present wins: for a field group (:class:`FieldGroup`), the
    record holding most of the group's fields; for a collection, the most non-missing items."""

    name: ClassVar[str] = "most_complete"
    always_eligible: ClassVar[bool] = True

    def scores(
        self, candidates: Sequence[Candidate], context: PolicyContext
    ) -> list[Score | None]:
        """Score = number of parts present."""
        return [(_completeness(c.value),) for c in candidates]

    def score_columns(
        self, batch: ColumnBatch
    ) -> tuple[list[np.ndarray[Any, np.dtype[np.float64]]], np.ndarray[Any, np.dtype[np.bool_]]]:
        """Vectorised :meth:`scores`."""
        return [np.nan_to_num(batch.per_value(_completeness, "complete"), nan=NEG_INF)], _all(
            batch
        )


def _kind_converter(kind: ValueKind) -> Callable[[Any], float | None]:
    return _to_number if kind == "number" else parse_time_us


def _check_kind(_inst: object, _attr: object, value: str) -> None:
    if value not in ("number", "text", "date"):
        raise SurvivorshipError(f"kind must be 'number', 'text' or 'date', not {value!r}")


def _text_ranks(values: Iterable[Any]) -> dict[str, float]:
    distinct = sorted({str(v) for v in values})
    return {v: float(i) for i, v in enumerate(distinct)}


@attrs.frozen
class _Extreme(ScoringPolicy):
    kind: ValueKind = attrs.field(default="number", validator=_check_kind)
    sign: ClassVar[float] = 1.0

    def scores(
        self, candidates: Sequence[Candidate], context: PolicyContext
    ) -> list[Score | None]:
        if self.kind == "text":
            ranks = _text_ranks(c.value for c in candidates)
            return [(self.sign * ranks[str(c.value)],) for c in candidates]
        convert = _kind_converter(self.kind)
        out: list[Score | None] = []
        for c in candidates:
            x = convert(c.value)
            out.append(None if x is None else (self.sign * x,))
        return out

    def score_columns(
        self, batch: ColumnBatch
    ) -> tuple[list[np.ndarray[Any, np.dtype[np.float64]]], np.ndarray[Any, np.dtype[np.bool_]]]:
        if self.kind == "text":
            ranks = _text_ranks(batch.values)
            x = batch.per_value(lambda v: ranks[str(v)], "text")
        elif self.kind == "date":
            x = batch.times()
        else:
            x = batch.per_value(_to_number, "number")
        ok = ~np.isnan(x)
        return [np.where(ok, self.sign * x, NEG_INF)], ok


@attrs.frozen
class Highest(_Extreme):
    """The highest value wins.

    Args:
        kind: ``"number"`` (values parsed as numbers; others are not eligible), ``"date"``
            (parsed as dates / times) or ``"text"`` (compared as text).
    """

    name: ClassVar[str] = "highest"
    sign: ClassVar[float] = 1.0


@attrs.frozen
class Lowest(_Extreme):
    """The lowest value wins (``kind`` as for :class:`Highest`)."""

    name: ClassVar[str] = "lowest"
    sign: ClassVar[float] = -1.0


@attrs.frozen
class FirstNonNull(ScoringPolicy):
    """The first value present in a fixed order: source order, then earliest observed.

    Unlike :class:`SourcePriority`, unlisted sources stay eligible (after the listed ones), so the
    policy yields a value whenever any record has one.

    Args:
        sources: Source order; empty means the rules' ``source_priority``.
    """

    name: ClassVar[str] = "first_non_null"
    always_eligible: ClassVar[bool] = True
    sources: tuple[str, ...] = attrs.field(default=(), converter=tuple)

    def _rank(self, source: str, priority: Sequence[str]) -> float:
        order = self.sources or tuple(priority)
        return -float(order.index(source)) if source in order else -float(len(order))

    def scores(
        self, candidates: Sequence[Candidate], context: PolicyContext
    ) -> list[Score | None]:
        """Score = (minus the source place, minus the observation time)."""
        return [
            (
                self._rank(c.source_system, context.source_priority),
                NEG_INF if (t := c.observed_us) is None else -float(t),
            )
            for c in candidates
        ]

    def score_columns(
        self, batch: ColumnBatch
    ) -> tuple[list[np.ndarray[Any, np.dtype[np.float64]]], np.ndarray[Any, np.dtype[np.bool_]]]:
        """Vectorised :meth:`scores`."""
        r = batch.per_source(lambda s: self._rank(s, batch.source_priority))
        t = np.where(np.isnan(batch.observed_us), NEG_INF, -batch.observed_us)
        return [r, t], _all(batch)


def _positive_timedelta(_inst: object, _attr: object, value: dt.timedelta) -> None:
    if not isinstance(value, dt.timedelta) or value <= dt.timedelta(0):
        raise SurvivorshipError(f"half_life must be a positive timedelta, not {value!r}")


def _as_of(value: dt.datetime) -> dt.datetime:
    if not isinstance(value, dt.datetime):
        raise SurvivorshipError(f"as_of must be a datetime, not {value!r}")
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


def _trust_table(value: Mapping[str, float]) -> tuple[tuple[str, float], ...]:
    items = tuple(sorted((str(k), float(v)) for k, v in dict(value).items()))
    for source, trust in items:
        if not 0.0 <= trust <= 1.0:
            raise SurvivorshipError(f"trust of source {source!r} must be in [0, 1], not {trust}")
    return items


@attrs.frozen
class TrustDecay(ScoringPolicy):
    """Source trust that fades with the age of the value: ``trust * 0.5 ** (age / half_life)``.

    ``age`` is ``as_of`` minus the observation time (never negative); a value of unknown time
    scores 0. The clock is always the explicit ``as_of``, never the wall clock.

    Args:
        trust: Source system to trust in [0, 1].
        half_life: Age at which a value's trust has halved.
        as_of: The time the ages are measured at (naive = UTC).
        default_trust: Trust of unlisted sources; None makes them ineligible.
    """

    name: ClassVar[str] = "trust_decay"
    trust: tuple[tuple[str, float], ...] = attrs.field(converter=_trust_table)
    half_life: dt.timedelta = attrs.field(validator=_positive_timedelta)
    as_of: dt.datetime = attrs.field(converter=_as_of)
    default_trust: float | None = None

    def _trust(self, source: str) -> float | None:
        return dict(self.trust).get(source, self.default_trust)

    def _decay(self, trust: float, observed_us: float | None) -> float:
        if observed_us is None:
            return 0.0
        now = float(to_microseconds(self.as_of) or 0)
        age_s = max(0.0, now - observed_us) / 1e6
        return float(trust * 0.5 ** (age_s / self.half_life.total_seconds()))

    def scores(
        self, candidates: Sequence[Candidate], context: PolicyContext
    ) -> list[Score | None]:
        """Score = decayed trust; None for sources without trust."""
        out: list[Score | None] = []
        for c in candidates:
            trust = self._trust(c.source_system)
            t = c.observed_us
            out.append(None if trust is None else (self._decay(trust, None if t is None else t),))
        return out

    def score_columns(
        self, batch: ColumnBatch
    ) -> tuple[list[np.ndarray[Any, np.dtype[np.float64]]], np.ndarray[Any, np.dtype[np.bool_]]]:
        """Vectorised :meth:`scores`."""
        trust = batch.per_source(self._trust)
        now = float(to_microseconds(self.as_of) or 0)
        age_s = np.maximum(0.0, now - batch.observed_us) / 1e6
        decayed = trust * 0.5 ** (age_s / self.half_life.total_seconds())
        decayed = np.where(np.isnan(batch.observed_us), 0.0, decayed)
        ok = ~np.isnan(trust)
        return [np.where(ok, decayed, NEG_INF)], ok


PolicyFunction = Callable[[Sequence[Candidate]], "Candidate | Sequence[Candidate] | None"]


@attrs.frozen
class FunctionPolicy:
    """A policy from a plain function of the candidates.

    The function gets the candidates (a sequence of :class:`Candidate`) and returns the winner,
    the best few, or None / an empty sequence when it has no opinion. It must return candidates
    it was given.

    Args:
        function: The function.
        label: Name recorded in lineage (the function's name by default).

    Example:
        >>> shortest = FunctionPolicy(lambda cs: min(cs, key=lambda c: len(str(c.value))))
        >>> shortest.name
        '<lambda>'
    """

    function: PolicyFunction
    label: str | None = None

    @property
    def name(self) -> str:
        """The label, or the function's name."""
        return self.label or str(getattr(self.function, "__name__", "custom"))

    def select(
        self, candidates: Sequence[Candidate], context: PolicyContext
    ) -> Sequence[Candidate]:
        """Call the function and check that it returned candidates it was given."""
        result = self.function(candidates)
        if result is None:
            return []
        chosen = [result] if isinstance(result, Candidate) else list(result)
        given = {id(c) for c in candidates}
        for c in chosen:
            if id(c) not in given:
                raise SurvivorshipError(
                    f"policy {self.name!r} on field {context.field!r} returned {c!r}, which is "
                    "not one of its candidates"
                )
        return chosen


@attrs.frozen
class Aggregate:
    """Union of the values of every record (emails, phones, tags, memberships), sorted.

    Text values are split on ``separator``; collections are flattened. Items with equal keys are
    kept once (the smallest raw item). The golden value is a sorted tuple (joined with
    ``separator + " "`` in tables).

    Args:
        separator: Splits text values into items; None keeps text whole.
    """

    name: ClassVar[str] = "aggregate"
    separator: str | None = ";"

    def items(self, value: Any) -> list[Any]:
        """Split one value into its items."""
        if isinstance(value, str):
            parts = value.split(self.separator) if self.separator else [value]
            return [p.strip() for p in parts if p.strip()]
        if isinstance(value, (list, tuple, set, frozenset)):
            out: list[Any] = []
            for v in value:
                out.extend(self.items(v))
            return out
        return [value]

    def join(self, items: Sequence[Any]) -> str:
        """Join items into one text cell."""
        sep = f"{self.separator} " if self.separator and self.separator.strip() else " "
        return sep.join(str(i) for i in items)
