"""What identifies one person (:class:`Identifiers`): the keys erasure, export and segments find
them by.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from crmcore.normalize import (
    date_of_birth_key,
    email_key,
    identifier_keys,
    person_name_key,
    phone_key,
)

PERSON_FIELDS = ("person_id", "contact_id", "entity_id", "golden_id")

def _fs(values: Iterable[Any]) -> frozenset[str]:
    return frozenset(str(v) for v in values if v is not None and str(v) != "")


def _emails(values: Iterable[Any]) -> frozenset[str]:
    return _fs(email_key(v) for v in values)


def _phones(values: Iterable[Any]) -> frozenset[str]:
    return _fs(phone_key(v) for v in values)


def _name_dobs(values: Iterable[tuple[Any, Any]]) -> frozenset[tuple[str, str]]:
    out: set[tuple[str, str]] = set()
    for name, dob in values:
        n, d = person_name_key(name), date_of_birth_key(dob)
        if n and d:
            out.add((n, d))
    return frozenset(out)


@attrs.frozen
class Identifiers:
    """What identifies one person: ids, emails, phones, name + date of birth pairs.

    Emails and phones are normalised on construction.

    Args:
        person_ids: Person / contact / entity ids.
        record_ids: Source or golden record ids.
        emails: Email addresses.
        phones: Phone numbers.
        name_dobs: ``(full name, date of birth)`` pairs.
    """

    person_ids: frozenset[str] = attrs.field(default=frozenset(), converter=_fs)
    record_ids: frozenset[str] = attrs.field(default=frozenset(), converter=_fs)
    emails: frozenset[str] = attrs.field(default=frozenset(), converter=_emails)
    phones: frozenset[str] = attrs.field(default=frozenset(), converter=_phones)
    name_dobs: frozenset[tuple[str, str]] = attrs.field(default=frozenset(), converter=_name_dobs)

    def keys(self) -> set[str]:
        """Typed identifier keys (``email:...``, ``phone:...``, ``person:...`` ...)."""
        out = {"person:" + p for p in self.person_ids}
        out.update("id:" + r for r in self.record_ids)
        out.update("email:" + e for e in self.emails)
        out.update("phone:" + p for p in self.phones)
        out.update(f"name_dob:{n}|{d}" for n, d in self.name_dobs)
        return out

    def values(self) -> list[str]:
        """The personal values (emails, phones, names) to look for in free text."""
        out = sorted(self.emails) + sorted(self.phones)
        out.extend(sorted({n for n, _d in self.name_dobs}))
        return out

    def union(self, other: Identifiers) -> Identifiers:
        """Both sets of identifiers (both already keyed: nothing is normalised again)."""
        if (
            other.person_ids <= self.person_ids
            and other.record_ids <= self.record_ids
            and other.emails <= self.emails
            and other.phones <= self.phones
            and other.name_dobs <= self.name_dobs
        ):
            return self
        return Identifiers._keyed(
            self.person_ids | other.person_ids,
            self.record_ids | other.record_ids,
            self.emails | other.emails,
            self.phones | other.phones,
            self.name_dobs | other.name_dobs,
        )

    @classmethod
    def _keyed(
        cls,
        person_ids: Iterable[Any],
        record_ids: Iterable[Any],
        emails: Iterable[str],
        phones: Iterable[str],
        name_dobs: Iterable[tuple[str, str]],
    ) -> Identifiers:
        """Identifiers from values that already are identity keys (the converters, which
        normalise raw values, are not run again: keying a key is wasted work)."""
        out = object.__new__(cls)
        object.__setattr__(out, "person_ids", _fs(person_ids))
        object.__setattr__(out, "record_ids", _fs(record_ids))
        object.__setattr__(out, "emails", frozenset(emails))
        object.__setattr__(out, "phones", frozenset(phones))
        object.__setattr__(out, "name_dobs", frozenset(name_dobs))
        return out

    @classmethod
    def from_record(cls, record: Mapping[str, Any], *, id_field: str = "id") -> Identifiers:
        """Identifiers found on one record (flat canonical or model-shaped).

        A golden record's dict form (``values`` mapping, ``record_ids`` list) counts too: its
        values and its member record ids are read.
        """
        emails, phones, names = [], [], []
        keys = identifier_keys(record)
        nested = record.get("values")
        if isinstance(nested, Mapping):
            keys += identifier_keys(nested)
        for key in keys:
            kind, _sep, value = key.partition(":")
            if kind == "email":
                emails.append(value)
            elif kind == "phone":
                phones.append(value)
            else:
                name, _bar, dob = value.partition("|")
                names.append((name, dob))
        persons = [record.get(f) for f in PERSON_FIELDS]
        members = record.get("record_ids")
        rids = [record.get(id_field), *(members if isinstance(members, (list, tuple)) else [])]
        return cls._keyed(persons, rids, emails, phones, names)
