"""The Spark runner clusters with the pooled method as in-process does (the same function per
bucket of link components, ties by record id)."""

from __future__ import annotations

from typing import Any

import attrs
import numpy as np

from crmcore.matching import ClusterOptions, dedupe, get_preset
from crmcore.matching.spark import spark_dedupe
from tests.spark.conftest import PANDAS3_WARNINGS, to_spark

pytestmark = PANDAS3_WARNINGS


def test_pooled_clusters_and_entity_ids(spark: Any, runs: Any) -> None:
    """Contacts with a given model, pooled down to p 0.05: Spark (link components in Spark, the
    pooled method and the vetoes per bucket) finds the in-process entities, which differ from
    the components of the links at the threshold."""
    small, local, _ = runs
    preset = get_preset("contacts", small.column_names)
    pooled = attrs.evolve(preset, cluster=ClusterOptions(
        method="pooled", pool_threshold=0.05, pool_weak_share=0.0))
    want = dedupe(small, id_column="record_id", settings=pooled, model=local.model)
    plain = dedupe(small, id_column="record_id", model=local.model,
                   settings=attrs.evolve(preset, cluster=ClusterOptions(method="components")))
    assert want.entity_ids != plain.entity_ids  # pooling changed something here
    assert want.cut_links  # and vetoed pairs were kept apart after pooling
    got = spark_dedupe(to_spark(spark, small), id_column="record_id", settings=pooled,
                       model=local.model, local_edges=0)
    rows = got.entities.orderBy("row").collect()
    assert [r["entity_id"] for r in rows] == want.entity_ids
    assert np.array_equal([r["label"] for r in rows], want.labels)
