"""GoldenStore: merge history, unmerge / undo restore exactly, re-survivorship on change."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crmcore.errors import SurvivorshipError
from crmcore.model import Deal, Ticket
from crmcore.survivorship import GoldenStore, SourceRecord, SurvivorshipRules, merge, repoint
from tests.survivorship.strategies import T0, rule_sets, source_records
from tests.survivorship.test_relationships import IDS, refs, world

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


def related_store(kind: str, w) -> GoldenStore:
    """A store of the four records c1..c4 (contacts or accounts) with the world attached."""
    s = GoldenStore(SurvivorshipRules(), record_type=kind)
    for rid in IDS:
        s.add(SourceRecord(rid, "crm", T0, {"name": rid}))
    s.attach(activities=w[0], deals=w[1], tickets=w[2], contacts=w[3])
    return s


def current(s: GoldenStore) -> tuple:
    r = s.related()
    return (r.activities, r.deals, r.tickets, r.contacts)


class TestRelatedRecords:
    @PROPS
    @given(w=world(), kind=st.sampled_from(["contact", "account"]), data=st.data())
    def test_merges_repoint_and_undo_restores_exactly(self, w, kind, data):
        """Each merge leaves no reference to a merged-away id and equals repoint(); undoing the
        merges (latest first) gives back the attached records exactly."""
        s = related_store(kind, w)
        merges = []
        for _ in range(data.draw(st.integers(1, 3))):
            ents = s.entities()
            if len(ents) < 2:
                break
            pick = data.draw(st.lists(st.sampled_from(ents), min_size=2, max_size=3, unique=True))
            keep = data.draw(st.sampled_from(pick))
            before = current(s)
            s.merge(pick, survivor=keep)
            want = repoint(kind, keep, pick, activities=before[0], deals=before[1],
                           tickets=before[2], contacts=before[3])
            assert current(s) == (want.activities, want.deals, want.tickets, want.contacts)
            assert s.history[-1].repointed == want.changes
            assert not set(refs(kind, *current(s))) - set(s.entities())
            merges.append(len(s.history) - 1)
        for seq in reversed(merges):
            s.undo(seq)
        assert current(s) == tuple(tuple(x) for x in w)

    @PROPS
    @given(w=world(), kind=st.sampled_from(["contact", "account"]))
    def test_unmerge_of_merged_in_entity_points_back(self, w, kind):
        """Splitting c2 back out of c1 restores its references; c3's stay with c1."""
        s = related_store(kind, w)
        s.merge(["c1", "c2"])
        s.merge(["c1", "c3"])
        s.unmerge("c1", ["c2"])
        want = repoint(kind, "c1", ["c3"], activities=w[0], deals=w[1], tickets=w[2],
                       contacts=w[3])
        assert current(s) == (want.activities, want.deals, want.tickets, want.contacts)

    def test_attach_after_merge_is_repointed(self):
        """A record attached later follows the merges in effect."""
        s = related_store("contact", ([], [], [], []))
        s.merge(["c1", "c2"])
        s.attach(deals=[Deal(id="d1", contact_ids=("c2", "c4"))])
        assert s.related().deals[0].contact_ids == ("c1", "c4")
        s.undo(len(s.history) - 1)
        assert s.related().deals[0].contact_ids == ("c2", "c4")

    def test_split_into_a_new_entity_keeps_references(self):
        """A split that is not a merged-in entity cannot know which references were its own:
        they stay with the rest."""
        s = related_store("contact", ([], [], [Ticket(id="t1", contact_id="c2")], []))
        s.merge(["c1", "c2"])
        s.merge(["c1", "c3"])
        s.unmerge("c1", ["c2", "c3"])
        assert s.related().tickets[0].contact_id == "c1"

    def test_bad_attach(self):
        """Only activities, deals, tickets and contacts can be attached; kinds are checked."""
        s = GoldenStore(SurvivorshipRules())
        with pytest.raises(SurvivorshipError, match="attach takes"):
            s.attach(deals=["d1"])  # type: ignore[list-item]
        with pytest.raises(SurvivorshipError, match="record_type"):
            GoldenStore(SurvivorshipRules(), record_type="lead")  # type: ignore[arg-type]
