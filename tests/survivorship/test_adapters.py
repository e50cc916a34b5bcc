"""Domain records through survivorship: to_source, merge_contacts, merge_accounts."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crmcore.errors import SurvivorshipError
from crmcore.model import (
    Account,
    AccountHierarchy,
    AccountMembership,
    Address,
    Contact,
    Provenance,
    find_cycles,
)
from crmcore.survivorship import (
    CONTACT_RULES,
    from_golden,
    merge,
    merge_accounts,
    merge_contacts,
    to_source,
)
from tests.survivorship.strategies import T0

PROPS = settings(max_examples=40, deadline=None)


def day(n: int) -> dt.datetime:
    return T0 + dt.timedelta(days=n)


@st.composite
def contacts(draw: st.DrawFn) -> list[Contact]:
    n = draw(st.integers(1, 4))
    out = []
    for i in range(n):
        created = draw(st.integers(0, 5))
        out.append(Contact(
            id=f"c{i}",
            first_name=draw(st.none() | st.sampled_from(["Ann", "Anne", "ann"])),
            title=draw(st.none() | st.sampled_from(["VP Sales", "Sales Director"])),
            emails=tuple(draw(st.lists(
                st.sampled_from(["ann@acme.io", "Ann@Acme.io", "ann.lee@acme.io", "n/a"]),
                unique=True, max_size=2,
            ))),
            tags=frozenset(draw(st.lists(st.sampled_from(["vip", "new"]), max_size=2))),
            memberships=tuple(
                AccountMembership(a, None, k == 0)
                for k, a in enumerate(draw(st.lists(st.sampled_from(["x", "y", "z"]),
                                                    unique=True, max_size=2)))
            ),
            created_at=day(created),
            updated_at=day(created + draw(st.integers(0, 3))),
            provenance=Provenance(draw(st.sampled_from(["crm", "erp"]))),
        ))
    return out


class TestToSource:
    def test_fields_and_provenance(self):
        """Data fields become values; provenance gives source and time."""
        c = Contact(id="c1", emails=("ann@acme.io", "a@acme.io"), address=Address(city="Paris"),
                    custom_fields={"tier": "gold"}, updated_at=day(1),
                    memberships=(AccountMembership("acme", primary=True),),
                    provenance=Provenance("crm", "42", day(2)),
                    field_provenance={"title": Provenance("erp", None, day(3))})
        s = to_source(c)
        assert (s.record_id, s.source_system, s.observed_at) == ("c1", "crm", day(2))
        assert s.values["email"] == "ann@acme.io"
        assert s.values["custom_fields.tier"] == "gold"
        assert s.values["account_ids"] == ("acme",)
        assert s.values["primary_account_id"] == "acme"
        assert s.observed("title") == day(3)

    def test_round_trip_of_one_record(self):
        """A contact merged alone comes back as itself (provenance aside)."""
        c = Contact(id="c1", first_name="Ann", emails=("ann@acme.io",), tags=frozenset({"vip"}),
                    custom_fields={"tier": "gold"}, created_at=day(0), updated_at=day(1))
        back = from_golden(Contact, merge([to_source(c)], CONTACT_RULES), id="c1",
                           emails=c.emails)
        assert back == c


class TestMergeContacts:
    @PROPS
    @given(cs=contacts(), data=st.data())
    def test_valid_order_independent_contact(self, cs, data):
        """The golden contact is valid, keeps every valid email and account, any input order."""
        m = merge_contacts(cs)
        assert m.contact.id == min(c.id for c in cs)
        assert merge_contacts(data.draw(st.permutations(cs))).contact == m.contact
        keys = {e.casefold() for c in cs for e in c.emails if e != "n/a"}
        assert {e.casefold() for e in m.contact.emails} == keys
        assert "n/a" not in m.contact.emails
        assert set(m.contact.account_ids) == {a for c in cs for a in c.account_ids}
        assert m.contact.tags == frozenset().union(*(c.tags for c in cs))
        assert m.merged_ids == tuple(sorted(c.id for c in cs if c.id != m.contact.id))

    def test_survivor_must_be_merged(self):
        """The survivor has to be one of the contacts."""
        with pytest.raises(SurvivorshipError, match="survivor 'zz'"):
            merge_contacts([Contact(id="c1")], survivor="zz")


class TestMergeAccounts:
    def test_parent_from_outside_the_group(self):
        """Duplicates pointing at each other: their parent links are refused, lineage says so."""
        accts = [Account(id="a1", name="Acme", parent_id="a2", updated_at=day(1)),
                 Account(id="a2", name="Acme", parent_id="a1", updated_at=day(2))]
        m = merge_accounts(accts)
        assert m.account.parent_id is None
        assert len(m.golden.lineage["parent_id"].rejected) == 2

    @PROPS
    @given(
        parents=st.dictionaries(st.sampled_from("abcdef"), st.sampled_from("abcdefg")),
        merged=st.lists(st.sampled_from("abcdef"), min_size=2, max_size=3, unique=True),
    )
    def test_hierarchy_stays_acyclic(self, parents, merged):
        """Whatever the merged accounts' parents, the result is a valid acyclic hierarchy."""
        parents = {c: p for c, p in parents.items() if c != p}
        if find_cycles(parents):
            return
        accts = [Account(id=a, parent_id=parents.get(a)) for a in merged]
        m = merge_accounts(accts, hierarchy=AccountHierarchy.from_parents(parents))
        assert not find_cycles(dict(m.hierarchy.hierarchy.parents))
        assert m.account.parent_id == m.hierarchy.hierarchy.parent_of(m.account.id)
        assert m.account.parent_id not in merged
