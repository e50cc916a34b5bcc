"""Tests for crmcore.matching.review."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crmcore.errors import SerializationError, ValidationError
from crmcore.matching import (
    ConstrainedClusters,
    ReviewDecision,
    ReviewItem,
    ReviewQueue,
    cluster_with_decisions,
    dedupe,
)
from crmcore.matching._review import record_fingerprints, respect_decisions, stale_decisions

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def brute_components(n, edges):
    """Plain union-find, labels = smallest node of each component."""
    parent = list(range(n))

    def find(x):
        while parent[x] != x:
            x = parent[x]
        return x

    for a, b in edges:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    return [find(i) for i in range(n)]


@st.composite
def graphs(draw, max_n=14):
    """A small weighted graph: n nodes, edge arrays and weights."""
    n = draw(st.integers(1, max_n))
    edges = draw(st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=30))
    edges = [(a, b) for a, b in edges if a != b]
    weights = draw(st.lists(st.floats(-5, 20), min_size=len(edges), max_size=len(edges)))
    return n, edges, weights


def arrays(edges):
    left = np.array([a for a, _ in edges], dtype=np.int64)
    right = np.array([b for _, b in edges], dtype=np.int64)
    return left, right


class TestClusterWithDecisions:
    @settings(max_examples=200, deadline=None)
    @given(graphs(), st.data())
    def test_decisions_respected(self, g, data):
        """'different' pairs end apart; 'same' pairs end together unless they conflict."""
        n, edges, weights = g
        ids = [f"r{i}" for i in range(n)]
        pairs = data.draw(st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)),
                                   max_size=6))
        decs = []
        for k, (a, b) in enumerate(pairs):
            if a != b:
                kind = data.draw(st.sampled_from(["same", "different"]))
                decs.append(ReviewDecision(ids[a], ids[b], kind, "ann", T0, f"{k}"))
        res = cluster_with_decisions(ids, *arrays(edges), np.array(weights), decs)
        lab = res.labels.tolist()
        latest = {d.pair: d for d in decs}
        pos = {r: i for i, r in enumerate(ids)}
        conflicted = set(res.conflicts)
        for (a, b), d in latest.items():
            if d.decision == "different":
                assert lab[pos[a]] != lab[pos[b]]
            elif not conflicted:
                assert lab[pos[a]] == lab[pos[b]]

    @settings(max_examples=200, deadline=None)
    @given(graphs(), st.data())
    def test_only_cuts_refine(self, g, data):
        """Every cluster lies inside a component of links plus 'same' edges, cut edges are links."""
        n, edges, weights = g
        ids = [f"r{i}" for i in range(n)]
        a = data.draw(st.integers(0, n - 1))
        b = data.draw(st.integers(0, n - 1))
        decs = [] if a == b else [ReviewDecision(ids[a], ids[b], "different", "bo", T0)]
        res = cluster_with_decisions(ids, *arrays(edges), np.array(weights), decs)
        plain = brute_components(n, edges)
        lab = res.labels.tolist()
        for i in range(n):
            for j in range(n):
                if lab[i] == lab[j]:
                    assert plain[i] == plain[j]
        linked = {tuple(sorted((ids[x], ids[y]))) for x, y in edges}
        assert set(res.cut_edges) <= linked

    @settings(max_examples=100, deadline=None)
    @given(graphs())
    def test_no_decisions_is_plain_components(self, g):
        """Without decisions, clusters are the connected components of the links."""
        n, edges, weights = g
        res = cluster_with_decisions([f"r{i}" for i in range(n)], *arrays(edges),
                                     np.array(weights), [])
        assert res.labels.tolist() == brute_components(n, edges)
        assert res.cut_edges == ()

    def test_chain_cut_at_weakest_edge(self):
        """A chain a-b-c-d with a 'different' a,d is cut at its weakest edge."""
        ids = ["a", "b", "c", "d"]
        left, right = np.array([0, 1, 2]), np.array([1, 2, 3])
        decs = [ReviewDecision("a", "d", "different", "ann", T0)]
        res = cluster_with_decisions(ids, left, right, np.array([9.0, 1.5, 7.0]), decs)
        assert res.labels.tolist() == [0, 0, 2, 2]
        assert res.cut_edges == (("b", "c"),)

    def test_different_removes_direct_edge(self):
        """A direct link between records decided different is dropped, nothing else is cut."""
        res = cluster_with_decisions(["a", "b"], np.array([0]), np.array([1]), np.array([30.0]),
                                     [ReviewDecision("b", "a", "different", "ann", T0)])
        assert res.labels.tolist() == [0, 1]
        assert res.cut_edges == ()

    def test_same_forces_link(self):
        """A 'same' decision joins records that have no link."""
        res = cluster_with_decisions(["a", "b", "c"], np.array([], dtype=np.int64),
                                     np.array([], dtype=np.int64), np.array([]),
                                     [ReviewDecision("a", "c", "same", "ann", T0)])
        assert res.labels.tolist() == [0, 1, 0]

    def test_contradiction_reported(self):
        """'same' a-b, b-c with 'different' a-c: a and c end apart and a conflict is reported."""
        decs = [ReviewDecision("a", "b", "same", "ann", T0),
                ReviewDecision("b", "c", "same", "ann", T0),
                ReviewDecision("a", "c", "different", "bo", T0)]
        empty = np.array([], dtype=np.int64)
        res = cluster_with_decisions(["a", "b", "c"], empty, empty, np.array([]), decs)
        assert res.labels[0] != res.labels[2]
        assert res.conflicts == (("a", "c"),)
        assert isinstance(res, ConstrainedClusters)

    def test_latest_decision_counts(self):
        """A later decision about the same pair replaces the earlier one."""
        decs = [ReviewDecision("a", "b", "different", "ann", T0),
                ReviewDecision("a", "b", "same", "bo", T0)]
        empty = np.array([], dtype=np.int64)
        res = cluster_with_decisions(["a", "b"], empty, empty, np.array([]), decs)
        assert res.labels.tolist() == [0, 0]


class TestReviewQueue:
    def test_band_and_skip_decided(self):
        """Only pairs in the band are queued; decided pairs are not queued again."""
        q = ReviewQueue(0.4, 0.9)
        assert q.offer(["a", "b", "c"], ["x", "y", "z"], [0.39, 0.4, 0.9]) == 1
        assert [(it.left_id, it.right_id) for it in q.pending()] == [("b", "y")]
        q.decide("y", "b", "same", reviewer="ann", at=T0)
        assert q.pending() == []
        assert q.offer(["b"], ["y"], [0.5]) == 0

    def test_decisions_survive_a_new_queue(self):
        """Decisions serialised and loaded into a new queue still block re-queueing."""
        q = ReviewQueue(0.4, 0.9)
        q.decide("a", "x", "different", reviewer="ann", at=T0, note="twins")
        saved = [d.to_dict() for d in q.history()]
        q2 = ReviewQueue(0.4, 0.9, [ReviewDecision.from_dict(d) for d in saved])
        assert q2.offer(["x"], ["a"], [0.6]) == 0
        assert q2.decision_for("a", "x") == q.decision_for("x", "a")

    def test_pending_order_most_uncertain_first(self):
        """Pending pairs come most uncertain first, with their explanation."""
        q = ReviewQueue(0.1, 0.99)
        q.offer(["a", "b"], ["x", "y"], [0.9, 0.55], [{"w": 1}, {"w": 2}])
        items = q.pending()
        assert [it.left_id for it in items] == ["b", "a"]
        assert items[0].explanation == {"w": 2}
        assert isinstance(items[0], ReviewItem)
        assert items[0].to_dict()["probability"] == 0.55

    def test_history_and_latest(self):
        """History keeps every decision; decisions() keeps the latest per pair."""
        q = ReviewQueue()
        q.decide("a", "b", "same", reviewer="ann", at=T0)
        q.decide("b", "a", "different", reviewer="bo", at=T0)
        assert len(q.history()) == 2
        assert [d.decision for d in q.decisions()] == ["different"]

    @pytest.mark.parametrize(
        ("kwargs", "field"),
        [
            ({"decision": "maybe"}, "decision"),
            ({"reviewer": " "}, "reviewer"),
            ({"at": datetime(2026, 1, 1)}, "decided_at"),
            ({"right_id": "a"}, "right_id"),
        ],
    )
    def test_bad_decisions_rejected(self, kwargs, field):
        """A bad decision names the field."""
        args = {"left_id": "a", "right_id": "b", "decision": "same", "reviewer": "ann", "at": T0}
        args.update(kwargs)
        q = ReviewQueue()
        with pytest.raises(ValidationError, match=field):
            q.decide(args.pop("left_id"), args.pop("right_id"), args.pop("decision"), **args)

    def test_bad_band_rejected(self):
        """A band with lower >= upper is an error."""
        with pytest.raises(ValidationError, match="lower"):
            ReviewQueue(0.9, 0.5)

    def test_misaligned_offer_rejected(self):
        """Ids and probabilities of different lengths are an error."""
        with pytest.raises(ValidationError, match="pairs"):
            ReviewQueue().offer(["a"], ["b"], [0.5, 0.6])


class TestStaleDecisions:
    def test_fingerprints_change_with_compared_values_only(self):
        """A fingerprint changes when a compared value does, and only then."""
        values = {"email": ["a@x.com", "b@y.com"], "name": ["ann", None]}
        fp = record_fingerprints(values, ["1", "2"])
        again = record_fingerprints({"email": ["a@x.com", "c@z.com"], "name": ["ann", None]},
                                    ["1", "2"])
        assert fp["1"] == again["1"]
        assert fp["2"] != again["2"]
        # a missing value differs from an empty one
        assert record_fingerprints({"name": [""]}, ["1"]) != record_fingerprints(
            {"name": [None]}, ["1"])
        assert set(record_fingerprints(values, ["1", "2"], ["2", "9"])) == {"2"}

    def test_only_different_decisions_with_a_changed_record_are_stale(self):
        """Stale: a "different" decision whose stored fingerprint no longer matches."""
        q = ReviewQueue()
        q.decide("a", "b", "different", reviewer="r", at=T0, fingerprints={"a": "1", "b": "2"})
        q.decide("a", "c", "different", reviewer="r", at=T0, fingerprints={"a": "1", "c": "3"})
        q.decide("b", "c", "same", reviewer="r", at=T0, fingerprints={"b": "2", "c": "3"})
        q.decide("c", "d", "different", reviewer="r", at=T0)  # no fingerprints: never stale
        now = {"a": "1", "b": "2*", "c": "3", "d": "4"}
        assert [d.pair for d in stale_decisions(q.decisions(), now)] == [("a", "b")]

    def test_reopen_sends_back_to_review(self):
        """A stale decision stops counting, is queued again with a reason, and stays reopened
        when the queue is rebuilt by an erasure of other records."""
        q = ReviewQueue()
        d = q.decide("a", "b", "different", reviewer="maria", at=T0,
                     fingerprints={"a": "1", "b": "2"})
        q.decide("x", "y", "same", reviewer="maria", at=T0)
        items = q.reopen({"a": "1", "b": "changed"})
        assert [(i.left_id, i.right_id) for i in items] == [("a", "b")]
        assert "record b changed" in items[0].explanation["reopened"]
        assert "maria" in items[0].explanation["reopened"]
        assert q.decision_for("a", "b") is None
        assert [i.left_id for i in q.pending()] == ["a"]
        assert d in q.history()
        q.forget(["x"])
        assert q.decision_for("a", "b") is None
        assert [i.left_id for i in q.pending()] == ["a"]
        new = q.decide("a", "b", "same", reviewer="maria")
        assert q.decision_for("a", "b") == new
        assert q.pending() == []

    def test_a_queue_is_restored_from_its_history_reopened_and_pending(self):
        """ReviewQueue(lower, upper, history, reopened=, pending=) gives back the same queue:
        the reopened decision still does not count and its item (NaN probability) is queued."""
        q = ReviewQueue(0.3, 0.9)
        q.decide("a", "b", "different", reviewer="maria", at=T0,
                 fingerprints={"a": "1", "b": "2"})
        q.decide("c", "d", "same", reviewer="maria", at=T0)
        q.offer(["e"], ["f"], [0.5], [{"name": 1.0}])
        q.reopen({"b": "changed"})
        assert [d.pair for d in q.reopened()] == [("a", "b")]
        back = ReviewQueue(0.3, 0.9, q.history(), reopened=q.reopened(), pending=q.pending())
        assert back.decisions() == q.decisions()
        assert back.history() == q.history()
        assert back.reopened() == q.reopened()
        def items(queue):
            return [(i.left_id, i.right_id, dict(i.explanation)) for i in queue.pending()]

        assert items(back) == items(q)
        assert len(items(q)) == 2
        assert back.decision_for("a", "b") is None
        # without the reopened list the decision counts again (what files saved before did)
        assert ReviewQueue(0.3, 0.9, q.history()).decision_for("a", "b") is not None

    def test_a_reopened_decision_does_not_bring_back_the_one_it_overrode(self):
        """"same", then "different", then reopened: the pair has no decision, in the queue,
        after an erasure of other records rebuilds it, and restored from its parts (the
        restored queue used to count the "same" again: a property-test counterexample)."""
        q = ReviewQueue(0.3, 0.9)
        q.decide("a", "b", "same", reviewer="maria", at=T0, fingerprints={"a": "1", "b": "2"})
        q.decide("a", "b", "different", reviewer="maria", at=T0 + timedelta(minutes=1),
                 fingerprints={"a": "1", "b": "2"})
        q.decide("x", "y", "same", reviewer="maria", at=T0)
        q.reopen({"a": "changed"})
        assert q.decision_for("a", "b") is None
        back = ReviewQueue(0.3, 0.9, q.history(), reopened=q.reopened(), pending=q.pending())
        assert back.decision_for("a", "b") is None
        q.forget(["x"])
        assert q.decision_for("a", "b") is None
        assert [(i.left_id, i.right_id) for i in q.pending()] == [("a", "b")]

    def test_round_trip_keeps_fingerprints(self):
        """to_dict / from_dict keep the fingerprints; old payloads without them still load."""
        d = ReviewDecision("a", "b", "different", "r", T0, "", "f1", "f2")
        assert ReviewDecision.from_dict(d.to_dict()) == d
        old = {k: v for k, v in d.to_dict().items() if "fingerprint" not in k}
        assert ReviewDecision.from_dict(old).left_fingerprint == ""


class TestBatchOverrides:
    ROWS = (
        {"id": "1", "first_name": "Robert", "last_name": "Smith", "email": "bob@acme.com"},
        {"id": "2", "first_name": "Robert", "last_name": "Smith", "email": "bob@acme.com"},
        {"id": "3", "first_name": "Ann", "last_name": "Lee", "email": "ann@lee.org"},
        {"id": "4", "first_name": "Zoe", "last_name": "Park", "email": "zp@park.net"},
    )

    def test_force_apart_and_together(self):
        """dedupe respects "different" (cut) and "same" (joined) decisions."""
        rows = list(self.ROWS)
        plain = dedupe(rows, id_column="id")
        assert plain.entity_ids[0] == plain.entity_ids[1]
        q = ReviewQueue()
        q.decide("1", "2", "different", reviewer="r")
        q.decide("3", "4", "same", reviewer="r")
        got = dedupe(rows, id_column="id", decisions=q.decisions())
        assert got.entity_ids[0] != got.entity_ids[1]
        assert got.entity_ids[2] == got.entity_ids[3]
        assert got.cut_links == ()  # the decided pair's own link is not a chain cut
        assert got.stale_decisions == ()

    def test_stale_different_left_out(self):
        """A "different" decision about a record that changed since is not applied and is
        reported; with unchanged records it holds."""
        rows = list(self.ROWS)
        first = dedupe(rows, id_column="id")
        q = ReviewQueue()
        q.decide("1", "2", "different", reviewer="r", fingerprints=first.fingerprints(["1", "2"]))
        same_data = dedupe(rows, id_column="id", decisions=q.decisions())
        assert same_data.entity_ids[0] != same_data.entity_ids[1]
        edited = [*rows[:1], {**rows[1], "first_name": "Bob"}, *rows[2:]]
        later = dedupe(edited, id_column="id", decisions=q.decisions())
        assert later.stale_decisions == tuple(q.decisions())
        assert later.entity_ids[0] == later.entity_ids[1]
        reopened = q.reopen(later.fingerprints())
        assert [(i.left_id, i.right_id) for i in reopened] == [("1", "2")]

    def test_respect_decisions_equals_index_function(self):
        """Batch overrides equal cluster_with_decisions on the kept links."""
        rows = list(self.ROWS)
        plain = dedupe(rows, id_column="id")
        decisions = [ReviewDecision("1", "2", "different", "r", T0)]
        got = respect_decisions(plain.ids, plain.labels, plain.matches, decisions)
        m = plain.matches
        ref = cluster_with_decisions(plain.ids, m.left, m.right, m.match_weight, decisions)
        assert got.labels.tolist() == ref.labels.tolist()


class TestCannotLinkPairs:
    @settings(max_examples=200, deadline=None)
    @given(graphs(), st.data())
    def test_apart_pairs_end_apart_and_only_cuts_refine(self, g, data):
        """Every ``apart`` pair ends in two clusters; clusters lie inside link components."""
        n, edges, weights = g
        ids = [f"r{i}" for i in range(n)]
        pairs = data.draw(st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)),
                                   max_size=6))
        pairs = [(a, b) for a, b in pairs if a != b]
        apart = (np.array([a for a, _ in pairs], dtype=np.int64),
                 np.array([b for _, b in pairs], dtype=np.int64))
        res = cluster_with_decisions(ids, *arrays(edges), np.array(weights), [], apart=apart)
        lab = res.labels.tolist()
        plain = brute_components(n, edges)
        for a, b in pairs:
            assert lab[a] != lab[b]
        for i in range(n):
            for j in range(n):
                if lab[i] == lab[j]:
                    assert plain[i] == plain[j]
        assert set(res.cut_edges) <= {tuple(sorted((ids[x], ids[y]))) for x, y in edges}

    @settings(max_examples=200, deadline=None)
    @given(graphs(), st.data())
    def test_same_clusters_whatever_the_positions(self, g, data):
        """Records given in another order (positions permuted) end in the same clusters with
        the same cuts: ties are broken by record id, so the index (its own positions) and a
        batch run (row order) agree."""
        n, edges, weights = g
        ids = [f"r{i:02d}" for i in range(n)]
        pairs = data.draw(st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)),
                                   max_size=5))
        pairs = [(a, b) for a, b in pairs if a != b]
        kinds = data.draw(st.lists(st.sampled_from(["same", "different"]), min_size=len(pairs),
                                   max_size=len(pairs)))
        split = data.draw(st.integers(0, len(pairs)))
        decs = [ReviewDecision(ids[a], ids[b], k, "ann", T0)
                for (a, b), k in zip(pairs[:split], kinds[:split], strict=True)]
        vetoes = pairs[split:]
        perm = data.draw(st.permutations(range(n)))
        where = {old: new for new, old in enumerate(perm)}  # old position -> new position

        def run(place, names):
            apart = (np.array([place[a] for a, _ in vetoes], dtype=np.int64),
                     np.array([place[b] for _, b in vetoes], dtype=np.int64))
            left = np.array([place[a] for a, _ in edges], dtype=np.int64)
            right = np.array([place[b] for _, b in edges], dtype=np.int64)
            res = cluster_with_decisions(names, left, right, np.array(weights), decs,
                                         apart=apart)
            groups = {}
            for pos, lab in enumerate(res.labels.tolist()):
                groups.setdefault(lab, set()).add(names[pos])
            return {frozenset(v) for v in groups.values()}, set(res.cut_edges)

        plain = run({i: i for i in range(n)}, ids)
        moved = run(where, [ids[old] for old in perm])
        assert plain == moved

    def test_a_chain_through_a_third_record_is_cut(self):
        """a ~ c ~ b with a, b vetoed: the weaker link of the chain goes; the veto holds."""
        ids = ["a", "b", "c"]
        res = cluster_with_decisions(ids, np.array([0, 2]), np.array([2, 1]),
                                     np.array([12.0, 8.0]), [],
                                     apart=(np.array([0]), np.array([1])))
        assert res.labels.tolist() == [0, 1, 0]
        assert res.cut_edges == (("b", "c"),)

    def test_a_same_decision_does_not_override_a_veto(self):
        """Only a "same" decision joins two vetoed records: they stay apart, reported."""
        empty = np.array([], dtype=np.int64)
        res = cluster_with_decisions(["a", "b"], empty, empty, np.array([]),
                                     [ReviewDecision("a", "b", "same", "ann", T0)],
                                     apart=(np.array([1]), np.array([0])))
        assert res.labels.tolist() == [0, 1]
        assert res.conflicts == (("a", "b"),)

    def test_misaligned_pairs_rejected(self):
        """``apart`` arrays of different lengths are refused with the rule named."""
        empty = np.array([], dtype=np.int64)
        with pytest.raises(ValidationError, match=r"review\.aligned"):
            cluster_with_decisions(["a", "b"], empty, empty, np.array([]), [],
                                   apart=(np.array([0, 1]), np.array([1])))


class TestDictForms:
    """Decisions and queued items go through the spec codec; payloads written before load."""

    GOLDEN = Path(__file__).parents[1] / "fixtures" / "codec" / "review" / "review.json"

    def test_payloads_written_before_load_and_write_back_unchanged(self):
        """Decisions (with and without fingerprints) and queued items written by the
        hand-written serialiser read back and write the same dicts."""
        data = json.loads(self.GOLDEN.read_text())
        for d in data["decisions"]:
            assert ReviewDecision.from_dict(d).to_dict() == d
        (old,) = data["old_decisions"]
        back = ReviewDecision.from_dict(old)
        assert (back.left_fingerprint, back.right_fingerprint) == ("", "")
        assert {k: v for k, v in back.to_dict().items() if "fingerprint" not in k} == old
        for item in data["pending"]:
            assert ReviewItem.from_dict(item).to_dict() == item

    def test_every_problem_named(self):
        """A damaged decision names every bad key; a naive time is refused."""
        bad = {"left_id": "a", "right_id": 3, "decision": "maybe", "reviewer": "r",
               "decided_at": "2026-01-01T00:00:00", "colour": 1}
        with pytest.raises(SerializationError) as exc:
            ReviewDecision.from_dict(bad)
        assert {p.field for p in exc.value.problems} == {
            "decision.right_id", "decision.decided_at", "decision.colour"}
        fixed = {"left_id": "a", "right_id": "b", "decision": "maybe", "reviewer": "r",
                 "decided_at": "2026-01-01T00:00:00+00:00"}
        with pytest.raises(SerializationError) as exc:
            ReviewDecision.from_dict(fixed)
        assert [p.rule for p in exc.value.problems] == ["review.decision"]
