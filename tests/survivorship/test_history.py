"""GoldenStore: merge history, unmerge / undo restore exactly, re-survivorship on change."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crmcore.errors import SurvivorshipError
from crmcore.survivorship import GoldenStore, SourceRecord, SurvivorshipRules, merge
from tests.survivorship.strategies import T0, rule_sets, source_records

PROPS = settings(max_examples=30, deadline=None)


def store_of(recs, rules) -> GoldenStore:
    s = GoldenStore(rules)
    for r in recs:
        s.add(r)
    return s


@st.composite
def stores(draw: st.DrawFn):
    """A store of 2-8 records, some already merged into groups."""
    n = draw(st.integers(2, 8))
    recs = draw(source_records([f"r{i}" for i in range(n)]))
    rules = draw(rule_sets())
    s = store_of(recs, rules)
    for _ in range(draw(st.integers(0, 3))):
        ents = s.entities()
        if len(ents) < 2:
            break
        pick = draw(st.lists(st.sampled_from(ents), min_size=2, max_size=3, unique=True))
        s.merge(pick)
    return s, recs, rules


def check_consistent(s: GoldenStore, recs) -> None:
    """Every record in exactly one entity; each golden record is merge of its members."""
    members = [m for e in s.entities() for m in s.members(e)]
    assert sorted(members) == sorted(r.record_id for r in recs)
    for e in s.entities():
        want = merge([s.record(m) for m in s.members(e)], s.rules, entity_id=e)
        assert s.golden(e) == want


class TestGoldenStore:
    @PROPS
    @given(state=stores(), data=st.data())
    def test_undo_merge_restores_exactly(self, state, data):
        """Merging entities then undoing the merge gives back the same golden records."""
        s, recs, _ = state
        ents = s.entities()
        if len(ents) < 2:
            return
        before = s.goldens()
        pick = data.draw(st.lists(st.sampled_from(ents), min_size=2, unique=True))
        s.merge(pick, survivor=data.draw(st.sampled_from(pick)))
        check_consistent(s, recs)
        s.undo(len(s.history) - 1)
        assert s.goldens() == before
        check_consistent(s, recs)

    @PROPS
    @given(state=stores(), data=st.data())
    def test_unmerge_restores_merged_in_entity(self, state, data):
        """Splitting out exactly a merged-in entity restores both golden records and ids."""
        s, _recs, _ = state
        ents = s.entities()
        if len(ents) < 2:
            return
        before = s.goldens()
        a, b = data.draw(st.lists(st.sampled_from(ents), min_size=2, max_size=2, unique=True))
        keep = s.merge([a, b], survivor=a).entity_id
        rest, split = s.unmerge(keep, before[b].record_ids)
        assert (rest.entity_id, split.entity_id) == (a, b)
        assert s.goldens() == before

    @PROPS
    @given(state=stores(), data=st.data())
    def test_update_touches_only_its_entity(self, state, data):
        """A changed source record re-decides its entity only; the event lists changed fields."""
        s, recs, _ = state
        target = data.draw(st.sampled_from(recs))
        new = data.draw(source_records([target.record_id]))[0]
        before = s.goldens()
        eid = s.entity_of(target.record_id)
        event = s.update(new)
        after = s.goldens()
        for e, g in before.items():
            if e != eid:
                assert after[e] is g
        changed = tuple(
            f for f in sorted(set(before[eid].values) | set(after[eid].values))
            if before[eid].values.get(f) != after[eid].values.get(f)
        )
        assert event.changed_fields == changed
        check_consistent(s, [s.record(r.record_id) for r in recs])

    def test_history_records_every_change(self):
        """add, merge, unmerge and update are all in the history, in order."""
        s = GoldenStore(SurvivorshipRules())
        a = SourceRecord("a", "crm", T0, {"city": "Paris"})
        s.add(a)
        s.add(SourceRecord("b", "erp", T0, {"city": "Lyon"}))
        s.merge(["a", "b"], note="same person")
        s.update(a.with_values(city="Nice"))
        s.unmerge("a", ["b"])
        assert [e.kind for e in s.history] == ["add", "add", "merge", "update", "unmerge"]
        assert s.history[2].before == (("a", ("a",)), ("b", ("b",)))
        assert s.history[2].note == "same person"

    @pytest.mark.parametrize(
        ("action", "match"),
        [
            (lambda s: s.merge(["a"]), "at least two"),
            (lambda s: s.merge(["a", "zz"]), "unknown entity 'zz'"),
            (lambda s: s.merge(["a", "b"], survivor="c"), "survivor 'c'"),
            (lambda s: s.unmerge("a", ["a"]), "some but not all"),
            (lambda s: s.unmerge("a", ["b"]), "not in entity"),
            (lambda s: s.undo(0), "not a merge"),
        ],
    )
    def test_bad_requests(self, action, match):
        """Inconsistent requests raise and name what is wrong."""
        s = GoldenStore(SurvivorshipRules())
        s.add(SourceRecord("a", "crm", None, {"x": "1"}))
        s.add(SourceRecord("b", "crm", None, {"x": "2"}))
        with pytest.raises(SurvivorshipError, match=match):
            action(s)
        assert s.entities() == ("a", "b")

    def test_undo_refused_after_later_change(self):
        """A merge whose entity changed since cannot be undone blindly."""
        s = GoldenStore(SurvivorshipRules())
        for rid in "abc":
            s.add(SourceRecord(rid, "crm", None, {"x": rid}))
        s.merge(["a", "b"])
        s.merge(["a", "c"])
        with pytest.raises(SurvivorshipError, match="no longer holds"):
            s.undo(3)
