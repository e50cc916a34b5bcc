"""Preparation: normalise the columns matching reads, once per distinct value.

Each settings object names a *kind* per column (``MatchSettings.prepare``). A kind maps to a
normaliser of :mod:`crmcore.normalize` (``name`` -> ``name_key``, ``email`` ->
``normalize_email``, ``date`` -> ``normalize_date`` ...) with a simple built-in fallback, and runs
once per distinct value of the column. A value the normaliser rejects becomes missing and is
reported as a :class:`~crmcore.errors.FieldProblem` (the record is kept).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from datetime import date
from typing import Any

import attrs

from crmcore.errors import FieldProblem, MatchingConfigError
from crmcore.io import Table
from crmcore.io._arrow import kernel_digits, null_if_empty, register_batch
from crmcore.matching._functions import fold
from crmcore.matching._settings import MatchSettings
from crmcore.normalize import (
    HONORIFICS,
    date_order,
    email_key,
    natural_name_order,
    normalize_date,
    phone_key,
    repair_mojibake,
)

Value = str | None

_SPACES = re.compile(r"\s+")
_NON_DIGIT = re.compile(r"\D+")
_NON_ALNUM = re.compile(r"[^0-9a-z]+")


def _fold(value: str) -> str:
    """:func:`~crmcore.matching._functions.fold` with spaces collapsed; UTF-8 read as
    Windows-1252 repaired first (:func:`crmcore.normalize.repair_mojibake`: ``MÃ¼ller`` is
    ``muller``)."""
    return _SPACES.sub(" ", fold(repair_mojibake(value))).strip()


def _text(value: str) -> Value:
    return _fold(value) or None


_NOT_NAME = re.compile(r"[^\w' -]+")
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u00b4": "'", "\u02bc": "'"})


#: Leading honorifics (:data:`crmcore.normalize.HONORIFICS`) of folded name text, each
#: followed by more of the name: ``dr hans`` -> ``hans``, while ``dr`` alone stays.
_HONORIFIC_PREFIX = "^(?:(?:" + "|".join(sorted(HONORIFICS)) + ") )+"
_HONORIFIC = re.compile(_HONORIFIC_PREFIX)


def _name(value: str) -> Value:
    """Folded name text without leading honorifics (``Dr. Hans`` -> ``hans``, ``Frau Inge``
    -> ``inge``); a "Last, First" value is put in natural order first
    (:func:`crmcore.normalize.natural_name_order`: ``Aguirre, Diane`` -> ``diane aguirre``,
    ``Smith, Jr.`` stays ``smith jr``)."""
    if "," in value:
        value = natural_name_order(value)
    if not value.isascii():  # O’Brien is O'Brien (the batch form sees ASCII values only)
        value = repair_mojibake(value).translate(_APOSTROPHES)
    text = _SPACES.sub(" ", _NOT_NAME.sub(" ", _fold(value))).strip(" -'")
    return _HONORIFIC.sub("", text) or None


def _kernel_fold(pc: Any, arr: Any) -> Any:
    return pc.utf8_trim(pc.replace_substring_regex(pc.ascii_lower(arr), " +", " "), " ")


def _kernel_name(pc: Any, arr: Any) -> Any:
    text = pc.replace_substring_regex(_kernel_fold(pc, arr), r"[^A-Za-z0-9_' -]+", " ")
    text = pc.utf8_trim(pc.replace_substring_regex(text, " +", " "), " -'")
    out = null_if_empty(pc, pc.replace_substring_regex(text, _HONORIFIC_PREFIX, ""))
    comma = pc.fill_null(pc.match_substring(arr, ","), False)
    if pc.any(comma).as_py():  # "Last, First": the scalar form reorders these few values
        import pyarrow as pa

        fixed = pa.array([_name(v) for v in arr.filter(comma).to_pylist()], type=pa.string())
        out = pc.replace_with_mask(out, comma, fixed)
    return out


register_batch(_text, lambda pc, arr: null_if_empty(pc, _kernel_fold(pc, arr)))
register_batch(_name, _kernel_name)


def _digits(value: str) -> Value:
    return _NON_DIGIT.sub("", value) or None


_PHONE_EXTENSION = (
    r"\s*[(\[]?\s*(?:extension|ext\.?|x|#|;\s*ext=)\s*\d{1,6}\s*[)\]]?\s*$"
)
_PHONE_EXTENSION_RE = re.compile(_PHONE_EXTENSION, re.IGNORECASE)


def _phone(value: str) -> Value:
    """Digits of a phone number without its extension (``x123``, ``ext. 123``, ``;ext=123``).

    Not the presets' default: colleagues share a switchboard number and differ by extension.
    """
    return _NON_DIGIT.sub("", _PHONE_EXTENSION_RE.sub("", value)) or None


def _kernel_phone(pc: Any, arr: Any) -> Any:
    return kernel_digits(pc, pc.replace_substring_regex(arr, "(?i)" + _PHONE_EXTENSION, ""))


#: Postcodes whose space is conventional but often left out, written without it: British
#: (``SW1A1AA``), Canadian (``M5V3L9``) and Dutch (``1012AB``); the space goes back where the
#: format puts it, so ``SW1A1AA`` is ``SW1A 1AA`` and its district (first word) ``SW1A``.
_COMPACT_POSTCODES = (
    re.compile(r"([A-Z]{1,2}[0-9][A-Z0-9]?)([0-9][A-Z]{2})"),
    re.compile(r"([A-Z][0-9][A-Z])([0-9][A-Z][0-9])"),
    re.compile(r"([0-9]{4})([A-Z]{2})"),
)


def _postcode(value: str) -> Value:
    """Upper-case alphanumeric words; a British, Canadian or Dutch postcode written without
    its space gets it back (``sw1a1aa`` -> ``SW1A 1AA``, ``1012ab`` -> ``1012 AB``).

    Example:
        >>> [_postcode(v) for v in ("sw1a1aa", "SW1A 1AA", "m5v3l9", "1012-ab", "113 46")]
        ['SW1A 1AA', 'SW1A 1AA', 'M5V 3L9', '1012 AB', '113 46']
    """
    text = _NON_ALNUM.sub(" ", _fold(value)).strip().upper()
    compact = text.replace(" ", "")
    if text.count(" ") <= 1 and not compact.isdigit():
        for pattern in _COMPACT_POSTCODES:
            found = pattern.fullmatch(compact)
            if found is not None:
                return " ".join(found.groups())
    return text or None


register_batch(_digits, kernel_digits)
register_batch(_phone, _kernel_phone)


_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _date(value: str, dayfirst: bool | None = None) -> Value:
    """ISO date; the fast path keeps valid ``YYYY-MM-DD`` text, others go to the normaliser
    (``dayfirst``: the source's day/month order, None when unknown)."""
    text = value.strip()
    if _ISO_DATE.match(text[:10]) and (len(text) == 10 or text[10] in "T "):
        try:
            return date.fromisoformat(text[:10]).isoformat()
        except ValueError:
            pass
    try:
        return normalize_date(text, dayfirst=dayfirst)
    except ValueError:
        return None


_NUMERIC_DATE = re.compile(r"(\d{1,2})([/.\-])(\d{1,2})\2(\d{4})")
_COMPACT_DATE = re.compile(r"(\d{4})(\d{2})(\d{2})")


def _kept_date(value: str, dayfirst: bool | None) -> Value:
    """A date the normaliser rejects, kept for the comparisons' typo level: in the ISO layout
    when its parts are known (``13.00.1949`` -> ``1949-00-13``, ``19490013`` -> ``1949-00-13``:
    a month typed wrong or left unknown), else as written (spaces folded).

    Example:
        >>> _kept_date("13.00.1949", True), _kept_date("19490231", None)
        ('1949-00-13', '1949-02-31')
        >>> _kept_date("05/00/1949", None), _kept_date(" circa 1950 ", None)
        ('05/00/1949', 'circa 1950')
    """
    text = _SPACES.sub(" ", value).strip()
    compact = _COMPACT_DATE.fullmatch(text)
    if compact is not None:
        return "-".join(compact.groups())
    numeric = _NUMERIC_DATE.fullmatch(text)
    if numeric is not None and dayfirst is not None:
        a, _sep, b, year = numeric.groups()
        day, month = (a, b) if dayfirst else (b, a)
        return f"{year}-{int(month):02d}-{int(day):02d}"
    return text or None


def _date_unknown_order(value: str) -> Value:
    """:func:`_date` of a source whose day/month order is unknown (ambiguous values kept)."""
    return _date(value) or _kept_date(value, None)


def _date_day_first(value: str) -> Value:
    """:func:`_date` of a source that writes the day first (``dd/mm/yyyy``)."""
    return _date(value, True) or _kept_date(value, True)


def _date_month_first(value: str) -> Value:
    """:func:`_date` of a source that writes the month first (``mm/dd/yyyy``)."""
    return _date(value, False) or _kept_date(value, False)


#: The date kinds by the day/month order they read: undecided, day first, month first.
DATE_KINDS = {None: "date", True: "date_dayfirst", False: "date_monthfirst"}


def date_kinds(
    prepare: Mapping[str, str], columns: Mapping[str, Sequence[Value]]
) -> dict[str, str]:
    """``prepare`` with each ``"date"`` column's kind stating the day/month order its values
    show (:func:`crmcore.normalize.date_order`): ``"date_dayfirst"`` or ``"date_monthfirst"``;
    a column that shows none stays ``"date"`` (its ambiguous values are kept as written).

    Batch matching, the real-time index and the Spark runner take the kinds from here once,
    from the data they are given, and prepare every value (later ones too) with them.

    Example:
        >>> date_kinds({"dob": "date", "name": "name"},
        ...            {"dob": ["25.03.1961", "06.11.1961", "30.01.1970", "13.12.2001"]})
        {'dob': 'date_dayfirst', 'name': 'name'}
    """
    out = dict(prepare)
    for column, kind in prepare.items():
        if kind == "date" and column in columns:
            out[column] = DATE_KINDS[date_order(_distinct_texts(columns[column]))]
    return out


def with_date_order(
    settings: MatchSettings, columns: Mapping[str, Sequence[Value]]
) -> MatchSettings:
    """``settings`` with :func:`date_kinds` applied to its ``prepare`` (itself when no kind
    changes): what batch matching, the index and the Spark runner prepare with."""
    kinds = date_kinds(settings.prepare, columns)
    return settings if kinds == dict(settings.prepare) else attrs.evolve(settings, prepare=kinds)


def _distinct_texts(values: Sequence[Value]) -> list[str]:
    """The distinct text values of a column (a list, or a pyarrow array read from a file)."""
    if hasattr(values, "unique") and hasattr(values, "to_pylist"):
        return [v for v in values.unique().to_pylist() if isinstance(v, str)]
    return [v for v in set(values) if isinstance(v, str)]


def _normalize_function(name: str) -> Callable[[str], object] | None:
    try:
        from crmcore import normalize
    except ImportError:  # pragma: no cover - defensive
        return None
    fn = getattr(normalize, name, None)
    return fn if callable(fn) else None


def _from_normalize(name: str, fallback: Callable[[str], Value]) -> Callable[[str], Value]:
    def run(value: str) -> Value:
        fn = _normalize_function(name)
        if fn is None:
            return fallback(value)
        try:
            result = fn(value)
        except ValueError:
            return None
        return None if result is None else str(result)

    run.__name__ = name
    return run


#: Kind name -> normaliser. The hot kinds (name, email, phone, postcode, date) use fast keys
#: with pyarrow batch forms. ``email`` and ``phone`` are the identity keys governance and consent
#: use too (:func:`crmcore.normalize.email_key`, :func:`crmcore.normalize.phone_key`: a number
#: written internationally keys as E.164 whatever its separators, ``00`` or ``(0)``; one written
#: nationally, with no region known, by its digits); the ``*_full`` kinds and country call the
#: full :mod:`crmcore.normalize` functions.
PREPARE_KINDS: Mapping[str, Callable[[str], Value]] = {
    "text": _text,
    "name": _name,
    "name_full": _from_normalize("name_key", _name),
    "email": email_key,
    "email_full": _from_normalize("normalize_email", email_key),
    "phone": phone_key,
    "phone_no_extension": _phone,
    "phone_e164": _from_normalize("normalize_phone", _digits),
    "company": _text,
    "postcode": _postcode,
    "date": _date_unknown_order,
    "date_dayfirst": _date_day_first,
    "date_monthfirst": _date_month_first,
    "country": _from_normalize("normalize_country", _text),
    "digits": _digits,
    "domain": _from_normalize("normalize_domain", _text),
    "raw": lambda v: v,
}


def _normalise_column(
    name: str, kind: str, values: Sequence[Value], ids: Sequence[str | None] | None,
    problems: list[FieldProblem],
) -> list[Value]:
    fn = PREPARE_KINDS[kind]
    cache: dict[str, Value] = {}
    out: list[Value] = []
    append = out.append
    for row, value in enumerate(values):
        if value is None:
            append(None)
            continue
        if value in cache:
            result = cache[value]
        else:
            result = fn(value)
            cache[value] = result
        if result is None and len(problems) < 10_000:
            record = ids[row] if ids is not None else str(row)
            problems.append(
                FieldProblem(name, value, f"normalize.{kind}", f"not a usable {kind}", record)
            )
        append(result)
    return out


def prepare_columns(
    table: Table,
    prepare: Mapping[str, str],
    *,
    columns: Sequence[str] | None = None,
    id_column: str | None = None,
) -> tuple[dict[str, list[Value]], list[FieldProblem]]:
    """Normalise the columns that matching reads.

    Args:
        table: Input table (already in canonical column names).
        prepare: Column -> kind (see :data:`PREPARE_KINDS`); columns not named are kept as text.
        columns: Columns to return (default: every column of the table).
        id_column: Column of record ids, used to name records in problems.

    Returns:
        ``(columns, problems)``: prepared columns and the values that could not be normalised.

    Raises:
        MatchingConfigError: For an unknown kind.
    """
    unknown = sorted({k for k in prepare.values() if k not in PREPARE_KINDS})
    if unknown:
        known = sorted(PREPARE_KINDS)
        raise MatchingConfigError(f"unknown prepare kinds {unknown}; known: {known}")
    ids = table.column(id_column) if id_column is not None else None
    wanted = list(columns) if columns is not None else table.column_names
    problems: list[FieldProblem] = []
    out: dict[str, list[Value]] = {}
    for name in wanted:
        if name not in table.columns:
            continue
        values = table.columns[name]
        kind = prepare.get(name)
        out[name] = values if kind is None else _normalise_column(name, kind, values, ids, problems)
    return out, problems
