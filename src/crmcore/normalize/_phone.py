"""Phone numbers: E.164 via phonenumbers, extensions kept, placeholders and impossible numbers out.

Rules:

* The number is parsed by `phonenumbers` with ``region`` (ISO 3166-1 alpha-2, or anything
  :func:`~crmcore.normalize.normalize_country` understands) as the default region for numbers
  written without a country code; ``00`` is read as ``+`` when no region is known.
* Vanity letters are read as digits (``1-800-FLOWERS`` -> ``+18003569377``).
* An extension (``ext. 12``, ``x12``, ``#12``, ``;ext=12``) is split off and kept as
  ``;ext=12`` after the E.164 number (RFC 3966 style).
* A number phonenumbers finds impossible, or longer than the 15 digits E.164 allows, is
  rejected with the reason (``phone.too_short``,
  ``phone.too_long``, ``phone.invalid_length``, ``phone.local_only``, ``phone.country_code``);
  a number without country code and without region is rejected as ``phone.no_region``.
* Placeholders (all one digit such as ``0000000000``, runs such as ``1234567890``) are rejected
  as ``phone.placeholder``.
* Fast paths, all giving exactly what the full parse gives (property tests compare them):

  - input already in E.164 (``+`` and 7-15 digits, possibly with spaces, dashes, dots or
    parentheses) whose national part cannot carry a national prefix is checked against
    phonenumbers' possible lengths for its country code;
  - international input with a plain national prefix after the country code
    (``+44 (0)20 7946 0958``) loses the prefix, as in the full parse;
  - national input (digits and separators only) of a region whose national prefix is plain
    (``0`` in most of Europe, ``1`` in the US) is checked the same way once the prefix is
    removed; a leading country code (``1 415 555 0134``) is read as phonenumbers reads it and
    an IDD prefix (``00``, ``011``) makes the input international;
  - without a region, ``00`` followed by digits and separators is read as ``+``;
  - a simple extension (``x12``, ``ext. 12``, ``(ext. 12)``, ``;ext=12``) is split off first.

  :func:`international_fast_batch` is the first, second and last of these over a pyarrow
  array.

  Anything else (letters, JP's transform rules, carrier codes ...) takes the full parse.
"""

from __future__ import annotations

import re
from collections.abc import MutableSequence
from functools import cache, lru_cache
from typing import Any, NamedTuple

import phonenumbers
from phonenumbers import NumberParseException, PhoneMetadata, ValidationResult

from crmcore.errors import FieldProblem
from crmcore.io._arrow import digits_only
from crmcore.normalize._core import Normalizer, Outcome, Rejection, clean_text

_E164 = re.compile(r"\+([1-9]\d{6,14})")
_NON_DIGIT = re.compile(r"\D+")
_RUNS = "01234567890|12345678901|98765432109"  # digits cannot span a '|'


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
    size = len(digits)
    if size < 6:
        return False
    if digits.count(digits[0]) == size:  # one digit repeated
        return True
    return size >= 7 and digits in _RUNS


@cache
def _fast_entry(cc: str) -> tuple[frozenset[int], re.Pattern[str] | None] | None:
    """Calling code -> (possible national lengths, national-prefix pattern); None when ``cc``
    is not a calling code with metadata. A code's metadata is loaded when it is first asked for
    (a column of numbers uses a few of the 215 codes)."""
    if not (cc.isascii() and cc.isdigit()) or cc.startswith("0"):
        return None
    regions = phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(int(cc))
    if not regions:
        return None
    main = regions[0]
    if main == "001":
        meta = PhoneMetadata.metadata_for_nongeo_region(int(cc))
    else:
        meta = PhoneMetadata.metadata_for_region_or_calling_code(int(cc), main)
    if meta is None or meta.general_desc is None:
        return None
    lengths = frozenset(meta.general_desc.possible_length or ())
    local = frozenset(meta.general_desc.possible_length_local_only or ())
    prefix = meta.national_prefix_for_parsing or meta.national_prefix
    return lengths - local, re.compile(prefix) if prefix else None


def _fast_path(text: str) -> str | None:
    """Return ``text`` when it is a possible E.164 number the full parse would keep unchanged."""
    if len(text) > 16:  # more than 15 digits: the full parse rejects it
        return None
    digits = text[1:]
    for k in (1, 2, 3):
        entry = _fast_entry(digits[:k])
        if entry is None:
            continue
        national = digits[k:]
        lengths, prefix = entry
        if prefix is not None and (national[:1] == "0" or prefix.match(national)):
            return None  # a national prefix after the country code: full parse decides
        if len(national) in lengths and not _is_placeholder(national):
            return text
        return None
    return None


_SIMPLE = re.compile(r"\+?[\d\s().\-/]+")
_SEPARATORS = re.compile(r"[\s().\-/]+")


class _NationalRule(NamedTuple):
    cc: str
    prefix: re.Pattern[str] | None
    pattern: re.Pattern[str]
    idd: re.Pattern[str] | None
    max_length: int


@cache
def _national_rule(region: str) -> _NationalRule | None:
    """Region -> what the national fast path needs (calling code, patterns, maximum length).

    None when national input of the region is not eligible for the fast path: the region is
    not the main region of its calling code, or its national prefix needs a transform rule.
    """
    meta = PhoneMetadata.metadata_for_region(region)
    if meta is None or meta.general_desc is None or meta.national_prefix_transform_rule:
        return None
    cc = meta.country_code
    if cc is None or phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(cc, ("",))[0] != region:
        return None
    prefix = meta.national_prefix_for_parsing or meta.national_prefix
    pattern = meta.general_desc.national_number_pattern
    lengths = meta.general_desc.possible_length
    if not pattern or not lengths:
        return None
    idd = meta.international_prefix
    return _NationalRule(
        str(cc),
        re.compile(prefix) if prefix else None,
        re.compile(pattern),
        re.compile(idd) if idd else None,
        max(lengths),
    )


def _national_fast_path(digits: str, region: str) -> str | None:
    """Return the E.164 form of national ``digits`` of ``region`` when the full parse would
    give it without doubt (no IDD, a plain national prefix), else None."""
    rule = _national_rule(region)
    if rule is None or (rule.idd is not None and rule.idd.match(digits)):
        return None
    if digits.startswith(rule.cc):
        # phonenumbers reads a leading country code ("1 415 555 0134" in the US) when the rest
        # is a national number and the whole is not, or the whole is too long.
        rest = digits[len(rule.cc) :]
        if rule.prefix is not None and rule.prefix.match(rest):
            return None
        if not (
            (not rule.pattern.fullmatch(digits) and rule.pattern.fullmatch(rest))
            or len(digits) > rule.max_length
        ):
            return None
        return _fast_path(f"+{rule.cc}{rest}")
    national = digits
    if rule.prefix is not None:
        found = rule.prefix.match(digits)
        if found is not None:
            if any(found.groups()):
                return None  # a carrier code or another special prefix: full parse
            national = digits[found.end() :]
    if len(national) < 2 or not rule.pattern.fullmatch(national):
        return None
    return _fast_path(f"+{rule.cc}{national}")


def _prefixed_fast_path(e164: str) -> str | None:
    """E.164-like input with a national prefix after the country code (``+44 (0)20 ...``)."""
    digits = e164[1:]
    for k in (1, 2, 3):
        regions = phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(int(digits[:k]))
        if regions is None:
            continue
        rule = _national_rule(regions[0])
        if rule is None or rule.prefix is None:
            return None
        national = digits[k:]
        found = rule.prefix.match(national)
        if found is None or any(found.groups()):
            return None
        stripped = national[found.end() :]
        if len(stripped) < 2 or not rule.pattern.fullmatch(stripped):
            return None
        return _fast_path(f"+{rule.cc}{stripped}")
    return None


def _region(region: object) -> str | None:
    """The phonenumbers region of a record's country (ISO2, ISO3, a name ...), or None."""
    if region is None:
        return None
    return _region_of_text(region if isinstance(region, str) else str(region))


@lru_cache(maxsize=512)
def _region_of_text(region: str) -> str | None:
    code = region.strip().upper()
    if len(code) != 2 or code not in phonenumbers.SUPPORTED_REGIONS:
        from crmcore.normalize._country import normalize_country

        found = normalize_country(region)
        code = found if found is not None else ""
    return code if code in phonenumbers.SUPPORTED_REGIONS else None


_EXTENSION = re.compile(
    r"(?P<main>\+?[\d\s().\-/]+?)\s*(?:\(\s*)?"
    r"(?:;\s*ext=|,?\s*(?:ext\.?|extension|x|#)\s*)(?P<ext>\d{1,7})\s*\)?",
    re.IGNORECASE,
)


def _simple_fast_path(text: str, region: str | None, all_digits: str) -> str | None:
    """E.164 of ``text`` (digits and separators only) when a fast path applies, else None."""
    if _is_placeholder(all_digits):
        return None
    if text[0] == "+":
        e164 = "+" + _SEPARATORS.sub("", text[1:])
        if not _E164.fullmatch(e164):
            return None
        return e164 if _fast_path(e164) is not None else _prefixed_fast_path(e164)
    default = _region(region) if region is not None else None
    if default is None:
        if not text.startswith("00"):
            return None
        # no region: "00" is read as "+", as the full parse does
        e164 = "+" + _SEPARATORS.sub("", text[2:])
        if not _E164.fullmatch(e164):
            return None
        return e164 if _fast_path(e164) is not None else _prefixed_fast_path(e164)
    digits = _SEPARATORS.sub("", text)
    rule = _national_rule(default)
    if rule is not None and rule.idd is not None:
        idd = rule.idd.match(digits)
        if idd is not None and not any(idd.groups()):  # "00 44 20 ...": international
            e164 = "+" + digits[idd.end() :]
            return e164 if _E164.fullmatch(e164) and _fast_path(e164) is not None else None
    return _national_fast_path(digits, default)


def _phone_core(text: str, *, region: str | None = None) -> Outcome:
    if text[0] == "+" and _E164.fullmatch(text) and _fast_path(text) is not None:
        return text
    if _SIMPLE.fullmatch(text):
        found = _simple_fast_path(text, region, _NON_DIGIT.sub("", text))
        if found is not None:
            return found
    else:
        split = _EXTENSION.fullmatch(text)
        if split is not None:
            main = split.group("main")
            found = _simple_fast_path(main, region, _NON_DIGIT.sub("", text))
            if found is not None:
                return f"{found};ext={split.group('ext')}"
    return _full_parse(text, region)


def _full_parse(text: str, region: str | None = None) -> Outcome:
    """The reference path: phonenumbers' full parse (the fast paths must agree with it)."""
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
    if len(e164) > 16:  # E.164 allows at most 15 digits ("415 the the March" read as vanity)
        return Rejection("phone.too_long", "more than the 15 digits E.164 allows")
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



@cache
def _run_substrings() -> tuple[str, ...]:
    """Every digit string of 7+ characters that ``digits in _RUNS`` finds."""
    found: set[str] = set()
    for run in _RUNS.split("|"):
        for size in range(7, len(run) + 1):
            found.update(run[k : k + size] for k in range(len(run) - size + 1))
    return tuple(sorted(found))


def _placeholder_mask(pa: Any, pc: Any, digits: Any) -> Any:
    """:func:`_is_placeholder` over a pyarrow array of digit strings."""
    size = pc.utf8_length(digits)
    same = pc.equal(pc.binary_repeat(pc.utf8_slice_codeunits(digits, 0, 1), size), digits)
    runs = pc.is_in(digits, value_set=pa.array(_run_substrings(), type=pa.string()))
    long_run = pc.and_(pc.greater_equal(size, 7), runs)
    return pc.and_(pc.greater_equal(size, 6), pc.or_(same, long_run))


def _starts(pc: Any, arr: Any, pattern: str) -> Any:
    """Rows whose text matches ``pattern`` at its start (Python's ``re.match``)."""
    return pc.match_substring_regex(arr, "^(?:" + pattern + ")")



def international_fast_batch(pa: Any, pc: Any, arr: Any) -> tuple[Any, Any]:
    """``normalize_phone`` without a region over printable-ASCII text, where a fast path decides.

    The rows written internationally (``+`` or ``00``, digits and separators, optionally a
    simple extension) whose national part cannot carry a national prefix and has a possible
    length for its country code, or carries a plain national prefix (``+44 (0)20 ...``): exactly
    the values :func:`_fast_path` or :func:`_prefixed_fast_path` accept, so the result is what
    :func:`normalize_phone` gives for them. Everything else is left undecided.

    Returns:
        ``(keys, decided)``: the E.164 number (``;ext=N`` kept) and a boolean array of the rows
        it holds for; ``keys`` is meaningless where ``decided`` is false.
    """
    import numpy as np

    size = len(arr)
    stripped = pc.utf8_trim(arr, " ")
    rows = pc.indices_nonzero(
        pc.fill_null(pc.or_(pc.starts_with(stripped, "+"), pc.starts_with(stripped, "00")), False)
    )
    keys, ok = _international_fast(pa, pc, pc.take(stripped, rows))
    decided = np.zeros(size, dtype=bool)
    decided[rows.to_numpy()[ok.to_numpy(zero_copy_only=False)]] = True
    mask = pa.array(decided)
    return pc.replace_with_mask(pa.nulls(size, pa.string()), mask, pc.filter(keys, ok)), mask


def _international_fast(pa: Any, pc: Any, text: Any) -> tuple[Any, Any]:
    """:func:`international_fast_batch` over stripped text that starts with ``+`` or ``00``."""
    simple = pc.match_substring_regex(text, "^(?:" + _SIMPLE.pattern + ")$")
    main, extension = text, pa.nulls(len(text), pa.string())
    if not pc.all(simple).as_py():  # split the extension off the other rows
        split = pc.extract_regex(
            pc.filter(text, pc.invert(simple)), "(?i)^(?:" + _EXTENSION.pattern + ")$"
        )
        rest = pc.invert(simple)
        main = pc.replace_with_mask(main, rest, pc.struct_field(split, [0]))
        extension = pc.replace_with_mask(extension, rest, pc.struct_field(split, [1]))
    plus = pc.starts_with(main, "+")
    international = pc.or_(plus, pc.starts_with(main, "00"))
    body = pc.if_else(plus, pc.utf8_slice_codeunits(main, 1), pc.utf8_slice_codeunits(main, 2))
    # main holds only a +, digits and separators (or is null): the separators are the non-digits
    digits = digits_only(pc, body)
    ok = pc.and_(international, pc.match_substring_regex(digits, r"^[1-9][0-9]{6,14}$"))
    all_digits = digits_only(pc, text)
    ok = pc.and_(ok, pc.invert(_placeholder_mask(pa, pc, all_digits)))
    base = pc.fill_null(ok, False)  # E.164 digits, not a placeholder: a fast path may apply
    # the calling code: the one of the 1, 2 or 3 leading digits that is one (prefix-free codes)
    codes = pa.array([str(c) for c in phonenumbers.COUNTRY_CODE_TO_REGION_CODE], pa.string())
    cc_size = pa.nulls(len(text), type=pa.int64())
    for k in (3, 2, 1):
        lead = pc.utf8_slice_codeunits(digits, 0, k)
        found = pc.fill_null(pc.is_in(lead, value_set=codes), False)
        cc_size = pc.if_else(found, k, cc_size)
    cc = pc.if_else(
        pc.equal(cc_size, 1),
        pc.utf8_slice_codeunits(digits, 0, 1),
        pc.if_else(
            pc.equal(cc_size, 2),
            pc.utf8_slice_codeunits(digits, 0, 2),
            pc.utf8_slice_codeunits(digits, 0, 3),
        ),
    )
    national = pc.if_else(
        pc.equal(cc_size, 1),
        pc.utf8_slice_codeunits(digits, 1),
        pc.if_else(
            pc.equal(cc_size, 2),
            pc.utf8_slice_codeunits(digits, 2),
            pc.utf8_slice_codeunits(digits, 3),
        ),
    )
    length_key = pc.binary_join_element_wise(
        cc, pc.cast(pc.utf8_length(national), pa.string()), ":"
    )
    present = pc.unique(pc.filter(cc, base)).drop_null().to_pylist()
    entries = {code: _fast_entry(code) for code in present}
    sizes = sorted(
        f"{code}:{size}" for code, entry in entries.items() if entry is not None
        for size in entry[0]
    )
    ok = pc.and_(ok, pc.is_in(length_key, value_set=pa.array(sizes, pa.string())))
    ok = pc.and_(ok, pc.invert(_placeholder_mask(pa, pc, national)))
    ok = pc.fill_null(ok, False)
    # a national prefix after the calling code: the full parse decides (per calling code)
    zero = pc.starts_with(national, "0")
    for code in pc.unique(pc.filter(cc, ok)).to_pylist():
        entry = _fast_entry(code)
        prefix = None if entry is None else entry[1]
        if prefix is None:
            continue
        try:
            hit = pc.or_(zero, _starts(pc, national, prefix.pattern))
        except pa.ArrowInvalid:  # a pattern RE2 cannot run: leave the calling code undecided
            hit = pa.scalar(True)
        ok = pc.and_(ok, pc.invert(pc.and_(pc.equal(cc, code), hit)))
    # a national prefix the fast path refused: stripped when _prefixed_fast_path would
    done, stripped = _prefixed_batch(pa, pc, cc, national, pc.and_(base, pc.invert(ok)))
    digits = pc.if_else(done, pc.binary_join_element_wise(cc, stripped, ""), digits)
    ok = pc.or_(ok, done)
    e164 = pc.utf8_replace_slice(digits, 0, 0, "+")
    keys = pc.if_else(
        pc.is_null(extension), e164, pc.binary_join_element_wise(e164, extension, ";ext=")
    )
    return keys, pc.fill_null(ok, False)


def _named_groups(pattern: re.Pattern[str]) -> str | None:
    """``pattern`` with its capturing groups named ``g0``, ``g1`` ... (for
    ``pyarrow.compute.extract_regex``), or None when the rewrite is not plainly the same."""
    text = re.sub(r"(?<!\\)\((?!\?)", lambda _: "(?P<g_>", pattern.pattern)
    parts = text.split("(?P<g_>")
    named = parts[0] + "".join(f"(?P<g{k}>{part}" for k, part in enumerate(parts[1:]))
    try:
        found = re.compile(named)
    except re.error:
        return None
    return named if found.groups == pattern.groups == len(parts) - 1 else None


def _prefixed_batch(pa: Any, pc: Any, cc: Any, national: Any, todo: Any) -> tuple[Any, Any]:
    """:func:`_prefixed_fast_path` over the rows of ``todo`` (E.164 digits that are not a
    placeholder and that :func:`_fast_path` refuses), split into calling code ``cc`` and
    ``national`` digits: ``(done, stripped)``, the rows it decides and their national number
    once the national prefix is taken out. Calling codes whose patterns RE2 cannot run are
    left undecided."""
    import numpy as np

    size = len(national)
    done = np.zeros(size, dtype=bool)
    stripped = pa.nulls(size, pa.string())
    todo_np = np.asarray(todo.to_numpy(zero_copy_only=False), dtype=bool)
    if not todo_np.any():
        return pa.array(done), stripped
    cc_todo = pc.filter(cc, todo)
    for code in pc.unique(cc_todo).drop_null().to_pylist():
        regions = phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(int(code))
        rule = _national_rule(regions[0]) if regions else None
        entry = _fast_entry(code)
        if rule is None or rule.prefix is None or entry is None or entry[1] is None:
            continue
        if entry[1].pattern != rule.prefix.pattern or rule.cc != code:
            continue
        named = _named_groups(rule.prefix)
        if named is None:
            continue
        rows = np.flatnonzero(
            todo_np & pc.fill_null(pc.equal(cc, code), False).to_numpy(zero_copy_only=False)
        )
        sub = pc.take(national, pa.array(rows))
        try:
            parts = pc.extract_regex(sub, "^(?:" + named + ")(?P<rest>.*)$")
            rest = pc.struct_field(parts, [rule.prefix.groups])
            shape = pc.match_substring_regex(rest, "^(?:" + rule.pattern.pattern + ")$")
            again = _starts(pc, rest, rule.prefix.pattern)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            continue
        good = pc.is_valid(parts)  # the prefix matched
        for k in range(rule.prefix.groups):  # a carrier code or another special prefix
            good = pc.and_(good, pc.equal(pc.utf8_length(pc.struct_field(parts, [k])), 0))
        size_ok = pc.is_in(pc.utf8_length(rest), value_set=pa.array(sorted(entry[0]), pa.int32()))
        good = pc.and_(good, pc.and_(shape, size_ok))
        good = pc.and_(good, pc.invert(pc.or_(pc.starts_with(rest, "0"), again)))
        good = pc.and_(good, pc.greater_equal(pc.utf8_length(rest), 2))
        good = pc.and_(good, pc.invert(_placeholder_mask(pa, pc, rest)))
        good_np = np.asarray(pc.fill_null(good, False).to_numpy(zero_copy_only=False), dtype=bool)
        if not good_np.any():
            continue
        done[rows[good_np]] = True
        mask = np.zeros(size, dtype=bool)
        mask[rows[good_np]] = True
        stripped = pc.replace_with_mask(stripped, pa.array(mask), pc.filter(rest, good))
    return pa.array(done), stripped
