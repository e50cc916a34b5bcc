"""The :class:`Activity` record: calls, emails, meetings, tasks and notes."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import Any, ClassVar

import attrs

from crmcore.model._enums import ActivityType
from crmcore.model._field_codecs import Id
from crmcore.model._record import Record
from crmcore.model._registry import register
from crmcore.model._values import RecordRef


@register
@attrs.frozen(kw_only=True)
class Activity(Record):
    """Something that happened (or is to be done) around one or more records.

    Args:
        id: Record id.
        activity_type: Call, email, meeting, task or note.
        subject: Short summary.
        body: Text (notes, email body, call summary).
        related: Typed references to the records it concerns (contact, deal, ticket ...).
        owner_id: Id of the user who did it or has to do it.
        occurred_at: When it happened or is scheduled (timezone-aware).
        outcome: Outcome as given (``"connected"``, ``"left voicemail"``, ``"completed"``).
        due_date: When a task is due; only tasks have one.
        created_at: See :class:`Record`.
        updated_at: See :class:`Record`.
        provenance: See :class:`Record`.
        field_provenance: See :class:`Record`.

    Example:
        >>> a = Activity(id="act-1", activity_type="call",
        ...              related=[RecordRef("contact", "c-1"), RecordRef("deal", "d-1")])
        >>> [str(r) for r in a.related]
        ['contact:c-1', 'deal:d-1']
    """

    record_type: ClassVar[str] = "activity"

    activity_type: ActivityType
    subject: str | None = None
    body: str | None = None
    related: tuple[RecordRef, ...] = ()
    owner_id: Id | None = None
    occurred_at: datetime | None = None
    outcome: str | None = None
    due_date: date | None = None

    def _invariants(self) -> Iterable[tuple[str, Any, str, str]]:
        yield from super()._invariants()
        if self.due_date is not None and self.activity_type is not ActivityType.TASK:
            yield (
                "due_date",
                self.due_date,
                "due_date.task_only",
                f"only tasks have a due date, not a {self.activity_type.value}",
            )
        seen: set[RecordRef] = set()
        for i, ref in enumerate(self.related):
            if ref in seen:
                yield (f"related[{i}]", str(ref), "related.duplicate", f"{ref} is listed twice")
            seen.add(ref)

    def related_ids(self, record_type: str) -> tuple[str, ...]:
        """Return the ids of the related records of one type, in order."""
        return tuple(r.id for r in self.related if r.record_type == record_type)
