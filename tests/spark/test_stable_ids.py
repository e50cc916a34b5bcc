"""Stable ids on Spark equal the in-process ``assign_stable_ids`` (ids, report, next sequence)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crmcore.errors import ValidationError
from crmcore.matching import StableIds, assign_stable_ids
from crmcore.matching._stable_ids import format_entity_id
from crmcore.matching.spark import SparkStableIds, spark_assign_stable_ids
from tests.spark.conftest import PANDAS3_WARNINGS

pytestmark = PANDAS3_WARNINGS


def rerun(seed: int, n_old: int = 60) -> tuple[dict[str, int], dict[str, str], int]:
    """A previous assignment and a new clustering made from it by every kind of change.

    Previous entities (sizes 1-6, ids in our format with gaps, a few legacy ids) are kept,
    merged (2-3 into one), split (into parts of equal or unequal size), shrunk (records gone),
    grown (new records) or regrouped (parts of several into one); wholly new clusters and
    entities whose records are all gone are added.
    """
    rng = np.random.default_rng(seed)
    previous: dict[str, str] = {}
    groups: list[list[str]] = []
    rec = 0
    seq = 1
    for _ in range(n_old):
        seq += int(rng.integers(1, 3))
        eid = format_entity_id(seq) if rng.random() > 0.1 else f"legacy-{rng.integers(1000)}"
        while eid in previous.values():
            eid += "x"
        members = [f"r{rec + i:05d}" for i in range(int(rng.integers(1, 7)))]
        rec += len(members)
        previous.update(dict.fromkeys(members, eid))
        groups.append(members)
    new_groups: list[list[str]] = []
    loose: list[str] = []
    order = rng.permutation(len(groups)).tolist()
    while order:
        action = rng.choice(["keep", "merge", "split", "shrink", "grow", "gone", "regroup"])
        g = groups[order.pop()]
        if action == "merge" and order:
            new_groups.append(g + [r for _ in range(int(rng.integers(1, 3))) if order
                                   for r in groups[order.pop()]])
        elif action == "split" and len(g) > 1:
            cut = len(g) // 2 if rng.random() < 0.5 else int(rng.integers(1, len(g)))
            new_groups += [g[:cut], g[cut:]]
        elif action == "shrink" and len(g) > 1:
            new_groups.append(g[: int(rng.integers(1, len(g)))])
        elif action == "grow":
            extra = [f"n{rec + i:05d}" for i in range(int(rng.integers(1, 3)))]
            rec += len(extra)
            new_groups.append(g + extra)
        elif action == "gone":
            continue
        elif action == "regroup":
            loose += g
        else:
            new_groups.append(g)
    rng.shuffle(loose)
    while loose:
        k = int(rng.integers(1, 5))
        new_groups.append(loose[:k])
        loose = loose[k:]
    for _ in range(int(rng.integers(1, 8))):
        new_groups.append([f"n{rec + i:05d}" for i in range(int(rng.integers(1, 4)))])
        rec += len(new_groups[-1])
    labels = rng.permutation(len(new_groups))
    clustering = {r: int(labels[i]) for i, g in enumerate(new_groups) for r in g}
    return clustering, previous, int(rng.integers(1, seq + 20))


def on_spark(
    spark: Any, clustering: dict[str, Any], previous: dict[str, str] | None, **kwargs: Any
) -> SparkStableIds:
    entities = spark.createDataFrame(list(clustering.items()), "id string, label long")
    prev = (
        None if previous is None
        else spark.createDataFrame(list(previous.items()), "record_id string, entity_id string")
    )
    return spark_assign_stable_ids(entities, prev, previous_id_column="record_id", **kwargs)


def assert_same(got: SparkStableIds, want: StableIds) -> None:
    assert got.mapping() == want.mapping()
    assert got.report() == want.report
    assert got.next_sequence == want.next_sequence
    assert got.summary == want.report.summary()


@settings(max_examples=2, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1))
def test_rerun_equals_in_process(spark: Any, seed: int) -> None:
    clustering, previous, start = rerun(seed)
    want = assign_stable_ids(clustering, previous, next_sequence=start)
    assert want.report.merged
    assert want.report.split
    assert want.report.removed
    assert want.report.new
    assert want.report.kept
    assert_same(on_spark(spark, clustering, previous, next_sequence=start), want)


def test_grant_rounds_in_spark_equal_driver_grant(spark: Any) -> None:
    clustering, previous, start = rerun(7, n_old=80)
    want = assign_stable_ids(clustering, previous, next_sequence=start)
    got = on_spark(spark, clustering, previous, next_sequence=start, local_claims=0)
    assert_same(got, want)


def test_ties_oldest_id_and_long_sequences(spark: Any) -> None:
    previous = {"a": "E000000000007", "b": "E000000000007", "c": "E000000000003",
                "d": "E000000000003", "e": "E000000000009", "f": "E000000000009",
                "g": "E000000000009"}
    # {a,b,c,d}: 2 + 2 members, the older id 3 wins; id 7 is retired into it.
    # id 9 splits 1 + 2: the cluster holding 2 keeps it; the other gets a new id.
    clustering = {"a": 1, "b": 1, "c": 1, "d": 1, "e": 2, "f": 3, "g": 3, "h": 3}
    # Ids with 12 or more (Unicode) digits raise the next sequence; other formats do not.
    previous |= {"s1": "E0000000000123", "s2": "E000000000099", "s3": "E12",
                 "s4": "X000000000500", "s5": "E" + "\u0660" * 10 + "\u0662\u0660\u0660"}
    clustering |= {"s1": 4, "s2": 5, "s3": 5, "s4": 6, "s5": 6, "s6": 7}
    want = assign_stable_ids(clustering, previous)
    assert want.mapping()["a"] == "E000000000003"
    assert want.mapping()["f"] == "E000000000009"
    assert want.report.merged["E000000000007"] == "E000000000003"
    assert want.report.split["E000000000009"] == (want.mapping()["e"],)
    assert want.report.new[0] == "E000000000201"
    assert_same(on_spark(spark, clustering, previous), want)


def test_first_run_and_chained_runs(spark: Any) -> None:
    first_clusters = {f"r{i}": i // 3 for i in range(10)}
    want1 = assign_stable_ids(first_clusters, None, prefix="C", next_sequence=5)
    got1 = on_spark(spark, first_clusters, None, prefix="C", next_sequence=5)
    assert_same(got1, want1)
    second = {f"r{i}": i // 5 for i in range(12)}
    want2 = assign_stable_ids(second, want1.mapping(), prefix="C",
                              next_sequence=want1.next_sequence)
    got2 = on_spark(spark, second, got1.mapping(), prefix="C", next_sequence=got1.next_sequence)
    assert_same(got2, want2)


def test_repeated_record_ids_are_rejected(spark: Any) -> None:
    entities = spark.createDataFrame([("a", 1), ("a", 2), ("b", 2)], "id string, label long")
    with pytest.raises(ValidationError, match="1 missing or duplicate record ids") as info:
        spark_assign_stable_ids(entities)
    problem = info.value.problems[0]
    assert (problem.field, problem.value, problem.rule) == ("id", "a", "stable_ids.unique")
    previous = spark.createDataFrame([("a", "E1"), ("a", "E2")], "id string, entity_id string")
    ok = spark.createDataFrame([("a", 1)], "id string, label long")
    with pytest.raises(ValidationError, match="in the previous assignment"):
        spark_assign_stable_ids(ok, previous)
