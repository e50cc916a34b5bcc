"""Governance benchmark: consent checks per second and erasure of one person from a big store.

Run: ``python benchmarks/bench_governance.py [--people 1000000] [--records 1000000]``

Figures (written to ``benchmarks/results/governance.json``):

* consent ledger load rate (events appended per second, with the current-state index);
* ``may_contact`` single calls per second over random persons (aim >= 200k/s at 1M people);
* ``may_contact_many`` bulk checks per second;
* erasure of one person (by email) from an in-memory store of 1M records, through
  :class:`~crmcore.governance.Eraser` with a suppression list and an audit log (aim <= 50 ms),
  median over several persons;
* tombstoning one person's entries in an audit trail of ``--audit-entries`` entries (the audit
  erase scans every payload for the person's values: linear in the trail, reported apart).

The machine is shared: ``os.getloadavg()`` is recorded before and after, a bare ``dict.get`` loop
over the same persons is timed in the same run as a peer, and CPU-time rates
(``time.process_time``) are given next to wall-clock ones.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from crmcore.governance import (
    AuditLog,
    ConsentLedger,
    Eraser,
    Identifiers,
    MemoryRecordStore,
    SuppressionList,
)

RESULTS = Path(__file__).resolve().parent / "results" / "governance.json"
T0 = datetime(2024, 1, 1, tzinfo=UTC)


def rss_mb() -> float | None:
    try:
        import psutil
    except ImportError:
        return None
    return psutil.Process().memory_info().rss / 1e6


def build_ledger(n: int, rng: random.Random) -> tuple[ConsentLedger, float, int]:
    ledger = ConsentLedger()
    start = time.perf_counter()
    events = 0
    for i in range(n):
        pid = f"p{i}"
        r = rng.random()
        # half the people consent for the whole channel, half for one address
        cp = None if i % 2 else f"user{i}@example.com"
        ledger.record(pid, "email", "marketing", "opted_in", captured_at=T0, contact_point=cp)
        events += 1
        if r < 0.2:
            ledger.record(
                pid, "email", "marketing", "opted_out", captured_at=T0 + timedelta(days=30)
            )
            events += 1
        elif r < 0.3:
            ledger.record(pid, "sms", "marketing", "pending", captured_at=T0)
            events += 1
    return ledger, time.perf_counter() - start, events


def bench_checks(ledger: ConsentLedger, n: int, checks: int, rng: random.Random) -> dict:
    now = T0 + timedelta(days=60)
    ids = [f"p{rng.randrange(n)}" for _ in range(checks)]
    cps = [f"user{p[1:]}@example.com" for p in ids]
    may = ledger.may_contact
    # peer in the same run: a bare dict look-up per person (what the machine gives right now)
    plain = {f"p{i}": i for i in range(n)}
    get = plain.get
    runs_peer = []
    for _ in range(3):
        start = time.perf_counter()
        for p in ids:
            get(p)
        runs_peer.append(time.perf_counter() - start)
    peer = checks / statistics.median(runs_peer)
    del plain
    runs = []
    cpu_runs = []
    for _ in range(3):
        start, cpu = time.perf_counter(), time.process_time()
        for p in ids:
            may(p, "email", "marketing", now=now)
        runs.append(time.perf_counter() - start)
        cpu_runs.append(time.process_time() - cpu)
    single = checks / statistics.median(runs)
    single_cpu = checks / statistics.median(cpu_runs)
    runs_cp = []
    for _ in range(3):
        start = time.perf_counter()
        for p, c in zip(ids, cps, strict=True):
            may(p, "email", "marketing", contact_point=c, now=now)
        runs_cp.append(time.perf_counter() - start)
    single_cp = checks / statistics.median(runs_cp)
    runs_bulk = []
    allowed = 0
    for _ in range(3):
        start = time.perf_counter()
        batch = ledger.may_contact_many(ids, "email", "marketing", now=now)
        runs_bulk.append(time.perf_counter() - start)
        allowed = int(batch.allowed.sum())
    bulk = checks / statistics.median(runs_bulk)
    return {
        "checks": checks,
        "may_contact_per_s": round(single),
        "may_contact_per_cpu_s": round(single_cpu),
        "may_contact_with_contact_point_per_s": round(single_cp),
        "may_contact_many_per_s": round(bulk),
        "allowed_share": round(allowed / checks, 4),
        "peer_dict_get_per_s": round(peer),
        "may_contact_cost_in_dict_gets": round(peer / single, 2),
    }


def build_store(n: int) -> tuple[MemoryRecordStore, float]:
    store = MemoryRecordStore("crm")
    start = time.perf_counter()
    for i in range(n):
        store.add(
            {
                "id": f"r{i}",
                "person_id": f"p{i // 2}",
                "email": f"user{i // 2}@example.com",
                "phone": f"+4420{i:08d}",
                "first_name": f"First{i % 5000}",
                "last_name": f"Last{i % 7919}",
                "dob": f"19{50 + i % 50}-01-{1 + i % 28:02d}",
            }
        )
    return store, time.perf_counter() - start


def bench_erasure(store: MemoryRecordStore, n: int, rng: random.Random, trials: int) -> dict:
    audit = AuditLog()
    eraser = Eraser([store], suppression=SuppressionList("bench-salt"), audit=audit)
    times_eraser = []
    cpu_eraser = []
    times_store = []
    erased = []
    for t in range(trials):
        person = rng.randrange(n // 2)
        start, cpu = time.perf_counter(), time.process_time()
        report = eraser.erase_person(
            Identifiers(emails=[f"user{person}@example.com"]), actor="bench"
        )
        times_eraser.append(time.perf_counter() - start)
        cpu_eraser.append(time.process_time() - cpu)
        erased.append(report.total)
        other = rng.randrange(n // 2)
        start = time.perf_counter()
        store.erase(Identifiers(person_ids=[f"p{other}"]))
        times_store.append(time.perf_counter() - start)
        if t == 0:
            assert store.find(Identifiers(emails=[f"user{person}@example.com"])) == []
    return {
        "trials": trials,
        "eraser_median_ms": round(1000 * statistics.median(times_eraser), 3),
        "eraser_max_ms": round(1000 * max(times_eraser), 3),
        "eraser_median_cpu_ms": round(1000 * statistics.median(cpu_eraser), 3),
        "store_erase_median_ms": round(1000 * statistics.median(times_store), 3),
        "records_erased_per_person": statistics.median(erased),
        "audit_verifies": audit.verify().ok,
    }


def bench_audit_erase(entries: int, trials: int, rng: random.Random) -> dict:
    log = AuditLog()
    start = time.perf_counter()
    for i in range(entries):
        person = i % (entries // 4 or 1)
        log.record(
            "change",
            actor="bench",
            record_type="contact",
            record_id=f"r{i}",
            field="email",
            old=None,
            new=f"user{person}@example.com",
            subjects=[f"p{person}"],
            at=T0,
        )
    load_s = time.perf_counter() - start
    times = []
    tombstoned = []
    for _ in range(trials):
        person = rng.randrange(entries // 4 or 1)
        start = time.perf_counter()
        tombstoned.append(
            log.erase(subjects=[f"p{person}"], values=[f"user{person}@example.com"], at=T0)
        )
        times.append(time.perf_counter() - start)
    start = time.perf_counter()
    ok = log.verify().ok
    verify_s = time.perf_counter() - start
    return {
        "entries": entries,
        "load_s": round(load_s, 2),
        "trials": trials,
        "erase_median_ms": round(1000 * statistics.median(times), 3),
        "entries_tombstoned_per_person": statistics.median(tombstoned),
        "verify_s": round(verify_s, 2),
        "verifies": ok,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--people", type=int, default=1_000_000)
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--checks", type=int, default=200_000)
    parser.add_argument("--trials", type=int, default=25)
    parser.add_argument("--audit-entries", type=int, default=100_000)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    rng = random.Random(7)
    out: dict = {
        "benchmark": "governance",
        "python": sys.version.split()[0],
        "machine": platform.machine(),
        "people": args.people,
        "records": args.records,
        "loadavg_start": [round(x, 2) for x in os.getloadavg()],
    }
    before = rss_mb()
    ledger, load_s, events = build_ledger(args.people, rng)
    after = rss_mb()
    out["ledger"] = {
        "events": events,
        "load_s": round(load_s, 2),
        "events_per_s": round(events / load_s),
        "rss_mb": None if after is None or before is None else round(after - before),
    }
    print(f"ledger: {events} events for {args.people} people in {load_s:.1f}s")
    out["consent_checks"] = bench_checks(ledger, args.people, args.checks, rng)
    print("consent checks:", out["consent_checks"])
    del ledger
    store, store_s = build_store(args.records)
    out["store"] = {"records": args.records, "load_s": round(store_s, 2)}
    print(f"store: {args.records} records indexed in {store_s:.1f}s")
    out["erasure"] = bench_erasure(store, args.records, rng, args.trials)
    print("erasure:", out["erasure"])
    del store
    out["audit_erase"] = bench_audit_erase(args.audit_entries, 5, rng)
    print("audit erase:", out["audit_erase"])
    out["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    out["aims"] = {
        "consent_checks_per_s_ge_200k": out["consent_checks"]["may_contact_per_s"] >= 200_000,
        "erasure_le_50ms": out["erasure"]["eraser_median_ms"] <= 50,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
