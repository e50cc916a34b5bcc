"""Time and hashing helpers shared by the governance modules (internal).

Identity keys (e-mail, phone, name, contact point) live in :mod:`crmcore.normalize.identity`.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime


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
