"""SLA timers with business hours and holidays.

The host gives a :class:`BusinessCalendar`: opening hours per weekday, holidays, and a time
zone. ``add_business_hours(start, hours)`` gives the due time of an SLA that runs only while the
business is open; ``business_hours_between(a, b)`` measures elapsed business time.

Example:
    >>> from datetime import datetime, time
    >>> from zoneinfo import ZoneInfo
    >>> cal = BusinessCalendar(hours={d: (time(9), time(17)) for d in range(5)},
    ...                        tz=ZoneInfo("UTC"))
    >>> cal.add_business_hours(datetime(2024, 6, 7, 16, tzinfo=ZoneInfo("UTC")), 2)  # Friday
    datetime.datetime(2024, 6, 10, 10, 0, tzinfo=zoneinfo.ZoneInfo(key='UTC'))
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any

import attrs

from crmcore.errors import FieldProblem, RuleValidationError


def _hours(value: Mapping[int, tuple[time, time]]) -> dict[int, tuple[time, time]]:
    out: dict[int, tuple[time, time]] = {}
    for day, span in dict(value).items():
        if day not in range(7):
            raise RuleValidationError(
                FieldProblem("hours", day, "calendar.weekday", "weekdays are 0 (Monday) .. 6")
            )
        start, end = span
        if not (isinstance(start, time) and isinstance(end, time)) or not start < end:
            raise RuleValidationError(
                FieldProblem("hours", span, "calendar.span", "expected (open, close), open < close")
            )
        out[day] = (start, end)
    if not out:
        raise RuleValidationError(
            FieldProblem("hours", value, "calendar.hours", "a calendar needs opening hours")
        )
    return out


def _holidays(values: Iterable[date]) -> frozenset[date]:
    return frozenset(values)


@attrs.frozen
class BusinessCalendar:
    """Opening hours per weekday (0 = Monday), holidays and a time zone.

    Attributes:
        hours: ``weekday -> (open, close)`` local times; days not listed are closed; a close of
            ``time.max`` means midnight. Hours are real elapsed time: across a daylight-saving
            change a 09:00-17:00 day still opens and closes at 09:00 and 17:00 local time.
        holidays: Closed dates.
        tz: Time zone of the opening hours.
    """

    hours: Mapping[int, tuple[time, time]] = attrs.field(converter=_hours, hash=False)
    holidays: frozenset[date] = attrs.field(factory=frozenset, converter=_holidays)
    tz: tzinfo = UTC

    def _span(self, day: date) -> tuple[datetime, datetime] | None:
        if day in self.holidays or day.weekday() not in self.hours:
            return None
        start, end = self.hours[day.weekday()]
        close = (
            datetime.combine(day + timedelta(days=1), time(0), tzinfo=self.tz)
            if end == time.max  # open until midnight (no 1 µs gap between days)
            else datetime.combine(day, end, tzinfo=self.tz)
        )
        return datetime.combine(day, start, tzinfo=self.tz).astimezone(UTC), close.astimezone(UTC)

    def add_business_hours(self, start: datetime, hours: float) -> datetime:
        """Return the time ``hours`` business hours after ``start``.

        Args:
            start: Aware (naive is taken as UTC) start time.
            hours: Business hours to add (>= 0).

        Returns:
            The due time, in the calendar's time zone.
        """
        if hours < 0:
            raise RuleValidationError(FieldProblem("hours", hours, "sla.hours", "must be >= 0"))
        # arithmetic on UTC instants: an aware local datetime plus a timedelta is wall-clock
        # arithmetic, an hour off across a daylight-saving change
        aware = start if start.tzinfo else start.replace(tzinfo=UTC)
        current = aware.astimezone(UTC)
        remaining = timedelta(hours=hours)
        day = aware.astimezone(self.tz).date()
        for _ in range(3660):  # ten years of days is plenty
            span = self._span(day)
            if span is not None:
                open_at = max(span[0], current)
                if open_at < span[1]:
                    available = span[1] - open_at
                    if remaining <= available:
                        return (open_at + remaining).astimezone(self.tz)
                    remaining -= available
            day += timedelta(days=1)
        raise RuleValidationError(
            FieldProblem("hours", hours, "sla.calendar", "the calendar is closed for 10 years")
        )

    def business_hours_between(self, start: datetime, end: datetime) -> float:
        """Return the business hours elapsed from ``start`` to ``end`` (0 if end <= start)."""
        a = (start if start.tzinfo else start.replace(tzinfo=UTC)).astimezone(UTC)
        b = (end if end.tzinfo else end.replace(tzinfo=UTC)).astimezone(UTC)
        total = timedelta()
        day = a.astimezone(self.tz).date()
        last = b.astimezone(self.tz).date()
        while day <= last:
            span = self._span(day)
            if span is not None:
                lo, hi = max(span[0], a), min(span[1], b)
                if hi > lo:
                    total += hi - lo
            day += timedelta(days=1)
        return total.total_seconds() / 3600.0

    def is_open(self, when: datetime) -> bool:
        """Return whether the business is open at ``when``."""
        aware = when if when.tzinfo else when.replace(tzinfo=UTC)
        span = self._span(aware.astimezone(self.tz).date())
        return span is not None and span[0] <= aware < span[1]


def always_open(**kwargs: Any) -> BusinessCalendar:
    """A calendar open around the clock every day (SLA hours are wall-clock hours)."""
    hours = {d: (time(0), time.max) for d in range(7)}  # time.max: until midnight
    return BusinessCalendar(hours=hours, **kwargs)
