"""Where the engine keeps what must survive a restart.

Delayed actions and scheduled paths (:class:`PendingAction`), the ids of events already
processed (idempotency), which rules fired for which records (re-enrolment) and which period
each time trigger last fired for. The host gives a store: :class:`MemoryScheduleStore` (default) or
:class:`SQLiteScheduleStore` (a file; a new engine on the same file carries on where the last one
stopped). Anything implementing :class:`ScheduleStore` works.

A store may also offer ``batch()``, a context manager the engine enters around each ``process``
and ``tick``: :class:`SQLiteScheduleStore` then commits once per batch instead of once per write (a
catch-up tick that fires thousands of time rules is one transaction, not thousands).
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import attrs

from crmcore.conditions import decode_value, encode_value, to_datetime
from crmcore.model import DecodeContext, SpecCodec, SpecField


@attrs.frozen
class PendingAction:
    """A delayed action held by the engine until ``due_at``.

    Attributes:
        key: Idempotency key (unique).
        rule: Name of the rule.
        action_index: Index of the action in the rule.
        record_type: Type of the record.
        record_id: Id of the record.
        due_at: When it comes due.
        event_id: The event the rule fired on.
        change: ``field -> (before, after)`` of that event (re-checked conditions see it).
        period: The time trigger's period (epoch seconds), or ``None`` for event rules.
    """

    key: str
    rule: str
    action_index: int
    record_type: str
    record_id: str
    due_at: datetime
    event_id: str
    change: Mapping[str, tuple[Any, Any]] = attrs.field(factory=dict, hash=False)
    period: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-friendly dict form (the body a :class:`SQLiteScheduleStore` keeps)."""
        return PENDING.to_dict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PendingAction:
        """Inverse of :meth:`to_dict`.

        Raises:
            SerializationError: Listing every problem (key, value, rule) in ``problems``.
        """
        value: PendingAction = PENDING.from_dict(data)
        return value


def _enc(value: Any) -> Any:
    try:
        return encode_value(value)
    except TypeError:
        return str(value)


def _dec(value: Any) -> Any:
    try:
        return decode_value(value)
    except TypeError:
        return value


def _decode_due(raw: Any, ctx: DecodeContext) -> Any:
    due = to_datetime(raw) if isinstance(raw, str) else None
    if due is None:
        ctx.problem(raw, "pending.due_at", "expected an ISO 8601 time")
        return SpecCodec.MISSING
    return due


def _decode_change(raw: Any, ctx: DecodeContext) -> Any:
    if not isinstance(raw, Mapping):
        ctx.problem(raw, "pending.change", "expected an object of field -> [before, after]")
        return SpecCodec.MISSING
    out: dict[str, tuple[Any, Any]] = {}
    for k, v in raw.items():
        if not (isinstance(v, list) and len(v) == 2):
            ctx.at(str(k)).problem(v, "pending.change", "expected [before, after]")
            continue
        out[str(k)] = (_dec(v[0]), _dec(v[1]))
    return out if len(out) == len(raw) else SpecCodec.MISSING


def _text(key: str) -> SpecField:
    return SpecField(decode=SpecCodec.typed(str, f"pending.{key}", "expected a string"))


#: The dict form of a held action (the body stores keep), through the one spec codec.
PENDING = SpecCodec("pending", key=None, noun="pending action")
PENDING.register(PendingAction, fields={
    "key": _text("key"),
    "rule": _text("rule"),
    "action_index": SpecField(decode=SpecCodec.typed(int, "pending.action_index",
                                                     "expected an integer")),
    "record_type": _text("record_type"),
    "record_id": _text("record_id"),
    "due_at": SpecField(encode=lambda t: t.isoformat(), decode=_decode_due),
    "event_id": _text("event_id"),
    "change": SpecField(encode=lambda c: {k: [_enc(b), _enc(a)] for k, (b, a) in c.items()},
                        decode=_decode_change),
    "period": SpecField(decode=SpecCodec.typed((int, float, type(None)), "pending.period",
                                               "expected a number of seconds or null")),
})  # fmt: skip


@runtime_checkable
class ScheduleStore(Protocol):
    """What the engine needs from a store."""

    def add_pending(self, item: PendingAction) -> None:
        """Hold a delayed action (replacing one with the same key)."""

    def due_pending(self, now: datetime) -> list[PendingAction]:
        """Return held actions due at ``now``, by due time then key."""

    def remove_pending(self, key: str) -> None:
        """Forget a held action."""

    def pending(self) -> list[PendingAction]:
        """Return every held action, by due time then key."""

    def remember_event(self, event_id: str) -> bool:
        """Record an event id; return ``False`` when it was seen before."""

    def has_fired(self, rule: str, record_id: str) -> bool:
        """Whether the rule has fired for the record (re-enrolment bookkeeping)."""

    def set_fired(self, rule: str, record_id: str, fired: bool) -> None:
        """Mark or unmark the rule as fired for the record."""

    def periods(self, rule: str) -> dict[str, float]:
        """Return ``record_id -> period`` the time rule last fired for."""

    def set_period(self, rule: str, record_id: str, period: float) -> None:
        """Record the period a time rule fired for."""


class MemoryScheduleStore:
    """In-memory :class:`ScheduleStore` (lost when the process ends)."""

    def __init__(self) -> None:
        self._pending: dict[str, PendingAction] = {}
        self._events: set[str] = set()
        self._fired: set[tuple[str, str]] = set()
        self._periods: dict[str, dict[str, float]] = {}

    def add_pending(self, item: PendingAction) -> None:
        """Hold a delayed action."""
        self._pending[item.key] = item

    def due_pending(self, now: datetime) -> list[PendingAction]:
        """Return held actions due at ``now``."""
        return sorted(
            (p for p in self._pending.values() if p.due_at <= now),
            key=lambda p: (p.due_at, p.key),
        )

    def remove_pending(self, key: str) -> None:
        """Forget a held action."""
        self._pending.pop(key, None)

    def pending(self) -> list[PendingAction]:
        """Return every held action."""
        return sorted(self._pending.values(), key=lambda p: (p.due_at, p.key))

    def remember_event(self, event_id: str) -> bool:
        """Record an event id; ``False`` when seen before."""
        if event_id in self._events:
            return False
        self._events.add(event_id)
        return True

    def has_fired(self, rule: str, record_id: str) -> bool:
        """Whether the rule fired for the record."""
        return (rule, record_id) in self._fired

    def set_fired(self, rule: str, record_id: str, fired: bool) -> None:
        """Mark or unmark."""
        if fired:
            self._fired.add((rule, record_id))
        else:
            self._fired.discard((rule, record_id))

    def periods(self, rule: str) -> dict[str, float]:
        """Periods a time rule fired for."""
        return dict(self._periods.get(rule, {}))

    def set_period(self, rule: str, record_id: str, period: float) -> None:
        """Record a fired period."""
        self._periods.setdefault(rule, {})[record_id] = period

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        """Group writes (nothing to do in memory)."""
        yield

    def copy(self) -> MemoryScheduleStore:
        """Return an independent copy (used by dry runs)."""
        out = MemoryScheduleStore()
        out._pending = dict(self._pending)
        out._events = set(self._events)
        out._fired = set(self._fired)
        out._periods = {k: dict(v) for k, v in self._periods.items()}
        return out

    def forget_events(self) -> None:
        """Forget the event ids seen (a dry run replays events the engine may have seen)."""
        self._events = set()


_SCHEMA = """
CREATE TABLE IF NOT EXISTS pending (key TEXT PRIMARY KEY, due REAL NOT NULL, body TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS pending_due ON pending (due, key);
CREATE TABLE IF NOT EXISTS events (id TEXT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS fired (rule TEXT, record_id TEXT, PRIMARY KEY (rule, record_id));
CREATE TABLE IF NOT EXISTS periods (rule TEXT, record_id TEXT, period REAL,
                                    PRIMARY KEY (rule, record_id));
"""


class SQLiteScheduleStore:
    """A :class:`ScheduleStore` in a SQLite file; survives restarts.

    Writes are committed at once, or at the end of a :meth:`batch` (the engine batches each
    ``process`` and ``tick``). The file uses SQLite's write-ahead log with ``synchronous=NORMAL``:
    a committed batch survives the process crashing; a power cut may lose the last batches.

    Args:
        path: Database file (``":memory:"`` for a throw-away one).
    """

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._db = sqlite3.connect(self.path)
        self._depth = 0
        self._db.execute("PRAGMA secure_delete = ON")  # erased held actions leave no trace
        if self.path != ":memory:":
            self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        self._db.commit()

    def scrub(self) -> None:
        """Commit, then fold the write-ahead log into the file and truncate it, so rows deleted
        by an erasure survive neither in free pages (``secure_delete`` is on) nor in the log."""
        self._db.commit()
        self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def close(self) -> None:
        """Close the database (committing what a batch left open)."""
        self._db.commit()
        self._db.close()

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        """Commit once for every write made inside (nested batches commit at the outermost)."""
        self._depth += 1
        try:
            yield
        finally:
            self._depth -= 1
            if self._depth == 0:
                self._db.commit()

    def _commit(self) -> None:
        if self._depth == 0:
            self._db.commit()

    def add_pending(self, item: PendingAction) -> None:
        """Hold a delayed action."""
        self._db.execute(
            "INSERT OR REPLACE INTO pending VALUES (?, ?, ?)",
            (item.key, item.due_at.timestamp(), json.dumps(item.to_dict())),
        )
        self._commit()

    def _load(self, rows: Iterable[tuple[str]]) -> list[PendingAction]:
        items = [PendingAction.from_dict(json.loads(body)) for (body,) in rows]
        return sorted(items, key=lambda p: (p.due_at, p.key))

    def due_pending(self, now: datetime) -> list[PendingAction]:
        """Return held actions due at ``now``."""
        rows = self._db.execute(
            "SELECT body FROM pending WHERE due <= ? ORDER BY due, key", (now.timestamp(),)
        )
        return self._load(rows)

    def remove_pending(self, key: str) -> None:
        """Forget a held action."""
        self._db.execute("DELETE FROM pending WHERE key = ?", (key,))
        self._commit()

    def pending(self) -> list[PendingAction]:
        """Return every held action."""
        return self._load(self._db.execute("SELECT body FROM pending ORDER BY due, key"))

    def remember_event(self, event_id: str) -> bool:
        """Record an event id; ``False`` when seen before."""
        cur = self._db.execute("INSERT OR IGNORE INTO events VALUES (?)", (event_id,))
        self._commit()
        return cur.rowcount == 1

    def has_fired(self, rule: str, record_id: str) -> bool:
        """Whether the rule fired for the record."""
        row = self._db.execute(
            "SELECT 1 FROM fired WHERE rule = ? AND record_id = ?", (rule, record_id)
        ).fetchone()
        return row is not None

    def set_fired(self, rule: str, record_id: str, fired: bool) -> None:
        """Mark or unmark."""
        if fired:
            self._db.execute("INSERT OR IGNORE INTO fired VALUES (?, ?)", (rule, record_id))
        else:
            self._db.execute(
                "DELETE FROM fired WHERE rule = ? AND record_id = ?", (rule, record_id)
            )
        self._commit()

    def periods(self, rule: str) -> dict[str, float]:
        """Periods a time rule fired for."""
        rows = self._db.execute("SELECT record_id, period FROM periods WHERE rule = ?", (rule,))
        return {r: float(p) for r, p in rows}

    def set_period(self, rule: str, record_id: str, period: float) -> None:
        """Record a fired period."""
        self._db.execute(
            "INSERT OR REPLACE INTO periods VALUES (?, ?, ?)", (rule, record_id, period)
        )
        self._commit()

    def copy(self) -> MemoryScheduleStore:
        """Return an in-memory copy (used by dry runs)."""
        out = MemoryScheduleStore()
        for item in self.pending():
            out.add_pending(item)
        for (event_id,) in self._db.execute("SELECT id FROM events"):
            out.remember_event(event_id)
        for rule, record_id in self._db.execute("SELECT rule, record_id FROM fired"):
            out.set_fired(rule, record_id, True)
        for rule, record_id, period in self._db.execute("SELECT * FROM periods"):
            out.set_period(rule, record_id, float(period))
        return out
