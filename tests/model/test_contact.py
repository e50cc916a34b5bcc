"""Tests for crmcore.model.contact."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crmcore.errors import RelationshipError, ValidationError
from crmcore.model import AccountMembership, Contact

from .strategies import contacts, ids


def member(account_id: str, primary: bool = False) -> AccountMembership:
    return AccountMembership(account_id, "buyer", primary)


class TestProperties:
    """Derived properties of a contact."""

    def test_names_and_preferred_points(self) -> None:
        """full_name joins names; email/phone are the first entries."""
        c = Contact(id="c", first_name="Ada", last_name="Lovelace", emails=["a@x.io", "b@x.io"])
        assert c.full_name == "Ada Lovelace"
        assert c.email == "a@x.io"
        assert c.phone is None
        assert Contact(id="c").full_name is None

    def test_accounts(self) -> None:
        """account_ids lists memberships in order; primary_account_id finds the primary."""
        c = Contact(id="c", memberships=[member("a"), member("b", primary=True)])
        assert c.account_ids == ("a", "b")
        assert c.primary_account_id == "b"
        assert c.membership("a") == member("a")
        assert c.membership("z") is None


class TestMembershipInvariants:
    """Construction: distinct accounts, at most one primary."""

    def test_two_primaries(self) -> None:
        """Two primary memberships are refused with the single-primary rule."""
        with pytest.raises(ValidationError) as info:
            Contact(id="c", memberships=[member("a", True), member("b", True)])
        (problem,) = info.value.problems
        assert problem.rule == "membership.single_primary"
        assert problem.field == "memberships[1].primary"
        assert "at most one primary" in problem.message

    def test_duplicate_account(self) -> None:
        """The same account twice is refused."""
        with pytest.raises(ValidationError) as info:
            Contact(id="c", memberships=[member("a"), member("a")])
        assert info.value.problems[0].rule == "membership.duplicate"

    @settings(deadline=None)
    @given(st.lists(st.tuples(ids, st.booleans()), max_size=6))
    def test_matches_brute_force(self, pairs) -> None:
        """Construction succeeds iff account ids are distinct and at most one is primary."""
        memberships = [member(a, p) for a, p in pairs]
        ok = len({a for a, _ in pairs}) == len(pairs) and sum(p for _, p in pairs) <= 1
        try:
            Contact(id="c", memberships=memberships)
        except ValidationError:
            assert not ok
        else:
            assert ok


class TestWithMembership:
    """Contact.with_membership."""

    def test_adds(self) -> None:
        """A new membership is appended; the original is unchanged."""
        c = Contact(id="c")
        c2 = c.with_membership(member("a", True))
        assert c2.primary_account_id == "a"
        assert c.memberships == ()

    def test_refuses_second_primary_and_duplicates(self) -> None:
        """A second primary or a repeated account raises RelationshipError."""
        c = Contact(id="c", memberships=[member("a", True)])
        with pytest.raises(RelationshipError, match="already has primary account 'a'"):
            c.with_membership(member("b", True))
        with pytest.raises(RelationshipError, match="already belongs"):
            c.with_membership(member("a"))


class TestWithPrimaryAccount:
    """Contact.with_primary_account."""

    @settings(deadline=None)
    @given(contacts.filter(lambda c: len(c.memberships) > 0), st.data())
    def test_moves_the_flag(self, contact, data) -> None:
        """Exactly the chosen account ends up primary; roles and order are kept."""
        target = data.draw(st.sampled_from(contact.account_ids))
        moved = contact.with_primary_account(target)
        assert moved.primary_account_id == target
        assert [m.primary for m in moved.memberships].count(True) == 1
        assert moved.account_ids == contact.account_ids
        assert [m.role for m in moved.memberships] == [m.role for m in contact.memberships]

    def test_unknown_account(self) -> None:
        """Making a non-member account primary raises RelationshipError."""
        with pytest.raises(RelationshipError):
            Contact(id="c").with_primary_account("a")


class TestWithoutMembership:
    """Contact.without_membership."""

    def test_removes(self) -> None:
        """The membership is dropped; removing an unknown one raises."""
        c = Contact(id="c", memberships=[member("a", True), member("b")])
        assert c.without_membership("a").account_ids == ("b",)
        assert c.without_membership("a").primary_account_id is None
        with pytest.raises(RelationshipError):
            c.without_membership("z")
