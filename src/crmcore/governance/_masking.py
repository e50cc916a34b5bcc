"""Masked forms of values (an email, a phone number, a text) for views and exports.
"""


from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from crmcore.normalize import phone_key

if TYPE_CHECKING:
    pass


def _safe(raw: str, masked: str) -> str:
    """Never return a masked text that still contains the raw text."""
    return "***" if raw and raw in masked else masked


def mask_email(value: str) -> str:
    """Mask an email address: ``john@example.com`` -> ``j***@example.com``.

    Example:
        >>> mask_email("john@example.com")
        'j***@example.com'
    """
    local, sep, domain = value.strip().partition("@")
    if not sep or not local:
        return mask_text(value)
    return _safe(value, f"{local[0]}***@{domain}")


def mask_phone(value: str) -> str:
    """Mask a phone number, keeping the country code and the last three digits.

    Example:
        >>> mask_phone("+44 20 7946 0123")
        '+44 ***** *123'
    """
    import phonenumbers

    text = phone_key(value) or value
    digits = "".join(c for c in text.split(";", 1)[0] if c.isdigit())
    if len(digits) <= 5:
        return "*****"
    prefix = ""
    if text.startswith("+"):
        try:
            prefix = f"+{phonenumbers.parse(text, None).country_code} "
        except phonenumbers.NumberParseException:
            prefix = "+"
    return _safe(value, f"{prefix}***** *{digits[-3:]}")


def mask_text(value: str) -> str:
    """Mask free text: first character and ``***`` (just ``***`` for short values).

    Example:
        >>> mask_text("Johnson")
        'J***'
    """
    text = value.strip()
    if len(text) <= 3:
        return "***"
    return _safe(value, f"{text[0]}***")


def mask_value(field: str, value: Any) -> Any:
    """Default masker chosen by field name: emails, phones, other text; containers per item.

    Non-text scalars (numbers, dates) become ``"***"``; None stays None.
    """
    if value is None:
        return None
    if isinstance(value, Mapping):
        return {str(k): mask_value(str(k), v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [mask_value(field, v) for v in value]
    if not isinstance(value, str):
        return "***"
    name = field.lower()
    if "email" in name:
        return mask_email(value)
    if "phone" in name or "mobile" in name or "fax" in name:
        return mask_phone(value)
    return mask_text(value)
