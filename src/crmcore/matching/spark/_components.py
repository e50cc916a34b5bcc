"""Connected components of a big graph in Spark: the large-star / small-star algorithm.

Kiveris et al., "Connected Components in MapReduce and Beyond" (SoCC 2014). Edges are kept as
``(src, dst)`` with ``src > dst``. Two operations alternate, each one group-by and one join:

* **large-star**: every node ``u`` links each larger neighbour to ``m(u)``, the smallest node of
  ``u``'s closed neighbourhood;
* **small-star**: every node ``u`` links itself and each smaller neighbour to the smallest of
  its smaller neighbours.

Both keep the components and strictly shrink a potential, so the graph becomes a forest of
stars, each node pointing to the smallest node of its component, in O(log n) rounds — whatever
the shape: a star of a million leaves (a skewed component) settles in one round, a chain halves
its depth each round. Each round is materialised (``localCheckpoint``) so the query plan stays
small. When the remaining edges fit ``local_edges``, the rest is finished on the driver with the
in-process :func:`crmcore.matching.connected_components` (same labels).

The label of a node is the smallest node id of its component, as in the in-process engine.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from crmcore.errors import MatchingConfigError
from crmcore.matching._cluster import connected_components as local_components
from crmcore.matching.spark._util import arrow_columns, from_numpy


def _canonical(edges: Any) -> Any:
    from pyspark.sql import functions as sf

    return (
        edges.select(
            sf.greatest("src", "dst").alias("src"), sf.least("src", "dst").alias("dst")
        )
        .where(sf.col("src") != sf.col("dst"))
        .distinct()
    )


def _large_star(edges: Any) -> Any:
    from pyspark.sql import functions as sf

    both = edges.select("src", "dst").unionByName(
        edges.select(sf.col("dst").alias("src"), sf.col("src").alias("dst"))
    )
    mins = both.groupBy("src").agg(sf.min("dst").alias("m"))
    mins = mins.select("src", sf.least("src", "m").alias("m"))
    return (
        both.join(mins, "src")
        .where(sf.col("dst") > sf.col("src"))
        .select(sf.col("dst").alias("src"), sf.col("m").alias("dst"))
        .distinct()
    )


def _small_star(edges: Any) -> Any:
    from pyspark.sql import functions as sf

    mins = edges.groupBy("src").agg(sf.min("dst").alias("m"))
    spokes = (
        edges.join(mins, "src")
        .select(sf.col("dst").alias("src"), sf.col("m").alias("dst"))
        .where(sf.col("src") != sf.col("dst"))
    )
    return spokes.unionByName(mins.select("src", sf.col("m").alias("dst"))).distinct()


def _converged(edges: Any) -> tuple[bool, int]:
    """Whether the edges are a forest of stars with each node pointing to one root."""
    from pyspark.sql import functions as sf

    roots_as_src = edges.select(sf.col("dst").alias("src")).distinct().join(
        edges.select("src").distinct(), "src"
    )
    stats = edges.agg(sf.count("*").alias("n"), sf.countDistinct("src").alias("k")).collect()[0]
    n, k = int(stats["n"]), int(stats["k"])
    if n != k:
        return False, n
    return roots_as_src.limit(1).count() == 0, n


def _finish_locally(edges: Any) -> Any:
    cols = arrow_columns(edges)
    src = np.asarray(cols["src"], dtype=np.int64)
    dst = np.asarray(cols["dst"], dtype=np.int64)
    nodes, inverse = np.unique(np.concatenate((src, dst)), return_inverse=True)
    inverse = inverse.reshape(-1)
    labels = local_components(len(nodes), inverse[: len(src)], inverse[len(src):])
    return from_numpy(
        edges.sparkSession,
        {"node": nodes.astype(np.int64), "label": nodes[labels].astype(np.int64)},
        "node long, label long",
    )


def spark_connected_components(
    edges: Any,
    *,
    src: str = "src",
    dst: str = "dst",
    local_edges: int = 0,
    max_rounds: int = 200,
) -> Any:
    """Label every node of an undirected graph with the smallest node of its component.

    Args:
        edges: Spark DataFrame of edges with integer node columns ``src`` and ``dst``.
        src: Name of the first node column.
        dst: Name of the second node column.
        local_edges: When the edges left to process are at most this many, collect them and
            finish on the driver (0: always finish in Spark).
        max_rounds: Safety cap on large-star / small-star rounds.

    Returns:
        DataFrame ``(node long, label long)`` with one row per node that has an edge (nodes
        without edges are their own component and are not listed).

    Raises:
        MatchingConfigError: If the algorithm did not converge within ``max_rounds``.
    """
    from pyspark.sql import functions as sf

    current = _canonical(
        edges.select(sf.col(src).cast("long").alias("src"), sf.col(dst).cast("long").alias("dst"))
    ).localCheckpoint()
    for _ in range(max_rounds):
        if local_edges > 0 and current.count() <= local_edges:
            return _finish_locally(current)
        done, _ = _converged(current)
        if done:
            return current.select(sf.col("src").alias("node"), sf.col("dst").alias("label")).union(
                current.select(sf.col("dst").alias("node"), sf.col("dst").alias("label")).distinct()
            )
        current = _small_star(_large_star(current)).localCheckpoint()
    raise MatchingConfigError(
        f"connected components did not converge in {max_rounds} rounds of large-star/small-star"
    )
