"""Source records and field candidates: the generic input of survivorship.

A :class:`SourceRecord` is one record as one source system saw it: an id, the source system, when
it was observed, and its field values. Survivorship never needs more than that, so it works the
same for domain model records (see :mod:`crmcore.survivorship._adapters`), for rows of a
:class:`crmcore.io.Table` and for plain dicts.

Times are compared in whole microseconds since the Unix epoch; a naive ``datetime`` is read as UTC.
"""

from __future__ import annotations

import datetime as dt
import types
from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from crmcore.errors import FieldProblem, SurvivorshipError

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_MICRO = dt.timedelta(microseconds=1)


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    if value is None:
        return None
    if not isinstance(value, dt.datetime):
        raise SurvivorshipError(
            str(FieldProblem("observed_at", value, "survivorship.datetime", "not a datetime"))
        )
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


def to_microseconds(value: dt.datetime | None) -> int | None:
    """Return whole microseconds since the Unix epoch (naive datetimes are UTC), or None.

    Example:
        >>> to_microseconds(dt.datetime(1970, 1, 1, 0, 0, 1))
        1000000
    """
    aware = _aware(value)
    if aware is None:
        return None
    return (aware - _EPOCH) // _MICRO


def is_missing(value: object) -> bool:
    """Return True for None, blank strings and empty collections: values that are not there.

    Example:
        >>> is_missing("  "), is_missing(()), is_missing(0)
        (True, True, False)
    """
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, (list, tuple, set, frozenset, Mapping)):
        return len(value) == 0
    return False


def _freeze_values(values: Mapping[str, Any]) -> Mapping[str, Any]:
    if not isinstance(values, Mapping):
        raise SurvivorshipError(f"values must be a mapping of field -> value, not {values!r}")
    return types.MappingProxyType({str(k): v for k, v in values.items()})


def _freeze_times(
    values: Mapping[str, dt.datetime | None] | None,
) -> Mapping[str, dt.datetime | None] | None:
    if values is None:
        return None
    return types.MappingProxyType({str(k): _aware(v) for k, v in values.items()})


def _non_empty(_inst: object, attribute: attrs.Attribute[str], value: str) -> None:
    if not isinstance(value, str) or not value:
        raise SurvivorshipError(
            str(FieldProblem(attribute.name, value, "survivorship.required", "must be a non-empty"
                             " string"))
        )


@attrs.frozen(eq=True, unsafe_hash=False)
class SourceRecord:
    """One record as one source system saw it.

    Args:
        record_id: Unique id of the record (unique across every source in one merge).
        source_system: Name of the system it came from (``"salesforce"``, ``"webform"`` ...).
        observed_at: When the record was last observed / updated (naive means UTC); ``None`` when
            unknown (such values lose "most recent" contests to dated ones).
        values: Field name to value; ``None``, blank strings and empty collections count as
            missing.
        field_observed_at: Optional per-field observation times that override ``observed_at``
            for those fields (a CRM that tracks field history).

    Example:
        >>> r = SourceRecord("c1", "crm", None, {"email": "ann@x.com"})
        >>> r.values["email"]
        'ann@x.com'
    """

    record_id: str = attrs.field(validator=_non_empty)
    source_system: str = attrs.field(validator=_non_empty)
    observed_at: dt.datetime | None = attrs.field(converter=_aware)
    values: Mapping[str, Any] = attrs.field(converter=_freeze_values)
    field_observed_at: Mapping[str, dt.datetime | None] | None = attrs.field(
        default=None, converter=_freeze_times
    )

    __hash__ = None  # type: ignore[assignment]  # values may hold unhashable things

    def observed(self, field: str) -> dt.datetime | None:
        """Return when ``field`` was observed: its own time if tracked, else the record's."""
        if self.field_observed_at is not None and field in self.field_observed_at:
            return self.field_observed_at[field]
        return self.observed_at

    def with_values(self, **changes: Any) -> SourceRecord:
        """Return a copy with some values replaced (a changed source record)."""
        return attrs.evolve(self, values={**self.values, **changes})

    def to_dict(self) -> dict[str, Any]:
        """Return a plain dict (times as ISO strings)."""
        return {
            "record_id": self.record_id,
            "source_system": self.source_system,
            "observed_at": None if self.observed_at is None else self.observed_at.isoformat(),
            "values": dict(self.values),
            "field_observed_at": None
            if self.field_observed_at is None
            else {
                k: None if v is None else v.isoformat() for k, v in self.field_observed_at.items()
            },
        }


def _hashable(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return tuple(_hashable(v) for v in value)
    if isinstance(value, (set, frozenset)):
        return tuple(sorted((_hashable(v) for v in value), key=repr))
    if isinstance(value, Mapping):
        return tuple(sorted((str(k), _hashable(v)) for k, v in value.items()))
    return value


def default_key(value: Any) -> Any:
    """The default equality key of a value: text is case-folded with whitespace collapsed."""
    if isinstance(value, str):
        return " ".join(value.split()).casefold()
    return _hashable(value)


@attrs.frozen(unsafe_hash=False)
class Candidate:
    """One source record's value for one field, as a contender for the golden record.

    Args:
        value: The raw value as the source had it (winners are always raw source values).
        record_id: Id of the source record.
        source_system: Its source system.
        observed_at: When this value was observed (per-field time, else the record's).
        key: The equality key (values with equal keys count as the same value for frequency and
            conflicts).
    """

    value: Any
    record_id: str
    source_system: str
    observed_at: dt.datetime | None
    key: Any

    __hash__ = None  # type: ignore[assignment]  # values may be unhashable

    @property
    def observed_us(self) -> int | None:
        """Observation time in microseconds since the epoch, or None."""
        return to_microseconds(self.observed_at)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-friendly dict."""
        value = self.value
        if isinstance(value, (tuple, set, frozenset)):
            value = sorted(value, key=repr)
        return {
            "value": value,
            "record_id": self.record_id,
            "source_system": self.source_system,
            "observed_at": None if self.observed_at is None else self.observed_at.isoformat(),
        }


def check_unique_ids(records: Iterable[SourceRecord]) -> None:
    """Raise :class:`SurvivorshipError` when two records share a record id."""
    seen: set[str] = set()
    for r in records:
        if r.record_id in seen:
            raise SurvivorshipError(
                str(FieldProblem("record_id", r.record_id, "survivorship.unique_ids",
                                 "two input records share this id", r.record_id))
            )
        seen.add(r.record_id)
