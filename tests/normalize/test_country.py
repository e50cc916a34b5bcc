"""Countries: ISO codes, aliases and names in several languages."""

from __future__ import annotations

import csv
from importlib import resources

import pytest

from crmcore.normalize import country_alpha3, normalize_country


def _rows() -> list[dict[str, str]]:
    text = resources.files("crmcore.normalize").joinpath("data/countries.csv").read_text("utf-8")
    return list(csv.DictReader(line for line in text.splitlines() if not line.startswith("#")))


ROWS = _rows()


class TestCodes:
    def test_every_code_maps_to_itself(self) -> None:
        """ISO2 (either case) and ISO3 codes give the ISO2 code; alpha3 goes back."""
        assert len(ROWS) >= 240
        for row in ROWS:
            iso2, iso3 = row["iso2"], row["iso3"]
            assert normalize_country(iso2) == iso2
            assert normalize_country(iso3.lower()) == iso2
            assert country_alpha3(iso2) == iso3

    def test_every_alias(self) -> None:
        """Every alias in the shipped table resolves to its country."""
        for row in ROWS:
            for alias in filter(None, row["aliases"].split(";")):
                assert normalize_country(alias) == row["iso2"], alias


class TestLanguages:
    @pytest.mark.parametrize(
        ("iso2", "names"),
        [
            ("DE", ["Germany", "Deutschland", "Allemagne", "Alemania", "Germania", "Duitsland",
                    "Tyskland", "Niemcy", "Alemanha", "Германия", "ドイツ", "德国"]),
            ("JP", ["Japan", "Japon", "Giappone", "Japón", "Japão", "日本"]),
            ("GB", ["United Kingdom", "Royaume-Uni", "Reino Unido", "Regno Unito",
                    "Vereinigtes Königreich"]),
            ("CH", ["Switzerland", "Schweiz", "Suisse", "Svizzera", "Suiza"]),
            ("SE", ["Sweden", "Schweden", "Suède", "Suecia", "Svezia", "Sverige", "Ruotsi"]),
        ],
    )  # fmt: skip
    def test_names(self, iso2: str, names: list[str]) -> None:
        """Names in several languages and scripts resolve, whatever the case and accents."""
        for name in names:
            assert normalize_country(name) == iso2, name
            assert normalize_country(f"  {name.upper()} ") == iso2, name


class TestKosovo:
    @pytest.mark.parametrize(
        "value",
        ["Kosovo", "KOSOVO", " the Republic of Kosovo ", "Kosova", "Kosovë", "Republika e Kosovës",
         "Косово", "XK", "xk", "XKX"],
    )  # fmt: skip
    def test_names_and_codes(self, value: str) -> None:
        """Kosovo's names (English, Albanian, Serbian) and its user-assigned codes give XK."""
        assert normalize_country(value) == "XK"

    def test_alpha3_and_model_table(self) -> None:
        """XK has alpha-3 XKX and is a country code of the model."""
        from crmcore.model import is_country_code

        assert country_alpha3("Kosovo") == "XKX"
        assert is_country_code(normalize_country("Kosovo"))

    def test_phone_region(self) -> None:
        """XK works as a phone region (+383), given as the code or the country's name."""
        import phonenumbers

        from crmcore.normalize import normalize_phone

        assert phonenumbers.region_code_for_country_code(383) == "XK"
        for region in ("XK", "Kosovo", "Kosova"):
            assert normalize_phone("044 123 456", region) == "+38344123456", region
        assert normalize_phone("+383 49 123 456") == "+38349123456"


def test_table_agrees_with_model_codes() -> None:
    """The normaliser's alpha-2 codes are exactly the model's COUNTRY_CODES."""
    from crmcore.model import COUNTRY_CODES

    assert {row["iso2"] for row in ROWS} == COUNTRY_CODES
    assert all(normalize_country(code) == code for code in COUNTRY_CODES)
