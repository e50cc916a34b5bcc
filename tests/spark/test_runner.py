"""The Spark runner gives the same answers as the in-process engine on the same input."""

from __future__ import annotations

from typing import Any

import attrs
import numpy as np
import pytest

from crmcore.errors import PairBudgetExceeded
from crmcore.io import Table
from crmcore.matching import ClusterOptions, dedupe, get_preset
from crmcore.matching.spark import SparkMatchResult, spark_dedupe
from tests.spark.conftest import PANDAS3_WARNINGS, to_spark

pytestmark = PANDAS3_WARNINGS


def spark_pairs(result: SparkMatchResult) -> dict[str, np.ndarray]:
    rows = result.pairs.orderBy("left_row", "right_row").collect()
    names = ["left_row", "right_row", "match_weight", "probability", "rule", "left_id",
             "right_id", *[c.name for c in result.model.comparisons]]
    return {k: np.array([r[k] for r in rows]) for k in names}


def test_same_candidate_pairs_and_blocking_analysis(runs: Any) -> None:
    _, local, remote = runs
    got = spark_pairs(remote)
    assert remote.analysis == local.analysis
    assert np.array_equal(got["left_row"], local.pairs.left)
    assert np.array_equal(got["right_row"], local.pairs.right)
    assert got["left_id"].tolist() == [local.ids[i] for i in local.pairs.left.tolist()]
    assert got["right_id"].tolist() == [local.ids[i] for i in local.pairs.right.tolist()]


def test_same_model(runs: Any) -> None:
    _, local, remote = runs
    a, b = local.model, remote.model
    assert b.prior == pytest.approx(a.prior, rel=1e-9)
    for ma, mb, ua, ub in zip(a.m, b.m, a.u, b.u, strict=True):
        assert np.allclose(ma, mb, rtol=1e-9, atol=1e-12)
        assert np.allclose(ua, ub, rtol=1e-9, atol=1e-12)
    assert a.tf.keys() == b.tf.keys()
    for key, tf in a.tf.items():
        assert dict(tf.counts) == dict(b.tf[key].counts)
        assert tf.total == b.tf[key].total
        assert tf.agreement == pytest.approx(b.tf[key].agreement, rel=1e-12)


def test_same_levels_and_scores(runs: Any) -> None:
    _, local, remote = runs
    got = spark_pairs(remote)
    for j, comp in enumerate(local.model.comparisons):
        assert np.array_equal(got[comp.name], local.pairs.levels[:, j]), comp.name
    assert np.allclose(got["match_weight"], local.pairs.match_weight, rtol=1e-9, atol=1e-9)
    assert np.allclose(got["probability"], local.pairs.probability, rtol=1e-9, atol=1e-12)
    assert np.array_equal(got["rule"], local.pairs.rule)


def test_same_clusters_and_entity_ids(runs: Any) -> None:
    _, local, remote = runs
    rows = remote.entities.orderBy("row").collect()
    assert [r["id"] for r in rows] == local.ids
    assert [r["entity_id"] for r in rows] == local.entity_ids
    assert np.array_equal([r["label"] for r in rows], local.labels)
    sizes = np.bincount(local.labels, minlength=len(local.labels))[local.labels]
    assert [r["cluster_size"] for r in rows] == sizes.tolist()
    assert local.n_entities < local.n_records  # the data has duplicates to find


def test_given_model_components_and_threshold(spark: Any, runs: Any) -> None:
    table, local, _ = runs
    small = Table({c: v[:400] for c, v in table.columns.items()})
    settings = attrs.evolve(
        get_preset("contacts", small.column_names), cluster=ClusterOptions(method="components")
    )
    want = dedupe(small, id_column="record_id", settings=settings, model=local.model,
                  threshold=0.5)
    got = spark_dedupe(to_spark(spark, small), id_column="record_id", settings=settings,
                       model=local.model, threshold=0.5, local_edges=0)
    assert got.model is local.model
    pairs = spark_pairs(got)
    assert np.allclose(pairs["match_weight"], want.pairs.match_weight, rtol=1e-9, atol=1e-9)
    rows = got.entities.orderBy("row").collect()
    assert [r["entity_id"] for r in rows] == want.entity_ids


def test_guarded_split_does_not_depend_on_row_order(spark: Any) -> None:
    """A chain of six records whose two weakest links weigh the same, rows in reverse id
    order: Spark cuts the chain where in-process does (equally weak links dropped in the
    order of their records' ids, not their rows)."""
    from tests.matching.realtime.test_guarded_index import LONG_CHAIN, MODEL, guarded_settings

    rows = list(reversed(LONG_CHAIN))
    table = Table({c: [r[c] for r in rows] for c in rows[0]})
    settings = guarded_settings(ClusterOptions())
    want = dedupe(table, id_column="record_id", settings=settings, model=MODEL)
    assert 1 < want.n_entities < 6  # the split cuts the chain once
    got = spark_dedupe(to_spark(spark, table), id_column="record_id", settings=settings,
                       model=MODEL, local_edges=0)
    found = got.entities.orderBy("row").collect()
    assert [r["entity_id"] for r in found] == want.entity_ids


def test_pair_budget_guard(spark: Any, runs: Any) -> None:
    table, _, _ = runs
    small = Table({c: v[:120] for c, v in table.columns.items()})
    settings = attrs.evolve(get_preset("contacts", small.column_names), max_pairs=5)
    with pytest.raises(PairBudgetExceeded, match="over the budget of 5"):
        dedupe(small, id_column="record_id", settings=settings)
    with pytest.raises(PairBudgetExceeded, match="over the budget of 5"):
        spark_dedupe(to_spark(spark, small), id_column="record_id", settings=settings)


def companies(n_orgs: int, seed: int) -> Table:
    """A name-only organisation list (``benchmarks/synth.py``) without the truth column."""
    import sys

    from tests.spark.conftest import ROOT

    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import synth
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    table = synth.generate_companies(n_orgs, seed=seed)
    return Table({c: table.column(c) for c in ("record_id", "company")})


@pytest.fixture(scope="module")
def company_runs(spark: Any) -> tuple[Table, Any, Any]:
    """A name-only company list (with a word common enough to pass the rare-word block cap)
    deduplicated in-process and on Spark with the accounts preset."""
    table = companies(300, seed=5)
    local = dedupe(table, id_column="record_id", preset="accounts")
    remote = spark_dedupe(to_spark(spark, table), id_column="record_id", preset="accounts")
    return table, local, remote


class TestNameOnlyList:
    """A name-only organisation list: no EM session can estimate the name comparison, so m
    comes from the rare-word anchor in both engines."""

    def test_a_block_is_over_the_cap(self, company_runs: Any) -> None:
        """The list has a word held by more records than the rare-word rule's block cap (so
        the cap decides pairs), and the in-process model took its m from the anchor."""
        from crmcore.matching import prepare_frame

        table, local, _ = company_runs
        rule = next(r for r in local.settings.blocking if r.max_block_size is not None)
        frame, _ = prepare_frame(table, local.settings)
        _, keys = attrs.evolve(rule, max_block_size=None).keys(frame)
        assert np.bincount(keys).max() > rule.max_block_size
        assert "sharing a rare word" in local.model.report.notes[0]

    def test_same_candidate_pairs(self, company_runs: Any) -> None:
        """Spark blocking drops the blocks over ``max_block_size`` as in-process does."""
        _, local, remote = company_runs
        got = spark_pairs(remote)
        assert remote.analysis == local.analysis
        assert np.array_equal(got["left_row"], local.pairs.left)
        assert np.array_equal(got["right_row"], local.pairs.right)

    def test_same_m_u_and_prior(self, company_runs: Any) -> None:
        """Spark trains the in-process model: m from the same anchor pairs, u and prior."""
        _, local, remote = company_runs
        a, b = local.model, remote.model
        assert b.prior == pytest.approx(a.prior, rel=1e-9)
        for ma, mb, ua, ub in zip(a.m, b.m, a.u, b.u, strict=True):
            assert np.allclose(ma, mb, rtol=1e-9, atol=1e-12)
            assert np.allclose(ua, ub, rtol=1e-9, atol=1e-12)
        assert a.report.notes == b.report.notes

    def test_same_clusters(self, company_runs: Any) -> None:
        """Spark finds the in-process entities (with duplicates to find)."""
        _, local, remote = company_runs
        rows = remote.entities.orderBy("row").collect()
        assert [r["id"] for r in rows] == local.ids
        assert [r["entity_id"] for r in rows] == local.entity_ids
        assert local.n_entities < local.n_records


class TestCountByRule:
    """An adaptive rule counted between distinct names (``count_by``) on Spark."""

    @pytest.mark.parametrize("spellings", [3, 40])
    def test_used_or_skipped_as_in_process(self, spark: Any, spellings: int) -> None:
        """One big organisation in many records: with a few spellings the accounts preset's
        same-beginning rule is used (counting records would skip it), with many different
        names beginning alike it is skipped; Spark decides as in-process, with the same
        pairs."""
        names = [f"Koninklijke {'Philips' if k % spellings == 0 else f'Ph{k % spellings}'} NV"
                 for k in range(60)] + ["Akzo Nobel N.V.", "Akzo Nobel nv", "Unilever"]
        table = Table({"record_id": [f"r{k}" for k in range(len(names))], "company": names})
        local = dedupe(table, id_column="record_id", preset="accounts")
        remote = spark_dedupe(to_spark(spark, table), id_column="record_id", preset="accounts")
        rule = next(r for r in local.settings.blocking if r.count_by is not None)
        assert (rule.name in local.analysis.skipped) == (spellings == 40)
        assert remote.analysis == local.analysis
        got = spark_pairs(remote)
        assert np.array_equal(got["left_row"], local.pairs.left)
        assert np.array_equal(got["right_row"], local.pairs.right)
