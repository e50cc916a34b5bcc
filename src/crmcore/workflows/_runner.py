"""Chain processing: one host event (or one tick) through the rules, breadth first.

A :class:`Runner` puts the components together for one kind of run: the frozen
:class:`~crmcore.workflows._index.RuleIndex`, a :class:`~crmcore.workflows._mirror.RecordMirror`,
an :class:`~crmcore.workflows._executor.Executor` and a
:class:`~crmcore.workflows._scheduler.Scheduler`. The engine's real runner acts; a dry run is the
same runner class over a forked mirror, a scratch store and a
:class:`~crmcore.workflows._executor.RecordingExecutor`.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, NamedTuple

import attrs
import numpy as np

from crmcore.conditions import EvalContext
from crmcore.errors import ActionError, WorkflowLoopError
from crmcore.workflows._actions import ActionRequest
from crmcore.workflows._events import Event, FieldChange
from crmcore.workflows._executor import ActionOutcome, Executor
from crmcore.workflows._index import (
    NO_REENROL,
    ONCE_PER_CHAIN,
    Decision,
    RuleIndex,
    RuleMeta,
    base_key,
    offset_seconds,
    shape_of,
    time_trigger,
)
from crmcore.workflows._mirror import RecordMirror
from crmcore.workflows._rules import Rule
from crmcore.workflows._scheduler import Scheduler
from crmcore.workflows._store import ScheduleStore

__all__ = ["EngineAuditEntry", "RunResult", "Runner"]

_DAY = 86400.0
_Item = tuple[Event, set[str]]  # a queued event and the steps fired in its host event's chain


class EngineAuditEntry(NamedTuple):
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
    audit: list[EngineAuditEntry] = attrs.field(factory=list)
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


def attach_result(exc: WorkflowLoopError, result: RunResult) -> None:
    """Give a loop error the partial result of the run it stopped (``exc.result``).

    The host needs what already happened (handlers called, updates decided, audit entries) to
    save, audit or compensate it. The innermost run wins when runs nest.
    """
    if exc.result is None:
        exc.result = result


# -- the guard table of time rules, per due record -------------------------------------------


class _TimeCheck(NamedTuple):
    rule: Rule
    rid: str
    record: dict[str, Any] | None
    ctx: EvalContext | None


def _t_disabled(c: _TimeCheck, r: Runner) -> str | None:
    return None if r.enabled[c.rule.name] else "rule disabled"


def _t_unknown(c: _TimeCheck, r: Runner) -> str | None:
    return "record unknown" if c.record is None else None


def _t_condition(c: _TimeCheck, r: Runner) -> str | None:
    assert c.ctx is not None
    try:
        met = c.rule.condition.test(c.ctx)
    except Exception as exc:  # noqa: BLE001 - a broken predicate must not stop the batch
        return f"condition raised {exc}"
    return None if met else "condition false"


def _t_reenrol(c: _TimeCheck, r: Runner) -> str | None:
    if not c.rule.reenroll and r.has_fired(c.rule.name, c.rid):
        return NO_REENROL
    return None


#: The ordered guard table of a time rule's due records: ``guard(check, runner) -> reason``.
TIME_GUARDS: tuple[tuple[str, Callable[[_TimeCheck, Runner], str | None]], ...] = (
    ("enabled", _t_disabled),
    ("record_known", _t_unknown),
    ("condition", _t_condition),
    ("reenrolment", _t_reenrol),
)


class Runner:
    """Processes events and ticks over the engine's components.

    Args:
        index: The frozen rule index.
        store: Idempotency, re-enrolment, periods and held actions.
        mirror: The record mirror.
        executor: Plans and carries out actions (a recording one for dry runs).
        scheduler: Holds delayed actions.
        enabled: ``rule name -> enabled``.
        audit_log: Where audit entries are kept (``None``: only in each run's result).
        max_depth: Longest chain of rule-caused events.

    Attributes:
        sink: Called with each audit entry, when set.
    """

    def __init__(
        self,
        *,
        index: RuleIndex,
        store: ScheduleStore,
        mirror: RecordMirror,
        executor: Executor,
        scheduler: Scheduler,
        enabled: dict[str, bool],
        audit_log: deque[EngineAuditEntry] | None,
        max_depth: int,
    ) -> None:
        self.index = index
        self.store = store
        self.mirror = mirror
        self.executor = executor
        self.scheduler = scheduler
        self.enabled = enabled
        self.audit_log = audit_log
        self.sink: Callable[[EngineAuditEntry], None] | None = None
        self.max_depth = max_depth
        self.has_fired = store.has_fired

    def _audit(self, entry: EngineAuditEntry, result: RunResult) -> None:
        result.audit.append(entry)
        log = self.audit_log
        if log is not None:
            log.append(entry)
            if self.sink is not None:
                self.sink(entry)

    # -- events -----------------------------------------------------------------------------

    def process(self, event: Event, now: datetime, result: RunResult) -> None:
        """One host event and everything it chains into."""
        if not self.store.remember_event(event.id):
            entry = EngineAuditEntry(
                event.id, "duplicate", event.record_type, event.record_id, now, event.depth,
                (Decision("*", False, "duplicate event id"),),
            )
            self._audit(entry, result)
            result.duplicate = True
            return
        queue: deque[_Item] = deque([(event, set())])
        while queue:
            ev, txn = queue.popleft()
            self._run_event(ev, txn, now, result, queue)

    def _drain(self, queue: deque[_Item], now: datetime, result: RunResult) -> None:
        while queue:
            ev, txn = queue.popleft()
            self._run_event(ev, txn, now, result, queue)

    def _too_deep(self, ev: Event, now: datetime, result: RunResult) -> WorkflowLoopError:
        why = f"chain stopped: deeper than max_depth={self.max_depth}"
        self._audit(EngineAuditEntry(ev.id, ev.kind, ev.record_type, ev.record_id, now, ev.depth,
                                     (Decision("*", False, why),)), result)  # fmt: skip
        return WorkflowLoopError(
            f"chained rules went deeper than max_depth={self.max_depth} at {ev.kind} event "
            f"{ev.id!r} of {ev.record_type} {ev.record_id}",
            ev.chain,
        )

    def _before_save(
        self, ev: Event, metas: Sequence[RuleMeta], ctx: EvalContext, *, now: datetime,
        result: RunResult, decisions: list[Decision], related: Callable[[str], Any],
    ) -> tuple[Event, EvalContext, Callable[[str], Any]]:
        """Run before-save rules; their updates are merged into the event (copy on write)."""
        record, changes, copied = ev.record, ev.changes, False
        rid, rt = ev.record_id, ev.record_type
        status = "planned" if self.executor.dry else "done"
        for meta in metas:
            if meta.after:
                continue
            rule = meta.rule
            decision = meta.decide(ev, ctx, self)
            decisions.append(decision)
            if not decision.fired:
                continue
            for idx, action in enumerate(rule.actions):
                req = self.executor.plan(
                    rule, idx=idx, action=action, record=record, related=related, now=now,
                    event_id=ev.id, record_type=rt,
                )
                result.actions.append(ActionOutcome(req, status))
                if req.updates and not copied:
                    record, changes, copied = dict(record), dict(changes), True
                for field, value in req.updates.items():
                    old = changes[field].before if field in changes else record.get(field)
                    record[field] = value
                    changes[field] = FieldChange(old, value)
                    result.updates.setdefault(rid, {})[field] = value
            if not rule.reenroll:  # only a no-re-enrolment rule asks later
                self.store.set_fired(rule.name, rid, True)
            related = self.mirror.resolver(record)
            ctx = EvalContext(record, changes or None, related, now)
        if copied:
            ev = Event(ev.kind, record, changes, ev.id, ev.occurred_at, ev.depth, ev.chain,
                       ev.caused_by)  # fmt: skip
        return ev, ctx, related

    def _run_event(
        self, ev: Event, txn: set[str], now: datetime, result: RunResult, queue: deque[_Item]
    ) -> None:
        if ev.depth > self.max_depth:
            raise self._too_deep(ev, now, result)
        index, mirror = self.index, self.mirror
        metas = index.candidates(ev)
        created = ev.kind == "created"
        rt, rid = ev.record_type, ev.record_id
        if not metas:
            mirror.remember(ev.record, None if created else ev.changes, now, created=created)
            self._audit(EngineAuditEntry(ev.id, ev.kind, rt, rid, now, ev.depth, ()), result)
            return
        decisions: list[Decision] = []
        original = ev.record
        related = mirror.resolver(original)
        ctx = EvalContext(original, ev.changes or None, related, now)
        if index.has_before:
            ev, ctx, related = self._before_save(
                ev, metas, ctx, now=now, result=result, decisions=decisions, related=related
            )
            if ev.record is not original and not created:
                # after-save rules see the change with the before-save updates in it: a rule
                # watching a field a before-save rule set is a candidate too
                metas = index.candidates(ev)
        record, changes = ev.record, ev.changes
        tracked = index.tracked.get(rt)
        if tracked and record is original:
            record = dict(record)  # the engine stamps "<field>_changed_at" into its own copy
        mirror.remember(record, None if created else changes, now, created=created)
        # after save: every rule sees the saved change; actions see the record as updated so far
        pending: dict[str, Any] = {}
        causes: list[str] = []
        shape = shape_of(ev)
        for meta in metas:
            if not meta.after:
                continue
            for guard in meta.guards[shape]:  # the rule's guard table: first that holds decides
                decision = guard(ev, ctx, self)
                if decision is not None:
                    break
            else:
                decision = meta.fired
            if not decision.fired:
                decisions.append(decision)
                continue
            rule = meta.rule
            step = f"{rule.name}({rt}:{rid})"
            if step in txn:  # fired on this record before, in the chain of this host event
                if self.executor.would_change(rule, record, related, now, event_id=ev.id,
                                              record_type=rt):  # fmt: skip
                    decisions.append(decision)
                    self._audit(EngineAuditEntry(ev.id, ev.kind, rt, rid, now,
                                                 ev.depth, tuple(decisions)), result)  # fmt: skip
                    raise WorkflowLoopError(
                        f"rule {rule.name!r} re-triggered itself on {rt} {rid} and would change "
                        "it again",
                        (*ev.chain, step),
                    )
                decisions.append(Decision(rule.name, False, ONCE_PER_CHAIN))
                continue
            decisions.append(decision)
            txn.add(step)
            if not rule.reenroll:  # only a no-re-enrolment rule asks later
                self.store.set_fired(rule.name, rid, True)
            changed = self._fire(
                rule, event_id=ev.id, record=record, related=related, now=now, ev=ev,
                changes=changes, period=None, result=result, queue=queue, txn=txn,
            )
            if changed:
                pending.update(changed)
                causes.append(rule.name)
                record = {**record, **changed}
                mirror.changed(record, changed, now)
        self._audit(EngineAuditEntry(ev.id, ev.kind, rt, rid, now, ev.depth,
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

    # -- actions ----------------------------------------------------------------------------

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
    ) -> dict[str, Any]:
        """Take a fired rule's actions; return the field updates made to the record."""
        updates: dict[str, Any] = {}
        rt = str(record.get("record_type") or "")
        current = record
        for idx, action in enumerate(rule.actions):
            if action.delayed:
                req = self.executor.plan(
                    rule, idx=idx, action=action, record=current, related=related, now=now,
                    event_id=event_id, record_type=rt, dry_plan=True,
                )
                self.scheduler.hold(req, action, idx=idx, record=current, now=now,
                                    changes=changes, period=period, out=result)  # fmt: skip
                continue
            changed = self._take(
                rule, idx, record=current, related=related, now=now, event_id=event_id, ev=ev,
                result=result, queue=queue, txn=txn,
            )
            if changed:
                updates.update(changed)
                current = {**current, **changed}
        return updates

    def _take(
        self, rule: Rule, idx: int, *, record: dict[str, Any], related: Callable[[str], Any],
        now: datetime, event_id: str, ev: Event | None, result: RunResult, queue: deque[_Item],
        txn: set[str],
    ) -> dict[str, Any]:
        """Carry out one immediate action; field updates go back, a new record is queued."""
        taken = self.executor.take(
            rule, idx=idx, action=rule.actions[idx], record=record, related=related, now=now,
            event_id=event_id, out=result,
        )
        if taken is None:
            return {}
        req, value = taken
        return self._effects(req, value, result=result, queue=queue, txn=txn, ev=ev, now=now)

    def _effects(
        self, req: ActionRequest, value: Any, *, result: RunResult, queue: deque[_Item],
        txn: set[str], ev: Event | None, now: datetime,
    ) -> dict[str, Any]:
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

    def _chain_update(
        self, rule: Rule, record: dict[str, Any], changed: dict[str, Any], *, event_id: str,
        step: str, txn: set[str], now: datetime, queue: deque[_Item],
    ) -> None:
        """Keep a record changed by a time rule or held action and queue its update event."""
        new = {**record, **changed}
        self.mirror.changed(new, changed, now)
        diff = {k: FieldChange(record.get(k), v) for k, v in changed.items()}
        queue.append((Event("updated", new, diff, event_id, now, 1, (step,), rule.name), txn))

    # -- time -------------------------------------------------------------------------------

    def tick(self, now: datetime, result: RunResult) -> None:
        """Fire due time triggers, run (or cancel) due held actions, then their chains."""
        t = now.timestamp()
        queue: deque[_Item] = deque()
        dry = self.executor.dry
        mirror = self.mirror
        for rt, rules in self.index.time.items():
            table = mirror.tables[rt]
            n = table.n
            if n == 0:
                continue
            for rule in rules:
                trig = time_trigger(rule)
                base = table.bases[base_key(trig)][:n]
                fired = table.fired[rule.name][:n]
                due = base + offset_seconds(rule)
                mask = (due <= t) & (fired != base)
                if trig.max_late_days is not None:
                    mask &= due >= t - trig.max_late_days * _DAY
                rows = np.flatnonzero(mask)
                if rows.size == 0:
                    entry = EngineAuditEntry(f"time:{rule.name}", "time", rt, "0 due", now, 0, ())
                    self._audit(entry, result)
                    continue
                decisions: list[Decision] = []
                fired[rows] = base[rows]  # each due period is spent, whatever happens next
                ids, periods_now = table.ids, base[rows].tolist()
                periods, set_period = mirror.periods(rule.name), self.store.set_period
                for row, period in zip(rows.tolist(), periods_now, strict=True):
                    rid = ids[row]
                    if not dry:
                        set_period(rule.name, rid, period)
                        periods[rid] = period
                    decisions.append(
                        self._time_fire(rule, rt, rid, period=period, now=now, result=result,
                                        queue=queue)
                    )
                entry = EngineAuditEntry(f"time:{rule.name}", "time", rt, f"{rows.size} due",
                                         now, 0, tuple(decisions))  # fmt: skip
                self._audit(entry, result)
        self._run_held(now, result, queue)
        self._drain(queue, now, result)

    def _time_fire(
        self, rule: Rule, rt: str, rid: str, *, period: float, now: datetime, result: RunResult,
        queue: deque[_Item],
    ) -> Decision:
        """Decide one due record of a time rule by the guard table; fire it when none holds."""
        record = related = ctx = None
        if self.enabled[rule.name]:
            record = self.mirror.get(rt, rid)
            if record is not None:
                related = self.mirror.resolver(record)
                ctx = EvalContext(record, None, related, now)
        check = _TimeCheck(rule, rid, record, ctx)
        for _, guard in TIME_GUARDS:
            reason = guard(check, self)
            if reason is not None:
                return Decision(rule.name, False, f"{rid}: {reason}")
        assert record is not None
        assert related is not None
        if not rule.reenroll:  # only a no-re-enrolment rule asks later
            self.store.set_fired(rule.name, rid, True)
        ev_id = f"time:{rule.name}:{rid}:{period:.0f}"
        step = f"{rule.name}({rt}:{rid})"
        txn = {step}
        changed = self._fire(
            rule, event_id=ev_id, record=record, related=related, now=now, ev=None,
            changes=None, period=period, result=result, queue=queue, txn=txn,
        )
        if changed:
            self._chain_update(rule, record, changed, event_id=f"{ev_id}>{rule.name}",
                               step=step, txn=txn, now=now, queue=queue)  # fmt: skip
        return Decision(rule.name, True, f"{rid}: due and condition met")

    def _run_held(self, now: datetime, result: RunResult, queue: deque[_Item]) -> None:
        for d, reason in self.scheduler.due(now):
            item, rule, record = d.item, d.rule, d.record
            decisions: list[Decision] = []
            if not reason:
                assert rule is not None
                assert record is not None
                assert d.related is not None
                decisions.append(Decision(rule.name, True, f"held action {item.key} due"))
                step = f"{rule.name}({item.record_type}:{item.record_id})"
                txn = {step}
                changed = self._take(
                    rule, item.action_index, record=record, related=d.related, now=now,
                    event_id=item.event_id, ev=None, result=result, queue=queue, txn=txn,
                )
                if changed:
                    self._chain_update(rule, record, changed, event_id=f"held:{item.key}>",
                                       step=step, txn=txn, now=now, queue=queue)  # fmt: skip
            else:
                decisions.append(Decision(item.rule, False, f"held action cancelled: {reason}"))
                known = rule is not None and item.action_index < len(rule.actions)
                if known and rule is not None and record is not None:
                    req = ActionRequest(rule.actions[item.action_index].type, rule.name,
                                        item.record_type, item.record_id, {}, {}, None, item.key,
                                        item.event_id, now, record)  # fmt: skip
                    result.actions.append(ActionOutcome(req, "cancelled", None, reason))
            entry = EngineAuditEntry(f"held:{item.key}", "held", item.record_type, item.record_id,
                                     now, 0, tuple(decisions))  # fmt: skip
            self._audit(entry, result)
