"""Tests for crmcore.model.values."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from crmcore.errors import ValidationError
from crmcore.model import AccountMembership, Address, Contact, Provenance, RecordRef


class TestProvenance:
    """Provenance: where a value came from."""

    def test_positional(self) -> None:
        """The schema's positional form works and keeps every part."""
        when = datetime(2024, 5, 1, tzinfo=UTC)
        p = Provenance("hubspot", "4711", when)
        assert (p.source_system, p.source_record_id, p.observed_at) == ("hubspot", "4711", when)

    @pytest.mark.parametrize(
        ("args", "rule"),
        [
            (("",), "source_system.required"),
            (("crm", None, datetime(2024, 1, 1)), "datetime.naive"),
            (("crm", 5), "type"),
        ],
    )
    def test_rejects(self, args, rule) -> None:
        """Empty systems, naive times and non-string ids are refused."""
        with pytest.raises(ValidationError) as info:
            Provenance(*args)
        assert info.value.problems[0].rule == rule


class TestAddress:
    """Address: optional parts, country shape."""

    def test_is_empty(self) -> None:
        """is_empty is true only when no part is set."""
        assert Address().is_empty
        assert not Address(city="Lyon").is_empty

    def test_country_shape(self) -> None:
        """The country must be two upper-case letters."""
        with pytest.raises(ValidationError) as info:
            Address(country="France")
        assert info.value.problems[0].rule == "country.shape"


class TestRecordRef:
    """RecordRef: typed references."""

    def test_to_and_str(self) -> None:
        """A reference can be taken from a record and prints as type:id."""
        ref = RecordRef.to(Contact(id="c-1"))
        assert ref == RecordRef("contact", "c-1") == Contact(id="c-1").ref
        assert str(ref) == "contact:c-1"

    @pytest.mark.parametrize(
        ("args", "rule"), [(("Deal", "d"), "record_type.shape"), (("deal", ""), "id.required")]
    )
    def test_rejects(self, args, rule) -> None:
        """Record types are lower-case names and ids non-empty."""
        with pytest.raises(ValidationError) as info:
            RecordRef(*args)
        assert info.value.problems[0].rule == rule


class TestAccountMembership:
    """AccountMembership: defaults and shape."""

    def test_defaults(self) -> None:
        """Role is optional and primary false by default."""
        m = AccountMembership("a-1")
        assert (m.role, m.primary) == (None, False)

    def test_primary_is_bool(self) -> None:
        """primary must be a real boolean."""
        with pytest.raises(ValidationError):
            AccountMembership("a-1", primary="yes")  # type: ignore[arg-type]
