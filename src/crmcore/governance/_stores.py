"""The places that hold personal data, as erasure and portability see them.

Every place is a :class:`Store`: something that can ``find`` the records of a person from their
:class:`Identifiers`, ``erase`` them and ``export`` them. :class:`MemoryRecordStore` is a
dict-backed store with an index from identifier keys (normalised email, phone, name + date of
birth, person id, record id) to record ids, so finding and erasing one person is a handful of dict
operations whatever the size of the store. Adapters cover golden records
(:class:`GoldenRecordStore`), a match index (:class:`MatchIndexStore`), the consent ledger
(:class:`ConsentStore`), the audit trail (:class:`AuditTrailStore`: entries become tombstones) and
anything else through :class:`FunctionStore`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

import attrs

from crmcore.governance._audit import AuditLog
from crmcore.governance._identifiers import PERSON_FIELDS, Identifiers
from crmcore.governance._ledger import ConsentLedger
from crmcore.normalize import (
    identifier_keys,
    text_identifier_keys,
)

_TEXT_FIELDS = ("subject", "body", "notes", "note", "description", "comment")
_PERSON_REF_TYPES = frozenset({"contact", "person", "lead"})

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


class MemoryRecordStore:
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
        person_fields: Iterable[str] = PERSON_FIELDS,
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
