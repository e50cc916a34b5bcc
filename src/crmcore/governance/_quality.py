"""Data-quality metrics: completeness, validity, duplicate rate and freshness of a table.

:func:`quality_report` measures a :class:`~crmcore.io.Table` (or anything
:func:`~crmcore.io.to_table` reads):

* completeness per field: share of rows with a value;
* validity per field with a validator: share of *filled* values the validator accepts (validators
  run once per distinct value);
* duplicate rate: ``1 - entities / rows`` from the entity id of each row: a column, a sequence,
  a mapping ``record id -> entity id`` (``MatchIndex.entities()``), a
  :class:`crmcore.matching.MatchResult` (governance does not run matching itself);
* freshness: age of a date column at ``now`` (median and oldest, in days) and the share of rows
  older than ``stale_after_days`` (rows without a date count as stale).

:func:`format_quality_report` renders the plain-text table that ``crmcore validate`` can print.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import attrs

from crmcore.conditions import to_datetime
from crmcore.io import Table, to_table
from crmcore.normalize import normalize_column

Validator = str | Callable[[str], bool]
"""A normalizer name (valid = the normalizer accepts the value) or a ``value -> bool`` function."""

DEFAULT_VALIDATORS: Mapping[str, Validator] = {
    "email": "email",
    "phone": "phone",
    "mobile": "phone",
    "country": "country",
    "dob": "date",
    "created_at": "datetime",
    "updated_at": "datetime",
}
"""Validators used by default, by column name: :mod:`crmcore.normalize` normalizers."""


def _validity(check: Validator, values: list[str]) -> dict[str, bool]:
    if isinstance(check, str):
        out = normalize_column(check, values)
        return {v: o is not None for v, o in zip(values, out, strict=True)}
    return {v: bool(check(v)) for v in values}


@attrs.frozen
class FieldQuality:
    """Quality figures of one field.

    Args:
        field: Column name.
        rows: Number of rows.
        filled: Rows with a value.
        distinct: Distinct values.
        valid: Filled values the validator accepted (None without a validator).
    """

    field: str
    rows: int
    filled: int
    distinct: int
    valid: int | None = None

    @property
    def completeness(self) -> float:
        """Share of rows with a value (1.0 for an empty table)."""
        return self.filled / self.rows if self.rows else 1.0

    @property
    def validity(self) -> float | None:
        """Share of filled values that are valid (None without a validator)."""
        if self.valid is None:
            return None
        return self.valid / self.filled if self.filled else 1.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly dict."""
        return {
            "field": self.field,
            "rows": self.rows,
            "filled": self.filled,
            "distinct": self.distinct,
            "valid": self.valid,
            "completeness": self.completeness,
            "validity": self.validity,
        }


@attrs.frozen
class Freshness:
    """Age of a date column.

    Args:
        field: Column used.
        dated: Rows with a readable date.
        median_age_days: Median age in days (None without dates).
        max_age_days: Oldest age in days (None without dates).
        stale_after_days: Threshold for stale rows.
        stale: Rows older than the threshold, plus rows without a date.
        rows: Number of rows.
    """

    field: str
    dated: int
    median_age_days: float | None
    max_age_days: float | None
    stale_after_days: float
    stale: int
    rows: int

    @property
    def stale_rate(self) -> float:
        """Share of stale rows."""
        return self.stale / self.rows if self.rows else 0.0


@attrs.frozen
class QualityReport:
    """Data-quality figures of a table.

    Args:
        rows: Number of rows.
        fields: Per-field figures, in column order.
        entities: Number of distinct entities (None without entity ids).
        freshness: Freshness figures (None when the date column is absent).
    """

    rows: int
    fields: tuple[FieldQuality, ...]
    entities: int | None = None
    freshness: Freshness | None = None

    @property
    def duplicate_rate(self) -> float | None:
        """``1 - entities / rows``: the share of rows that duplicate another row's entity."""
        if self.entities is None:
            return None
        return 1.0 - self.entities / self.rows if self.rows else 0.0

    def field(self, name: str) -> FieldQuality:
        """Figures of one field."""
        for f in self.fields:
            if f.field == name:
                return f
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly dict."""
        return {
            "rows": self.rows,
            "fields": [f.to_dict() for f in self.fields],
            "entities": self.entities,
            "duplicate_rate": self.duplicate_rate,
            "freshness": None
            if self.freshness is None
            else {**attrs.asdict(self.freshness), "stale_rate": self.freshness.stale_rate},
        }


def _entity_ids(table: Table, entity_ids: object, id_field: str) -> list[Any]:
    from_result = getattr(entity_ids, "entity_ids", None)
    if isinstance(from_result, list):  # a crmcore.matching.MatchResult
        entity_ids = from_result
    elif callable(getattr(entity_ids, "entities", None)):  # a crmcore.matching.MatchIndex
        entity_ids = entity_ids.entities()  # type: ignore[attr-defined]
    if isinstance(entity_ids, str):
        return list(table.column(entity_ids))
    if isinstance(entity_ids, Mapping):
        ids = table.column(id_field)
        # rows the clustering did not cover are their own entity
        return [
            entity_ids.get(i, ("row", n)) if i is not None else ("row", n)
            for n, i in enumerate(ids)
        ]
    if not isinstance(entity_ids, Sequence):
        raise TypeError(f"entity_ids: cannot read entity ids from {type(entity_ids).__name__}")
    values = list(entity_ids)
    if len(values) != table.n_rows:
        raise ValueError(f"entity_ids has {len(values)} values for {table.n_rows} rows")
    return values


def quality_report(
    table: object,
    *,
    fields: Sequence[str] | None = None,
    validators: Mapping[str, Validator] | None = None,
    entity_ids: object = None,
    id_field: str = "record_id",
    freshness_field: str = "updated_at",
    stale_after_days: float = 365.0,
    now: datetime | None = None,
) -> QualityReport:
    """Measure completeness, validity, duplicate rate and freshness of a table.

    Args:
        table: A :class:`~crmcore.io.Table` or anything :func:`~crmcore.io.to_table` reads.
        fields: Columns to measure (default: all).
        validators: Column -> normalizer name or ``value -> bool`` (default:
            :data:`DEFAULT_VALIDATORS` for the columns they name). Each runs once per distinct
            value.
        entity_ids: Entity of each row: a column name, a sequence aligned with the rows, a
            mapping ``record id -> entity id`` (rows it lacks are their own entity), a
            ``crmcore.matching.MatchResult`` or a ``crmcore.matching.MatchIndex``.
        id_field: Record id column (for a mapping of entity ids).
        freshness_field: Date column for freshness (skipped when absent).
        stale_after_days: Age after which a row is stale.
        now: Reference time (default: now, UTC).

    Returns:
        A :class:`QualityReport`.

    Example:
        >>> r = quality_report({"email": ["a@x.com", "bad", None], "id": ["1", "2", "3"]},
        ...                    entity_ids=["e1", "e1", "e2"])
        >>> r.field("email").completeness, r.field("email").validity, round(r.duplicate_rate, 3)
        (0.6666666666666666, 0.5, 0.333)
    """
    t = to_table(table)
    when = now if now is not None else datetime.now(UTC)
    checks = dict(DEFAULT_VALIDATORS if validators is None else validators)
    names = list(fields) if fields is not None else t.column_names
    out: list[FieldQuality] = []
    for name in names:
        column = t.column(name)
        filled = [v for v in column if v is not None]
        distinct = set(filled)
        valid: int | None = None
        check = checks.get(name)
        if check is not None:
            ok = _validity(check, sorted(distinct))
            valid = sum(ok[v] for v in filled)
        out.append(FieldQuality(name, t.n_rows, len(filled), len(distinct), valid))
    entities = None
    if entity_ids is not None:
        entities = len(
            {
                e if e is not None else ("row", n)
                for n, e in enumerate(_entity_ids(t, entity_ids, id_field))
            }
        )
    freshness = None
    if freshness_field in t.columns:
        cache: dict[str, datetime | None] = {}
        ages: list[float] = []
        for value in t.column(freshness_field):
            if value is None:
                continue
            if value not in cache:
                d = to_datetime(value)
                cache[value] = d if d is None or d.tzinfo else d.replace(tzinfo=UTC)
            d = cache[value]
            if d is not None:
                ages.append((when - d).total_seconds() / 86400.0)
        stale = sum(a > stale_after_days for a in ages) + (t.n_rows - len(ages))
        freshness = Freshness(
            freshness_field,
            len(ages),
            statistics.median(ages) if ages else None,
            max(ages) if ages else None,
            stale_after_days,
            stale,
            t.n_rows,
        )
    return QualityReport(t.n_rows, tuple(out), entities, freshness)


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def format_quality_report(report: QualityReport, *, fields: bool = True) -> str:
    """Plain-text rendering (what ``crmcore validate`` prints).

    Args:
        report: The report.
        fields: Include the per-field table (``False``: only rows, duplicate rate and
            freshness, for a command that prints per-field figures itself).
    """
    lines = [f"rows: {report.rows}"]
    if fields:
        width = max([len(f.field) for f in report.fields] + [5])
        lines.append(f"{'field':<{width}}  complete  valid    distinct")
        lines.extend(
            f"{f.field:<{width}}  {_pct(f.completeness):>8}  {_pct(f.validity):>7}  {f.distinct:>8}"
            for f in report.fields
        )
    if report.entities is not None:
        lines.append(f"entities: {report.entities}  duplicate rate: {_pct(report.duplicate_rate)}")
    if report.freshness is not None:
        fr = report.freshness
        median = "-" if fr.median_age_days is None else f"{fr.median_age_days:.0f} days"
        lines.append(
            f"freshness ({fr.field}): median age {median}, "
            f"stale (> {fr.stale_after_days:g} days or undated) {_pct(fr.stale_rate)}"
        )
    return "\n".join(lines)
