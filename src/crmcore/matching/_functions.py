"""The functions of field expressions: each maps one text value to a text value or ``None``
(:data:`EXPRESSION_FUNCTIONS`), or to several blocking keys (:data:`MULTI_VALUED_FUNCTIONS`,
blocking rules only). Those with a pyarrow kernel register it here (``register_batch``), so a
column of distinct values is mapped in one call; :mod:`crmcore.matching._expressions` parses
expressions over them and evaluates them on a frame.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping
from functools import cache
from typing import Any

from crmcore.io._arrow import (
    before_plus,
    kernel_digits,
    kernel_last_digits,
    null_if_empty,
    register_batch,
    split_email,
)

Value = str | None

_DIGITS = re.compile(r"\D+")
_WORD = re.compile(r"[^\w]+")
_STOP_TOKENS = frozenset({"the", "and", "of", "&", "de", "la", "le", "du", "des", "van", "von"})


def fold(value: str) -> str:
    """Lowercase without accents (``"Jiménez"`` -> ``"jimenez"``), stripped."""
    if value.isascii():  # NFKD leaves ASCII alone and it has no combining marks
        return value.casefold().strip()
    text = unicodedata.normalize("NFKD", value)
    return "".join(ch for ch in text if not unicodedata.combining(ch)).casefold().strip()


_fold = fold


def _lower(value: str) -> Value:
    return _fold(value) or None


def _digits(value: str) -> Value:
    return _DIGITS.sub("", value) or None


def _email_local(value: str) -> Value:
    local, at, _ = value.strip().lower().rpartition("@")
    if not at:
        return None
    return local.split("+", 1)[0].replace(".", "") or None


def _email_domain(value: str) -> Value:
    _, at, domain = value.strip().lower().rpartition("@")
    return domain or None if at else None


def _national_number(value: str) -> Value:
    digits = _DIGITS.sub("", value)
    return digits[-9:] if len(digits) >= 7 else None


#: How the phone key writes an extension (``+16127458190;ext=565``).
_EXT = ";ext="


def _phone_line(value: str) -> Value:
    """The number without its extension."""
    return value.partition(_EXT)[0] or None


def _line_number(value: str) -> Value:
    """The national number of the line, its extension left out (``national_number`` counts
    an extension's digits)."""
    return _national_number(value.partition(_EXT)[0])


def _switchboard(value: str) -> Value:
    """The line of a number with an extension (colleagues on one switchboard share it); None
    without an extension."""
    return _phone_line(value) if _EXT in value else None


def _kernel_line(pc: Any, arr: Any) -> Any:
    """The text before the extension (pyarrow; the whole text without one)."""
    return pc.replace_substring_regex(arr, f"(?s){_EXT}.*$", "")


def _kernel_phone_line(pc: Any, arr: Any) -> Any:
    return null_if_empty(pc, _kernel_line(pc, arr))


def _kernel_line_number(pc: Any, arr: Any) -> Any:
    return kernel_last_digits(pc, _kernel_line(pc, arr), 9, 7)


def _kernel_switchboard(pc: Any, arr: Any) -> Any:
    return pc.if_else(pc.match_substring(arr, _EXT), _kernel_phone_line(pc, arr), None)


def _kernel_email_local(pc: Any, arr: Any) -> Any:
    _, local, _ = split_email(pc, arr)
    local = pc.replace_substring(before_plus(pc, local), ".", "")
    return null_if_empty(pc, local)


def _kernel_email_domain(pc: Any, arr: Any) -> Any:
    _, _, domain = split_email(pc, arr)
    return null_if_empty(pc, domain)


register_batch(_digits, kernel_digits)
register_batch(_email_local, _kernel_email_local)
register_batch(_email_domain, _kernel_email_domain)
register_batch(_national_number, lambda pc, arr: kernel_last_digits(pc, arr, 9, 7))
register_batch(_phone_line, _kernel_phone_line)
register_batch(_line_number, _kernel_line_number)
register_batch(_switchboard, _kernel_switchboard)


def _initial(value: str) -> Value:
    text = _fold(value)
    return text[:1] if text and text[0].isalnum() else None


def _name_tokens(value: str) -> list[str]:
    return [t for t in _WORD.split(_fold(value)) if t]


def _first_token(value: str) -> Value:
    tokens = _name_tokens(value)
    return tokens[0] if tokens else None


def _last_token(value: str) -> Value:
    tokens = _name_tokens(value)
    return tokens[-1] if tokens else None


def _sorted_tokens(value: str) -> Value:
    tokens = _name_tokens(value)
    return " ".join(sorted(tokens)) or None


def _acronym(value: str) -> Value:
    tokens = [t for t in _name_tokens(value) if t not in _STOP_TOKENS]
    return "".join(t[0] for t in tokens) if len(tokens) >= 2 else None


def _year(value: str) -> Value:
    text = value.strip()
    return text[:4] if len(text) >= 4 and text[:4].isdigit() else None


def _year_month(value: str) -> Value:
    text = value.strip()
    return text[:7] if len(text) >= 7 and text[:4].isdigit() else None


def _month_day(value: str) -> Value:
    text = value.strip()
    return text[5:10] if len(text) >= 10 and text[:4].isdigit() else None


_NOT_ASCII_LETTER = re.compile(r"[^A-Za-z ]+")


def _jelly(name: str) -> Callable[[str], Value]:
    def phonetic(value: str) -> Value:
        import jellyfish

        folded = _fold(value)
        if folded.isascii():  # the ASCII letters are the ASCII characters isalpha() keeps
            text = _NOT_ASCII_LETTER.sub("", folded)
        else:
            text = "".join(ch for ch in folded if ch.isalpha() or ch == " ")
        if not text.strip():
            return None
        code: str = getattr(jellyfish, name)(text)
        return code or None

    phonetic.__name__ = name
    return phonetic


def _canonical_given(value: str) -> Value:
    fn = _normalizer("canonical_given_name")
    if fn is not None:
        result = fn(value)
        return None if result is None else str(result)
    return _lower(value)


def _company_words(value: str) -> Value:
    fn = _normalizer("company_words")
    if fn is not None:
        result = fn(value)
        return None if result is None else str(result)
    return _lower(value)


def _company_tokens(value: str) -> list[str]:
    words = _company_words(value)
    return sorted(set(words.split())) if words else []


def _company_key(value: str) -> Value:
    fn = _normalizer("normalize_company_name")
    if fn is not None:
        result = fn(value)
        return None if result is None else str(result)
    return _lower(value)


@cache
def _normalizer(name: str) -> Callable[[str], object] | None:
    """Return a function of :mod:`crmcore.normalize` when that package provides it."""
    try:
        from crmcore import normalize
    except ImportError:  # pragma: no cover - the package is part of crmcore
        return None
    fn = getattr(normalize, name, None)
    return fn if callable(fn) else None


def _prefix(value: str, n: int) -> Value:
    return value[:n] or None


def _suffix(value: str, n: int) -> Value:
    return value[-n:] or None


def _name_part(index: int) -> Callable[[str], Value]:
    """The given (0) or family (1) part of a full name, split by
    :func:`crmcore.normalize.split_full_name` (``"ludwig van beethoven"`` -> ``ludwig`` /
    ``van beethoven``; ``"Aguirre, Diane"`` -> ``diane`` / ``aguirre``)."""

    def part(value: str) -> Value:
        split = _normalizer("split_full_name")
        got = split(value) if split is not None else None
        found = got[index] if isinstance(got, tuple) else None
        return None if found is None else str(found)

    part.__name__ = ("given_part", "family_part")[index]
    return part


_TRAILING_NUMBER = re.compile(r"[\d._-]+$")


def _without_number(value: str) -> Value:
    """The value without a trailing number (``a.rodriguez2`` -> ``a.rodriguez``); None when
    nothing else is left (a mail server numbers the second mailbox of a taken name)."""
    return _TRAILING_NUMBER.sub("", value) or None


register_batch(
    _without_number,
    lambda pc, arr: null_if_empty(pc, pc.replace_substring_regex(arr, r"[0-9._-]+$", "")),
)


def _last_digits(value: str, n: int) -> Value:
    digits = _DIGITS.sub("", value)
    return digits[-n:] if len(digits) >= n else None


#: Functions usable in field expressions: name -> (function, takes an integer argument).
EXPRESSION_FUNCTIONS: Mapping[str, tuple[Callable[..., Value], bool]] = {
    "lower": (_lower, False),
    "digits": (_digits, False),
    "email_local": (_email_local, False),
    "email_domain": (_email_domain, False),
    "national_number": (_national_number, False),
    "phone_line": (_phone_line, False),
    "line_number": (_line_number, False),
    "switchboard": (_switchboard, False),
    "initial": (_initial, False),
    "first_token": (_first_token, False),
    "last_token": (_last_token, False),
    "sorted_tokens": (_sorted_tokens, False),
    "acronym": (_acronym, False),
    "year": (_year, False),
    "year_month": (_year_month, False),
    "month_day": (_month_day, False),
    "metaphone": (_jelly("metaphone"), False),
    "soundex": (_jelly("soundex"), False),
    "nysiis": (_jelly("nysiis"), False),
    "match_rating": (_jelly("match_rating_codex"), False),
    "canonical_given": (_canonical_given, False),
    "company_key": (_company_key, False),
    "company_words": (_company_words, False),
    "prefix": (_prefix, True),
    "suffix": (_suffix, True),
    "last_digits": (_last_digits, True),
    "without_number": (_without_number, False),
    "given_part": (_name_part(0), False),
    "family_part": (_name_part(1), False),
}

def _deletions(value: str) -> list[str]:
    """The value and every value one character shorter (its deletion neighbourhood): two
    values share one of these keys exactly when deleting at most one character from each
    makes them equal, so a typo (a character inserted, deleted, replaced or two swapped)
    keeps a key in common (``smith`` / ``smiht`` share ``smih``).

    >>> _deletions("lee")
    ['ee', 'le', 'lee']
    """
    out = {value[:i] + value[i + 1 :] for i in range(len(value))}
    out.add(value)
    out.discard("")
    return sorted(out)


#: Multi-valued functions (one value -> several keys); usable in blocking rules only.
MULTI_VALUED_FUNCTIONS: Mapping[str, Callable[[str], list[str]]] = {
    "tokens": lambda v: sorted({t for t in _name_tokens(v) if t not in _STOP_TOKENS}),
    "company_tokens": _company_tokens,
    "deletions": _deletions,
}
