"""What a look at a run costs: the HTML report and the charts next to the matching job itself.

For synthetic contacts (``benchmarks/synth.py``) of each size: CPU and wall seconds of
``dedupe``, of ``result.report(path)`` (charts, pattern samples with waterfalls, largest and
weakest clusters; the threshold chart re-clusters at 16 thresholds), the report's size, and of
each chart alone. JSON to ``benchmarks/results/report.json``.

Usage: ``python benchmarks/bench_report.py [--sizes 10000 100000] [--out PATH]``
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from crmcore.display import charts  # noqa: E402
from crmcore.matching import dedupe  # noqa: E402
from synth import generate_contacts  # noqa: E402


def timed(fn: Any) -> tuple[Any, float, float]:
    """Result, CPU seconds and wall seconds of one call."""
    c, w = time.process_time(), time.perf_counter()
    out = fn()
    return out, time.process_time() - c, time.perf_counter() - w


def run(n: int) -> dict[str, Any]:
    table = generate_contacts(n, seed=11)
    table.columns.pop("entity_id")
    result, cpu, wall = timed(lambda: dedupe(table, id_column="record_id"))
    row: dict[str, Any] = {"records": n, "dedupe_cpu_s": round(cpu, 2),
                           "dedupe_wall_s": round(wall, 2), "candidate_pairs": len(result.pairs)}
    with tempfile.TemporaryDirectory() as tmp:
        path, cpu, wall = timed(lambda: result.report(Path(tmp) / "report.html"))
        row.update(report_cpu_s=round(cpu, 2), report_wall_s=round(wall, 2),
                   report_mb=round(path.stat().st_size / 1e6, 2))
    member = str(result.ids[int(result.matches.left[0])])
    for name, fn in {
        "threshold_chart": lambda: charts.threshold_chart(result),
        "match_weights_chart": lambda: charts.match_weights_chart(result.model),
        "cluster_sizes_chart": lambda: charts.cluster_sizes_chart(result),
        "cluster_graph_chart": lambda: charts.cluster_graph_chart(result, member),
        "html_repr": result._repr_html_,
    }.items():
        _, cpu, _ = timed(fn)
        row[f"{name}_cpu_s"] = round(cpu, 3)
    print(row, flush=True)
    return row


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "report.json"))
    args = parser.parse_args()
    rows = [run(n) for n in args.sizes]
    Path(args.out).write_text(json.dumps({"cases": rows}, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
