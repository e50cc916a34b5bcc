"""Benchmark: the real-time match index on synthetic CRM contacts.

Generates contacts with ``benchmarks/synth.py`` (``generate_contacts(n, seed)``), trains the
``contacts`` preset model by batch dedupe on a sample, builds a :class:`MatchIndex` over ``n``
records, then measures, on held-out records of the same people:

* ``match`` latency (p50 / p99) for one new record;
* ``add`` latency (p50 / p99);
* ``save`` time, and ``load`` time and index memory in a FRESH process (RSS after loading minus
  RSS after imports), so the figure is the index alone;
* the file's ``records`` table: ``SELECT count(*)`` and a look-up by entity id on the saved
  index (CPU and wall), and, for scale, the same two queries on a 10,000-record copy rewritten in
  the earlier layout 2 (a view joining two JSON arrays, which SQLite runs as a nested loop);
* consistency: on ``--consistency-n`` records, adding one by one (shuffled) vs one batch run
  (``components`` clustering): the partitions must be equal;
* on a name-only company list (``--accounts-orgs``, ``accounts`` preset with its capped
  rare-word rule): ``match`` / ``add`` latency, candidates per look-up, and whether adding the
  queries one by one ends in the batch clusters;
* Splink's ``predict_between`` side by side through ``benchmarks/peers`` when it is available,
  with crmcore's ``match`` on the same base and queries (``--splink-n``, default 200k).

Usage::

    python benchmarks/bench_index.py [--n 1000000] [--queries 2000] [--adds 1000]
                                     [--consistency-n 50000] [--splink-n 200000]
                                     [--accounts-orgs 40000] [--quick]

Prints the figures and writes ``benchmarks/results/index.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import attrs
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from crmcore.io import Table, write_table
from crmcore.matching import (
    BlockOn,
    ClusterOptions,
    MatchSettings,
    accounts,
    contacts,
    dedupe,
)
from crmcore.matching.realtime import MatchIndex
from synth import generate_contacts

RESULTS = Path(__file__).resolve().parent / "results" / "index.json"
TRUTH = "entity_id"


def take(table: Table, rows: np.ndarray) -> Table:
    """The given rows of a table (truth column dropped)."""
    idx = rows.tolist()
    return Table({k: [v[i] for i in idx] for k, v in table.columns.items() if k != TRUTH})


def percentiles(values: list[float], cpu: list[float] | None = None) -> dict[str, float]:
    """Wall-clock percentiles (ms), and CPU-time ones (``cpu_*``: less sensitive to a busy
    machine; process CPU, so helper threads count) when given."""
    arr = np.array(values) * 1000.0
    out = {
        "p50_ms": round(float(np.percentile(arr, 50)), 3),
        "p90_ms": round(float(np.percentile(arr, 90)), 3),
        "p99_ms": round(float(np.percentile(arr, 99)), 3),
        "mean_ms": round(float(arr.mean()), 3),
        "count": len(values),
    }
    if cpu is not None:
        c = np.array(cpu) * 1000.0
        out["cpu_p50_ms"] = round(float(np.percentile(c, 50)), 3)
        out["cpu_p99_ms"] = round(float(np.percentile(c, 99)), 3)
    return out


def load_avg() -> list[float]:
    """1, 5 and 15 minute load averages (the machine is shared: read figures against them)."""
    return [round(x, 2) for x in os.getloadavg()]


def timed(fn: Callable[[], object]) -> tuple[object, float, float]:
    """Result, wall seconds and process CPU seconds of one call."""
    c = time.process_time()
    t = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t, time.process_time() - c


LOAD_CHILD = """
import json, sys, time, psutil, os
proc = psutil.Process(os.getpid())
from crmcore.matching.realtime import MatchIndex
base = proc.memory_info().rss
c = time.process_time()
t = time.perf_counter()
index = MatchIndex.load(sys.argv[1])
elapsed = time.perf_counter() - t
cpu = time.process_time() - c
rss = proc.memory_info().rss
print(json.dumps({"load_s": elapsed, "load_cpu_s": cpu, "index_rss_mb": (rss - base) / 1e6,
                  "records": len(index), "load_avg": os.getloadavg()}))
"""


def fresh_load(path: Path) -> dict[str, float]:
    """Load the saved index in a new process; time and memory of the index alone."""
    out = subprocess.run(
        [sys.executable, "-c", LOAD_CHILD, str(path)],
        check=True, capture_output=True, text=True,
    )
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def previous_figures(path: Path) -> dict[str, object]:
    """Headline figures of the run this one replaces (before / after in one file)."""
    try:
        old = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    keep = ("n_indexed", "build_s", "build_cpu_s", "save_s", "save_cpu_s", "load_s",
            "load_cpu_s", "index_memory_mb", "file_mb", "load_avg_start")
    out: dict[str, object] = {k: old[k] for k in keep if k in old}
    for part in ("match", "add"):
        if isinstance(old.get(part), dict):
            out[part] = {k: v for k, v in old[part].items()
                         if k.endswith("_ms") or k == "load_avg"}
    if "git_commit" in old:
        out["git_commit"] = old["git_commit"]
    return out


def git_commit() -> str:
    """Commit of the checkout measured ("" outside git)."""
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], check=True,
                             capture_output=True, text=True, cwd=Path(__file__).parent)
    except (OSError, subprocess.CalledProcessError):
        return ""
    return out.stdout.strip()


def _time_sql(path: Path, sql: str, args: tuple[object, ...] = ()) -> dict[str, object]:
    """Wall and CPU seconds of one query on a fresh connection, and its first row."""
    import sqlite3

    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        row, wall, cpu = timed(lambda: con.execute(sql, args).fetchall())
    finally:
        con.close()
    rows = row if isinstance(row, list) else []
    return {"wall_s": round(wall, 4), "cpu_s": round(cpu, 4), "rows": len(rows),
            "first": list(rows[0]) if rows else None}


def records_view(path: Path) -> dict[str, object]:
    """The documented ``records`` table of a saved index: count and a look-up by entity."""
    import sqlite3

    with sqlite3.connect(path) as con:
        (entity,) = con.execute(
            "SELECT entity_id FROM records WHERE pos = (SELECT count(*) / 2 FROM records)"
        ).fetchone()
    return {
        "count": _time_sql(path, "SELECT count(*) FROM records"),
        "by_entity": _time_sql(path, "SELECT * FROM records WHERE entity_id = ?", (entity,)),
    }


def layout_2_view(path: Path, n: int) -> dict[str, object]:
    """The same queries on an index of n records rewritten into layout 2 (the old view)."""
    import sqlite3

    with sqlite3.connect(path) as con:
        rows = con.execute("SELECT record_id, entity_id FROM records ORDER BY pos LIMIT ?",
                           (n,)).fetchall()
        con.executescript(
            """
            DROP TABLE records;
            CREATE TABLE lists(name TEXT PRIMARY KEY, value_json TEXT NOT NULL);
            CREATE VIEW records(pos, record_id, entity_id) AS
                SELECT r.key, r.value, e.value
                FROM json_each((SELECT value_json FROM lists WHERE name = 'record_ids')) AS r
                JOIN json_each((SELECT value_json FROM lists WHERE name = 'entity_ids')) AS e
                ON e.key = r.key;
            """
        )
        con.executemany("INSERT INTO lists VALUES (?, ?)",
                        [("record_ids", json.dumps([r for r, _ in rows])),
                         ("entity_ids", json.dumps([e for _, e in rows]))])
    return {"records": len(rows), **records_view(path)}


def partition(mapping: dict[str, str]) -> set[frozenset[str]]:
    groups: dict[str, set[str]] = {}
    for r, e in mapping.items():
        groups.setdefault(e, set()).add(r)
    return {frozenset(g) for g in groups.values()}


def consistency(n: int, seed: int, settings: MatchSettings, model: object) -> dict[str, object]:
    """Add n records one by one (shuffled) and compare with one batch run over all of them.

    The index is told which adaptive rules the batch run used on these records (the documented
    rule: build() decides them from its records as batch does; an index started empty is given
    them); a second index that uses none of them shows what that rule is worth.
    """
    table = generate_contacts(n, seed=seed + 1)
    table = take(table, np.arange(table.n_rows))
    t = time.perf_counter()
    res = dedupe(table, id_column="record_id", settings=settings, model=model)  # type: ignore[arg-type]
    batch_s = time.perf_counter() - t
    used = [r.name for r in settings.blocking
            if isinstance(r, BlockOn) and r.max_pairs_per_record is not None
            and r.name not in res.analysis.skipped]
    rows = list(table.rows())
    random.Random(seed).shuffle(rows)
    batch = partition(dict(zip([str(i) for i in res.ids], res.entity_ids, strict=True)))
    out: dict[str, object] = {"records": n, "batch_entities": len(batch),
                              "batch_skipped_rules": list(res.analysis.skipped),
                              "batch_s": round(batch_s, 2)}
    for label, adaptive in (("incremental", used), ("incremental_without_adaptive_rules", [])):
        index = MatchIndex(model, settings, adaptive=adaptive)  # type: ignore[arg-type]
        t = time.perf_counter()
        for r in rows:
            index.add(r)
        inc_s = time.perf_counter() - t
        inc = partition(index.entities())
        out[label] = {
            "rules": [r.name for r in index.rules],
            "entities": len(inc),
            "same_partition_as_batch": batch == inc,
            "clusters_differing": len(batch ^ inc),
            "seconds": round(inc_s, 2),
        }
    out["load_avg"] = load_avg()
    return out


def accounts_latency(n_orgs: int, n_queries: int, seed: int) -> dict[str, object]:
    """Look-up and add latency on a name-only company list with the ``accounts`` preset,
    whose rare-word rule caps blocks (``max_block_size``): a look-up ignores the blocks of
    common words (GROUP, SERVICES) as batch does. Also checks that adding the queries one by
    one ends in the clusters of one batch run over base and queries."""
    from synth import generate_companies

    table = generate_companies(n_orgs, seed=seed + 3)
    rows = take(table, np.random.default_rng(seed).permutation(table.n_rows))
    n = rows.n_rows - n_queries
    base = take(rows, np.arange(n))
    queries = list(take(rows, np.arange(n, rows.n_rows)).rows())
    settings = attrs.evolve(accounts(base.column_names),
                            cluster=ClusterOptions(method="components"))
    model = dedupe(base, id_column="record_id", settings=settings).model
    index = MatchIndex.build(model, settings, base)
    for r in queries[:20]:
        index.match(r)
    lat: list[float] = []
    cpu: list[float] = []
    k: list[int] = []
    for r in queries:
        _, wall, c = timed(lambda r=r: index.match(r))  # type: ignore[misc]
        lat.append(wall)
        cpu.append(c)
        k.append(len(index._candidates(index._keys(index._prepare(r)), None)))
    out: dict[str, object] = {
        "records": n, "queries": n_queries,
        "rules": [r.name for r in index.rules],
        "match": {**percentiles(lat, cpu),
                  "candidates": {"p50": float(np.percentile(k, 50)),
                                 "p99": float(np.percentile(k, 99)), "max": int(max(k))}},
    }
    lat, cpu = [], []
    for r in queries:
        _, wall, c = timed(lambda r=r: index.add(r))  # type: ignore[misc]
        lat.append(wall)
        cpu.append(c)
    out["add"] = percentiles(lat, cpu)
    whole = take(rows, np.arange(rows.n_rows))
    res = dedupe(whole, id_column="record_id", settings=settings, model=model)
    batch = partition(dict(zip([str(i) for i in res.ids], res.entity_ids, strict=True)))
    out["same_partition_as_batch"] = batch == partition(index.entities())
    out["load_avg"] = load_avg()
    return out


def splink_side_by_side(
    n: int, n_queries: int, seed: int, settings: MatchSettings, model: object
) -> dict[str, object]:
    """Splink's predict_between and crmcore's match on the same base and queries."""
    try:
        from peers import run_splink
    except ImportError as exc:
        return {"available": False, "reason": f"benchmarks/peers not importable: {exc}"}
    table = generate_contacts(n + n_queries, seed=seed + 2)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "contacts.parquet"
        write_table(table, path)
        splink = run_splink("predict_between", path, n=n, queries=n_queries, threshold=0.9)
    base = take(table, np.arange(n))
    queries = list(take(table, np.arange(n, n + n_queries)).rows())
    index = MatchIndex.build(model, settings, base)  # type: ignore[arg-type]
    for r in queries[:20]:
        index.match(r)
    lat = []
    cpu = []
    found = 0
    for r in queries:
        got, wall, c = timed(lambda r=r: index.match(r))  # type: ignore[misc]
        found += bool(got)
        lat.append(wall)
        cpu.append(c)
    ours = {**percentiles(lat, cpu), "queries_with_a_match": found}
    out: dict[str, object] = {
        "n": n,
        "queries": n_queries,
        "splink": splink if splink is not None else {"available": False},
        "crmcore_match": ours,
        "load_avg": load_avg(),
    }
    if splink is not None and "latency_ms" in splink:
        out["splink_p50_over_crmcore_p50"] = round(
            splink["latency_ms"]["p50"] / max(ours["p50_ms"], 1e-9), 1)
    return out


def guarded_adds(args: argparse.Namespace) -> int:
    """The add latency with the guarded cluster method (default options, and strict ones under
    which the split cuts many components), written under
    ``guarded_default.<label>`` of the results file (the other figures are kept).

    Uses only the public API, so the same script measures the code before the index applied
    the guarded split (run it with that tree first on the path) and after; with both labels
    present it adds the after / before ratios. On ``--consistency-n`` records it also checks
    that adding one by one (shuffled) ends in the batch run's clusters with the same options.
    """
    extra = args.queries + args.adds
    table = generate_contacts(args.n + extra, seed=args.seed)
    order = np.random.default_rng(args.seed).permutation(table.n_rows)
    base = take(table, np.sort(order[: args.n]))
    adds = list(take(table, order[args.n + args.queries :]).rows())
    del table
    settings = attrs.evolve(contacts(base.column_names), cluster=ClusterOptions())
    sample = take(base, np.arange(min(args.train, base.n_rows)))
    model = dedupe(sample, id_column="record_id", settings=settings).model
    out: dict[str, object] = {
        "label": args.guarded_label, "git_commit": git_commit(), "n_indexed": args.n,
    }
    # the default options, and strict ones under which the split cuts many components
    for key, options in (("add", ClusterOptions()),
                         ("add_strict", ClusterOptions(max_size=4, min_density=0.9))):
        chosen = attrs.evolve(settings, cluster=options)
        c = time.process_time()
        index = MatchIndex.build(model, chosen, base)
        build_cpu = time.process_time() - c
        lat: list[float] = []
        cpu: list[float] = []
        c = time.process_time()
        for r in adds:
            _, wall, used = timed(lambda r=r, index=index: index.add(r))  # type: ignore[misc]
            lat.append(wall)
            cpu.append(used)
        out[key] = {**percentiles(lat, cpu), "cluster": attrs.asdict(options),
                    "build_cpu_s": round(build_cpu, 2),
                    "adds_cpu_s": round(time.process_time() - c, 2),
                    "entities": len(set(index.entities().values())), "load_avg": load_avg()}
        print(f"guarded {key} ({args.guarded_label}): {out[key]}")
        del index
    if args.consistency_n:
        small = generate_contacts(args.consistency_n, seed=args.seed + 1)
        small = take(small, np.arange(small.n_rows))
        rows = list(small.rows())
        random.Random(args.seed).shuffle(rows)
        plain = dedupe(small, id_column="record_id", model=model, settings=attrs.evolve(
            settings, cluster=ClusterOptions(method="components")))
        checks = {}
        # the default options, and strict ones under which the split cuts many components
        for name, options in (("default", ClusterOptions()),
                              ("strict", ClusterOptions(max_size=4, min_density=0.9))):
            chosen = attrs.evolve(settings, cluster=options)
            res = dedupe(small, id_column="record_id", settings=chosen, model=model)
            batch = partition(dict(zip([str(i) for i in res.ids], res.entity_ids, strict=True)))
            used = [r.name for r in chosen.blocking
                    if isinstance(r, BlockOn) and r.max_pairs_per_record is not None
                    and r.name not in res.analysis.skipped]
            inc_index = MatchIndex(model, chosen, adaptive=used)
            for r in rows:
                inc_index.add(r)
            inc = partition(inc_index.entities())
            checks[name] = {
                "cluster": attrs.asdict(options), "batch_entities": len(batch),
                "incremental_entities": len(inc), "same_partition_as_batch": batch == inc,
                "clusters_differing": len(batch ^ inc),
            }
        out["consistency"] = {"records": args.consistency_n,
                              "components_entities": len(set(plain.entity_ids)), **checks}
        print(f"guarded consistency ({args.guarded_label}): {out['consistency']}")
    try:
        figures = json.loads(args.out.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        figures = {}
    section = figures.setdefault("guarded_default", {})
    section[args.guarded_label] = out
    if "before" in section and "after" in section:
        ratios: dict[str, dict[str, float]] = {}
        for key in ("add", "add_strict"):
            b, a = section["before"][key], section["after"][key]
            ratios[key] = {k: round(a[k] / max(b[k], 1e-9), 2)
                           for k in ("p50_ms", "p99_ms", "cpu_p50_ms", "cpu_p99_ms", "mean_ms",
                                     "adds_cpu_s")}
        section["after_over_before"] = ratios
    args.out.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    print(f"wrote guarded_default.{args.guarded_label} to {args.out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="records indexed")
    parser.add_argument("--queries", type=int, default=2000)
    parser.add_argument("--adds", type=int, default=1000)
    parser.add_argument("--train", type=int, default=100_000, help="records used to train")
    parser.add_argument("--consistency-n", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="small sizes (CI)")
    parser.add_argument("--splink-n", type=int, default=200_000,
                        help="base size of the Splink predict_between side-by-side (0: skip)")
    parser.add_argument("--splink-queries", type=int, default=100)
    parser.add_argument("--accounts-orgs", type=int, default=40_000,
                        help="organisations of the name-only company list (0: skip)")
    parser.add_argument("--accounts-queries", type=int, default=1000)
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--guarded-label", default=None,
                        help="only measure adds with the default (guarded) cluster method, "
                             "written under guarded_default.<label> (e.g. before, after)")
    args = parser.parse_args(argv)
    if args.quick:
        args.n, args.queries, args.adds = 20_000, 300, 200
        args.train, args.consistency_n = 20_000, 3000
        args.splink_n, args.splink_queries = 5000, 20
        args.accounts_orgs, args.accounts_queries = 3000, 200
    if args.guarded_label:
        return guarded_adds(args)

    import psutil

    proc = psutil.Process(os.getpid())
    previous = previous_figures(args.out)
    figures: dict[str, object] = {
        "benchmark": "index",
        "load_avg_start": load_avg(),
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "n_indexed": args.n,
        "seed": args.seed,
        "git_commit": git_commit(),
    }
    extra = args.queries + args.adds
    t = time.perf_counter()
    table = generate_contacts(args.n + extra, seed=args.seed)
    figures["generate_s"] = round(time.perf_counter() - t, 2)
    order = np.random.default_rng(args.seed).permutation(table.n_rows)
    base_rows = np.sort(order[: args.n])
    query_rows = order[args.n : args.n + args.queries]
    add_rows = order[args.n + args.queries :]
    base = take(table, base_rows)
    queries = list(take(table, query_rows).rows())
    adds = list(take(table, add_rows).rows())
    del table
    print(f"generated {args.n + extra:,} contacts in {figures['generate_s']} s")

    settings = attrs.evolve(
        contacts(base.column_names), cluster=ClusterOptions(method="components")
    )
    t = time.perf_counter()
    sample = take(base, np.arange(min(args.train, base.n_rows)))
    model = dedupe(sample, id_column="record_id", settings=settings).model
    figures["train_s"] = round(time.perf_counter() - t, 2)
    print(f"trained on {sample.n_rows:,} records in {figures['train_s']} s")

    rss0 = proc.memory_info().rss
    c = time.process_time()
    t = time.perf_counter()
    index = MatchIndex.build(model, settings, base)
    figures["build_s"] = round(time.perf_counter() - t, 2)
    figures["build_cpu_s"] = round(time.process_time() - c, 2)
    figures["load_avg_after_build"] = load_avg()
    figures["build_rss_delta_mb"] = round((proc.memory_info().rss - rss0) / 1e6, 1)
    print(f"built index over {len(index):,} records in {figures['build_s']} s "
          f"(CPU {figures['build_cpu_s']} s) "
          f"(RSS +{figures['build_rss_delta_mb']} MB, includes batch pairs)")

    for r in queries[:50]:  # warm caches
        index.match(r)
    lat: list[float] = []
    cpu: list[float] = []
    hits = 0
    k: list[int] = []
    match = index.match
    for r in queries:
        found, wall, c = timed(lambda r=r: match(r))  # type: ignore[misc]
        lat.append(wall)
        cpu.append(c)
        hits += bool(found)
        k.append(len(index._candidates(index._keys(index._prepare(r)), None)))
    figures["match"] = {
        **percentiles(lat, cpu), "queries_with_a_match": hits,
        "candidates_scored": {"p50": float(np.percentile(k, 50)),
                              "p99": float(np.percentile(k, 99)), "max": int(max(k))},
        "load_avg": load_avg(),
    }
    print(f"match: {figures['match']}")

    lat = []
    cpu = []
    add = index.add
    for r in adds:
        _, wall, c = timed(lambda r=r: add(r))  # type: ignore[misc]
        lat.append(wall)
        cpu.append(c)
    figures["add"] = {**percentiles(lat, cpu), "load_avg": load_avg()}
    print(f"add: {figures['add']}")

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "index.sqlite"
        c = time.process_time()
        t = time.perf_counter()
        index.save(path)
        figures["save_s"] = round(time.perf_counter() - t, 2)
        figures["save_cpu_s"] = round(time.process_time() - c, 2)
        figures["file_mb"] = round(path.stat().st_size / 1e6, 1)
        del index
        loaded = fresh_load(path)
        figures["records_view"] = {"records": args.n + args.adds, **records_view(path),
                                   "layout_2": layout_2_view(path, 10_000),
                                   "load_avg": load_avg()}
        print(f"records table: {figures['records_view']}")
    figures["load_s"] = round(loaded["load_s"], 2)
    figures["load_cpu_s"] = round(loaded["load_cpu_s"], 2)
    figures["load_avg_at_load"] = [round(x, 2) for x in loaded["load_avg"]]  # type: ignore[attr-defined]
    figures["index_memory_mb"] = round(loaded["index_rss_mb"], 1)
    print(f"save {figures['save_s']} s ({figures['file_mb']} MB); fresh-process load "
          f"{figures['load_s']} s, index memory {figures['index_memory_mb']} MB")

    if args.consistency_n:
        figures["consistency"] = consistency(args.consistency_n, args.seed, settings, model)
        print(f"consistency: {figures['consistency']}")

    if args.accounts_orgs:
        figures["accounts"] = accounts_latency(args.accounts_orgs, args.accounts_queries,
                                               args.seed)
        print(f"accounts: {figures['accounts']}")

    if args.splink_n:
        figures["splink_side_by_side"] = splink_side_by_side(
            args.splink_n, args.splink_queries, args.seed, settings, model
        )
        print(f"splink side by side: {figures['splink_side_by_side']}")

    if previous:
        figures["previous_run"] = previous
    figures["aims"] = {
        "match_p50_ms<=2": figures["match"]["p50_ms"] <= 2,  # type: ignore[index]
        "match_p99_ms<=10": figures["match"]["p99_ms"] <= 10,  # type: ignore[index]
        "add_p50_ms<=5": figures["add"]["p50_ms"] <= 5,  # type: ignore[index]
        "index_memory_mb<=2000": figures["index_memory_mb"] <= 2000,  # type: ignore[operator]
        "load_s<=10": figures["load_s"] <= 10,  # type: ignore[operator]
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    return 0



if __name__ == "__main__":
    raise SystemExit(main())
