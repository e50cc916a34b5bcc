"""The real-time index with the guarded cluster method (the default): it re-clusters a touched
record's whole link component with the batch functions (the guarded split, then decisions), so
weak chains are cut as batch cuts them, whatever the order records arrive in, after removals,
updates, decisions and a reload."""

from __future__ import annotations

import json
import sqlite3
import tempfile
import warnings
from pathlib import Path

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crmcore.matching import ClusterOptions, dedupe
from crmcore.matching.realtime import MatchIndex
from tests.matching.realtime.test_index import (
    CHAIN,
    MODEL,
    SETTINGS,
    partition,
    person,
    records_strategy,
    with_ids,
)

#: The default (density 0.4), and options small or strict enough that the split triggers on
#: the generated records.
OPTIONS = [
    ClusterOptions(),
    ClusterOptions(min_density=0.8),
    ClusterOptions(max_size=3, min_density=0.5),
    ClusterOptions(max_size=2, min_density=0.0),
]
options_strategy = st.sampled_from(OPTIONS)
cities = st.sampled_from(["Paris", "Pariss", "Oslo", None])


#: Six records chained by email, phone, email, phone, email (the two phone links equally weak):
#: a path, density 5 / 15.
LONG_CHAIN = with_ids(
    [
        {"first_name": f, "last_name": "Lee", "email": e, "phone": p, "city": None}
        for f, e, p in [
            ("Ann", "a@x.com", None),
            ("Ann", "a@x.com", "555-1"),
            ("Bob", "b@x.com", "555-1"),
            ("Bob", "b@x.com", "555-2"),
            ("Cy", "c@x.com", "555-2"),
            ("Cy", "c@x.com", None),
        ]
    ]
)


def guarded_settings(options: ClusterOptions):
    return attrs.evolve(SETTINGS, cluster=options)


def batch_partition(rows, options, decisions=()):
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "no blocking rule can pair", UserWarning)
        res = dedupe(
            rows,
            id_column="record_id",
            settings=guarded_settings(options),
            model=MODEL,
            decisions=list(decisions),
        )
    return partition(dict(zip(res.ids, res.entity_ids, strict=True)))


def components_partition(rows):
    return batch_partition(rows, ClusterOptions(method="components"))


class TestGuardedIndex:
    def test_default_settings_are_guarded(self) -> None:
        """The method these tests cover is the one users get by default."""
        assert ClusterOptions().method == "guarded"

    def test_a_weak_chain_is_cut_as_batch_cuts_it(self) -> None:
        """a - b (email) and b - c (phone), a and c unlinked: density 2/3, under 0.8. Batch
        splits the chain at its weaker link; so does the index, whatever the order."""
        options = ClusterOptions(min_density=0.8)
        expected = batch_partition(CHAIN, options)
        assert expected != components_partition(CHAIN)  # the split triggers
        for order in ([0, 1, 2], [2, 1, 0], [0, 2, 1], [1, 0, 2]):
            index = MatchIndex(MODEL, guarded_settings(options))
            for i in order:
                index.add(CHAIN[i])
            assert partition(index.entities()) == expected
        built = MatchIndex.build(MODEL, guarded_settings(options), CHAIN)
        assert partition(built.entities()) == expected

    def test_a_joining_record_fills_the_chain_in(self) -> None:
        """A record linked to all three makes the component dense enough: one entity again,
        under the id the stable-id rule gives."""
        options = ClusterOptions(min_density=0.8)
        index = MatchIndex(MODEL, guarded_settings(options))
        for r in CHAIN:
            index.add(r)
        rows = [*CHAIN, person("d", email="ann@x.com", phone="555-9")]
        index.add(rows[-1])
        assert partition(index.entities()) == batch_partition(rows, options)

    def test_scored_links_of_decided_pairs_are_kept(self) -> None:
        """A pair decided "different" keeps its scored link (the split counts it, as batch's
        does); a "same" decision is listed with weight inf."""
        index = MatchIndex.build(MODEL, guarded_settings(ClusterOptions()), CHAIN)
        index.decide("a", "b", "different", reviewer="ann")
        assert index.entity_of("a") != index.entity_of("b")
        assert 0 < index.links("a")["b"] < float("inf")
        index.decide("a", "c", "same", reviewer="ann")
        assert index.links("a")["c"] == float("inf")
        assert partition(index.entities()) == batch_partition(
            CHAIN, ClusterOptions(), index.review.decisions()
        )

    @settings(max_examples=40, deadline=None)
    @given(records_strategy, options_strategy, st.data())
    def test_build_equals_batch(self, rows, options, data) -> None:
        """Building the index in bulk gives the batch clusters (batch rows in any order)."""
        rows = with_ids(rows)
        index = MatchIndex.build(MODEL, guarded_settings(options), data.draw(st.permutations(rows)))
        assert partition(index.entities()) == batch_partition(
            data.draw(st.permutations(rows)), options
        )

    @settings(max_examples=60, deadline=None)
    @given(records_strategy, options_strategy, st.data())
    def test_incremental_equals_batch(self, rows, options, data) -> None:
        """Adding records one by one, in random order, gives the batch clusters."""
        rows = with_ids(rows)
        index = MatchIndex(MODEL, guarded_settings(options))
        for r in data.draw(st.permutations(rows)):
            index.add(r)
        assert partition(index.entities()) == batch_partition(
            data.draw(st.permutations(rows)), options
        )

    @settings(max_examples=40, deadline=None)
    @given(records_strategy, options_strategy, st.data())
    def test_any_sequence_of_writes_equals_batch(self, rows, options, data) -> None:
        """After every write of a random sequence (adds in random order, removals, updates,
        decisions, save / load), the clusters are those of a batch run over the records now,
        given the index's decisions."""
        rows = with_ids(rows)
        index = MatchIndex(MODEL, guarded_settings(options))
        current: dict[str, dict[str, object]] = {}
        waiting = list(data.draw(st.permutations(rows)))
        for _ in range(data.draw(st.integers(len(rows), len(rows) + 8))):
            ops = ["add"] * bool(waiting)
            if len(current) >= 2:
                ops += ["remove", "update", "decide", "reload"]
            if not ops:
                break
            op = data.draw(st.sampled_from(ops))
            if op == "add":
                r = waiting.pop()
                index.add(r)
                current[str(r["record_id"])] = r
            elif op == "remove":
                rid = data.draw(st.sampled_from(sorted(current)))
                index.remove(rid)
                del current[rid]
            elif op == "update":
                rid = data.draw(st.sampled_from(sorted(current)))
                edited = {**current[rid], "city": data.draw(cities)}
                index.update(edited)
                current[rid] = edited
            elif op == "decide":
                a, b = data.draw(
                    st.lists(st.sampled_from(sorted(current)), min_size=2, max_size=2, unique=True)
                )
                index.decide(
                    a, b, data.draw(st.sampled_from(["same", "different"])), reviewer="ann"
                )
            else:
                with tempfile.TemporaryDirectory() as tmp:
                    path = Path(tmp) / "ix.sqlite"
                    index.save(path)
                    index = MatchIndex.load(path)
            live = set(current)
            decisions = [
                d for d in index.review.decisions() if d.left_id in live and d.right_id in live
            ]
            assert partition(index.entities()) == batch_partition(
                list(current.values()), options, decisions
            )

    def test_older_layout_is_reclustered_on_load(self, tmp_path) -> None:
        """An index saved in layout 5 (which kept the guarded method's plain components) is
        re-clustered once on load: the batch clusters, ids kept where entities survive."""
        options = ClusterOptions(min_density=0.8)
        index = MatchIndex.build(MODEL, guarded_settings(options), CHAIN)
        path = tmp_path / "old.sqlite"
        index.save(path)
        con = sqlite3.connect(path)
        con.execute(
            "UPDATE meta SET value = ? WHERE key = 'format'",
            (json.dumps("crmcore.matching.index/5"),),
        )
        con.execute("UPDATE records SET entity_id = 'E000000000001'")  # one plain component
        con.commit()
        con.close()
        loaded = MatchIndex.load(path)
        assert partition(loaded.entities()) == batch_partition(CHAIN, options)
        assert "E000000000001" in set(loaded.entities().values())
        loaded.save(path)
        assert json.loads(
            sqlite3.connect(path)
            .execute("SELECT value FROM meta WHERE key = 'format'")
            .fetchone()[0]
        ).endswith("/6")

    @pytest.mark.parametrize("options", OPTIONS)
    def test_the_fixture_splits(self, options) -> None:
        """The fixture exercises the point: batch's guarded split cuts what plain components
        keep together (for every option set tested)."""
        assert batch_partition(LONG_CHAIN, options) != components_partition(LONG_CHAIN)

    @settings(max_examples=30, deadline=None)
    @given(options_strategy, st.permutations(LONG_CHAIN), st.permutations(LONG_CHAIN))
    def test_a_long_chain_in_any_order(self, options, order, batch_order) -> None:
        """Six records in a chain of five links, two of them equally weak: the index cuts
        them as batch does (ties by record id), in any order on either side."""
        index = MatchIndex(MODEL, guarded_settings(options))
        for r in order:
            index.add(r)
        assert partition(index.entities()) == batch_partition(list(batch_order), options)
