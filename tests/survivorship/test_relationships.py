"""Relationships on merge: re-pointing, membership union, acyclic account hierarchy."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crmcore.errors import SurvivorshipError
from crmcore.model import (
    AccountHierarchy,
    AccountMembership,
    Activity,
    Contact,
    Deal,
    RecordRef,
    Ticket,
    find_cycles,
)
from crmcore.survivorship import merge_hierarchy, merge_memberships, repoint
from tests.survivorship.strategies import T0

PROPS = settings(max_examples=60, deadline=None)
IDS = ("c1", "c2", "c3", "c4")


@st.composite
def world(draw: st.DrawFn):
    """Activities, deals and tickets pointing at a few contacts and accounts."""
    ids = st.sampled_from(IDS)
    acts = [
        Activity(id=f"a{i}", activity_type="call", related=tuple(dict.fromkeys(
            RecordRef(draw(st.sampled_from(["contact", "account", "deal"])), draw(ids))
            for _ in range(draw(st.integers(0, 4)))
        )))
        for i in range(draw(st.integers(0, 4)))
    ]
    deals = [
        Deal(id=f"d{i}", contact_ids=tuple(draw(st.lists(ids, unique=True, max_size=3))),
             account_id=draw(st.none() | ids))
        for i in range(draw(st.integers(0, 4)))
    ]
    tickets = [
        Ticket(id=f"t{i}", contact_id=draw(st.none() | ids), account_id=draw(st.none() | ids))
        for i in range(draw(st.integers(0, 4)))
    ]
    contacts = [
        Contact(id=f"p{i}", memberships=tuple(
            AccountMembership(a, draw(st.none() | st.sampled_from(["buyer", "billing"])), k == 0)
            for k, a in enumerate(draw(st.lists(ids, unique=True, max_size=3)))
        ))
        for i in range(draw(st.integers(0, 3)))
    ]
    return acts, deals, tickets, contacts


def refs(kind: str, acts, deals, tickets, contacts) -> list[str]:
    """Every id of ``kind`` that the records point at (with repetitions)."""
    out = [r.id for a in acts for r in a.related if r.record_type == kind]
    for d in deals:
        out.extend(d.contact_ids if kind == "contact" else [d.account_id] if d.account_id else [])
    for t in tickets:
        v = t.contact_id if kind == "contact" else t.account_id
        out.extend([v] if v else [])
    if kind == "account":
        out.extend(m.account_id for c in contacts for m in c.memberships)
    return out


class TestRepoint:
    @PROPS
    @given(w=world(), kind=st.sampled_from(["contact", "account"]),
           merged=st.lists(st.sampled_from(IDS), min_size=1, unique=True))
    def test_nothing_orphaned_nothing_lost(self, w, kind, merged):
        """No reference to a merged id is left; every record comes back; others untouched."""
        survivor, gone = "c1", set(merged) - {"c1"}
        r = repoint(kind, survivor, merged, activities=w[0], deals=w[1], tickets=w[2],
                    contacts=w[3])
        new = (r.activities, r.deals, r.tickets, r.contacts)
        for old_list, new_list in zip(w, new, strict=True):
            assert [x.id for x in old_list] == [x.id for x in new_list]
        before, after = refs(kind, *w), refs(kind, *new)
        assert not gone & set(after)
        assert {survivor if i in gone else i for i in before} == set(after)
        other = "account" if kind == "contact" else "contact"
        if kind == "contact":
            assert refs(other, *w) == refs(other, *new)
        assert len(r.changes) == sum(1 for i in before if i in gone)

    def test_deal_contacts_deduplicated(self):
        """A deal with both contacts keeps the survivor once, in first position."""
        d = Deal(id="d1", contact_ids=("c2", "c9", "c1"))
        assert repoint("contact", "c1", ["c2"], deals=[d]).deals[0].contact_ids == ("c1", "c9")

    def test_account_memberships_combined(self):
        """A contact member of two merged accounts keeps one membership, primary kept."""
        c = Contact(id="p1", memberships=(AccountMembership("a2", "buyer", True),
                                          AccountMembership("a1", None)))
        (got,) = repoint("account", "a1", ["a2"], contacts=[c]).contacts
        assert got.memberships == (AccountMembership("a1", "buyer", True),)

    def test_unknown_kind(self):
        """Only contacts and accounts can be re-pointed."""
        with pytest.raises(SurvivorshipError, match="record_type"):
            repoint("deal", "d1", ["d2"])  # type: ignore[arg-type]


class TestMergeMemberships:
    @PROPS
    @given(w=world(), days=st.lists(st.none() | st.integers(0, 3), min_size=3, max_size=3))
    def test_union_with_one_primary(self, w, days):
        """The union of accounts, each once, and at most one primary (order independent)."""
        contacts = [
            Contact(id=c.id, memberships=c.memberships,
                    updated_at=None if d is None else T0 + dt.timedelta(days=d))
            for c, d in zip(w[3], days, strict=False)
        ]
        got = merge_memberships(contacts)
        assert sorted(m.account_id for m in got) == sorted(
            {m.account_id for c in contacts for m in c.memberships}
        )
        assert sum(m.primary for m in got) <= 1
        assert merge_memberships(list(reversed(contacts))) == got
        Contact(id="x", memberships=got)  # a valid contact

    def test_most_recent_primary(self):
        """The most recently updated contact's primary account stays primary."""
        old = Contact(id="p1", updated_at=T0, memberships=(AccountMembership("a", primary=True),))
        new = Contact(id="p2", updated_at=T0 + dt.timedelta(days=1),
                      memberships=(AccountMembership("b", primary=True),))
        assert [m.account_id for m in merge_memberships([old, new]) if m.primary] == ["b"]


class TestMergeHierarchy:
    @PROPS
    @given(
        parents=st.dictionaries(st.sampled_from("abcdefg"), st.sampled_from("abcdefgh")),
        merged=st.lists(st.sampled_from("abcdefg"), min_size=1, max_size=3, unique=True),
        parent=st.none() | st.sampled_from("abcdefgh"),
    )
    def test_stays_acyclic(self, parents, merged, parent):
        """Whatever parent is asked for, the merged hierarchy has no cycle and no merged id."""
        parents = {c: p for c, p in parents.items() if c != p}
        if find_cycles(parents):
            return
        h = AccountHierarchy.from_parents(parents)
        survivor, gone = merged[0], set(merged[1:])
        m = merge_hierarchy(h, survivor, merged, parent=parent)
        ids = set(m.hierarchy.parents) | set(m.hierarchy.parents.values())
        assert not ids & gone
        assert not find_cycles(dict(m.hierarchy.parents))
        assert (m.parent is None) == (parent is None or m.refused_parent is not None)
        for child, up in parents.items():
            if child not in gone and child != survivor:
                assert m.hierarchy.parent_of(child) == (survivor if up in gone else up)
