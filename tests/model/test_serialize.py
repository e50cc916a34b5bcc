"""Tests for crmcore.model.serialize and the per-type to_dict / from_dict."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from hypothesis import given, settings

from crmcore.errors import SerializationError
from crmcore.model import (
    Account,
    Contact,
    Deal,
    Pipeline,
    Provenance,
    from_dict,
    from_dicts,
    from_json,
    record_class,
    record_types,
    to_dict,
    to_json,
)

from .strategies import BUILT_IN, RECORDS, VALUES, any_record


class TestToDict:
    """to_dict: JSON-friendly, typed payloads."""

    def test_encodings(self) -> None:
        """Decimal is a string, datetimes keep their offset, dates ISO, sets sorted lists."""
        deal = Deal(
            id="d-1",
            amount=Decimal("1250.50"),
            currency="EUR",
            close_date=date(2024, 6, 30),
            tags={"b", "a"},
            created_at=datetime.fromisoformat("2024-05-01T09:30:00+02:00"),
        )
        d = to_dict(deal)
        assert d["record_type"] == "deal"
        assert d["amount"] == "1250.50"
        assert d["close_date"] == "2024-06-30"
        assert d["created_at"] == "2024-05-01T09:30:00+02:00"
        assert d["tags"] == ["a", "b"]
        assert json.loads(json.dumps(d)) == d

    def test_rejects_non_model(self) -> None:
        """to_dict refuses things that are not model values."""
        with pytest.raises(TypeError):
            to_dict({"id": "x"})  # type: ignore[arg-type]


class TestRoundTrip:
    """from_dict(to_dict(x)) == x for every type, from generated values."""

    def test_every_record_type_is_generated(self) -> None:
        """The strategies cover every built-in record type (hosts may register more)."""
        assert set(RECORDS) == set(BUILT_IN)
        assert set(BUILT_IN) <= set(record_types())

    @settings(max_examples=150, deadline=None)
    @given(any_record)
    def test_dict_round_trip(self, record) -> None:
        """Every record survives the dict round trip, through the class and the dispatcher."""
        d = record.to_dict()
        assert type(record).from_dict(d) == record
        assert from_dict(d) == record
        assert from_dict(d).to_dict() == d

    @settings(max_examples=150, deadline=None)
    @given(any_record)
    def test_json_round_trip(self, record) -> None:
        """Every record survives the JSON round trip, offsets and Decimal exponents included."""
        text = to_json(record)
        back = from_json(text)
        assert back == record
        assert to_json(back) == text

    @pytest.mark.parametrize("name", sorted(VALUES))
    def test_values_round_trip(self, name: str) -> None:
        """Nested values (provenance, address, refs, stages, pipelines) round-trip too."""

        @settings(max_examples=60, deadline=None)
        @given(VALUES[name])
        def run(value) -> None:
            assert type(value).from_dict(json.loads(json.dumps(value.to_dict()))) == value

        run()


class TestFromDict:
    """from_dict rejects bad payloads with problems naming the field."""

    def test_unknown_record_type(self) -> None:
        """An unknown or missing record_type names the record_type field."""
        with pytest.raises(SerializationError) as info:
            from_dict({"record_type": "widget", "id": "w"})
        assert info.value.problems[0].field == "record_type"
        with pytest.raises(SerializationError):
            from_dict({"id": "w"})

    def test_not_a_mapping(self) -> None:
        """A non-mapping payload is refused."""
        with pytest.raises(SerializationError):
            from_dict(["contact"])  # type: ignore[arg-type]
        with pytest.raises(SerializationError):
            Contact.from_dict("x")  # type: ignore[arg-type]

    def test_collects_all_problems(self) -> None:
        """Every bad field is reported, each by name and rule."""
        payload = {
            "record_type": "contact",
            "id": "c-1",
            "emails": "a@example.com",
            "created_at": "2024-01-01T10:00:00",
            "birth_date": "not a date",
            "lifecycle_stage": "king",
            "shoe_size": 42,
        }
        with pytest.raises(SerializationError) as info:
            from_dict(payload)
        found = {(p.field, p.rule) for p in info.value.problems}
        assert found == {
            ("emails", "type"),
            ("created_at", "datetime.naive"),
            ("birth_date", "date.format"),
            ("lifecycle_stage", "enum"),
            ("shoe_size", "unknown_field"),
        }
        assert all(p.record == "c-1" for p in info.value.problems)

    def test_missing_required(self) -> None:
        """A missing required field is named."""
        with pytest.raises(SerializationError) as info:
            from_dict({"record_type": "consent", "id": "k", "person_id": "c"})
        assert {p.field for p in info.value.problems} == {"channel", "purpose", "status"}
        assert {p.rule for p in info.value.problems} == {"required"}

    def test_record_type_mismatch(self) -> None:
        """A class refuses a payload of another record type."""
        with pytest.raises(SerializationError) as info:
            Account.from_dict({"record_type": "contact", "id": "c"})
        assert info.value.problems[0].rule == "record_type.mismatch"

    def test_float_amount_refused(self) -> None:
        """A float amount is refused (it would lose precision); strings and ints are taken."""
        base = {"record_type": "deal", "id": "d", "currency": "EUR"}
        with pytest.raises(SerializationError) as info:
            from_dict({**base, "amount": 12.5})
        assert info.value.problems[0].field == "amount"
        assert from_dict({**base, "amount": 12}).amount == Decimal(12)  # type: ignore[attr-defined]
        assert from_dict({**base, "amount": "12.50"}).amount == Decimal("12.50")  # type: ignore[attr-defined]

    def test_nested_problem_path(self) -> None:
        """A problem inside a nested value or list names the full path."""
        payload = {
            "record_type": "contact",
            "id": "c",
            "address": {"country": "france"},
            "memberships": [{"account_id": "a"}, {"account_id": ""}],
        }
        with pytest.raises(SerializationError) as info:
            from_dict(payload)
        fields = {p.field for p in info.value.problems}
        assert fields == {"address.country", "memberships[1].account_id"}

    def test_every_nested_problem_reported(self) -> None:
        """Several bad parts of one nested value, and several bad list items, are all named."""
        payload = {
            "record_type": "contact",
            "id": "c",
            "emails": ["ok@example.com", 1, 2],
            "address": {"country": "fr", "city": 3, "planet": "Mars"},
            "memberships": [{"account_id": "", "primary": "y"}],
        }
        with pytest.raises(SerializationError) as info:
            from_dict(payload)
        assert {(p.field, p.rule) for p in info.value.problems} == {
            ("emails[1]", "type"),
            ("emails[2]", "type"),
            ("address.country", "country.shape"),
            ("address.city", "type"),
            ("address.planet", "unknown_field"),
            ("memberships[0].account_id", "id.required"),
            ("memberships[0].primary", "type"),
        }

    def test_construction_problems_become_serialization_errors(self) -> None:
        """Cross-field invariants broken by a payload surface as SerializationError."""
        payload = {"record_type": "deal", "id": "d", "amount": "5"}
        with pytest.raises(SerializationError) as info:
            from_dict(payload)
        assert info.value.problems[0].rule == "amount.currency_required"

    def test_value_classes(self) -> None:
        """Nested value classes take their own payloads and reject unknown keys."""
        p = Provenance.from_dict({"source_system": "crm"})
        assert p == Provenance("crm")
        with pytest.raises(SerializationError):
            Provenance.from_dict({"source_system": "crm", "extra": 1})
        with pytest.raises(SerializationError):
            Pipeline.from_dict({"id": "p", "record_type": "deal", "stages": []})


class TestFromDicts:
    """from_dicts: batch decoding keeps every row, good or bad."""

    def test_collects_rejections(self) -> None:
        """Bad rows are returned with their index; good rows are built."""
        rows = [
            Contact(id="c-1").to_dict(),
            {"record_type": "contact", "id": ""},
            {"record_type": "nope"},
            Account(id="a-1").to_dict(),
        ]
        records, rejected = from_dicts(rows)
        assert [r.id for r in records] == ["c-1", "a-1"]
        assert [i for i, _ in rejected] == [1, 2]
        assert len(records) + len(rejected) == len(rows)


class TestJson:
    """to_json / from_json."""

    def test_bad_json(self) -> None:
        """Text that is not JSON raises SerializationError."""
        with pytest.raises(SerializationError) as info:
            from_json("{not json")
        assert info.value.problems[0].rule == "json.syntax"

    def test_unicode_kept(self) -> None:
        """Non-ASCII text is written as is and read back."""
        c = Contact(id="c", first_name="Zoë", last_name="Ødegård")
        assert "Zoë" in to_json(c)
        assert from_json(to_json(c)) == c

    def test_offset_preserved(self) -> None:
        """The UTC offset of a datetime survives (not only the instant)."""
        c = Contact(id="c", created_at=datetime.fromisoformat("2024-01-01T12:00:00-05:00"))
        back = from_json(to_json(c))
        assert back.created_at is not None
        assert back.created_at.utcoffset() == c.created_at.utcoffset()  # type: ignore[union-attr]
        assert back.created_at == datetime(2024, 1, 1, 17, tzinfo=UTC)


class TestRecordClass:
    """record_class / record_types."""

    def test_lookup(self) -> None:
        """Every registered name maps to its class."""
        for name in record_types():
            assert record_class(name).record_type == name
        with pytest.raises(KeyError):
            record_class("widget")


class TestFieldValues:
    """field_values: shallow Python values."""

    @settings(deadline=None)
    @given(any_record)
    def test_same_keys_as_to_dict(self, record) -> None:
        """The keys match to_dict and the values are the record's own attributes."""
        values = record.field_values()
        assert list(values) == list(record.to_dict())
        assert values["record_type"] == record.record_type
        for name, value in values.items():
            if name != "record_type":
                assert value is getattr(record, name)

    def test_keeps_python_types(self) -> None:
        """Decimal amounts stay Decimal."""
        assert Deal(id="d", amount="2.50", currency="EUR").field_values()["amount"] == Decimal(
            "2.50"
        )
