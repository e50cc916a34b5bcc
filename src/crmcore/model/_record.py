"""The common base of every record type (id, timestamps, provenance)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Annotated, Any

import attrs

from crmcore.model._base import RecordLike, model_spec
from crmcore.model._field_codecs import Id, NonEmpty
from crmcore.model._frozen_map import EMPTY_MAP, FrozenMap
from crmcore.model._timestamps import utc_instant
from crmcore.model._values import Provenance, RecordRef

#: A field name used as a mapping key (custom fields, per-field provenance).
FieldName = Annotated[str, NonEmpty("field_name.required")]

_COMMON = frozenset({"id", "created_at", "updated_at", "provenance", "field_provenance"})


def utc_now() -> datetime:
    """Return the current time as a timezone-aware UTC datetime."""
    return datetime.now(UTC)


@attrs.frozen(kw_only=True)
class Record(RecordLike):
    """Base of every record type: identity, timestamps and provenance.

    Args:
        id: The record's identifier (non-empty).
        created_at: When the record was created (timezone-aware).
        updated_at: When it was last changed (timezone-aware, not before ``created_at``).
        provenance: Where the record as a whole came from.
        field_provenance: Where single values came from, by field name; overrides
            ``provenance`` for that field (see :meth:`provenance_of`).
    """

    id: Id
    created_at: datetime | None = None
    updated_at: datetime | None = None
    provenance: Provenance | None = None
    field_provenance: FrozenMap[FieldName, Provenance] = EMPTY_MAP

    def _invariants(self) -> Iterable[tuple[str, Any, str, str]]:
        if (
            self.created_at is not None
            and self.updated_at is not None
            # instants, not wall times
            and utc_instant(self.updated_at) < utc_instant(self.created_at)
        ):
            yield (
                "updated_at",
                self.updated_at,
                "timestamps.order",
                "updated_at must not be before created_at",
            )
        if self.field_provenance:
            names = model_spec(type(self)).names
            for key in self.field_provenance:
                if key not in names or key in _COMMON:
                    yield (
                        "field_provenance",
                        key,
                        "field_provenance.field",
                        f"{type(self).__name__} has no data field {key!r}",
                    )

    @property
    def ref(self) -> RecordRef:
        """A :class:`RecordRef` pointing at this record."""
        return RecordRef(self.record_type, self.id)

    def provenance_of(self, field: str) -> Provenance | None:
        """Return where the value of ``field`` came from (its own provenance, else the record's)."""
        return self.field_provenance.get(field, self.provenance)
