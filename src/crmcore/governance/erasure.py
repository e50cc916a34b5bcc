"""Erasure (GDPR Art. 17), portability (Art. 20) and the suppression list.

Every place that holds personal data is registered as a :class:`Store`: something that can
``find`` the records of a person from their :class:`Identifiers`, ``erase`` them and ``export``
them. :class:`InMemoryRecordStore` is a dict-backed store with an index from identifier keys
(normalised email, phone, name + date of birth, person id, record id) to record ids, so finding and
erasing one person is a handful of dict operations whatever the size of the store. Adapters cover
the consent ledger (:class:`ConsentStore`), the audit trail (:class:`AuditTrailStore`: entries
become tombstones) and anything else through :class:`FunctionStore`.

:class:`Eraser` erases a person everywhere: it widens the identifiers with those found on the
person's records (an email leads to a phone, a phone to a person id ...) until nothing new turns up,
erases in every store, adds salted hashes of the identifiers to the :class:`SuppressionList` (so the
next import does not silently re-create the person) and writes one ``erasure`` audit entry without
personal data. :meth:`Eraser.export_person` returns everything held as JSON.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any, Protocol, runtime_checkable

import attrs

from crmcore.errors import FieldProblem, SuppressedRecordError
from crmcore.governance.audit import AuditLog
from crmcore.governance.consent import ConsentLedger
from crmcore.governance.requests import PrivacyRequestLog
from crmcore.normalize import (
    date_of_birth_key,
    email_key,
    identifier_keys,
    normalize_phone,
    person_name_key,
    phone_key,
    text_identifier_keys,
)

__all__ = [
    "AuditTrailStore",
    "ConsentStore",
    "Eraser",
    "ErasureReport",
    "FunctionStore",
    "GoldenRecordStore",
    "Identifiers",
    "InMemoryRecordStore",
    "MatchIndexStore",
    "Store",
    "StoreErasure",
    "SuppressionList",
    "SuppressionReport",
    "scrub_index_file",
]

_PERSON_FIELDS = ("person_id", "contact_id", "entity_id", "golden_id")
_TEXT_FIELDS = ("subject", "body", "notes", "note", "description", "comment")
_PERSON_REF_TYPES = frozenset({"contact", "person", "lead"})


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
        persons = [record.get(f) for f in _PERSON_FIELDS]
        members = record.get("record_ids")
        rids = [record.get(id_field), *(members if isinstance(members, (list, tuple)) else [])]
        return cls._keyed(persons, rids, emails, phones, names)


@attrs.frozen
class StoreErasure:
    """What one store erased (no personal data).

    Args:
        store: Store name.
        erased: Number of records (or entries) erased or tombstoned.
        record_ids: Ids of the erased records.
    """

    store: str
    erased: int
    record_ids: tuple[str, ...] = ()


@runtime_checkable
class Store(Protocol):
    """A place holding personal data that erasure and portability must reach."""

    name: str

    def find(self, identifiers: Identifiers) -> list[str]:
        """Ids of the records that belong to the person."""

    def erase(self, identifiers: Identifiers) -> StoreErasure:
        """Erase (or tombstone) the person's records."""

    def export(self, identifiers: Identifiers) -> list[dict[str, Any]]:
        """The person's records as JSON-friendly dicts."""


class InMemoryRecordStore:
    """A dict of records (mappings) with an identifier index for O(1) find and erase.

    Index keys: ``id:<record id>``, ``person:<person_id | contact_id | entity_id | golden_id>``,
    ``person:<id>`` of every contact / person / lead reference in ``related`` (activities),
    ``email:``, ``phone:`` and ``name_dob:`` keys of the record's values, and ``email:`` /
    ``phone:`` keys of addresses and numbers written in its free-text fields (an activity body
    that mentions a person is found, and erased, with them).

    Args:
        name: Store name (source system, ``golden``, ``activities`` ...).
        records: Initial records.
        id_field: Field holding the record id.
        person_fields: Fields holding person ids.
        text_fields: Free-text fields scanned for email addresses and phone numbers.
        region: Default region (ISO alpha-2) for national phone numbers (``020 7946 0958``) in
            records without a ``country`` and in free text; without it they key by digits.
    """

    def __init__(
        self,
        name: str,
        records: Iterable[Mapping[str, Any]] = (),
        *,
        id_field: str = "id",
        person_fields: Iterable[str] = _PERSON_FIELDS,
        text_fields: Iterable[str] = _TEXT_FIELDS,
        region: str | None = None,
    ) -> None:
        self.name = name
        self.region = region
        self.id_field = id_field
        self.person_fields = tuple(person_fields)
        self.text_fields = tuple(text_fields)
        self._records: dict[str, dict[str, Any]] = {}
        self._keys: dict[str, list[str]] = {}
        self._index: dict[str, set[str]] = {}
        for record in records:
            self.add(record)

    def _record_keys(self, rid: str, record: Mapping[str, Any]) -> list[str]:
        keys = ["id:" + rid]
        for field in self.person_fields:
            value = record.get(field)
            if value is not None and value != "":
                keys.append(f"person:{value}")
        for ref in _values(record.get("related")):
            ref_id, ref_type = _ref(ref)
            if ref_id is not None and ref_type in _PERSON_REF_TYPES:
                keys.append(f"person:{ref_id}")
        keys.extend(identifier_keys(record, region=self.region))
        country = record.get("country")
        where = country if isinstance(country, str) and country.strip() else self.region
        for field in self.text_fields:
            keys.extend(text_identifier_keys(record.get(field), region=where))
        return list(dict.fromkeys(keys))

    def add(self, record: Mapping[str, Any]) -> str:
        """Add (or replace) a record; returns its id."""
        rid = str(record[self.id_field])
        if rid in self._records:
            self.remove(rid)
        self._records[rid] = dict(record)
        keys = self._record_keys(rid, record)
        self._keys[rid] = keys
        index = self._index
        for key in keys:
            bucket = index.get(key)
            if bucket is None:
                index[key] = {rid}
            else:
                bucket.add(rid)
        return rid

    def remove(self, record_id: str) -> dict[str, Any] | None:
        """Remove one record by id; returns it (or None)."""
        record = self._records.pop(record_id, None)
        for key in self._keys.pop(record_id, ()):
            bucket = self._index.get(key)
            if bucket is not None:
                bucket.discard(record_id)
                if not bucket:
                    del self._index[key]
        return record

    def get(self, record_id: str) -> dict[str, Any] | None:
        """One record by id."""
        return self._records.get(record_id)

    def records(self) -> Iterator[dict[str, Any]]:
        """Every record."""
        return iter(list(self._records.values()))

    def __len__(self) -> int:
        return len(self._records)

    def find(self, identifiers: Identifiers) -> list[str]:
        """Ids of records matching any of the identifiers."""
        found: set[str] = set()
        for key in identifiers.keys():  # noqa: SIM118 - Identifiers is not a dict
            bucket = self._index.get(key)
            if bucket:
                found.update(bucket)
        return sorted(found)

    def erase(self, identifiers: Identifiers) -> StoreErasure:
        """Remove every record matching the identifiers."""
        ids = self.find(identifiers)
        for rid in ids:
            self.remove(rid)
        return StoreErasure(self.name, len(ids), tuple(ids))

    def export(self, identifiers: Identifiers) -> list[dict[str, Any]]:
        """Copies of every record matching the identifiers."""
        return [dict(self._records[rid]) for rid in self.find(identifiers)]


def _values(value: object) -> list[object]:
    if value is None:
        return []
    if isinstance(value, (list, tuple, set, frozenset)):
        return list(value)
    return [value]


def _ref(ref: object) -> tuple[str | None, str | None]:
    """``(id, record type)`` of a record reference (mapping or ``RecordRef``-like)."""
    if isinstance(ref, Mapping):
        rid, rtype = ref.get("id"), ref.get("record_type")
    else:
        rid, rtype = getattr(ref, "id", None), getattr(ref, "record_type", None)
    rtype = getattr(rtype, "value", rtype)
    return (None if rid is None else str(rid)), (None if rtype is None else str(rtype))


class GoldenRecordStore:
    """Golden records of :mod:`crmcore.survivorship` with their lineage, as a :class:`Store`.

    A golden record is found by its entity id (a person id), by the id of any member source
    record, and by the email / phone / name + date of birth keys of its values *and* of every
    value in its lineage (winners, losing candidates, rejected values), so a value that lost
    survivorship still leads to it. Erasure drops the golden record with its whole lineage;
    export gives :meth:`GoldenRecord.to_dict` (values and lineage).

    Args:
        goldens: Initial golden records (``crmcore.survivorship.GoldenRecord`` or anything with
            ``entity_id``, ``values``, ``lineage``, ``record_ids`` and ``to_dict()``).
        name: Store name.
        region: Default region for phone numbers written without a country code in values
            without a ``country``.
    """

    def __init__(
        self, goldens: Iterable[Any] = (), name: str = "golden", *, region: str | None = None
    ) -> None:
        self.name = name
        self.region = region
        self._goldens: dict[str, Any] = {}
        self._keys: dict[str, list[str]] = {}
        self._index: dict[str, set[str]] = {}
        for golden in goldens:
            self.put(golden)

    def _golden_keys(self, golden: Any) -> list[str]:
        keys = ["person:" + str(golden.entity_id)]
        keys.extend("id:" + str(r) for r in golden.record_ids)
        keys.extend(identifier_keys(dict(golden.values), region=self.region))
        by_record: dict[str, dict[str, Any]] = {}
        for field, lin in dict(golden.lineage).items():
            items = [(lin.record_id, lin.value)]
            items.extend((c.record_id, c.value) for c in lin.candidates)
            items.extend((r.candidate.record_id, r.candidate.value) for r in lin.rejected)
            for rid, value in items:
                if value is not None:
                    by_record.setdefault(str(rid), {})[str(field)] = value
        for values in by_record.values():
            keys.extend(identifier_keys(values, region=self.region))
        return list(dict.fromkeys(keys))

    def put(self, golden: Any) -> str:
        """Add (or replace) the golden record of an entity; returns the entity id."""
        eid = str(golden.entity_id)
        if eid in self._goldens:
            self.remove(eid)
        self._goldens[eid] = golden
        keys = self._golden_keys(golden)
        self._keys[eid] = keys
        for key in keys:
            self._index.setdefault(key, set()).add(eid)
        return eid

    def remove(self, entity_id: str) -> Any | None:
        """Drop the golden record (and lineage) of an entity; returns it (or None)."""
        golden = self._goldens.pop(entity_id, None)
        for key in self._keys.pop(entity_id, ()):
            bucket = self._index.get(key)
            if bucket is not None:
                bucket.discard(entity_id)
                if not bucket:
                    del self._index[key]
        return golden

    def get(self, entity_id: str) -> Any | None:
        """The golden record of an entity."""
        return self._goldens.get(entity_id)

    def goldens(self) -> list[Any]:
        """Every golden record."""
        return list(self._goldens.values())

    def __len__(self) -> int:
        return len(self._goldens)

    def find(self, identifiers: Identifiers) -> list[str]:
        """Entity ids of the golden records that belong to the person."""
        found: set[str] = set()
        for key in identifiers.keys():  # noqa: SIM118 - Identifiers is not a dict
            found.update(self._index.get(key, ()))
        return sorted(found)

    def erase(self, identifiers: Identifiers) -> StoreErasure:
        """Drop the person's golden records with their lineage."""
        ids = self.find(identifiers)
        for eid in ids:
            self.remove(eid)
        return StoreErasure(self.name, len(ids), tuple(ids))

    def export(self, identifiers: Identifiers) -> list[dict[str, Any]]:
        """The person's golden records with lineage (``to_dict()`` form)."""
        return [dict(self._goldens[eid].to_dict()) for eid in self.find(identifiers)]


class ConsentStore:
    """The consent ledger as a :class:`Store` (persons found by id or contact point).

    Args:
        ledger: The ledger.
        name: Store name.
    """

    def __init__(self, ledger: ConsentLedger, name: str = "consent") -> None:
        self.ledger = ledger
        self.name = name

    def find(self, identifiers: Identifiers) -> list[str]:
        """Person ids with consent data matching the identifiers."""
        known = self.ledger.person_ids()
        found = {p for p in identifiers.person_ids if p in known}
        for email in identifiers.emails:
            found |= self.ledger.persons_with_contact_point("email", email)
        for phone in identifiers.phones:
            for channel in ("phone", "sms", "whatsapp"):
                found |= self.ledger.persons_with_contact_point(channel, phone)
        return sorted(found)

    def erase(self, identifiers: Identifiers, *, at: datetime | None = None) -> StoreErasure:
        """Erase the consent history of every matching person (unmerged at ``at``)."""
        persons = self.find(identifiers)
        count = sum(self.ledger.erase_person(p, now=at) for p in persons)
        return StoreErasure(self.name, count, tuple(persons))

    def export(self, identifiers: Identifiers) -> list[dict[str, Any]]:
        """Consent data of every matching person."""
        return [{"person_id": p, **self.ledger.export_person(p)} for p in self.find(identifiers)]


class AuditTrailStore:
    """The audit trail as a :class:`Store`: erasure turns entries into tombstones.

    Entries are found by subject (person id), record id, or a personal value in their payload.

    Args:
        log: The audit log.
        name: Store name.
    """

    def __init__(self, log: AuditLog, name: str = "audit") -> None:
        self.log = log
        self.name = name

    def _seqs(self, identifiers: Identifiers) -> list[int]:
        return self.log.find(
            subjects=identifiers.person_ids,
            record_ids=identifiers.record_ids,
            values=identifiers.values(),
        )

    def _hits(self, identifiers: Identifiers) -> list[Any]:
        wanted = set(self._seqs(identifiers))
        return [e for e in self.log.entries() if e.seq in wanted] if wanted else []

    def find(self, identifiers: Identifiers) -> list[str]:
        """Sequence numbers (as text) of entries about the person."""
        return [str(seq) for seq in self._seqs(identifiers)]

    def erase(self, identifiers: Identifiers, *, at: datetime | None = None) -> StoreErasure:
        """Tombstone the entries about the person (the chain still verifies)."""
        count = self.log.erase(
            subjects=identifiers.person_ids,
            record_ids=identifiers.record_ids,
            values=identifiers.values(),
            at=at,
        )
        return StoreErasure(self.name, count)

    def export(self, identifiers: Identifiers) -> list[dict[str, Any]]:
        """The entries about the person."""
        return [e.to_dict() for e in self._hits(identifiers)]


class FunctionStore:
    """Turn three plain functions into a :class:`Store` (match index, segments, host tables ...).

    Args:
        name: Store name.
        find: ``identifiers -> record ids``.
        erase: ``identifiers -> number erased`` (or a :class:`StoreErasure`).
        export: ``identifiers -> list of dicts`` (default: nothing to export).
    """

    def __init__(
        self,
        name: str,
        find: Callable[[Identifiers], Iterable[str]],
        erase: Callable[[Identifiers], int | StoreErasure],
        export: Callable[[Identifiers], Iterable[Mapping[str, Any]]] | None = None,
    ) -> None:
        self.name = name
        self._find = find
        self._erase = erase
        self._export = export

    def __repr__(self) -> str:
        return f"FunctionStore({self.name!r})"

    def find(self, identifiers: Identifiers) -> list[str]:
        """Ids of the person's records."""
        return sorted(str(i) for i in self._find(identifiers))

    def erase(self, identifiers: Identifiers) -> StoreErasure:
        """Erase through the wrapped function."""
        result = self._erase(identifiers)
        return result if isinstance(result, StoreErasure) else StoreErasure(self.name, int(result))

    def export(self, identifiers: Identifiers) -> list[dict[str, Any]]:
        """Export through the wrapped function."""
        return [] if self._export is None else [dict(r) for r in self._export(identifiers)]


class _IndexLike(Protocol):
    def __contains__(self, record_id: object) -> bool: ...

    def remove(self, record_id: str) -> None: ...

    def members(self, entity_id: str) -> list[str]: ...


class MatchIndexStore:
    """A real-time match index (``crmcore.matching.MatchIndex``) as a :class:`Store`.

    Records are found by record id, and by entity id when a person id names an entity of the
    index; erasure removes them with :meth:`MatchIndex.remove` (their blocking keys, links and
    cluster membership go with them).

    With ``path``, the index is saved there after each erasure and the file is scrubbed: the
    normalised values no live record uses any more (the erased person's email, phone, name ...),
    review decisions and pending review items naming an erased record are removed, and the file
    is vacuumed with ``secure_delete`` so no free page keeps them. An index with a
    ``purge(record_ids)`` method is asked to forget the removed records in memory as well:
    ``MatchIndex.purge`` drops their values from its value dictionary, term-frequency tables and
    review queue (see ``docs/realtime.md``).

    Args:
        index: The match index (anything with ``__contains__``, ``remove`` and ``members``).
        name: Store name.
        path: SQLite file the index is persisted to (optional).
    """

    def __init__(
        self,
        index: _IndexLike,
        name: str = "match_index",
        *,
        path: str | os.PathLike[str] | None = None,
    ) -> None:
        self.index = index
        self.name = name
        self.path = path

    def find(self, identifiers: Identifiers) -> list[str]:
        """Ids of the person's records in the index."""
        found = {r for r in identifiers.record_ids if r in self.index}
        for pid in identifiers.person_ids:
            try:
                found.update(self.index.members(pid))
            except (KeyError, LookupError, ValueError):
                continue
        return sorted(found)

    def erase(self, identifiers: Identifiers) -> StoreErasure:
        """Remove the person's records from the index (and scrub the saved file)."""
        ids = self.find(identifiers)
        for rid in ids:
            self.index.remove(rid)
        purge = getattr(self.index, "purge", None)
        if callable(purge) and ids:  # an index that can forget removed values in memory too
            purge(ids)
        if self.path is not None and ids:
            save = getattr(self.index, "save", None)
            if callable(save):
                save(self.path)
                scrub_index_file(self.path, set(ids) | set(identifiers.record_ids))
        return StoreErasure(self.name, len(ids), tuple(ids))

    def export(self, identifiers: Identifiers) -> list[dict[str, Any]]:
        """Record ids (and entity ids) held in the index for the person."""
        out: list[dict[str, Any]] = []
        entity_of = getattr(self.index, "entity_of", None)
        for rid in self.find(identifiers):
            row: dict[str, Any] = {"record_id": rid}
            if callable(entity_of):
                row["entity_id"] = entity_of(rid)
            out.append(row)
        return out


def scrub_index_file(path: str | os.PathLike[str], record_ids: Iterable[str] = ()) -> int:
    """Remove what erased records leave in a saved match index file; returns values scrubbed.

    The file's layout belongs to the match index: this calls
    :func:`crmcore.matching.realtime.scrub_index_file` (see there for what is removed).

    Raises:
        IndexStateError: For a file in a layout it does not know (nothing is changed), so an
            erasure never silently leaves values behind.
    """
    from crmcore.matching.realtime import scrub_index_file as scrub

    return scrub(path, record_ids)


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


@attrs.frozen
class ErasureReport:
    """What an erasure did, store by store (no personal data: safe to audit and keep).

    Args:
        stores: Per-store results, in registration order.
        suppressed: Number of new hashes on the suppression list.
        at: When.
    """

    stores: tuple[StoreErasure, ...]
    suppressed: int
    at: datetime

    @property
    def total(self) -> int:
        """Records erased over all stores."""
        return sum(s.erased for s in self.stores)

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly dict."""
        return {
            "at": self.at.isoformat(),
            "suppressed": self.suppressed,
            "stores": {s.store: s.erased for s in self.stores},
        }


class Eraser:
    """Erase or export a person across every registered store.

    Args:
        stores: The stores, in the order to erase them.
        suppression: Suppression list to extend on erasure (optional).
        audit: Audit log: the person's entries become tombstones, and one ``erasure`` entry is
            written (optional).
        max_rounds: Rounds of identifier widening (each round reads the records found so far).
        requests: Privacy request log: each erasure and export is recorded there (kind, when
            received and answered, who asked and handled it, counts per store, a keyed
            reference of the identifiers); the log is no store, so those records survive the
            erasure they describe.

    Example:
        >>> crm = InMemoryRecordStore("crm", [{"id": "1", "email": "ann@x.com", "phone": None}])
        >>> Eraser([crm]).erase_person(Identifiers(emails=["Ann@X.com"]), actor="dpo").total
        1
    """

    def __init__(
        self,
        stores: Iterable[Store],
        *,
        suppression: SuppressionList | None = None,
        audit: AuditLog | None = None,
        max_rounds: int = 3,
        requests: PrivacyRequestLog | None = None,
    ) -> None:
        self.stores = list(stores)
        self.suppression = suppression
        self.audit = audit
        self.max_rounds = max_rounds
        self.requests = requests

    def resolve(self, identifiers: Identifiers) -> Identifiers:
        """Widen identifiers with those on the records they find, until nothing new appears.

        Every store but the audit trail takes part: the consent ledger turns a contact point
        into the person ids that gave consent for it, a golden record into its entity and member
        records, the match index a record into its entity.
        """
        current = identifiers
        for _round in range(self.max_rounds):
            wider = current
            for store in self.stores:
                if isinstance(store, AuditTrailStore):
                    continue  # entries quote other people too: never widen through the trail
                for record in store.export(current):
                    wider = wider.union(Identifiers.from_record(record))
            if wider == current:
                break
            current = wider
        return current

    def preview(self, identifiers: Identifiers) -> dict[str, list[str]]:
        """Dry run: store name -> ids of what :meth:`erase_person` would erase (nothing changes).

        Identifiers are widened first, as erasure does: check here that a wrong match did not
        pull in someone else.
        """
        full = self.resolve(identifiers)
        return {store.name: store.find(full) for store in self.stores}

    def erase_person(
        self,
        identifiers: Identifiers,
        *,
        actor: str,
        reason: str = "erasure request (GDPR Art. 17)",
        at: datetime | None = None,
        received_at: datetime | None = None,
        requested_by: str = "data subject",
        channel: str | None = None,
    ) -> ErasureReport:
        """Erase everything held on a person, suppress their identifiers, audit the erasure.

        Args:
            identifiers: What identifies the person (widened through the stores first).
            actor: Who asked for / performed the erasure.
            reason: Why (kept in the audit entry; do not put personal data here).
            at: When (default: now).
            received_at: When the request came in (request log; default: ``at``).
            requested_by: Who asked, as a role (request log).
            channel: How the request was made (request log).

        Returns:
            An :class:`ErasureReport` (no personal data).
        """
        when = at if at is not None else datetime.now(UTC)
        full = self.resolve(identifiers)
        results = [
            store.erase(full, at=when)  # on the caller's clock
            if isinstance(store, (ConsentStore, AuditTrailStore))
            else store.erase(full)
            for store in self.stores
        ]
        if self.audit is not None and not any(isinstance(s, AuditTrailStore) for s in self.stores):
            tomb = self.audit.erase(
                subjects=full.person_ids,
                record_ids=full.record_ids,
                values=full.values(),
                actor=actor,
                at=when,
            )
            results.append(StoreErasure("audit", tomb))
        suppressed = self.suppression.add(full) if self.suppression is not None else 0
        report = ErasureReport(tuple(results), suppressed, when)
        if self.audit is not None:
            self.audit.record(
                "erasure",
                actor=actor,
                reason=reason,
                at=when,
                details={"stores": report.to_dict()["stores"], "suppressed": suppressed},
            )
        if self.requests is not None:
            counts = {s.store: s.erased for s in report.stores}
            stores = sum(1 for c in counts.values() if c)
            self._log_request(
                "erasure", full, received_at=received_at or when, when=when, actor=actor,
                requested_by=requested_by, channel=channel, counts=counts,
                response=f"erased {report.total} records in {stores} stores", basis=reason,
            )  # fmt: skip
        return report

    def _log_request(
        self,
        kind: str,
        full: Identifiers,
        *,
        received_at: datetime,
        when: datetime,
        actor: str,
        requested_by: str,
        channel: str | None,
        counts: dict[str, int],
        response: str,
        basis: str | None,
    ) -> None:
        assert self.requests is not None
        request = self.requests.open(
            kind,
            received_at=received_at,
            keys=full.keys(),
            requested_by=requested_by,
            channel=channel,
            basis=basis,
        )
        self.requests.complete(
            request.id, at=when, handled_by=actor, outcome=counts, response=response
        )

    def export_person(
        self,
        identifiers: Identifiers,
        *,
        indent: int | None = 2,
        actor: str | None = None,
        at: datetime | None = None,
        received_at: datetime | None = None,
        requested_by: str = "data subject",
        channel: str | None = None,
    ) -> str:
        """Everything held on a person, by store, as JSON (GDPR Art. 15 / 20).

        With an audit log, the export is recorded (an ``export`` entry about the person, the
        number of records per store in its erasable details) after the data is gathered.

        Args:
            identifiers: What identifies the person (widened through the stores first).
            indent: JSON indentation.
            actor: Who asked for the export (named in the audit entry).
            at: When (default: now).
            received_at: When the request came in (request log; default: ``at``).
            requested_by: Who asked, as a role (request log).
            channel: How the request was made (request log).

        Returns:
            JSON text: store name -> the person's records in that store.
        """
        full = self.resolve(identifiers)
        data = {store.name: store.export(full) for store in self.stores}
        if self.audit is not None and not any(isinstance(s, AuditTrailStore) for s in self.stores):
            data["audit"] = AuditTrailStore(self.audit).export(full)
        if self.audit is not None:
            self.audit.record(
                "export",
                actor=actor or "governance",
                reason="subject access / portability export",
                subjects=full.person_ids,
                details={"stores": {name: len(rows) for name, rows in data.items()}},
                at=at,
            )
        if self.requests is not None:
            when = at if at is not None else datetime.now(UTC)
            counts = {name: len(rows) for name, rows in data.items()}
            self._log_request(
                "access", full, received_at=received_at or when, when=when,
                actor=actor or "governance", requested_by=requested_by, channel=channel,
                counts=counts, response=f"exported {sum(counts.values())} records",
                basis="subject access / portability export",
            )  # fmt: skip
        return json.dumps(
            data, indent=indent, sort_keys=True, default=_json_default, ensure_ascii=False
        )


def _json_default(value: object) -> object:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, (set, frozenset, tuple)):
        return sorted(value, key=repr)
    return str(value)
