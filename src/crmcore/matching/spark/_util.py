"""Small Spark helpers shared by the Spark runner: quiet pandas warnings, indexes, Arrow I/O."""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import numpy as np
import numpy.typing as npt

#: Warnings pyspark raises with pandas >= 3 that say nothing about crmcore's results.
_PANDAS3_MESSAGES = (
    r"PySpark does not yet fully support pandas >= 3\.0\.0",
    r"The copy keyword is deprecated",
)


@contextmanager
def quiet() -> Iterator[None]:
    """Silence pyspark's pandas-3 compatibility warnings (known and harmless) inside the block."""
    with warnings.catch_warnings():
        for message in _PANDAS3_MESSAGES:
            warnings.filterwarnings("ignore", message=message)
        yield


def consecutive_index(df: Any, name: str) -> Any:
    """``df`` with a column ``name`` numbering its rows 0..n-1 (see :func:`counted_index`)."""
    return counted_index(df, name)[0]


def counted_index(df: Any, name: str) -> tuple[Any, int]:
    """``df`` with a column ``name`` numbering its rows 0..n-1 in the DataFrame's order, and n.

    ``monotonically_increasing_id`` holds the partition in its high bits and the position in
    the partition in its low 33 bits; one small job counts the rows per partition, and the
    offsets turn the ids into consecutive numbers (what ``zipWithIndex`` does, without leaving
    the JVM). The numbered input is checkpointed so both passes see the same rows.
    """
    from pyspark.sql import functions as sf

    mid = "__crm_mid"
    with_id = df.withColumn(mid, sf.monotonically_increasing_id()).localCheckpoint(eager=True)
    part = sf.shiftright(sf.col(mid), 33)
    counts = sorted(
        (int(r[0]), int(r[1])) for r in with_id.groupBy(part.alias("p")).count().collect()
    )
    offsets: list[tuple[int, int]] = []
    total = 0
    for p, c in counts:
        offsets.append((p, total))
        total += c
    spark = df.sparkSession
    if not offsets:
        return with_id.withColumn(name, sf.lit(0).cast("long")).drop(mid), 0
    off = spark.createDataFrame(offsets, "__crm_p long, __crm_off long")
    low = sf.col(mid).bitwiseAND(sf.lit((1 << 33) - 1))
    numbered = (
        with_id.join(sf.broadcast(off), part == sf.col("__crm_p"))
        .withColumn(name, sf.col("__crm_off") + low)
        .drop(mid, "__crm_p", "__crm_off")
    )
    return numbered, total


def from_numpy(spark: Any, columns: Mapping[str, npt.NDArray[Any]], schema: str) -> Any:
    """A Spark DataFrame from numpy columns (through Arrow)."""
    import pyarrow as pa

    table = pa.table({k: pa.array(np.asarray(v)) for k, v in columns.items()})
    with quiet():
        if hasattr(spark, "createDataFrame") and _accepts_arrow(spark):
            return spark.createDataFrame(table, schema)
        return spark.createDataFrame(table.to_pandas(), schema)


def _accepts_arrow(spark: Any) -> bool:
    import pyspark

    major = int(pyspark.__version__.split(".", 1)[0])
    return major >= 4


def arrow_columns(df: Any) -> dict[str, npt.NDArray[Any]]:
    """Collect a (small) DataFrame to the driver as numpy columns, through Arrow."""
    with quiet():
        if hasattr(df, "toArrow"):
            table = df.toArrow()
            return {name: table.column(name).to_numpy() for name in table.column_names}
        pdf = df.toPandas()
    return {name: pdf[name].to_numpy() for name in pdf.columns}
