"""Apply a schema mapping and the field normalizers to a whole table, collecting issues.

:func:`normalize_table` renames the mapped source columns to canonical fields, normalises each
canonical field with its normalizer (see :data:`FIELD_NORMALIZERS`) through the cached batch
API, and keeps every unmapped column unchanged as a custom field under its source name. No row
is dropped: a rejected value becomes ``None`` in the output and an issue
(:class:`~crmcore.errors.FieldProblem`: record, field, value, rule, reason) in the result.

The country column is normalised first; phones use each row's country as their default region
and postcodes are checked against each row's country (``default_region`` fills in rows without
a country).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from crmcore.errors import FieldProblem, SchemaMappingError
from crmcore.io import Table
from crmcore.normalize._core import Normalizer
from crmcore.normalize._registry import get_normalizer, normalize_column
from crmcore.normalize._schema import SCHEMA_PRESETS, SchemaMapping, map_schema

FIELD_NORMALIZERS: dict[str, str] = {
    "record_id": "text",
    "source_system": "text",
    "first_name": "person_name",
    "last_name": "person_name",
    "full_name": "person_name",
    "email": "email",
    "phone": "phone",
    "mobile": "phone",
    "company": "company_display",
    "title": "text",
    "website": "domain",
    "domain": "domain",
    "street": "address",
    "city": "text",
    "region": "text",
    "postcode": "postcode",
    "country": "country",
    "dob": "date",
    "lead_source": "text",
    "owner": "text",
    "created_at": "datetime",
    "updated_at": "datetime",
    "industry": "text",
    "size": "text",
    "parent": "text",
}
"""Canonical field -> registry name of the normalizer :func:`normalize_table` applies."""

_REGIONAL = {"phone": "region", "postcode": "country"}


@attrs.frozen
class FieldReport:
    """Per-field figures of one normalisation run.

    Args:
        field: Canonical field.
        source: Source column it came from.
        normalizer: Registry name of the normalizer applied.
        rows: Number of rows.
        present: Rows with a non-empty input value.
        valid: Rows with a normalised value.
        rejected: Rows whose value was rejected (each has an issue).
        changed: Rows whose normalised value differs from the input text.
    """

    field: str
    source: str
    normalizer: str
    rows: int
    present: int
    valid: int
    rejected: int
    changed: int

    @property
    def blank(self) -> int:
        """Present values that carried no information (``n/a``, ``-``, ``unknown`` ...)."""
        return self.present - self.valid - self.rejected

    @property
    def completeness(self) -> float:
        """Share of rows with a usable value (``valid / rows``)."""
        return self.valid / self.rows if self.rows else 0.0

    @property
    def validity(self) -> float:
        """Share of informative values that normalised (``valid / (valid + rejected)``)."""
        seen = self.valid + self.rejected
        return self.valid / seen if seen else 1.0

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-friendly dict (with the derived figures)."""
        out = attrs.asdict(self)
        out.update(
            blank=self.blank,
            completeness=round(self.completeness, 6),
            validity=round(self.validity, 6),
        )
        return out


@attrs.frozen
class NormalizedTable:
    """The result of :func:`normalize_table`.

    Args:
        table: Canonical fields (in canonical order) then custom columns (source names).
        issues: One problem per rejected value, in field then row order.
        changes: Canonical field -> number of values changed by normalisation.
        mapping: The schema mapping used.
        reports: Per-field figures, in canonical order.
    """

    table: Table
    issues: tuple[FieldProblem, ...]
    changes: dict[str, int]
    mapping: SchemaMapping
    reports: tuple[FieldReport, ...]

    def to_dict(self, *, max_issues: int | None = None) -> dict[str, Any]:
        """Return a JSON-friendly summary (mapping, per-field reports and issues)."""
        issues = self.issues if max_issues is None else self.issues[:max_issues]
        return {
            "rows": self.table.n_rows,
            "mapping": self.mapping.to_dict(),
            "fields": [r.to_dict() for r in self.reports],
            "changes": dict(self.changes),
            "issue_count": len(self.issues),
            "issues": [p.to_dict() for p in issues],
        }


def normalize_table(
    table: Table,
    mapping: SchemaMapping | Mapping[str, str | None] | None = None,
    *,
    preset: str = "contacts",
    region_column: str = "country",
    default_region: str | None = None,
    dayfirst: bool | None = None,
    normalizers: Mapping[str, str | Normalizer] | None = None,
) -> NormalizedTable:
    """Map a table's columns onto canonical fields and normalise every value.

    Args:
        table: The source table.
        mapping: A :class:`SchemaMapping`, or overrides for :func:`map_schema` (source column
            -> field or None), or None to map automatically.
        preset: ``"contacts"`` or ``"accounts"`` when ``mapping`` is not a SchemaMapping.
        region_column: Canonical field holding each row's country (phones, postcodes).
        default_region: Country for rows without one (ISO2 or a name).
        dayfirst: Convention of numeric dates in this source (None: unknown, ambiguous values
            are reported).
        normalizers: Canonical field -> normalizer (name or object), overriding
            :data:`FIELD_NORMALIZERS`.

    Returns:
        The :class:`NormalizedTable`.

    Raises:
        SchemaMappingError: If the mapping names a column the table does not have.
    """
    if not isinstance(mapping, SchemaMapping):
        mapping = map_schema(table.column_names, overrides=mapping, preset=preset)
    missing = [c for c in mapping.mapping if c not in table.columns]
    if missing:
        raise SchemaMappingError(f"the mapping names columns the table lacks: {missing}")
    chosen: dict[str, str | Normalizer] = {**FIELD_NORMALIZERS, **(normalizers or {})}
    n = table.n_rows
    by_field = {field: source for source, field in mapping.mapping.items()}
    id_source = by_field.get("record_id")
    record_ids: list[object] = (
        [v if v is not None else str(i) for i, v in enumerate(table.column(id_source))]
        if id_source is not None
        else [str(i) for i in range(n)]
    )
    order = [f for f in SCHEMA_PRESETS[mapping.preset][0] if f in by_field]
    if region_column in order:  # countries first: phones and postcodes use them
        order.remove(region_column)
        order.insert(0, region_column)
    out: dict[str, list[str | None]] = {}
    issues: list[FieldProblem] = []
    reports: dict[str, FieldReport] = {}
    regions: list[str | None] | None = None
    for field in order:
        source = by_field[field]
        values = table.column(source)
        normalizer = get_normalizer(chosen.get(field, "text"))
        options: dict[str, Any] = {}
        if normalizer.name in {"date", "datetime"}:
            options["dayfirst"] = dayfirst
        row_options = None
        option_name = _REGIONAL.get(normalizer.name)
        if option_name is not None:
            if regions is not None:
                row_options = {
                    option_name: [r if r is not None else default_region for r in regions]
                }
            elif default_region is not None:
                options[option_name] = default_region
        field_issues: list[FieldProblem] = []
        result = normalize_column(
            normalizer,
            values,
            row_options=row_options,
            issues=field_issues,
            field=field,
            record_ids=record_ids,
            **options,
        )
        if field == region_column:
            regions = result
        out[field] = result
        issues.extend(field_issues)
        present = sum(v is not None for v in values)
        valid = sum(v is not None for v in result)
        changed = sum(1 for v, r in zip(values, result, strict=True) if r is not None and r != v)
        reports[field] = FieldReport(
            field, source, normalizer.name, n, present, valid, len(field_issues), changed
        )
    canonical = [f for f in SCHEMA_PRESETS[mapping.preset][0] if f in out]
    columns: dict[str, list[str | None]] = {f: out[f] for f in canonical}
    for source in mapping.unmapped:
        name = source if source not in columns else f"source:{source}"
        columns[name] = list(table.column(source))
    return NormalizedTable(
        table=Table(columns),
        issues=tuple(sorted(issues, key=lambda p: canonical.index(p.field))),
        changes={f: reports[f].changed for f in canonical},
        mapping=mapping,
        reports=tuple(reports[f] for f in canonical),
    )
