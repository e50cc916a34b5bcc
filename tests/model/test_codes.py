"""Tests for crmcore.model.codes."""

from __future__ import annotations

from crmcore.model import COUNTRY_CODES, CURRENCY_CODES, is_country_code, is_currency_code


class TestTables:
    """The shipped code tables."""

    def test_shapes(self) -> None:
        """Every code has the right shape and the tables have the expected sizes."""
        assert len(COUNTRY_CODES) == 250  # 249 assigned by ISO 3166-1, plus XK (Kosovo)
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

    def test_kosovo_user_assigned_code_accepted(self) -> None:
        """XK (Kosovo, user-assigned) is accepted; other user-assigned codes are not."""
        assert is_country_code("XK")
        assert not is_country_code("xk")
        for code in ("AA", "QM", "QZ", "XA", "XZ", "ZZ"):
            assert not is_country_code(code), code

    def test_every_phonenumbers_region_with_a_country_is_accepted(self) -> None:
        """Regions libphonenumber knows are country codes, bar its two non-country regions."""
        import phonenumbers

        regions = set(phonenumbers.SUPPORTED_REGIONS)
        # AC (Ascension) and TA (Tristan da Cunha): ISO reserved, parts of SH in ISO 3166-1
        assert regions - COUNTRY_CODES <= {"AC", "TA"}
        assert "XK" in regions
