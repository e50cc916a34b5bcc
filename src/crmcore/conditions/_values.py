"""Values of the condition language: the JSON form of rule constants and light coercion.

Rule constants are written with :func:`encode_value` (dates become ``{"$date": iso}``) and read
with :func:`decode_value`. Record values are compared with constants after :func:`align_values`:
enums compare by their ``value``; ISO-8601 strings compare as dates when the other side is a
date or datetime (:func:`to_datetime`: naive values are UTC, a date is its midnight).
"""

from __future__ import annotations

import decimal
import enum
import math
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any

from crmcore.model import parse_datetime

__all__ = [
    "MISSING",
    "align_values",
    "check_constant",
    "decode_value",
    "encode_value",
    "is_empty",
    "plain_value",
    "to_datetime",
    "values_equal",
]

#: A field the record does not have (told apart from a field holding ``None``).
MISSING: Any = object()


def encode_value(value: Any) -> Any:
    """Return the JSON-friendly form of a rule constant (dates become ``{"$date": iso}``,
    decimals ``{"$decimal": "10.50"}``).

    Args:
        value: ``None``, bool, int, float, str, date, datetime, Decimal, or a list / tuple of
            those.

    Returns:
        The encoded value.

    Raises:
        TypeError: If the value cannot be written to a rule file.
    """
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise TypeError(f"non-finite number {value!r} cannot be written to a rule file")
        return value
    if isinstance(value, datetime):
        return {"$datetime": value.isoformat()}
    if isinstance(value, date):
        return {"$date": value.isoformat()}
    if isinstance(value, enum.Enum):
        return encode_value(value.value)
    if isinstance(value, decimal.Decimal):
        if not value.is_finite():
            raise TypeError(f"non-finite number {value!r} cannot be written to a rule file")
        return {"$decimal": str(value)}
    if isinstance(value, (list, tuple)):
        return [encode_value(v) for v in value]
    raise TypeError(f"value {value!r} of type {type(value).__name__} cannot be written to a rule")


def decode_value(value: Any) -> Any:
    """Invert :func:`encode_value` (lists become tuples).

    Args:
        value: A JSON-decoded value.

    Returns:
        The rule constant.

    Raises:
        TypeError: If the value is not a valid encoded constant.
    """
    if isinstance(value, dict):
        if set(value) == {"$date"} and isinstance(value["$date"], str):
            return date.fromisoformat(value["$date"])
        if set(value) == {"$datetime"} and isinstance(value["$datetime"], str):
            return datetime.fromisoformat(value["$datetime"])
        if set(value) == {"$decimal"} and isinstance(value["$decimal"], str):
            try:
                return decimal.Decimal(value["$decimal"])
            except decimal.InvalidOperation:
                raise TypeError(f"not a decimal number: {value['$decimal']!r}") from None
        raise TypeError(f"unknown encoded value {value!r}")
    if isinstance(value, list):
        return tuple(decode_value(v) for v in value)
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"value {value!r} of type {type(value).__name__} is not a rule constant")


def _freeze(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_freeze(v) for v in value)
    return value


def check_constant(value: Any) -> Any:
    value = _freeze(value)
    encode_value(value)  # raises TypeError
    return value


def to_datetime(value: Any) -> datetime | None:
    """Coerce a date, datetime, ISO-8601 string or epoch seconds to an aware datetime.

    Naive values are taken as UTC. Strings may carry the IANA zone suffix the domain model
    writes for ``ZoneInfo`` datetimes (``"2024-05-01T09:30:00+02:00[Europe/Paris]"``).

    Args:
        value: The value to coerce.

    Returns:
        The datetime, or ``None`` when the value is empty or not a date.
    """
    if value is None:
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        # "...+02:00[Europe/Paris]" comes from a model record's to_dict (a ZoneInfo datetime)
        parse = parse_datetime if text.endswith("]") else datetime.fromisoformat
        try:
            parsed = parse(text)
        except ValueError:  # SerializationError is a ValueError too
            return None
        return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return datetime.fromtimestamp(value, tz=UTC)
    return None


def plain_value(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    return value


def align_values(a: Any, b: Any) -> tuple[Any, Any]:
    """Bring a record value ``a`` and a rule constant ``b`` to comparable types."""
    a = plain_value(a)
    if type(a) is type(b):
        return a, b
    if isinstance(a, date) or isinstance(b, date):
        da, db = to_datetime(a), to_datetime(b)
        if da is not None and db is not None:
            return da, db
    return a, b


def values_equal(a: Any, b: Any) -> bool:
    a, b = align_values(a, b)
    try:
        return bool(a == b)
    except TypeError:  # pragma: no cover - exotic __eq__
        return False


def is_empty(value: Any) -> bool:
    if value is None or value is MISSING:
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, (list, tuple, set, frozenset, dict, Mapping)):
        return len(value) == 0
    return False
