"""The audit trail's values: entries, checkpoints, verification reports, and their hashes.

An entry's hash is SHA-256 (or, under the host key, HMAC-SHA-256) over the canonical JSON of its
metadata, the salted digest of its payload and the previous entry's hash (:func:`entry_hash`,
:func:`payload_digest`); a checkpoint signs the chain head (:func:`checkpoint_text`).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import attrs

from crmcore.errors import AuditIntegrityError
from crmcore.governance._identity import canonical_json, sha256_hex

GENESIS_HASH = "0" * 64
"""The ``prev_hash`` of the first entry."""


@attrs.frozen
class AuditEntry:
    """One audit entry (read-only; the log builds them).

    Args:
        seq: Position in the chain, from 1.
        at: When (tz-aware).
        actor: Who (user id, service name).
        action: What: ``create``, ``change``, ``delete``, ``merge``, ``unmerge``, ``export``,
            ``erasure``, ``consent`` ... (free text, lower case by convention).
        record_type: Type of the record acted on, if any.
        record_id: Id of the record acted on, if any.
        field: Field acted on, if any.
        source: System or process the change came from.
        subjects: Person ids the entry is about (used to find it for erasure).
        payload: ``{"old", "new", "reason", "details", "salt"}``; None once erased.
        payload_digest: Salted SHA-256 of the payload's canonical JSON.
        prev_hash: Hash of the previous entry (:data:`GENESIS_HASH` for the first).
        hash: This entry's hash.
        erases: For a ``tombstone`` entry, the ``seq`` of every entry whose payload it erased.
        key_id: Id of the host key whose HMAC-SHA-256 is :attr:`hash` (None: plain SHA-256,
            an unkeyed entry).
    """

    seq: int
    at: datetime
    actor: str
    action: str
    record_type: str | None
    record_id: str | None
    field: str | None
    source: str | None
    subjects: tuple[str, ...]
    payload: Mapping[str, Any] | None
    payload_digest: str
    prev_hash: str
    hash: str
    erases: tuple[int, ...] = ()
    key_id: str | None = None

    @property
    def old_value(self) -> Any:
        """Old value (None once erased)."""
        return None if self.payload is None else self.payload.get("old")

    @property
    def new_value(self) -> Any:
        """New value (None once erased)."""
        return None if self.payload is None else self.payload.get("new")

    @property
    def reason(self) -> str | None:
        """Reason given (None once erased)."""
        return None if self.payload is None else self.payload.get("reason")

    @property
    def details(self) -> Any:
        """Extra details (None once erased)."""
        return None if self.payload is None else self.payload.get("details")

    @property
    def erased(self) -> bool:
        """Whether the personal payload was erased (the entry is a tombstone)."""
        return self.payload is None

    def metadata(self) -> dict[str, Any]:
        """The hashed metadata of the entry (everything but payload and hashes)."""
        out: dict[str, Any] = {
            "seq": self.seq,
            "at": self.at.isoformat(),
            "actor": self.actor,
            "action": self.action,
            "record_type": self.record_type,
            "record_id": self.record_id,
            "field": self.field,
            "source": self.source,
            "subjects": list(self.subjects),
        }
        if self.erases:
            out["erases"] = list(self.erases)
        if self.key_id is not None:
            out["key_id"] = self.key_id
        return out

    def to_dict(self) -> dict[str, Any]:
        """Plain dict of the whole entry (payload without its salt)."""
        out = self.metadata()
        payload = (
            None if self.payload is None else {k: v for k, v in self.payload.items() if k != "salt"}
        )
        out.update(payload=payload, erased=self.erased, hash=self.hash, prev_hash=self.prev_hash)
        return out


def payload_digest(payload: Mapping[str, Any]) -> str:
    return sha256_hex(canonical_json(dict(payload)))


def entry_hash(
    metadata: Mapping[str, Any], digest: str, prev: str, key: bytes | None = None
) -> str:
    """SHA-256 (unkeyed) or HMAC-SHA-256 under the host key of an entry's hashed content."""
    text = canonical_json({"meta": dict(metadata), "payload": digest, "prev": prev})
    if key is None:
        return sha256_hex(text)
    return hmac.new(key, text.encode("utf-8"), hashlib.sha256).hexdigest()


def key_bytes(key: bytes | str) -> bytes:
    raw = key.encode("utf-8") if isinstance(key, str) else bytes(key)
    if len(raw) < 16:
        raise AuditIntegrityError(
            f"audit key of {len(raw)} bytes is too short: use at least 16 random bytes "
            "(secrets.token_bytes(32))"
        )
    return raw


def checkpoint_text(seq: int, head: str, at: str, key_id: str) -> bytes:
    return canonical_json({"seq": seq, "hash": head, "at": at, "key_id": key_id}).encode("utf-8")


@attrs.frozen
class Checkpoint:
    """A signed statement of the chain head (:meth:`AuditLog.checkpoint`): publish it elsewhere.

    Kept apart from the log (another system, a ticket, an email to the DPO, a transparency log),
    it lets :meth:`AuditLog.verify` detect entries cut from the end or a log rewritten wholesale,
    which the chain alone cannot. The signature is an HMAC-SHA-256 under the host key, so only a
    key holder can make or check one.

    Args:
        seq: Number of entries covered.
        hash: Hash of entry ``seq``.
        at: When it was taken (ISO text).
        key_id: Id of the key that signed it.
        signature: HMAC-SHA-256 hex of the other fields.
    """

    seq: int
    hash: str
    at: str
    key_id: str
    signature: str

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (to publish as JSON)."""
        return attrs.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Checkpoint:
        """Read back a :meth:`to_dict` value."""
        return cls(
            int(data["seq"]),
            str(data["hash"]),
            str(data["at"]),
            str(data["key_id"]),
            str(data["signature"]),
        )


@attrs.frozen
class AuditReport:
    """Result of :meth:`AuditLog.verify`.

    Args:
        ok: Whether the whole chain verified.
        checked: Number of entries checked.
        first_bad_seq: ``seq`` of the first bad entry (or of the missing one), if any.
        problem: What was wrong.
        erased: Number of tombstones seen.
        keyed: Number of entries whose HMAC under a host key verified.
        unkeyed: Number of plain SHA-256 entries (a log written before keys were used): a
            writer without the key could have rewritten those, unless a keyed entry or a
            checkpoint followed them (see :attr:`note`).
        note: What the result does and does not prove (unkeyed entries, no checkpoint ...).
    """

    ok: bool
    checked: int
    first_bad_seq: int | None = None
    problem: str | None = None
    erased: int = 0
    keyed: int = 0
    unkeyed: int = 0
    note: str | None = None
