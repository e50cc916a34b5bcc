"""Identifier normalisation and time helpers shared by the governance modules (internal)."""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

__all__ = [
    "canonical_json",
    "identifier_keys",
    "norm_contact_point",
    "norm_dob",
    "norm_email",
    "norm_name",
    "norm_phone",
    "sha256_hex",
    "text_identifier_keys",
    "timestamp",
]

_PHONE_JUNK = re.compile(r"[\s().\-/]")
_EMAIL_IN_TEXT = re.compile(r"[\w.+%-]+@[\w-]+(?:\.[\w-]+)+", re.UNICODE)
_PHONE_IN_TEXT = re.compile(r"\+?\d[\d\s().\-/]{6,}\d")
_DOB_FIELDS = ("dob", "birth_date", "date_of_birth")
_SPACES = re.compile(r"\s+")


def norm_email(value: object) -> str | None:
    """Lower-case, trimmed email address, or None when it is not one."""
    if not isinstance(value, str):
        return None
    text = value.strip().lower()
    if text.startswith("mailto:"):
        text = text[7:]
    return text if "@" in text else None


def norm_phone(value: object) -> str | None:
    """Phone with separators removed (``+44 (0)20 7946-0000`` -> ``+4402079460000``).

    E.164 numbers (what :mod:`crmcore.normalize` produces) come back unchanged.
    """
    if not isinstance(value, str):
        return None
    text = _PHONE_JUNK.sub("", value.strip())
    if text.startswith("00"):
        text = "+" + text[2:]
    digits = text[1:] if text.startswith("+") else text
    head = digits.split(";", 1)[0]
    return text if head.isdigit() and len(head) >= 5 else None


def norm_name(value: object) -> str | None:
    """Accent-folded, case-folded name with single spaces."""
    if not isinstance(value, str):
        return None
    folded = unicodedata.normalize("NFKD", value)
    folded = "".join(c for c in folded if not unicodedata.combining(c)).casefold()
    text = _SPACES.sub(" ", re.sub(r"[^\w ]", " ", folded)).strip()
    return text or None


def norm_dob(value: object) -> str | None:
    """ISO date text of a date of birth (dates, datetimes and ISO strings)."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date().isoformat()
    if hasattr(value, "isoformat"):
        return str(value.isoformat())
    text = str(value).strip()
    return text[:10] if text else None


def norm_contact_point(channel: str, value: str) -> str:
    """Normalise a contact point for the channel (emails folded, phones stripped)."""
    if channel == "email":
        return norm_email(value) or value.strip().lower()
    if channel in {"phone", "sms", "whatsapp"}:
        return norm_phone(value) or value.strip()
    return value.strip()


def identifier_keys(record: Mapping[str, Any]) -> list[str]:
    """Typed identifier keys of a flat or model-shaped record.

    Emails (``email``, ``emails``), phones (``phone``, ``mobile``, ``phones``) and the pair
    name + date of birth, each as ``"kind:normalised value"``.
    """
    keys: list[str] = []
    for field in ("email", "emails"):
        for value in _values(record.get(field)):
            email = norm_email(value)
            if email:
                keys.append("email:" + email)
    for field in ("phone", "mobile", "phones"):
        for value in _values(record.get(field)):
            phone = norm_phone(value)
            if phone:
                keys.append("phone:" + phone)
    name = record.get("full_name")
    if not name:
        parts = [record.get("first_name"), record.get("last_name")]
        name = " ".join(str(p) for p in parts if p) or None
    dob = norm_dob(next((record[f] for f in _DOB_FIELDS if record.get(f)), None))
    folded = norm_name(name)
    if folded and dob:
        keys.append(f"name_dob:{folded}|{dob}")
    return keys


def text_identifier_keys(text: object) -> list[str]:
    """``email:`` and ``phone:`` keys of the addresses and numbers written in free text.

    Used on notes, activity bodies and the like, so erasure also finds the records that merely
    mention a person.
    """
    if not isinstance(text, str) or not text:
        return []
    keys: list[str] = []
    if "@" in text:
        for match in _EMAIL_IN_TEXT.findall(text):
            email = norm_email(match.strip(".").lower())
            if email:
                keys.append("email:" + email)
    for match in _PHONE_IN_TEXT.findall(text):
        phone = norm_phone(match)
        if phone and sum(c.isdigit() for c in phone) >= 7:
            keys.append("phone:" + phone)
    return keys


def _values(value: object) -> list[object]:
    if value is None:
        return []
    if isinstance(value, (list, tuple, set, frozenset)):
        return list(value)
    return [value]


def timestamp(value: datetime | float | int) -> float:
    """Seconds since the epoch for a tz-aware datetime (naive datetimes are taken as UTC)."""
    if isinstance(value, (int, float)):
        return float(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.timestamp()


def _default(value: object) -> object:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=repr)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "value"):
        return value.value
    if hasattr(value, "to_dict"):
        return value.to_dict()
    return repr(value)


def canonical_json(value: object) -> str:
    """Canonical JSON text: sorted keys, no spaces, UTF-8 kept, datetimes as ISO text."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_default
    )


def sha256_hex(text: str) -> str:
    """SHA-256 hex digest of UTF-8 text."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
