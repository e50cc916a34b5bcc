"""The rule engine: events in, decisions audited, actions out through host handlers.

Processing one event (``Engine.process``):

1. **Idempotency** — an event id already seen is ignored (``RunResult.duplicate``).
2. **Candidate rules** — rules are indexed by record type, event kind and watched field, so an
   update of ``amount`` never looks at rules that watch only ``stage``. A rule watches the fields
   of its trigger (``OnEvent(fields=...)``, ``OnStageChange``); a ``newly_met`` rule without
   trigger fields watches the fields its condition reads; any other update rule is considered on
   every update of its record type.
3. **Before save** — before-save rules (descending priority, then given order) return field
   updates; they are merged into the same change (no new event) and reported in
   ``RunResult.updates`` for the host to save with it.
4. **After save** — after-save rules are evaluated against the change as saved (the event with
   the before-save updates merged in; same order); those that fire have their immediate actions
   planned against the record as updated so far and carried out through the host's handlers;
   delayed ones go to the store. A failed action is recorded with its error and the rest
   continue.
5. **Chaining** — field updates made by after-save actions produce a new ``updated`` event and a
   ``create_related`` action a ``created`` event, processed in turn (breadth first). A rule never
   reacts to an event its own actions caused, and fires at most once per record in the chain of
   one host event: matching again later in the chain, it is skipped when its actions would change
   nothing more (no second task for one edit; converging rules are fine), and raises
   :class:`~crmcore.errors.WorkflowLoopError` naming the chain when it would change the record
   again (rules fighting each other). A chain deeper than ``max_depth`` raises it too (after
   an audit entry for the stopped event). The error's ``result`` is the partial
   :class:`RunResult` of the run (actions already taken, updates to save, audit entries): the
   host can save, audit or compensate what happened before the stop.
6. **Audit** — one :class:`AuditEntry` per evaluated event lists every rule considered, whether
   it fired, and why or why not.

Time passes only when the host calls ``Engine.tick(now)``: time triggers come due, and held
actions are run (or cancelled when the record no longer meets the rule's condition).

Time triggers are columnar: per record type the engine keeps one float64 numpy array of epoch
seconds per base date (``renewal_date``, ``stage_changed_at``, ``last_activity_at`` ...) and one
array per time rule holding the period it last fired for. ``tick`` computes the due rows of a
rule with one vectorised comparison (``base + offset <= now`` and ``fired != base``) and only
then looks at those records in Python: the cost of a tick is a few array passes plus the work of
the records actually due.
"""

from __future__ import annotations

import contextlib
import logging
import math
import warnings
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

import attrs
import numpy as np
import numpy.typing as npt

from crmcore.conditions import EvalContext, referenced_fields, to_datetime
from crmcore.errors import (
    ActionError,
    FieldProblem,
    MissingHandlerWarning,
    RuleValidationError,
    WorkflowLoopError,
)
from crmcore.workflows._actions import (
    Action,
    ActionHandler,
    ActionRequest,
    FunctionHandler,
    compile_params,
)
from crmcore.workflows._actions import resolve_param as _resolve
from crmcore.workflows._assignment import least_loaded, round_robin, territory_owner
from crmcore.workflows._events import Event, FieldChange, as_record
from crmcore.workflows._rules import Rule, RuleSet
from crmcore.workflows._sla import BusinessCalendar
from crmcore.workflows._store import MemoryScheduleStore, PendingAction, ScheduleStore
from crmcore.workflows._triggers import DateOffset, NoActivity, OnEvent, OnStageChange, Unchanged

__all__ = ["ActionOutcome", "AuditEntry", "Decision", "Engine", "RunResult"]

_DAY = 86400.0
_log = logging.getLogger("crmcore.workflows")
FloatArray = npt.NDArray[np.float64]
RelatedResolver = Callable[[Mapping[str, Any], str], Any]
_Item = tuple[Event, set[str]]  # a queued event and the steps fired in its host event's chain


class Decision(NamedTuple):
    """One rule considered for one event: did it fire, and why (not)."""

    rule: str
    fired: bool
    reason: str


class AuditEntry(NamedTuple):
    """The evaluation of one event (or one time rule over due records, or one held action).

    A light tuple: one is written for every event, so it must be cheap.

    Attributes:
        event_id: The event (``time:<rule>`` for time triggers, ``held:<key>`` for held
            actions).
        kind: ``created``, ``updated``, ``time``, ``held`` or ``duplicate``.
        record_type: Type of the record.
        record_id: Id of the record (for time rules: how many records were due).
        at: The engine's clock.
        depth: Chain depth (0 for host events).
        decisions: Every rule considered, in order.
    """

    event_id: str
    kind: str
    record_type: str
    record_id: str
    at: datetime
    depth: int
    decisions: tuple[Decision, ...]


@attrs.frozen
class ActionOutcome:
    """One action the engine took (or would take, in a dry run).

    Attributes:
        request: What was asked of the handler.
        status: ``done``, ``failed``, ``planned`` (dry run), ``scheduled`` (held for later),
            ``cancelled`` (held, but the record no longer met the condition) or ``no_handler``.
        result: The handler's return value.
        error: ``"ExceptionType: message"`` when the handler failed.
        due_at: For scheduled actions, when they come due.
    """

    request: ActionRequest
    status: str
    result: Any = None
    error: str | None = None
    due_at: datetime | None = None

    @property
    def rule(self) -> str:
        """Name of the rule."""
        return self.request.rule

    @property
    def type(self) -> str:
        """The action type."""
        return self.request.type


@attrs.define
class RunResult:
    """What one ``process`` / ``tick`` / dry run did.

    Attributes:
        actions: Every action outcome, in the order taken.
        updates: ``record_id -> {field: value}`` the host should save (before-save updates of
            the event's record and field changes made by actions).
        created: Records created by ``create_related`` actions.
        errors: Handler failures (each an :class:`~crmcore.errors.ActionError`).
        audit: The audit entries of this run.
        duplicate: The event was seen before and ignored.
    """

    actions: list[ActionOutcome] = attrs.field(factory=list)
    updates: dict[str, dict[str, Any]] = attrs.field(factory=dict)
    created: list[dict[str, Any]] = attrs.field(factory=list)
    errors: list[ActionError] = attrs.field(factory=list)
    audit: list[AuditEntry] = attrs.field(factory=list)
    duplicate: bool = False

    def _repr_html_(self) -> str:
        from crmcore.display import run_html

        return run_html(self)

    def fired(self) -> list[str]:
        """Names of the rules that fired, in order, without repeats."""
        out: list[str] = []
        for entry in self.audit:
            for d in entry.decisions:
                if d.fired and d.rule not in out:
                    out.append(d.rule)
        return out


# ------------------------------------------------------------------------------------------
# columnar time index


def _epoch(value: Any) -> float:
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
            cache[value] = out[i] = _epoch(value)
        except TypeError:  # unhashable
            out[i] = _epoch(value)
    return out


class _TimeTable:
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

    def copy(self) -> _TimeTable:
        out = _TimeTable((), ())
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


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


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


def _base_key(trigger: DateOffset | Unchanged | NoActivity) -> str:
    return "|".join(trigger.date_fields)


def _tracked_field(rule: Rule) -> str | None:
    """The field whose change the engine stamps for an ``Unchanged`` rule, if it tracks it."""
    trig = rule.trigger
    if isinstance(trig, Unchanged) and trig.since_field is None:
        return trig.field
    return None


def _offset_seconds(rule: Rule) -> float:
    trig = rule.trigger
    assert isinstance(trig, (DateOffset, Unchanged, NoActivity))
    return float(trig.days) * _DAY


_SELF_CAUSED = "event caused by this rule's own actions"
_DISABLED = "rule disabled"
_CONDITION_FALSE = "condition false"
_ALREADY_MET = "condition already met before the change (newly_met)"
_NO_REENROL = "already fired for this record (no re-enrolment)"
_FIRED = "fired"
_ONCE_PER_CHAIN = "already fired on this record in this chain (and would change nothing)"


class _Meta:
    """What ``_check`` needs of a rule, computed once (reasons are prebuilt strings)."""

    __slots__ = ("d_already", "d_disabled", "d_false", "d_fired", "d_no_change", "d_no_reenrol",
                 "d_not_from", "d_not_to", "d_self", "fields", "from_", "newly_met", "reenroll",
                 "stage_field", "test", "to")  # fmt: skip

    def __init__(self, rule: Rule) -> None:
        trig = rule.trigger
        name = rule.name
        self.test = rule.condition.test
        self.newly_met = rule.newly_met
        self.reenroll = rule.reenroll
        self.stage_field: str | None = None
        self.to: frozenset[Any] = frozenset()
        self.from_: frozenset[Any] = frozenset()
        self.fields: frozenset[str] = frozenset()
        no_change = not_to = not_from = ""
        if isinstance(trig, OnStageChange):
            self.stage_field = trig.field
            self.to, self.from_ = frozenset(trig.to), frozenset(trig.from_)
            no_change = f"{trig.field} did not change"
            not_to = f"{trig.field} did not change to {', '.join(map(str, trig.to))}"
            not_from = f"{trig.field} did not change from {', '.join(map(str, trig.from_))}"
        elif isinstance(trig, OnEvent) and trig.fields:
            self.fields = frozenset(trig.fields)
            no_change = f"none of {', '.join(trig.fields)} changed"
        # decisions are prebuilt: one is recorded per rule considered, so they must be cheap
        self.d_no_change = Decision(name, False, no_change)
        self.d_not_to = Decision(name, False, not_to)
        self.d_not_from = Decision(name, False, not_from)
        self.d_self = Decision(name, False, _SELF_CAUSED)
        self.d_disabled = Decision(name, False, _DISABLED)
        self.d_false = Decision(name, False, _CONDITION_FALSE)
        self.d_already = Decision(name, False, _ALREADY_MET)
        self.d_no_reenrol = Decision(name, False, _NO_REENROL)
        self.d_fired = Decision(name, True, _FIRED)


# ------------------------------------------------------------------------------------------
# the engine


def _as_handler(value: ActionHandler | Callable[[ActionRequest], Any]) -> ActionHandler:
    if isinstance(value, ActionHandler):
        return value
    if callable(value):
        return FunctionHandler(value)
    raise RuleValidationError(
        FieldProblem("handlers", value, "engine.handler", "a handler must be callable")
    )


class Engine:
    """An embeddable trigger-action rule engine.

    Args:
        rules: The rules (a :class:`RuleSet` or any iterable of :class:`Rule`).
        handlers: ``action type -> handler`` (an :class:`ActionHandler` or a plain function of
            the request). Custom actions look up their ``name``. Record-changing actions use
            their own handler, else ``"update_record"``, else none (the host reads
            ``RunResult.updates``); ``create_related`` uses its own or ``"create_record"``.
        store: Where held actions and bookkeeping live (default :class:`MemoryScheduleStore`).
        calendar: Business calendar for SLA actions (default: wall-clock hours).
        related: ``fn(record, name) -> related record`` for dotted paths such as
            ``account.country``; by default ``record["<name>_id"]`` is looked up among records
            the engine has seen.
        workload: ``fn(owner) -> open work`` for load-balanced assignment; by default the
            engine counts the tasks it created per owner.
        max_depth: Longest chain of rule-caused events.
        audit_limit: Audit entries kept in memory (oldest dropped first); ``audit_sink`` sees
            every one.
        audit_sink: Called with each :class:`AuditEntry` (e.g. to persist the audit log).
        clock: ``fn() -> now`` used when ``process`` gets no ``now`` (default: UTC wall clock).
    """

    def __init__(
        self,
        rules: RuleSet | Iterable[Rule],
        *,
        handlers: Mapping[str, ActionHandler | Callable[[ActionRequest], Any]] | None = None,
        store: ScheduleStore | None = None,
        calendar: BusinessCalendar | None = None,
        related: RelatedResolver | None = None,
        workload: Callable[[str], int] | None = None,
        max_depth: int = 8,
        audit_limit: int | None = 100_000,
        audit_sink: Callable[[AuditEntry], None] | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        ruleset = rules if isinstance(rules, RuleSet) else RuleSet(tuple(rules))
        self.rules: RuleSet = ruleset
        self.handlers: dict[str, ActionHandler] = {
            k: _as_handler(v) for k, v in (handlers or {}).items()
        }
        self.store: ScheduleStore = store if store is not None else MemoryScheduleStore()
        self.calendar = calendar
        self.max_depth = max_depth
        self.audit_log: deque[AuditEntry] = deque(maxlen=audit_limit)
        self._audit_sink = audit_sink
        self._related = related
        self._workload_fn = workload
        self._clock = clock or (lambda: datetime.now(UTC))
        order = sorted(range(len(ruleset.rules)), key=lambda i: (-ruleset.rules[i].priority, i))
        self._ordered: list[Rule] = [ruleset.rules[i] for i in order]
        self._rank: dict[str, int] = {r.name: i for i, r in enumerate(self._ordered)}
        self._by_name: dict[str, Rule] = {r.name: r for r in ruleset.rules}
        self._enabled: dict[str, bool] = {r.name: r.enabled for r in ruleset.rules}
        self._cursors: dict[str, int] = {}
        self._workload: dict[str, int] = {}
        self._records: dict[str, dict[str, dict[str, Any]]] = {}
        self._blocks: dict[str, list[_Columns]] = {}
        self._forgotten: set[tuple[str, str]] = set()
        self._meta: dict[str, _Meta] = {r.name: _Meta(r) for r in ruleset.rules}
        self._params: dict[str, list[list[tuple[str, bool, Any]]]] = {
            r.name: [compile_params(a.params) for a in r.actions] for r in ruleset.rules
        }
        self._has_before = any(r.phase == "before_save" for r in ruleset.rules)
        self._build_index()
        self._period_cache: dict[str, dict[str, float]] = {}

    # -- indexing -------------------------------------------------------------------------

    def _build_index(self) -> None:
        self._created: dict[str, list[Rule]] = {}
        self._upd_any: dict[str, list[Rule]] = {}
        self._upd_field: dict[str, dict[str, list[Rule]]] = {}
        self._time: dict[str, list[Rule]] = {}
        self._watch: dict[str, frozenset[str]] = {}
        for rule in self._ordered:
            trig = rule.trigger
            rt = rule.record_type
            if trig.is_time:
                self._time.setdefault(rt, []).append(rule)
                continue
            assert isinstance(trig, (OnEvent, OnStageChange))
            if "created" in trig.on:
                self._created.setdefault(rt, []).append(rule)
            if "updated" in trig.on:
                watched: frozenset[str] | None = frozenset(trig.fields) or None
                if watched is None and rule.newly_met:
                    watched = referenced_fields(rule.condition)
                if watched:
                    self._watch[rule.name] = watched
                    for f in watched:
                        self._upd_field.setdefault(rt, {}).setdefault(f, []).append(rule)
                else:
                    self._upd_any.setdefault(rt, []).append(rule)
        self._tables: dict[str, _TimeTable] = {}
        self._time_fields: dict[str, frozenset[str]] = {}
        self._tracked: dict[str, frozenset[str]] = {}
        for rt, rules in self._time.items():
            bases = {_base_key(r.trigger) for r in rules}  # type: ignore[arg-type]
            self._tables[rt] = _TimeTable(sorted(bases), [r.name for r in rules])
            fields: set[str] = set()
            for r in rules:
                trig = r.trigger
                assert isinstance(trig, (DateOffset, Unchanged, NoActivity))
                fields.update(trig.date_fields)
            self._time_fields[rt] = frozenset(fields)
            self._tracked[rt] = frozenset(
                f for f in (_tracked_field(r) for r in rules) if f is not None
            )

    def _candidates(self, ev: Event) -> list[Rule]:
        rt = ev.record.get("record_type") or ""
        if ev.kind == "created":
            return self._created.get(rt, [])
        found: list[list[Rule]] = []
        base = self._upd_any.get(rt)
        if base:
            found.append(base)
        index = self._upd_field.get(rt)
        if index:
            for f in ev.changes:
                lst = index.get(f)
                if lst:
                    found.append(lst)
        if not found:
            return []
        if len(found) == 1:
            return found[0]
        rank = self._rank
        merged = {r.name: r for lst in found for r in lst}
        return sorted(merged.values(), key=lambda r: rank[r.name])

    # -- enabling -------------------------------------------------------------------------

    def enable(self, name: str) -> None:
        """Enable a rule by name."""
        self._rule(name)
        self._enabled[name] = True

    def disable(self, name: str) -> None:
        """Disable a rule by name (it is still considered, and the audit says it is off)."""
        self._rule(name)
        self._enabled[name] = False

    def is_enabled(self, name: str) -> bool:
        """Whether a rule is enabled."""
        self._rule(name)
        return self._enabled[name]

    def _rule(self, name: str) -> Rule:
        try:
            return self._by_name[name]
        except KeyError:
            raise RuleValidationError(
                FieldProblem("name", name, "engine.rule", "no rule of that name")
            ) from None

    # -- records --------------------------------------------------------------------------

    def get_record(self, record_type: str, record_id: str) -> dict[str, Any] | None:
        """Return the latest state of a record the engine has seen (or ``None``)."""
        rec = self._records.get(record_type, {}).get(record_id)
        if rec is not None:
            return rec
        if (record_type, record_id) in self._forgotten:
            return None
        for block in reversed(self._blocks.get(record_type, [])):
            rec = block.get(record_id)
            if rec is not None:
                rec["record_type"] = record_type
                return rec
        return None

    def forget(self, record_type: str, record_id: str) -> bool:
        """Drop a record (deleted, merged away, erased): its time triggers stop, its held
        actions are cancelled when they come due.

        Returns:
            Whether the engine knew the record.
        """
        known = self.get_record(record_type, record_id) is not None
        self._records.get(record_type, {}).pop(record_id, None)
        self._forgotten.add((record_type, record_id))
        table = self._tables.get(record_type)
        row = None if table is None else table.row.get(record_id)
        if table is not None and row is not None:
            for arr in table.bases.values():
                arr[row] = math.nan
        return known

    def erase(self, record_type: str, record_id: str) -> int:
        """Erase a record (GDPR Art. 17): :meth:`forget` it, blank its cells in loaded columns,
        drop its held actions (their ``change`` holds old and new values) and the engine's own
        audit entries about it. The store keeps only the record id in its bookkeeping
        (periods fired, re-enrolment), so a re-created record is not fired twice.

        Returns:
            The number of held actions and audit entries dropped.
        """
        self.forget(record_type, record_id)
        for block in self._blocks.get(record_type, []):
            row = block.row.pop(record_id, None)
            if row is not None:
                block.blank(row)
        dropped = 0
        for item in self.store.pending():
            if item.record_type == record_type and item.record_id == record_id:
                self.store.remove_pending(item.key)
                dropped += 1
        kept = [
            e
            for e in self.audit_log
            if not (e.record_type == record_type and e.record_id == record_id)
            and not any(d.reason.startswith(f"{record_id}: ") for d in e.decisions)
        ]
        dropped += len(self.audit_log) - len(kept)
        self.audit_log.clear()
        self.audit_log.extend(kept)
        scrub = getattr(self.store, "scrub", None)
        if callable(scrub):  # a file store: no trace in free pages or its write-ahead log
            scrub()
        return dropped

    def _find(self, record_id: str, prefer: str | None = None) -> dict[str, Any] | None:
        kinds: list[str] = [prefer] if prefer else []
        kinds += [k for k in self._records if k != prefer]
        kinds += [k for k in self._blocks if k not in kinds]
        for rt in kinds:
            rec = self.get_record(rt, record_id)
            if rec is not None:
                return rec
        return None

    def _resolver(self, record: Mapping[str, Any]) -> Callable[[str], Any]:
        if self._related is not None:
            fn = self._related
            return lambda name: fn(record, name)

        def resolve(name: str) -> Any:
            rid = record.get(f"{name}_id")
            return None if rid is None else self._find(str(rid), prefer=name)

        return resolve

    def load(self, records: Iterable[Any], *, now: datetime | None = None) -> int:
        """Make records known without firing rules (e.g. at start-up).

        Args:
            records: Mappings or model records, each with ``id`` and ``record_type``.
            now: Stamp for "unchanged since" clocks of records that carry no time.

        Returns:
            How many records were loaded.
        """
        count = 0
        for item in records:
            rec = as_record(item)
            self._remember(rec, None, now or self._clock(), created=True)
            count += 1
        return count

    def load_columns(
        self, record_type: str, columns: Mapping[str, Sequence[Any]], *, id_field: str = "id"
    ) -> int:
        """Load many records of one type as columns (the fast path for big time scans).

        Date columns may be numpy ``datetime64`` arrays (fastest), datetimes, dates or ISO
        strings. Rows become dicts only when a rule looks at them.

        Args:
            record_type: Type of every row.
            columns: ``field -> column`` of equal lengths, including ``id_field``.
            id_field: The id column.

        Returns:
            How many rows were loaded.
        """
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
        self._blocks.setdefault(record_type, []).append(block)
        table = self._tables.get(record_type)
        if table is not None:
            rows = table.add_rows(ids)
            epochs: dict[str, FloatArray] = {}

            def col_epochs(name: str) -> FloatArray | None:
                if name not in cols:
                    return None
                if name not in epochs:
                    epochs[name] = _epoch_column(cols[name])
                return epochs[name]

            for rule in self._time[record_type]:
                trig = rule.trigger
                assert isinstance(trig, (DateOffset, Unchanged, NoActivity))
                key = _base_key(trig)
                values = np.full(n, math.nan)
                for name in trig.date_fields:
                    got = col_epochs(name)
                    if got is not None:
                        values = np.where(np.isnan(values), got, values)
                table.bases[key][rows] = values
                periods = self._periods(rule.name)
                if periods:
                    table.fired[rule.name][rows] = [periods.get(r, math.nan) for r in ids]
        return n

    def _periods(self, rule: str) -> dict[str, float]:
        if rule not in self._period_cache:
            self._period_cache[rule] = self.store.periods(rule)
        return self._period_cache[rule]

    def note_activity(self, record_type: str, record_id: str, at: datetime) -> None:
        """Record an activity (call, email, meeting) on a record: restarts no-activity clocks."""
        rec = self.get_record(record_type, record_id)
        if rec is None:
            return
        updated = dict(rec)
        for rule in self._time.get(record_type, ()):
            if isinstance(rule.trigger, NoActivity):
                updated[rule.trigger.field] = at
        self._remember(updated, None, at, created=False)

    def _remember(
        self,
        rec: dict[str, Any],
        changes: Mapping[str, FieldChange] | None,
        now: datetime,
        *,
        created: bool,
    ) -> dict[str, Any]:
        rt = rec.get("record_type") or ""
        tracked = self._tracked.get(rt)
        if tracked:
            for f in tracked:
                stamp = f"{f}_changed_at"
                if created and rec.get(stamp) is None:
                    rec[stamp] = rec.get("updated_at") or rec.get("created_at") or now
                elif changes is not None and f in changes:
                    rec[stamp] = now
                elif rec.get(stamp) is None:  # an update that does not carry the stamp
                    prev = self.get_record(rt, rec["id"])
                    rec[stamp] = None if prev is None else prev.get(stamp)
        self._records.setdefault(rt, {})[rec["id"]] = rec
        if self._forgotten:
            self._forgotten.discard((rt, rec["id"]))
        table = self._tables.get(rt)
        if table is not None and (
            created or changes is None or not self._time_fields[rt].isdisjoint(changes)
            or (tracked and not tracked.isdisjoint(changes))
        ):  # fmt: skip
            row = int(table.add_rows([rec["id"]])[0])
            for rule in self._time[rt]:
                trig = rule.trigger
                assert isinstance(trig, (DateOffset, Unchanged, NoActivity))
                value = math.nan
                for name in trig.date_fields:
                    value = _epoch(rec.get(name))
                    if not math.isnan(value):
                        break
                table.bases[_base_key(trig)][row] = value
                if created:
                    table.fired[rule.name][row] = self._periods(rule.name).get(rec["id"], math.nan)
        return rec

    # -- processing -----------------------------------------------------------------------

    def process(self, event: Event, *, now: datetime | None = None) -> RunResult:
        """Process one event (and everything it chains into).

        Args:
            event: The event.
            now: The host's clock (default: the engine's clock).

        Returns:
            What was done.

        Raises:
            WorkflowLoopError: When chained rules loop or go deeper than ``max_depth``. Its
                ``result`` is the :class:`RunResult` of what ran before the chain was stopped
                (actions taken, updates to save, audit entries up to the stopped event), its
                ``chain`` the rule steps that led there.
        """
        result = RunResult()
        if type(now) is datetime and now.tzinfo is not None:
            when = now
        else:
            when = (to_datetime(now) if now is not None else None) or self._clock()
        try:
            if type(self.store) is MemoryScheduleStore:  # nothing to batch: no context manager
                self._process(event, when, result, dry=False)
            else:
                with self._batch():
                    self._process(event, when, result, dry=False)
        except WorkflowLoopError as exc:
            _attach_result(exc, result)
            raise
        return result

    def record_created(
        self, record: Any, *, id: str = "", now: datetime | None = None  # noqa: A002
    ) -> RunResult:
        """Shortcut: ``process(Event.created(record))``."""
        return self.process(Event.created(record, id=id, occurred_at=now), now=now)

    def record_updated(
        self, before: Any, after: Any, *, id: str = "", now: datetime | None = None  # noqa: A002
    ) -> RunResult:
        """Shortcut: ``process(Event.updated(before, after))``."""
        return self.process(Event.updated(before, after, id=id, occurred_at=now), now=now)

    def _process(self, event: Event, now: datetime, result: RunResult, *, dry: bool) -> None:
        if not self.store.remember_event(event.id):
            entry = AuditEntry(
                event.id, "duplicate", event.record_type, event.record_id, now, event.depth,
                (Decision("*", False, "duplicate event id"),),
            )
            self._audit(entry, result)
            result.duplicate = True
            return
        queue: deque[_Item] = deque([(event, set())])
        while queue:
            ev, txn = queue.popleft()
            self._run_event(ev, txn, now, result, queue, dry=dry)

    def _run_event(
        self,
        ev: Event,
        txn: set[str],
        now: datetime,
        result: RunResult,
        queue: deque[_Item],
        *,
        dry: bool,
    ) -> None:
        if ev.depth > self.max_depth:
            why = f"chain stopped: deeper than max_depth={self.max_depth}"
            self._audit(AuditEntry(ev.id, ev.kind, ev.record_type, ev.record_id, now, ev.depth,
                                   (Decision("*", False, why),)), result)  # fmt: skip
            raise WorkflowLoopError(
                f"chained rules went deeper than max_depth={self.max_depth} at {ev.kind} event "
                f"{ev.id!r} of {ev.record_type} {ev.record_id}",
                ev.chain,
            )
        rules = self._candidates(ev)
        record = ev.record
        changes = ev.changes
        created = ev.kind == "created"
        rt, rid = ev.record_type, ev.record_id
        if not rules:
            self._remember(record, None if created else changes, now, created=created)
            self._audit(AuditEntry(ev.id, ev.kind, rt, rid, now, ev.depth, ()), result)
            return
        decisions: list[Decision] = []
        related = self._resolver(record)
        ctx = EvalContext(record, changes or None, related, now)
        # before save: updates merged into this change (copy on first write)
        if self._has_before:
            copied = False
            for rule in rules:
                if rule.phase != "before_save":
                    continue
                decision = self._check(rule, ev, ctx)
                decisions.append(decision)
                if not decision.fired:
                    continue
                for idx, action in enumerate(rule.actions):
                    req = self._plan(
                        rule, idx=idx, action=action, record=record, related=related, now=now,
                        event_id=ev.id, record_type=rt,
                    )
                    result.actions.append(ActionOutcome(req, "planned" if dry else "done"))
                    if req.updates and not copied:
                        record, changes, copied = dict(record), dict(changes), True
                    for field, value in req.updates.items():
                        old = changes[field].before if field in changes else record.get(field)
                        record[field] = value
                        changes[field] = FieldChange(old, value)
                        result.updates.setdefault(rid, {})[field] = value
                if not rule.reenroll:  # only a no-re-enrolment rule asks later
                    self.store.set_fired(rule.name, rid, True)
                related = self._resolver(record)
                ctx = EvalContext(record, changes or None, related, now)
            if copied and not created:
                # after-save rules see the change with the before-save updates in it: a rule
                # watching a field a before-save rule set is a candidate too
                ev = Event(ev.kind, record, changes, ev.id, ev.occurred_at, ev.depth, ev.chain,
                           ev.caused_by)  # fmt: skip
                rules = self._candidates(ev)
        tracked = self._tracked.get(rt)
        if tracked and record is ev.record:
            record = dict(record)  # the engine stamps "<field>_changed_at" into its own copy
        self._remember(record, None if created else changes, now, created=created)
        # after save: every rule sees the saved change; actions see the record as updated so far
        pending: dict[str, Any] = {}
        causes: list[str] = []
        for rule in rules:
            if rule.phase != "after_save":
                continue
            decision = self._check(rule, ev, ctx)
            if not decision.fired:
                decisions.append(decision)
                continue
            step = f"{rule.name}({rt}:{rid})"
            if step in txn:  # fired on this record before, in the chain of this host event
                if self._would_change(rule, record, related, now, event_id=ev.id, record_type=rt):
                    decisions.append(decision)
                    self._audit(AuditEntry(ev.id, ev.kind, rt, rid, now,
                                           ev.depth, tuple(decisions)), result)  # fmt: skip
                    raise WorkflowLoopError(
                        f"rule {rule.name!r} re-triggered itself on {rt} {rid} and would change "
                        "it again",
                        (*ev.chain, step),
                    )
                decisions.append(Decision(rule.name, False, _ONCE_PER_CHAIN))
                continue
            decisions.append(decision)
            txn.add(step)
            if not rule.reenroll:  # only a no-re-enrolment rule asks later
                self.store.set_fired(rule.name, rid, True)
            changed = self._fire(
                rule, event_id=ev.id, record=record, related=related, now=now, ev=ev,
                changes=changes, period=None, result=result, queue=queue, txn=txn, dry=dry,
            )
            if changed:
                pending.update(changed)
                causes.append(rule.name)
                record = {**record, **changed}
                self._remember(record, {k: FieldChange(None, v) for k, v in changed.items()},
                               now, created=False)  # fmt: skip
        self._audit(AuditEntry(ev.id, ev.kind, rt, rid, now, ev.depth,
                               tuple(decisions)), result)  # fmt: skip
        if pending:
            saved = ctx.record  # the record as saved, before after-save actions
            diff = {
                k: FieldChange(saved.get(k), v) for k, v in pending.items() if saved.get(k) != v
            }
            if diff:
                steps = tuple(f"{c}({rt}:{rid})" for c in causes)
                queue.append((
                    Event(
                        "updated", record, diff, f"{ev.id}>{'+'.join(causes)}", now,
                        ev.depth + 1, (*ev.chain, *steps), ",".join(causes),
                    ),
                    txn,
                ))  # fmt: skip

    def _check(self, rule: Rule, ev: Event, ctx: EvalContext) -> Decision:
        meta = self._meta[rule.name]
        if ev.caused_by is not None and rule.name in ev.caused_by.split(","):
            return meta.d_self
        if ev.kind == "updated":
            if meta.stage_field is not None:
                ch = ev.changes.get(meta.stage_field)
                if ch is None:
                    return meta.d_no_change
                after = ch.after if type(ch.after) is str else _plain(ch.after)
                if meta.to and after not in meta.to:
                    return meta.d_not_to
                if meta.from_ and _plain(ch.before) not in meta.from_:
                    return meta.d_not_from
            elif meta.fields and meta.fields.isdisjoint(ev.changes):
                return meta.d_no_change
        if not self._enabled[rule.name]:
            return meta.d_disabled
        try:
            met = meta.test(ctx)
        except Exception as exc:  # noqa: BLE001 - a broken predicate must not stop the batch
            return Decision(rule.name, False, f"condition raised {type(exc).__name__}: {exc}")
        if not met:
            return meta.d_false
        if meta.newly_met and ev.kind == "updated":
            before_ctx = EvalContext(ev.before(), None, ctx.related, ctx.now)
            try:
                was = meta.test(before_ctx)
            except Exception:  # noqa: BLE001
                was = False
            if was:
                return meta.d_already
        if not meta.reenroll and self.store.has_fired(rule.name, str(ctx.record["id"])):
            return meta.d_no_reenrol
        return meta.d_fired

    # -- actions --------------------------------------------------------------------------

    def _fire(
        self,
        rule: Rule,
        *,
        event_id: str,
        record: dict[str, Any],
        related: Callable[[str], Any],
        now: datetime,
        ev: Event | None,
        changes: Mapping[str, FieldChange] | None,
        period: float | None,
        result: RunResult,
        queue: deque[_Item],
        txn: set[str],
        dry: bool,
    ) -> dict[str, Any]:
        """Take a fired rule's actions; return the field updates made to the record."""
        updates: dict[str, Any] = {}
        rt = str(record.get("record_type") or "")
        rid = str(record["id"])
        current = record
        for idx, action in enumerate(rule.actions):
            if action.delayed:
                due = self._due_at(action, current, now)
                key = f"{event_id}:{rule.name}:{idx}"
                req = self._plan(
                    rule, idx=idx, action=action, record=current, related=related, now=now,
                    event_id=event_id, record_type=rt, dry_plan=True,
                )
                if due is None:
                    missing = f"no date in {action.at_field!r}"
                    result.actions.append(ActionOutcome(req, "cancelled", None, missing))
                    continue
                self.store.add_pending(
                    PendingAction(
                        key, rule.name, idx, rt, rid, due, event_id,
                        {k: (v.before, v.after) for k, v in (changes or {}).items()}, period,
                    )
                )
                result.actions.append(ActionOutcome(req, "scheduled", due_at=due))
                continue
            changed = self._take(
                rule, idx=idx, action=action, record=current, related=related, now=now,
                event_id=event_id, ev=ev, result=result, queue=queue, txn=txn, dry=dry,
            )
            if changed:
                updates.update(changed)
                current = {**current, **changed}
        return updates

    def _would_change(
        self,
        rule: Rule,
        record: Mapping[str, Any],
        related: Callable[[str], Any],
        now: datetime,
        *,
        event_id: str,
        record_type: str,
    ) -> bool:
        """Whether the rule's immediate actions would change the record or create one."""
        for idx, action in enumerate(rule.actions):
            if action.delayed or not (action.changes_record or action.type == "create_related"):
                continue
            try:
                req = self._plan(
                    rule, idx=idx, action=action, record=record, related=related, now=now,
                    event_id=event_id, record_type=record_type, dry_plan=True,
                )
            except Exception:  # noqa: BLE001, S112 - an unplannable action changes nothing
                continue
            if req.updates or req.new_record is not None:
                return True
        return False

    def _due_at(self, action: Action, record: Mapping[str, Any], now: datetime) -> datetime | None:
        if action.at_field is not None:
            base = to_datetime(record.get(action.at_field))
            if base is None:
                return None
            return base + timedelta(days=action.offset_days or 0.0) + timedelta(
                days=action.delay_days
            )
        return now + timedelta(days=action.delay_days)

    def _take(
        self,
        rule: Rule,
        *,
        idx: int,
        action: Action,
        record: dict[str, Any],
        related: Callable[[str], Any],
        now: datetime,
        event_id: str,
        ev: Event | None,
        result: RunResult,
        queue: deque[_Item],
        txn: set[str],
        dry: bool,
    ) -> dict[str, Any]:
        rt = str(record.get("record_type") or "")
        try:
            req = self._plan(
                rule, idx=idx, action=action, record=record, related=related, now=now,
                event_id=event_id, record_type=rt,
            )
        except Exception as exc:  # noqa: BLE001 - planning errors are recorded like failures
            req = ActionRequest(
                action.type, rule.name, rt, str(record["id"]), dict(action.params), {}, None,
                f"{event_id}:{rule.name}:{idx}", event_id, now, record,
            )
            self._failed(req, exc, result)
            return {}
        if dry:
            result.actions.append(ActionOutcome(req, "planned"))
            return self._effects(req, result, queue, txn=txn, ev=ev, now=now, value=None)
        handler = self._handler_for(req)
        if handler is None and not (action.changes_record or action.type == "create_related"):
            err = ActionError(f"no handler registered for action {req.type!r} (rule {rule.name!r})")
            result.errors.append(err)
            message = f"{err} on {rt} {req.record_id}: the action was not taken"
            _log.warning(message)
            warnings.warn(message, MissingHandlerWarning, stacklevel=2)
            result.actions.append(ActionOutcome(req, "no_handler", None, str(err)))
            return {}
        value = None
        if handler is not None:
            try:
                value = handler.handle(req)
            except Exception as exc:  # noqa: BLE001 - a failing handler must not stop the batch
                self._failed(req, exc, result)
                return {}
        result.actions.append(ActionOutcome(req, "done", value))
        return self._effects(req, result, queue, txn=txn, ev=ev, now=now, value=value)

    def _failed(self, req: ActionRequest, exc: Exception, result: RunResult) -> None:
        message = f"{type(exc).__name__}: {exc}"
        err = ActionError(
            f"action {req.type!r} of rule {req.rule!r} on {req.record_type} {req.record_id} "
            f"failed: {message}"
        )
        err.__cause__ = exc
        result.errors.append(err)
        result.actions.append(ActionOutcome(req, "failed", None, message))

    def _effects(
        self,
        req: ActionRequest,
        result: RunResult,
        queue: deque[_Item],
        *,
        txn: set[str],
        ev: Event | None,
        now: datetime,
        value: Any,
    ) -> dict[str, Any]:
        if req.type == "create_task":
            owner = req.params.get("owner")
            if isinstance(owner, str):
                self._workload[owner] = self._workload.get(owner, 0) + 1
        if req.updates:
            result.updates.setdefault(req.record_id, {}).update(req.updates)
            return dict(req.updates)
        if req.new_record is not None:
            new = dict(req.new_record)
            if isinstance(value, str) and value:
                new["id"] = value
            elif isinstance(value, Mapping) and value.get("id"):
                new["id"] = str(value["id"])
            result.created.append(new)
            chain = ev.chain if ev is not None else ()
            step = f"{req.rule}({req.record_type}:{req.record_id})"
            queue.append((
                Event(
                    "created", new, {}, f"{req.key}>created", now,
                    (ev.depth if ev is not None else 0) + 1, (*chain, step), None,
                ),
                txn,
            ))  # fmt: skip
        return {}

    def _handler_for(self, req: ActionRequest) -> ActionHandler | None:
        h = self.handlers.get(req.type)
        if h is not None:
            return h
        if req.params.get("_custom"):
            return self.handlers.get("custom")
        if req.updates:
            return self.handlers.get("update_record")
        if req.new_record is not None:
            return self.handlers.get("create_record")
        return None

    def _load(self, owner: str) -> int:
        if self._workload_fn is not None:
            return int(self._workload_fn(owner))
        return self._workload.get(owner, 0)

    def _plan(
        self,
        rule: Rule,
        *,
        idx: int,
        action: Action,
        record: Mapping[str, Any],
        related: Callable[[str], Any],
        now: datetime,
        event_id: str,
        record_type: str,
        dry_plan: bool = False,
    ) -> ActionRequest:
        """Resolve an action against a record: params, field updates, new record."""
        kind = action.type
        compiled = self._params.get(rule.name)
        if compiled is not None and idx < len(compiled) and rule.actions[idx] is action:
            params: dict[str, Any] = {
                k: v if const else v(record, related, now) for k, const, v in compiled[idx]
            }
        else:  # an action the engine was not built with
            params = {k: _resolve(v, record, related, now, key=k) for k, v in action.params.items()}
        updates: dict[str, Any] = {}
        new_record: dict[str, Any] | None = None
        rid = str(record["id"])
        key = f"{event_id}:{rule.name}:{idx}"
        if kind == "create_task":
            params["due_at"] = now + timedelta(days=float(params.get("due_in_days", 1)))
        elif kind == "assign_owner":
            field = str(params.get("field", "owner_id"))
            strategy = params["strategy"]
            owner: Any
            if strategy == "round_robin":
                cursor = self._cursors.get(rule.name, 0)
                owner, cursor = round_robin(params["pool"], cursor)
                if not dry_plan:
                    self._cursors[rule.name] = cursor
            elif strategy == "load_balanced":
                owner = least_loaded(params["pool"], self._load)
            else:
                owner = territory_owner(
                    record, action.params["territories"], params.get("by", "country"),
                    params.get("fallback"),
                )  # fmt: skip
            params["owner"] = owner
            if owner is not None and record.get(field) != owner:
                updates[field] = owner
        elif kind == "update_field":
            field = str(params["field"])
            if record.get(field) != params["value"]:
                updates[field] = params["value"]
        elif kind in ("add_tag", "remove_tag"):
            field = str(params.get("field", "tags"))
            tags = record.get(field) or ()
            current = list(tags) if not isinstance(tags, str) else [tags]
            tag = params["tag"]
            if kind == "add_tag" and tag not in current:
                updates[field] = (*current, tag)
            elif kind == "remove_tag" and tag in current:
                updates[field] = tuple(t for t in current if t != tag)
        elif kind == "create_related":
            target = str(params["record_type"])
            link = str(params.get("link_field") or f"{record_type}_id")
            new_record = {"id": f"{target}-{_short_hash(key)}", "record_type": target, link: rid}
            for k, v in dict(params.get("fields") or {}).items():
                new_record[k] = v
            for k, src in dict(action.params.get("copy") or {}).items():
                new_record[k] = _resolve(f"${src}", record, related, now)
        elif kind == "shorten_sla":
            field = str(params.get("field", "sla_due"))
            start = to_datetime(record.get(str(params.get("start_field", "created_at")))) or now
            hours = float(params["hours"])
            due = (
                self.calendar.add_business_hours(start, hours)
                if self.calendar is not None
                else start + timedelta(hours=hours)
            )
            existing = to_datetime(record.get(field))
            params["due_at"] = due
            if existing is None or due < existing:
                updates[field] = due
        elif kind == "custom":
            kind = str(params.pop("name"))
            params["_custom"] = True
        return ActionRequest(kind, rule.name, record_type, rid, params, updates, new_record,
                             key, event_id, now, record)  # fmt: skip

    # -- audit ----------------------------------------------------------------------------

    def _audit(self, entry: AuditEntry, result: RunResult) -> None:
        self.audit_log.append(entry)
        result.audit.append(entry)
        if self._audit_sink is not None:
            self._audit_sink(entry)

    # -- time -----------------------------------------------------------------------------

    def tick(self, now: datetime) -> RunResult:
        """Let time pass: fire due time triggers, then run (or cancel) due held actions.

        Args:
            now: The host's clock.

        Returns:
            What was done.

        Raises:
            WorkflowLoopError: When actions chain into a loop; ``result`` carries what ran.
        """
        when = to_datetime(now)
        assert when is not None
        result = RunResult()
        try:
            with self._batch():
                self._tick(when, result, dry=False)
        except WorkflowLoopError as exc:
            _attach_result(exc, result)
            raise
        return result

    def _batch(self) -> AbstractContextManager[Any]:
        batch = getattr(self.store, "batch", None)
        return batch() if callable(batch) else contextlib.nullcontext()

    def _tick(self, now: datetime, result: RunResult, *, dry: bool) -> None:
        t = now.timestamp()
        queue: deque[_Item] = deque()
        for rt, rules in self._time.items():
            table = self._tables[rt]
            n = table.n
            if n == 0:
                continue
            for rule in rules:
                trig = rule.trigger
                assert isinstance(trig, (DateOffset, Unchanged, NoActivity))
                base = table.bases[_base_key(trig)][:n]
                fired = table.fired[rule.name][:n]
                due = base + _offset_seconds(rule)
                mask = (due <= t) & (fired != base)
                if trig.max_late_days is not None:
                    mask &= due >= t - trig.max_late_days * _DAY
                rows = np.flatnonzero(mask)
                if rows.size == 0:
                    self._audit(AuditEntry(f"time:{rule.name}", "time", rt, "0 due", now, 0, ()),
                                result)  # fmt: skip
                    continue
                decisions: list[Decision] = []
                fired[rows] = base[rows]  # each due period is spent, whatever happens next
                ids, periods_now = table.ids, base[rows].tolist()
                periods, set_period = self._periods(rule.name), self.store.set_period
                enabled, test = self._enabled[rule.name], rule.condition.test
                for row, period in zip(rows.tolist(), periods_now, strict=True):
                    rid = ids[row]
                    if not dry:
                        set_period(rule.name, rid, period)
                        periods[rid] = period
                    if not enabled:
                        decisions.append(Decision(rule.name, False, f"{rid}: rule disabled"))
                        continue
                    record = self.get_record(rt, rid)
                    if record is None:
                        decisions.append(Decision(rule.name, False, f"{rid}: record unknown"))
                        continue
                    related = self._resolver(record)
                    ctx = EvalContext(record, None, related, now)
                    try:
                        met = test(ctx)
                    except Exception as exc:  # noqa: BLE001
                        why = f"{rid}: condition raised {exc}"
                        decisions.append(Decision(rule.name, False, why))
                        continue
                    if not met:
                        decisions.append(Decision(rule.name, False, f"{rid}: condition false"))
                        continue
                    if not rule.reenroll and self.store.has_fired(rule.name, rid):
                        decisions.append(Decision(rule.name, False, f"{rid}: {_NO_REENROL}"))
                        continue
                    decisions.append(Decision(rule.name, True, f"{rid}: due and condition met"))
                    if not rule.reenroll:  # only a no-re-enrolment rule asks later
                        self.store.set_fired(rule.name, rid, True)
                    ev_id = f"time:{rule.name}:{rid}:{period:.0f}"
                    step = f"{rule.name}({rt}:{rid})"
                    txn = {step}
                    changed = self._fire(
                        rule, event_id=ev_id, record=record, related=related, now=now, ev=None,
                        changes=None, period=period, result=result, queue=queue, txn=txn, dry=dry,
                    )
                    if changed:
                        new = {**record, **changed}
                        self._remember(new, {k: FieldChange(None, v) for k, v in changed.items()},
                                       now, created=False)  # fmt: skip
                        diff = {k: FieldChange(record.get(k), v) for k, v in changed.items()}
                        queue.append((Event("updated", new, diff, f"{ev_id}>{rule.name}", now, 1,
                                            (step,), rule.name), txn))  # fmt: skip
                self._audit(AuditEntry(f"time:{rule.name}", "time", rt, f"{rows.size} due", now,
                                       0, tuple(decisions)), result)  # fmt: skip
        self._run_held(now, result, queue, dry=dry)
        while queue:
            ev, txn = queue.popleft()
            self._run_event(ev, txn, now, result, queue, dry=dry)

    def _run_held(
        self, now: datetime, result: RunResult, queue: deque[_Item], *, dry: bool
    ) -> None:
        for item in self.store.due_pending(now):
            self.store.remove_pending(item.key)
            rule = self._by_name.get(item.rule)
            record = self.get_record(item.record_type, item.record_id)
            reason = ""
            if rule is None:
                reason = "rule no longer exists"
            elif item.action_index >= len(rule.actions):
                reason = f"rule {rule.name!r} has no action {item.action_index} any more"
            elif not self._enabled[rule.name]:
                reason = "rule disabled"
            elif record is None:
                reason = "record unknown"
            decisions: list[Decision] = []
            if not reason and rule is not None and record is not None:
                related = self._resolver(record)
                ctx = EvalContext(record, item.change or None, related, now)
                try:
                    met = rule.condition.test(ctx)
                except Exception as exc:  # noqa: BLE001
                    met, reason = False, f"condition raised {exc}"
                if not met and not reason:
                    reason = "record no longer meets the condition"
                if not reason and item.period is not None:
                    table = self._tables[item.record_type]
                    row = table.row.get(item.record_id)
                    trig = rule.trigger
                    assert isinstance(trig, (DateOffset, Unchanged, NoActivity))
                    current = (
                        math.nan if row is None else float(table.bases[_base_key(trig)][row])
                    )
                    if current != item.period:
                        reason = "the time trigger's date moved since it fired"
                if not reason:
                    decisions.append(Decision(rule.name, True, f"held action {item.key} due"))
                    action = rule.actions[item.action_index]
                    step = f"{rule.name}({item.record_type}:{item.record_id})"
                    txn = {step}
                    changed = self._take(
                        rule, idx=item.action_index, action=action, record=record,
                        related=related, now=now, event_id=item.event_id, ev=None,
                        result=result, queue=queue, txn=txn, dry=dry,
                    )
                    if changed:
                        new = {**record, **changed}
                        self._remember(new, {k: FieldChange(None, v) for k, v in changed.items()},
                                       now, created=False)  # fmt: skip
                        diff = {k: FieldChange(record.get(k), v) for k, v in changed.items()}
                        queue.append((Event("updated", new, diff, f"held:{item.key}>", now, 1,
                                            (step,), rule.name), txn))  # fmt: skip
            if reason:
                decisions.append(Decision(item.rule, False, f"held action cancelled: {reason}"))
                known = rule is not None and item.action_index < len(rule.actions)
                if known and rule is not None and record is not None:
                    req = ActionRequest(rule.actions[item.action_index].type, rule.name,
                                        item.record_type, item.record_id, {}, {}, None, item.key,
                                        item.event_id, now, record)  # fmt: skip
                    result.actions.append(ActionOutcome(req, "cancelled", None, reason))
            self._audit(AuditEntry(f"held:{item.key}", "held", item.record_type, item.record_id,
                                   now, 0, tuple(decisions)), result)  # fmt: skip

    # -- dry runs -------------------------------------------------------------------------

    def _clone(self) -> Engine:
        other = Engine.__new__(Engine)
        other.__dict__.update(self.__dict__)
        copy = getattr(self.store, "copy", None)
        store = copy() if callable(copy) else None
        if not isinstance(store, MemoryScheduleStore):
            store = MemoryScheduleStore()
        store.forget_events()  # a dry run replays events the engine may have seen
        other.store = store
        other.audit_log = deque(maxlen=self.audit_log.maxlen)
        other._audit_sink = None
        other._enabled = dict(self._enabled)
        other._cursors = dict(self._cursors)
        other._workload = dict(self._workload)
        other._records = {k: dict(v) for k, v in self._records.items()}
        other._blocks = {k: list(v) for k, v in self._blocks.items()}
        other._forgotten = set(self._forgotten)
        other._tables = {k: v.copy() for k, v in self._tables.items()}
        other._period_cache = {k: dict(v) for k, v in self._period_cache.items()}
        return other

    def dry_run(
        self,
        events: Iterable[Event] | Event,
        *,
        now: datetime | None = None,
        tick: datetime | None = None,
    ) -> RunResult:
        """Run the rules over events (past ones, or a what-if) without calling any handler.

        The engine's state is not touched: the run happens on a copy, so it chooses exactly the
        actions a real run from the current state would (status ``planned`` / ``scheduled``).

        Args:
            events: One event or many, processed in order.
            now: The clock for the events (default: each event's ``occurred_at``, else the
                engine's clock).
            tick: Also let time pass to this instant after the events.

        Returns:
            The result, with every chained action.

        Raises:
            WorkflowLoopError: As :meth:`process`; ``result`` carries the planned actions so far.
        """
        clone = self._clone()
        result = RunResult()
        items = [events] if isinstance(events, Event) else list(events)
        try:
            for ev in items:
                when = to_datetime(now or ev.occurred_at) or self._clock()
                clone._process(ev, when, result, dry=True)
            if tick is not None:
                clone._tick(to_datetime(tick) or self._clock(), result, dry=True)
        except WorkflowLoopError as exc:
            _attach_result(exc, result)
            raise
        return result

    def what_if(
        self,
        record: Any,
        changes: Mapping[str, Any] | None = None,
        *,
        now: datetime | None = None,
    ) -> RunResult:
        """Dry-run a hypothetical change: ``changes`` (``field -> new value``) on ``record``.

        Without ``changes`` the record is treated as newly created.
        """
        rec = as_record(record)
        if changes is None:
            ev = Event.created(rec, id=f"what-if:{rec['id']}")
        else:
            after = {**rec, **changes}
            ev = Event.updated(rec, after, id=f"what-if:{rec['id']}")
        return self.dry_run(ev, now=now)

    def dry_tick(self, now: datetime) -> RunResult:
        """What ``tick(now)`` would do, without calling handlers or changing state."""
        clone = self._clone()
        result = RunResult()
        when = to_datetime(now)
        assert when is not None
        try:
            clone._tick(when, result, dry=True)
        except WorkflowLoopError as exc:
            _attach_result(exc, result)
            raise
        return result


def _attach_result(exc: WorkflowLoopError, result: RunResult) -> None:
    """Give a loop error the partial result of the run it stopped (``exc.result``).

    The host needs what already happened (handlers called, updates decided, audit entries) to
    save, audit or compensate it. The innermost run wins when runs nest.
    """
    if exc.result is None:
        exc.result = result


def _plain(value: Any) -> Any:
    return getattr(value, "value", value) if not isinstance(value, (str, int, float)) else value


def _short_hash(text: str) -> str:
    import hashlib

    return hashlib.blake2b(text.encode(), digest_size=6).hexdigest()
