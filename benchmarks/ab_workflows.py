"""Same-process A/B of the workflow benchmark: one commit against another.

Run: ``python benchmarks/ab_workflows.py --base a3fb7cb [--new HEAD] [--events 20000]
[--records 200000]``. Writes ``benchmarks/results/workflows_ab.json``.

Both versions of ``crmcore`` (and of ``bench_workflows.py``) are imported into one process:
each commit's ``src`` and ``benchmarks`` are taken with ``git archive`` into a temporary folder
(both sides the same way), imported, and their modules set aside. Before each
measurement the measured side's modules are put back in ``sys.modules`` (function-level imports
find their own version). Rounds alternate the order (AB, BA, ...) so drift in the machine's
load falls on both sides. Each round runs each side's own ``bench_throughput`` (one repeat)
and ``bench_tick``; the figures compared are CPU seconds (less sensitive to the shared
machine's contention than wall time), as the ratio of the medians over the rounds
(``new / base``: below 1 is faster).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import platform
import statistics
import subprocess
import sys
import tarfile
import tempfile
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "workflows_ab.json"
OURS = ("crmcore", "bench_workflows", "synth")


def _ours(name: str) -> bool:
    return any(name == p or name.startswith(p + ".") for p in OURS)


def _extract(commit: str, into: Path) -> Path:
    """The commit's ``src`` and ``benchmarks`` under ``into``."""
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", commit, "src", "benchmarks"],
        check=True, capture_output=True,
    ).stdout
    into.mkdir(parents=True)
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into


def _load_side(root: Path) -> dict[str, types.ModuleType]:
    """Import ``bench_workflows`` (and the crmcore it imports) from ``root``; return the modules
    and take them out of ``sys.modules``."""
    paths = [str(root / "src"), str(root / "benchmarks")]
    sys.path[:0] = paths
    try:
        import bench_workflows  # noqa: F401  (imports crmcore from root)

        modules = {k: v for k, v in sys.modules.items() if _ours(k)}
    finally:
        del sys.path[: len(paths)]
        for k in [k for k in sys.modules if _ours(k)]:
            del sys.modules[k]
    crm = modules["crmcore"]
    assert Path(crm.__file__ or "").is_relative_to(root), crm.__file__
    return modules


@contextlib.contextmanager
def _active(modules: dict[str, types.ModuleType]) -> Iterator[types.ModuleType]:
    """The side's modules in ``sys.modules`` while it runs."""
    for k in [k for k in sys.modules if _ours(k)]:
        del sys.modules[k]
    sys.modules.update(modules)
    try:
        yield modules["bench_workflows"]
    finally:
        for k in [k for k in sys.modules if _ours(k)]:
            del sys.modules[k]


def _measure(bench: types.ModuleType, events: int, records: int) -> dict[str, float]:
    thr = bench.bench_throughput(events, repeats=1)
    tick = bench.bench_tick(records)
    peer = thr["peer_same_engine_without_rule_index"]
    return {
        "process_cpu_seconds": events / thr["events_per_cpu_second_median"],
        "host_path_cpu_seconds": events
        / thr["host_path_event_updated_plus_process"]["events_per_cpu_second_median"],
        "without_field_index_cpu_seconds": events / peer["events_per_cpu_second_median"],
        "sqlite_store_cpu_seconds": thr["sqlite_store"]["events"]
        / thr["sqlite_store"]["events_per_cpu_second_median"],
        "catch_up_tick_cpu_seconds": tick["catch_up_tick"]["cpu_seconds"],
        "daily_tick_cpu_seconds": tick["daily_tick_cpu_seconds_median"],
        "empty_tick_cpu_seconds": tick["empty_tick_cpu_seconds_median"],
        "busy_day_tick_cpu_seconds": tick["busy_day_tick_2pct_due"]["cpu_seconds"],
        "actions_taken": thr["actions_taken"],
        "actions_taken_without_field_index": peer["actions_taken"],
        "peer_loop_records_due": tick["peer_python_loop_due_check_only"]["records_due"],
        "daily_tick_records_fired": tick["daily_tick_records_fired_median"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--base", default="a3fb7cb")
    parser.add_argument("--new", default="HEAD")
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    base_commit = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", args.base], check=True, capture_output=True,
        text=True,
    ).stdout.strip()
    new_commit = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", args.new], check=True, capture_output=True,
        text=True,
    ).stdout.strip()
    load_start = round(os.getloadavg()[0], 2)
    with tempfile.TemporaryDirectory() as tmp:
        sides = {
            side: _load_side(_extract(commit, Path(tmp) / side))
            for side, commit in (("base", base_commit), ("new", new_commit))
        }
        runs: dict[str, list[dict[str, float]]] = {"base": [], "new": []}
        for r in range(args.rounds):
            order = ("base", "new") if r % 2 == 0 else ("new", "base")
            for side in order:
                with _active(sides[side]) as bench:
                    runs[side].append(_measure(bench, args.events, args.records))
                print(f"round {r + 1} {side}: {runs[side][-1]}", file=sys.stderr)
    keys = [k for k in runs["new"][0] if k.endswith("cpu_seconds")]
    med = {s: {k: statistics.median(x[k] for x in runs[s]) for k in runs[s][0]} for s in runs}
    out: dict[str, Any] = {
        "benchmark": "workflows A/B (same process)",
        "command": f"python benchmarks/ab_workflows.py --base {args.base} --new {args.new} "
        f"--events {args.events} --records {args.records} --rounds {args.rounds}",
        "base_commit": base_commit,
        "new_commit": new_commit,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "events": args.events,
        "records": args.records,
        "rounds": args.rounds,
        "load_average_1min_at_start": load_start,
        "median_cpu_seconds": {s: {k: round(med[s][k], 4) for k in keys} for s in med},
        "ratio_of_medians_new_over_base": {k: round(med["new"][k] / med["base"][k], 3)
                                           for k in keys},
        "same_results": {
            k: [x[k] for x in runs["base"]] == [x[k] for x in runs["new"]]
            for k in runs["new"][0] if not k.endswith("cpu_seconds")
        },
        "load_average_1min_at_end": round(os.getloadavg()[0], 2),
        "note": "shared 2-core machine under other sessions' test runs; CPU seconds per side, "
        "median over the rounds; rounds alternate the order",
    }
    print(json.dumps(out, indent=2))
    if not args.no_write:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
