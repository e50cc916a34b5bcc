"""Addresses (light) and postcodes per country."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crmcore.errors import FieldProblem
from crmcore.normalize import normalize_address, normalize_postcode
from crmcore.normalize._address import _RULES


class TestAddress:
    def test_abbreviations(self) -> None:
        """Street types and unit designators take their usual abbreviation."""
        assert normalize_address("42 West Lake Boulevard, Suite 300") == "42 w lake blvd ste 300"
        assert normalize_address("Am Marktplatz 3, Building 2, Floor 4") == (
            "am marktplatz 3 bldg 2 fl 4"
        )

    @settings(max_examples=200, deadline=None)
    @given(st.lists(st.sampled_from(
        ["12", "Main", "Street", "St.", "Apartment", "#4", "N.W.", "P.O.", "Box", ",", "Straße",
         "Hauptstrasse", "Avenue", "Unit", "7B", "  "]), max_size=8).map(" ".join))  # fmt: skip
    def test_idempotent(self, value: str) -> None:
        """Normalising twice changes nothing."""
        once = normalize_address(value)
        assert once is None or normalize_address(once) == once


class TestPostcode:
    @pytest.mark.parametrize("country", sorted(_RULES))
    @settings(max_examples=25, deadline=None)
    @given(raw=st.text("0123456789ABCDEFGHJKNPRSTWXY -", min_size=3, max_size=10))
    def test_output_is_canonical_for_the_country(self, country: str, raw: str) -> None:
        """Whatever is accepted for a country normalises to itself; rejects name the rule."""
        issues: list[FieldProblem] = []
        out = normalize_postcode(raw, country, issues=issues)
        if out is None:
            assert all(p.rule == "postcode.format" for p in issues)
        else:
            assert normalize_postcode(out, country) == out

    def test_country_by_name(self) -> None:
        """The country may be given by name or ISO3 code."""
        assert normalize_postcode("sw1a 1aa", "United Kingdom") == "SW1A 1AA"
        assert normalize_postcode("sw1a 1aa", "GBR") == "SW1A 1AA"

    def test_us_zip_plus_four(self) -> None:
        """ZIP and ZIP+4, a lost leading zero restored."""
        assert normalize_postcode("2134-1234", "US") == "02134-1234"
        assert normalize_postcode("10001", "US") == "10001"
