"""Tests for crmcore.workflows.engine: triggers, phases, guardrails, time, dry runs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crmcore.conditions import changed_to, eq, gt, not_in
from crmcore.errors import MissingHandlerWarning, WorkflowLoopError
from crmcore.workflows import (
    DateOffset,
    Decision,
    Engine,
    EngineAuditEntry,
    Event,
    MemoryScheduleStore,
    NoActivity,
    OnStageChange,
    Rule,
    RunResult,
    SQLiteScheduleStore,
    Unchanged,
    add_tag,
    assign_owner,
    create_related,
    create_task,
    custom_action,
    delayed,
    function_handler,
    on_created,
    on_created_or_updated,
    on_updated,
    send_alert,
    update_field,
)
from tests.workflows.strategies import rules, values

NOW = datetime(2024, 6, 3, 9, tzinfo=UTC)


def deal(**fields):
    return {"id": "d1", "record_type": "deal", "stage": "open", "amount": 100, **fields}


class Recorder:
    """A handler that records the requests it gets."""

    def __init__(self, fail: bool = False) -> None:
        self.requests = []
        self.fail = fail

    def handle(self, request):
        if self.fail:
            raise RuntimeError("mail server down")
        self.requests.append(request)
        return f"done-{len(self.requests)}"


def engine(*rules, **kwargs):
    handlers = kwargs.pop("handlers", None) or {
        t: Recorder() for t in ("create_task", "send_alert", "send_email", "ping")
    }
    return Engine(rules, handlers=handlers, **kwargs)


class TestEventTriggers:
    def test_created(self) -> None:
        """An on-created rule fires on creation and not on update."""
        eng = engine(Rule("r", "deal", on_created(), (create_task("t"),)))
        assert eng.record_created(deal(), now=NOW).fired() == ["r"]
        assert eng.record_updated(deal(), deal(amount=5), now=NOW).fired() == []

    def test_updated_watched_fields(self) -> None:
        """An update rule with fields fires only when one of them changed."""
        eng = engine(Rule("r", "deal", on_updated("amount"), (create_task("t"),)))
        assert eng.record_updated(deal(), deal(stage="x"), now=NOW).fired() == []
        assert eng.record_updated(deal(), deal(amount=7), now=NOW).fired() == ["r"]

    def test_change_before_after_visible(self) -> None:
        """Conditions see the before and after of each changed field."""
        rule = Rule("r", "deal", on_updated(), (create_task("t"),),
                    condition=changed_to("stage", "won"))  # fmt: skip
        eng = engine(rule)
        assert eng.record_updated(deal(), deal(stage="won"), now=NOW).fired() == ["r"]

    def test_stage_changed(self) -> None:
        """A stage trigger fires on the watched transition only."""
        rule = Rule("r", "deal", OnStageChange("stage", to=("won",), from_=("open",)),
                    (create_task("t"),))  # fmt: skip
        eng = engine(rule)
        assert eng.record_updated(deal(), deal(stage="lost"), now=NOW).fired() == []
        assert eng.record_updated(deal(stage="x"), deal(stage="won"), now=NOW).fired() == []
        assert eng.record_updated(deal(), deal(stage="won"), now=NOW).fired() == ["r"]

    def test_other_record_type_ignored(self) -> None:
        """Rules only see their record type."""
        eng = engine(Rule("r", "ticket", on_created(), (create_task("t"),)))
        assert eng.record_created(deal(), now=NOW).fired() == []

    def test_newly_met(self) -> None:
        """newly_met fires only when the record did not meet the condition before."""
        rule = Rule("r", "deal", on_updated(), (create_task("t"),), condition=gt("amount", 1000),
                    newly_met=True)  # fmt: skip
        eng = engine(rule)
        assert eng.record_updated(deal(), deal(amount=2000), now=NOW).fired() == ["r"]
        assert eng.record_updated(deal(amount=2000), deal(amount=3000), now=NOW).fired() == []

    def test_reenroll_false(self) -> None:
        """Without re-enrolment a record fires a rule once, ever."""
        rule = Rule("r", "deal", on_updated("stage"), (create_task("t"),),
                    condition=eq("stage", "won"), reenroll=False)  # fmt: skip
        eng = engine(rule)
        assert eng.record_updated(deal(), deal(stage="won"), now=NOW).fired() == ["r"]
        eng.record_updated(deal(stage="won"), deal(stage="open"), now=NOW)
        assert eng.record_updated(deal(), deal(stage="won"), now=NOW).fired() == []

    def test_model_records_accepted(self) -> None:
        """Domain model records (attrs with to_dict) are accepted as records."""
        from crmcore.model import Deal

        eng = engine(Rule("r", "deal", on_created(), (create_task("t"),),
                          condition=eq("stage", "qualification")))  # fmt: skip
        assert eng.record_created(Deal(id="d9", name="Acme"), now=NOW).fired() == ["r"]


    def test_model_record_with_zoneinfo_dates(self) -> None:
        """A model record's zone-named datetimes (to_dict "...[Zone]") drive time triggers."""
        from zoneinfo import ZoneInfo

        from crmcore.model import Deal

        tokyo = ZoneInfo("Asia/Tokyo")
        made = datetime(2024, 5, 1, 9, tzinfo=tokyo)
        record = Deal(id="d7", name="Acme", created_at=made, updated_at=made)
        assert record.to_dict()["created_at"].endswith("[Asia/Tokyo]")
        stale = Rule("stale", "deal", Unchanged("stage", 14), (create_task("chase"),))
        eng = engine(stale)
        eng.record_created(record, now=made)
        # 14 days after creation, measured in instants: due at 2024-05-15 00:00 UTC
        assert eng.tick(datetime(2024, 5, 14, 23, 59, tzinfo=UTC)).fired() == []
        assert eng.tick(datetime(2024, 5, 15, 0, 1, tzinfo=UTC)).fired() == ["stale"]


class TestFieldIndex:
    def test_same_decisions_without_the_field_index(self) -> None:
        """``field_index=False`` checks every update rule on every update (more rules
        considered) and fires the same rules, in the same order, with the same actions."""
        rules = (
            Rule("amount", "deal", on_updated("amount"), (create_task("a"),)),
            Rule("won", "deal", OnStageChange("stage", to=("won",)), (create_task("w"),)),
            Rule("big", "deal", on_updated(), (send_alert("u", "big"),),
                 condition=gt("amount", 1000),
                 newly_met=True),
            Rule("any", "deal", on_updated(), (create_task("any"),), condition=eq("stage", "x")),
            Rule("new", "deal", on_created(), (create_task("n"),)),
        )
        changes = [
            (deal(), deal(amount=2000)),
            (deal(amount=2000), deal(amount=2000, stage="won")),
            (deal(stage="won"), deal(stage="x", owner="u2")),
            (deal(stage="x"), deal(stage="x", note="n")),
        ]

        def run(**kwargs: bool) -> tuple[list[list[str]], list[list[str]], list[tuple[str, ...]]]:
            eng = engine(*rules, **kwargs)
            fired, considered, actions = [], [], []
            eng.record_created(deal(), now=NOW)
            for i, (before, after) in enumerate(changes):
                res = eng.process(Event.updated(before, after, id=f"e{i}"), now=NOW)
                fired.append(res.fired())
                considered.append([d.rule for e in res.audit for d in e.decisions])
                actions += [(a.rule, a.request.type, a.status) for a in res.actions]
            return fired, considered, actions

        fired, considered, actions = run()
        fired_all, considered_all, actions_all = run(field_index=False)
        assert fired_all == fired
        assert actions_all == actions
        assert fired == [["amount", "big"], ["won"], ["any"], ["any"]]
        # without the index every update rule is considered for every update
        assert all(set(c) == {"amount", "won", "big", "any"} for c in considered_all)
        assert considered[3] == ["any"]


class TestPhases:
    def test_before_save_updates_same_change(self) -> None:
        """Before-save updates join the change (later rules see them) and make no new event."""
        before = Rule("b", "deal", on_created(), (update_field("segment", "big"),),
                      condition=gt("amount", 50), phase="before_save")  # fmt: skip
        after = Rule("a", "deal", on_created(), (create_task("t"),), condition=eq("segment", "big"))
        eng = engine(after, before)
        result = eng.record_created(deal(), now=NOW)
        assert result.updates == {"d1": {"segment": "big"}}
        assert result.fired() == ["b", "a"]
        assert len(result.audit) == 1

    def test_before_save_field_watched_by_after_save_rule(self) -> None:
        """An after-save rule watching a field that a before-save rule set sees that change."""
        seg = Rule("seg", "deal", on_updated("amount"), (update_field("segment", "big"),),
                   condition=gt("amount", 1000), phase="before_save")  # fmt: skip
        watch = Rule("watch", "deal", on_updated("segment"), (create_task("t"),), newly_met=True,
                     condition=eq("segment", "big"))  # fmt: skip
        eng = engine(watch, seg)
        result = eng.record_updated(deal(), deal(amount=5000), now=NOW)
        assert result.fired() == ["seg", "watch"]
        assert len(result.audit) == 1  # no new event: the update joined the same change
        big = deal(amount=5000, segment="big")
        assert eng.record_updated(big, {**big, "amount": 9000}, now=NOW).fired() == ["seg"]

    def test_after_save_changes_chain(self) -> None:
        """Field changes made by actions produce a new event that other rules see."""
        first = Rule("first", "deal", on_created(), (update_field("stage", "review"),))
        second = Rule("second", "deal", OnStageChange("stage", to=("review",)),
                      (create_task("review"),))  # fmt: skip
        result = engine(first, second).record_created(deal(), now=NOW)
        assert result.fired() == ["first", "second"]
        assert result.updates["d1"] == {"stage": "review"}

    def test_created_related_record_chains(self) -> None:
        """A created related record raises a created event of its own."""
        ticket = create_related("ticket", copy={"subject": "id"})
        make = Rule("make", "deal", on_created(), (ticket,))
        react = Rule("react", "ticket", on_created(), (create_task("handle {subject}"),))
        result = engine(make, react).record_created(deal(), now=NOW)
        assert result.created[0]["deal_id"] == "d1"
        assert result.fired() == ["make", "react"]


class TestGuardrails:
    def test_loop_stopped(self) -> None:
        """Two rules that undo each other raise WorkflowLoopError naming the chain."""
        a = Rule("open-it", "deal", on_updated("stage"), (update_field("stage", "open"),),
                 condition=eq("stage", "closed"))  # fmt: skip
        b = Rule("close-it", "deal", on_updated("stage"), (update_field("stage", "closed"),),
                 condition=eq("stage", "open"))  # fmt: skip
        eng = engine(a, b)
        with pytest.raises(WorkflowLoopError) as info:
            eng.record_updated(deal(stage="x"), deal(stage="closed"), now=NOW)
        assert "open-it(deal:d1)" in info.value.chain
        assert "close-it(deal:d1)" in info.value.chain

    def test_depth_limit(self) -> None:
        """A chain longer than max_depth is stopped."""
        rules = [
            Rule(f"r{i}", "deal", on_updated(f"f{i}"), (update_field(f"f{i + 1}", 1),))
            for i in range(6)
        ]
        eng = engine(*rules, max_depth=3)
        with pytest.raises(WorkflowLoopError, match="max_depth"):
            eng.record_updated(deal(), deal(f0=1), now=NOW)

    def test_self_feeding_rule_via_new_records(self) -> None:
        """A rule that keeps creating records that re-trigger it is stopped by the depth limit."""
        spawn = Rule("spawn", "ticket", on_created(), (create_related("ticket"),))
        eng = engine(spawn, max_depth=4)
        with pytest.raises(WorkflowLoopError) as info:
            eng.record_created({"id": "t0", "record_type": "ticket"}, now=NOW)
        assert info.value.chain[0] == "spawn(ticket:t0)"
        assert len(info.value.chain) == 5

    def test_loop_error_carries_partial_result(self) -> None:
        """A loop error carries what ran before the stop: actions, updates, audit, the chain."""
        tasks = Recorder()
        a = Rule("open-it", "deal", on_updated("stage"), (update_field("stage", "open"),),
                 condition=eq("stage", "closed"))  # fmt: skip
        b = Rule("close-it", "deal", on_updated("stage"), (update_field("stage", "closed"),),
                 condition=eq("stage", "open"))  # fmt: skip
        note = Rule("note", "deal", on_updated("stage"), (create_task("stage moved"),))
        eng = Engine([a, b, note], handlers={"create_task": tasks})
        with pytest.raises(WorkflowLoopError) as info:
            eng.record_updated(deal(stage="x"), deal(stage="closed"), now=NOW)
        partial = info.value.result
        assert isinstance(partial, RunResult)
        # the task handler ran once (at most once per record per chain): the host must see it
        done = [o for o in partial.actions if o.type == "create_task"]
        assert [o.status for o in done] == ["done"]
        assert len(tasks.requests) == 1
        assert done[0].result == "done-1"
        assert [(o.rule, o.status) for o in partial.actions if o.type == "update_field"] == [
            ("open-it", "done"),
            ("close-it", "done"),
        ]
        assert partial.updates == {"d1": {"stage": "closed"}}  # last value decided
        assert partial.audit == list(eng.audit_log)  # every entry of the run, none lost
        last = partial.audit[-1].decisions[-1]
        assert (last.rule, last.fired) == ("open-it", True)  # the step that would loop
        assert info.value.chain[-1] == "open-it(deal:d1)"

    @given(n=st.integers(1, 7), max_depth=st.integers(0, 7))
    @settings(max_examples=40, deadline=None)
    def test_depth_limit_partial_result(self, n: int, max_depth: int) -> None:
        """A chain r0 -> r1 -> ... stops past max_depth; the result holds the steps before."""
        rules = [
            Rule(f"r{i}", "deal", on_updated(f"f{i}"), (update_field(f"f{i + 1}", i + 1),))
            for i in range(n)
        ]
        eng = engine(*rules, max_depth=max_depth)
        # reference: the event made by r{i} has depth i + 1; one deeper than max_depth stops
        ran = min(n, max_depth + 1)
        expected_updates = {f"f{i + 1}": i + 1 for i in range(ran)}
        if n <= max_depth:
            result = eng.record_updated(deal(), deal(f0=1), now=NOW)
            assert result.fired() == [f"r{i}" for i in range(n)]
            assert result.updates == {"d1": expected_updates}
            return
        with pytest.raises(WorkflowLoopError, match=f"max_depth={max_depth}") as info:
            eng.record_updated(deal(), deal(f0=1), now=NOW)
        partial = info.value.result
        assert partial.fired() == [f"r{i}" for i in range(ran)]
        assert partial.updates == {"d1": expected_updates}
        assert info.value.chain == tuple(f"r{i}(deal:d1)" for i in range(ran))
        stopped = partial.audit[-1]
        assert stopped.depth == max_depth + 1
        assert stopped.decisions == (Decision("*", False, f"chain stopped: deeper than "
                                                          f"max_depth={max_depth}"),)  # fmt: skip
        assert partial.audit == list(eng.audit_log)

    def test_self_feeding_partial_result_lists_created(self) -> None:
        """Records created before the depth stop are in the error's result for the host."""
        spawn = Rule("spawn", "ticket", on_created(), (create_related("ticket"),))
        eng = engine(spawn, max_depth=4)
        with pytest.raises(WorkflowLoopError) as info:
            eng.record_created({"id": "t0", "record_type": "ticket"}, now=NOW)
        created = info.value.result.created
        assert len(created) == 5
        parents = ["t0"] + [c["id"] for c in created[:-1]]
        assert [c["ticket_id"] for c in created] == parents

    def test_dry_run_loop_error_carries_planned_actions(self) -> None:
        """A dry run that loops raises with the planned actions, no handler called."""
        tasks = Recorder()
        a = Rule("open-it", "deal", on_updated("stage"), (update_field("stage", "open"),),
                 condition=eq("stage", "closed"))  # fmt: skip
        b = Rule("close-it", "deal", on_updated("stage"), (update_field("stage", "closed"),),
                 condition=eq("stage", "open"))  # fmt: skip
        note = Rule("note", "deal", on_updated("stage"), (create_task("stage moved"),))
        eng = Engine([a, b, note], handlers={"create_task": tasks})
        with pytest.raises(WorkflowLoopError) as info:
            eng.what_if(deal(stage="x"), {"stage": "closed"}, now=NOW)
        partial = info.value.result
        assert {o.status for o in partial.actions} == {"planned"}
        assert len(partial.actions) == 3
        assert tasks.requests == []
        assert list(eng.audit_log) == []  # the dry run left the engine alone

    def test_tick_loop_error_carries_partial_result(self) -> None:
        """A time rule whose update starts a loop: the tick's error carries what it did."""
        tasks = Recorder()
        due = Rule("due", "deal", DateOffset("close_date", 1),
                   (create_task("chase"), update_field("stage", "closed")))  # fmt: skip
        a = Rule("open-it", "deal", on_updated("stage"), (update_field("stage", "open"),),
                 condition=eq("stage", "closed"))  # fmt: skip
        b = Rule("close-it", "deal", on_updated("stage"), (update_field("stage", "closed"),),
                 condition=eq("stage", "open"))  # fmt: skip
        eng = Engine([due, a, b], handlers={"create_task": tasks})
        eng.load([deal(close_date="2024-06-01")])
        with pytest.raises(WorkflowLoopError) as info:
            eng.tick(NOW)
        partial = info.value.result
        assert partial.fired()[0] == "due"
        assert [o.status for o in partial.actions if o.type == "create_task"] == ["done"]
        assert len(tasks.requests) == 1
        assert partial.audit == list(eng.audit_log)

    @given(
        st.dictionaries(st.integers(0, 4), st.integers(0, 4), max_size=5),
        st.integers(0, 4),
    )
    @settings(max_examples=60, deadline=None)
    def test_loops_against_reference(self, moves: dict[int, int], start: int) -> None:
        """Rules "f: a -> b" loop exactly when the walk from the new value revisits a value.

        Reference: follow the moves from ``start``; each rule fires once; coming back to a value
        whose rule already fired (and would change f again) is the loop. The error's partial
        result holds one task per rule that fired; a dry run refuses the same way.
        """
        rules = [
            Rule(
                f"m{a}",
                "deal",
                on_updated("f"),
                (create_task(f"moved from {a}"), update_field("f", b)),
                condition=eq("f", a),
            )
            for a, b in moves.items()
        ]
        fired, v, loops = [], start, False
        while v in moves:
            if f"m{v}" in fired:
                loops = moves[v] != v
                break
            fired.append(f"m{v}")
            v = moves[v]
        tasks = Recorder()
        eng = Engine(rules, handlers={"create_task": tasks})
        before, after = deal(f=-1), deal(f=start)
        dry, dry_loop = _run_or_loop(partial(eng.what_if, before, {"f": start}, now=NOW))
        real, real_loop = _run_or_loop(partial(eng.record_updated, before, after, now=NOW))
        assert (real_loop is not None) == loops
        assert dry_loop == real_loop
        assert real.fired() == fired
        assert [o.request.params["title"] for o in real.actions if o.type == "create_task"] == [
            f"moved from {name[1:]}" for name in fired
        ]
        assert len(tasks.requests) == len(fired)
        assert [_outcome_key(a) for a in dry.actions] == [_outcome_key(a) for a in real.actions]
        if not loops:
            assert real.updates.get("d1", {}).get("f", start) == v

    def test_convergent_chain_is_not_a_loop(self) -> None:
        """A rule matching again later in its chain, with nothing left to change, is skipped."""
        tier = Rule("tier", "deal", on_updated(), (update_field("tier", "gold"),),
                    condition=gt("amount", 1000))  # fmt: skip
        prio = Rule("prio", "deal", on_updated("tier"), (update_field("priority", "high"),))
        result = engine(tier, prio).record_updated(deal(), deal(amount=2000), now=NOW)
        assert result.updates == {"d1": {"tier": "gold", "priority": "high"}}
        assert result.fired() == ["tier", "prio"]
        reasons = [d.reason for e in result.audit for d in e.decisions if d.rule == "tier"]
        assert reasons == [
            "fired",
            "event caused by this rule's own actions",
            "already fired on this record in this chain (and would change nothing)",
        ]

    def test_one_task_per_host_event(self) -> None:
        """A task rule matching the host event and the chained event creates one task."""
        tasks = Recorder()
        tier = Rule("tier", "deal", on_updated(), (update_field("tier", "gold"),),
                    condition=gt("amount", 1000))  # fmt: skip
        task = Rule("call", "deal", on_updated(), (create_task("call"),),
                    condition=gt("amount", 1000))  # fmt: skip
        eng = Engine([tier, task], handlers={"create_task": tasks})
        eng.record_updated(deal(), deal(amount=2000), now=NOW)
        assert len(tasks.requests) == 1
        eng.record_updated(deal(amount=2000), deal(amount=3000), now=NOW)
        assert len(tasks.requests) == 2  # a new host event may fire it again

    def test_self_caused_event_ignored(self) -> None:
        """A rule does not react to the event its own actions caused."""
        rule = Rule("tagger", "deal", on_created_or_updated(), (add_tag("seen"),))
        result = engine(rule).record_created(deal(), now=NOW)
        assert result.updates["d1"]["tags"] == ("seen",)
        assert any("own actions" in d.reason for e in result.audit for d in e.decisions)

    def test_duplicate_event_ignored(self) -> None:
        """The same event id delivered twice creates one task."""
        tasks = Recorder()
        eng = engine(Rule("r", "deal", on_created(), (create_task("t"),)),
                     handlers={"create_task": tasks})  # fmt: skip
        ev = Event.created(deal(), id="msg-1")
        eng.process(ev, now=NOW)
        second = eng.process(ev, now=NOW)
        assert second.duplicate
        assert len(tasks.requests) == 1

    def test_failed_handler_isolated(self) -> None:
        """A failing handler is recorded and the other actions and rules still run."""
        tasks = Recorder()
        rules = (
            Rule("r1", "deal", on_created(), (send_alert("x", "m"), create_task("t"))),
            Rule("r2", "deal", on_created(), (create_task("t2"),)),
        )
        eng = Engine(rules, handlers={"send_alert": Recorder(fail=True), "create_task": tasks})
        result = eng.record_created(deal(), now=NOW)
        assert [a.status for a in result.actions] == ["failed", "done", "done"]
        assert "mail server down" in (result.actions[0].error or "")
        assert len(result.errors) == 1
        assert len(tasks.requests) == 2

    def test_missing_handler_recorded(self) -> None:
        """An action without a handler is recorded, not dropped, and the host is warned."""
        actions = (custom_action("ping", x=1), create_task("t"))
        eng = Engine([Rule("r", "deal", on_created(), actions)],
                     handlers={"create_task": Recorder()})
        with pytest.warns(MissingHandlerWarning, match=r"'ping' \(rule 'r'\) on deal d1"):
            result = eng.record_created(deal(), now=NOW)
        assert [a.status for a in result.actions] == ["no_handler", "done"]
        assert len(result.errors) == 1

    def test_missing_handler_logged(self, caplog: pytest.LogCaptureFixture) -> None:
        """A missing handler is also logged on the ``crmcore.workflows`` logger."""
        eng = Engine([Rule("r", "deal", on_created(), (custom_action("ping"),))])
        with pytest.warns(MissingHandlerWarning), caplog.at_level("WARNING", "crmcore.workflows"):
            eng.record_created(deal(), now=NOW)
        assert [r.name for r in caplog.records] == ["crmcore.workflows"]
        assert "no handler registered for action 'ping'" in caplog.records[0].getMessage()

    def test_priority_and_order(self) -> None:
        """Higher priority first; equal priority keeps the given order."""
        rules = [
            Rule("low", "deal", on_created(), (create_task("t"),), priority=0),
            Rule("high", "deal", on_created(), (create_task("t"),), priority=5),
            Rule("low2", "deal", on_created(), (create_task("t"),), priority=0),
        ]
        assert engine(*rules).record_created(deal(), now=NOW).fired() == ["high", "low", "low2"]

    def test_enable_disable(self) -> None:
        """A disabled rule is considered but does not fire; the audit says why."""
        eng = engine(Rule("r", "deal", on_created(), (create_task("t"),)))
        eng.disable("r")
        result = eng.record_created(deal(), now=NOW)
        assert result.fired() == []
        assert result.audit[0].decisions[0].reason == "rule disabled"
        eng.enable("r")
        assert eng.record_created(deal(id="d2"), now=NOW).fired() == ["r"]

    def test_audit_says_why_not(self) -> None:
        """Every considered rule is in the audit with its reason."""
        eng = engine(Rule("r", "deal", on_created(), (create_task("t"),),
                          condition=gt("amount", 10_000)))  # fmt: skip
        sink: list[EngineAuditEntry] = []
        eng._audit_sink = sink.append
        eng.record_created(deal(), now=NOW)
        assert sink[0].decisions[0].reason == "condition false"
        assert eng.audit_log[-1] == sink[0]


class TestTimeTriggers:
    def test_date_offset_before(self) -> None:
        """A date-offset rule fires N days before the date, once per period."""
        rule = Rule("renew", "account", DateOffset("renewal_date", -60), (create_task("t"),))
        eng = engine(rule)
        eng.load([{"id": "a1", "record_type": "account", "renewal_date": "2024-09-01"}])
        assert eng.tick(datetime(2024, 7, 1, tzinfo=UTC)).fired() == []
        assert eng.tick(datetime(2024, 7, 3, tzinfo=UTC)).fired() == ["renew"]
        assert eng.tick(datetime(2024, 7, 4, tzinfo=UTC)).fired() == []
        eng.record_updated({"id": "a1", "record_type": "account", "renewal_date": "2024-09-01"},
                           {"id": "a1", "record_type": "account", "renewal_date": "2025-09-01"},
                           now=datetime(2024, 7, 5, tzinfo=UTC))  # fmt: skip
        assert eng.tick(datetime(2025, 7, 4, tzinfo=UTC)).fired() == ["renew"]

    def test_date_offset_after_and_max_late(self) -> None:
        """Positive offsets fire after the date; max_late_days skips stale periods."""
        rule = Rule("r", "deal", DateOffset("close_date", 3, max_late_days=2), (create_task("t"),))
        eng = engine(rule)
        eng.load([deal(close_date="2024-06-01"), deal(id="d2", close_date="2024-05-01")])
        result = eng.tick(datetime(2024, 6, 4, 12, tzinfo=UTC))
        assert [a.request.record_id for a in result.actions] == ["d1"]

    def test_unchanged_for_days(self) -> None:
        """A field unchanged for N days fires; a change restarts the clock."""
        rule = Rule("stalled", "deal", Unchanged("stage", 14), (create_task("t"),))
        eng = engine(rule)
        eng.record_created(deal(), now=NOW)
        eng.record_updated(deal(), deal(stage="proposal"), now=NOW + timedelta(days=10))
        assert eng.tick(NOW + timedelta(days=15)).fired() == []
        assert eng.tick(NOW + timedelta(days=25)).fired() == ["stalled"]
        assert eng.tick(NOW + timedelta(days=40)).fired() == []

    def test_no_activity(self) -> None:
        """No activity for N days fires; noting an activity restarts the clock."""
        rule = Rule("idle", "contact", NoActivity(90), (create_task("t"),))
        eng = engine(rule)
        eng.load([{"id": "c1", "record_type": "contact", "created_at": "2024-01-01"}])
        eng.note_activity("contact", "c1", datetime(2024, 3, 1, tzinfo=UTC))
        assert eng.tick(datetime(2024, 4, 5, tzinfo=UTC)).fired() == []
        assert eng.tick(datetime(2024, 6, 1, tzinfo=UTC)).fired() == ["idle"]

    def test_time_condition_checked_when_due(self) -> None:
        """A due record that does not meet the condition does not fire."""
        rule = Rule("stalled", "deal", Unchanged("stage", 14), (create_task("t"),),
                    condition=not_in("stage", ("won",)))  # fmt: skip
        eng = engine(rule)
        eng.record_created(deal(stage="won"), now=NOW)
        assert eng.tick(NOW + timedelta(days=20)).fired() == []

    def test_forget_stops_time_rules(self) -> None:
        """A forgotten record no longer fires time rules, even if loaded as columns."""
        rule = Rule("renew", "account", DateOffset("renewal_date", -60), (create_task("t"),))
        eng = engine(rule)
        eng.load_columns("account", {"id": ["a1", "a2"], "renewal_date": ["2024-09-01"] * 2})
        assert eng.forget("account", "a1")
        assert eng.get_record("account", "a1") is None
        got = eng.tick(datetime(2024, 7, 5, tzinfo=UTC))
        assert [a.request.record_id for a in got.actions] == ["a2"]

    def test_columns_match_records(self) -> None:
        """Loading as columns and as records gives the same due records."""
        rule = Rule("renew", "account", DateOffset("renewal_date", -60), (create_task("t"),))
        rows = [{"id": f"a{i}", "renewal_date": f"2024-0{1 + i % 9}-15"} for i in range(30)]
        a, b = engine(rule), engine(rule)
        a.load([{**r, "record_type": "account"} for r in rows])
        b.load_columns("account", {"id": [r["id"] for r in rows],
                                   "renewal_date": [r["renewal_date"] for r in rows]})  # fmt: skip
        when = datetime(2024, 5, 1, tzinfo=UTC)
        ids_a = sorted(x.request.record_id for x in a.tick(when).actions)
        ids_b = sorted(x.request.record_id for x in b.tick(when).actions)
        assert ids_a == ids_b
        assert ids_a


class TestTimeBookkeeping:
    def test_no_reenrol_counts_fires_not_due_dates(self) -> None:
        """reenroll=False: a period that came due while the condition was false does not count."""
        rule = Rule("idle", "contact", NoActivity(30), (create_task("t"),),
                    condition=eq("lifecycle_stage", "lead"), reenroll=False)  # fmt: skip
        eng = engine(rule)
        c = {"id": "c1", "record_type": "contact", "lifecycle_stage": "customer",
             "last_activity_at": "2024-01-01"}  # fmt: skip
        eng.load([c])
        assert eng.tick(datetime(2024, 2, 5, tzinfo=UTC)).fired() == []  # due, not a lead
        later = {**c, "lifecycle_stage": "lead", "last_activity_at": "2024-03-01"}
        eng.record_updated(c, later, now=datetime(2024, 3, 1, tzinfo=UTC))
        assert eng.tick(datetime(2024, 4, 5, tzinfo=UTC)).fired() == ["idle"]
        again = {**later, "last_activity_at": "2024-05-01"}
        eng.record_updated(later, again, now=datetime(2024, 5, 1, tzinfo=UTC))
        result = eng.tick(datetime(2024, 6, 5, tzinfo=UTC))
        assert result.fired() == []
        assert "no re-enrolment" in result.audit[0].decisions[0].reason

    def test_periods_survive_restart(self, tmp_path: Path) -> None:
        """A period fired before a restart does not fire again on the new engine."""
        rule = Rule("renew", "account", DateOffset("renewal_date", -60), (create_task("t"),))
        acc = {"id": "a1", "record_type": "account", "renewal_date": "2024-09-01"}
        path = tmp_path / "wf.sqlite"
        first = engine(rule, store=SQLiteScheduleStore(path))
        first.load([acc])
        assert first.tick(datetime(2024, 7, 5, tzinfo=UTC)).fired() == ["renew"]
        first.store.close()  # type: ignore[attr-defined]
        second = engine(rule, store=SQLiteScheduleStore(path))
        second.load_columns("account", {"id": ["a1"], "renewal_date": ["2024-09-01"]})
        assert second.tick(datetime(2024, 7, 6, tzinfo=UTC)).fired() == []
        second.store.close()  # type: ignore[attr-defined]

    def test_date_offset_never_fires_without_its_date(self) -> None:
        """A date-offset rule ignores records lacking the date (no ``created_at`` fallback)."""
        rule = Rule("breach", "ticket", DateOffset("sla_due", 0), (send_alert("lead", "x"),))
        eng = engine(rule)
        created = datetime(2025, 3, 7, 15, tzinfo=UTC)
        eng.record_created({"id": "t1", "record_type": "ticket", "created_at": created.isoformat()},
                           now=created)  # fmt: skip
        eng.load_columns("ticket", {"id": ["t2"], "created_at": [created], "sla_due": [None]})
        assert eng.tick(created + timedelta(minutes=1)).fired() == []
        assert eng.tick(created + timedelta(days=400)).fired() == []
        t1 = {"id": "t1", "record_type": "ticket", "created_at": created.isoformat()}
        eng.record_updated(t1, {**t1, "sla_due": created + timedelta(hours=2)}, now=created)
        assert eng.tick(created + timedelta(hours=3)).fired() == ["breach"]

    def test_every_time_rule_audited_each_tick(self) -> None:
        """Each tick audits every time rule, also when nothing is due."""
        rules = (
            Rule("a", "deal", Unchanged("stage", 5), (create_task("t"),)),
            Rule("b", "account", DateOffset("renewal_date", 0), (create_task("t"),)),
        )
        eng = engine(*rules)
        eng.load([deal(), {"id": "a1", "record_type": "account"}], now=NOW)
        result = eng.tick(NOW)
        assert sorted(e.event_id for e in result.audit) == ["time:a", "time:b"]
        assert all(e.record_id == "0 due" for e in result.audit)


class TestErase:
    def test_erase_drops_record_columns_held_actions_and_audit(self, tmp_path: Path) -> None:
        """Erasing a record forgets it, blanks its column cells, drops its held actions and the
        engine's audit entries about it; other records stay."""
        rule = Rule("chase", "contact", on_updated("email"), (create_task("t", delay_days=2),))
        store = SQLiteScheduleStore(tmp_path / "wf.db")
        eng = engine(rule, store=store)
        eng.load_columns("contact", {"id": ["c1", "c2"], "email": ["ann@x.io", "bob@x.io"]})
        before = {"id": "c1", "record_type": "contact", "email": "ann@x.io"}
        eng.record_updated(before, {**before, "email": "ann@y.io"}, now=NOW)
        assert [p.record_id for p in store.pending()] == ["c1"]
        assert eng.erase("contact", "c1") >= 2
        assert eng.get_record("contact", "c1") is None
        assert store.pending() == []
        assert all(e.record_id != "c1" for e in eng.audit_log)
        assert "ann@" not in repr(eng._runner.mirror.blocks)
        assert eng.get_record("contact", "c2") == {"id": "c2", "record_type": "contact",
                                                   "email": "bob@x.io"}  # fmt: skip
        store.close()
        assert b"ann@" not in (tmp_path / "wf.db").read_bytes()


class TestColumns:
    def test_rows_come_back_as_plain_values(self) -> None:
        """Rows of numpy / list columns come back as plain Python values (UTC datetimes, None)."""
        import numpy as np

        rule = Rule("renew", "account", DateOffset("renewal_date", -60), (create_task("t"),))
        eng = engine(rule)
        dates = np.array(["2024-09-01T10:30:00.000123", "NaT"], dtype="datetime64[us]")
        eng.load_columns("account", {
            "id": ["a1", "a2"], "renewal_date": dates, "seats": np.array([3, 4]),
            "score": np.array([0.5, 1.5]), "name": np.array(["Acme", "Initech"], dtype=object),
            "tier": ["gold", None],
        })  # fmt: skip
        one = eng.get_record("account", "a1")
        when = datetime(2024, 9, 1, 10, 30, 0, 123, tzinfo=UTC)
        assert one == {"id": "a1", "record_type": "account", "seats": 3, "score": 0.5,
                       "name": "Acme", "tier": "gold", "renewal_date": when}  # fmt: skip
        assert type(one["seats"]) is int
        two = eng.get_record("account", "a2")
        assert two is not None
        assert two["renewal_date"] is None
        assert two["tier"] is None


class TestSlaBreach:
    def test_breach_fires_after_shortened_sla(self) -> None:
        """shorten_sla sets sla_due in business hours; a DateOffset rule fires at the breach."""
        from datetime import time

        from crmcore.workflows import BusinessCalendar, shorten_sla

        cal = BusinessCalendar(hours={d: (time(9), time(17)) for d in range(5)})
        rules = (
            Rule("urgent", "ticket", on_updated("priority"), (shorten_sla(4),),
                 condition=eq("priority", "urgent")),
            Rule("breach", "ticket", DateOffset("sla_due", 0), (send_alert("lead", "SLA!"),),
                 condition=not_in("status", ("solved",))),
        )  # fmt: skip
        eng = engine(*rules, calendar=cal)
        friday = datetime(2024, 6, 7, 15, tzinfo=UTC)
        t = {"id": "t1", "record_type": "ticket", "priority": "normal", "created_at": friday}
        result = eng.record_updated(t, {**t, "priority": "urgent"}, now=friday)
        assert result.updates["t1"]["sla_due"] == datetime(2024, 6, 10, 11, tzinfo=UTC)
        assert eng.tick(datetime(2024, 6, 10, 10, tzinfo=UTC)).fired() == []
        assert eng.tick(datetime(2024, 6, 10, 11, 1, tzinfo=UTC)).fired() == ["breach"]


class TestHeldActions:
    def test_delayed_action_runs_when_due(self) -> None:
        """A delayed action is held, then run when due if the condition still holds."""
        tasks = Recorder()
        rule = Rule("r", "deal", on_created(), (create_task("t", delay_days=2),),
                    condition=eq("stage", "open"))  # fmt: skip
        eng = Engine([rule], handlers={"create_task": tasks})
        assert [a.status for a in eng.record_created(deal(), now=NOW).actions] == ["scheduled"]
        assert eng.tick(NOW + timedelta(days=1)).actions == []
        assert [a.status for a in eng.tick(NOW + timedelta(days=3)).actions] == ["done"]
        assert len(tasks.requests) == 1

    def test_cancelled_when_condition_no_longer_met(self) -> None:
        """A held action is dropped when the record no longer meets the condition."""
        tasks = Recorder()
        rule = Rule("r", "deal", on_created(), (create_task("t", delay_days=2),),
                    condition=eq("stage", "open"))  # fmt: skip
        eng = Engine([rule], handlers={"create_task": tasks})
        eng.record_created(deal(), now=NOW)
        eng.record_updated(deal(), deal(stage="won"), now=NOW + timedelta(days=1))
        result = eng.tick(NOW + timedelta(days=3))
        assert [a.status for a in result.actions] == ["cancelled"]
        assert tasks.requests == []

    def test_scheduled_path_dropped_when_time_period_moves(self) -> None:
        """A stalled-deal reminder held for later is dropped once the stage moves."""
        alerts = Recorder()
        rule = Rule("stalled", "deal", Unchanged("stage", 14),
                    (create_task("t"), delayed(send_alert("boss", "still stalled"), days=3)),
                    condition=not_in("stage", ("won", "lost")))  # fmt: skip
        eng = Engine([rule], handlers={"create_task": Recorder(), "send_alert": alerts})
        eng.record_created(deal(stage="proposal"), now=NOW)
        fired = eng.tick(NOW + timedelta(days=15))
        assert [a.status for a in fired.actions] == ["done", "scheduled"]
        moved = NOW + timedelta(days=16)
        eng.record_updated(deal(stage="proposal"), deal(stage="negotiation"), now=moved)
        result = eng.tick(NOW + timedelta(days=19))
        assert [a.status for a in result.actions] == ["cancelled"]
        assert "date moved" in (result.actions[0].error or "")
        assert alerts.requests == []

    def test_scheduled_path_relative_to_date(self) -> None:
        """delayed(at_field=, offset_days=, hours=) is due relative to the record's date."""
        rule = Rule("prep", "account", on_created(),
                    (delayed(create_task("prep"), at_field="renewal_date", offset_days=-30,
                             hours=12),))  # fmt: skip
        eng = engine(rule)
        got = eng.record_created({"id": "a1", "record_type": "account",
                                  "renewal_date": "2024-09-01"}, now=NOW)  # fmt: skip
        assert got.actions[0].due_at == datetime(2024, 8, 2, 12, tzinfo=UTC)
        assert eng.tick(datetime(2024, 8, 2, 11, tzinfo=UTC)).actions == []
        assert [a.status for a in eng.tick(datetime(2024, 8, 2, 12, tzinfo=UTC)).actions] == [
            "done"
        ]

    def test_held_action_of_edited_rule_cancelled(self, tmp_path: Path) -> None:
        """After a restart with a rule that lost the held action, it is cancelled, not a crash."""
        path = tmp_path / "wf.sqlite"
        old = Rule("r", "deal", on_created(), (create_task("a"), create_task("b", delay_days=1)))
        first = engine(old, store=SQLiteScheduleStore(path))
        first.record_created(deal(), now=NOW)
        first.store.close()  # type: ignore[attr-defined]
        new = Rule("r", "deal", on_created(), (create_task("a"),))
        second = engine(new, store=SQLiteScheduleStore(path))
        second.load([deal()])
        result = second.tick(NOW + timedelta(days=2))
        assert result.actions == []
        assert "no action 1" in result.audit[-1].decisions[0].reason
        second.store.close()  # type: ignore[attr-defined]

    def test_sqlite_store_survives_restart(self, tmp_path: Path) -> None:
        """Held actions and seen events survive a new engine on the same SQLite file."""
        path = tmp_path / "wf.sqlite"
        rule = Rule("r", "deal", on_created(), (create_task("t", delay_days=1),))
        store = SQLiteScheduleStore(path)
        first = Engine([rule], store=store, handlers={"create_task": Recorder()})
        ev = Event.created(deal(), id="e1")
        first.process(ev, now=NOW)
        first.store.close()  # type: ignore[attr-defined]
        tasks = Recorder()
        second = Engine([rule], store=SQLiteScheduleStore(path), handlers={"create_task": tasks})
        second.load([deal()])
        assert second.process(ev, now=NOW).duplicate
        assert [a.status for a in second.tick(NOW + timedelta(days=2)).actions] == ["done"]
        assert len(tasks.requests) == 1
        second.store.close()  # type: ignore[attr-defined]


class TestAssignment:
    def test_round_robin_and_load(self) -> None:
        """Round robin cycles the pool; load balancing picks the least busy owner."""
        rr = Rule("rr", "contact", on_created(), (assign_owner("round_robin", pool=("a", "b")),))
        eng = engine(rr)
        owners = [
            eng.record_created({"id": f"c{i}", "record_type": "contact"}, now=NOW).updates[f"c{i}"][
                "owner_id"
            ]
            for i in range(4)
        ]
        assert owners == ["a", "b", "a", "b"]
        lb = Rule("lb", "contact", on_created(), (assign_owner("load_balanced", pool=("a", "b")),))
        eng2 = Engine([lb], workload={"a": 5, "b": 2}.__getitem__)
        assert eng2.record_created({"id": "x", "record_type": "contact"}, now=NOW).updates["x"] == {
            "owner_id": "b"
        }


def _events(draw_list):
    out = []
    state: dict[str, dict] = {}
    for i, (rid, stage, amount) in enumerate(draw_list):
        rec = {"id": rid, "record_type": "deal", "stage": stage, "amount": amount}
        if rid in state:
            out.append(Event.updated(state[rid], rec, id=f"e{i}"))
        else:
            out.append(Event.created(rec, id=f"e{i}"))
        state[rid] = rec
    return out


class TestDryRun:
    @settings(max_examples=40, deadline=None)
    @given(
        st.lists(
            st.tuples(
                st.sampled_from(["d1", "d2", "d3"]),
                st.sampled_from(["open", "won", "lost"]),
                st.integers(0, 3000),
            ),
            max_size=12,
        )
    )
    def test_dry_run_matches_real_run(self, steps) -> None:
        """A dry run chooses exactly the actions a real run takes."""
        rules = (
            Rule("big", "deal", on_created_or_updated("amount"), (update_field("size", "big"),),
                 condition=gt("amount", 1000), phase="before_save"),
            Rule("won", "deal", OnStageChange("stage", to=("won",)),
                 (create_related("ticket"), create_task("kickoff"))),
            Rule("rr", "deal", on_created(), (assign_owner("round_robin", pool=("a", "b", "c")),)),
            Rule("tag", "deal", on_updated("size"), (add_tag("vip"),), newly_met=True,
                 condition=eq("size", "big")),
        )  # fmt: skip
        events = _events(steps)
        dry = engine(*rules).dry_run(events, now=NOW)
        real_engine = engine(*rules)
        real = [a for ev in events for a in real_engine.process(ev, now=NOW).actions]

        def key(a):
            r = a.request
            return (r.rule, r.type, r.record_id, r.updates, r.new_record, dict(r.params))

        assert [key(a) for a in dry.actions] == [key(a) for a in real]
        assert all(a.status == "planned" for a in dry.actions)

    def test_dry_run_calls_no_handler_and_keeps_state(self) -> None:
        """A dry run neither calls handlers nor changes the engine's state."""
        tasks = Recorder()
        eng = Engine([Rule("r", "deal", on_created(), (create_task("t"),))],
                     handlers={"create_task": tasks})  # fmt: skip
        ev = Event.created(deal(), id="e1")
        assert [a.status for a in eng.dry_run(ev, now=NOW).actions] == ["planned"]
        assert tasks.requests == []
        assert eng.process(ev, now=NOW).fired() == ["r"]

    def test_what_if(self) -> None:
        """what_if shows what a hypothetical change would do."""
        eng = engine(Rule("r", "deal", OnStageChange("stage", to=("won",)), (create_task("t"),)))
        assert eng.what_if(deal(), {"stage": "won"}, now=NOW).fired() == ["r"]
        assert eng.what_if(deal(), {"stage": "lost"}, now=NOW).fired() == []

    def test_function_handler(self) -> None:
        """Plain functions work as handlers through function_handler()."""
        seen = []
        h = function_handler(lambda req: seen.append(req.params["title"]))
        eng = Engine([Rule("r", "deal", on_created(), (create_task("Hi {id}"),))],
                     handlers={"create_task": h}, store=MemoryScheduleStore())  # fmt: skip
        eng.record_created(deal(), now=NOW)
        assert seen == ["Hi d1"]


_STEP_RULES = (
    Rule("size", "deal", on_created_or_updated("amount"), (update_field("size", "big"),),
         condition=gt("amount", 1000), phase="before_save"),
    Rule("won", "deal", OnStageChange("stage", to=("won",)),
         (create_related("ticket", copy={"notes": "notes"}), create_task("kickoff"))),
    Rule("lb", "deal", on_created(), (assign_owner("load_balanced", pool=("a", "b", "c")),
                                      create_task("intro", owner="$owner_id"))),
    Rule("vip", "deal", on_updated("size"), (add_tag("vip"),
                                             delayed(send_alert("$owner_id", "vip"), days=2)),
         newly_met=True, condition=eq("size", "big")),
    Rule("stalled", "deal", Unchanged("stage", 5),
         (create_task("chase"), delayed(send_alert("boss", "still"), days=1), add_tag("stale")),
         condition=not_in("stage", ("won", "lost"))),
    Rule("ticket", "ticket", on_created(), (assign_owner("round_robin", pool=("x", "y")),)),
)  # fmt: skip

_steps = st.lists(
    st.one_of(
        st.tuples(st.just("event"), st.sampled_from(["d1", "d2"]),
                  st.sampled_from(["open", "won", "lost"]), st.integers(0, 3000)),
        st.tuples(st.just("tick"), st.integers(1, 4)),
    ),
    max_size=10,
)  # fmt: skip


def _outcome_key(a):
    r = a.request
    status = {"done": "planned"}.get(a.status, a.status)
    return (r.rule, r.type, r.record_id, r.updates, r.new_record, dict(r.params), status, a.due_at)


class TestDryRunStepwise:
    @settings(max_examples=40, deadline=None)
    @given(_steps)
    def test_dry_run_matches_real_run_at_every_step(self, steps) -> None:
        """Before every event or tick, a dry run from the same state chooses the same actions."""
        eng = engine(*_STEP_RULES)
        state: dict[str, dict] = {}
        clock = NOW
        for i, step in enumerate(steps):
            if step[0] == "tick":
                clock += timedelta(days=step[1])
                dry, real = eng.dry_tick(clock), eng.tick(clock)
            else:
                _, rid, stage, amount = step
                rec = {**state.get(rid, {}), "id": rid, "record_type": "deal", "stage": stage,
                       "amount": amount, "notes": f"n{i}"}  # fmt: skip
                ev = (Event.updated(state[rid], rec, id=f"e{i}") if rid in state
                      else Event.created(rec, id=f"e{i}"))  # fmt: skip
                state[rid] = rec
                dry, real = eng.dry_run(ev, now=clock), eng.process(ev, now=clock)
            assert [_outcome_key(a) for a in dry.actions] == [_outcome_key(a) for a in real.actions]
            assert dry.updates == real.updates
            assert dry.fired() == real.fired()


def _run_or_loop(run):
    """Return (result, None), or (the loop error's partial result, its message and chain)."""
    try:
        return run(), None
    except WorkflowLoopError as exc:
        return exc.result, (str(exc), exc.chain)


_fuzz_records = st.fixed_dictionaries(
    {"id": st.sampled_from(["r1", "r2"]),
     "record_type": st.sampled_from(["deal", "contact", "ticket"])},
    optional={"stage": values, "amount": values, "country": values, "owner": values,
              "closed_at": values,
              "tags": st.lists(st.sampled_from(["vip"]), max_size=1).map(tuple)},
)  # fmt: skip
_ALL_HANDLERS = ("create_task", "send_alert", "send_email", "custom", "update_record",
                 "create_record")  # fmt: skip


class TestGeneratedRules:
    @settings(max_examples=40, deadline=None)
    @given(
        st.lists(rules(), max_size=4, unique_by=lambda r: r.name),
        st.lists(st.one_of(_fuzz_records, st.integers(1, 30)), max_size=8),
    )
    def test_dry_run_matches_real_run_for_any_rules(self, rule_list, steps) -> None:
        """For generated rules, events and ticks, dry and real runs choose the same actions."""
        eng = Engine(rule_list, handlers={t: (lambda r: None) for t in _ALL_HANDLERS})
        state: dict[tuple[str, str], dict] = {}
        clock = NOW
        for i, step in enumerate(steps):
            if isinstance(step, int):
                clock += timedelta(days=step)
                runs = (partial(eng.dry_tick, clock), partial(eng.tick, clock))
            else:
                k = (step["record_type"], step["id"])
                ev = (Event.updated(state[k], step, id=f"e{i}") if k in state
                      else Event.created(step, id=f"e{i}"))  # fmt: skip
                state[k] = step
                runs = (partial(eng.dry_run, ev, now=clock), partial(eng.process, ev, now=clock))
            (dry, dry_loop), (real, real_loop) = (_run_or_loop(run) for run in runs)
            # a loop is refused the same way in both runs, after the same partial actions
            assert dry_loop == real_loop
            assert [_outcome_key(a) for a in dry.actions] == [_outcome_key(a) for a in real.actions]
            if real_loop is not None:
                return  # the engine's state after a refused chain is the host's to repair
