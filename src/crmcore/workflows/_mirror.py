"""The record mirror: the latest state of every record the engine has seen, and its time table.

Records come one at a time (events, ``load``) into a dict per record type, or in bulk as
columns (``load_columns``; rows become dicts only when looked at). Time triggers are columnar:
per record type the mirror keeps one float64 numpy array of epoch seconds per base date
(``renewal_date``, ``stage_changed_at``, ``last_activity_at`` ...) and one array per time rule
holding the period it last fired for, so a tick finds the due rows of a rule with one vectorised
comparison.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import numpy.typing as npt

from crmcore.conditions import to_datetime
from crmcore.errors import FieldProblem, RuleValidationError
from crmcore.workflows._events import FieldChange
from crmcore.workflows._index import RuleIndex, base_key, time_trigger
from crmcore.workflows._store import ScheduleStore

__all__ = ["RecordMirror", "RelatedResolver", "TimeTable"]

FloatArray = npt.NDArray[np.float64]
RelatedResolver = Callable[[Mapping[str, Any], str], Any]
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def epoch(value: Any) -> float:
    """Epoch seconds of a date value (NaN when empty)."""
    when = to_datetime(getattr(value, "value", value))
    return math.nan if when is None else when.timestamp()


def _epoch_column(values: Any) -> FloatArray:
    """Epoch seconds (NaN when empty) of a column of dates; cached per distinct value."""
    if isinstance(values, np.ndarray) and np.issubdtype(values.dtype, np.datetime64):
        us = values.astype("datetime64[us]")
        out = us.astype(np.int64).astype(np.float64) / 1e6
        out[np.isnat(us)] = math.nan
        return out
    cache: dict[Any, float] = {}
    out = np.empty(len(values), dtype=np.float64)
    for i, value in enumerate(values):
        try:
            out[i] = cache[value]
        except KeyError:
            cache[value] = out[i] = epoch(value)
        except TypeError:  # unhashable
            out[i] = epoch(value)
    return out


class TimeTable:
    """Row index plus float64 columns for one record type's time rules."""

    def __init__(self, bases: Iterable[str], rules: Iterable[str]) -> None:
        self.ids: list[str] = []
        self.row: dict[str, int] = {}
        self.n = 0
        self.cap = 16
        self.bases: dict[str, FloatArray] = {b: np.full(self.cap, math.nan) for b in bases}
        self.fired: dict[str, FloatArray] = {r: np.full(self.cap, math.nan) for r in rules}

    def _grow(self, need: int) -> None:
        if need <= self.cap:
            return
        cap = max(need, self.cap * 2)
        for table in (self.bases, self.fired):
            for key, arr in table.items():
                new = np.full(cap, math.nan)
                new[: self.n] = arr[: self.n]
                table[key] = new
        self.cap = cap

    def add_rows(self, ids: Sequence[str]) -> npt.NDArray[np.int64]:
        """Return the row of each id, adding rows for new ids."""
        rows = np.empty(len(ids), dtype=np.int64)
        new: list[str] = []
        for i, rid in enumerate(ids):
            r = self.row.get(rid)
            if r is None:
                r = self.n + len(new)
                self.row[rid] = r
                new.append(rid)
            rows[i] = r
        if new:
            self._grow(self.n + len(new))
            self.ids.extend(new)
            self.n += len(new)
        return rows

    def copy(self) -> TimeTable:
        """An independent copy."""
        out = TimeTable((), ())
        out.ids = list(self.ids)
        out.row = dict(self.row)
        out.n, out.cap = self.n, self.cap
        out.bases = {k: v.copy() for k, v in self.bases.items()}
        out.fired = {k: v.copy() for k, v in self.fired.items()}
        return out


class _Columns:
    """Records loaded in bulk as columns; rows become dicts only when looked at."""

    def __init__(self, ids: list[str], row: dict[str, int], columns: dict[str, Sequence[Any]]):
        self.ids = ids
        self.row = row
        self.columns = columns
        self._getters = [(k, _cell_getter(col)) for k, col in columns.items()]

    def blank(self, i: int) -> None:
        """Empty row ``i`` in every column (erasure); getters are rebuilt."""
        for name, column in list(self.columns.items()):
            col: Any = column
            if isinstance(col, np.ndarray):
                if col.dtype.kind == "M":
                    col = col.copy()
                    col[i] = np.datetime64("NaT")
                elif col.dtype.kind in "OUS":
                    col = col.astype(object)
                    col[i] = None
                else:
                    continue  # numbers are not identifiers
            else:
                col = list(col)
                col[i] = None
            self.columns[name] = col
        self._getters = [(k, _cell_getter(col)) for k, col in self.columns.items()]

    def get(self, rid: str) -> dict[str, Any] | None:
        i = self.row.get(rid)
        if i is None:
            return None
        out = {k: get(i) for k, get in self._getters}
        out["id"] = rid
        return out


def _cell_getter(col: Any) -> Callable[[int], Any]:
    """``fn(row) -> plain Python value`` for one column, chosen once per column."""
    if isinstance(col, np.ndarray) and col.dtype.kind == "M":
        us = col.astype("datetime64[us]")
        nat = np.isnat(us).tolist()
        ints = us.astype(np.int64).tolist()

        def get_date(i: int) -> datetime | None:
            return None if nat[i] else _EPOCH + timedelta(microseconds=ints[i])

        return get_date
    if isinstance(col, np.ndarray) and col.dtype.kind in "biuf":
        values: list[Any] = col.tolist()
        return values.__getitem__
    return lambda i: _py(col[i])


def _py(value: Any) -> Any:
    if isinstance(value, np.generic):
        if isinstance(value, np.datetime64):
            if np.isnat(value):
                return None
            return datetime.fromtimestamp(
                value.astype("datetime64[us]").astype(np.int64) / 1e6, tz=UTC
            )
        return value.item()
    return value


class RecordMirror:
    """The latest state of every record seen, with the columnar time table per record type.

    Args:
        index: The rule index (which types have time rules, which fields they read).
        store: Where the periods time rules last fired for are kept.
        related: ``fn(record, name) -> related record`` for dotted paths; by default
            ``record["<name>_id"]`` is looked up among the mirrored records.
    """

    def __init__(
        self, index: RuleIndex, store: ScheduleStore, related: RelatedResolver | None = None
    ) -> None:
        self.index = index
        self.store = store
        self.related = related
        self.records: dict[str, dict[str, dict[str, Any]]] = {}
        self.blocks: dict[str, list[_Columns]] = {}
        self.forgotten: set[tuple[str, str]] = set()
        self.tables: dict[str, TimeTable] = {
            rt: TimeTable(index.bases[rt], [r.name for r in rules])
            for rt, rules in index.time.items()
        }
        self.period_cache: dict[str, dict[str, float]] = {}

    def fork(self, store: ScheduleStore) -> RecordMirror:
        """A copy a dry run may change freely (column blocks are shared, never written)."""
        other = RecordMirror.__new__(RecordMirror)
        other.index, other.store, other.related = self.index, store, self.related
        other.records = {k: dict(v) for k, v in self.records.items()}
        other.blocks = {k: list(v) for k, v in self.blocks.items()}
        other.forgotten = set(self.forgotten)
        other.tables = {k: v.copy() for k, v in self.tables.items()}
        other.period_cache = {k: dict(v) for k, v in self.period_cache.items()}
        return other

    # -- reading ----------------------------------------------------------------------------

    def get(self, record_type: str, record_id: str) -> dict[str, Any] | None:
        """The latest state of a record (or ``None``)."""
        rec = self.records.get(record_type, {}).get(record_id)
        if rec is not None:
            return rec
        if (record_type, record_id) in self.forgotten:
            return None
        for block in reversed(self.blocks.get(record_type, [])):
            rec = block.get(record_id)
            if rec is not None:
                rec["record_type"] = record_type
                return rec
        return None

    def find(self, record_id: str, prefer: str | None = None) -> dict[str, Any] | None:
        """A record by id of any type, trying ``prefer`` first."""
        kinds: list[str] = [prefer] if prefer else []
        kinds += [k for k in self.records if k != prefer]
        kinds += [k for k in self.blocks if k not in kinds]
        for rt in kinds:
            rec = self.get(rt, record_id)
            if rec is not None:
                return rec
        return None

    def resolver(self, record: Mapping[str, Any]) -> Callable[[str], Any]:
        """``fn(name) -> related record`` of a record."""
        if self.related is not None:
            fn = self.related
            return lambda name: fn(record, name)

        def resolve(name: str) -> Any:
            rid = record.get(f"{name}_id")
            return None if rid is None else self.find(str(rid), prefer=name)

        return resolve

    def periods(self, rule: str) -> dict[str, float]:
        """``record id -> period`` a time rule last fired for (cached from the store)."""
        cache = self.period_cache.get(rule)
        if cache is None:
            cache = self.period_cache[rule] = self.store.periods(rule)
        return cache

    def base(self, rule: str, record_type: str, record_id: str) -> float:
        """The current base date (epoch seconds, NaN when none) of a time rule for a record."""
        table = self.tables[record_type]
        row = table.row.get(record_id)
        key = base_key(time_trigger(self.index.by_name[rule]))
        return math.nan if row is None else float(table.bases[key][row])

    # -- writing ----------------------------------------------------------------------------

    def forget(self, record_type: str, record_id: str) -> bool:
        """Drop a record: its time bases become empty. Returns whether it was known."""
        known = self.get(record_type, record_id) is not None
        self.records.get(record_type, {}).pop(record_id, None)
        self.forgotten.add((record_type, record_id))
        table = self.tables.get(record_type)
        row = None if table is None else table.row.get(record_id)
        if table is not None and row is not None:
            for arr in table.bases.values():
                arr[row] = math.nan
        return known

    def blank(self, record_type: str, record_id: str) -> None:
        """Blank a record's cells in loaded columns (erasure)."""
        for block in self.blocks.get(record_type, []):
            row = block.row.pop(record_id, None)
            if row is not None:
                block.blank(row)

    def load_columns(
        self, record_type: str, columns: Mapping[str, Sequence[Any]], *, id_field: str = "id"
    ) -> int:
        """Load many records of one type as columns; returns how many rows."""
        if id_field not in columns:
            raise RuleValidationError(
                FieldProblem(id_field, None, "engine.load_columns", "the id column is required")
            )
        ids = [str(v) for v in columns[id_field]]
        n = len(ids)
        for name, col in columns.items():
            if len(col) != n:
                raise RuleValidationError(
                    FieldProblem(name, len(col), "engine.load_columns", f"expected {n} rows")
                )
        cols = {k: v for k, v in columns.items() if k != id_field}
        block = _Columns(ids, {rid: i for i, rid in enumerate(ids)}, dict(cols))
        self.blocks.setdefault(record_type, []).append(block)
        table = self.tables.get(record_type)
        if table is not None:
            rows = table.add_rows(ids)
            epochs: dict[str, FloatArray] = {}

            def col_epochs(name: str) -> FloatArray | None:
                if name not in cols:
                    return None
                if name not in epochs:
                    epochs[name] = _epoch_column(cols[name])
                return epochs[name]

            for rule in self.index.time[record_type]:
                trig = time_trigger(rule)
                values = np.full(n, math.nan)
                for name in trig.date_fields:
                    got = col_epochs(name)
                    if got is not None:
                        values = np.where(np.isnan(values), got, values)
                table.bases[base_key(trig)][rows] = values
                periods = self.periods(rule.name)
                if periods:
                    table.fired[rule.name][rows] = [periods.get(r, math.nan) for r in ids]
        return n

    def remember(
        self,
        rec: dict[str, Any],
        changes: Mapping[str, FieldChange] | None,
        now: datetime,
        *,
        created: bool,
    ) -> dict[str, Any]:
        """Keep a record's new state; stamp tracked fields and refresh its time bases."""
        rt = rec.get("record_type") or ""
        tracked = self.index.tracked.get(rt)
        if tracked:
            for f in tracked:
                stamp = f"{f}_changed_at"
                if created and rec.get(stamp) is None:
                    rec[stamp] = rec.get("updated_at") or rec.get("created_at") or now
                elif changes is not None and f in changes:
                    rec[stamp] = now
                elif rec.get(stamp) is None:  # an update that does not carry the stamp
                    prev = self.get(rt, rec["id"])
                    rec[stamp] = None if prev is None else prev.get(stamp)
        self.records.setdefault(rt, {})[rec["id"]] = rec
        if self.forgotten:
            self.forgotten.discard((rt, rec["id"]))
        table = self.tables.get(rt)
        if table is not None and (
            created or changes is None or not self.index.time_fields[rt].isdisjoint(changes)
            or (tracked and not tracked.isdisjoint(changes))
        ):  # fmt: skip
            row = int(table.add_rows([rec["id"]])[0])
            for rule in self.index.time[rt]:
                trig = time_trigger(rule)
                value = math.nan
                for name in trig.date_fields:
                    value = epoch(rec.get(name))
                    if not math.isnan(value):
                        break
                table.bases[base_key(trig)][row] = value
                if created:
                    table.fired[rule.name][row] = self.periods(rule.name).get(rec["id"], math.nan)
        return rec

    def changed(self, record: dict[str, Any], changed: Mapping[str, Any], now: datetime) -> None:
        """Keep a record as changed by actions (``field -> new value``)."""
        self.remember(
            record, {k: FieldChange(None, v) for k, v in changed.items()}, now, created=False
        )
