"""A local Spark session for the Spark runner's tests (skipped only where Java is missing)."""

from __future__ import annotations

import os
import shutil
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from crmcore.io import Table

ROOT = Path(__file__).resolve().parents[2]

#: pyspark's pandas-3 compatibility warnings (pytest turns warnings into errors); the tests
#: that call pyspark's pandas conversions use them as ``pytestmark``.
PANDAS3_WARNINGS = [
    pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas:FutureWarning"),
    pytest.mark.filterwarnings("ignore:The copy keyword is deprecated"),
]


def _java() -> str | None:
    home = os.environ.get("JAVA_HOME")
    if home and (Path(home) / "bin" / "java").exists():
        return str(Path(home) / "bin" / "java")
    return shutil.which("java")


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    """``local[2]`` session, 4 shuffle partitions, no UI; shared by every Spark test."""
    if _java() is None:
        pytest.skip("Java is not installed (set JAVA_HOME or put java on PATH): Spark needs a JVM")
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas")
        from pyspark.sql import SparkSession

        session = (
            SparkSession.builder.master("local[2]")
            .appName("crmcore-tests")
            .config("spark.ui.enabled", "false")
            .config("spark.sql.shuffle.partitions", "4")
            .config("spark.default.parallelism", "4")
            .config("spark.driver.memory", "1g")
            .config("spark.sql.execution.arrow.pyspark.enabled", "true")
            .config("spark.sql.adaptive.enabled", "true")
            .getOrCreate()
        )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


def to_spark(spark: Any, table: Any) -> Any:
    """A Spark DataFrame of a :class:`crmcore.io.Table` (all columns text), via Arrow."""
    import pyarrow as pa

    arrow = pa.table({c: pa.array(table.column(c), type=pa.string()) for c in table.column_names})
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas")
        try:
            return spark.createDataFrame(arrow)
        except TypeError:  # pyspark < 4 takes pandas, not Arrow
            return spark.createDataFrame(arrow.to_pandas())


def contacts(n: int, seed: int) -> Table:
    """Synthetic CRM contacts (``benchmarks/synth.py``) without the truth column."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import synth
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    table = synth.generate_contacts(n, seed=seed)
    return Table({c: table.column(c) for c in table.column_names if c != "entity_id"})


@pytest.fixture(scope="session")
def runs(spark: Any) -> tuple[Table, Any, Any]:
    """1,500 contacts deduplicated in-process and on Spark (shared by the Spark tests)."""
    from crmcore.matching import dedupe
    from crmcore.matching.spark import spark_dedupe

    table = contacts(1_500, seed=11)
    local = dedupe(table, id_column="record_id")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas")
        warnings.filterwarnings("ignore", message="The copy keyword is deprecated")
        remote = spark_dedupe(to_spark(spark, table), id_column="record_id")
    return table, local, remote
