"""Phone numbers: E.164 via phonenumbers, extensions kept, placeholders and impossible numbers out.

Rules:

* The number is parsed by `phonenumbers` with ``region`` (ISO 3166-1 alpha-2, or anything
  :func:`~crmcore.normalize.normalize_country` understands) as the default region for numbers
  written without a country code; ``00`` is read as ``+`` when no region is known.
* Vanity letters are read as digits (``1-800-FLOWERS`` -> ``+18003569377``).
* An extension (``ext. 12``, ``x12``, ``#12``, ``;ext=12``) is split off and kept as
  ``;ext=12`` after the E.164 number (RFC 3966 style).
* A number phonenumbers finds impossible is rejected with the reason (``phone.too_short``,
  ``phone.too_long``, ``phone.invalid_length``, ``phone.local_only``, ``phone.country_code``);
  a number without country code and without region is rejected as ``phone.no_region``.
* Placeholders (all one digit such as ``0000000000``, runs such as ``1234567890``) are rejected
  as ``phone.placeholder``.
* Fast path: input already in E.164 (``+`` and 7-15 digits) whose national part cannot carry a
  national prefix is checked against phonenumbers' possible lengths for its country code without
  a full parse; the answer is the same as the full parse (a property test checks it).
"""

from __future__ import annotations

import re
from collections.abc import MutableSequence
from functools import cache, lru_cache

import phonenumbers
from phonenumbers import NumberParseException, PhoneMetadata, ValidationResult

from crmcore.errors import FieldProblem
from crmcore.normalize._core import Normalizer, Outcome, Rejection, clean_text

__all__ = ["PHONE", "normalize_phone"]

_E164 = re.compile(r"\+([1-9]\d{6,14})")
_NON_DIGIT = re.compile(r"\D+")
_RUNS = ("01234567890", "12345678901", "98765432109")

_REASONS = {
    ValidationResult.TOO_SHORT: ("phone.too_short", "the number is too short"),
    ValidationResult.TOO_LONG: ("phone.too_long", "the number is too long"),
    ValidationResult.INVALID_LENGTH: (
        "phone.invalid_length",
        "no number of this length exists in the country",
    ),
    ValidationResult.INVALID_COUNTRY_CODE: (
        "phone.country_code",
        "the country calling code does not exist",
    ),
    ValidationResult.IS_POSSIBLE_LOCAL_ONLY: (
        "phone.local_only",
        "the number can only be dialled locally (an area code is missing)",
    ),
}

_PARSE_REASONS = {
    NumberParseException.INVALID_COUNTRY_CODE: (
        "phone.no_region",
        "no country code and no default region: cannot tell the country",
    ),
    NumberParseException.NOT_A_NUMBER: ("phone.format", "not a phone number"),
    NumberParseException.TOO_SHORT_AFTER_IDD: ("phone.too_short", "too short after the prefix"),
    NumberParseException.TOO_SHORT_NSN: ("phone.too_short", "the number is too short"),
    NumberParseException.TOO_LONG: ("phone.too_long", "the number is too long"),
}


def _is_placeholder(digits: str) -> bool:
    if len(digits) < 6:
        return False
    if len(set(digits)) == 1:
        return True
    return len(digits) >= 7 and any(digits in run for run in _RUNS)


@cache
def _fast_table() -> dict[str, tuple[frozenset[int], re.Pattern[str] | None]]:
    """Country calling code -> (possible national lengths, national-prefix pattern)."""
    table: dict[str, tuple[frozenset[int], re.Pattern[str] | None]] = {}
    for cc, regions in phonenumbers.COUNTRY_CODE_TO_REGION_CODE.items():
        main = regions[0]
        if main == "001":
            meta = PhoneMetadata.metadata_for_nongeo_region(cc)
        else:
            meta = PhoneMetadata.metadata_for_region_or_calling_code(cc, main)
        if meta is None or meta.general_desc is None:
            continue
        lengths = frozenset(meta.general_desc.possible_length or ())
        local = frozenset(meta.general_desc.possible_length_local_only or ())
        prefix = meta.national_prefix_for_parsing or meta.national_prefix
        pattern = re.compile(prefix) if prefix else None
        table[str(cc)] = (lengths - local, pattern)
    return table


def _fast_path(text: str) -> str | None:
    """Return ``text`` when it is a possible E.164 number the full parse would keep unchanged."""
    digits = text[1:]
    table = _fast_table()
    for k in (1, 2, 3):
        entry = table.get(digits[:k])
        if entry is None:
            continue
        national = digits[k:]
        lengths, prefix = entry
        if national[:1] == "0" or (prefix is not None and prefix.match(national)):
            return None
        if len(national) in lengths and not _is_placeholder(national):
            return text
        return None
    return None


@lru_cache(maxsize=512)
def _region(region: str | None) -> str | None:
    if region is None:
        return None
    code = region.strip().upper()
    if len(code) != 2 or code not in phonenumbers.SUPPORTED_REGIONS:
        from crmcore.normalize.country import normalize_country

        found = normalize_country(region)
        code = found if found is not None else ""
    return code if code in phonenumbers.SUPPORTED_REGIONS else None


def _phone_core(text: str, *, region: str | None = None) -> Outcome:
    if text[0] == "+" and _E164.fullmatch(text) and _fast_path(text) is not None:
        return text
    text = clean_text(text)
    if not text:
        return None
    digits = _NON_DIGIT.sub("", text)
    if not digits and not any(ch.isalpha() for ch in text):
        return Rejection("phone.format", "not a phone number (no digits)")
    if _is_placeholder(digits):
        return Rejection("phone.placeholder", f"{text!r} is a placeholder number")
    default = _region(region)
    if default is None and text.startswith("00"):
        text = "+" + text[2:]
    if len(text) > 250:
        return Rejection("phone.too_long", "the value is far too long for a phone number")
    try:
        number = phonenumbers.parse(text, default)
    except NumberParseException as exc:
        if exc.error_type == NumberParseException.INVALID_COUNTRY_CODE and text[:1] in "+＋":
            return Rejection("phone.country_code", "the country calling code does not exist")
        rule, message = _PARSE_REASONS.get(exc.error_type, ("phone.format", str(exc)))
        return Rejection(rule, message)
    reason = phonenumbers.is_possible_number_with_reason(number)
    if reason != ValidationResult.IS_POSSIBLE:
        rule, message = _REASONS.get(reason, ("phone.impossible", "not a possible number"))
        return Rejection(rule, message)
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    national = e164[1 + len(str(number.country_code)) :]
    if _is_placeholder(national):
        return Rejection("phone.placeholder", f"{text!r} is a placeholder number")
    if number.extension:
        return f"{e164};ext={number.extension}"
    return e164


PHONE = Normalizer("phone", _phone_core, "phone number in E.164, extension as ';ext=N'")
"""The phone :class:`~crmcore.normalize.Normalizer` (registry name ``"phone"``)."""


def normalize_phone(
    value: str | None,
    region: str | None = None,
    *,
    strict: bool = False,
    issues: MutableSequence[FieldProblem] | None = None,
    field: str = "phone",
    record: str | None = None,
) -> str | None:
    """Normalise a phone number to E.164 (see the module docstring for the rules).

    Args:
        value: The raw value.
        region: Default region for numbers without a country code: ISO 3166-1 alpha-2 or a
            country name / ISO3 code (the record's country).
        strict: Raise instead of returning None for a rejected value.
        issues: A list that receives one :class:`~crmcore.errors.FieldProblem` per rejection.
        field: Field name quoted in problems.
        record: Record identifier quoted in problems.

    Returns:
        The E.164 number (``+14155550134``, with ``;ext=12`` when there is an extension), or None.

    Raises:
        NormalizationError: In strict mode, when the value is not a possible phone number.

    Example:
        >>> normalize_phone("(415) 555-0134 ext. 12", "US")
        '+14155550134;ext=12'
        >>> normalize_phone("020 7946 0958", "United Kingdom"), normalize_phone("0000000000", "US")
        ('+442079460958', None)
    """
    return PHONE(value, region=region, strict=strict, issues=issues, field=field, record=record)
