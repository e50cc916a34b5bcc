"""The real-time index with the pooled cluster method: it stores the weak links too and
re-clusters whole link components with the batch function, so it finds the batch clusters
whatever the order records arrive in, after removals, updates, decisions and a reload."""

from __future__ import annotations

import tempfile
import warnings
from pathlib import Path

import attrs
from hypothesis import given, settings
from hypothesis import strategies as st

from crmcore.matching import ClusterOptions, dedupe
from crmcore.matching.realtime import MatchIndex
from tests.matching.realtime.test_index import (
    MODEL,
    SETTINGS,
    partition,
    records_strategy,
    with_ids,
)

#: Weak links down to p 0.05 (the hand-set model's middle levels), every component trusted, or
#: the default share of weak links inside groups.
OPTIONS = [ClusterOptions(method="pooled", pool_threshold=0.05, pool_weak_share=0.0),
           ClusterOptions(method="pooled", pool_threshold=0.05)]
options_strategy = st.sampled_from(OPTIONS)


def pooled_settings(options: ClusterOptions):
    return attrs.evolve(SETTINGS, cluster=options)


def batch_partition(rows, options, decisions=()):
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "no blocking rule can pair", UserWarning)
        res = dedupe(rows, id_column="record_id", settings=pooled_settings(options),
                     model=MODEL, decisions=list(decisions))
    return partition(dict(zip(res.ids, res.entity_ids, strict=True)))


ROWS = with_ids([
    {"first_name": f, "last_name": last, "email": e, "phone": p, "city": c}
    for f, last, e, p, c in [
        ("Ann", "Lee", "a@x.com", "555-1", "Paris"), ("Ann", "Lee", "a@x.com", None, "Paris"),
        ("Ann", "Lee", None, None, "Pariss"), ("ann", "Lee", None, "555-2", "Paris"),
        ("Ann", "Lee", "b@x.com", None, "Paris"), ("Bob", "Lee", None, "555-2", "Oslo"),
        ("Bob", "Lee", "c@y.org", "555-2", "Oslo"), ("Bob", "Ng", "c@y.org", None, None),
        ("Cy", "Ng", None, None, "Oslo"), ("Ann", "Li", "a@x.com", None, "Paris"),
    ]
])


class TestPooledIndex:
    def test_the_data_pools(self) -> None:
        """The fixture exercises the point: pooling joins records that the components of
        the links at the threshold leave apart."""
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "no blocking rule can pair", UserWarning)
            plain = dedupe(ROWS, id_column="record_id", model=MODEL, settings=attrs.evolve(
                SETTINGS, cluster=ClusterOptions(method="components")))
        assert batch_partition(ROWS, OPTIONS[0]) != partition(
            dict(zip(plain.ids, plain.entity_ids, strict=True)))

    def test_entity_explanations_show_the_weak_links(self) -> None:
        """A batch entity joined by pooling is explained by a spanning tree over all its
        members, weak links included."""
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "no blocking rule can pair", UserWarning)
            res = dedupe(ROWS, id_column="record_id", settings=pooled_settings(OPTIONS[0]),
                         model=MODEL)
        weak_seen = False
        for rid in res.ids:
            expl = res.explain_entity(rid)
            assert len(expl.spanning_tree) == len(expl.members) - 1
            weak_seen |= any(res.pairs.probability[k] < res.threshold
                             for k in expl.spanning_tree)
        assert weak_seen

    def test_weak_links_are_stored(self) -> None:
        """The index keeps links down to the weak-link threshold."""
        index = MatchIndex.build(MODEL, pooled_settings(OPTIONS[0]), ROWS)
        assert index.link_floor == 0.05
        weights = [w for r in ROWS for w in index.links(r["record_id"]).values()]
        assert min(weights) < 3.17  # below p 0.9: a weak link

    @settings(max_examples=40, deadline=None)
    @given(records_strategy, options_strategy)
    def test_build_equals_batch(self, rows, options) -> None:
        """Building the index in bulk gives the batch clusters."""
        rows = with_ids(rows)
        index = MatchIndex.build(MODEL, pooled_settings(options), rows)
        assert partition(index.entities()) == batch_partition(rows, options)

    @settings(max_examples=60, deadline=None)
    @given(records_strategy, options_strategy, st.randoms(use_true_random=False))
    def test_incremental_equals_batch(self, rows, options, rnd) -> None:
        """Adding records one by one, in random order, gives the batch clusters."""
        rows = with_ids(rows)
        order = list(rows)
        rnd.shuffle(order)
        index = MatchIndex(MODEL, pooled_settings(options))
        for r in order:
            index.add(r)
        assert partition(index.entities()) == batch_partition(rows, options)

    @settings(max_examples=30, deadline=None)
    @given(records_strategy, options_strategy, st.data())
    def test_removals_updates_and_reload_equal_batch(self, rows, options, data) -> None:
        """After removals, updates and a save / load followed by more adds, the clusters are
        the batch clusters of the records now."""
        rows = with_ids(rows)
        index = MatchIndex(MODEL, pooled_settings(options))
        for r in rows:
            index.add(r)
        current = {r["record_id"]: r for r in rows}
        for rid in data.draw(st.lists(st.sampled_from(sorted(current)), unique=True,
                                      max_size=min(3, len(current) - 1))):
            index.remove(rid)
            del current[rid]
        rid = data.draw(st.sampled_from(sorted(current)))
        edited = {**current[rid], "city": data.draw(st.sampled_from(["Paris", "Oslo", None]))}
        index.update(edited)
        current[rid] = edited
        assert partition(index.entities()) == batch_partition(list(current.values()), options)
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "ix.sqlite"
            index.save(path)
            loaded = MatchIndex.load(path)
        assert loaded.link_floor == index.link_floor
        extra = with_ids(data.draw(records_strategy))
        for r in extra:
            r = {**r, "record_id": "x" + r["record_id"]}
            loaded.add(r)
            current[r["record_id"]] = r
        assert partition(loaded.entities()) == batch_partition(list(current.values()), options)

    @settings(max_examples=30, deadline=None)
    @given(records_strategy, options_strategy, st.data())
    def test_decisions_equal_batch(self, rows, options, data) -> None:
        """Review decisions ("same" and "different") taken in the index give the clusters of a
        batch run given the same decisions."""
        rows = with_ids(rows)
        index = MatchIndex.build(MODEL, pooled_settings(options), rows)
        ids = [r["record_id"] for r in rows]
        for _ in range(data.draw(st.integers(1, 3))):
            a, b = data.draw(st.lists(st.sampled_from(ids), min_size=2, max_size=2,
                                      unique=True))
            index.decide(a, b, data.draw(st.sampled_from(["same", "different"])),
                         reviewer="ann")
        assert partition(index.entities()) == batch_partition(
            rows, options, index.review.decisions())
