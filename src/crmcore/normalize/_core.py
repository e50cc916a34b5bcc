"""The shared machinery of every normalizer: outcomes, rejections, lenient and strict modes.

Each built-in normalizer is written as a *core*: a function ``core(text, **options)`` that gets a
non-empty, stripped ``str`` and returns one of three outcomes:

* a ``str``: the canonical value;
* ``None``: the value carries no information (``"n/a"``, ``"-"``, ``"unknown"`` ...): no issue;
* a :class:`Rejection`: the value carries information that cannot be normalised (not an e-mail
  address, an impossible phone number, an ambiguous date, a placeholder such as
  ``test@test.com``); the rejection names the rule and the reason.

A :class:`Normalizer` wraps a core into the public calling convention: lenient by default
(a rejection becomes ``None`` and, when an ``issues`` list is given, a
:class:`~crmcore.errors.FieldProblem` is appended to it), strict on request (a rejection raises
:class:`~crmcore.errors.NormalizationError`).
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Callable, MutableSequence
from typing import Any, Protocol

import attrs

from crmcore.errors import FieldProblem, NormalizationError


@attrs.frozen
class Rejection:
    """Why a value was rejected: a rule name (``"email.format"``) and a human explanation.

    Args:
        rule: Short machine-readable rule name, ``<kind>.<rule>``.
        message: Human-readable reason.
    """

    rule: str = attrs.field(validator=attrs.validators.min_len(1))
    message: str


Outcome = str | None | Rejection
"""What a core returns: canonical text, ``None`` (no information) or a :class:`Rejection`."""


class Core(Protocol):
    """A normalizer core: ``core(text, **options) -> str | None | Rejection``."""

    def __call__(self, text: str, /, **options: Any) -> Outcome:
        """Normalise one non-empty, stripped text value."""


NULL_TOKENS = frozenset(
    {
        "",
        "-",
        "--",
        "---",
        "_",
        ".",
        "..",
        "...",
        "?",
        "??",
        "???",
        "/",
        "#n/a",
        "#na",
        "#null!",
        "#value!",
        "(blank)",
        "(none)",
        "(null)",
        "<blank>",
        "<none>",
        "<null>",
        "[blank]",
        "[none]",
        "[null]",
        "blank",
        "empty",
        "missing",
        "n.a.",
        "n.a",
        "n/a",
        "n\\a",
        "na",
        "nan",
        "nil",
        "none",
        "not applicable",
        "not available",
        "not given",
        "not known",
        "not provided",
        "not specified",
        "null",
        "tba",
        "tbc",
        "tbd",
        "undefined",
        "unknown",
        "unspecified",
        "xx",
        "xxx",
        "xxxx",
    }
)
"""Values (after trimming and case folding) that mean "no value" in every field."""

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u2064\ufeff]+")
_SPACES = re.compile(r"\s+")


#: A character UTF-8 starts a two- or three-byte sequence with (``Â``..``ô``), then one of its
#: continuation bytes as Windows-1252 or Latin-1 shows them: how UTF-8 read the wrong way looks.
_MOJIBAKE = re.compile(
    "[\u00c2-\u00f4][\u0080-\u00bf\u0152\u0153\u0160\u0161\u0178\u017d\u017e\u0192"
    "\u02c6\u02dc\u2013\u2014\u2018-\u201e\u2020-\u2022\u2026\u2030\u2039\u203a"
    "\u20ac\u2122]"
)


def repair_mojibake(value: str) -> str:
    """Text that was UTF-8 but was read as Windows-1252 or Latin-1 (``MÃ¼ller``, ``JosÃ©``,
    ``Oâ€™Brien``), read again as UTF-8; any other text is returned unchanged.

    The repair is made only when the whole value turns back into valid UTF-8, so text with
    genuine accents (``Müller``, ``SÃO PAULO``) is left alone.

    Example:
        >>> repair_mojibake("MÃ¼ller"), repair_mojibake("Oâ€™Brien"), repair_mojibake("Müller")
        ('Müller', 'O’Brien', 'Müller')
    """
    if value.isascii() or _MOJIBAKE.search(value) is None:
        return value
    for codec in ("cp1252", "latin-1"):
        try:
            return value.encode(codec).decode("utf-8")
        except UnicodeError:
            continue
    return value


def clean_text(value: str) -> str:
    """Repair UTF-8 read as Windows-1252 (:func:`repair_mojibake`), apply NFKC, turn control and
    zero-width characters into spaces, collapse whitespace, trim.

    Args:
        value: Any text.

    Returns:
        The cleaned text (possibly empty).

    Example:
        >>> clean_text("  Ａｃｍｅ\\t\\u200bLtd ")
        'Acme Ltd'
    """
    text = _clean_once(value)
    # cleaning can bare a misreading a character in the way hid (a control, a full-width
    # letter): clean again until none is left, so that cleaning clean text changes nothing
    for _ in range(3):
        if repair_mojibake(text) == text:
            break
        text = _clean_once(text)
    return text


def _clean_once(value: str) -> str:
    text = unicodedata.normalize("NFKC", repair_mojibake(value))
    text = _CONTROL.sub(" ", text)
    return _SPACES.sub(" ", text).strip()


def is_null_token(value: str) -> bool:
    """Return True when a value means "no value" (empty, ``n/a``, ``-``, ``unknown`` ...).

    Example:
        >>> is_null_token(" N/A "), is_null_token("Acme")
        (True, False)
    """
    return value.strip().casefold() in NULL_TOKENS


_FOLD_EXTRA = str.maketrans(
    {
        "ß": "ss",
        "ẞ": "SS",
        "æ": "ae",
        "Æ": "AE",
        "œ": "oe",
        "Œ": "OE",
        "ø": "o",
        "Ø": "O",
        "ł": "l",
        "Ł": "L",
        "đ": "d",
        "Đ": "D",
        "ð": "d",
        "Ð": "D",
        "þ": "th",
        "Þ": "TH",
        "ı": "i",
        "ħ": "h",
        "ŧ": "t",
    }
)


def fold_accents(value: str) -> str:
    """Remove accents and fold a few letters without a decomposition (ß, æ, ø, ł, đ ...).

    Example:
        >>> fold_accents("Søren Müller-Łukasz")
        'Soren Muller-Lukasz'
    """
    if value.isascii():
        return value
    text = unicodedata.normalize("NFKD", value.translate(_FOLD_EXTRA))
    return "".join(ch for ch in text if not unicodedata.combining(ch))


def _to_text(value: object, keep: frozenset[str] = frozenset()) -> str | None:
    """Turn an input into stripped text, or None when it is missing."""
    if value is None:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, str):
        text = value.strip()
    else:
        try:
            text = str(value).strip()
        except Exception:  # noqa: BLE001 - an object whose str() fails carries no text
            return None
    if not text or (text.casefold() in NULL_TOKENS and text not in keep):
        return None
    return text


def _finish(
    outcome: Outcome,
    value: object,
    *,
    field: str,
    strict: bool,
    issues: MutableSequence[FieldProblem] | None,
    record: str | None,
) -> str | None:
    if outcome is None or type(outcome) is str:
        return outcome
    if isinstance(outcome, Rejection):
        problem = FieldProblem(
            field=field, value=value, rule=outcome.rule, message=outcome.message, record=record
        )
        if strict:
            raise NormalizationError(problem)
        if issues is not None:
            issues.append(problem)
        return None
    return outcome


@attrs.frozen
class Normalizer:
    """A named normalizer: a core plus the lenient / strict calling convention.

    Calling it normalises one value::

        normalizer(value, *, strict=False, issues=None, field=None, record=None, **options)

    ``None``, empty and "no value" tokens give ``None`` without an issue. A rejected value gives
    ``None`` and appends a :class:`~crmcore.errors.FieldProblem` to ``issues`` (lenient), or raises
    :class:`~crmcore.errors.NormalizationError` (``strict=True``). Lenient calls never raise on any
    text.

    Args:
        name: Registry name (``"email"``, ``"phone"`` ...), also the default field name in issues.
        core: The core function, see :class:`Core`.
        description: One line saying what the normalizer produces.
    """

    name: str = attrs.field(validator=attrs.validators.min_len(1))
    core: Callable[..., Outcome] = attrs.field(validator=attrs.validators.is_callable())
    description: str = ""
    keep: frozenset[str] = frozenset()
    """Exact values that are informative for this normalizer although they look like "no
    value" tokens (``"NA"`` is Namibia's country code)."""

    def __call__(
        self,
        value: object,
        *,
        strict: bool = False,
        issues: MutableSequence[FieldProblem] | None = None,
        field: str | None = None,
        record: str | None = None,
        **options: Any,
    ) -> str | None:
        """Normalise one value (see the class docstring for the modes)."""
        outcome = self.outcome(value, **options)
        return _finish(
            outcome,
            value,
            field=field or self.name,
            strict=strict,
            issues=issues,
            record=record,
        )

    def outcome(self, value: object, **options: Any) -> Outcome:
        """Return the raw outcome for one value (text, None or a :class:`Rejection`).

        Never raises for any text: an unexpected error inside the core becomes a
        :class:`Rejection` with rule ``<name>.error``. A result that is itself a "no value"
        token (``"x x"`` -> ``"xx"``) becomes None, so that normalising twice changes nothing.
        """
        text = _to_text(value, self.keep)
        if text is None:
            return None
        try:
            outcome = self.core(text, **options)
        except Exception as exc:  # noqa: BLE001 - lenient calls must never raise
            return Rejection(
                f"{self.name}.error", f"cannot normalise this value ({type(exc).__name__}: {exc})"
            )
        if type(outcome) is str and outcome.casefold() in NULL_TOKENS and outcome not in self.keep:
            return None
        return outcome

    def __repr__(self) -> str:
        return f"Normalizer({self.name!r})"
