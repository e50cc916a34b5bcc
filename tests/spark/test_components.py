"""Connected components on Spark (large-star / small-star) against a brute-force reference."""

from __future__ import annotations

import itertools
import random
from typing import Any

from crmcore.matching.spark import spark_connected_components as connected_components
from tests.spark.conftest import PANDAS3_WARNINGS

pytestmark = PANDAS3_WARNINGS


def brute_force(edges: list[tuple[int, int]]) -> dict[int, int]:
    """Smallest node of each node's component, by breadth-first search."""
    adjacency: dict[int, set[int]] = {}
    for a, b in edges:
        adjacency.setdefault(a, set()).add(b)
        adjacency.setdefault(b, set()).add(a)
    label: dict[int, int] = {}
    for start in sorted(adjacency):
        if start in label:
            continue
        seen, todo = {start}, [start]
        while todo:
            node = todo.pop()
            for nxt in adjacency[node]:
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        low = min(seen)
        for node in seen:
            label[node] = low
    return label


def skewed_graph(seed: int) -> list[tuple[int, int]]:
    """A random sparse graph, a big star whose hub has the LARGEST id, a long chain with
    shuffled ids, two stars joined leaf to leaf, self-loops and repeated edges."""
    rng = random.Random(seed)
    edges = [(rng.randrange(0, 200), rng.randrange(0, 200)) for _ in range(150)]
    hub = 5_000
    edges += [(hub, leaf) for leaf in range(1_000, 1_300)]
    chain = list(range(2_000, 2_050))
    rng.shuffle(chain)
    edges += list(itertools.pairwise(chain))
    edges += [(3_000, leaf) for leaf in range(3_001, 3_050)]
    edges += [(3_100, leaf) for leaf in range(3_101, 3_150)]
    edges += [(3_049, 3_149), (7, 7), (3_001, 3_000)]
    rng.shuffle(edges)
    return edges


def labels_of(result: Any) -> dict[int, int]:
    return {int(r["node"]): int(r["label"]) for r in result.collect()}


def test_matches_brute_force_on_skewed_graph_in_spark_and_on_driver(spark: Any) -> None:
    edges = skewed_graph(seed=5)
    expected = brute_force(edges)
    df = spark.createDataFrame(edges, "src long, dst long")
    in_spark = labels_of(connected_components(df, local_edges=0))
    assert in_spark == expected
    # finishing on the driver (the in-process algorithm) gives the same labels
    on_driver = labels_of(connected_components(df, local_edges=10_000))
    assert on_driver == expected
    # the star of 300 leaves is one component labelled by its smallest leaf, not by the hub
    assert in_spark[5_000] == 1_000
    assert len({in_spark[n] for n in range(2_000, 2_050)}) == 1


def test_empty_graph_and_named_columns(spark: Any) -> None:
    empty = spark.createDataFrame([], "a long, b long")
    assert connected_components(empty, src="a", dst="b").count() == 0
    pairs = spark.createDataFrame([(9, 4), (4, 2)], "a long, b long")
    assert labels_of(connected_components(pairs, src="a", dst="b")) == brute_force([(9, 4), (4, 2)])
