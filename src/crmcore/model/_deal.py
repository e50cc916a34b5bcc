"""The :class:`Deal` record: an opportunity moving through a sales pipeline."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from decimal import Decimal
from typing import Any, ClassVar

import attrs

from crmcore.model._field_codecs import Id
from crmcore.model._frozen_map import EMPTY_MAP, CustomValue, FrozenMap
from crmcore.model._pipeline import DEFAULT_SALES_PIPELINE
from crmcore.model._record import FieldName, Record
from crmcore.model._registry import register
from crmcore.model._values import CurrencyShape


@register
@attrs.frozen(kw_only=True)
class Deal(Record):
    """A sales opportunity.

    Stage moves go through :meth:`crmcore.model.Pipeline.transition` (or
    :func:`crmcore.model.transition`), which enforces the pipeline's table; setting ``stage``
    through :func:`attrs.evolve` bypasses it on purpose (imports, corrections).

    Args:
        id: Record id.
        name: Deal name.
        account_id: Id of the account.
        contact_ids: Ids of the contacts involved, without duplicates.
        owner_id: Id of the owning user.
        pipeline: Id of the pipeline (default ``"sales"``).
        stage: Current stage id (default: the default pipeline's first stage).
        amount: Amount as a :class:`~decimal.Decimal` (ints and decimal strings are converted;
            floats are refused because they lose precision).
        currency: ISO 4217 code; required when ``amount`` is set.
        close_date: Expected or actual close date.
        next_step: The next step agreed.
        next_step_date: When the next step is due.
        loss_reason: Why the deal was lost (set by lost transitions).
        tags: Free tags.
        custom_fields: Other fields by name (JSON scalar values).
        created_at: See :class:`Record`.
        updated_at: See :class:`Record`.
        provenance: See :class:`Record`.
        field_provenance: See :class:`Record`.

    Example:
        >>> Deal(id="d-1", amount="1250.00", currency="EUR").amount
        Decimal('1250.00')
    """

    record_type: ClassVar[str] = "deal"

    name: str | None = None
    account_id: Id | None = None
    contact_ids: tuple[Id, ...] = ()
    owner_id: Id | None = None
    pipeline: Id = DEFAULT_SALES_PIPELINE.id
    stage: Id = DEFAULT_SALES_PIPELINE.first_stage.id
    amount: Decimal | None = None
    currency: CurrencyShape | None = None
    close_date: date | None = None
    next_step: str | None = None
    next_step_date: date | None = None
    loss_reason: str | None = None
    tags: frozenset[str] = frozenset()
    custom_fields: FrozenMap[FieldName, CustomValue] = EMPTY_MAP

    def _invariants(self) -> Iterable[tuple[str, Any, str, str]]:
        yield from super()._invariants()
        if self.amount is not None and self.currency is None:
            yield (
                "currency",
                None,
                "amount.currency_required",
                "an amount needs a currency (ISO 4217 code)",
            )
        seen: set[str] = set()
        for i, contact_id in enumerate(self.contact_ids):
            if contact_id in seen:
                yield (
                    f"contact_ids[{i}]",
                    contact_id,
                    "contact_ids.duplicate",
                    f"contact {contact_id!r} is listed twice",
                )
            seen.add(contact_id)
