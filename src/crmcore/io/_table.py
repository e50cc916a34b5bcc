"""Columnar table of text values, and its readers and writers."""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

from crmcore.errors import DataInputError, require

__all__ = ["Table", "read_table", "to_table", "write_table"]

Cell = str | None


def _cell(value: object) -> Cell:
    """Turn any scalar into text, with empty / NaN / None as None."""
    if value is None:
        return None
    if isinstance(value, str):
        return value if value.strip() else None
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace") or None
    text = str(value)
    if text in {"NaT", "nan", "<NA>"}:
        return None
    return text


def _check_columns(columns: Mapping[str, Sequence[Cell]]) -> None:
    lengths = {name: len(col) for name, col in columns.items()}
    if len(set(lengths.values())) > 1:
        raise DataInputError(f"columns differ in length: {lengths}")


@attrs.frozen
class Table:
    """Equally long columns of ``str | None`` keyed by column name, in source order.

    Args:
        columns: Column name to list of values; empty strings are stored as ``None``.
    """

    columns: dict[str, list[Cell]] = attrs.field(validator=lambda _i, _a, v: _check_columns(v))

    @property
    def n_rows(self) -> int:
        """Number of rows."""
        return len(next(iter(self.columns.values()))) if self.columns else 0

    @property
    def column_names(self) -> list[str]:
        """Column names in source order."""
        return list(self.columns)

    def column(self, name: str) -> list[Cell]:
        """Return one column.

        Raises:
            DataInputError: If the column does not exist.
        """
        try:
            return self.columns[name]
        except KeyError:
            raise DataInputError(f"no column {name!r}; the table has {self.column_names}") from None

    def rows(self) -> Iterator[dict[str, Cell]]:
        """Iterate the rows as dicts (column name -> value)."""
        names = self.column_names
        for values in zip(*(self.columns[n] for n in names), strict=True):
            yield dict(zip(names, values, strict=True))

    def __len__(self) -> int:
        return self.n_rows

    def __repr__(self) -> str:
        from crmcore.display import table_text

        return table_text(self.columns, self.n_rows)

    def _repr_html_(self) -> str:
        from crmcore.display import table_html

        return table_html(self.columns, self.n_rows)

    def to_arrow(self) -> Any:
        """A ``pyarrow.Table`` of string columns (``pip install 'crmcore[parquet]'``)."""
        pa = require("pyarrow", "parquet", "Table.to_arrow")
        return pa.table({n: pa.array(c, type=pa.string()) for n, c in self.columns.items()})

    def to_pandas(self) -> Any:
        """A ``pandas.DataFrame`` of ``object`` columns, ``None`` kept (``crmcore[pandas]``)."""
        pd = require("pandas", "pandas", "Table.to_pandas")
        return pd.DataFrame({n: pd.Series(c, dtype=object) for n, c in self.columns.items()})

    def to_polars(self) -> Any:
        """A ``polars.DataFrame`` of string columns (``pip install 'crmcore[polars]'``)."""
        pl = require("polars", "polars", "Table.to_polars")
        return pl.DataFrame({n: pl.Series(n, c, dtype=pl.String) for n, c in self.columns.items()})

    @classmethod
    def from_records(cls, records: Iterable[Mapping[str, object]]) -> Table:
        """Build a table from mappings; missing keys become ``None``, column order is first seen."""
        rows = [dict(r) for r in records]
        names: dict[str, None] = {}
        for row in rows:
            for key in row:
                names.setdefault(str(key), None)
        columns = {n: [_cell(r.get(n)) for r in rows] for n in names}
        return cls(columns)

    @classmethod
    def from_columns(cls, columns: Mapping[str, Iterable[object]]) -> Table:
        """Build a table from columns of any scalars (converted to text)."""
        return cls({str(k): [_cell(v) for v in col] for k, col in columns.items()})


def _from_arrow(table: Any) -> Table:
    out: dict[str, list[Cell]] = {}
    for name in table.column_names:
        col = table.column(name)
        out[str(name)] = [_cell(v) for v in col.to_pylist()]
    return Table(out)


def to_table(data: object) -> Table:
    """Turn a table-like object into a :class:`Table`.

    Accepts a :class:`Table`, a pandas or polars DataFrame, a pyarrow Table, a mapping of columns,
    or an iterable of mappings (rows).

    Raises:
        DataInputError: If the object is none of these.
    """
    if isinstance(data, Table):
        return data
    module = type(data).__module__
    if module.startswith("pandas"):
        frame: Any = data
        return Table.from_columns({str(c): frame[c].tolist() for c in frame.columns})
    if module.startswith("polars"):
        frame = data
        return Table.from_columns({str(c): frame.get_column(c).to_list() for c in frame.columns})
    if module.startswith("pyarrow"):
        return _from_arrow(data)
    if isinstance(data, Mapping):
        return Table.from_columns(data)
    if isinstance(data, Iterable) and not isinstance(data, (str, bytes)):
        return Table.from_records(data)
    raise DataInputError(f"cannot read a table from {type(data).__name__}")


def _is_parquet(path: Path) -> bool:
    return path.suffix.lower() in {".parquet", ".pq"}


def read_table(source: str | os.PathLike[str] | object, *, delimiter: str | None = None) -> Table:
    """Read a CSV or Parquet file (by extension), or convert a table-like object.

    CSV is read as UTF-8 (a BOM is accepted); the delimiter is sniffed among ``, ; | TAB`` unless
    given. Parquet needs the ``parquet`` extra (pyarrow). Every value is kept as text.

    Args:
        source: A path, or anything :func:`to_table` accepts.
        delimiter: CSV delimiter; sniffed when None.

    Returns:
        The table.

    Raises:
        DataInputError: If the file is missing, empty or malformed.
        MissingDependencyError: For Parquet without pyarrow.
    """
    if not isinstance(source, (str, os.PathLike)):
        return to_table(source)
    path = Path(source)
    if not path.exists():
        raise DataInputError(f"no such file: {path}")
    if _is_parquet(path):
        pq = require("pyarrow.parquet", "parquet", "reading Parquet files")
        try:
            return _from_arrow(pq.read_table(path))
        except Exception as exc:
            raise DataInputError(f"cannot read Parquet file {path}: {exc}") from exc
    return _read_csv(path, delimiter)


def _read_csv(path: Path, delimiter: str | None) -> Table:
    with path.open("r", encoding="utf-8-sig", newline="") as fh:
        sample = fh.read(65536)
        fh.seek(0)
        if not sample.strip():
            raise DataInputError(f"{path} is empty")
        if delimiter is None:
            try:
                delimiter = csv.Sniffer().sniff(sample, delimiters=",;|\t").delimiter
            except csv.Error:
                delimiter = ","
        reader = csv.reader(fh, delimiter=delimiter)
        try:
            header = next(reader)
        except StopIteration:
            raise DataInputError(f"{path} has no header row") from None
        names = [h.strip() or f"column_{i + 1}" for i, h in enumerate(header)]
        if len(set(names)) != len(names):
            dupes = sorted({n for n in names if names.count(n) > 1})
            raise DataInputError(f"{path}: duplicate column names {dupes}")
        cols: list[list[Cell]] = [[] for _ in names]
        width = len(names)
        for lineno, row in enumerate(reader, start=2):
            if not row:
                continue
            if len(row) > width:
                extra = [v for v in row[width:] if v.strip()]
                if extra:
                    raise DataInputError(
                        f"{path}:{lineno}: {len(row)} values for {width} columns "
                        f"({extra[:3]!r} ...)"
                    )
            for i in range(width):
                v = row[i] if i < len(row) else ""
                cols[i].append(v if v.strip() else None)
    return Table(dict(zip(names, cols, strict=True)))


def write_table(
    table: Table | Mapping[str, Sequence[object]], path: str | os.PathLike[str]
) -> None:
    """Write a table (or a mapping of columns) to CSV or Parquet, chosen by extension.

    Raises:
        MissingDependencyError: For Parquet without pyarrow.
    """
    t = table if isinstance(table, Table) else Table.from_columns(table)
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    if _is_parquet(out):
        pa = require("pyarrow", "parquet", "writing Parquet files")
        pq = require("pyarrow.parquet", "parquet", "writing Parquet files")
        arrow = pa.table({n: pa.array(c, type=pa.string()) for n, c in t.columns.items()})
        pq.write_table(arrow, out)
        return
    with out.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(t.column_names)
        writer.writerows(zip(*(t.columns[n] for n in t.column_names), strict=True))
