"""Golden records of a matched table written to files: what ``crmcore dedupe --golden`` does.

:func:`write_golden` maps the source columns onto the preset's canonical fields (the same schema
mapping matching used), builds every entity's golden record with :func:`golden_records` and
writes two files: the golden table at ``out`` (``entity_id``, ``record_ids``, ``n_records``, then
the fields) and the lineage table next to it (:func:`lineage_path`: ``golden.csv`` ->
``golden.lineage.csv``), one row per entity and field with the winning record, source, policy,
tie-breaker, number of candidates / rejected values and whether the sources conflicted.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import attrs

from crmcore.errors import FieldProblem, SurvivorshipError
from crmcore.io import Table, write_table
from crmcore.survivorship.bulk import golden_records
from crmcore.survivorship.policies import SurvivorshipRules
from crmcore.survivorship.presets import preset_rules

__all__ = ["lineage_path", "write_golden"]


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
    from crmcore.matching import apply_mapping

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
    columns = {"record_id": list(ids), **columns}
    chosen = attrs.evolve(chosen, ignore=chosen.ignore | dropped)
    observed = _observed_column(columns, table.column_names, observed_column, mapping, preset)
    golden, lineage = golden_records(
        Table(columns), list(entity_ids), chosen, singleton_lineage=True,
        observed_column=observed or "updated_at",
    )
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
        from crmcore.matching.api import apply_mapping

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
