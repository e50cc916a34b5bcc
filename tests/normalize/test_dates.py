"""Dates: ambiguity reported rather than guessed, brute-force day/month reference."""

from __future__ import annotations

import contextlib
import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crmcore.errors import FieldProblem
from crmcore.normalize import DATE_ORDER_EVIDENCE, date_order, normalize_date, normalize_datetime
from crmcore.normalize._dates import _parse, _parse_full


class TestAmbiguity:
    @pytest.mark.parametrize("sep", ["/", ".", "-"])
    def test_every_day_month_pair(self, sep: str) -> None:
        """For every A/B/2025: the decision matches a brute-force reading of both orders."""
        for a in range(1, 32):
            for b in range(1, 32):
                text = f"{a:02d}{sep}{b:02d}{sep}2025"
                readings = set()
                for day, month in ((a, b), (b, a)):
                    with contextlib.suppress(ValueError):
                        readings.add(dt.date(2025, month, day).isoformat())
                issues: list[FieldProblem] = []
                out = normalize_date(text, issues=issues)
                if len(readings) == 1:
                    assert out == readings.pop(), text
                elif len(readings) == 2:
                    assert out is None, text
                    assert issues[0].rule == "date.ambiguous", text
                    day_first = normalize_date(text, dayfirst=True)
                    month_first = normalize_date(text, dayfirst=False)
                    assert day_first == dt.date(2025, b, a).isoformat()
                    assert month_first == dt.date(2025, a, b).isoformat()
                else:
                    assert out is None, text
                    assert issues, text

    @settings(max_examples=200, deadline=None)
    @given(st.dates(dt.date(1800, 1, 1), dt.date(2200, 12, 31)))
    def test_iso_round_trip(self, day: dt.date) -> None:
        """ISO dates and date objects come back unchanged."""
        assert normalize_date(day.isoformat()) == day.isoformat()
        assert normalize_date(day) == day.isoformat()
        assert normalize_date(day.strftime("%d %B %Y")) == day.isoformat()


class TestTimestamps:
    @settings(max_examples=200, deadline=None)
    @given(
        st.datetimes(
            dt.datetime(1900, 1, 2),
            dt.datetime(2199, 12, 30),
            timezones=st.sampled_from([dt.UTC, dt.timezone(dt.timedelta(hours=-5))]),
        )
    )
    def test_aware_and_in_utc(self, moment: dt.datetime) -> None:
        """Any aware timestamp comes back as the same instant in UTC."""
        out = normalize_datetime(moment.isoformat())
        assert out is not None
        parsed = dt.datetime.fromisoformat(out)
        assert parsed.utcoffset() == dt.timedelta(0)
        assert parsed == moment
        assert normalize_datetime(moment) == out

    def test_unix_time(self) -> None:
        """Unix seconds and milliseconds are read as UTC."""
        assert normalize_datetime("0946684800") == "2000-01-01T00:00:00+00:00"
        assert normalize_datetime("946684800500") == "2000-01-01T00:00:00.500000+00:00"


class TestIsoFastPath:
    @settings(max_examples=300, deadline=None)
    @given(
        st.datetimes(dt.datetime(1700, 1, 1), dt.datetime(2300, 12, 31)),
        st.sampled_from(["", "Z", "+02:00", "-0530", "+00:00"]),
        st.sampled_from(["T", " "]),
        st.sampled_from(["date", "minutes", "seconds", "micro"]),
    )
    def test_fast_path_agrees_with_dateutil(
        self, moment: dt.datetime, zone: str, sep: str, precision: str
    ) -> None:
        """ISO text read by fromisoformat gives exactly what the dateutil path gives."""
        formats = {
            "date": "%Y-%m-%d",
            "minutes": f"%Y-%m-%d{sep}%H:%M",
            "seconds": f"%Y-%m-%d{sep}%H:%M:%S",
            "micro": f"%Y-%m-%d{sep}%H:%M:%S.%f",
        }
        text = moment.strftime(formats[precision]) + ("" if precision == "date" else zone)
        for rule in ("date", "datetime"):
            assert _parse(text, None, rule) == _parse_full(text, None, rule), text


class TestZoneSuffix:
    """RFC 9557 zone suffixes, as crmcore.model writes zoned datetimes."""

    def test_offset_and_zone(self) -> None:
        """With an offset the offset fixes the instant; the date is the local date."""
        text = "2024-03-30T12:00:00+01:00[Europe/Paris]"
        assert normalize_datetime(text) == "2024-03-30T11:00:00+00:00"
        assert normalize_date(text) == "2024-03-30"

    def test_zone_without_offset(self) -> None:
        """Without an offset the named zone applies (summer time in July)."""
        assert normalize_datetime("2024-07-30T12:00:00[Europe/Paris]") == (
            "2024-07-30T10:00:00+00:00")

    def test_unknown_zone_is_reported(self) -> None:
        """An unknown zone name is a problem naming the value and the rule."""
        issues: list[FieldProblem] = []
        assert normalize_datetime("2024-03-30T12:00:00[Mars/Base]", issues=issues) is None
        assert [p.rule for p in issues] == ["datetime.timezone"]
        assert "Mars/Base" in issues[0].message

    @settings(max_examples=50, deadline=None)
    @given(st.datetimes(min_value=dt.datetime(1900, 1, 1), max_value=dt.datetime(2100, 1, 1),
                        timezones=st.sampled_from([dt.UTC, dt.timezone(dt.timedelta(hours=5))])))
    def test_model_format_round_trips(self, moment: dt.datetime) -> None:
        """What crmcore.model.format_datetime writes reads back as the same instant."""
        from zoneinfo import ZoneInfo

        from crmcore.model import format_datetime

        zoned = moment.astimezone(ZoneInfo("America/New_York"))
        got = normalize_datetime(format_datetime(zoned))
        assert got == moment.astimezone(dt.UTC).isoformat()


class TestDateOrder:
    """date_order: a column's day/month order from the values only one order can read."""

    @settings(max_examples=200, deadline=None)
    @given(st.lists(st.dates(dt.date(1900, 1, 1), dt.date(2030, 12, 31)), max_size=40),
           st.booleans(), st.sampled_from(["/", ".", "-"]))
    def test_one_convention_is_never_misread(self, dates: list[dt.date], dayfirst: bool,
                                             sep: str) -> None:
        """A column written one way is read that way when it shows enough days over 12, and
        never the other way; the ambiguous values then normalise to the true dates."""
        texts = [f"{d.day:02d}{sep}{d.month:02d}{sep}{d.year}" if dayfirst
                 else f"{d.month:02d}{sep}{d.day:02d}{sep}{d.year}" for d in dates]
        shown = sum(d.day > 12 for d in dates)
        got = date_order(texts)
        assert got == (dayfirst if shown >= DATE_ORDER_EVIDENCE else None)
        if got is not None:
            assert [normalize_date(t, dayfirst=got) for t in texts] == [
                d.isoformat() for d in dates]

    def test_mixed_conventions_stay_undecided(self) -> None:
        """Two sources with two conventions in one column: no order is decided; a single
        value the other way among 50 is taken for a typo."""
        day_first = [f"{13 + k % 15}/0{1 + k % 9}/1980" for k in range(50)]
        assert date_order(day_first) is True
        assert date_order([*day_first, "01/13/1980"]) is True
        assert date_order([*day_first, "01/13/1980", "02/14/1981"]) is None
        assert date_order(["1980-01-13", "13 January 1980", None, "", "x"]) is None
