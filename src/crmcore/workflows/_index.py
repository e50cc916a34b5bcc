"""The rule index: a frozen value built once from a rule set.

It answers "which rules could care about this event?" (by record type, event kind and watched
field) and holds, per rule, what deciding needs: the rule's ordered guard table (the reasons a
rule does not fire, tried in order; the first that holds is the decision), its compiled action
parameters and the time-trigger layout (base dates per record type, tracked fields).

An update of ``amount`` never looks at rules that watch only ``stage``: a rule watches the fields
of its trigger (``OnEvent(fields=...)``, ``OnStageChange``); a ``newly_met`` rule without trigger
fields watches the fields its condition reads; any other update rule is considered on every
update of its record type.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple, Protocol

import attrs

from crmcore.conditions import EvalContext, referenced_fields
from crmcore.errors import FieldProblem, RuleValidationError
from crmcore.workflows._actions import compile_params
from crmcore.workflows._events import Event
from crmcore.workflows._rules import Rule, RuleSet
from crmcore.workflows._triggers import DateOffset, NoActivity, OnEvent, OnStageChange, Unchanged

__all__ = ["EVENT_GUARDS", "SHAPES", "Decision", "Guard", "GuardState", "RuleIndex", "RuleMeta",
           "base_key", "shape_of"]

_DAY = 86400.0
CompiledParams = list[tuple[str, bool, Any]]


class Decision(NamedTuple):
    """One rule considered for one event: did it fire, and why (not)."""

    rule: str
    fired: bool
    reason: str


class GuardState(Protocol):
    """What guards read of the running engine: enabled flags and the re-enrolment store."""

    enabled: dict[str, bool]

    def has_fired(self, rule: str, record_id: str) -> bool:
        """Whether the rule fired for the record before."""
        ...


#: ``guard(event, context, state) -> Decision`` when the rule must not fire, else ``None``.
Guard = Callable[[Event, EvalContext, GuardState], "Decision | None"]

SELF_CAUSED = "event caused by this rule's own actions"
DISABLED = "rule disabled"
CONDITION_FALSE = "condition false"
ALREADY_MET = "condition already met before the change (newly_met)"
NO_REENROL = "already fired for this record (no re-enrolment)"
FIRED = "fired"
ONCE_PER_CHAIN = "already fired on this record in this chain (and would change nothing)"


def _plain(value: Any) -> Any:
    return getattr(value, "value", value) if not isinstance(value, (str, int, float)) else value


# -- the guard table ------------------------------------------------------------------------
# Each row builds one rule's guard, or None when the row does not apply to the rule. The rows
# run in this order; decisions are prebuilt (one is recorded per rule considered: they must be
# cheap).


def _self_caused(rule: Rule) -> Guard | None:
    name = rule.name
    decision = Decision(name, False, SELF_CAUSED)

    def guard(ev: Event, ctx: EvalContext, state: GuardState) -> Decision | None:
        return decision if name in ev.caused_by.split(",") else None  # type: ignore[union-attr]

    return guard


def _stage_change(rule: Rule) -> Guard | None:
    trig = rule.trigger
    if not isinstance(trig, OnStageChange):
        return None
    field = trig.field
    to, from_ = frozenset(trig.to), frozenset(trig.from_)
    no_change = Decision(rule.name, False, f"{field} did not change")
    not_to = Decision(rule.name, False, f"{field} did not change to {', '.join(map(str, trig.to))}")
    not_from = Decision(
        rule.name, False, f"{field} did not change from {', '.join(map(str, trig.from_))}"
    )

    def guard(ev: Event, ctx: EvalContext, state: GuardState) -> Decision | None:
        ch = ev.changes.get(field)
        if ch is None:
            return no_change
        after = ch.after if type(ch.after) is str else _plain(ch.after)
        if to and after not in to:
            return not_to
        if from_ and _plain(ch.before) not in from_:
            return not_from
        return None

    return guard


def _watched_fields(rule: Rule) -> Guard | None:
    trig = rule.trigger
    if not isinstance(trig, OnEvent) or not trig.fields:
        return None
    fields = frozenset(trig.fields)
    no_change = Decision(rule.name, False, f"none of {', '.join(trig.fields)} changed")

    def guard(ev: Event, ctx: EvalContext, state: GuardState) -> Decision | None:
        return no_change if fields.isdisjoint(ev.changes) else None

    return guard


def _enabled(rule: Rule) -> Guard | None:
    name = rule.name
    decision = Decision(name, False, DISABLED)

    def guard(ev: Event, ctx: EvalContext, state: GuardState) -> Decision | None:
        return None if state.enabled[name] else decision

    return guard


def _condition(rule: Rule) -> Guard | None:
    name = rule.name
    test = rule.condition.test
    false = Decision(name, False, CONDITION_FALSE)

    def guard(ev: Event, ctx: EvalContext, state: GuardState) -> Decision | None:
        try:
            met = test(ctx)
        except Exception as exc:  # noqa: BLE001 - a broken predicate must not stop the batch
            return Decision(name, False, f"condition raised {type(exc).__name__}: {exc}")
        return None if met else false

    return guard


def _newly_met(rule: Rule) -> Guard | None:
    if not rule.newly_met:
        return None
    test = rule.condition.test
    already = Decision(rule.name, False, ALREADY_MET)

    def guard(ev: Event, ctx: EvalContext, state: GuardState) -> Decision | None:
        try:
            was = test(EvalContext(ev.before(), None, ctx.related, ctx.now))
        except Exception:  # noqa: BLE001 - a broken predicate on the old record: not met
            was = False
        return already if was else None

    return guard


def _reenrolment(rule: Rule) -> Guard | None:
    if rule.reenroll:
        return None
    name = rule.name
    decision = Decision(name, False, NO_REENROL)

    def guard(ev: Event, ctx: EvalContext, state: GuardState) -> Decision | None:
        return decision if state.has_fired(name, str(ctx.record["id"])) else None

    return guard


#: Event shapes: a guard row holds only for some (``created`` / ``updated``, caused by a rule's
#: actions or not); a rule keeps one guard tuple per shape with the rows that can hold.
SHAPES: tuple[tuple[str, bool], ...] = (
    ("created", False), ("created", True), ("updated", False), ("updated", True),
)
_ANY = frozenset(range(4))
_CAUSED = frozenset({1, 3})
_UPDATED = frozenset({2, 3})


def shape_of(ev: Event) -> int:
    """The index in :data:`SHAPES` of an event."""
    return (2 if ev.kind == "updated" else 0) + (ev.caused_by is not None)


#: The ordered guard table of event rules: (name, row builder, shapes where it can hold). The
#: first guard that holds decides why a rule does not fire; when none holds, the rule fires.
EVENT_GUARDS: tuple[tuple[str, Callable[[Rule], Guard | None], frozenset[int]], ...] = (
    ("self_caused", _self_caused, _CAUSED),
    ("stage_change", _stage_change, _UPDATED),
    ("watched_fields", _watched_fields, _UPDATED),
    ("enabled", _enabled, _ANY),
    ("condition", _condition, _ANY),
    ("newly_met", _newly_met, _UPDATED),
    ("reenrolment", _reenrolment, _ANY),
)


_INDEXED = frozenset({"watched_fields"})


@attrs.frozen
class RuleMeta:
    """What deciding and acting on one rule needs, computed once.

    Attributes:
        rule: The rule.
        rank: Its position in rule order.
        after: Whether it runs after save.
        guards: Per event shape (:data:`SHAPES`), its rows of :data:`EVENT_GUARDS` that can
            hold, in order.
        fired: The decision when no guard holds.
        params: Compiled parameters of each action.
    """

    rule: Rule
    rank: int
    after: bool
    guards: tuple[tuple[Guard, ...], ...]
    fired: Decision
    params: tuple[CompiledParams, ...]

    @classmethod
    def build(cls, rule: Rule, rank: int, *, skip: frozenset[str] = frozenset()) -> RuleMeta:
        """Build a rule's guard tables and compiled action parameters.

        ``skip`` names rows the caller guarantees cannot hold (the field index guarantees a
        watched field changed, so rules found through it leave ``watched_fields`` out).
        """
        rows = [(g, shapes) for name, row, shapes in EVENT_GUARDS
                if name not in skip and (g := row(rule)) is not None]  # fmt: skip
        guards = tuple(tuple(g for g, shapes in rows if i in shapes) for i in range(len(SHAPES)))
        params = tuple(compile_params(a.params) for a in rule.actions)
        return cls(rule, rank, rule.phase == "after_save", guards,
                   Decision(rule.name, True, FIRED), params)  # fmt: skip

    def decide(self, ev: Event, ctx: EvalContext, state: GuardState) -> Decision:
        """The rule's decision for an event: the first guard that holds, else fired."""
        for guard in self.guards[shape_of(ev)]:
            decision = guard(ev, ctx, state)
            if decision is not None:
                return decision
        return self.fired


def base_key(trigger: DateOffset | Unchanged | NoActivity) -> str:
    """The time table column of a time trigger's base date (its date fields joined)."""
    return "|".join(trigger.date_fields)


def _tracked_field(rule: Rule) -> str | None:
    """The field whose change the engine stamps for an ``Unchanged`` rule, if it tracks it."""
    trig = rule.trigger
    if isinstance(trig, Unchanged) and trig.since_field is None:
        return trig.field
    return None


@attrs.frozen
class RuleIndex:
    """Rules by record type, event kind and watched field; frozen once built.

    Attributes:
        rules: The rule set it was built from.
        ordered: Rules by descending priority, then given order.
        rank: ``rule name -> position in ordered``.
        by_name: ``rule name -> rule``.
        meta: ``rule name -> RuleMeta`` (guards, compiled params).
        Candidate lists (``created``, ``updated_any``, ``updated_field``) hold ``RuleMeta``.
        has_before: Whether any rule runs before save.
        created: ``record type -> rules on created events``.
        updated_any: ``record type -> update rules considered on every update``.
        updated_field: ``record type -> field -> update rules watching it``.
        time: ``record type -> time rules``.
        time_fields: ``record type -> date fields time rules read``.
        tracked: ``record type -> fields whose change time the engine stamps``.
        bases: ``record type -> base-date columns of its time table``.
    """

    rules: RuleSet
    ordered: tuple[Rule, ...]
    rank: Mapping[str, int]
    by_name: Mapping[str, Rule]
    meta: Mapping[str, RuleMeta]
    has_before: bool
    created: Mapping[str, list[RuleMeta]]
    updated_any: Mapping[str, list[RuleMeta]]
    updated_field: Mapping[str, Mapping[str, list[RuleMeta]]]
    time: Mapping[str, list[Rule]]
    time_fields: Mapping[str, frozenset[str]]
    tracked: Mapping[str, frozenset[str]]
    bases: Mapping[str, tuple[str, ...]]

    @classmethod
    def build(cls, ruleset: RuleSet, *, field_index: bool = True) -> RuleIndex:
        """Index a rule set.

        ``field_index=False``: no field index; every update rule of a record type is a candidate
        for every update of it (the same decisions, found by checking every rule).
        """
        rules = ruleset.rules
        order = sorted(range(len(rules)), key=lambda i: (-rules[i].priority, i))
        ordered = tuple(rules[i] for i in order)
        created: dict[str, list[RuleMeta]] = {}
        upd_any: dict[str, list[RuleMeta]] = {}
        upd_field: dict[str, dict[str, list[RuleMeta]]] = {}
        time: dict[str, list[Rule]] = {}
        metas = {r.name: RuleMeta.build(r, i) for i, r in enumerate(ordered)}
        for rule in ordered:
            trig, rt = rule.trigger, rule.record_type
            if trig.is_time:
                time.setdefault(rt, []).append(rule)
                continue
            meta = metas[rule.name]
            assert isinstance(trig, (OnEvent, OnStageChange))
            if "created" in trig.on:
                created.setdefault(rt, []).append(meta)
            if "updated" in trig.on:
                watched: frozenset[str] | None = frozenset(trig.fields) or None
                if watched is None and rule.newly_met:
                    watched = referenced_fields(rule.condition)
                if watched and field_index:
                    # found through the field index, a watched field changed: that row cannot hold
                    by_field = RuleMeta.build(rule, meta.rank, skip=_INDEXED)
                    for f in watched:
                        upd_field.setdefault(rt, {}).setdefault(f, []).append(by_field)
                else:
                    upd_any.setdefault(rt, []).append(meta)
        time_fields: dict[str, frozenset[str]] = {}
        tracked: dict[str, frozenset[str]] = {}
        bases: dict[str, tuple[str, ...]] = {}
        for rt, trules in time.items():
            triggers = [_time_trigger(r) for r in trules]
            bases[rt] = tuple(sorted({base_key(t) for t in triggers}))
            time_fields[rt] = frozenset(f for t in triggers for f in t.date_fields)
            tracked[rt] = frozenset(f for f in map(_tracked_field, trules) if f is not None)
        return cls(
            ruleset,
            ordered,
            {r.name: i for i, r in enumerate(ordered)},
            {r.name: r for r in rules},
            metas,
            any(r.phase == "before_save" for r in rules),
            created,
            upd_any,
            upd_field,
            time,
            time_fields,
            tracked,
            bases,
        )

    def candidates(self, ev: Event) -> Sequence[RuleMeta]:
        """The rules that could fire on an event, in rule order."""
        rt = ev.record.get("record_type") or ""
        if ev.kind == "created":
            return self.created.get(rt, ())
        found: list[list[RuleMeta]] = []
        base = self.updated_any.get(rt)
        if base:
            found.append(base)
        index = self.updated_field.get(rt)
        if index:
            for f in ev.changes:
                lst = index.get(f)
                if lst:
                    found.append(lst)
        if not found:
            return ()
        if len(found) == 1:
            return found[0]
        merged = {m.rank: m for lst in found for m in lst}
        return [merged[k] for k in sorted(merged)]

    def rule(self, name: str) -> Rule:
        """The rule of that name.

        Raises:
            RuleValidationError: When there is none.
        """
        try:
            return self.by_name[name]
        except KeyError:
            raise RuleValidationError(
                FieldProblem("name", name, "engine.rule", "no rule of that name")
            ) from None


def _time_trigger(rule: Rule) -> DateOffset | Unchanged | NoActivity:
    trig = rule.trigger
    assert isinstance(trig, (DateOffset, Unchanged, NoActivity))
    return trig


def time_trigger(rule: Rule) -> DateOffset | Unchanged | NoActivity:
    """A time rule's trigger (typed)."""
    return _time_trigger(rule)


def offset_seconds(rule: Rule) -> float:
    """A time rule's offset in seconds."""
    return float(_time_trigger(rule).days) * _DAY
