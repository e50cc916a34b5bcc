"""Tests for crmcore.matching.stable_ids."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crmcore.errors import ValidationError
from crmcore.matching import IdChangeReport, StableIds, assign_stable_ids
from crmcore.matching._stable_ids import format_entity_id


def reference(clustering: dict[str, int], previous: dict[str, str], next_seq: int, prefix="E"):
    """Sequential greedy grant, written plainly, as the brute-force reference."""
    clusters: dict[int, list[str]] = {}
    for r, lab in clustering.items():
        clusters.setdefault(lab, []).append(r)
    claims = []
    for lab, members in clusters.items():
        counts: dict[str, int] = {}
        for r in members:
            if r in previous:
                counts[previous[r]] = counts.get(previous[r], 0) + 1
        for old, k in counts.items():
            claims.append(((-k, old, -len(members), min(members)), lab, old))
    claims.sort()
    granted: dict[int, str] = {}
    used: set[str] = set()
    for _key, lab, old in claims:
        if lab not in granted and old not in used:
            granted[lab] = old
            used.add(old)
    seq = next_seq
    for e in set(previous.values()):
        if e.startswith(prefix) and e[len(prefix):].isdigit() and len(e) - len(prefix) >= 12:
            seq = max(seq, int(e[len(prefix):]) + 1)
    fresh = [lab for lab in clusters if lab not in granted]
    for lab in sorted(fresh, key=lambda c: min(clusters[c])):
        granted[lab] = format_entity_id(seq, prefix)
        seq += 1
    return {r: granted[lab] for r, lab in clustering.items()}, seq


record_ids = st.lists(
    st.text("abcdefgh", min_size=1, max_size=3), min_size=0, max_size=30, unique=True
)


@st.composite
def runs(draw):
    """A clustering, and a previous assignment over an overlapping set of records."""
    ids = draw(record_ids)
    labels = draw(st.lists(st.integers(0, 6), min_size=len(ids), max_size=len(ids)))
    extra = draw(st.lists(st.text("xyz", min_size=1, max_size=2), max_size=5, unique=True))
    prev_ids = draw(st.lists(st.sampled_from(ids + extra), unique=True)) if ids + extra else []
    prev_labels = draw(st.lists(st.sampled_from(["P1", "P2", "P3", "P4", format_entity_id(3)]),
                                min_size=len(prev_ids), max_size=len(prev_ids)))
    return dict(zip(ids, labels, strict=False)), dict(zip(prev_ids, prev_labels, strict=False))


class TestFormatEntityId:
    def test_zero_padded(self):
        """Ids are the prefix and 12 zero-padded digits, so text order is creation order."""
        assert format_entity_id(7, "C") == "C000000000007"
        assert format_entity_id(9) < format_entity_id(10)


class TestAssignStableIds:
    @settings(max_examples=150, deadline=None)
    @given(runs(), st.integers(1, 20))
    def test_matches_sequential_greedy(self, run, next_seq):
        """The vectorised grant equals a plain sequential greedy reference."""
        clustering, previous = run
        got = assign_stable_ids(clustering, previous, next_sequence=next_seq)
        want, seq = reference(clustering, previous, next_seq)
        assert got.mapping() == want
        assert got.next_sequence == seq

    @settings(max_examples=100, deadline=None)
    @given(runs())
    def test_partition_consistent_with_clustering(self, run):
        """Two records share an entity id exactly when they share a cluster label."""
        clustering, previous = run
        m = assign_stable_ids(clustering, previous).mapping()
        assert set(m) == set(clustering)
        for a in clustering:
            for b in clustering:
                assert (m[a] == m[b]) == (clustering[a] == clustering[b])

    @settings(max_examples=100, deadline=None)
    @given(runs())
    def test_unchanged_clustering_keeps_every_id(self, run):
        """Re-running the same clustering with its own output changes nothing."""
        clustering, previous = run
        first = assign_stable_ids(clustering, previous)
        again = assign_stable_ids(clustering, first.mapping(), next_sequence=first.next_sequence)
        assert again.mapping() == first.mapping()
        assert again.report.new == ()
        assert again.report.retired == ()
        assert again.report.merged == {}
        assert again.report.split == {}
        assert again.next_sequence == first.next_sequence

    @settings(max_examples=100, deadline=None)
    @given(st.lists(st.lists(st.integers(0, 4), min_size=12, max_size=12), min_size=2, max_size=5))
    def test_retired_ids_never_come_back(self, label_runs):
        """Across a series of runs, an id once retired or issued is never issued again."""
        ids = [f"r{i:02d}" for i in range(12)]
        previous: dict[str, str] = {}
        seq = 1
        issued: set[str] = set()
        retired: set[str] = set()
        for labels in label_runs:
            clustering = dict(zip(ids, labels, strict=True))
            res = assign_stable_ids(clustering, previous, next_sequence=seq)
            assert not (set(res.report.new) & issued)
            assert not (set(res.entity_ids) & retired)
            issued |= set(res.entity_ids)
            retired |= set(res.report.retired)
            previous, seq = res.mapping(), res.next_sequence

    @settings(max_examples=100, deadline=None)
    @given(runs())
    def test_report_accounts_for_every_previous_id(self, run):
        """Every previous id is kept or retired, and new ids are exactly the unseen ones."""
        clustering, previous = run
        res = assign_stable_ids(clustering, previous)
        prev_ids = set(previous.values())
        assert set(res.report.kept) | set(res.report.retired) == prev_ids
        assert not (set(res.report.kept) & set(res.report.retired))
        assert set(res.report.new) == set(res.entity_ids) - prev_ids
        assert set(res.report.kept) == set(res.entity_ids) & prev_ids

    def test_merge_plurality_then_oldest(self):
        """A merged cluster keeps the plurality id; on a tie the oldest (smallest) id."""
        prev = {"a": "E2", "b": "E2", "c": "E1", "d": "E3", "e": "E4"}
        res = assign_stable_ids({"a": 0, "b": 0, "c": 0, "d": 1, "e": 1}, prev)
        m = res.mapping()
        assert m["a"] == "E2"
        assert m["d"] == "E3"
        assert res.report.merged == {"E1": "E2", "E4": "E3"}
        assert res.report.retired == ("E1", "E4")

    def test_split_largest_part_keeps_id(self):
        """On a split the part with most former members keeps the id; others get new ids."""
        prev = dict.fromkeys("abcde", "E000000000005")
        res = assign_stable_ids({"a": 0, "b": 1, "c": 1, "d": 1, "e": 2}, prev)
        m = res.mapping()
        assert m["b"] == m["c"] == m["d"] == "E000000000005"
        assert m["a"] == "E000000000006"
        assert m["e"] == "E000000000007"
        assert res.report.split == {"E000000000005": ("E000000000006", "E000000000007")}
        assert res.report.new == ("E000000000006", "E000000000007")

    def test_split_part_takes_other_held_id(self):
        """A split-off part that also holds another previous id takes that id."""
        prev = {"a": "E1", "b": "E1", "c": "E1", "d": "E1", "x": "E2"}
        res = assign_stable_ids({"a": 0, "b": 0, "c": 0, "d": 1, "x": 1}, prev)
        m = res.mapping()
        assert m["a"] == "E1"
        assert m["d"] == "E2"
        assert res.report.split == {"E1": ("E2",)}

    def test_removed_records_retire_their_id(self):
        """An id none of whose records remain is retired as removed."""
        res = assign_stable_ids({"a": 0}, {"a": "E1", "z": "E9"})
        assert res.report.removed == ("E9",)
        assert res.report.retired == ("E9",)

    def test_array_input(self):
        """A (record_ids, numpy labels) pair works like a mapping."""
        ids = [f"r{i}" for i in range(6)]
        labels = np.array([3, 3, 1, 1, 9, 3])
        assert (
            assign_stable_ids((ids, labels)).mapping()
            == assign_stable_ids(dict(zip(ids, labels.tolist(), strict=False))).mapping()
        )

    def test_empty(self):
        """No records gives an empty assignment and retires every previous id."""
        res = assign_stable_ids({}, {"a": "E1"})
        assert res.mapping() == {}
        assert res.report.removed == ("E1",)
        assert isinstance(res, StableIds)
        assert isinstance(res.report, IdChangeReport)

    def test_duplicate_record_ids_rejected(self):
        """A record id given twice is an error naming the record."""
        with pytest.raises(ValidationError, match="'a'"):
            assign_stable_ids((["a", "a"], [0, 1]))

    def test_misaligned_rejected(self):
        """Labels and record ids of different lengths are an error."""
        with pytest.raises(ValidationError, match="labels"):
            assign_stable_ids((["a", "b"], [0]))

    def test_sequence_raised_past_previous_ids(self):
        """New ids never collide with previous ids of the same format."""
        res = assign_stable_ids({"a": 0, "b": 1}, {"a": format_entity_id(41)})
        assert res.mapping()["b"] == format_entity_id(42)

    def test_summary_counts(self):
        """summary() counts each category."""
        res = assign_stable_ids({"a": 0, "b": 0}, {"a": "E1", "b": "E2"})
        assert res.report.summary()["merged"] == 1
