"""Dates and timestamps via dateutil, with ambiguous day/month order reported, not guessed.

:func:`normalize_date` returns an ISO 8601 date (``2025-04-03``); :func:`normalize_datetime`
returns a timezone-aware ISO 8601 timestamp in UTC (``2025-04-03T09:30:00+00:00``).

Rules:

* ``YYYY-MM-DD`` (ISO) is read year-month-day, always; ISO 8601 dates and timestamps take a
  fast path (``datetime.fromisoformat``) that gives what dateutil gives.
* Numeric ``A/B/YYYY`` (also with ``.`` or ``-``): when ``dayfirst`` is None (the source's
  convention is unknown) the order is decided only when it is certain (``25/03/2025`` is day
  first, ``03/25/2025`` month first, ``04/04/2025`` either way); ``03/04/2025`` is rejected with
  rule ``date.ambiguous``. ``dayfirst=True`` / ``False`` states the convention.
* Other forms (``4 March 2025``, ``Mar 4, 2025``, ``20250304``) are read by dateutil; a value
  missing its day, month or year (``March 2025``) is rejected as ``date.incomplete``.
* All-zero dates (``0000-00-00``, ``00/00/0000``) carry no information: None, no issue.
* Years outside 1800-2200 are rejected as ``date.range``.
* Timestamps may be Unix time: 9-10 digits are seconds, 12-13 digits milliseconds (UTC).
* Timestamps without a zone are read in ``default_tz`` (``"UTC"`` unless given, any IANA
  name); an unknown zone name is rejected as ``datetime.timezone``.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterable, MutableSequence
from datetime import UTC, date, datetime, timedelta, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dateutil import parser as du_parser
from dateutil import tz as du_tz

from crmcore.errors import FieldProblem, SerializationError
from crmcore.model import parse_datetime
from crmcore.normalize._core import Normalizer, Outcome, Rejection, clean_text

_ISO = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})(?:$|[T ])")
_NUMERIC = re.compile(r"(\d{1,2})([/.\-])(\d{1,2})\2(\d{2}|\d{4})(?:$|[T ,])")
_ZEROS = re.compile(r"[0\s/.\-:T]+")
_DEFAULT_A = datetime(2000, 1, 1)  # sentinels for missing parts
_DEFAULT_B = datetime(2001, 2, 2)
_TZINFOS = {
    "UTC": 0,
    "GMT": 0,
    "Z": 0,
    "BST": 3600,
    "CET": 3600,
    "CEST": 7200,
    "EET": 7200,
    "EEST": 10800,
    "WET": 0,
    "WEST": 3600,
    "EST": -5 * 3600,
    "EDT": -4 * 3600,
    "CST": -6 * 3600,
    "CDT": -5 * 3600,
    "MST": -7 * 3600,
    "MDT": -6 * 3600,
    "PST": -8 * 3600,
    "PDT": -7 * 3600,
    "JST": 9 * 3600,
    "AEST": 10 * 3600,
    "AEDT": 11 * 3600,
}


def _order(text: str, dayfirst: bool | None) -> bool | Rejection:
    """Decide the day/month order of ``text``; return dayfirst or a rejection."""
    if _ISO.match(text):
        return False
    found = _NUMERIC.match(text)
    if found is None:
        return bool(dayfirst)
    a, b = int(found.group(1)), int(found.group(3))
    if a > 12 and b > 12:
        return Rejection("date.format", f"{text!r} has no month (both parts above 12)")
    if a > 12:
        return True
    if b > 12:
        return False
    if dayfirst is not None or a == b:
        return bool(dayfirst)
    return Rejection(
        "date.ambiguous",
        f"{text!r} could be day {a} month {b} or month {a} day {b}; "
        "state the source's convention with dayfirst=True or dayfirst=False",
    )


_ISO_FAST = re.compile(
    r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?)?(?:Z|[+-]\d{2}:?\d{2})?"
)


def _parse(text: str, dayfirst: bool | None, rule: str) -> datetime | Rejection | None:
    """Fast path for ISO 8601 text (``datetime.fromisoformat``), else :func:`_parse_full`.

    Text ending in an RFC 9557 zone suffix (``2024-03-30T12:00:00+01:00[Europe/Paris]``, as
    crmcore's model writes zoned datetimes) is read by :func:`crmcore.model.parse_datetime`.
    """
    if text.rstrip().endswith("]"):
        try:
            zoned = parse_datetime(text.strip(), field=rule)
        except SerializationError as exc:
            problem = exc.problems[0]
            bad_zone = problem.rule == "datetime.zone"
            return Rejection("datetime.timezone" if bad_zone else f"{rule}.format", problem.message)
        if not 1800 <= zoned.year <= 2200:
            return Rejection(f"{rule}.range", f"year {zoned.year} is outside 1800-2200")
        return zoned
    if _ISO_FAST.fullmatch(text):
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            pass
        else:
            if 1800 <= parsed.year <= 2200:
                return parsed
    return _parse_full(text, dayfirst, rule)


def _parse_full(text: str, dayfirst: bool | None, rule: str) -> datetime | Rejection | None:
    """The reference path (dateutil); the ISO fast path of :func:`_parse` agrees with it."""
    text = clean_text(text)
    if not text:
        return None
    if len(text) > 100:
        return Rejection(f"{rule}.format", "a date longer than 100 characters")
    if not _ZEROS.sub("", text):
        return None
    order = _order(text, dayfirst)
    if isinstance(order, Rejection):
        return Rejection(order.rule.replace("date.", f"{rule}."), order.message)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            first = du_parser.parse(text, dayfirst=order, default=_DEFAULT_A, tzinfos=_TZINFOS)
            second = du_parser.parse(text, dayfirst=order, default=_DEFAULT_B, tzinfos=_TZINFOS)
        except (ValueError, OverflowError, TypeError, LookupError) as exc:
            return Rejection(f"{rule}.format", f"{text!r} is not a date: {exc}")
    if caught:
        return Rejection("datetime.timezone", f"{text!r}: {caught[0].message}")
    if first.date() != second.date():
        return Rejection(f"{rule}.incomplete", f"{text!r} lacks a day, month or year")
    if not 1800 <= first.year <= 2200:
        return Rejection(f"{rule}.range", f"year {first.year} is outside 1800-2200")
    return first


def _date_core(text: str, *, dayfirst: bool | None = None) -> Outcome:
    parsed = _parse(text, dayfirst, "date")
    if not isinstance(parsed, datetime):
        return parsed
    return parsed.date().isoformat()


@lru_cache(maxsize=64)
def _zone(name: str) -> timezone | ZoneInfo | du_tz.tzfile | None:
    if name.upper() in {"UTC", "Z", "GMT"}:
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


_UNIX_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH = re.compile(r"(\d{9,10})(\d{3})?(?:\.(\d{1,6}))?")


def _epoch(text: str) -> datetime | None:
    """Read Unix time in seconds (9-10 digits) or milliseconds (12-13 digits), else None."""
    found = _EPOCH.fullmatch(text)
    if (
        found is None
        or not text.strip("0.")
        or (found.group(2) is not None and found.group(3) is not None)
    ):
        return None
    if found.group(2) is not None:
        return _UNIX_EPOCH + timedelta(milliseconds=int(text))
    micros = int((found.group(3) or "").ljust(6, "0"))
    return _UNIX_EPOCH + timedelta(seconds=int(found.group(1)), microseconds=micros)


def _datetime_core(text: str, *, dayfirst: bool | None = None, default_tz: str = "UTC") -> Outcome:
    parsed = _epoch(text) or _parse(text, dayfirst, "datetime")
    if not isinstance(parsed, datetime):
        return parsed
    if parsed.tzinfo is None:
        zone = _zone(default_tz)
        if zone is None:
            return Rejection("datetime.timezone", f"unknown default time zone {default_tz!r}")
        parsed = parsed.replace(tzinfo=zone)
    try:
        moment = parsed.astimezone(UTC)
    except (OverflowError, ValueError) as exc:
        return Rejection("datetime.range", f"{text!r} cannot be expressed in UTC: {exc}")
    if not 1800 <= moment.year <= 2200:
        return Rejection("datetime.range", f"year {moment.year} (UTC) is outside 1800-2200")
    return moment.isoformat()


DATE = Normalizer("date", _date_core, "ISO 8601 date")
"""Dates (registry name ``"date"``; option ``dayfirst``)."""
DATETIME = Normalizer("datetime", _datetime_core, "ISO 8601 timestamp in UTC")
"""Timestamps (registry name ``"datetime"``; options ``dayfirst``, ``default_tz``)."""


#: Fewest values only one order can read before :func:`date_order` decides a column's order.
DATE_ORDER_EVIDENCE = 3


def date_order(values: Iterable[str | None]) -> bool | None:
    """The day/month order a column of numeric dates (``A/B/YYYY``, also with ``.`` or ``-``)
    shows: True (day first), False (month first) or None (undecided).

    One source writes its dates one way, and the values only one order can read (``25/03/2025``
    is day first, ``03/25/2025`` month first) show which; the column's ambiguous values
    (``03/04/2025``) are then read the same way (``normalize_date(..., dayfirst=...)``). It
    decides when at least :data:`DATE_ORDER_EVIDENCE` values read one way and at most one in 50
    of those the other way (a typo); a column that mixes the two conventions (several sources)
    stays undecided, and its ambiguous values are rejected as before. ISO and written-out dates
    are no evidence.

    Example:
        >>> date_order(["25.03.1961", "06.11.1961", "30.01.1970", "13.12.2001", None])
        True
        >>> date_order(["03/25/2025", "12/31/1999", "01/13/1980", "04/05/2006"])
        False
        >>> date_order(["25/03/2025", "03/25/2025", "13/01/1980", "01/13/1980"]) is None
        True
    """
    first = second = 0
    for text in values:
        found = None if text is None else _NUMERIC.match(text.strip())
        if found is None:
            continue
        a, b = int(found.group(1)), int(found.group(3))
        if a > 12 >= b:
            first += 1
        elif b > 12 >= a:
            second += 1
    most, least = max(first, second), min(first, second)
    if most < DATE_ORDER_EVIDENCE or least * 50 > most:
        return None
    return first > second


def normalize_date(
    value: str | date | None,
    *,
    dayfirst: bool | None = None,
    strict: bool = False,
    issues: MutableSequence[FieldProblem] | None = None,
    field: str = "date",
    record: str | None = None,
) -> str | None:
    """Normalise a date to ISO 8601 (``YYYY-MM-DD``); see the module rules.

    Args:
        value: The raw value (text, or a ``date`` / ``datetime``).
        dayfirst: The source's convention for numeric dates: True (``dd/mm``), False
            (``mm/dd``) or None (unknown: ambiguous values are rejected, not guessed).
        strict: Raise instead of returning None for a rejected value.
        issues: A list that receives one :class:`~crmcore.errors.FieldProblem` per rejection.
        field: Field name quoted in problems.
        record: Record identifier quoted in problems.

    Returns:
        The ISO date, or None.

    Raises:
        NormalizationError: In strict mode, for an ambiguous, incomplete or invalid date.

    Example:
        >>> normalize_date("25/03/2025"), normalize_date("Mar 4, 2025")
        ('2025-03-25', '2025-03-04')
        >>> issues = []
        >>> normalize_date("03/04/2025", issues=issues), issues[0].rule
        (None, 'date.ambiguous')
        >>> normalize_date("03/04/2025", dayfirst=True)
        '2025-04-03'
    """
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return DATE(value, dayfirst=dayfirst, strict=strict, issues=issues, field=field, record=record)


def normalize_datetime(
    value: str | datetime | None,
    *,
    dayfirst: bool | None = None,
    default_tz: str = "UTC",
    strict: bool = False,
    issues: MutableSequence[FieldProblem] | None = None,
    field: str = "created_at",
    record: str | None = None,
) -> str | None:
    """Normalise a timestamp to a timezone-aware ISO 8601 string in UTC.

    Args:
        value: The raw value (text or a ``datetime``).
        dayfirst: As for :func:`normalize_date`.
        default_tz: IANA zone for values without a zone (default UTC).
        strict: Raise instead of returning None for a rejected value.
        issues: A list that receives one :class:`~crmcore.errors.FieldProblem` per rejection.
        field: Field name quoted in problems.
        record: Record identifier quoted in problems.

    Returns:
        ``YYYY-MM-DDTHH:MM:SS+00:00`` (microseconds when present), or None.

    Raises:
        NormalizationError: In strict mode, for an ambiguous, incomplete or invalid timestamp.

    Example:
        >>> normalize_datetime("2025-03-04 10:30:00+02:00")
        '2025-03-04T08:30:00+00:00'
        >>> normalize_datetime("2025-03-04 10:30", default_tz="Europe/Berlin")
        '2025-03-04T09:30:00+00:00'
    """
    if isinstance(value, datetime):
        value = value.isoformat()
    return DATETIME(
        value,
        dayfirst=dayfirst,
        default_tz=default_tz,
        strict=strict,
        issues=issues,
        field=field,
        record=record,
    )
