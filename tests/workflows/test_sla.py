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
