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
