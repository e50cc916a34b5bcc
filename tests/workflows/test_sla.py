"""Tests for crmcore.workflows.sla."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from crmcore.workflows import BusinessCalendar, always_open

CAL = BusinessCalendar(
    hours={d: (time(9), time(17)) for d in range(5)}, holidays={date(2024, 6, 10)}
)


def brute_add(start: datetime, hours: float) -> datetime:
    """Walk minute by minute, counting open minutes."""
    need = round(hours * 60)
    t = start.replace(second=0, microsecond=0)
    while need > 0:
        if CAL.is_open(t):
            need -= 1
        t += timedelta(minutes=1)
    while not CAL.is_open(t - timedelta(minutes=1)) and hours > 0:
        t -= timedelta(minutes=1)
    return t


class TestAddBusinessHours:
    def test_skips_weekend_and_holiday(self) -> None:
        """Friday 16:00 + 2 h skips the weekend and the Monday holiday."""
        got = CAL.add_business_hours(datetime(2024, 6, 7, 16, tzinfo=UTC), 2)
        assert got == datetime(2024, 6, 11, 10, tzinfo=UTC)

    @settings(max_examples=25, deadline=None)
    @given(st.integers(0, 14 * 24 * 4), st.integers(1, 30))
    def test_matches_minute_walk(self, quarter: int, hours: int) -> None:
        """The due time equals a minute-by-minute walk over open time."""
        start = datetime(2024, 6, 3, tzinfo=UTC) + timedelta(minutes=15 * quarter)
        assert CAL.add_business_hours(start, hours) == brute_add(start, hours)

    def test_always_open(self) -> None:
        """An always-open calendar adds (almost) wall-clock hours."""
        start = datetime(2024, 6, 3, 10, tzinfo=UTC)
        got = always_open().add_business_hours(start, 5)
        assert abs((got - start) - timedelta(hours=5)) < timedelta(seconds=1)


class TestBusinessHoursBetween:
    @settings(max_examples=25, deadline=None)
    @given(st.integers(0, 14 * 24 * 4), st.integers(0, 40))
    def test_inverse_of_add(self, quarter: int, hours: int) -> None:
        """Business hours between start and start + h business hours is h."""
        start = datetime(2024, 6, 3, tzinfo=UTC) + timedelta(minutes=15 * quarter)
        end = CAL.add_business_hours(start, hours)
        assert abs(CAL.business_hours_between(start, end) - hours) < 1e-9


_ZONES = ("Europe/London", "America/New_York", "Australia/Sydney")
# days with a DST change in one of the zones (2024): London 31 Mar / 27 Oct, New York 10 Mar /
# 3 Nov, Sydney 7 Apr / 6 Oct
_DST_DAYS = (
    date(2024, 3, 31), date(2024, 10, 27), date(2024, 3, 10), date(2024, 11, 3),
    date(2024, 4, 7), date(2024, 10, 6),
)  # fmt: skip


def _minute_walk(cal: BusinessCalendar, start: datetime, minutes: int) -> datetime:
    """Reference: walk real (UTC) minutes, counting those when the business is open."""
    from zoneinfo import ZoneInfo

    t = start.astimezone(UTC)
    tz = ZoneInfo(str(cal.tz))

    def open_at(u: datetime) -> bool:
        local = u.astimezone(tz)
        span = cal.hours.get(local.weekday())
        if span is None or local.date() in cal.holidays:
            return False
        return span[0] <= local.time().replace(tzinfo=None) < span[1]

    need = minutes
    while need > 0:
        if open_at(t):
            need -= 1
        t += timedelta(minutes=1)
    return t


class TestDaylightSaving:
    @settings(max_examples=60, deadline=None)
    @given(
        st.sampled_from(_ZONES),
        st.sampled_from(_DST_DAYS),
        st.integers(-36 * 4, 36 * 4),
        st.integers(0, 30 * 4),
        st.booleans(),
    )
    def test_add_matches_real_minute_walk(self, zone, day, quarter, q_hours, around_clock) -> None:
        """Across DST changes, SLA hours are real elapsed open hours (a minute walk agrees)."""
        from zoneinfo import ZoneInfo

        tz = ZoneInfo(zone)
        if around_clock:
            cal = always_open(tz=tz)
        else:
            cal = BusinessCalendar(hours={d: (time(0, 30), time(3)) for d in range(7)} | {
                0: (time(1), time(23))}, tz=tz)  # fmt: skip
        start = datetime.combine(day, time(0), tzinfo=UTC) + timedelta(minutes=15 * quarter)
        hours = q_hours / 4
        got = cal.add_business_hours(start, hours)
        want = _minute_walk(cal, start, round(hours * 60))
        if hours > 0:  # the walk stops one minute after the last open minute it counted
            assert got.astimezone(UTC) == want, (start, hours)
        else:
            assert got.astimezone(UTC) >= start
        assert abs(cal.business_hours_between(start, got) - hours) < 1e-9
