"""Tests for crmcore.model.timestamps: lossless text for zone-aware datetimes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crmcore.errors import SerializationError, ValidationError
from crmcore.model import (
    Consent,
    ConsentChannel,
    ConsentPurpose,
    ConsentStatus,
    Contact,
    Provenance,
    format_datetime,
    from_json,
    parse_datetime,
    to_dict,
    to_json,
)
from crmcore.model._timestamps import zone_name

from .strategies import ZONE_KEYS, aware_datetimes, instant, zones

PARIS = ZoneInfo("Europe/Paris")


def same(a: datetime, b: datetime) -> bool:
    """Identical in everything a datetime means: wall time, offset (so fold), zone."""
    return (
        a.replace(tzinfo=None) == b.replace(tzinfo=None)
        and a.utcoffset() == b.utcoffset()
        and zone_name(a) == zone_name(b)
        and (zone_name(a) is not None or a.tzinfo == b.tzinfo)
    )


zoned = st.datetimes(
    min_value=datetime(1900, 1, 1), max_value=datetime(2100, 1, 1), timezones=zones
)


class TestRoundTrip:
    @settings(max_examples=150, deadline=None)
    @given(aware_datetimes)
    def test_parse_inverts_format(self, value: datetime) -> None:
        """parse(format(x)) is x: wall time, offset, fold where it matters, and zone."""
        text = format_datetime(value)
        back = parse_datetime(text)
        assert same(back, value), (text, back)
        assert back == value
        assert format_datetime(back) == text

    @settings(max_examples=150, deadline=None)
    @given(zoned, st.integers(-400, 400), st.integers(-48, 48))
    def test_zone_rules_survive(self, value: datetime, days: int, hours: int) -> None:
        """Arithmetic after the round trip gives what it gives on the original (zone kept)."""
        back = parse_datetime(format_datetime(value))
        step = timedelta(days=days, hours=hours)
        assert same(back + step, value + step)
        assert zone_name(back) == value.tzinfo.key  # type: ignore[union-attr]

    @settings(max_examples=200, deadline=None)
    @given(aware_datetimes)
    def test_format_reference(self, value: datetime) -> None:
        """The text is isoformat() plus [key] for a ZoneInfo; without it, the same instant."""
        text = format_datetime(value)
        key = value.tzinfo.key if isinstance(value.tzinfo, ZoneInfo) else None
        assert text == value.isoformat() + (f"[{key}]" if key else "")
        # (instants: PEP 495 makes a gap or repeated-hour time unequal to any other zone's)
        assert instant(datetime.fromisoformat(text.partition("[")[0])) == instant(value)

    def test_fixed_offset_alone_loses_the_zone(self) -> None:
        """Why the suffix: the offset alone gives a different time one day later."""
        value = datetime(2024, 3, 30, 12, tzinfo=PARIS)
        fixed = datetime.fromisoformat(value.isoformat())
        day = timedelta(days=1)
        assert fixed == value
        assert (fixed + day) != (value + day)
        assert (parse_datetime(format_datetime(value)) + day).isoformat() == (
            "2024-03-31T12:00:00+02:00"
        )

    @pytest.mark.parametrize("fold", [0, 1])
    def test_repeated_hour_keeps_fold(self, fold: int) -> None:
        """In the hour repeated when summer time ends, the offset brings the fold back."""
        value = datetime(2024, 10, 27, 2, 30, tzinfo=PARIS, fold=fold)
        text = format_datetime(value)
        assert text.endswith(("+02:00[Europe/Paris]", "+01:00[Europe/Paris]")[fold])
        back = parse_datetime(text)
        assert back.fold == fold
        assert instant(back) == instant(value)

    @pytest.mark.parametrize("fold", [0, 1])
    def test_gap_time_kept(self, fold: int) -> None:
        """A wall time in the spring-forward gap comes back as given (fold included)."""
        value = datetime(2024, 3, 31, 2, 30, tzinfo=PARIS, fold=fold)
        back = parse_datetime(format_datetime(value))
        assert same(back, value)
        assert back.fold == fold

    def test_every_zone_key(self) -> None:
        """Every zone of the database round-trips by name (one instant per zone)."""
        value = datetime(2024, 7, 1, 12, tzinfo=UTC)
        for key in ZONE_KEYS:
            local = value.astimezone(ZoneInfo(key))
            back = parse_datetime(format_datetime(local))
            assert same(back, local), key

    def test_other_tzinfos_stay_plain(self) -> None:
        """UTC and fixed offsets are written as plain ISO 8601, as before."""
        assert format_datetime(datetime(2024, 1, 1, tzinfo=UTC)) == "2024-01-01T00:00:00+00:00"
        plus2 = timezone(timedelta(hours=2))
        assert format_datetime(datetime(2024, 1, 1, tzinfo=plus2)) == "2024-01-01T00:00:00+02:00"
        assert zone_name(datetime(2024, 1, 1, tzinfo=ZoneInfo("UTC"))) == "UTC"


class TestParse:
    def test_inconsistent_offset_keeps_the_wall_time(self) -> None:
        """An offset the zone does not have at that time: the wall time in the zone wins."""
        back = parse_datetime("2024-07-01T12:00:00+05:00[Europe/Paris]")
        assert back.isoformat() == "2024-07-01T12:00:00+02:00"
        assert zone_name(back) == "Europe/Paris"

    def test_wall_time_with_zone_and_critical_flag(self) -> None:
        """RFC 9557 forms: no offset (wall time in the zone), and the critical flag '!'."""
        assert parse_datetime("2024-07-01T12:00[Europe/Paris]").isoformat() == (
            "2024-07-01T12:00:00+02:00"
        )
        flagged = parse_datetime("2024-07-01T12:00:00+02:00[!Europe/Paris]")
        assert zone_name(flagged) == "Europe/Paris"
        assert parse_datetime("2024-07-01T10:00:00Z[UTC]") == datetime(2024, 7, 1, 10, tzinfo=UTC)

    @pytest.mark.parametrize(
        ("text", "rule"),
        [
            ("2024-07-01T12:00:00+02:00[Mars/Olympus]", "datetime.zone"),
            ("2024-07-01T12:00:00+02:00[../etc/passwd]", "datetime.zone"),
            ("2024-07-01T12:00:00+02:00[]", "datetime.format"),
            ("2024-07-01T12:00:00+02:00[u-ca=gregory]", "datetime.format"),
            ("2024-07-01T12:00:00+02:00[Europe/Paris][u-ca=gregory]", "datetime.format"),
            ("2024-07-01T12:00:00+02:00]", "datetime.format"),
            ("not a date[Europe/Paris]", "datetime.format"),
            ("yesterday", "datetime.format"),
        ],
    )
    def test_rejections_name_field_value_rule(self, text: str, rule: str) -> None:
        """Bad text raises SerializationError naming the field, the value and the rule."""
        with pytest.raises(SerializationError) as info:
            parse_datetime(text, field="created_at", record="c-1")
        (problem,) = info.value.problems
        assert (problem.field, problem.value, problem.rule, problem.record) == (
            "created_at", text, rule, "c-1",
        )  # fmt: skip

    def test_record_payload_with_unknown_zone(self) -> None:
        """from_dict reports an unknown zone as a problem of the field."""
        data = to_dict(Contact(id="c", created_at=datetime(2024, 1, 1, tzinfo=PARIS)))
        data["created_at"] = data["created_at"].replace("Europe/Paris", "Europe/Atlantis")
        with pytest.raises(SerializationError) as info:
            Contact.from_dict(data)
        assert [(p.field, p.rule) for p in info.value.problems] == [("created_at", "datetime.zone")]


class TestRecords:
    def test_json_keeps_zone(self) -> None:
        """Records, nested provenance included, keep the zone name through JSON."""
        tokyo = datetime(2024, 5, 1, 9, 30, tzinfo=ZoneInfo("Asia/Tokyo"))
        c = Contact(id="c", created_at=tokyo, provenance=Provenance("crm", "1", tokyo))
        assert to_dict(c)["created_at"] == "2024-05-01T09:30:00+09:00[Asia/Tokyo]"
        back = from_json(to_json(c))
        assert back == c
        assert back.created_at is not None
        assert zone_name(back.created_at) == "Asia/Tokyo"
        assert back.provenance is not None
        observed = back.provenance.observed_at
        assert observed is not None
        assert zone_name(observed) == "Asia/Tokyo"

    def test_order_check_uses_instants(self) -> None:
        """In the repeated hour, 02:10 (second pass) is after 02:50 (first pass): accepted."""
        first = datetime(2024, 10, 27, 2, 50, tzinfo=PARIS)
        second = datetime(2024, 10, 27, 2, 10, tzinfo=PARIS, fold=1)
        assert Contact(id="c", created_at=first, updated_at=second).updated_at == second
        with pytest.raises(ValidationError, match=r"timestamps\.order"):
            Contact(id="c", created_at=second, updated_at=first)

    @settings(max_examples=150, deadline=None)
    @given(aware_datetimes, aware_datetimes)
    def test_order_check_against_reference(self, a: datetime, b: datetime) -> None:
        """created/updated and consent effective/expiry are checked on instants."""
        if instant(b) >= instant(a):
            Contact(id="c", created_at=a, updated_at=b)
        else:
            with pytest.raises(ValidationError, match=r"timestamps\.order"):
                Contact(id="c", created_at=a, updated_at=b)
        make = {
            "id": "k", "person_id": "p", "channel": ConsentChannel.EMAIL,
            "purpose": ConsentPurpose.MARKETING, "status": ConsentStatus.OPTED_IN,
            "effective_from": a, "expires_at": b,
        }  # fmt: skip
        if instant(b) > instant(a):
            Consent(**make)
        else:
            with pytest.raises(ValidationError, match=r"consent\.expiry_order"):
                Consent(**make)
