"""Tests for crmcore.model.codes."""

from __future__ import annotations

from crmcore.model import COUNTRY_CODES, CURRENCY_CODES, is_country_code, is_currency_code


class TestTables:
    """The shipped code tables."""

    def test_shapes(self) -> None:
        """Every code has the right shape and the tables have the expected sizes."""
        assert len(COUNTRY_CODES) == 249
        assert all(len(c) == 2 and c.isupper() and c.isascii() for c in COUNTRY_CODES)
        assert all(len(c) == 3 and c.isupper() and c.isascii() for c in CURRENCY_CODES)
        assert {"EUR", "USD", "JPY", "GBP", "CHF", "XAU"} <= CURRENCY_CODES
        assert {"DE", "US", "GB", "FR", "JP"} <= COUNTRY_CODES


class TestIsCurrencyCode:
    """is_currency_code."""

    def test_cases(self) -> None:
        """Known upper-case codes only; no lower case, no non-strings."""
        assert is_currency_code("EUR")
        assert not is_currency_code("eur")
        assert not is_currency_code("EURO")
        assert not is_currency_code(None)


class TestIsCountryCode:
    """is_country_code."""

    def test_cases(self) -> None:
        """Assigned upper-case alpha-2 codes only."""
        assert is_country_code("DE")
        assert not is_country_code("de")
        assert not is_country_code("UK")
        assert not is_country_code("DEU")
