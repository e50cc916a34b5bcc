"""Golden records per entity on Spark: ``applyInPandas`` over the in-process columnar path.

Rows are grouped into buckets by a hash of their entity id (every entity falls in one bucket),
and each bucket runs the in-process columnar :func:`~crmcore.survivorship.golden_records`, so
the golden record of an entity is exactly what the in-process path gives.
"""

from __future__ import annotations

from typing import Any

from crmcore.io import Table
from crmcore.matching.spark._util import quiet
from crmcore.survivorship import GOLDEN_COLUMNS, SurvivorshipRules, golden_records


def _text(values: Any) -> list[str | None]:
    """Cells of a pandas column as text (pandas >= 3 gives NaN for missing strings)."""
    import pandas as pd

    return [None if v is None or pd.isna(v) else str(v) for v in values]


def _table(pdf: Any, columns: list[str]) -> Table:
    return Table({c: _text(pdf[c].tolist()) for c in columns})


def spark_golden_records(
    records: Any,
    rules: SurvivorshipRules,
    *,
    entity_column: str = "entity_id",
    id_column: str = "record_id",
    source_column: str = "source_system",
    observed_column: str = "updated_at",
    buckets: int | None = None,
) -> Any:
    """The golden record of every entity of a Spark DataFrame of source records.

    Args:
        records: Spark DataFrame of source records with an entity id column (e.g. the
            ``entities`` of :func:`~crmcore.matching.spark.spark_dedupe` joined back on the id).
        rules: Survivorship rules.
        entity_column: Column of entity ids.
        id_column: Column of record ids (unique).
        source_column: Column naming each record's source system.
        observed_column: Column of each record's observation time (ISO text).
        buckets: Number of groups handed to ``applyInPandas`` (default: the shuffle partitions).

    Returns:
        DataFrame of golden records: ``entity_id``, ``record_ids``, ``n_records`` and every
        carried column (text), one row per entity.
    """
    from pyspark.sql import functions as sf

    fields = [c for c in records.columns if c != entity_column]
    data = records.select(
        sf.col(entity_column).cast("string").alias("__crm_entity"),
        *[sf.col(c).cast("string").alias(c) for c in fields],
    )
    # The output columns: run the in-process function on one record.
    sample = data.limit(1).collect()
    probe = Table({c: [sample[0][c] if sample else "x"] for c in fields})
    golden, _ = golden_records(
        probe, ["e"], rules, source_column=source_column, observed_column=observed_column,
        id_column=id_column,
    )
    out_columns = golden.column_names
    ddl = ", ".join(
        f"`{c}` long" if c == "n_records" else f"`{c}` string" for c in out_columns
    )
    n_buckets = buckets or int(records.sparkSession.conf.get("spark.sql.shuffle.partitions"))

    def run(pdf: Any) -> Any:
        import pandas as pd

        table = _table(pdf, fields)
        entity_ids = _text(pdf["__crm_entity"].tolist())
        g, _ = golden_records(
            table, entity_ids, rules, source_column=source_column,
            observed_column=observed_column, id_column=id_column,
        )
        cols: dict[str, Any] = {c: g.column(c) for c in out_columns}
        cols["n_records"] = [int(v) if v is not None else 0 for v in cols["n_records"]]
        return pd.DataFrame(cols, columns=out_columns)

    assert "n_records" in GOLDEN_COLUMNS
    bucket = sf.pmod(sf.xxhash64("__crm_entity"), sf.lit(n_buckets))
    with quiet():
        return data.groupBy(bucket.alias("__crm_bucket")).applyInPandas(run, ddl)
