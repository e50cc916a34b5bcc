"""The suppression list: salted hashes of erased persons' identifiers, checked on import.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from crmcore.errors import FieldProblem, SuppressedRecordError
from crmcore.governance._identifiers import Identifiers
from crmcore.normalize import (
    identifier_keys,
    normalize_phone,
)


@attrs.frozen
class SuppressionReport:
    """Result of :meth:`SuppressionList.filter`: rows kept and rows suppressed (with why).

    Args:
        kept: Records that may be imported.
        suppressed: ``(row number, record id or None, matched identifier kinds)`` per blocked row.
    """

    kept: tuple[Mapping[str, Any], ...]
    suppressed: tuple[tuple[int, str | None, tuple[str, ...]], ...]


class SuppressionList:
    """Salted SHA-256 hashes of erased persons' identifiers, checked on import.

    Only hashes are kept (HMAC-SHA-256 with the salt as key, over ``kind:normalised value``):
    the list says "this email was erased" when shown the email, and nothing when not.

    Phones are compared in the form the stores hold them (E.164 from :mod:`crmcore.normalize`,
    separators removed); give ``region`` to also bring national numbers (``020 7946 0123``) to
    E.164 before hashing.

    Args:
        salt: Secret salt (keep it apart from the list).
        hashes: Hashes loaded from an earlier :meth:`to_json`.
        region: Default region (ISO 3166-1 alpha-2) for phone numbers without a country code.
    """

    def __init__(
        self, salt: str | bytes, hashes: Iterable[str] = (), *, region: str | None = None
    ) -> None:
        self._salt = salt.encode("utf-8") if isinstance(salt, str) else bytes(salt)
        self._hashes: set[str] = set(hashes)
        self.region = region

    def _hash(self, key: str) -> str:
        if self.region is not None and key.startswith("phone:") and not key.startswith("phone:+"):
            # not cached: a cache of raw numbers would itself hold personal data
            key = "phone:" + (normalize_phone(key[6:], self.region) or key[6:])
        return hmac.new(self._salt, key.encode("utf-8"), hashlib.sha256).hexdigest()

    def __len__(self) -> int:
        return len(self._hashes)

    def add(self, identifiers: Identifiers | Mapping[str, Any]) -> int:
        """Suppress identifiers (or a record's identifiers); returns how many hashes were new."""
        keys = (
            identifiers.keys()
            if isinstance(identifiers, Identifiers)
            else set(identifier_keys(identifiers))
        )
        keys = {k for k in keys if not k.startswith(("id:", "person:"))}
        new = {self._hash(k) for k in keys} - self._hashes
        self._hashes |= new
        return len(new)

    def matches(self, record: Mapping[str, Any]) -> tuple[str, ...]:
        """Kinds of suppressed identifiers (``email``, ``phone``, ``name_dob``) on a record."""
        return tuple(
            sorted(
                {
                    k.split(":", 1)[0]
                    for k in identifier_keys(record)
                    if self._hash(k) in self._hashes
                }
            )
        )

    def check(self, record: Mapping[str, Any], *, record_id: str | None = None) -> None:
        """Raise :class:`~crmcore.errors.SuppressedRecordError` if the record is suppressed."""
        kinds = self.matches(record)
        if kinds:
            rid = record_id if record_id is not None else _opt_id(record)
            raise SuppressedRecordError(
                str(
                    FieldProblem(
                        "/".join(kinds),
                        "<suppressed identifier>",
                        "governance.suppressed",
                        "matches an erased person (suppression list)",
                        rid,
                    )
                )
            )

    def filter(self, records: Iterable[Mapping[str, Any]]) -> SuppressionReport:
        """Split records into those that may be imported and those suppressed (none dropped)."""
        kept: list[Mapping[str, Any]] = []
        blocked: list[tuple[int, str | None, tuple[str, ...]]] = []
        for number, record in enumerate(records):
            kinds = self.matches(record)
            if kinds:
                blocked.append((number, _opt_id(record), kinds))
            else:
                kept.append(record)
        return SuppressionReport(tuple(kept), tuple(blocked))

    def hashes(self) -> frozenset[str]:
        """The stored hashes."""
        return frozenset(self._hashes)

    def to_json(self) -> str:
        """The hashes as JSON (the salt is not included)."""
        return json.dumps(sorted(self._hashes))

    @classmethod
    def from_json(cls, text: str, salt: str | bytes) -> SuppressionList:
        """Load hashes saved by :meth:`to_json`."""
        return cls(salt, json.loads(text))


def _opt_id(record: Mapping[str, Any]) -> str | None:
    for field in ("id", "record_id"):
        if record.get(field) is not None:
            return str(record[field])
    return None
