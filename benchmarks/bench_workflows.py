"""Workflow engine benchmarks: event throughput through 100 rules, and tick over 1M records.

Run: ``python benchmarks/bench_workflows.py [--events 100000] [--records 1000000]``
Writes ``benchmarks/results/workflows.json``.

1. Throughput: 100 active after-save rules on ``deal`` records (60 watch one field each, 20 watch
   stage transitions, 10 fire on creation, 10 are ``newly_met`` rules indexed by the fields their
   condition reads). Field-change events each change one or two of 40 fields (30 watched by some
   rule, 10 not). Handlers are no-op functions. Timed: ``Engine.process`` over pre-built events
   (one core); event construction is timed separately.
2. Time scan: the seven standard example rule sets over 1M records loaded as columns (400k deals,
   300k accounts, 300k contacts; numpy datetime64 date columns). Dates are spread so that the
   first tick has a backlog to catch up; then daily ticks fire only what came due that day, and an
   empty tick (nothing due) measures the pure columnar scan.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import statistics
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from crmcore.workflows import (
    Engine,
    Event,
    OnStageChange,
    Rule,
    add_tag,
    create_task,
    eq,
    gt,
    on_created,
    on_updated,
    send_alert,
    update_field,
)
from crmcore.workflows import examples as ex

RESULTS = Path(__file__).resolve().parent / "results" / "workflows.json"
T0 = datetime(2025, 1, 6, 6, tzinfo=UTC)


def build_rules() -> list[Rule]:
    stages = ["lead", "qualified", "proposal", "negotiation", "won", "lost"]
    watch = [
        Rule(
            f"watch-{i}",
            "deal",
            on_updated(f"f{i % 30}"),
            (create_task(f"check f{i % 30}"),),
            condition=gt(f"f{i % 30}", 990 - i % 7),
        )
        for i in range(60)
    ]
    stage = [
        Rule(
            f"stage-{i}",
            "deal",
            OnStageChange("stage", to=(stages[i % 6],)),
            (send_alert("$owner_id", "stage {stage}"),),
            condition=gt("amount", i * 500),
        )
        for i in range(20)
    ]
    created = [
        Rule(f"created-{i}", "deal", on_created(), (add_tag(f"t{i}"),),
             condition=eq("source", f"s{i}"))
        for i in range(10)
    ]  # fmt: skip
    newly = [
        Rule(
            f"newly-{i}",
            "deal",
            on_updated(),
            (update_field(f"flag{i}", True),),
            condition=gt(f"f{(i * 3) % 30}", 995),
            newly_met=True,
        )
        for i in range(10)
    ]
    return watch + stage + created + newly


def build_events(n: int, seed: int = 7) -> list[Event]:
    rnd = random.Random(seed)
    stages = ["lead", "qualified", "proposal", "negotiation", "won", "lost"]
    records = {}
    for r in range(1000):
        rec = {
            "id": f"d{r}",
            "record_type": "deal",
            "stage": "lead",
            "amount": rnd.randint(0, 9999),
            "owner_id": f"u{r % 13}",
            "source": f"s{r % 40}",
        }
        rec.update({f"f{k}": rnd.randint(0, 1000) for k in range(40)})
        records[rec["id"]] = rec
    events = []
    for i in range(n):
        rid = f"d{rnd.randrange(1000)}"
        before = records[rid]
        after = dict(before)
        changes = {}
        if rnd.random() < 0.1:
            field = "stage"
            after[field] = rnd.choice(stages)
        else:
            field = f"f{rnd.randrange(40)}"
            after[field] = rnd.randint(0, 1000)
        changes[field] = (before[field], after[field])
        if rnd.random() < 0.3:
            extra = f"f{rnd.randrange(40)}"
            if extra != field:
                after[extra] = rnd.randint(0, 1000)
                changes[extra] = (before[extra], after[extra])
        records[rid] = after
        events.append(Event.changed(after, changes, id=f"e{i}", occurred_at=T0))
    return events


def bench_throughput(n_events: int) -> dict[str, object]:
    noop = lambda req: None  # noqa: E731
    handlers = {"create_task": noop, "send_alert": noop}
    rules = build_rules()
    t = time.perf_counter()
    events = build_events(n_events)
    build_s = time.perf_counter() - t
    runs, cpu = [], []
    actions = 0
    for _ in range(5):
        eng = Engine(rules, handlers=handlers, audit_limit=10_000)
        t, c = time.perf_counter(), time.process_time()
        actions = 0
        for ev in events:
            res = eng.process(ev, now=T0)
            actions += len(res.actions)
        runs.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    return {
        "rules": len(rules),
        "events": n_events,
        "wall_seconds_median": round(statistics.median(runs), 4),
        "events_per_second_median": round(n_events / statistics.median(runs)),
        "events_per_second_best": round(n_events / min(runs)),
        "events_per_cpu_second_median": round(n_events / statistics.median(cpu)),
        "events_per_cpu_second_best": round(n_events / min(cpu)),
        "actions_taken": actions,
        "event_build_seconds": round(build_s, 4),
        "aim_events_per_second": 50_000,
    }


def _dates(rng: np.random.Generator, n: int, lo_days: int, hi_days: int) -> np.ndarray:
    base = np.datetime64(T0.replace(tzinfo=None), "s")
    offs = rng.integers(lo_days * 86400, hi_days * 86400, size=n)
    return base + offs.astype("timedelta64[s]")


def bench_tick(n_records: int) -> dict[str, object]:
    rng = np.random.default_rng(11)
    n_deals, n_acc = int(n_records * 0.4), int(n_records * 0.3)
    n_con = n_records - n_deals - n_acc
    noop = lambda req: None  # noqa: E731
    eng = Engine(
        ex.standard_workflows(),
        handlers={"create_task": noop, "send_alert": noop, "send_email": noop},
        audit_limit=1000,
    )
    t = time.perf_counter()
    stages = np.array(["lead", "qualified", "proposal", "negotiation", "won", "lost"], dtype=object)
    eng.load_columns("deal", {
        "id": [f"d{i}" for i in range(n_deals)],
        "stage": stages[rng.integers(0, 6, n_deals)],
        "name": np.full(n_deals, "Deal", dtype=object),
        "manager_id": np.full(n_deals, "max", dtype=object),
        # last stage change between 16 days ago and 2 years ahead of "14 days stale"
        "stage_changed_at": _dates(rng, n_deals, -16, 700),
    })  # fmt: skip
    eng.load_columns("account", {
        "id": [f"a{i}" for i in range(n_acc)],
        "status": np.where(rng.random(n_acc) < 0.1, "churned", "active").astype(object),
        "name": np.full(n_acc, "Acme", dtype=object),
        "billing_email": np.full(n_acc, "ap@acme.test", dtype=object),
        "renewal_date": _dates(rng, n_acc, 58, 790),
    })  # fmt: skip
    eng.load_columns("contact", {
        "id": [f"c{i}" for i in range(n_con)],
        "lifecycle_stage": np.where(rng.random(n_con) < 0.5, "lead", "customer").astype(object),
        "status": np.full(n_con, "active", dtype=object),
        "created_at": _dates(rng, n_con, -800, -400),
        "last_activity_at": _dates(rng, n_con, -92, 640),
    })  # fmt: skip
    load_s = time.perf_counter() - t

    def timed(when: datetime) -> tuple[float, int, int, float]:
        t, c = time.perf_counter(), time.process_time()
        res = eng.tick(when)
        fired = sum(1 for e in res.audit for d in e.decisions if d.fired)
        return time.perf_counter() - t, fired, len(res.actions), time.process_time() - c

    catch_s, catch_fired, catch_actions, catch_cpu = timed(T0)
    daily = [timed(T0 + timedelta(days=d)) for d in range(1, 6)]
    empty = [timed(T0 + timedelta(days=5, hours=h)) for h in range(1, 4)]
    return {
        "records": n_records,
        "by_type": {"deal": n_deals, "account": n_acc, "contact": n_con},
        "rules": len(ex.standard_workflows()),
        "time_rules": 3,
        "load_columns_seconds": round(load_s, 3),
        "catch_up_tick": {
            "seconds": round(catch_s, 3),
            "cpu_seconds": round(catch_cpu, 3),
            "records_fired": catch_fired,
            "actions": catch_actions,
        },
        "daily_tick_seconds_median": round(statistics.median(d[0] for d in daily), 4),
        "daily_tick_cpu_seconds_median": round(statistics.median(d[3] for d in daily), 4),
        "daily_tick_records_fired_median": statistics.median(d[1] for d in daily),
        "daily_tick_actions_median": statistics.median(d[2] for d in daily),
        "empty_tick_seconds_median": round(statistics.median(e[0] for e in empty), 4),
        "empty_tick_cpu_seconds_median": round(statistics.median(e[3] for e in empty), 4),
        "aim_seconds": 2.0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    out = {
        "benchmark": "workflows",
        "python": platform.python_version(),
        "machine": platform.machine(),
        "throughput": bench_throughput(args.events),
        "tick": bench_tick(args.records),
        "max_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "load_average_1min_at_end": round(os.getloadavg()[0], 2),
        "note": "shared 2-core machine; cpu-second figures are less sensitive to contention",
    }
    print(json.dumps(out, indent=2))
    if not args.no_write:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
