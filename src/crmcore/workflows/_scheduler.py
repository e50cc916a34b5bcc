"""The scheduler: delayed actions held in the store until they come due.

A fired rule's delayed action is held (a :class:`~crmcore.workflows.store.PendingAction` with
the event's change and, for time rules, the period it fired for). When it comes due it runs only
if every guard of :data:`HELD_GUARDS` passes (the rule still exists, has that action, is enabled,
the record is known and still meets the condition, a time trigger's date did not move); the
first guard that fails cancels it with its reason.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from datetime import datetime, timedelta
from typing import Any

import attrs

from crmcore.conditions import EvalContext, to_datetime
from crmcore.workflows._actions import Action, ActionRequest
from crmcore.workflows._events import FieldChange
from crmcore.workflows._executor import ActionOutcome, Outcomes
from crmcore.workflows._index import RuleIndex
from crmcore.workflows._mirror import RecordMirror
from crmcore.workflows._rules import Rule
from crmcore.workflows._store import PendingAction, ScheduleStore

__all__ = ["HELD_GUARDS", "Due", "Scheduler"]


@attrs.frozen
class Due:
    """A held action come due, with what its guards looked at."""

    item: PendingAction
    rule: Rule | None
    record: dict[str, Any] | None
    now: datetime
    related: Callable[[str], Any] | None = None


def _no_rule(d: Due, s: Scheduler) -> str | None:
    return "rule no longer exists" if d.rule is None else None


def _no_action(d: Due, s: Scheduler) -> str | None:
    assert d.rule is not None
    if d.item.action_index >= len(d.rule.actions):
        return f"rule {d.rule.name!r} has no action {d.item.action_index} any more"
    return None


def _disabled(d: Due, s: Scheduler) -> str | None:
    assert d.rule is not None
    return None if s.enabled[d.rule.name] else "rule disabled"


def _unknown(d: Due, s: Scheduler) -> str | None:
    return "record unknown" if d.record is None else None


def _condition(d: Due, s: Scheduler) -> str | None:
    assert d.rule is not None
    assert d.record is not None
    assert d.related is not None
    ctx = EvalContext(d.record, d.item.change or None, d.related, d.now)
    try:
        met = d.rule.condition.test(ctx)
    except Exception as exc:  # noqa: BLE001 - a broken predicate cancels, never stops the run
        return f"condition raised {exc}"
    return None if met else "record no longer meets the condition"


def _date_moved(d: Due, s: Scheduler) -> str | None:
    if d.item.period is None:
        return None
    assert d.rule is not None
    current = s.mirror.base(d.rule.name, d.item.record_type, d.item.record_id)
    if current != d.item.period:
        return "the time trigger's date moved since it fired"
    return None


#: The ordered guard table of held actions: ``guard(due, scheduler) -> reason to cancel``.
HELD_GUARDS: tuple[tuple[str, Callable[[Due, Scheduler], str | None]], ...] = (
    ("rule_exists", _no_rule),
    ("action_exists", _no_action),
    ("enabled", _disabled),
    ("record_known", _unknown),
    ("condition", _condition),
    ("date_unmoved", _date_moved),
)


class Scheduler:
    """Holds delayed actions in the store and hands them back when due.

    Args:
        index: The rule index.
        store: Where held actions live.
        mirror: The record mirror (held actions are re-checked against the record as it is).
        enabled: ``rule name -> enabled`` (shared with the engine).
    """

    def __init__(
        self, index: RuleIndex, store: ScheduleStore, mirror: RecordMirror, enabled: dict[str, bool]
    ) -> None:
        self.index = index
        self.store = store
        self.mirror = mirror
        self.enabled = enabled

    @staticmethod
    def due_at(action: Action, record: Mapping[str, Any], now: datetime) -> datetime | None:
        """When a delayed action comes due for a record (``None``: no date to count from)."""
        if action.at_field is not None:
            base = to_datetime(record.get(action.at_field))
            if base is None:
                return None
            return base + timedelta(days=action.offset_days or 0.0) + timedelta(
                days=action.delay_days
            )
        return now + timedelta(days=action.delay_days)

    def hold(
        self,
        req: ActionRequest,
        action: Action,
        *,
        idx: int,
        record: Mapping[str, Any],
        now: datetime,
        changes: Mapping[str, FieldChange] | None,
        period: float | None,
        out: Outcomes,
    ) -> None:
        """Hold a delayed action (or cancel it when it has no date to count from)."""
        due = self.due_at(action, record, now)
        if due is None:
            missing = f"no date in {action.at_field!r}"
            out.actions.append(ActionOutcome(req, "cancelled", None, missing))
            return
        self.store.add_pending(
            PendingAction(
                req.key, req.rule, idx, req.record_type, req.record_id, due, req.event_id,
                {k: (v.before, v.after) for k, v in (changes or {}).items()}, period,
            )
        )
        out.actions.append(ActionOutcome(req, "scheduled", due_at=due))

    def due(self, now: datetime) -> Iterator[tuple[Due, str]]:
        """Take each held action come due out of the store: ``(due, reason to cancel or "")``."""
        for item in self.store.due_pending(now):
            self.store.remove_pending(item.key)
            rule = self.index.by_name.get(item.rule)
            record = self.mirror.get(item.record_type, item.record_id)
            related = None if record is None else self.mirror.resolver(record)
            d = Due(item, rule, record, now, related)
            reason = ""
            for _, guard in HELD_GUARDS:
                got = guard(d, self)
                if got is not None:
                    reason = got
                    break
            yield d, reason
