"""The :class:`Account` record: a company or organisation."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

import attrs

from crmcore.model._enums import LifecycleStage
from crmcore.model._field_codecs import Id
from crmcore.model._frozen_map import EMPTY_MAP, CustomValue, FrozenMap
from crmcore.model._record import FieldName, Record
from crmcore.model._registry import register
from crmcore.model._values import Address


@register
@attrs.frozen(kw_only=True)
class Account(Record):
    """A company or organisation.

    Accounts form a parent/child hierarchy through ``parent_id``; an account may not be its own
    parent (checked on construction) and a set of accounts may not form a cycle (checked by
    :class:`crmcore.model.AccountHierarchy`).

    Args:
        id: Record id.
        name: Account (company) name.
        domain: Web domain (``"example.com"``).
        industry: Industry label.
        size: Size as given (employee band such as ``"51-200"``).
        phones: Phone numbers, the preferred one first.
        address: Postal address.
        parent_id: Id of the parent account.
        owner_id: Id of the owning :class:`User`.
        lifecycle_stage: Funnel stage of the account.
        tags: Free tags.
        custom_fields: Other fields by name (JSON scalar values).
        created_at: See :class:`Record`.
        updated_at: See :class:`Record`.
        provenance: See :class:`Record`.
        field_provenance: See :class:`Record`.

    Example:
        >>> Account(id="a-1", name="Acme GmbH", parent_id="a-0").parent_id
        'a-0'
    """

    record_type: ClassVar[str] = "account"

    name: str | None = None
    domain: str | None = None
    industry: str | None = None
    size: str | None = None
    phones: tuple[str, ...] = ()
    address: Address | None = None
    parent_id: Id | None = None
    owner_id: Id | None = None
    lifecycle_stage: LifecycleStage | None = None
    tags: frozenset[str] = frozenset()
    custom_fields: FrozenMap[FieldName, CustomValue] = EMPTY_MAP

    def _invariants(self) -> Iterable[tuple[str, Any, str, str]]:
        yield from super()._invariants()
        if self.parent_id is not None and self.parent_id == self.id:
            yield (
                "parent_id",
                self.parent_id,
                "parent.self",
                "an account cannot be its own parent",
            )
