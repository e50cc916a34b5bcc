"""Adapters between the outside world and crmcore's columnar tables.

A :class:`Table` is a set of equally long columns of ``str | None`` (CRM exports are text; typing
happens in normalisation and the model). Read one from CSV or Parquet files, from iterables of
mappings, or from pandas / polars / pyarrow tables; write one back to CSV or Parquet.

Example:
    >>> t = Table.from_records([{"id": "1", "email": "A@x.com"}, {"id": "2", "email": ""}])
    >>> t.n_rows, t.column("email")
    (2, ['A@x.com', None])
"""

from crmcore.io._table import Table, read_table, to_table, write_table

__all__ = ["Table", "read_table", "to_table", "write_table"]
