"""Run-to-run comparison against a brute-force reference over sets of records."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crmcore.errors import MatchingConfigError
from crmcore.matching import EntityChange, RunComparison, compare_runs, dedupe


def run(ids: list[str | None], entities: list[str | None]) -> dict[str, list[str | None]]:
    """A run as a mapping of columns."""
    return {"record_id": ids, "entity_id": entities}


def groups(ids: list[str], entities: list[str | None]) -> dict[str, frozenset[str]]:
    """Entity name -> its records (a missing entity is the record's own, named by the id)."""
    out: dict[str, set[str]] = {}
    for rid, e in zip(ids, entities, strict=True):
        out.setdefault(e if e is not None else f"\0{rid}", set()).add(rid)
    return {k: frozenset(v) for k, v in out.items()}


def together(ids: list[str], entities: list[str | None]) -> set[frozenset[str]]:
    """Every pair of records sharing an entity."""
    pairs: set[frozenset[str]] = set()
    for members in groups(ids, entities).values():
        pairs |= {frozenset(p) for p in itertools.combinations(sorted(members), 2)}
    return pairs


@st.composite
def two_runs(draw: st.DrawFn) -> tuple[list[str], list[str | None], list[str], list[str | None]]:
    """Two runs over overlapping record sets, with unique ids and some missing entities."""
    universe = [f"r{i}" for i in range(draw(st.integers(0, 18)))]
    ids_a = draw(st.permutations(universe)).copy()
    ids_a = ids_a[: draw(st.integers(0, len(ids_a)))] if ids_a else ids_a
    ids_b = [r for r in draw(st.permutations(universe)) if draw(st.booleans()) or r in ids_a]
    names = st.sampled_from(["A", "B", "C", "D", "E", None])
    ent_a = [draw(names) for _ in ids_a]
    ent_b = [draw(names) for _ in ids_b]
    return ids_a, ent_a, ids_b, ent_b


class TestCompareRuns:
    @settings(max_examples=120, deadline=None)
    @given(two_runs())
    def test_matches_brute_force(self, case) -> None:
        """Counts, scores and changes equal a set-based reference on the common records."""
        ids_a, ent_a, ids_b, ent_b = case
        got = compare_runs(run(list(ids_a), ent_a), run(list(ids_b), ent_b))
        common = set(ids_a) & set(ids_b)
        assert got.only_before == tuple(sorted(set(ids_a) - common))
        assert got.only_after == tuple(sorted(set(ids_b) - common))
        ca = [(r, e) for r, e in zip(ids_a, ent_a, strict=True) if r in common]
        cb = [(r, e) for r, e in zip(ids_b, ent_b, strict=True) if r in common]
        ga = groups([r for r, _ in ca], [e for _, e in ca])
        gb = groups([r for r, _ in cb], [e for _, e in cb])
        assert got.entities_before == len(ga)
        assert got.entities_after == len(gb)
        identical = set(ga.values()) & set(gb.values())
        assert got.unchanged == len(identical)
        assert got.clusters.true_positives == len(identical)
        pa = together([r for r, _ in ca], [e for _, e in ca])
        pb = together([r for r, _ in cb], [e for _, e in cb])
        assert (got.pairwise.true_positives, got.pairwise.predicted, got.pairwise.actual) == (
            len(pa & pb), len(pb), len(pa))
        # every changed record is in exactly one change; unchanged entities are in none
        changed = [r for c in got.changes for r in c.record_ids]
        assert len(changed) == len(set(changed))
        assert set(changed) == common - {r for g in identical for r in g}
        for c in got.changes:
            before_sets = {ga[k] if k is not None else None for k in c.before if k is not None}
            assert all(s <= set(c.record_ids) for s in before_sets)
            n_a, n_b = len(c.before), len(c.after)
            assert c.kind == ("split" if n_a == 1 else "merged" if n_b == 1 else "regrouped")
            assert not (n_a == 1 and n_b == 1)

    @settings(max_examples=60, deadline=None)
    @given(two_runs())
    def test_same_run_is_identical(self, case) -> None:
        """A run compared with itself has no change and scores 1."""
        ids_a, ent_a, _, _ = case
        got = compare_runs(run(list(ids_a), ent_a), run(list(ids_a), ent_a))
        assert got.identical
        assert got.pairwise.f1 == 1.0
        assert got.clusters.f1 == 1.0

    def test_split_merge_regroup(self) -> None:
        """One split, one merge and one move between entities are named as such."""
        before = run(["1", "2", "3", "4", "5", "6", "7"], ["A", "A", "B", "C", "D", "D", "E"])
        after = run(["1", "2", "3", "4", "5", "6", "7"], ["X", "Y", "Z", "Z", "P", "Q", "Q"])
        got = compare_runs(before, after)
        assert [(c.kind, c.before, c.after) for c in got.changes] == [
            ("split", ("A",), ("X", "Y")),
            ("merged", ("B", "C"), ("Z",)),
            ("regrouped", ("D", "E"), ("P", "Q")),
        ]
        assert got.changes[2].cells == (
            ("D", "P", ("5",)), ("D", "Q", ("6",)), ("E", "Q", ("7",)))
        assert got.unchanged == 0

    def test_problems_reported_rows_kept_apart(self) -> None:
        """Missing ids, repeated ids and missing entities are reported, not dropped silently."""
        before = run(["1", None, "2", "2", "3"], ["A", "A", "A", "B", None])
        after = run(["1", "2", "3"], ["A", "A", "C"])
        got = compare_runs(before, after)
        rules = sorted(p.rule for p in got.problems)
        assert rules == ["compare.entity", "compare.id", "compare.unique_id"]
        assert got.identical
        assert "no id" in str(got.problems[0]) or "no id" in str(got.problems[1])

    def test_truth_columns_differ(self) -> None:
        """A truth set with its own column names scores a MatchResult."""
        rows = [
            {"id": "1", "first_name": "Ann", "last_name": "Lee", "email": "ann@x.com"},
            {"id": "2", "first_name": "Ann", "last_name": "Lee", "email": "ann@x.com"},
            {"id": "3", "first_name": "Bo", "last_name": "Ek", "email": "bo@y.com"},
        ]
        result = dedupe(rows, id_column="id")
        truth = {"uid": ["1", "2", "3"], "cluster": ["a", "a", "b"]}
        got = compare_runs(truth, result, id_column="uid", entity_column="cluster")
        assert got.pairwise.f1 == 1.0
        assert got.clusters.true_positives == 2

    def test_missing_column(self) -> None:
        """A run without the entity column is a configuration error naming the column."""
        with pytest.raises(MatchingConfigError, match="entity_id"):
            compare_runs(run(["1"], ["A"]), {"record_id": ["1"]})

    def test_to_table_and_dict(self) -> None:
        """The change table has one row per record behind a change and per one-run record."""
        got = compare_runs(
            run(["1", "2", "3"], ["A", "A", "B"]), run(["1", "2", "4"], ["A", "C", "D"])
        )
        table = got.to_table()
        assert table.column("kind") == ["split", "split", "only_before", "only_after"]
        assert table.column("record_id") == ["1", "2", "3", "4"]
        assert got.to_dict()["split"] == 1
        assert isinstance(got, RunComparison)
        assert isinstance(got.changes[0], EntityChange)
        assert "split 1" in got.summary()
