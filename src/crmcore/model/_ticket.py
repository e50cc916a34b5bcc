"""The :class:`Ticket` record: a support case moving through a status flow."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

import attrs

from crmcore.model._enums import TicketPriority
from crmcore.model._field_codecs import Id
from crmcore.model._frozen_map import EMPTY_MAP, CustomValue, FrozenMap
from crmcore.model._pipeline import DEFAULT_TICKET_PIPELINE
from crmcore.model._record import FieldName, Record
from crmcore.model._registry import register


@register
@attrs.frozen(kw_only=True)
class Ticket(Record):
    """A support ticket.

    Status moves go through the ticket pipeline (:data:`crmcore.model.DEFAULT_TICKET_PIPELINE`
    by default), which keeps the status in ``status`` and the cancellation reason in
    ``close_reason``.

    Args:
        id: Record id.
        subject: One-line summary.
        description: Full text.
        contact_id: Id of the requesting contact.
        account_id: Id of the account.
        priority: Low, normal, high or urgent.
        pipeline: Id of the status flow (default ``"support"``).
        status: Current status id (default ``"new"``).
        owner_id: Id of the assigned user.
        queue: Queue (or team) the ticket sits in.
        sla_due: When the SLA runs out (timezone-aware).
        close_reason: Why the ticket was cancelled (set by lost transitions).
        tags: Free tags.
        custom_fields: Other fields by name (JSON scalar values).
        created_at: See :class:`Record`.
        updated_at: See :class:`Record`.
        provenance: See :class:`Record`.
        field_provenance: See :class:`Record`.

    Example:
        >>> Ticket(id="t-1", subject="Cannot log in", priority="high").status
        'new'
    """

    record_type: ClassVar[str] = "ticket"

    subject: str | None = None
    description: str | None = None
    contact_id: Id | None = None
    account_id: Id | None = None
    priority: TicketPriority = TicketPriority.NORMAL
    pipeline: Id = DEFAULT_TICKET_PIPELINE.id
    status: Id = DEFAULT_TICKET_PIPELINE.first_stage.id
    owner_id: Id | None = None
    queue: str | None = None
    sla_due: datetime | None = None
    close_reason: str | None = None
    tags: frozenset[str] = frozenset()
    custom_fields: FrozenMap[FieldName, CustomValue] = EMPTY_MAP
