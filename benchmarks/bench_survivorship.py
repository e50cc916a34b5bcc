"""Benchmark: golden records for 1M source records in 500k entities (columnar path).

Generates simple synthetic CRM columns in-process (no files, no other helpers' code), runs
:func:`crmcore.survivorship.golden_records` with the ``contacts`` preset rules, prints the figures
and writes them to ``benchmarks/results/survivorship.json``.

No open-source peer builds golden records, so the reference measured side by side in the same run
is crmcore's own object path: :func:`crmcore.survivorship.merge` entity by entity (what a
hand-written loop over clusters does) on a smaller sample, against the columnar path on the same
sample. Wall times on a shared machine are noisy: CPU seconds and the load average are recorded.

Usage::

    python benchmarks/bench_survivorship.py [--records 1000000] [--entities 500000] [--repeat 3]
        [--reference-records 20000]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import time
from pathlib import Path

import numpy as np

from crmcore.io import Table
from crmcore.survivorship import SourceRecord, golden_records, merge, preset_rules

RESULTS = Path(__file__).resolve().parent / "results" / "survivorship.json"


def synthetic(n_records: int, n_entities: int, seed: int = 7) -> tuple[Table, list[str]]:
    """Synthetic contacts: every entity gets at least one record, the rest spread at random."""
    rng = np.random.default_rng(seed)
    entity = np.concatenate(
        [np.arange(n_entities), rng.integers(0, n_entities, n_records - n_entities)]
    )
    rng.shuffle(entity)
    first = np.array(["Ann", "Bob", "Robert", "Maria", "Li", "Jose", "Anna", "Tom", "", "Eve"])
    last = np.array(["Smith", "Jones", "Garcia", "Muller", "Rossi", "Chen", "Kim", "", "Brown"])
    titles = np.array(["VP Sales", "Sales Director", "CEO", "CTO", "", "Engineer", "Buyer"])
    cities = np.array(["Paris", "Lyon", "Berlin", "London", "", "Madrid", "Rome", "Oslo"])
    sources = np.array(["salesforce", "hubspot", "webform", "erp"])
    ent_s = entity.astype(str)
    variant = rng.integers(0, 3, n_records).astype(str)
    emails = np.char.add(np.char.add(np.char.add("p", ent_s), np.char.add(".", variant)), "@ex.com")
    emails = np.where(rng.random(n_records) < 0.1, "", emails)
    phones = np.char.add("+3361", np.char.zfill(((entity * 7 + rng.integers(0, 2, n_records))
                                                 % 10**7).astype(str), 7))
    phones = np.where(rng.random(n_records) < 0.2, "", phones)
    day = rng.integers(0, 1500, n_records)
    updated = (np.datetime64("2021-01-01T00:00:00") + day.astype("timedelta64[D]")
               + rng.integers(0, 86400, n_records).astype("timedelta64[s]")).astype(str)
    created = (np.datetime64("2019-01-01") + (day // 2).astype("timedelta64[D]")).astype(str)
    cols = {
        "record_id": np.char.add("r", np.arange(n_records).astype(str)),
        "source_system": sources[rng.integers(0, len(sources), n_records)],
        "first_name": first[(entity + rng.integers(0, 2, n_records)) % len(first)],
        "last_name": last[entity % len(last)],
        "email": emails,
        "phone": phones,
        "title": titles[rng.integers(0, len(titles), n_records)],
        "company": np.char.add("Company ", (entity % 50_000).astype(str)),
        "city": cities[rng.integers(0, len(cities), n_records)],
        "country": np.array(["FR", "DE", "GB", ""])[entity % 4],
        "created_at": created,
        "updated_at": updated,
    }
    table = Table({k: [v or None for v in col.tolist()] for k, col in cols.items()})
    return table, np.char.add("e", ent_s).tolist()


def reference_run(n_records: int, rules: object) -> dict[str, float]:
    """Columnar path vs merge() per entity on the same small sample (same process, same run)."""
    table, entities = synthetic(n_records, n_records // 2, seed=11)
    golden_records(*synthetic(200, 100, seed=3), rules)  # type: ignore[arg-type]  # warm-up
    t0, c0 = time.perf_counter(), time.process_time()
    golden_records(table, entities, rules)  # type: ignore[arg-type]
    bulk_s, bulk_cpu = time.perf_counter() - t0, time.process_time() - c0
    t0, c0 = time.perf_counter(), time.process_time()
    groups: dict[str, list[SourceRecord]] = {}
    for row, ent in zip(table.rows(), entities, strict=True):
        when = row["updated_at"]
        groups.setdefault(ent, []).append(SourceRecord(
            str(row["record_id"]), str(row["source_system"] or "unknown"),
            None if when is None else dt.datetime.fromisoformat(when),
            {k: v for k, v in row.items() if k not in ("record_id", "source_system")},
        ))
    for ent, recs in groups.items():
        merge(recs, rules, entity_id=ent)  # type: ignore[arg-type]
    merge_s, merge_cpu = time.perf_counter() - t0, time.process_time() - c0
    return {
        "records": n_records,
        "columnar_s": round(bulk_s, 3),
        "columnar_cpu_s": round(bulk_cpu, 3),
        "merge_per_entity_s": round(merge_s, 3),
        "merge_per_entity_cpu_s": round(merge_cpu, 3),
        "speedup_cpu": round(merge_cpu / bulk_cpu, 1) if bulk_cpu else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--entities", type=int, default=500_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--reference-records", type=int, default=20_000,
                        help="sample size of the merge()-per-entity reference (0: skip)")
    parser.add_argument("--no-write", action="store_true", help="do not write the JSON file")
    args = parser.parse_args()
    t0 = time.perf_counter()
    table, entities = synthetic(args.records, args.entities)
    gen_s = time.perf_counter() - t0
    rules = preset_rules("contacts")
    load_before = os.getloadavg()[0]
    reference = reference_run(args.reference_records, rules) if args.reference_records else None
    times, cpu = [], []
    golden = lineage = None
    for _ in range(args.repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        golden, lineage = golden_records(table, entities, rules)
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    assert golden is not None
    assert lineage is not None
    sizes = np.bincount(np.unique(np.array(entities), return_inverse=True)[1])
    accounted = sum(int(x) for x in golden.column("n_records"))
    peak_rss = None
    try:
        import psutil

        peak_rss = psutil.Process().memory_info().rss / 2**20
    except ImportError:
        pass
    result = {
        "benchmark": "survivorship.golden_records",
        "records": args.records,
        "entities": int(golden.n_rows),
        "singleton_entities": int((sizes == 1).sum()),
        "largest_entity": int(sizes.max()),
        "fields": len(table.column_names) - 2,
        "lineage_rows": int(lineage.n_rows),
        "records_accounted_for": accounted,
        "generate_s": round(gen_s, 2),
        "times_s": [round(t, 2) for t in times],
        "median_s": round(statistics.median(times), 2),
        "cpu_times_s": [round(t, 2) for t in cpu],
        "median_cpu_s": round(statistics.median(cpu), 2),
        "load_average_1m_before": round(load_before, 2),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "cpu_count": os.cpu_count(),
        "records_per_s": round(args.records / statistics.median(times)),
        "aim_s": 10.0,
        "reference_same_run": reference,
        "rss_mib_after": None if peak_rss is None else round(peak_rss),
        "python": platform.python_version(),
        "machine": platform.machine(),
    }
    print(json.dumps(result, indent=2))
    if not args.no_write:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
