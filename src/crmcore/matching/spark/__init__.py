"""crmcore matching on Apache Spark (the optional extra ``crmcore[spark]``).

The same settings, presets and models as the in-process engine, with the same answers, for
tables that outgrow one machine. Normalisation, comparison levels and scores run inside Spark
through crmcore's own functions (``mapInArrow`` / ``applyInPandas`` over Arrow batches);
blocking is a join on block keys; training aggregates comparison patterns in Spark and runs
EM on the driver; clusters are connected components by large-star / small-star; stable
entity ids across runs by joins and group-bys. See
``docs/spark.md``.

Importing :mod:`crmcore.matching` never imports pyspark; this package does so lazily, when a
function runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from crmcore import compat
from crmcore.matching.spark._components import spark_connected_components
from crmcore.matching.spark._golden import spark_golden_records
from crmcore.matching.spark._runner import SparkMatchResult, spark_dedupe
from crmcore.matching.spark._stable_ids import SparkStableIds, spark_assign_stable_ids

__all__ = [
    "SparkMatchResult",
    "SparkStableIds",
    "spark_assign_stable_ids",
    "spark_connected_components",
    "spark_dedupe",
    "spark_golden_records",
]

compat.own(__name__, globals(), __all__)
if not TYPE_CHECKING:  # old names warn (type checkers see only the names above)
    __getattr__ = compat.door_getattr(__name__)
