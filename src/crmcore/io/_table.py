"""Columnar table of text values, and its readers and writers."""

from __future__ import annotations

import csv
import io
import json
import math
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

from crmcore.errors import DataInputError, require
from crmcore.io._csv import MAX_CELL, ReadReport, decode_bytes, parse_csv_text, parses_strictly
from crmcore.io._output import atomic_output

__all__ = ["Table", "read_table", "read_table_report", "to_table", "write_table"]

Cell = str | None


def _cell(value: object) -> Cell:
    """Turn any scalar into text, with empty / NaN / None as None.

    A whole float is written without its ``.0`` (a phone stored as ``5551234.0`` is
    ``5551234``); a list is its items joined with ``"; "``; a mapping is JSON.
    """
    if value is None:
        return None
    if isinstance(value, str):
        return value if value.strip() else None
    if isinstance(value, float):
        if math.isnan(value):
            return None
        if value.is_integer() and abs(value) < 1e16:
            return str(int(value))
        return repr(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace") or None
    if isinstance(value, (list, tuple)):
        items = [c for c in (_cell(v) for v in value) if c is not None]
        return "; ".join(items) or None
    if isinstance(value, Mapping):
        return json.dumps(dict(value), ensure_ascii=False, default=str, sort_keys=True)
    if hasattr(value, "tolist") and not isinstance(value, (int, bool)):  # numpy arrays, scalars
        return _cell(value.tolist())
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
    """Text columns of a pyarrow table; struct columns become one column per field
    (``address.street``), lists ``"a; b"``."""
    import pyarrow as pa

    while any(pa.types.is_struct(f.type) for f in table.schema):
        table = table.flatten()
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


def read_table(
    source: str | os.PathLike[str] | object,
    *,
    delimiter: str | None = None,
    encoding: str | None = None,
    strict: bool = False,
    max_cell: int = MAX_CELL,
) -> Table:
    """Read a CSV or Parquet file (by extension), or convert a table-like object.

    CSV bytes are decoded with ``encoding``, else the encoding a BOM names, else UTF-8 when
    they are valid UTF-8, else the detected encoding (``charset_normalizer``). The delimiter is
    sniffed among ``, ; | TAB`` unless given. Every data row of the file is in the table: rows
    with an unbalanced quote, too few or too many values, or a cell over ``max_cell``
    characters are kept (see :func:`read_table_report` for the report) unless ``strict``.
    Parquet needs the ``parquet`` extra (pyarrow). Every value is kept as text.

    Args:
        source: A path, or anything :func:`to_table` accepts.
        delimiter: CSV delimiter; sniffed when None.
        encoding: CSV encoding (any Python codec name); detected when None.
        strict: Raise on any problem row instead of keeping it.
        max_cell: Longest cell (characters) read without a report.

    Returns:
        The table.

    Raises:
        DataInputError: If the file is missing, empty or malformed (strict: any problem row).
        MissingDependencyError: For Parquet without pyarrow.
    """
    return read_table_report(
        source, delimiter=delimiter, encoding=encoding, strict=strict, max_cell=max_cell
    )[0]


def read_table_report(
    source: str | os.PathLike[str] | object,
    *,
    delimiter: str | None = None,
    encoding: str | None = None,
    strict: bool = False,
    max_cell: int = MAX_CELL,
) -> tuple[Table, ReadReport]:
    """:func:`read_table`, also returning what reading found (:class:`ReadReport`).

    Example:
        >>> import pathlib, tempfile
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "x.csv"
        >>> _ = path.write_bytes(b'id,name\\n1,"Ann\\n2,Bob\\n3\\n')
        >>> table, report = read_table_report(path)
        >>> table.column("id"), report.rows_in, report.rows_reported
        (['1', '2', '3'], 3, 2)
    """
    if not isinstance(source, (str, os.PathLike)):
        table = to_table(source)
        return table, ReadReport("<data>", "", False, "", table.n_rows)
    path = Path(source)
    if not path.exists():
        raise DataInputError(f"no such file: {path}")
    if path.is_dir():
        raise DataInputError(f"{path} is a directory, not a file")
    if _is_parquet(path):
        pq = require("pyarrow.parquet", "parquet", "reading Parquet files")
        try:
            table = _from_arrow(pq.read_table(path))
        except Exception as exc:
            raise DataInputError(f"cannot read Parquet file {path}: {exc}") from exc
        return table, ReadReport(str(path), "parquet", False, "", table.n_rows)
    table, report = _read_csv(path, delimiter, encoding, max_cell)
    if strict and report.problems:
        shown = "; ".join(str(p) for p in report.problems[:5])
        more = len(report.problems) - 5
        raise DataInputError(
            f"{path}: {report.rows_reported:,} of {report.rows_in:,} rows have problems "
            f"(strict mode): {shown}" + (f"; ... {more:,} more" if more > 0 else "")
        )
    return table, report


_DELIMITERS = ",;|\t"


def _header_delimiter(text: str, guess: str) -> str:
    """The delimiter when the guess does not split the header (one column under it): another
    candidate in the header is taken first, and of those in the file, the first with which
    the file parses as well-formed CSV (the delimiter decides where quoted values start, so a
    wrong guess can fold rows into one value; the sniffer reads only the first 64 KiB, which
    one long value can fill)."""
    header = text.split("\n", 1)[0].split("\r", 1)[0]
    if guess in header:
        return guess
    named = [d for d in _DELIMITERS if d in header]
    rest = [d for d in _DELIMITERS if d not in named and d != guess and d in text]
    for d in (*named, guess, *rest):
        if parses_strictly(io.StringIO(text, newline=""), d):
            return d
    return named[0] if named else guess


def _read_csv(
    path: Path, delimiter: str | None, encoding: str | None, max_cell: int
) -> tuple[Table, ReadReport]:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DataInputError(f"cannot read {path}: {exc.strerror or exc}") from None
    text, used, detected = decode_bytes(data, encoding, str(path))
    sample = text[:65536]
    if not sample.strip():
        raise DataInputError(f"{path} is empty")
    if delimiter is None:
        try:
            delimiter = csv.Sniffer().sniff(sample, delimiters=_DELIMITERS).delimiter
        except csv.Error:
            delimiter = ","
        delimiter = _header_delimiter(text, delimiter)
    names, cols, report = parse_csv_text(
        text, path=str(path), delimiter=delimiter, max_cell=max_cell, encoding=used,
        detected=detected,
    )
    return Table(dict(zip(names, cols, strict=True))), report


def write_table(
    table: Table | Mapping[str, Sequence[object]], path: str | os.PathLike[str]
) -> None:
    """Write a table (or a mapping of columns) to CSV or Parquet, chosen by extension.

    The file is written atomically: to a temporary file next to it, renamed over ``path``
    once complete, so a failure leaves no partial output (and an existing file unchanged).

    Raises:
        DataInputError: If the file cannot be written (a directory, no permission ...).
        MissingDependencyError: For Parquet without pyarrow.
    """
    t = table if isinstance(table, Table) else Table.from_columns(table)
    out = Path(path)
    if _is_parquet(out):
        pa = require("pyarrow", "parquet", "writing Parquet files")
        pq = require("pyarrow.parquet", "parquet", "writing Parquet files")
        arrow = pa.table({n: pa.array(c, type=pa.string()) for n, c in t.columns.items()})
        with atomic_output(out, binary=True) as fh:
            pq.write_table(arrow, fh)
        return
    with atomic_output(out) as fh:
        writer = csv.writer(fh)
        writer.writerow(t.column_names)
        writer.writerows(zip(*(t.columns[n] for n in t.column_names), strict=True))
