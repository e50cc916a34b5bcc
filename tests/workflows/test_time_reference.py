"""Time triggers against a brute-force reference: random rules, histories and a simulated clock.

The reference walks every record and rule in plain Python at each tick, from the documented
semantics: a period is the base date a trigger measures from (``DateOffset``: its own field and
nothing else; ``Unchanged``: the time the field last changed as the engine saw it, else
``updated_at``, else ``created_at``; ``NoActivity``: the last activity, else ``created_at``); it
comes due ``days * 86,400`` seconds after it; a due period is spent once (fired when the
condition holds, and, without re-enrolment, only if the rule never fired for the record);
``max_late_days`` skips periods due too long ago. The clock runs across the 2024 daylight-saving
changes of London and New York, dates are written in several zones and forms, SLA due dates are
set in business hours by a London calendar with that spring's bank holidays, and the engine is
restarted mid-history on the same store.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from crmcore.conditions import all_, eq
from crmcore.workflows import (
    BusinessCalendar,
    DateOffset,
    Engine,
    MemoryScheduleStore,
    NoActivity,
    Rule,
    Unchanged,
    create_task,
)

DAY = 86400.0
START = datetime(2024, 3, 8, 12, tzinfo=UTC)  # US change 10 Mar, UK change 31 Mar 2024
ZONES = (UTC, ZoneInfo("Europe/London"), ZoneInfo("America/New_York"))
LONDON = ZoneInfo("Europe/London")
CALENDAR = BusinessCalendar(
    hours={d: (time(9), time(17)) for d in range(5)},
    holidays={date(2024, 3, 29), date(2024, 4, 1)},  # Good Friday, Easter Monday
    tz=LONDON,
)
IDS = ("t1", "t2", "t3", "t4")
GOLD = eq("tier", "gold")


def _epoch(value: Any) -> float | None:
    """Reference reading of a date value (aware datetimes, ISO text, date-only = midnight UTC)."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()
    raise AssertionError(value)


# ------------------------------------------------------------------------------------ strategies

_days = st.sampled_from([-3.0, -1.0, -0.25, 0.0, 0.5, 1.0, 2.0, 4.5])
_late = st.sampled_from([None, None, 0.5, 2.0])


@st.composite
def _rule(draw: st.DrawFn, n: int) -> Rule:
    kind = draw(st.sampled_from(["date", "date", "sla", "unchanged", "no_activity"]))
    late = draw(_late)
    if kind == "date":
        trig: Any = DateOffset("due_date", draw(_days), max_late_days=late)
    elif kind == "sla":
        trig = DateOffset("sla_due", draw(st.sampled_from([0.0, 0.125, 1.0])), max_late_days=late)
    elif kind == "unchanged":
        trig = Unchanged("stage", draw(st.sampled_from([0.5, 1.0, 3.0])), max_late_days=late)
    else:
        trig = NoActivity(draw(st.sampled_from([0.5, 2.0, 5.0])), max_late_days=late)
    condition = draw(st.sampled_from([all_(), GOLD]))
    return Rule(f"r{n}", "ticket", trig, (create_task("t"),), condition=condition,
                reenroll=draw(st.booleans()))  # fmt: skip


@st.composite
def _date_value(draw: st.DrawFn, now: datetime) -> Any:
    """A date near the clock, in one of several zones and forms (or missing)."""
    if draw(st.integers(0, 4)) == 0:
        return None
    when = now + timedelta(minutes=15 * draw(st.integers(-4 * 24 * 4, 4 * 24 * 8)))
    when = when.astimezone(draw(st.sampled_from(ZONES)))
    form = draw(st.sampled_from(["datetime", "iso", "date_only"]))
    if form == "datetime":
        return when
    if form == "iso":
        return when.isoformat()
    return when.date().isoformat()


@st.composite
def _fields(draw: st.DrawFn, now: datetime, *, create: bool) -> dict[str, Any]:
    keys = ("due_date", "sla_hours", "stage", "tier") + (("created_at",) if create else ())
    chosen = keys if create else draw(st.sets(st.sampled_from(keys), min_size=1))
    fields: dict[str, Any] = {}
    for key in chosen:
        if key == "due_date":
            fields[key] = draw(_date_value(now))
        elif key == "sla_hours":
            fields[key] = draw(st.sampled_from([None, 1, 4, 9, 20]))
        elif key == "stage":
            fields[key] = draw(st.sampled_from(["new", "open", "waiting"]))
        elif key == "tier":
            fields[key] = draw(st.sampled_from(["gold", "gold", "free"]))
        else:
            fields[key] = draw(st.sampled_from([None, now, now.isoformat()]))
    return fields


@st.composite
def _history(draw: st.DrawFn) -> list[tuple[int, str, str, dict[str, Any]]]:
    """Steps ``(minutes to advance, op, record id, fields)`` over a simulated clock.

    Records are created first; every later step advances the clock, may change a record
    (update, activity, engine restart, a late creation), and ticks.
    """
    now = START
    steps = [
        (0, "create", rid, draw(_fields(now, create=True)))
        for rid in IDS[: draw(st.integers(1, len(IDS) - 1))]
    ]
    for _ in range(draw(st.integers(3, 25))):
        advance = draw(st.sampled_from([15, 60, 5 * 60, 13 * 60, 24 * 60, 2 * 24 * 60]))
        now += timedelta(minutes=advance)
        op = draw(st.sampled_from(["update", "update", "activity", "none", "restart", "create"]))
        rid = draw(st.sampled_from(IDS))
        fields = draw(_fields(now, create=op == "create")) if op in ("create", "update") else {}
        steps.append((advance, op, rid, fields))
        steps.append((0, "tick", rid, {}))
    return steps


# ------------------------------------------------------------------------------------ reference


class Reference:
    """Brute force: every rule over every record at each tick, from the documented semantics."""

    def __init__(self, rules: list[Rule]) -> None:
        self.rules = rules
        self.records: dict[str, dict[str, Any]] = {}
        self.spent: dict[tuple[str, str], float] = {}
        self.fired_ever: set[tuple[str, str]] = set()

    def create(self, rec: dict[str, Any], now: datetime) -> None:
        rec = dict(rec)
        rec["_stage_at"] = _epoch(rec.get("updated_at") or rec.get("created_at") or now)
        self.records[rec["id"]] = rec

    def update(self, rec: dict[str, Any], now: datetime) -> None:
        old = self.records[rec["id"]]
        new = {**rec, "_stage_at": old["_stage_at"]}
        if rec.get("stage") != old.get("stage"):
            new["_stage_at"] = now.timestamp()
        self.records[rec["id"]] = new

    def activity(self, rid: str, now: datetime) -> None:
        self.records[rid]["last_activity_at"] = now

    def base(self, rule: Rule, rec: dict[str, Any]) -> float | None:
        trig = rule.trigger
        if isinstance(trig, DateOffset):
            return _epoch(rec.get(trig.field))
        if isinstance(trig, Unchanged):
            for value in (rec["_stage_at"], _epoch(rec.get("updated_at")),
                          _epoch(rec.get("created_at"))):  # fmt: skip
                if value is not None:
                    return value
            return None
        activity = _epoch(rec.get("last_activity_at"))
        return activity if activity is not None else _epoch(rec.get("created_at"))

    def tick(self, now: datetime) -> set[tuple[str, str]]:
        t = now.timestamp()
        out: set[tuple[str, str]] = set()
        for rule in self.rules:
            trig = rule.trigger
            assert isinstance(trig, (DateOffset, Unchanged, NoActivity))
            for rid, rec in self.records.items():
                base = self.base(rule, rec)
                if base is None:
                    continue
                due = base + float(trig.days) * DAY
                key = (rule.name, rid)
                if due > t or self.spent.get(key) == base:
                    continue
                if trig.max_late_days is not None and due < t - trig.max_late_days * DAY:
                    continue
                self.spent[key] = base
                met = rule.condition != GOLD or rec.get("tier") == "gold"
                if met and (rule.reenroll or key not in self.fired_ever):
                    out.add(key)
                    self.fired_ever.add(key)
        return out


def _with_sla(fields: dict[str, Any], now: datetime) -> dict[str, Any]:
    """Turn ``sla_hours`` into an ``sla_due`` set in London business hours from ``now``."""
    out = {k: v for k, v in fields.items() if k != "sla_hours"}
    if "sla_hours" in fields:
        hours = fields["sla_hours"]
        out["sla_due"] = None if hours is None else CALENDAR.add_business_hours(now, hours)
    return out


class TestTimeTriggersMatchReference:
    @settings(max_examples=70, deadline=None)
    @given(st.integers(1, 4).flatmap(lambda n: st.tuples(*[_rule(i) for i in range(n)])),
           _history())  # fmt: skip
    def test_fires_exactly_when_the_reference_does(self, rules, history) -> None:
        """Same fires per tick as the reference; once per period; never without the date."""
        rules = list(rules)
        store = MemoryScheduleStore()
        engine = Engine(rules, handlers={"create_task": lambda r: None}, store=store)
        ref = Reference(rules)
        now = START
        seen_events: set[str] = set()
        for advance, op, rid, fields in history:
            now += timedelta(minutes=advance)
            known = rid in ref.records
            if op == "create" and not known:
                rec = {"id": rid, "record_type": "ticket", **_with_sla(fields, now)}
                engine.record_created(rec, now=now)
                ref.create(rec, now)
            elif op == "update" and known:
                before = {k: v for k, v in ref.records[rid].items() if not k.startswith("_")}
                after = {**before, **_with_sla(fields, now)}
                engine.record_updated(before, after, now=now)
                ref.update(after, now)
            elif op == "activity" and known:
                engine.note_activity("ticket", rid, now)
                ref.activity(rid, now)
            elif op == "restart":  # a new engine on the same store, records loaded again
                records = [engine.get_record("ticket", r) for r in ref.records]
                engine = Engine(rules, handlers={"create_task": lambda r: None}, store=store)
                engine.load([r for r in records if r is not None], now=now)
            elif op == "tick":
                result = engine.tick(now)
                done = [a.request for a in result.actions if a.status == "done"]
                got = {(q.rule, q.record_id) for q in done}
                assert got == ref.tick(now), (now, op)
                assert len(got) == len(done)  # one action per (rule, record) per tick
                for q in done:
                    assert q.event_id not in seen_events, q.event_id  # once per period
                    seen_events.add(q.event_id)
                    trig = engine.rules.rules[int(q.rule[1:])].trigger
                    if isinstance(trig, DateOffset):  # never without its date
                        record = engine.get_record("ticket", q.record_id)
                        assert record is not None
                        assert record.get(trig.field) not in (None, "")
                        period = float(q.event_id.rsplit(":", 1)[1])
                        assert not math.isnan(period)


class TestDaylightSavingExamples:
    def test_days_are_elapsed_time_across_dst(self) -> None:
        """'1 day after 09:00 London' on the eve of the spring change comes due at 10:00 BST."""
        rule = Rule("follow", "ticket", DateOffset("due_date", 1), (create_task("t"),))
        engine = Engine([rule], handlers={"create_task": lambda r: None})
        due = datetime(2024, 3, 30, 9, tzinfo=LONDON)  # GMT; clocks go forward that night
        engine.load([{"id": "t1", "record_type": "ticket", "due_date": due}])
        assert engine.tick(datetime(2024, 3, 31, 9, 59, tzinfo=LONDON)).fired() == []
        assert engine.tick(datetime(2024, 3, 31, 10, tzinfo=LONDON)).fired() == ["follow"]

    def test_sla_due_in_business_hours_across_dst(self) -> None:
        """An SLA set Thursday 16:00 GMT for 4 business hours skips the Easter holidays and the
        weekend of the change, and is breached at 12:00 BST on Tuesday."""
        start = datetime(2024, 3, 28, 16, tzinfo=LONDON)
        sla_due = CALENDAR.add_business_hours(start, 4)
        assert sla_due == datetime(2024, 4, 2, 12, tzinfo=LONDON)
        rule = Rule("breach", "ticket", DateOffset("sla_due", 0), (create_task("t"),))
        engine = Engine([rule], handlers={"create_task": lambda r: None})
        engine.record_created({"id": "t1", "record_type": "ticket", "sla_due": sla_due}, now=start)
        assert engine.tick(datetime(2024, 4, 2, 11, 59, tzinfo=LONDON)).fired() == []
        assert engine.tick(datetime(2024, 4, 2, 12, tzinfo=LONDON)).fired() == ["breach"]
