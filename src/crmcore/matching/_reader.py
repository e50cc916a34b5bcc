"""Reading records for a matching job: only the columns the job reads (Parquet column-selectively
with pyarrow, CSV through :func:`crmcore.io.read_table`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from crmcore.io import Table
from crmcore.io._arrow import arrow_to_table
from crmcore.matching._presets import get_preset
from crmcore.matching._settings import MatchSettings
from crmcore.normalize import apply_mapping, column_renames


def resolve_settings(
    table: Table, preset: str | None, settings: MatchSettings | None
) -> MatchSettings:
    if settings is not None:
        return settings
    return get_preset(preset or "contacts", table.column_names)


def needed_columns(
    column_names: Sequence[str],
    *,
    id_column: str | None = None,
    preset: str | None = None,
    settings: MatchSettings | None = None,
    mapping: Mapping[str, str] | None = None,
) -> list[str]:
    """Source columns a dedupe / link job reads (the id column and the columns the settings
    read after mapping), in source order."""
    empty = Table({name: [] for name in column_names})
    schema = (preset or "contacts") if settings is None else None
    mapped = apply_mapping(empty, mapping, preset=schema)
    chosen = resolve_settings(mapped, preset, settings)
    renames = column_renames(list(column_names), mapping, preset=schema)
    wanted = set(chosen.columns)
    return [
        name for name in column_names
        if name == id_column or renames.get(name, name) in wanted
    ]


def _coded(meta: Any, keep: Sequence[str], id_column: str | None) -> list[str]:
    """Text columns (not the id) the Parquet file stores as dictionaries throughout, judged by
    their size: under 4 bytes a value (indices of at most 32 bits plus the dictionary; a column
    whose dictionary overflowed stores its strings). Read as dictionaries they need not be
    hashed again; a wrongly judged column is only slower, never different."""
    kinds = {str(field.name): str(field.type) for field in meta.schema.to_arrow_schema()}
    sizes: dict[str, int] = {}
    for group in range(meta.num_row_groups):
        row_group = meta.row_group(group)
        for i in range(row_group.num_columns):
            chunk = row_group.column(i)
            sizes[chunk.path_in_schema] = sizes.get(chunk.path_in_schema, 0) + int(
                chunk.total_uncompressed_size
            )
    rows = max(int(meta.num_rows), 1)
    return [
        name for name in keep
        if name != id_column and kinds.get(name) in ("string", "large_string")
        and sizes.get(name, 4 * rows) < 4 * rows
    ]


def read_records(
    path: str | os.PathLike[str],
    *,
    id_column: str | None = None,
    preset: str | None = None,
    settings: MatchSettings | None = None,
    mapping: Mapping[str, str] | None = None,
) -> Table:
    """Read a CSV or Parquet file for a matching job, keeping only the columns the job reads.

    Parquet files are read column-selectively with pyarrow and converted to text in bulk
    (blank strings become missing, as :func:`crmcore.io.read_table` does); CSV files are read
    with :func:`crmcore.io.read_table` and then narrowed.
    """
    from crmcore.io import read_table

    source = Path(path)
    if source.suffix.lower() not in {".parquet", ".pq"} or not source.exists():
        table = read_table(source)
        keep = needed_columns(
            table.column_names, id_column=id_column, preset=preset, settings=settings,
            mapping=mapping,
        )
        return Table({k: table.columns[k] for k in keep})
    from crmcore.errors import require

    pq = require("pyarrow.parquet", "parquet", "reading Parquet files")
    meta = pq.ParquetFile(source).metadata
    schema = meta.schema.to_arrow_schema()
    names = [str(n) for n in schema.names]
    keep = needed_columns(
        names, id_column=id_column, preset=preset, settings=settings, mapping=mapping
    )
    arrow = pq.read_table(source, columns=keep, read_dictionary=_coded(meta, keep, id_column))
    return arrow_to_table(arrow, plain=() if id_column is None else (id_column,))
