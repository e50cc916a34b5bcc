"""Events the engine reacts to: a record created, a record updated (with a diff), time passing.

Records are plain mappings ``field -> value`` with an ``"id"`` and a ``"record_type"``. Domain
model records (attrs instances with ``to_dict()``) are accepted everywhere a record is, through
:func:`as_record`.

Example:
    >>> e = Event.updated({"id": "d1", "record_type": "deal", "stage": "open"},
    ...                   {"id": "d1", "record_type": "deal", "stage": "won"})
    >>> e.kind, e.changes["stage"]
    ('updated', FieldChange(before='open', after='won'))
"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any, Final

import attrs

from crmcore.errors import FieldProblem, ValidationError

EVENT_KINDS: Final = ("created", "updated", "time")
_PLAIN: Final = frozenset({str, int, float, bool, type(None), datetime, date, tuple, list, dict})


@attrs.frozen
class FieldChange:
    """The before and after value of one changed field."""

    before: Any
    after: Any


def as_record(record: Any) -> dict[str, Any]:
    """Return a record as a plain dict (``field -> value``) with ``id`` and ``record_type``.

    Accepts mappings and domain model records (objects with ``to_dict()`` and a ``record_type``
    class attribute, e.g. ``crmcore.model.Deal``); enum values are kept as their ``value``.

    Args:
        record: A mapping or a model record.

    Returns:
        A new dict.

    Raises:
        ValidationError: If the record has no ``id``.
    """
    if isinstance(record, Mapping):
        out = dict(record)
    elif hasattr(record, "to_dict"):
        out = dict(record.to_dict())
        rtype = getattr(record, "record_type", None)
        if isinstance(rtype, str):
            out.setdefault("record_type", rtype)
    else:
        raise ValidationError(
            FieldProblem("record", repr(record), "record.type", "expected a mapping or a record")
        )
    for key, value in out.items():
        # plain values are by far the most common: skip the (slow) enum isinstance for them
        if type(value) not in _PLAIN and isinstance(value, enum.Enum):
            out[key] = value.value
    if out.get("id") in (None, ""):
        raise ValidationError(
            FieldProblem("id", out.get("id"), "record.id", "a record needs an 'id'", None)
        )
    out["id"] = str(out["id"])
    return out


def diff_records(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, FieldChange]:
    """Return ``field -> FieldChange`` for every field whose value differs.

    Args:
        before: The record before the change.
        after: The record after the change.

    Returns:
        The changed fields (a field missing on one side counts as ``None``).
    """
    out: dict[str, FieldChange] = {}
    get = before.get
    for key, new in after.items():
        old = get(key)
        if old is not new and old != new:
            out[key] = FieldChange(old, new)
    for key, old in before.items():
        if key not in after and old is not None:
            out[key] = FieldChange(old, None)
    return out


def _event_id(
    kind: str,
    record: Mapping[str, Any],
    changes: Mapping[str, FieldChange],
    occurred_at: datetime | None,
) -> str:
    text = repr(
        (kind, record.get("record_type"), record.get("id"),
         sorted((k, repr(v.before), repr(v.after)) for k, v in changes.items()),
         repr(record.get("updated_at")), repr(occurred_at))
    )  # fmt: skip
    return "evt-" + hashlib.blake2b(text.encode(), digest_size=10).hexdigest()


@attrs.frozen(eq=False)
class Event:
    """Something that happened to one record.

    Attributes:
        kind: ``"created"``, ``"updated"`` or ``"time"``.
        record: The record after the event (a plain dict with ``id`` and ``record_type``).
        changes: ``field -> FieldChange`` for an update (empty for a creation).
        id: Event id, used for idempotency: the same id is processed once. Derived when not
            given from the record type and id, the change, the record's ``updated_at`` and
            ``occurred_at``, so a redelivered event is recognised while the same change made
            again later is not mistaken for it (pass your queue's message id when you have one).
        occurred_at: When it happened (part of the derived id; a dry run's default clock).
        depth: How many rule-caused events lead here (0 for host events).
        chain: The ``rule(record)`` steps that caused it, for loop errors.
        caused_by: Name of the rule whose actions caused the event, or ``None``.
    """

    kind: str
    record: dict[str, Any]
    changes: dict[str, FieldChange] = attrs.field(factory=dict)
    id: str = ""
    occurred_at: datetime | None = None
    depth: int = 0
    chain: tuple[str, ...] = ()
    caused_by: str | None = None

    def __attrs_post_init__(self) -> None:
        if self.kind not in EVENT_KINDS:
            raise ValidationError(
                FieldProblem("kind", self.kind, "event.kind", f"expected one of {EVENT_KINDS}")
            )
        if not self.id:
            object.__setattr__(
                self, "id", _event_id(self.kind, self.record, self.changes, self.occurred_at)
            )

    @property
    def record_id(self) -> str:
        """The record's id."""
        return str(self.record["id"])

    @property
    def record_type(self) -> str:
        """The record's type (``""`` when the record has none)."""
        return str(self.record.get("record_type") or "")

    def before(self) -> dict[str, Any]:
        """Return the record as it was before the change."""
        out = dict(self.record)
        for key, ch in self.changes.items():
            out[key] = ch.before
        return out

    def change_map(self) -> dict[str, tuple[Any, Any]]:
        """Return ``field -> (before, after)``, the form conditions read."""
        return {k: (v.before, v.after) for k, v in self.changes.items()}

    @classmethod
    def created(
        cls, record: Any, *, id: str = "", occurred_at: datetime | None = None  # noqa: A002
    ) -> Event:
        """A record was created.

        Args:
            record: The new record (mapping or model record).
            id: Event id (derived when empty).
            occurred_at: When.

        Returns:
            The event.
        """
        return cls("created", as_record(record), {}, id, occurred_at)

    @classmethod
    def updated(
        cls,
        before: Any,
        after: Any,
        *,
        id: str = "",  # noqa: A002
        occurred_at: datetime | None = None,
    ) -> Event:
        """A record was updated; the changes are the diff of ``before`` and ``after``.

        Args:
            before: The record before (mapping or model record).
            after: The record after.
            id: Event id (derived when empty).
            occurred_at: When.

        Returns:
            The event.
        """
        old, new = as_record(before), as_record(after)
        return cls("updated", new, diff_records(old, new), id, occurred_at)

    @classmethod
    def changed(
        cls,
        record: Any,
        changes: Mapping[str, Any],
        *,
        id: str = "",  # noqa: A002
        occurred_at: datetime | None = None,
    ) -> Event:
        """A record (its state after) was updated with ``field -> (before, after)`` changes.

        Args:
            record: The record after the change.
            changes: ``field -> (before, after)`` or ``field -> FieldChange``.
            id: Event id (derived when empty).
            occurred_at: When.

        Returns:
            The event.
        """
        diff = {
            k: v if isinstance(v, FieldChange) else FieldChange(v[0], v[1])
            for k, v in changes.items()
        }
        return cls("updated", as_record(record), diff, id, occurred_at)
