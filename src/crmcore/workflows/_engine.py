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
6. **Audit** — one :class:`EngineAuditEntry` per evaluated event lists every rule considered,
   whether it fired, and why or why not.

Time passes only when the host calls ``Engine.tick(now)``: time triggers come due, and held
actions are run (or cancelled when the record no longer meets the rule's condition).

Time triggers are columnar: per record type the engine keeps one float64 numpy array of epoch
seconds per base date (``renewal_date``, ``stage_changed_at``, ``last_activity_at`` ...) and one
array per time rule holding the period it last fired for. ``tick`` computes the due rows of a
rule with one vectorised comparison (``base + offset <= now`` and ``fired != base``) and only
then looks at those records in Python: the cost of a tick is a few array passes plus the work of
the records actually due.

The engine is a thin front over components, each one job (private modules of this package):
the frozen rule index built from the rule set (``_index``: candidates and each rule's ordered
guard table), the record mirror with its time table (``_mirror``), the executor that plans
actions and calls handlers (``_executor``), the scheduler of held actions (``_scheduler``) and
the runner that processes chains over them (``_runner``). A dry run is the same runner over a
forked mirror, a scratch store and a recording executor.
"""

from __future__ import annotations

import contextlib
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import Any

from crmcore.conditions import to_datetime
from crmcore.errors import WorkflowLoopError
from crmcore.workflows._actions import ActionHandler, ActionRequest
from crmcore.workflows._events import Event, as_record
from crmcore.workflows._executor import Executor, as_handler
from crmcore.workflows._index import RuleIndex
from crmcore.workflows._mirror import RecordMirror, RelatedResolver
from crmcore.workflows._rules import Rule, RuleSet
from crmcore.workflows._runner import EngineAuditEntry, Runner, RunResult, attach_result
from crmcore.workflows._scheduler import Scheduler
from crmcore.workflows._sla import BusinessCalendar
from crmcore.workflows._store import MemoryScheduleStore, ScheduleStore
from crmcore.workflows._triggers import NoActivity


def _scratch(store: ScheduleStore) -> MemoryScheduleStore:
    """A memory copy of a store for a dry run (events seen are forgotten: a dry run replays)."""
    copy = getattr(store, "copy", None)
    scratch = copy() if callable(copy) else None
    if not isinstance(scratch, MemoryScheduleStore):
        scratch = MemoryScheduleStore()
    scratch.forget_events()
    return scratch


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
        audit_sink: Called with each :class:`EngineAuditEntry` (e.g. to persist the audit log).
        clock: ``fn() -> now`` used when ``process`` gets no ``now`` (default: UTC wall clock).
        field_index: Find the update rules an event may fire through the fields they watch
            (default). False: every update rule of the record type is checked on every update;
            the decisions are the same, only slower (the index's peer in benchmarks).
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
        audit_sink: Callable[[EngineAuditEntry], None] | None = None,
        clock: Callable[[], datetime] | None = None,
        field_index: bool = True,
    ) -> None:
        ruleset = rules if isinstance(rules, RuleSet) else RuleSet(tuple(rules))
        self.rules: RuleSet = ruleset
        self.audit_log: deque[EngineAuditEntry] = deque(maxlen=audit_limit)
        self._clock = clock or (lambda: datetime.now(UTC))
        index = RuleIndex.build(ruleset, field_index=field_index)
        store = store if store is not None else MemoryScheduleStore()
        enabled = {r.name: r.enabled for r in ruleset.rules}
        mirror = RecordMirror(index, store, related)
        executor = Executor(index, {k: as_handler(v) for k, v in (handlers or {}).items()},
                            calendar, workload)  # fmt: skip
        scheduler = Scheduler(index, store, mirror, enabled)
        self._runner = Runner(index=index, store=store, mirror=mirror, executor=executor,
                              scheduler=scheduler, enabled=enabled, audit_log=self.audit_log,
                              max_depth=max_depth)  # fmt: skip
        self._runner.sink = audit_sink

    # -- components -------------------------------------------------------------------------

    @property
    def store(self) -> ScheduleStore:
        """Where held actions and bookkeeping live."""
        return self._runner.store

    @property
    def handlers(self) -> dict[str, ActionHandler]:
        """``action type -> handler`` (a live dict)."""
        return self._runner.executor.handlers

    @property
    def calendar(self) -> BusinessCalendar | None:
        """Business calendar for SLA actions."""
        return self._runner.executor.calendar

    @calendar.setter
    def calendar(self, value: BusinessCalendar | None) -> None:
        self._runner.executor.calendar = value

    @property
    def max_depth(self) -> int:
        """Longest chain of rule-caused events."""
        return self._runner.max_depth

    @max_depth.setter
    def max_depth(self, value: int) -> None:
        self._runner.max_depth = value

    @property
    def _audit_sink(self) -> Callable[[EngineAuditEntry], None] | None:
        return self._runner.sink

    @_audit_sink.setter
    def _audit_sink(self, sink: Callable[[EngineAuditEntry], None] | None) -> None:
        self._runner.sink = sink

    # -- enabling -------------------------------------------------------------------------

    def enable(self, name: str) -> None:
        """Enable a rule by name."""
        self._runner.index.rule(name)
        self._runner.enabled[name] = True

    def disable(self, name: str) -> None:
        """Disable a rule by name (it is still considered, and the audit says it is off)."""
        self._runner.index.rule(name)
        self._runner.enabled[name] = False

    def is_enabled(self, name: str) -> bool:
        """Whether a rule is enabled."""
        self._runner.index.rule(name)
        return self._runner.enabled[name]

    # -- records --------------------------------------------------------------------------

    def get_record(self, record_type: str, record_id: str) -> dict[str, Any] | None:
        """Return the latest state of a record the engine has seen (or ``None``)."""
        return self._runner.mirror.get(record_type, record_id)

    def forget(self, record_type: str, record_id: str) -> bool:
        """Drop a record (deleted, merged away, erased): its time triggers stop, its held
        actions are cancelled when they come due.

        Returns:
            Whether the engine knew the record.
        """
        return self._runner.mirror.forget(record_type, record_id)

    def erase(self, record_type: str, record_id: str) -> int:
        """Erase a record (GDPR Art. 17): :meth:`forget` it, blank its cells in loaded columns,
        drop its held actions (their ``change`` holds old and new values) and the engine's own
        audit entries about it. The store keeps only the record id in its bookkeeping
        (periods fired, re-enrolment), so a re-created record is not fired twice.

        Returns:
            The number of held actions and audit entries dropped.
        """
        mirror, store = self._runner.mirror, self.store
        mirror.forget(record_type, record_id)
        mirror.blank(record_type, record_id)
        dropped = 0
        for item in store.pending():
            if item.record_type == record_type and item.record_id == record_id:
                store.remove_pending(item.key)
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
        scrub = getattr(store, "scrub", None)
        if callable(scrub):  # a file store: no trace in free pages or its write-ahead log
            scrub()
        return dropped

    def load(self, records: Iterable[Any], *, now: datetime | None = None) -> int:
        """Make records known without firing rules (e.g. at start-up).

        Args:
            records: Mappings or model records, each with ``id`` and ``record_type``.
            now: Stamp for "unchanged since" clocks of records that carry no time.

        Returns:
            How many records were loaded.
        """
        count = 0
        mirror = self._runner.mirror
        for item in records:
            mirror.remember(as_record(item), None, now or self._clock(), created=True)
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
        return self._runner.mirror.load_columns(record_type, columns, id_field=id_field)

    def note_activity(self, record_type: str, record_id: str, at: datetime) -> None:
        """Record an activity (call, email, meeting) on a record: restarts no-activity clocks."""
        mirror = self._runner.mirror
        rec = mirror.get(record_type, record_id)
        if rec is None:
            return
        updated = dict(rec)
        for rule in self._runner.index.time.get(record_type, ()):
            if isinstance(rule.trigger, NoActivity):
                updated[rule.trigger.field] = at
        mirror.remember(updated, None, at, created=False)

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
        runner = self._runner
        try:
            if type(runner.store) is MemoryScheduleStore:  # nothing to batch: no context manager
                runner.process(event, when, result)
            else:
                with self._batch():
                    runner.process(event, when, result)
        except WorkflowLoopError as exc:
            attach_result(exc, result)
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
                self._runner.tick(when, result)
        except WorkflowLoopError as exc:
            attach_result(exc, result)
            raise
        return result

    def _batch(self) -> AbstractContextManager[Any]:
        batch = getattr(self.store, "batch", None)
        return batch() if callable(batch) else contextlib.nullcontext()

    # -- dry runs -------------------------------------------------------------------------

    def _dry_runner(self) -> Runner:
        """The engine's runner with a recording executor over a fork of its state."""
        real = self._runner
        store = _scratch(real.store)
        mirror = real.mirror.fork(store)
        enabled = dict(real.enabled)
        scheduler = Scheduler(real.index, store, mirror, enabled)
        return Runner(index=real.index, store=store, mirror=mirror,
                      executor=real.executor.recording(), scheduler=scheduler, enabled=enabled,
                      audit_log=None, max_depth=real.max_depth)  # fmt: skip

    def dry_run(
        self,
        events: Iterable[Event] | Event,
        *,
        now: datetime | None = None,
        tick: datetime | None = None,
    ) -> RunResult:
        """Run the rules over events (past ones, or a what-if) without calling any handler.

        The engine's state is not touched: the run goes through a recording executor over a
        fork of the engine's state, so it chooses exactly the actions a real run from the
        current state would (status ``planned`` / ``scheduled``).

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
        runner = self._dry_runner()
        result = RunResult()
        items = [events] if isinstance(events, Event) else list(events)
        try:
            for ev in items:
                when = to_datetime(now or ev.occurred_at) or self._clock()
                runner.process(ev, when, result)
            if tick is not None:
                runner.tick(to_datetime(tick) or self._clock(), result)
        except WorkflowLoopError as exc:
            attach_result(exc, result)
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
        runner = self._dry_runner()
        result = RunResult()
        when = to_datetime(now)
        assert when is not None
        try:
            runner.tick(when, result)
        except WorkflowLoopError as exc:
            attach_result(exc, result)
            raise
        return result
