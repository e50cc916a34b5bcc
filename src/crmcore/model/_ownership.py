"""Ownership records: :class:`User` (owners of records) and :class:`Team`."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

import attrs

from crmcore.model._field_codecs import Id
from crmcore.model._record import Record
from crmcore.model._registry import register


@register
@attrs.frozen(kw_only=True)
class User(Record):
    """A CRM user; records point at their owner through ``owner_id``.

    Args:
        id: Record id.
        name: Display name.
        email: Login / work email.
        role: Role name (used by governance for field permissions).
        active: Whether the user may still own records.
        created_at: See :class:`Record`.
        updated_at: See :class:`Record`.
        provenance: See :class:`Record`.
        field_provenance: See :class:`Record`.

    Example:
        >>> User(id="u-1", name="Grace", role="sales_rep").active
        True
    """

    record_type: ClassVar[str] = "user"

    name: str | None = None
    email: str | None = None
    role: str | None = None
    active: bool = True


@register
@attrs.frozen(kw_only=True)
class Team(Record):
    """A team of users (queues, territories, round-robin pools).

    Args:
        id: Record id.
        name: Team name.
        member_ids: Ids of the member users, without duplicates.
        manager_id: Id of the managing user.
        parent_id: Id of the parent team.
        created_at: See :class:`Record`.
        updated_at: See :class:`Record`.
        provenance: See :class:`Record`.
        field_provenance: See :class:`Record`.

    Example:
        >>> Team(id="t-1", name="EMEA", member_ids=["u-1", "u-2"]).member_ids
        ('u-1', 'u-2')
    """

    record_type: ClassVar[str] = "team"

    name: str | None = None
    member_ids: tuple[Id, ...] = ()
    manager_id: Id | None = None
    parent_id: Id | None = None

    def _invariants(self) -> Iterable[tuple[str, Any, str, str]]:
        yield from super()._invariants()
        seen: set[str] = set()
        for i, member in enumerate(self.member_ids):
            if member in seen:
                yield (
                    f"member_ids[{i}]",
                    member,
                    "member_ids.duplicate",
                    f"user {member!r} is listed twice",
                )
            seen.add(member)
        if self.parent_id is not None and self.parent_id == self.id:
            yield ("parent_id", self.parent_id, "parent.self", "a team cannot be its own parent")
