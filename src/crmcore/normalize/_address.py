"""Addresses (light, no geocoding) and postcodes per country.

:func:`normalize_address` lowercases, collapses whitespace, drops commas and dots, and writes
street types and unit designators in their usual abbreviation (``Street`` -> ``st``,
``Avenue`` -> ``ave``, ``Apartment`` / ``Apt.`` -> ``apt``, ``Suite`` -> ``ste``, ``#`` ->
``unit``, German ``-straße`` / ``-strasse`` -> ``-str``) and joins dotted initials
(``P.O. Box`` -> ``po box``, ``N.W.`` -> ``nw``). It does not reorder or geocode.

:func:`normalize_postcode` checks and formats a postcode for the given country:

========  ====================================  =====================
country   accepted                              canonical
========  ====================================  =====================
US        ZIP, ZIP+4 (4 digits: lost 0 restored) ``02134``, ``02134-1234``
GB        outward + inward, any spacing          ``SW1A 1AA``
CA        A1A 1A1                                ``K1A 0B1``
NL        1234 AB                                ``1012 AB``
DE FR IT  5 digits (4 digits: lost 0 restored)   ``01067``
ES FI
SE        5 digits                               ``114 55``
PL        5 digits                               ``00-950``
PT        7 digits                               ``1000-001``
JP        7 digits                               ``100-0001``
BR        8 digits                               ``01310-100``
IE        Eircode                                ``D02 X285``
AU AT BE  4 digits                               ``2000``
CH DK NO
IN        6 digits                               ``110001``
other     letters and digits, uppercased        as given, spaces collapsed
========  ====================================  =====================

A postcode that does not fit its country's format is rejected with rule ``postcode.format``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, MutableSequence

from crmcore.errors import FieldProblem
from crmcore.normalize._core import Normalizer, Outcome, Rejection, clean_text

_STREET_WORDS = {
    "street": "st",
    "avenue": "ave",
    "av": "ave",
    "avn": "ave",
    "boulevard": "blvd",
    "boul": "blvd",
    "road": "rd",
    "drive": "dr",
    "lane": "ln",
    "court": "ct",
    "place": "pl",
    "square": "sq",
    "terrace": "ter",
    "parkway": "pkwy",
    "highway": "hwy",
    "circle": "cir",
    "crescent": "cres",
    "close": "cl",
    "way": "way",
    "trail": "trl",
    "expressway": "expy",
    "freeway": "fwy",
    "turnpike": "tpke",
    "mount": "mt",
    "north": "n",
    "south": "s",
    "east": "e",
    "west": "w",
    "northeast": "ne",
    "northwest": "nw",
    "southeast": "se",
    "southwest": "sw",
    "apartment": "apt",
    "suite": "ste",
    "unit": "unit",
    "floor": "fl",
    "building": "bldg",
    "room": "rm",
    "department": "dept",
    "box": "box",
    "#": "unit",
    "no": "no",
    "number": "no",
}
_STRASSE = re.compile(r"(?<=\w)(?:straße|strasse)\b")
_STRASSE_WORD = re.compile(r"\b(?:straße|strasse)\b")
_PUNCT = re.compile(r"[,.;]+")
_DOTTED = re.compile(r"\b(?:[^\W\d_]\. ?){2,}")  # "P.O.", "N. W." -> "po", "nw"
_HASH = re.compile(r"#\s*")


def _address_core(text: str) -> Outcome:
    text = clean_text(text)
    if len(text) > 2000:
        return Rejection("address.too_long", "an address longer than 2000 characters")
    text = text.casefold()
    if not any(ch.isalnum() for ch in text):
        return Rejection("address.no_letters", "an address needs a letter or digit")
    text = _DOTTED.sub(lambda m: m.group(0).replace(".", "").replace(" ", "") + " ", text)
    text = _STRASSE.sub("str", text)
    text = _STRASSE_WORD.sub("str", text)
    text = _HASH.sub("# ", _PUNCT.sub(" ", text))
    words = [_STREET_WORDS.get(w, w) for w in text.split()]
    out = " ".join(words).strip()
    if not out:
        return None
    if not any(ch.isalnum() for ch in out):
        return Rejection("address.no_letters", "an address needs a letter or digit")
    return out


ADDRESS = Normalizer("address", _address_core, "street address, light normalisation")
"""Street addresses (registry name ``"address"``)."""


def normalize_address(
    value: str | None,
    *,
    strict: bool = False,
    issues: MutableSequence[FieldProblem] | None = None,
    field: str = "street",
    record: str | None = None,
) -> str | None:
    """Lightly normalise a street address (see the module docstring).

    Example:
        >>> normalize_address("  123 North Main Street, Apartment 4B ")
        '123 n main st apt 4b'
        >>> normalize_address("Hauptstraße 5"), normalize_address("500 Fifth Avenue #12")
        ('hauptstr 5', '500 fifth ave unit 12')
    """
    return ADDRESS(value, strict=strict, issues=issues, field=field, record=record)


def _digits(
    n: int, fmt: Callable[[str], str] = lambda d: d, pad: bool = False
) -> Callable[[str], str | None]:
    def check(compact: str) -> str | None:
        if pad and len(compact) == n - 1 and compact.isdigit():
            compact = "0" + compact
        if len(compact) == n and compact.isdigit():
            return fmt(compact)
        return None

    return check


def _us(compact: str) -> str | None:
    if compact.isdigit() and len(compact) in (4, 5):
        return compact.zfill(5)
    if compact.isdigit() and len(compact) in (8, 9):
        full = compact.zfill(9)
        return f"{full[:5]}-{full[5:]}"
    return None


_GB = re.compile(r"([A-Z]{1,2}[0-9][A-Z0-9]?)([0-9][A-Z]{2})")
_CA = re.compile(r"([ABCEGHJ-NPRSTVXY][0-9][ABCEGHJ-NPRSTV-Z])([0-9][ABCEGHJ-NPRSTV-Z][0-9])")
_NL = re.compile(r"([1-9][0-9]{3})([A-Z]{2})")
_IE = re.compile(r"([ACDEFHKNPRTVWXY][0-9]{2}|D6W)([0-9ACDEFHKNPRTVWXY]{4})")


def _pattern(regex: re.Pattern[str]) -> Callable[[str], str | None]:
    def check(compact: str) -> str | None:
        found = regex.fullmatch(compact)
        return None if found is None else f"{found.group(1)} {found.group(2)}"

    return check


def _gb(compact: str) -> str | None:
    if compact == "GIR0AA":
        return "GIR 0AA"
    return _pattern(_GB)(compact)


_RULES: dict[str, Callable[[str], str | None]] = {
    "US": _us,
    "PR": _us,
    "GB": _gb,
    "IM": _gb,
    "JE": _gb,
    "GG": _gb,
    "CA": _pattern(_CA),
    "NL": _pattern(_NL),
    "IE": _pattern(_IE),
    "DE": _digits(5, pad=True),
    "FR": _digits(5, pad=True),
    "IT": _digits(5, pad=True),
    "ES": _digits(5, pad=True),
    "FI": _digits(5, pad=True),
    "MX": _digits(5, pad=True),
    "SE": _digits(5, lambda d: f"{d[:3]} {d[3:]}"),
    "PL": _digits(5, lambda d: f"{d[:2]}-{d[2:]}"),
    "PT": _digits(7, lambda d: f"{d[:4]}-{d[4:]}"),
    "JP": _digits(7, lambda d: f"{d[:3]}-{d[3:]}"),
    "BR": _digits(8, lambda d: f"{d[:5]}-{d[5:]}"),
    "AU": _digits(4),
    "AT": _digits(4),
    "BE": _digits(4),
    "CH": _digits(4),
    "DK": _digits(4),
    "NO": _digits(4),
    "NZ": _digits(4),
    "IN": _digits(6),
    "SG": _digits(6),
}
_STRIP_PREFIX = re.compile(r"^(?:[A-Z]{1,2}-)(?=\d)")  # "D-10115", "F-75001", "CH-8001"
_ALNUM = re.compile(r"[^0-9A-Z]+")


def _postcode_core(text: str, *, country: str | None = None) -> Outcome:
    text = clean_text(text).upper()
    if len(text) > 40:
        return Rejection("postcode.format", "a postcode longer than 40 characters")
    if not text:
        return None
    code = None
    if country is not None:
        from crmcore.normalize._country import normalize_country

        code = normalize_country(country)
    rule = _RULES.get(code or "")
    if rule is None:
        out = " ".join(_ALNUM.sub(" ", text).split())
        if not out:
            return Rejection("postcode.format", "a postcode needs letters or digits")
        return out
    compact = _ALNUM.sub("", _STRIP_PREFIX.sub("", text))
    found = rule(compact)
    if found is None:
        return Rejection("postcode.format", f"{text!r} is not a valid {code} postcode")
    return found


POSTCODE = Normalizer("postcode", _postcode_core, "postcode in the country's canonical format")
"""Postcodes (registry name ``"postcode"``; option ``country``)."""


def normalize_postcode(
    value: str | None,
    country: str | None = None,
    *,
    strict: bool = False,
    issues: MutableSequence[FieldProblem] | None = None,
    field: str = "postcode",
    record: str | None = None,
) -> str | None:
    """Normalise a postcode for a country (ISO2, ISO3 or name; see the module table).

    Args:
        value: The raw value.
        country: The record's country; without it the value is only uppercased and tidied.
        strict: Raise instead of returning None for a rejected value.
        issues: A list that receives one :class:`~crmcore.errors.FieldProblem` per rejection.
        field: Field name quoted in problems.
        record: Record identifier quoted in problems.

    Returns:
        The canonical postcode, or None.

    Raises:
        NormalizationError: In strict mode, when the postcode does not fit the country.

    Example:
        >>> normalize_postcode("sw1a1aa", "GB"), normalize_postcode("2134", "US")
        ('SW1A 1AA', '02134')
        >>> normalize_postcode("1012ab", "Netherlands"), normalize_postcode("D-10115", "DE")
        ('1012 AB', '10115')
    """
    return POSTCODE(
        value, country=country, strict=strict, issues=issues, field=field, record=record
    )
