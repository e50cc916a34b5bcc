"""Where audit entries live (:class:`AuditStore`): in memory or in an SQLite table."""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterator
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

import attrs

from crmcore.governance._audit_entries import AuditEntry
from crmcore.governance._identity import canonical_json


@runtime_checkable
class AuditStore(Protocol):
    """Where audit entries live: append, iterate in order, erase a payload."""

    def append(self, entry: AuditEntry) -> None:
        """Store a new entry at the end."""

    def entries(self) -> Iterator[AuditEntry]:
        """Iterate entries in chain order."""

    def last(self) -> AuditEntry | None:
        """The last entry, if any."""

    def erase_payload(self, seq: int) -> None:
        """Drop the payload of entry ``seq`` (keep the tombstone)."""

    def __len__(self) -> int:
        """Number of entries."""


class MemoryAuditStore:
    """Audit entries in a Python list."""

    def __init__(self) -> None:
        self._entries: list[AuditEntry] = []

    def append(self, entry: AuditEntry) -> None:
        """Store a new entry at the end."""
        self._entries.append(entry)

    def entries(self) -> Iterator[AuditEntry]:
        """Iterate entries in chain order."""
        return iter(list(self._entries))

    def last(self) -> AuditEntry | None:
        """The last entry, if any."""
        return self._entries[-1] if self._entries else None

    def erase_payload(self, seq: int) -> None:
        """Drop the payload of entry ``seq``."""
        i = seq - 1
        if not (0 <= i < len(self._entries) and self._entries[i].seq == seq):
            i = next((n for n, e in enumerate(self._entries) if e.seq == seq), -1)
        if i >= 0:
            self._entries[i] = attrs.evolve(self._entries[i], payload=None)

    def __len__(self) -> int:
        return len(self._entries)


_COLUMNS = (
    "seq, at, actor, action, record_type, record_id, field, source, subjects, payload, "
    "payload_digest, prev_hash, hash, erases, key_id"
)


class SQLiteAuditStore:
    """Audit entries in an SQLite table (stdlib ``sqlite3``).

    Args:
        path: Database file (``":memory:"`` for a private in-memory database).
        table: Table name.
    """

    def __init__(self, path: str | os.PathLike[str], table: str = "audit_log") -> None:
        if not table.isidentifier():
            raise ValueError(f"table name {table!r} is not an identifier")
        self._table = table
        self._conn = sqlite3.connect(os.fspath(path))
        self._conn.execute("PRAGMA secure_delete = ON")
        self._conn.execute(
            f"CREATE TABLE IF NOT EXISTS {table} (seq INTEGER PRIMARY KEY, at TEXT NOT NULL, "
            "actor TEXT NOT NULL, action TEXT NOT NULL, record_type TEXT, record_id TEXT, "
            "field TEXT, source TEXT, subjects TEXT NOT NULL, payload TEXT, "
            "payload_digest TEXT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL, "
            "erases TEXT, key_id TEXT)"
        )
        columns = {row[1] for row in self._conn.execute(f"PRAGMA table_info({table})")}
        if "erases" not in columns:  # a table written before tombstone entries existed
            self._conn.execute(f"ALTER TABLE {table} ADD COLUMN erases TEXT")
        if "key_id" not in columns:  # a table written before keyed chains existed
            self._conn.execute(f"ALTER TABLE {table} ADD COLUMN key_id TEXT")
        self._conn.commit()

    @property
    def connection(self) -> sqlite3.Connection:
        """The underlying connection."""
        return self._conn

    def close(self) -> None:
        """Close the connection."""
        self._conn.close()

    def append(self, entry: AuditEntry) -> None:
        """Store a new entry at the end."""
        payload = None if entry.payload is None else canonical_json(dict(entry.payload))
        self._conn.execute(
            f"INSERT INTO {self._table} ({_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                entry.seq,
                entry.at.isoformat(),
                entry.actor,
                entry.action,
                entry.record_type,
                entry.record_id,
                entry.field,
                entry.source,
                json.dumps(list(entry.subjects)),
                payload,
                entry.payload_digest,
                entry.prev_hash,
                entry.hash,
                json.dumps(list(entry.erases)) if entry.erases else None,
                entry.key_id,
            ),
        )
        self._conn.commit()

    @staticmethod
    def _row(row: tuple[Any, ...]) -> AuditEntry:
        return AuditEntry(
            seq=row[0],
            at=datetime.fromisoformat(row[1]),
            actor=row[2],
            action=row[3],
            record_type=row[4],
            record_id=row[5],
            field=row[6],
            source=row[7],
            subjects=tuple(json.loads(row[8])),
            payload=None if row[9] is None else json.loads(row[9]),
            payload_digest=row[10],
            prev_hash=row[11],
            hash=row[12],
            erases=tuple(json.loads(row[13])) if row[13] else (),
            key_id=row[14],
        )

    def entries(self) -> Iterator[AuditEntry]:
        """Iterate entries in chain order."""
        cursor = self._conn.execute(f"SELECT {_COLUMNS} FROM {self._table} ORDER BY seq")
        for row in cursor:
            yield self._row(row)

    def last(self) -> AuditEntry | None:
        """The last entry, if any."""
        row = self._conn.execute(
            f"SELECT {_COLUMNS} FROM {self._table} ORDER BY seq DESC LIMIT 1"
        ).fetchone()
        return None if row is None else self._row(row)

    def erase_payload(self, seq: int) -> None:
        """Drop the payload of entry ``seq``."""
        self._conn.execute(f"UPDATE {self._table} SET payload = NULL WHERE seq = ?", (seq,))
        self._conn.commit()

    def __len__(self) -> int:
        row = self._conn.execute(f"SELECT COUNT(*) FROM {self._table}").fetchone()
        return int(row[0])
