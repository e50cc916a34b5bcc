"""Spark runner benchmark: in-process ``dedupe`` vs ``spark_dedupe`` on Spark ``local[2]``.

For each size N, synthetic contacts (``benchmarks/synth.py``, seed 1) are written to one Parquet
file; then, each in its own child process (so each peak memory is its own):

* ``inprocess``: read the Parquet file, :func:`crmcore.matching.dedupe` (contacts preset);
* ``spark``: start a ``local[2]`` session, ``spark.read.parquet``, :func:`spark_dedupe`, count
  the results. Wall time is given with and without the session start.

* ``splink_spark`` (only with ``--engines ... splink_spark``): Splink 5's Spark backend on the
  same file and the same ``local[2]`` configuration, under the Splink scratch environment
  (``/work/splink-venv``, or ``CRMCORE_SPLINK_PYTHON``; Splink and its pyspark are never crmcore
  dependencies), with the settings of the Splink DuckDB peer of ``bench_matching.py``
  (``benchmarks/peers/splink_runner.py``: the same pandas cleaning, blocking rules,
  comparisons and training, cluster threshold 0.9) and Splink's Scala similarity jar; wall
  time, peak memory and pairwise P/R/F1 against the truth.

Each crmcore child saves its pairs (rows, weights) and entity ids; the parent checks that the
two engines agree (identical pairs, weights to 1e-9, identical entity ids) and records it. Peak
memory is the peak summed RSS of the child's whole process tree (the Spark children include the
JVM and the Python workers), sampled every 0.2 s with psutil.

The JSON is written after every engine of every size (partial results survive an interrupted
run) and merged into the existing file: other sizes and other keys are kept; the engines run in
this invocation replace their entries, each with its own start time, git head and load averages.

Usage::

    python benchmarks/bench_spark.py                    # 200k, crmcore in-process and Spark
    python benchmarks/bench_spark.py --sizes 200000 1000000
    python benchmarks/bench_spark.py --sizes 200000 --engines splink_spark
    python benchmarks/bench_spark.py --out benchmarks/results/spark.json
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SPLINK_PYTHON = Path(os.environ.get("CRMCORE_SPLINK_PYTHON", "/work/splink-venv/bin/python"))
SPLINK_THRESHOLD = 0.9
ENGINES = ("inprocess", "spark", "splink_spark")


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


def child_splink_spark(path: Path, out: Path) -> dict[str, Any]:
    """Splink 5 on Spark ``local[2]`` (runs under the Splink environment's interpreter)."""
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    import warnings

    warnings.filterwarnings("ignore")
    sys.path.insert(0, str(ROOT / "benchmarks" / "peers"))
    import splink
    import splink_runner as peer
    from pyspark.sql import SparkSession
    from splink import SparkAPI
    from splink.backends.spark import similarity_jar_location

    scratch = out.parent / "splink_spark"
    n = path.stem.rsplit("_", 1)[-1]
    truth = np.load(path.parent / f"truth_{n}.npy", allow_pickle=True)
    with PeakRss() as rss:
        t0 = time.perf_counter()
        spark = (
            SparkSession.builder.master("local[2]")
            .appName("splink-bench")
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.driver.memory", os.environ.get("BENCH_SPARK_MEMORY", "3g"))
            .config("spark.sql.shuffle.partitions", "8")
            .config("spark.sql.adaptive.enabled", "true")
            .config("spark.jars", similarity_jar_location())
            .config("spark.sql.warehouse.dir", str(scratch / "warehouse"))
            .getOrCreate()
        )
        spark.sparkContext.setLogLevel("ERROR")
        spark.sparkContext.setCheckpointDir(str(scratch / "checkpoints"))
        t1 = time.perf_counter()
        raw = peer._read_contacts(str(path))
        data = peer._prepare_contacts(raw)
        t2 = time.perf_counter()
        linker, _sdf, _rules = peer._contacts_linker(data, SparkAPI(spark_session=spark))
        t3 = time.perf_counter()
        pred = linker.inference.predict(threshold_match_probability=0.2)
        t4 = time.perf_counter()
        clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(
            pred, SPLINK_THRESHOLD
        ).as_pandas_dataframe()
        t5 = time.perf_counter()
    scores = peer._pairwise_scores(clusters, dict(zip(raw["record_id"], truth, strict=True)))
    info = {
        "wall_seconds": round(t5 - t1, 3),
        "session_start_seconds": round(t1 - t0, 3),
        "phases": {"read_and_clean_pandas": round(t2 - t1, 3), "train": round(t3 - t2, 3),
                   "predict": round(t4 - t3, 3), "cluster": round(t5 - t4, 3)},
        "peak_rss_mb_tree": round(rss.peak, 1),
        "pairs_at_or_above_0.2": int(pred.as_spark_dataframe().count()),
        "entities": int(clusters["cluster_id"].nunique()),
        "cluster_threshold": SPLINK_THRESHOLD,
        "pairwise": scores,
        "splink_version": splink.__version__,
        "spark_version": spark.version,
        "settings": "benchmarks/peers/splink_runner.py _contacts_linker (as the DuckDB peer)",
    }
    spark.stop()
    return info


def run_child(kind: str, path: Path, out: Path, timeout: float) -> dict[str, Any]:
    """Run one engine in its own process (its own session); kill its process group on timeout."""
    python = str(SPLINK_PYTHON) if kind == "splink_spark" else sys.executable
    if kind == "splink_spark" and not SPLINK_PYTHON.exists():
        return {"measured": False, "reason": f"no Splink interpreter at {SPLINK_PYTHON}"}
    started = {
        "started_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "loadavg_start": list(os.getloadavg()),
    }
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [python, __file__, "--child", kind, str(path), str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # the child, its JVM and its Python workers
        proc.communicate()
        return {**started, "measured": False,
                "error": f"did not finish within {timeout:.0f} s (killed)",
                "loadavg_end": list(os.getloadavg())}
    if proc.returncode != 0:
        return {**started, "error": stderr[-3000:], "loadavg_end": list(os.getloadavg())}
    data: dict[str, Any] = json.loads(stdout.strip().splitlines()[-1])
    data["process_wall_seconds"] = round(time.perf_counter() - t0, 3)
    return {**started, **data, "loadavg_end": list(os.getloadavg())}


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


def _load(out: Path) -> dict[str, Any]:
    if out.exists():
        try:
            data: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
            return data
        except json.JSONDecodeError:
            pass
    return {}


def _save(out: Path, report: dict[str, Any]) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    tmp.replace(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", nargs="*", type=int, default=[200_000])
    parser.add_argument("--engines", nargs="+", choices=ENGINES, default=["inprocess", "spark"])
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "spark.json"))
    parser.add_argument("--growth", nargs="*", type=int, default=[],
                        help="also measure pairs per blocking rule at these sizes")
    parser.add_argument("--timeout", type=float, default=7200.0,
                        help="seconds each engine may run before it is killed")
    parser.add_argument("--child", nargs=3, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        kind, path, out = args.child
        fns = {"inprocess": child_inprocess, "spark": child_spark,
               "splink_spark": child_splink_spark}
        print(json.dumps(fns[kind](Path(path), Path(out))))
        return 0
    out = Path(args.out)
    report = _load(out)
    run_info = {
        "command": "python benchmarks/bench_spark.py " + " ".join(argv or sys.argv[1:]),
        "git_head": _git("rev-parse", "HEAD"),
        # the in-process engine's files changed under the run make equivalence meaningless
        "matching_files_dirty_at_start": _git("status", "--porcelain", "src/crmcore/matching"),
        "spark_driver_memory": os.environ.get("BENCH_SPARK_MEMORY", "3g"),
    }
    report["machine"] = {"cpus": os.cpu_count()}
    report.setdefault("cases", {})
    if args.growth:
        report["blocking_growth"] = blocking_growth(args.growth)
        _save(out, report)
    for n in args.sizes:
        with tempfile.TemporaryDirectory() as tmp:
            workdir = Path(tmp)
            path = make_data(n, workdir)
            truth = np.load(workdir / f"truth_{n}.npy", allow_pickle=True)
            case: dict[str, Any] = report["cases"].setdefault(str(n), {"records": n})
            for key in ("equivalence", "wall_ratio_spark_vs_inprocess"):
                if {"inprocess", "spark"} <= set(args.engines):
                    case.pop(key, None)
            files = {"inprocess": "a.npz", "spark": "b.npz", "splink_spark": "c.npz"}
            for engine in args.engines:
                key = "spark_local2" if engine == "spark" else engine
                case[key] = {**run_info, **run_child(engine, path, workdir / files[engine],
                                                     args.timeout)}
                print(json.dumps({n: {key: case[key]}}, indent=1), flush=True)
                _save(out, report)
            a, b = case.get("inprocess", {}), case.get("spark_local2", {})
            if ({"inprocess", "spark"} <= set(args.engines)
                    and "error" not in a and "error" not in b):
                case["equivalence"] = equivalence(workdir / "a.npz", workdir / "b.npz", truth)
                case["wall_ratio_spark_vs_inprocess"] = round(
                    b["wall_seconds"] / a["wall_seconds"], 2
                )
            case["matching_files_dirty_at_end"] = _git(
                "status", "--porcelain", "src/crmcore/matching"
            )
            _save(out, report)
        print(json.dumps({n: case}, indent=1), flush=True)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
