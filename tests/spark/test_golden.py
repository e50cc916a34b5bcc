"""Golden records on Spark equal the in-process columnar golden records."""

from __future__ import annotations

from typing import Any

from crmcore.matching.spark import spark_golden_records as golden_records_spark
from crmcore.survivorship import SurvivorshipRules, golden_records
from tests.spark.conftest import PANDAS3_WARNINGS, to_spark

pytestmark = PANDAS3_WARNINGS


def test_golden_records_match_in_process(spark: Any, runs: Any) -> None:
    table, local, remote = runs
    rules = SurvivorshipRules()
    want, _ = golden_records(table, local.entity_ids, rules, observed_column="created_at")
    records = to_spark(spark, table).join(
        remote.entities.select(
            remote.entities["id"].alias("record_id"), remote.entities["entity_id"]
        ),
        "record_id",
    )
    got = golden_records_spark(records, rules, observed_column="created_at", buckets=3)
    rows = sorted(got.collect(), key=lambda r: r["entity_id"])
    assert [r["entity_id"] for r in rows] == want.column("entity_id")
    assert len(rows) == local.n_entities
    for name in want.column_names:
        expected = want.column(name)
        if name == "n_records":
            expected = [int(v) for v in expected]
        assert [r[name] for r in rows] == expected, name
