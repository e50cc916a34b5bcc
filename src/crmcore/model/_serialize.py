"""Plain-dict and JSON round trips for every model type, dispatching on ``"record_type"``.

Encoding rules (the inverse is exact, so ``from_dict(to_dict(r)) == r``):

* ``Decimal`` -> string (``"1250.00"``; exponent and trailing zeros kept);
* timezone-aware ``datetime`` -> ISO 8601 with its UTC offset (``"2024-05-01T09:30:00+02:00"``);
  with a ``ZoneInfo`` tzinfo the IANA zone name follows in brackets (RFC 9557:
  ``"2024-05-01T09:30:00+02:00[Europe/Berlin]"``), so the zone (its rules, for arithmetic
  across a DST change) comes back too, with the same wall time and ``fold``;
* ``date`` -> ``"YYYY-MM-DD"``; enums -> their values;
* tuples -> lists (order kept); frozensets -> lists sorted for stable output;
* nested values (address, provenance, references, memberships) -> dicts;
* mappings (custom fields, per-field provenance) -> dicts.

Example:
    >>> from crmcore.model import Contact
    >>> c = Contact(id="c-1", emails=("a@example.com",), tags={"vip"})
    >>> from_json(to_json(c)) == c
    True
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from crmcore.errors import FieldProblem, SerializationError
from crmcore.model._base import ModelBase
from crmcore.model._record import Record
from crmcore.model._registry import record_class, record_types


def to_dict(record: Record) -> dict[str, Any]:
    """Return the plain, JSON-friendly dict of ``record`` (with its ``"record_type"``).

    Args:
        record: Any model record (or nested value).

    Returns:
        A dict that :func:`from_dict` turns back into an equal record.

    Example:
        >>> from crmcore.model import Account
        >>> to_dict(Account(id="a-1", name="Acme"))["record_type"]
        'account'
    """
    if not isinstance(record, ModelBase):
        raise TypeError(f"expected a crmcore model value, got {type(record).__name__}")
    return record.to_dict()


def from_dict(data: Mapping[str, Any]) -> Record:
    """Build the record described by ``data``, choosing its class by ``data["record_type"]``.

    Args:
        data: A mapping as produced by :func:`to_dict`.

    Returns:
        The record.

    Raises:
        SerializationError: If ``record_type`` is missing or unknown, or the payload is bad;
            each problem names the field.
    """
    if not isinstance(data, Mapping):
        raise SerializationError(
            FieldProblem(
                "<payload>", data, "type", f"expected a mapping, got {type(data).__name__}"
            )
        )
    record_type = data.get("record_type")
    record_id = data.get("id") if isinstance(data.get("id"), str) else None
    if not isinstance(record_type, str) or record_type not in record_types():
        raise SerializationError(
            FieldProblem(
                "record_type",
                record_type,
                "record_type.unknown",
                "record_type must be one of " + ", ".join(map(repr, record_types())),
                record_id,
            )
        )
    record = record_class(record_type).from_dict(data)
    assert isinstance(record, Record)
    return record


def from_dicts(
    rows: Iterable[Mapping[str, Any]],
) -> tuple[list[Record], list[tuple[int, SerializationError]]]:
    """Build records from many payloads, collecting failures instead of stopping.

    Args:
        rows: Payloads as produced by :func:`to_dict`.

    Returns:
        ``(records, rejected)`` where ``rejected`` lists ``(row index, error)`` for every payload
        that could not be built; every input row is in exactly one of the two lists.
    """
    records: list[Record] = []
    rejected: list[tuple[int, SerializationError]] = []
    for i, row in enumerate(rows):
        try:
            records.append(from_dict(row))
        except SerializationError as exc:
            rejected.append((i, exc))
    return records, rejected


def to_json(record: Record, *, indent: int | None = None) -> str:
    """Return ``record`` as a JSON document (see :func:`to_dict` for the encoding).

    Args:
        record: Any model record.
        indent: Passed to :func:`json.dumps` for pretty output.
    """
    return json.dumps(to_dict(record), ensure_ascii=False, indent=indent)


def from_json(text: str | bytes) -> Record:
    """Build a record from a JSON document made by :func:`to_json`.

    Raises:
        SerializationError: If the text is not JSON, or the payload is bad.
    """
    try:
        data = json.loads(text)
    except (ValueError, TypeError) as exc:
        raise SerializationError(
            FieldProblem("<json>", text, "json.syntax", f"not a JSON document: {exc}")
        ) from exc
    return from_dict(data)
