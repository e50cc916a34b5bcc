"""Append-only, hash-chained audit trail whose personal data can be erased.

Every entry says who did what, when, to which record and field, with the old and new value, the
source and the reason. Entries are chained: each entry's hash is SHA-256 over the canonical JSON of

    (seq, at, actor, action, record type, record id, field, source, subjects,
     payload digest, previous entry's hash)

and the *payload* (old value, new value, reason, details, plus a random salt) enters the hash only
through its salted SHA-256 digest. Erasing a person replaces the payloads of their entries with
nothing (a tombstone): the digest stays, so the chain still verifies, and the salt makes the digest
useless for guessing the erased values. :meth:`AuditLog.verify` recomputes every digest and hash and
names the first entry that was changed, inserted, reordered or removed (pass ``expected_head`` from
:meth:`AuditLog.head` kept elsewhere to also catch entries cut from the end).

Erasure itself is on the record: :meth:`AuditLog.erase` appends a ``tombstone`` entry whose hashed
metadata lists the entries it emptied (``erases``), and :meth:`AuditLog.verify` reports any entry
whose payload is gone without such an entry after it, so a payload cannot be removed quietly to
hide what it said.

Storage is pluggable (:class:`AuditStore`): :class:`MemoryAuditStore` and
:class:`SQLiteAuditStore` (stdlib ``sqlite3``, ``secure_delete`` on so erased payloads do not
linger in free pages).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import attrs

from crmcore.errors import AuditIntegrityError
from crmcore.governance._audit_entries import (
    GENESIS_HASH,
    AuditEntry,
    AuditReport,
    Checkpoint,
    checkpoint_text,
    entry_hash,
    key_bytes,
    payload_digest,
)
from crmcore.governance._audit_search import AuditSearchIndex, payload_text
from crmcore.governance._audit_stores import AuditStore, MemoryAuditStore
from crmcore.governance._identity import canonical_json
from crmcore.normalize import text_identifier_keys


def _jsonable(value: Any) -> Any:
    """Round-trip through canonical JSON so stored payloads equal what SQLite gives back."""
    return json.loads(canonical_json(value))



class AuditLog:
    """The audit trail: record entries, read them, verify the chain, erase personal payloads.

    Args:
        store: Where entries live (default: a new :class:`MemoryAuditStore`).
        key: Secret key (at least 16 bytes) the host keeps *apart from the log* (a secrets
            manager, an environment variable of another service): each new entry's hash is
            then an HMAC-SHA-256 under it, so a writer without the key cannot append, rewrite or
            re-chain entries without :meth:`verify` noticing. None: plain SHA-256 (detects
            accidents and edits by someone who does not recompute hashes, nothing more).
        key_id: Name of ``key``, stored in each entry (never the key itself).
        old_keys: ``key id -> key`` of earlier keys, to verify entries signed before a
            :meth:`rotate_key`.
        region: Default region (ISO alpha-2) for national phone numbers written in payloads
            (``020 7946 0958`` in a note is then found by ``+442079460958``).

    Example:
        >>> log = AuditLog()
        >>> e = log.record("change", actor="u1", record_type="contact", record_id="c1",
        ...                field="email", old="a@x.com", new="b@x.com", reason="typo")
        >>> log.verify().ok, e.seq
        (True, 1)
        >>> keyed = AuditLog(key=b"0123456789abcdef-host-secret", key_id="2026-01")
        >>> _ = keyed.record("export", actor="dpo")
        >>> keyed.verify().keyed
        1
    """

    def __init__(
        self,
        store: AuditStore | None = None,
        *,
        key: bytes | str | None = None,
        key_id: str = "k1",
        old_keys: Mapping[str, bytes | str] | None = None,
        region: str | None = None,
    ) -> None:
        self.store: AuditStore = store if store is not None else MemoryAuditStore()
        self.region = region
        self._search: AuditSearchIndex | None = None
        self._keys: dict[str, bytes] = {k: key_bytes(v) for k, v in (old_keys or {}).items()}
        self._key_id: str | None = None
        if key is not None:
            self._key_id = str(key_id)
            self._keys[self._key_id] = key_bytes(key)

    @property
    def key_id(self) -> str | None:
        """Id of the key new entries are signed with (None: unkeyed)."""
        return self._key_id

    def _index(self) -> AuditSearchIndex | None:
        """The search index, (re)built when it does not mirror the store; None if seqs have gaps."""
        idx = self._search
        if idx is not None and len(idx) == len(self.store):
            return idx
        idx = AuditSearchIndex(self.region)
        for n, entry in enumerate(self.store.entries(), start=1):
            if entry.seq != n:
                self._search = None
                return None
            idx.add(entry)
        self._search = idx
        return idx

    def __len__(self) -> int:
        return len(self.store)

    def record(
        self,
        action: str,
        *,
        actor: str,
        record_type: str | None = None,
        record_id: str | None = None,
        field: str | None = None,
        old: Any = None,
        new: Any = None,
        source: str | None = None,
        reason: str | None = None,
        subjects: Iterable[str] = (),
        details: Any = None,
        at: datetime | None = None,
        erases: Iterable[int] = (),
    ) -> AuditEntry:
        """Append one entry and return it.

        Args:
            action: What happened (``change``, ``merge``, ``unmerge``, ``export``, ``erasure`` ...).
            actor: Who did it.
            record_type: Record type acted on.
            record_id: Record id acted on.
            field: Field acted on.
            old: Old value (personal data: erasable).
            new: New value (personal data: erasable).
            source: Source system or process.
            reason: Why (erasable: reasons may quote personal data).
            subjects: Person ids the entry is about (for erasure and subject access).
            details: Any extra JSON-friendly data (erasable).
            at: When (default: now, UTC).
            erases: ``seq`` of the entries whose payload this entry records erasing (set by
                :meth:`erase`).

        Returns:
            The stored entry.
        """
        when = at if at is not None else datetime.now(UTC)
        last = self.store.last()
        if last is not None and last.key_id is not None and last.key_id != self._key_id:
            rotated = last.action == "key_rotation" and last.record_id == self._key_id
            if not rotated:
                raise AuditIntegrityError(
                    f"the audit log's last entry is signed with key {last.key_id!r}; "
                    + (
                        "open it with that key (AuditLog(key=..., key_id=...))"
                        if self._key_id is None
                        else f"switch to key {self._key_id!r} with rotate_key()"
                    )
                )
        seq = 1 if last is None else last.seq + 1
        prev = GENESIS_HASH if last is None else last.hash
        payload = _jsonable(
            {
                "old": old,
                "new": new,
                "reason": reason,
                "details": details,
                "salt": secrets.token_hex(16),
            }
        )
        digest = payload_digest(payload)
        entry = AuditEntry(
            seq=seq,
            at=when,
            actor=str(actor),
            action=str(action),
            record_type=record_type,
            record_id=None if record_id is None else str(record_id),
            field=field,
            source=source,
            subjects=tuple(sorted({str(s) for s in subjects})),
            payload=payload,
            payload_digest=digest,
            prev_hash=prev,
            hash="",
            erases=tuple(sorted({int(x) for x in erases})),
            key_id=self._key_id,
        )
        key = None if self._key_id is None else self._keys[self._key_id]
        entry = attrs.evolve(entry, hash=entry_hash(entry.metadata(), digest, prev, key))
        self.store.append(entry)
        if self._search is not None:
            if len(self._search) == seq - 1:
                self._search.add(entry)
            else:
                self._search = None
        return entry

    def record_change(
        self,
        record_type: str,
        record_id: str,
        old: Mapping[str, Any],
        new: Mapping[str, Any],
        *,
        actor: str,
        source: str | None = None,
        reason: str | None = None,
        subjects: Iterable[str] = (),
        at: datetime | None = None,
    ) -> list[AuditEntry]:
        """Record one ``change`` entry per field whose value differs between two versions."""
        subjects = tuple(subjects)
        out = []
        for field in sorted(set(old) | set(new)):
            before, after = old.get(field), new.get(field)
            if before != after:
                out.append(
                    self.record(
                        "change",
                        actor=actor,
                        record_type=record_type,
                        record_id=record_id,
                        field=field,
                        old=before,
                        new=after,
                        source=source,
                        reason=reason,
                        subjects=subjects,
                        at=at,
                    )
                )
        return out

    def record_merge(
        self,
        entity_id: str,
        record_ids: Iterable[str],
        *,
        actor: str,
        unmerge: bool = False,
        source: str | None = None,
        reason: str | None = None,
        details: Any = None,
        at: datetime | None = None,
    ) -> AuditEntry:
        """Record a merge (or unmerge) of source records into (or out of) an entity.

        For golden records built by :mod:`crmcore.survivorship` and entities of the match index:
        the entity and every record id are subjects, so erasure finds the entry.

        Args:
            entity_id: The entity (golden record) id.
            record_ids: The source records merged in (or taken out).
            actor: Who.
            unmerge: Record an ``unmerge`` instead of a ``merge``.
            source: Source system or process (``survivorship``, ``review`` ...).
            reason: Why (erasable).
            details: Extra JSON-friendly data (erasable), such as the golden values before.
            at: When.
        """
        ids = sorted({str(r) for r in record_ids})
        return self.record(
            "unmerge" if unmerge else "merge",
            actor=actor,
            record_type="entity",
            record_id=entity_id,
            source=source,
            reason=reason,
            subjects=[entity_id, *ids],
            details={"record_ids": ids, "details": details},
            at=at,
        )

    def entries(
        self, *, subject: str | None = None, record_id: str | None = None
    ) -> list[AuditEntry]:
        """Entries in chain order, optionally about one subject or one record."""
        return [
            e
            for e in self.store.entries()
            if (subject is None or subject in e.subjects)
            and (record_id is None or e.record_id == record_id)
        ]

    def head(self) -> tuple[int, str]:
        """``(number of entries, last hash)``: keep it elsewhere to detect a cut tail later."""
        last = self.store.last()
        return (0, GENESIS_HASH) if last is None else (last.seq, last.hash)

    def checkpoint(self, *, at: datetime | None = None) -> Checkpoint:
        """Sign the current head with the host key: publish the result somewhere else.

        Raises:
            AuditIntegrityError: If the log has no key.
        """
        if self._key_id is None:
            raise AuditIntegrityError("a signed checkpoint needs a key (AuditLog(key=...))")
        seq, head = self.head()
        when = (at if at is not None else datetime.now(UTC)).isoformat()
        sig = hmac.new(
            self._keys[self._key_id],
            checkpoint_text(seq, head, when, self._key_id),
            hashlib.sha256,
        ).hexdigest()
        return Checkpoint(seq, head, when, self._key_id, sig)

    def rotate_key(
        self,
        key: bytes | str,
        key_id: str,
        *,
        actor: str = "governance",
        at: datetime | None = None,
    ) -> AuditEntry:
        """Switch to a new key; returns the ``key_rotation`` entry (signed with the old key).

        The entry names the new key id in its hashed metadata (``record_id``), so the switch is
        itself on the chain and authenticated by the previous key. Keep the old key for
        verification (``old_keys``): entries signed with it still need it.

        Raises:
            AuditIntegrityError: If the id is already used by another key.
        """
        new = key_bytes(key)
        if key_id in self._keys and not hmac.compare_digest(self._keys[key_id], new):
            raise AuditIntegrityError(f"audit key id {key_id!r} is already used by another key")
        entry = self.record(
            "key_rotation",
            actor=actor,
            record_type="audit_key",
            record_id=key_id,
            at=at,
        )
        self._keys[key_id] = new
        self._key_id = key_id
        return entry

    def verify(
        self,
        *,
        expected_head: tuple[int, str] | None = None,
        checkpoint: Checkpoint | None = None,
        require_keyed: bool | None = None,
        raise_on_error: bool = False,
    ) -> AuditReport:
        """Recompute every payload digest and entry hash (HMAC under the host keys), and check
        the links.

        Args:
            expected_head: A :meth:`head` value taken earlier; the chain must still contain it
                (catches entries cut from the end).
            checkpoint: A :meth:`checkpoint` kept elsewhere: its signature is checked, then it
                is used as ``expected_head``.
            require_keyed: Require the chain to end in a keyed entry and every entry after the
                first keyed one to be keyed (default: when the log has a key). Catches a writer
                without the key who rewrote the whole log unkeyed or appended unkeyed entries.
            raise_on_error: Raise :class:`AuditIntegrityError` instead of returning a bad report.

        Returns:
            An :class:`AuditReport` naming the first bad entry, if any, and why.

        Raises:
            AuditIntegrityError: If ``raise_on_error`` and the chain does not verify.
        """
        if require_keyed is None:
            require_keyed = self._key_id is not None
        if checkpoint is not None:
            bad = self._check_checkpoint(checkpoint)
            if bad is not None:
                report = AuditReport(False, 0, checkpoint.seq, bad)
                if raise_on_error:
                    raise AuditIntegrityError(f"audit checkpoint rejected: {bad}")
                return report
            expected_head = (checkpoint.seq, checkpoint.hash)
        report = self._verify(expected_head, require_keyed)
        if raise_on_error and not report.ok:
            raise AuditIntegrityError(
                f"audit chain broken at entry {report.first_bad_seq}: {report.problem}"
            )
        return report

    def _check_checkpoint(self, cp: Checkpoint) -> str | None:
        key = self._keys.get(cp.key_id)
        if key is None:
            return f"checkpoint signed with key {cp.key_id!r}, which was not supplied"
        want = hmac.new(
            key, checkpoint_text(cp.seq, cp.hash, cp.at, cp.key_id), hashlib.sha256
        ).hexdigest()
        if not hmac.compare_digest(want, cp.signature):
            return "checkpoint signature does not match (forged or altered checkpoint)"
        return None

    def _verify(self, expected_head: tuple[int, str] | None, require_keyed: bool) -> AuditReport:
        prev = GENESIS_HASH
        expected_seq = 1
        checked = erased = keyed = unkeyed = 0
        seen_head = expected_head is None or expected_head[0] == 0
        tombstones: list[int] = []
        covered: set[int] = set()
        current_key: str | None = None
        rotated_to: str | None = None

        def fail(seq: int, why: str) -> AuditReport:
            return AuditReport(False, checked, seq, why, erased, keyed, unkeyed)

        for entry in self.store.entries():
            checked += 1
            bad = None
            key = None if entry.key_id is None else self._keys.get(entry.key_id)
            if entry.seq != expected_seq:
                bad = f"expected entry {expected_seq}, found {entry.seq} (removed or inserted)"
            elif entry.prev_hash != prev:
                bad = "previous-hash link does not match (entry before it changed or removed)"
            elif entry.key_id is None and current_key is not None:
                bad = (
                    f"unkeyed entry after entries signed with key {current_key!r} "
                    "(appended or rewritten by a writer without the key)"
                )
            elif entry.key_id is not None and key is None:
                bad = f"entry signed with key {entry.key_id!r}, which was not supplied"
            elif (
                entry.key_id is not None
                and current_key is not None
                and entry.key_id not in (current_key, rotated_to)
            ):
                bad = (
                    f"key changed from {current_key!r} to {entry.key_id!r} without a "
                    "key_rotation entry"
                )
            elif (entry.payload is not None
                  and payload_digest(entry.payload) != entry.payload_digest):
                bad = "payload does not match its digest (old/new value or reason changed)"
            elif entry_hash(entry.metadata(), entry.payload_digest, prev, key) != entry.hash:
                bad = (
                    "entry hash does not match its contents (metadata changed)"
                    if key is None
                    else f"entry HMAC under key {entry.key_id!r} does not match its contents "
                    "(changed, or written by someone without the key)"
                )
            if bad is not None:
                return fail(min(entry.seq, expected_seq), bad)
            if entry.key_id is None:
                unkeyed += 1
            else:
                keyed += 1
                current_key = entry.key_id
            rotated_to = (
                entry.record_id
                if entry.action == "key_rotation" and entry.record_type == "audit_key"
                else None
            )
            if entry.payload is None:
                erased += 1
                tombstones.append(entry.seq)
            covered.update(x for x in entry.erases if x < entry.seq)
            if expected_head is not None and entry.seq == expected_head[0]:
                if entry.hash != expected_head[1]:
                    return fail(entry.seq, "entry differs from the expected head")
                seen_head = True
            prev = entry.hash
            expected_seq += 1
        if not seen_head:
            assert expected_head is not None
            return fail(
                expected_seq, f"chain ends before the expected head (entry {expected_head[0]})"
            )
        if require_keyed and checked and current_key is None:
            return fail(
                1,
                "no entry is keyed, but a key is in use: the log was written (or rewritten) "
                "without the key; an old unkeyed log verifies with require_keyed=False, and "
                "is pinned by the first entry appended with the key",
            )
        quiet = [seq for seq in tombstones if seq not in covered]
        if quiet:
            return fail(quiet[0], "payload removed without a tombstone entry recording its erasure")
        notes = []
        if unkeyed:
            protected = " (pinned by the keyed entries after them)" if keyed else ""
            notes.append(
                f"{unkeyed} unkeyed entries: SHA-256 only, a writer who recomputes hashes could "
                f"have rewritten them{protected}"
            )
        if expected_head is None:
            notes.append("no checkpoint given: entries cut from the end are not detected")
        return AuditReport(
            True, checked, None, None, erased, keyed, unkeyed, "; ".join(notes) or None
        )

    def erase(
        self,
        *,
        subjects: Iterable[str] = (),
        record_ids: Iterable[str] = (),
        values: Iterable[str] = (),
        actor: str = "governance",
        at: datetime | None = None,
    ) -> int:
        """Turn entries about erased persons into tombstones (payload dropped, chain intact).

        When any entry is emptied, one ``tombstone`` entry is appended listing them (in its
        hashed metadata, no personal data), which :meth:`verify` requires for every tombstone.

        Args:
            subjects: Person ids: entries naming one as a subject.
            record_ids: Record ids: entries about one of these records.
            values: Identifier values (emails, phones, names): entries whose payload mentions
                one (case-insensitive), whoever they are about.
            actor: Actor named in the ``tombstone`` entry.
            at: Time of the ``tombstone`` entry (default: now).

        Returns:
            The number of entries tombstoned.
        """
        emptied = self.find(subjects=subjects, record_ids=record_ids, values=values)
        idx = self._search
        for seq in emptied:
            self.store.erase_payload(seq)
            if idx is not None:
                idx.clear(seq)
        if emptied:
            self.record("tombstone", actor=actor, erases=emptied, at=at)
        return len(emptied)

    def find(
        self,
        *,
        subjects: Iterable[str] = (),
        record_ids: Iterable[str] = (),
        values: Iterable[str] = (),
    ) -> list[int]:
        """``seq`` of the entries still holding a payload that concern a person.

        An entry concerns them when it names one of the ``subjects``, is about one of the
        ``record_ids``, or its payload mentions one of the ``values`` (case-insensitive, and
        emails / phones also when written another way: ``+44 20 7946 0958`` in a note is found
        by ``+442079460958``, through the identifier keys of the payload's free text). An
        in-memory index (built on first use, kept up to date on append) makes this a few dict
        look-ups and one text search per value instead of a pass over every entry.
        """
        subject_set = {str(s) for s in subjects}
        record_set = {str(r) for r in record_ids}
        values = [v for v in values if v]
        needles = [v.casefold() for v in values]
        id_keys = {k for v in values for k in text_identifier_keys(v, region=self.region)}
        idx = self._index()
        if idx is None:  # seqs with gaps (a damaged trail): look at every entry
            hits: list[int] = []
            for entry in self.store.entries():
                if entry.payload is None:
                    continue
                hit = bool(subject_set.intersection(entry.subjects)) or (
                    entry.record_id in record_set
                )
                if not hit and needles:
                    text = canonical_json(dict(entry.payload)).casefold()
                    hit = any(n in text for n in needles)
                if not hit and id_keys:
                    text = payload_text(entry.payload)
                    keys = text_identifier_keys(text, region=self.region)
                    hit = not id_keys.isdisjoint(keys)
                if hit:
                    hits.append(entry.seq)
            return hits
        found: set[int] = set()
        for subject in subject_set:
            found.update(idx.subjects.get(subject, ()))
        for rid in record_set:
            found.update(idx.records.get(rid, ()))
        for needle in needles:
            found |= idx.search(needle)
        found |= idx.search_keys(id_keys)
        return sorted(found - idx.cleared)
