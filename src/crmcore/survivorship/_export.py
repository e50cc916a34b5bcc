"""Golden records of a matched table written to files: what ``crmcore dedupe --golden`` does.

:func:`write_golden` maps the source columns onto the preset's canonical fields (the same schema
mapping matching used), builds every entity's golden record with :func:`golden_records` and
writes two files: the golden table at ``out`` (``entity_id``, ``record_ids``, ``n_records``, then
the fields) and the lineage table next to it (:func:`lineage_path`: ``golden.csv`` ->
``golden.lineage.csv``), one row per entity and field with the winning record, source, policy,
tie-breaker, number of candidates / rejected values and whether the sources conflicted, then
the winner's raw source text (``raw_value``), the losing values with their record ids
(``losers``) and the values normalisation rejected, with the reason (``rejected``).

Winners are in display form (:data:`DISPLAY_FIELDS`: dates ISO, countries ISO codes, e-mails
lower-case, phones E.164); values the normalisers reject or read as placeholders never win.
``most_recent`` reads the best time column present (:data:`TIME_COLUMNS`) or the one given.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import attrs

from crmcore.errors import FieldProblem, SurvivorshipError
from crmcore.io import Table, write_table
from crmcore.normalize import apply_mapping
from crmcore.survivorship._bulk import LINEAGE_COLUMNS, golden_records
from crmcore.survivorship._presets import preset_rules
from crmcore.survivorship._rules import SurvivorshipRules

#: Canonical fields whose golden value is the normaliser's output (its display form): dates
#: ISO 8601, countries ISO 3166 codes, e-mails lower-case, phones E.164, postcodes formatted,
#: company names cleaned. Other fields keep the source text; every field drops the values its
#: normaliser rejects or flags as placeholders (``NULL``, ``n/a``, ``test@test.com``).
DISPLAY_FIELDS = frozenset({
    "email", "phone", "mobile", "country", "dob", "birth_date", "created_at", "updated_at",
    "postcode", "company",
})
#: Columns the lineage file has after :data:`~crmcore.survivorship.LINEAGE_COLUMNS`.
LINEAGE_DETAILS = ("raw_value", "losers", "rejected")


def display_values(
    table: Table, *, preset: str = "contacts"
) -> tuple[Table, dict[tuple[str, int], str]]:
    """Golden-record input of a table in canonical fields: display forms, rejections removed.

    Every canonical field is normalised (:func:`crmcore.normalize.normalize_table`); a
    :data:`DISPLAY_FIELDS` field takes the normalised value, the others keep the source text;
    a value the normaliser rejects (or reads as a placeholder) becomes missing, so it can never
    win. Other columns are unchanged.

    Returns:
        The table, and ``(field, row) -> reason`` of every value removed.
    """
    from crmcore.normalize import FIELD_NORMALIZERS, normalize_table

    canonical = [c for c in table.column_names if c in FIELD_NORMALIZERS and c != "record_id"]
    overrides: dict[str, str | None] = {
        c: (c if c in FIELD_NORMALIZERS else None) for c in table.column_names
    }
    result = normalize_table(table, overrides, preset=preset)
    rows_of = {rid: i for i, rid in enumerate(table.column("record_id"))}
    reasons: dict[tuple[str, int], str] = {}
    for problem in result.issues:
        row = rows_of.get(problem.record) if problem.record is not None else None
        if row is not None:
            reasons[(problem.field, row)] = f"{problem.rule}: {problem.message}"
    columns = dict(table.columns)
    for field in canonical:
        if field not in result.table.columns:
            continue
        before, after = table.column(field), result.table.column(field)
        if field in DISPLAY_FIELDS:
            columns[field] = list(after)
        else:
            columns[field] = [b if a is not None else None for b, a in zip(before, after,
                                                                           strict=True)]
        for row, (b, a) in enumerate(zip(before, after, strict=True)):
            if b is not None and a is None:
                reasons.setdefault((field, row), "not a usable value (placeholder or empty)")
    return Table(columns), reasons


def _lineage_details(
    lineage: Table, raw: Table, clean: Table, entity_ids: Sequence[str | None],
    rejections: Mapping[tuple[str, int], str],
) -> Table:
    """Lineage with the winner's raw value, the losing values and the rejected values."""
    ids = raw.column("record_id")
    row_of = {rid: i for i, rid in enumerate(ids)}
    entity_of = [e if e is not None else str(r) for e, r in zip(entity_ids, ids, strict=True)]
    members: dict[str, list[int]] = {}
    for row, e in enumerate(entity_of):
        members.setdefault(e, []).append(row)
    rejected_of: dict[tuple[str, str], list[int]] = {}
    for (field, row), _reason in sorted(rejections.items(), key=lambda kv: kv[0][1]):
        rejected_of.setdefault((entity_of[row], field), []).append(row)
    cols: dict[str, list[str | None]] = {c: list(lineage.column(c)) for c in LINEAGE_COLUMNS}
    details: dict[str, list[str | None]] = {c: [] for c in LINEAGE_DETAILS}
    seen: set[tuple[str, str]] = set()
    for k in range(lineage.n_rows):
        e, field, rid = str(cols["entity_id"][k]), str(cols["field"][k]), cols["record_id"][k]
        seen.add((e, field))
        win = row_of.get(rid) if rid is not None else None
        raw_col = raw.columns.get(field)
        details["raw_value"].append(raw_col[win] if raw_col is not None and win is not None
                                    else None)
        clean_col = clean.columns.get(field)
        group = members.get(e, [])
        losers = [
            f"{clean_col[r]} ({ids[r]})" for r in group
            if clean_col is not None and r != win and clean_col[r] is not None
        ] if len(group) > 1 else []
        details["losers"].append("; ".join(losers) or None)
        bad = rejected_of.get((e, field), [])
        details["rejected"].append(_rejected_text(bad, field, raw, ids, rejections))
        if bad:
            cols["n_rejected"][k] = str(int(cols["n_rejected"][k] or 0) + len(bad))
    for (e, field), bad in rejected_of.items():  # every value of the field was rejected
        if (e, field) in seen:
            continue
        row_values = {"entity_id": e, "field": field, "policy": "none", "n_candidates": "0",
                      "n_rejected": str(len(bad)), "conflict": "false"}
        for c in LINEAGE_COLUMNS:
            cols[c].append(row_values.get(c))
        details["raw_value"].append(None)
        details["losers"].append(None)
        details["rejected"].append(_rejected_text(bad, field, raw, ids, rejections))
    return Table({**cols, **details})


def _rejected_text(
    rows: Sequence[int], field: str, raw: Table, ids: Sequence[str | None],
    rejections: Mapping[tuple[str, int], str],
) -> str | None:
    if not rows:
        return None
    return "; ".join(
        f"{raw.column(field)[r]!r} ({ids[r]}): {rejections[(field, r)]}" for r in rows
    )


def lineage_path(out: str | os.PathLike[str]) -> Path:
    """Where the lineage of golden file ``out`` goes: ``name.lineage.ext`` next to it.

    Example:
        >>> lineage_path("out/golden.parquet").as_posix()
        'out/golden.lineage.parquet'
    """
    path = Path(out)
    return path.with_name(f"{path.stem}.lineage{path.suffix or '.csv'}")


def write_golden(
    table: Table,
    ids: Sequence[str | None],
    entity_ids: Sequence[str | None],
    out: str | os.PathLike[str],
    *,
    preset: str = "contacts",
    mapping: Mapping[str, str] | None = None,
    id_column: str | None = None,
    rules: SurvivorshipRules | None = None,
    observed_column: str | None = None,
) -> str:
    """Write the golden records of a matched table and their lineage (CSV or Parquet).

    Args:
        table: The source table as read (before schema mapping).
        ids: Record id of every row (as matching saw them; unique, none missing).
        entity_ids: Entity of every row (matching's ``entity_ids``).
        out: Golden table path (``.csv`` or ``.parquet``); lineage goes to
            :func:`lineage_path`.
        preset: ``"contacts"`` or ``"accounts"``: schema mapping and default rules.
        mapping: Extra source column -> canonical field renames (as given to matching).
        id_column: The id column (not carried as a field).
        rules: Rules to use instead of the preset's.
        observed_column: The time column ``most_recent`` reads (a source or canonical name);
            default: the first of :data:`TIME_COLUMNS` present with a value.

    Returns:
        A one-line summary of what was written.

    Raises:
        SurvivorshipError: If lengths differ, or ids are missing or repeated.
    """
    if not (len(ids) == len(entity_ids) == table.n_rows):
        raise SurvivorshipError(
            f"{table.n_rows} rows, {len(ids)} ids and {len(entity_ids)} entity ids differ"
        )
    missing = [i for i, v in enumerate(ids) if v is None]
    if missing:
        raise SurvivorshipError(
            str(FieldProblem(id_column or "record_id", None, "survivorship.required",
                             f"golden records need an id on every row; row {missing[0]} has none"))
        )
    mapped = apply_mapping(table, mapping, preset=preset)
    chosen = rules if rules is not None else preset_rules(preset)
    columns = dict(mapped.columns)
    dropped = frozenset(c for c in (id_column, "record_id") if c)
    for name in dropped:
        columns.pop(name, None)
    raw = Table({"record_id": list(ids), **columns})
    clean, rejections = display_values(raw, preset=preset)
    chosen = attrs.evolve(chosen, ignore=chosen.ignore | dropped)
    observed = _observed_column(columns, table.column_names, observed_column, mapping, preset)
    golden, lineage = golden_records(
        clean, list(entity_ids), chosen, singleton_lineage=True,
        observed_column=observed or "updated_at",
    )
    lineage = _lineage_details(lineage, raw, clean, entity_ids, rejections)
    out_path = Path(out)
    lin_path = lineage_path(out_path)
    write_table(golden, out_path)
    write_table(lineage, lin_path)
    conflicts = sum(1 for c in lineage.column("conflict") if c == "true")
    when = (
        f"most_recent read {observed!r}" if observed else
        "no time column: most_recent could not decide, tie-breakers did (see tie_breaker)"
    )
    return (
        f"wrote {golden.n_rows:,} golden records to {out_path} and {lineage.n_rows:,} lineage "
        f"rows ({conflicts:,} conflicts) to {lin_path}; {when}"
    )


#: Time columns ``most_recent`` reads, best first (canonical names after schema mapping).
TIME_COLUMNS = ("updated_at", "modified", "last_modified", "last_activity", "created_at")


def _observed_column(
    columns: Mapping[str, Sequence[str | None]], source_names: Sequence[str],
    chosen: str | None, mapping: Mapping[str, str] | None, preset: str,
) -> str | None:
    """The time column of the golden run: the one asked for, else the best one present."""
    if chosen is not None:
        if chosen in columns:
            return chosen
        renamed = apply_mapping(Table({chosen: []}), mapping, preset=preset).column_names
        if chosen in source_names and renamed and renamed[0] in columns:
            return renamed[0]
        raise SurvivorshipError(
            f"--observed / observed_column {chosen!r} is not a column; "
            f"the table has {sorted(columns)}"
        )
    for name in TIME_COLUMNS:
        if any(v is not None for v in columns.get(name, ())):
            return name
    return None
