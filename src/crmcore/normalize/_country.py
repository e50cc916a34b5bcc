"""Countries: names in many languages, ISO2 / ISO3 codes and aliases -> ISO 3166-1 alpha-2.

Look-up keys are built by NFKC, case folding, accent folding and dropping punctuation and a
leading "the" (``"U.S.A."`` -> ``"usa"``, ``"Côte d'Ivoire"`` -> ``"cote divoire"``). The table
combines, in this order of precedence:

1. ISO 3166-1 alpha-2 and alpha-3 codes (``data/countries.csv``, written for crmcore);
2. aliases from the same file (``UK``, ``Holland``, ``Deutschland``, ``Ivory Coast`` ...);
3. country names in the languages of phonenumbers' locale data (English, German, French,
   Spanish, Italian, Dutch, Portuguese, Swedish, Finnish, Polish, Catalan, Indonesian, Irish,
   Maltese, Vietnamese, Greek, Russian, Serbian, Japanese, Chinese, Korean, Thai).

ISO-style names with the qualifier after a comma or in parentheses (``Korea, Republic of``,
``Bolivia (Plurinational State of)``) are understood. ``NA`` written in capitals is Namibia's
code (so that every output normalises to itself); ``na``, ``n/a`` and ``N/A`` carry no value.
A value that matches nothing is rejected with rule ``country.unknown``.

Kosovo normalises to ``XK`` (alpha-3 ``XKX``), the user-assigned code CRMs and libphonenumber use
(phone region ``XK``, +383); ISO 3166-1 has not assigned it a code. The set of alpha-2 codes is
the model's :data:`crmcore.model.COUNTRY_CODES`.
"""

from __future__ import annotations

import csv
import re
from collections.abc import MutableSequence
from functools import lru_cache
from importlib import resources

from crmcore.errors import FieldProblem
from crmcore.normalize._core import Normalizer, Outcome, Rejection, clean_text, fold_accents

_PUNCT = re.compile(r"[^\w\s]+")
_SPACES = re.compile(r"\s+")
_LANGUAGES: tuple[str, ...] = (
    *("en", "de", "fr", "es", "it", "nl", "pt", "sv", "fi", "pl", "ca", "id", "ga", "mt"),
    *("vi", "el", "ru", "sr", "ja", "zh", "ko", "th"),
)


def country_key(value: str) -> str:
    """Return the look-up key of a country name or code.

    Example:
        >>> country_key(" The U.S.A. "), country_key("Côte d’Ivoire")
        ('usa', 'cote divoire')
    """
    text = fold_accents(clean_text(value)).casefold().replace("&", " and ")
    text = _PUNCT.sub(lambda m: "" if m.group(0) in {".", "'", "’"} else " ", text)
    text = _SPACES.sub(" ", text).strip()
    if text.startswith("the "):
        text = text[4:]
    return text


def _locale_data() -> dict[str, dict[str, str]]:
    """Load phonenumbers' country-name table without importing its (large) geocoder package."""
    import importlib.util
    from pathlib import Path

    import phonenumbers

    path = Path(phonenumbers.__file__).parent / "geodata" / "locale.py"
    spec = importlib.util.spec_from_file_location("phonenumbers.geodata.locale", path)
    if spec is not None and spec.loader is not None and path.exists():
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        data: dict[str, dict[str, str]] = module.LOCALE_DATA
        return data
    from phonenumbers.geodata.locale import LOCALE_DATA  # pragma: no cover

    return dict(LOCALE_DATA)  # pragma: no cover


@lru_cache(maxsize=1)
def _tables() -> tuple[dict[str, str], dict[str, str]]:
    """Return (key -> ISO2, ISO2 -> ISO3)."""
    index: dict[str, str] = {}
    alpha3: dict[str, str] = {}
    aliases: list[tuple[str, str]] = []
    source = resources.files("crmcore.normalize").joinpath("data/countries.csv")
    with source.open("r", encoding="utf-8") as fh:
        lines = (line for line in fh if not line.startswith("#"))
        for row in csv.DictReader(lines):
            iso2, iso3 = row["iso2"], row["iso3"]
            alpha3[iso2] = iso3
            index.setdefault(iso2.casefold(), iso2)
            index.setdefault(iso3.casefold(), iso2)
            aliases.extend((a, iso2) for a in (row["aliases"] or "").split(";") if a.strip())
    for alias, iso2 in aliases:
        index.setdefault(country_key(alias), iso2)
    locale_data = _locale_data()
    for iso2, names in locale_data.items():
        for lang in _LANGUAGES:
            name = names.get(lang)
            for _ in range(4):  # '*xx' refers to another language's entry (one entry loops)
                if name is None or not name.startswith("*"):
                    break
                name = names.get(name[1:])
            if name is not None and name.startswith("*"):
                continue
            if name and iso2 in alpha3:
                index.setdefault(country_key(name), iso2)
    index.pop("", None)
    return index, alpha3


_QUALIFIER = re.compile(r"\s*\([^()]*\)\s*$")


def _country_core(text: str) -> Outcome:
    key = country_key(text)
    if not key:
        return None
    index = _tables()[0]
    found = index.get(key)
    if found is None and "," in text:  # ISO style "Korea, Republic of" -> "Republic of Korea"
        head, _, tail = text.partition(",")
        found = index.get(country_key(f"{tail} {head}")) or index.get(country_key(head))
    if found is None and _QUALIFIER.search(text):  # "Bolivia (Plurinational State of)"
        found = index.get(country_key(_QUALIFIER.sub("", text)))
    if found is None:
        return Rejection("country.unknown", f"{text!r} is not a known country name or code")
    return found


COUNTRY = Normalizer(
    "country", _country_core, "ISO 3166-1 alpha-2 country code", keep=frozenset({"NA"})
)
"""The country :class:`~crmcore.normalize.Normalizer` (registry name ``"country"``)."""


def normalize_country(
    value: str | None,
    *,
    strict: bool = False,
    issues: MutableSequence[FieldProblem] | None = None,
    field: str = "country",
    record: str | None = None,
) -> str | None:
    """Normalise a country name, alias or code to ISO 3166-1 alpha-2.

    Args:
        value: The raw value.
        strict: Raise instead of returning None for a rejected value.
        issues: A list that receives one :class:`~crmcore.errors.FieldProblem` per rejection.
        field: Field name quoted in problems.
        record: Record identifier quoted in problems.

    Returns:
        The alpha-2 code, or None.

    Raises:
        NormalizationError: In strict mode, for an unknown country.

    Example:
        >>> [normalize_country(v) for v in ["Deutschland", "U.S.A.", "gbr", "Espagne", "nl"]]
        ['DE', 'US', 'GB', 'ES', 'NL']
    """
    return COUNTRY(value, strict=strict, issues=issues, field=field, record=record)


def country_alpha3(code: str) -> str | None:
    """Return the ISO 3166-1 alpha-3 code of an alpha-2 code (or of anything normalisable).

    Example:
        >>> country_alpha3("DE"), country_alpha3("France")
        ('DEU', 'FRA')
    """
    iso2 = normalize_country(code)
    return None if iso2 is None else _tables()[1].get(iso2)
