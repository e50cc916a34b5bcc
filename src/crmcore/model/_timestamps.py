"""Timezone-aware datetimes as text, keeping the IANA zone name (RFC 9557 suffix).

A ``datetime`` whose ``tzinfo`` is a :class:`zoneinfo.ZoneInfo` knows more than its UTC offset:
the zone's rules. ``2024-03-30 12:00 Europe/Paris`` plus one day is ``2024-03-31 12:00+02:00``
(summer time started overnight); the same instant with a fixed ``+01:00`` offset plus one day
is ``12:00+01:00``, an hour later. So the model writes such a datetime as ISO 8601 with its
offset *and* the zone name in brackets, the extended format of RFC 9557 (also used by Java's
``ZonedDateTime`` and JavaScript's ``Temporal``)::

    2024-03-30T12:00:00+01:00[Europe/Paris]

Other datetimes (``datetime.UTC``, ``timezone(timedelta(hours=2))``, or a ``ZoneInfo`` built
from a file, which has no key) are written as plain ISO 8601, as before; a reader that does not
know the suffix can drop everything from ``"["`` on and keep the exact instant.

Reading is the exact inverse: the wall time, the offset and the zone come back, and the offset
picks ``fold`` where the wall time is ambiguous (the hour repeated when summer time ends) or
falls in a gap. When the offset does not fit the zone at that wall time (data written with other
time zone rules), the wall time in the zone wins, as ``Temporal``'s ``offset: "prefer"`` and
Java's ``ZonedDateTime.parse`` do; so does a wall time given without an offset
(``2024-03-30T12:00[Europe/Paris]``). A critical flag (``[!Europe/Paris]``) is accepted; an
unknown zone name and other bracketed tags (``[u-ca=...]``) are rejected.

Example:
    >>> from datetime import datetime, timedelta
    >>> from zoneinfo import ZoneInfo
    >>> paris = datetime(2024, 3, 30, 12, tzinfo=ZoneInfo("Europe/Paris"))
    >>> format_datetime(paris)
    '2024-03-30T12:00:00+01:00[Europe/Paris]'
    >>> back = parse_datetime(format_datetime(paris))
    >>> back.tzinfo.key, (back + timedelta(days=1)).isoformat()
    ('Europe/Paris', '2024-03-31T12:00:00+02:00')
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from crmcore.errors import FieldProblem, SerializationError


class TimeTextError(Exception):
    """Internal: text is not a timestamp; carries the rule and the message."""

    def __init__(self, rule: str, message: str) -> None:
        super().__init__(message)
        self.rule = rule
        self.message = message


def utc_instant(value: datetime) -> datetime:
    """The instant of an aware datetime, in UTC: compare these, not the datetimes.

    Python compares two datetimes that share one tzinfo object by wall time, ignoring ``fold``:
    in the hour repeated when summer time ends, ``02:50`` (first pass) sorts after ``02:10``
    (second pass, 20 minutes later). Converted to UTC they compare as instants.
    """
    return value.astimezone(UTC)


def zone_name(value: datetime) -> str | None:
    """Return the IANA zone name of a datetime's ``ZoneInfo``, or None for any other tzinfo.

    Example:
        >>> from datetime import UTC
        >>> zone_name(datetime(2024, 1, 1, tzinfo=ZoneInfo("Asia/Tokyo"))), zone_name(
        ...     datetime(2024, 1, 1, tzinfo=UTC))
        ('Asia/Tokyo', None)
    """
    tz = value.tzinfo
    return tz.key if isinstance(tz, ZoneInfo) and tz.key else None


def format_datetime(value: datetime) -> str:
    """Return ISO 8601 text with the UTC offset, plus ``[Zone/Name]`` for a ``ZoneInfo``.

    Args:
        value: A datetime (naive ones are written without offset; the model refuses them).

    Returns:
        ``"2024-05-01T09:30:00+02:00[Europe/Berlin]"`` or ``"2024-05-01T09:30:00+00:00"``.
    """
    text = value.isoformat()
    name = zone_name(value)
    return f"{text}[{name}]" if name is not None else text


def parse_time_text(raw: str) -> datetime:
    """Parse timestamp text; raise :class:`TimeTextError` (rule, message) on failure."""
    text, name = raw, None
    if raw.endswith("]"):
        text, sep, suffix = raw[:-1].rpartition("[")
        name = suffix[1:] if suffix.startswith("!") else suffix
        if not sep or not name or "[" in text or "]" in text or "=" in name:
            raise TimeTextError(
                "datetime.format", f"{raw!r} is not an ISO 8601 datetime with a [Zone/Name]"
            )
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise TimeTextError("datetime.format", f"{raw!r} is not an ISO 8601 datetime") from None
    if name is None:
        return parsed
    try:
        zone = ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise TimeTextError("datetime.zone", f"unknown IANA time zone {name!r}") from None
    if parsed.tzinfo is None:  # "2024-03-30T12:00[Europe/Paris]": a wall time in the zone
        return parsed.replace(tzinfo=zone)
    offset = parsed.utcoffset()
    wall = parsed.replace(tzinfo=zone, fold=0)
    if wall.utcoffset() == offset:
        return wall
    other = wall.replace(fold=1)
    if other.utcoffset() == offset:
        return other  # the second of a repeated hour, or after a gap
    return wall  # the offset does not fit the zone's rules: the wall time in the zone wins


def parse_datetime(text: str, *, field: str = "datetime", record: str | None = None) -> datetime:
    """Parse what :func:`format_datetime` writes (and plain ISO 8601) back into a datetime.

    Args:
        text: ISO 8601 text, optionally followed by ``[Zone/Name]`` (or ``[!Zone/Name]``).
        field: Field name quoted in the error.
        record: Record identifier quoted in the error.

    Returns:
        The datetime; with a zone suffix its ``tzinfo`` is ``ZoneInfo(name)``. Text without an
        offset gives a naive datetime (the model refuses those).

    Raises:
        SerializationError: Rules ``datetime.format`` and ``datetime.zone`` (an unknown zone
            name).
    """
    try:
        return parse_time_text(text)
    except TimeTextError as exc:
        raise SerializationError(FieldProblem(field, text, exc.rule, exc.message, record)) from None
