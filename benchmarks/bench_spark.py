"""Spark runner benchmark: in-process ``dedupe`` vs ``spark_dedupe`` on Spark ``local[2]``.

For each size N, synthetic contacts (``benchmarks/synth.py``, seed 1) are written to one Parquet
file; then, each in its own child process (so each peak memory is its own):

* ``inprocess``: read the Parquet file, :func:`crmcore.matching.dedupe` (contacts preset);
* ``spark``: start a ``local[2]`` session, ``spark.read.parquet``, :func:`spark_dedupe`, count
  the results. Wall time is given with and without the session start.

Each child saves its pairs (rows, weights) and entity ids; the parent checks that the two
engines agree (identical pairs, weights to 1e-9, identical entity ids) and records it. Peak
memory is the peak summed RSS of the child's whole process tree (the Spark child includes the
JVM and the Python workers), sampled every 0.2 s with psutil.

Splink's Spark backend is not run (see ``docs/spark.md``).

Usage::

    python benchmarks/bench_spark.py                    # 200k
    python benchmarks/bench_spark.py --sizes 200000 1000000
    python benchmarks/bench_spark.py --out benchmarks/results/spark.json
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


class PeakRss:
    """Peak summed RSS (MB) of this process and all its descendants, sampled in a thread."""

    def __init__(self, interval: float = 0.2) -> None:
        self.interval = interval
        self.peak = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> float:
        import psutil

        me = psutil.Process()
        total = 0
        for proc in [me, *me.children(recursive=True)]:
            try:
                total += proc.memory_info().rss
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
        return total / 2**20

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._sample())
            self._stop.wait(self.interval)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def make_data(n: int, workdir: Path) -> Path:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import synth
    from crmcore.io import Table, write_table

    table = synth.generate_contacts(n, seed=1)
    path = workdir / f"contacts_{n}.parquet"
    write_table(Table({k: v for k, v in table.columns.items() if k != "entity_id"}), path)
    truth = np.array(table.column("entity_id"), dtype=object)
    np.save(workdir / f"truth_{n}.npy", truth, allow_pickle=True)
    return path


def child_inprocess(path: Path, out: Path) -> dict[str, Any]:
    from crmcore.io import read_table
    from crmcore.matching import dedupe

    with PeakRss() as rss:
        t0 = time.perf_counter()
        table = read_table(path)
        result = dedupe(table, id_column="record_id")
        wall = time.perf_counter() - t0
    np.savez(
        out, left=result.pairs.left, right=result.pairs.right, weight=result.pairs.match_weight,
        entity=np.array(result.entity_ids, dtype=object), labels=result.labels,
    )
    return {
        "wall_seconds": round(wall, 3),
        "phases": {k: round(v, 3) for k, v in result.timings.items()},
        "peak_rss_mb_tree": round(rss.peak, 1),
        "pairs": len(result.pairs),
        "entities": result.n_entities,
    }


def child_spark(path: Path, out: Path) -> dict[str, Any]:
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    import warnings

    warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas")
    warnings.filterwarnings("ignore", message="The copy keyword is deprecated")
    from pyspark.sql import SparkSession

    from crmcore.matching.spark import spark_dedupe

    with PeakRss() as rss:
        t0 = time.perf_counter()
        spark = (
            SparkSession.builder.master("local[2]")
            .appName("crmcore-bench")
            .config("spark.ui.enabled", "false")
            .config("spark.driver.memory", os.environ.get("BENCH_SPARK_MEMORY", "3g"))
            .config("spark.sql.shuffle.partitions", "8")
            .config("spark.sql.adaptive.enabled", "true")
            .getOrCreate()
        )
        spark.sparkContext.setLogLevel("ERROR")
        t1 = time.perf_counter()
        df = spark.read.parquet(str(path))
        result = spark_dedupe(df, id_column="record_id")
        wall = time.perf_counter() - t1
        pairs = result.pairs.select("left_row", "right_row", "match_weight").toArrow()
        ents = result.entities.select("row", "entity_id", "label").toArrow()
        t2 = time.perf_counter()
    order = np.lexsort((pairs.column("right_row").to_numpy(), pairs.column("left_row").to_numpy()))
    erow = np.argsort(ents.column("row").to_numpy())
    np.savez(
        out,
        left=pairs.column("left_row").to_numpy()[order],
        right=pairs.column("right_row").to_numpy()[order],
        weight=pairs.column("match_weight").to_numpy()[order],
        entity=np.array(ents.column("entity_id").to_pylist(), dtype=object)[erow],
        labels=ents.column("label").to_numpy()[erow],
    )
    info = {
        "wall_seconds": round(wall, 3),
        "session_start_seconds": round(t1 - t0, 3),
        "collect_results_seconds": round(t2 - t0 - (t1 - t0) - wall, 3),
        "phases": {k: round(v, 3) for k, v in result.timings.items()},
        "peak_rss_mb_tree": round(rss.peak, 1),
        "pairs": int(result.analysis.union),
        "spark_version": spark.version,
    }
    spark.stop()
    return info


def run_child(kind: str, path: Path, out: Path) -> dict[str, Any]:
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, __file__, "--child", kind, str(path), str(out)],
        capture_output=True, text=True, check=False, timeout=7200,
    )
    if proc.returncode != 0:
        return {"error": proc.stderr[-3000:]}
    data: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    data["process_wall_seconds"] = round(time.perf_counter() - t0, 3)
    return data


def equivalence(a_path: Path, b_path: Path, truth: np.ndarray) -> dict[str, Any]:
    from crmcore.matching import cluster_scores

    a = np.load(a_path, allow_pickle=True)
    b = np.load(b_path, allow_pickle=True)
    same_pairs = bool(
        len(a["left"]) == len(b["left"])
        and np.array_equal(a["left"], b["left"])
        and np.array_equal(a["right"], b["right"])
    )
    out: dict[str, Any] = {"identical_pairs": same_pairs}
    if same_pairs:
        diff = np.abs(a["weight"] - b["weight"])
        out["max_abs_weight_difference"] = float(diff.max(initial=0.0))
        out["weights_within_1e-9"] = bool(np.allclose(a["weight"], b["weight"], atol=1e-9))
    out["identical_entity_ids"] = bool(np.array_equal(a["entity"], b["entity"]))
    out["cluster_f1_inprocess"] = cluster_scores(a["labels"], truth).to_dict().get("f1")
    out["cluster_f1_spark"] = cluster_scores(b["labels"], truth).to_dict().get("f1")
    return out


def _git(*args: str) -> str:
    proc = subprocess.run(
        ["git", *args], capture_output=True, text=True, check=False, cwd=ROOT, timeout=60
    )
    return proc.stdout.strip()


def blocking_growth(sizes: list[int]) -> dict[str, Any]:
    """Pairs per blocking rule of the contacts preset at several sizes (in-process analysis)."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import synth
    from crmcore.matching import analyse_blocking, get_preset, prepare_frame

    out: dict[str, Any] = {}
    for n in sizes:
        table = synth.generate_contacts(n, seed=1)
        settings = get_preset("contacts", table.column_names)
        frame, _ = prepare_frame(table, settings)
        t0 = time.perf_counter()
        analysis = analyse_blocking(frame, settings.blocking, max_pairs=settings.max_pairs)
        out[str(n)] = {
            "seconds": round(time.perf_counter() - t0, 3),
            "pairs_per_rule": dict(zip(analysis.rules, analysis.pairs_per_rule, strict=True)),
            "skipped": list(analysis.skipped),
            "union": analysis.union,
            "union_per_record": round(analysis.union / n, 3),
        }
        print(json.dumps({n: out[str(n)]}), flush=True)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", nargs="*", type=int, default=[200_000])
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "spark.json"))
    parser.add_argument("--growth", nargs="*", type=int, default=[],
                        help="also measure pairs per blocking rule at these sizes")
    parser.add_argument("--child", nargs=3, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        kind, path, out = args.child
        fn = child_inprocess if kind == "inprocess" else child_spark
        print(json.dumps(fn(Path(path), Path(out))))
        return 0
    report: dict[str, Any] = {
        "machine": {"cpus": os.cpu_count(), "loadavg_start": list(os.getloadavg())},
        "command": "python benchmarks/bench_spark.py " + " ".join(argv or sys.argv[1:]),
        "git_head": _git("rev-parse", "HEAD"),
        # the in-process engine's files changed under the run make equivalence meaningless
        "matching_files_dirty_at_start": _git("status", "--porcelain", "src/crmcore/matching"),
        "cases": {},
    }
    if args.growth:
        report["blocking_growth"] = blocking_growth(args.growth)
    for n in args.sizes:
        with tempfile.TemporaryDirectory() as tmp:
            workdir = Path(tmp)
            path = make_data(n, workdir)
            truth = np.load(workdir / f"truth_{n}.npy", allow_pickle=True)
            case: dict[str, Any] = {"records": n}
            case["inprocess"] = run_child("inprocess", path, workdir / "a.npz")
            case["spark_local2"] = run_child("spark", path, workdir / "b.npz")
            if "error" not in case["inprocess"] and "error" not in case["spark_local2"]:
                case["equivalence"] = equivalence(workdir / "a.npz", workdir / "b.npz", truth)
                case["wall_ratio_spark_vs_inprocess"] = round(
                    case["spark_local2"]["wall_seconds"] / case["inprocess"]["wall_seconds"], 2
                )
            case["loadavg_end"] = list(os.getloadavg())
            case["matching_files_dirty_at_end"] = _git(
                "status", "--porcelain", "src/crmcore/matching"
            )
            case["splink_spark"] = {"measured": False, "reason": "not run (see docs/spark.md)"}
        report["cases"][str(n)] = case
        print(json.dumps({n: case}, indent=1), flush=True)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
