"""Source records and candidates: the generic input of survivorship."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crmcore.errors import SurvivorshipError
from crmcore.survivorship import SourceRecord
from crmcore.survivorship._records import check_unique_ids, default_key, is_missing, to_microseconds


class TestSourceRecord:
    def test_naive_times_are_utc(self):
        """A naive observation time is read as UTC."""
        r = SourceRecord("a", "crm", dt.datetime(2024, 1, 1), {})
        assert r.observed_at == dt.datetime(2024, 1, 1, tzinfo=dt.UTC)

    def test_per_field_time_overrides(self):
        """A tracked field time wins over the record's."""
        t = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
        r = SourceRecord("a", "crm", t, {"x": 1}, {"x": t.replace(year=2020)})
        assert (r.observed("x"), r.observed("y")) == (t.replace(year=2020), t)

    def test_values_are_frozen(self):
        """Values cannot be changed in place; with_values returns a changed copy."""
        r = SourceRecord("a", "crm", None, {"x": 1})
        with pytest.raises(TypeError):
            r.values["x"] = 2  # type: ignore[index]
        assert r.with_values(x=2).values["x"] == 2
        assert r.values["x"] == 1

    @pytest.mark.parametrize("bad", ["", None])
    def test_ids_required(self, bad):
        """Record id and source system are required."""
        with pytest.raises(SurvivorshipError, match="record_id"):
            SourceRecord(bad, "crm", None, {})  # type: ignore[arg-type]

    def test_unique_ids(self):
        """check_unique_ids names the repeated id."""
        recs = [SourceRecord("a", "crm", None, {}), SourceRecord("a", "erp", None, {})]
        with pytest.raises(SurvivorshipError, match="'a'"):
            check_unique_ids(recs)


class TestHelpers:
    @given(st.text())
    def test_default_key_idempotent(self, text):
        """The default key of a key is itself (case-folded, whitespace collapsed)."""
        assert default_key(default_key(text)) == default_key(text)

    def test_missing(self):
        """None, blank text and empty collections are missing; zero is not."""
        assert [is_missing(v) for v in (None, " ", [], {}, 0, "x")] == [
            True, True, True, True, False, False,
        ]

    @given(st.datetimes(timezones=st.just(dt.UTC)))
    def test_microseconds_round_trip(self, when):
        """to_microseconds counts whole microseconds since the epoch."""
        epoch = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
        assert epoch + dt.timedelta(microseconds=to_microseconds(when)) == when
