"""Tests for the shared model machinery: FrozenMap and construction checks."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crmcore.errors import ValidationError
from crmcore.model import Contact, Deal, FrozenMap, LifecycleStage, Provenance
from crmcore.model._frozen_map import EMPTY_MAP

from .strategies import contacts, custom_values


class TestFrozenMap:
    """FrozenMap: immutable, hashable, equal to plain dicts."""

    @settings(deadline=None)
    @given(st.dictionaries(st.text(), custom_values))
    def test_behaves_like_the_dict(self, data) -> None:
        """Look-ups, length, iteration order and equality follow the source dict."""
        m = FrozenMap(data)
        assert dict(m) == data
        assert list(m) == list(data)
        assert len(m) == len(data)
        assert m == data
        assert m == FrozenMap(data)
        assert hash(m) == hash(FrozenMap(dict(reversed(list(data.items())))))

    def test_immutable(self) -> None:
        """Item assignment is not possible; set/delete return new maps."""
        m = FrozenMap({"a": 1})
        with pytest.raises(TypeError):
            m["b"] = 2  # type: ignore[index]
        assert m.set("b", 2) == {"a": 1, "b": 2}
        assert m.delete("a") == {} == EMPTY_MAP
        assert m == {"a": 1}

    def test_repr_and_non_mapping_equality(self) -> None:
        """repr shows the data; comparison with non-mappings is not equal."""
        assert repr(FrozenMap({"a": 1})) == "FrozenMap({'a': 1})"
        assert FrozenMap({"a": 1}) != [("a", 1)]


class TestConstruction:
    """Construction: coercion of friendly inputs and collected type/shape problems."""

    def test_coercions(self) -> None:
        """Lists become tuples, sets frozensets, dicts FrozenMaps, strings enums, ints Decimals."""
        c = Contact(
            id="c",
            emails=["a@x.io"],
            tags={"x"},
            custom_fields={"k": 1},
            lifecycle_stage="mql",
        )
        assert c.emails == ("a@x.io",)
        assert c.tags == frozenset({"x"})
        assert isinstance(c.custom_fields, FrozenMap)
        assert c.lifecycle_stage is LifecycleStage.MQL
        assert Deal(id="d", amount=7, currency="EUR").amount == Decimal(7)
        assert Deal(id="d", amount=" 7.10 ", currency="EUR").amount == Decimal("7.10")

    def test_evolve_revalidates(self) -> None:
        """attrs.evolve runs the same checks and coercions."""
        c = Contact(id="c")
        assert attrs.evolve(c, phones=["+441234567"]).phones == ("+441234567",)
        with pytest.raises(ValidationError):
            attrs.evolve(c, created_at=datetime(2024, 1, 1))

    def test_frozen(self) -> None:
        """Records cannot be changed in place."""
        c = Contact(id="c")
        with pytest.raises(attrs.exceptions.FrozenInstanceError):
            c.first_name = "x"  # type: ignore[misc]

    @pytest.mark.parametrize(
        ("kwargs", "field", "rule"),
        [
            ({"id": ""}, "id", "id.required"),
            ({"id": "  "}, "id", "id.required"),
            ({"id": 5}, "id", "type"),
            ({"emails": "a@b.c"}, "emails", "type"),
            ({"emails": {"a@b.c"}}, "emails", "type"),
            ({"emails": ["a", 3]}, "emails[1]", "type"),
            ({"tags": "vip"}, "tags", "type"),
            ({"country": "fr"}, "country", "country.shape"),
            ({"country": "FRA"}, "country", "country.shape"),
            ({"lifecycle_stage": "king"}, "lifecycle_stage", "enum"),
            ({"created_at": datetime(2024, 1, 1)}, "created_at", "datetime.naive"),
            ({"created_at": "2024-01-01T00:00:00+00:00"}, "created_at", "type"),
            ({"birth_date": datetime(2024, 1, 1, tzinfo=UTC)}, "birth_date", "type"),
            ({"custom_fields": {"k": float("nan")}}, "custom_fields['k']", "custom_value.finite"),
            ({"custom_fields": {"k": [1]}}, "custom_fields['k']", "custom_value.type"),
            ({"custom_fields": {"": 1}}, "custom_fields['']", "key.field_name.required"),
            ({"custom_fields": ["k"]}, "custom_fields", "type"),
            ({"provenance": "crm"}, "provenance", "type"),
            ({"owner_id": ""}, "owner_id", "id.required"),
        ],
    )
    def test_rejects(self, kwargs, field, rule) -> None:
        """Each bad input is reported with its field and rule."""
        args = {"id": "c", **kwargs}
        with pytest.raises(ValidationError) as info:
            Contact(**args)
        assert [(p.field, p.rule) for p in info.value.problems] == [(field, rule)]

    def test_collects_every_problem(self) -> None:
        """All field problems are raised together, each naming the record."""
        with pytest.raises(ValidationError) as info:
            Contact(id="c-9", country="xx", emails="a", created_at=datetime(2024, 1, 1))
        assert {p.field for p in info.value.problems} == {"country", "emails", "created_at"}
        assert {p.record for p in info.value.problems} == {"c-9"}

    @pytest.mark.parametrize(
        ("value", "rule"),
        [(1.5, "type"), ("abc", "decimal.format"), ("NaN", "decimal.finite"), (True, "type")],
    )
    def test_decimal_rejects(self, value, rule) -> None:
        """Amounts refuse floats, garbage strings, NaN and booleans."""
        with pytest.raises(ValidationError) as info:
            Deal(id="d", amount=value, currency="EUR")
        assert info.value.problems[0].rule == rule

    def test_timestamps_order(self) -> None:
        """updated_at may not precede created_at."""
        with pytest.raises(ValidationError) as info:
            Contact(
                id="c",
                created_at=datetime(2024, 1, 2, tzinfo=UTC),
                updated_at=datetime(2024, 1, 1, tzinfo=UTC),
            )
        assert info.value.problems[0].rule == "timestamps.order"

    def test_field_provenance_keys(self) -> None:
        """Per-field provenance must name data fields of the record."""
        ok = Contact(id="c", field_provenance={"emails": Provenance("form")})
        assert ok.provenance_of("emails") == Provenance("form")
        with pytest.raises(ValidationError) as info:
            Contact(id="c", field_provenance={"shoe_size": Provenance("form")})
        assert info.value.problems[0].rule == "field_provenance.field"
        with pytest.raises(ValidationError):
            Contact(id="c", field_provenance={"id": Provenance("form")})

    @settings(deadline=None)
    @given(contacts)
    def test_generated_records_are_hashable(self, contact) -> None:
        """Records hash consistently with equality."""
        assert hash(contact) == hash(attrs.evolve(contact))
        assert contact == attrs.evolve(contact)

    def test_date_field_takes_date(self) -> None:
        """A plain date is accepted in a date field."""
        assert Contact(id="c", birth_date=date(1990, 5, 17)).birth_date == date(1990, 5, 17)
