"""Adapters between the outside world and crmcore's columnar tables.

A :class:`Table` is a set of equally long columns of ``str | None`` (CRM exports are text; typing
happens in normalisation and the model). Read one from CSV or Parquet files, from iterables of
mappings, or from pandas / polars / pyarrow tables; write one back to CSV or Parquet.

CSV files are decoded with a given or detected encoding, and every data row is accounted for:
:func:`read_table_report` returns the :class:`ReadReport` (rows in, rows with problems, why).
Outputs are written atomically; :func:`check_outputs` refuses unsafe outputs before a job runs.

Example:
    >>> t = Table.from_records([{"id": "1", "email": "A@x.com"}, {"id": "2", "email": ""}])
    >>> t.n_rows, t.column("email")
    (2, ['A@x.com', None])
"""

from __future__ import annotations

from crmcore import compat
from crmcore.io._csv import MAX_CELL, ReadReport, RowProblem
from crmcore.io._output import atomic_output, check_outputs
from crmcore.io._table import Table, read_table, read_table_report, to_table, write_table

__all__ = [
    "MAX_CELL",
    "ReadReport",
    "RowProblem",
    "Table",
    "atomic_output",
    "check_outputs",
    "read_table",
    "read_table_report",
    "to_table",
    "write_table",
]

compat.own(__name__, globals(), __all__)
