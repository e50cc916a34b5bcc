"""The :class:`Contact` record: a person, with their account memberships."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any, ClassVar

import attrs

from crmcore.errors import RelationshipError
from crmcore.model._enums import LifecycleStage
from crmcore.model._field_codecs import Id
from crmcore.model._frozen_map import EMPTY_MAP, CustomValue, FrozenMap
from crmcore.model._record import FieldName, Record
from crmcore.model._registry import register
from crmcore.model._values import AccountMembership, Address, CountryShape


def _membership_problems(
    memberships: Iterable[AccountMembership],
) -> Iterable[tuple[str, Any, str, str]]:
    seen: set[str] = set()
    primary: str | None = None
    for i, m in enumerate(memberships):
        if m.account_id in seen:
            yield (
                f"memberships[{i}].account_id",
                m.account_id,
                "membership.duplicate",
                f"the contact is already a member of account {m.account_id!r}",
            )
        seen.add(m.account_id)
        if m.primary:
            if primary is not None:
                yield (
                    f"memberships[{i}].primary",
                    True,
                    "membership.single_primary",
                    f"a contact has at most one primary account; {primary!r} is already primary",
                )
            else:
                primary = m.account_id


@register
@attrs.frozen(kw_only=True)
class Contact(Record):
    """A person in the CRM.

    Construction checks types and shapes (tz-aware datetimes, country as two upper-case letters,
    no duplicate account memberships, at most one primary account). Business rules such as the
    email format live in rule sets (:func:`crmcore.model.validate`).

    Args:
        id: Record id.
        first_name: Given name.
        last_name: Family name.
        emails: Email addresses, the preferred one first.
        phones: Phone numbers, the preferred one first.
        title: Job title.
        company: Company name as given (the account link is ``memberships``).
        birth_date: Date of birth.
        memberships: Accounts the contact belongs to, with role and primary flag.
        address: Postal address.
        country: ISO 3166-1 alpha-2 country code.
        lifecycle_stage: Funnel stage.
        lead_source: Where the lead came from (free text; rule sets may restrict it).
        owner_id: Id of the owning :class:`User`.
        tags: Free tags.
        custom_fields: Other fields by name (JSON scalar values).
        created_at: See :class:`Record`.
        updated_at: See :class:`Record`.
        provenance: See :class:`Record`.
        field_provenance: See :class:`Record`.

    Example:
        >>> c = Contact(id="c-1", first_name="Ada", emails=["ada@example.com"])
        >>> c.emails, c.full_name
        (('ada@example.com',), 'Ada')
    """

    record_type: ClassVar[str] = "contact"

    first_name: str | None = None
    last_name: str | None = None
    emails: tuple[str, ...] = ()
    phones: tuple[str, ...] = ()
    title: str | None = None
    company: str | None = None
    birth_date: date | None = None
    memberships: tuple[AccountMembership, ...] = ()
    address: Address | None = None
    country: CountryShape | None = None
    lifecycle_stage: LifecycleStage | None = None
    lead_source: str | None = None
    owner_id: Id | None = None
    tags: frozenset[str] = frozenset()
    custom_fields: FrozenMap[FieldName, CustomValue] = EMPTY_MAP

    def _invariants(self) -> Iterable[tuple[str, Any, str, str]]:
        yield from super()._invariants()
        if self.memberships:
            yield from _membership_problems(self.memberships)

    @property
    def full_name(self) -> str | None:
        """First and last name joined by a space, or ``None`` when both are missing."""
        parts = [p for p in (self.first_name, self.last_name) if p]
        return " ".join(parts) if parts else None

    @property
    def email(self) -> str | None:
        """The preferred (first) email address."""
        return self.emails[0] if self.emails else None

    @property
    def phone(self) -> str | None:
        """The preferred (first) phone number."""
        return self.phones[0] if self.phones else None

    @property
    def account_ids(self) -> tuple[str, ...]:
        """Ids of the accounts the contact belongs to, in membership order."""
        return tuple(m.account_id for m in self.memberships)

    @property
    def primary_account_id(self) -> str | None:
        """Id of the primary account, if one is marked primary."""
        for m in self.memberships:
            if m.primary:
                return m.account_id
        return None

    def membership(self, account_id: str) -> AccountMembership | None:
        """Return the membership in ``account_id``, or ``None``."""
        for m in self.memberships:
            if m.account_id == account_id:
                return m
        return None

    def with_membership(self, membership: AccountMembership) -> Contact:
        """Return a copy that also belongs to ``membership.account_id``.

        Raises:
            RelationshipError: If the contact already belongs to that account, or the new
                membership is primary while another one already is (use
                :meth:`with_primary_account` to move the primary flag).
        """
        if self.membership(membership.account_id) is not None:
            raise RelationshipError(
                f"contact {self.id!r} already belongs to account {membership.account_id!r}"
            )
        current = self.primary_account_id
        if membership.primary and current is not None:
            raise RelationshipError(
                f"contact {self.id!r} already has primary account {current!r}; "
                f"cannot make {membership.account_id!r} primary too"
            )
        return attrs.evolve(self, memberships=(*self.memberships, membership))

    def with_primary_account(self, account_id: str) -> Contact:
        """Return a copy whose primary account is ``account_id`` (others lose the flag).

        Raises:
            RelationshipError: If the contact does not belong to ``account_id``.
        """
        if self.membership(account_id) is None:
            raise RelationshipError(
                f"contact {self.id!r} does not belong to account {account_id!r}"
            )
        memberships = tuple(
            m
            if m.primary == (m.account_id == account_id)
            else attrs.evolve(m, primary=m.account_id == account_id)
            for m in self.memberships
        )
        return attrs.evolve(self, memberships=memberships)

    def without_membership(self, account_id: str) -> Contact:
        """Return a copy that no longer belongs to ``account_id``.

        Raises:
            RelationshipError: If the contact does not belong to ``account_id``.
        """
        if self.membership(account_id) is None:
            raise RelationshipError(
                f"contact {self.id!r} does not belong to account {account_id!r}"
            )
        return attrs.evolve(
            self, memberships=tuple(m for m in self.memberships if m.account_id != account_id)
        )
