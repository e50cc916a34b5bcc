"""Matching benchmarks: accuracy, wall time and peak memory, with Splink side by side.

Cases (each runs in its own child process so its peak memory is its own):

* ``historical_50k`` — ../shared/data/historical_50k.parquet, truth column ``cluster``, with the
  general ``people`` settings (no use of the truth except for scoring). Splink's tuned anchor
  script runs in the same benchmark run as a subprocess (``/work/splink-venv``).
* ``fake_1000`` — ../shared/data/fake_1000.csv with the ``contacts`` preset.
* ``synthetic_N`` — N synthetic CRM contacts from ``benchmarks/synth.py`` (seed 1, cached as
  Parquet under ``$CRMCORE_BENCH_CACHE``, default /tmp/crmcore_bench), end to end as
  ``crmcore dedupe`` runs it: read the Parquet file, normalise, block, score, cluster, write the
  entities. Splink runs on the same file through ``benchmarks/peers/splink_runner.py``
  (``synthetic`` mode, cluster threshold 0.9) when its venv exists. EM time is reported per
  size (``em_seconds``).

Usage::

    python benchmarks/bench_matching.py                       # historical_50k, fake_1000, 10k, 100k
    python benchmarks/bench_matching.py --cases synthetic_1000000 --no-splink
    python benchmarks/bench_matching.py --out benchmarks/results/matching.json

Prints one line per case and writes JSON (``benchmarks/results/matching.json`` by default).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
#: Benchmark data: $CRMCORE_BENCH_DATA, else ../shared/data next to the checkout, else /work/shared.
DATA = Path(
    os.environ.get("CRMCORE_BENCH_DATA")
    or next(
        (str(p) for p in (ROOT.parent / "shared" / "data",) if p.is_dir()),
        "/work/shared/data",
    )
)
ANCHORS = Path(os.environ.get("CRMCORE_BENCH_ANCHORS") or DATA.parent / "anchors")
SPLINK_PYTHON = Path(os.environ.get("SPLINK_PYTHON", "/work/splink-venv/bin/python"))
SPLINK_RUNNER = ROOT / "benchmarks" / "peers" / "splink_runner.py"
DEFAULT_CASES = ["historical_50k", "fake_1000", "synthetic_10000", "synthetic_100000"]
# Also: synthetic_1000000 (generated once into CRMCORE_BENCH_CACHE, ~40 s).


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _scores(labels: Any, truth: Any) -> dict[str, float]:
    from crmcore.matching import cluster_scores

    return cluster_scores(labels, truth).to_dict()


def historical_settings() -> Any:
    """The general ``people`` settings on historical_50k's columns (also used by ci_quick)."""
    from crmcore.matching import people

    return people(
        first_name="first_name", last_name="surname", dob="dob", postcode="postcode_fake",
        place="birth_place", occupation="occupation",
    )


def case_historical() -> dict[str, Any]:
    """historical_50k with the general people settings."""
    from crmcore.io import read_table
    from crmcore.matching import blocking_quality, dedupe

    t0 = time.perf_counter()
    table = read_table(DATA / "historical_50k.parquet")
    read_s = time.perf_counter() - t0
    truth = table.column("cluster")
    result = dedupe(table, id_column="unique_id", settings=historical_settings())
    total = time.perf_counter() - t0
    return {
        "records": result.n_records,
        "wall_seconds": round(total, 3),
        "phases": {"read": round(read_s, 3), **{k: round(v, 3) for k, v in result.timings.items()}},
        "cluster_scores": _scores(result.labels, truth),
        "blocking": blocking_quality(result.pairs.left, result.pairs.right, truth),
        "threshold": result.threshold,
        "em_iterations": result.model.report.iterations if result.model.report else None,
        "em_seconds": round(result.model.report.em_seconds, 4) if result.model.report else None,
        "cpu_seconds": round(_cpu_seconds(), 3),
        "peak_rss_mb": round(_peak_mb(), 1),
    }


def case_fake_1000() -> dict[str, Any]:
    """fake_1000 with the contacts preset (surname mapped to last_name)."""
    from crmcore.io import read_table
    from crmcore.matching import dedupe

    t0 = time.perf_counter()
    table = read_table(DATA / "fake_1000.csv")
    truth = table.column("cluster")
    result = dedupe(table, id_column="unique_id", mapping={"surname": "last_name"})
    total = time.perf_counter() - t0
    return {
        "records": result.n_records,
        "wall_seconds": round(total, 3),
        "phases": {k: round(v, 3) for k, v in result.timings.items()},
        "cluster_scores": _scores(result.labels, truth),
        "threshold": result.threshold,
        "em_seconds": round(result.model.report.em_seconds, 4) if result.model.report else None,
        "peak_rss_mb": round(_peak_mb(), 1),
    }


CACHE = Path(os.environ.get("CRMCORE_BENCH_CACHE", "/tmp/crmcore_bench"))


def _synthetic_file(n: int, seed: int) -> Path:
    """Parquet file of n synthetic contacts (with the entity_id truth), cached by n and seed."""
    path = CACHE / f"contacts_{n}_seed{seed}.parquet"
    if path.exists():
        return path
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import synth
    from crmcore.io import write_table

    CACHE.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.parquet")
    write_table(synth.generate_contacts(n, seed=seed), tmp)
    tmp.rename(path)
    return path


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def case_synthetic(n: int, seed: int = 1) -> dict[str, Any]:
    """End to end on N synthetic contacts, as ``crmcore dedupe`` does it: read the Parquet file
    (only the columns the preset reads), normalise, block, score, cluster, write the entities."""
    from crmcore.io import write_table
    from crmcore.matching import blocking_quality, cluster_scores, dedupe, read_records

    path = _synthetic_file(n, seed)
    import pyarrow.parquet as pq

    truth = pq.read_table(path, columns=["entity_id"]).column("entity_id").to_pylist()
    with tempfile.TemporaryDirectory() as tmp:
        base_mb = _peak_mb()
        cpu0 = _cpu_seconds()
        load0 = os.getloadavg()[0]
        t0 = time.perf_counter()
        table = read_records(path, id_column="record_id", preset="contacts")
        read_s = time.perf_counter() - t0
        # CPU seconds per phase (process time, all threads): the phases start with these messages
        cpu_marks: list[tuple[str, float]] = [("read_parquet", cpu0)]
        starts = {"preparing": "prepare", "blocking": "block", "comparing": "compare",
                  "training": "train", "scoring": "score", "clustering": "cluster"}

        def mark(message: str) -> None:
            phase = starts.get(message.split(" ", 1)[0])
            if phase is not None:
                cpu_marks.append((phase, _cpu_seconds()))

        result = dedupe(table, id_column="record_id", preset="contacts", progress=mark)
        t1 = time.perf_counter()
        cpu_marks.append(("write_parquet", _cpu_seconds()))
        write_table(result.to_table(), Path(tmp) / "entities.parquet")
        write_s = time.perf_counter() - t1
        total = time.perf_counter() - t0
        cpu = _cpu_seconds() - cpu0
        cpu_marks.append(("end", cpu0 + cpu))
        phases_cpu = {
            name: round(cpu_marks[k + 1][1] - at, 3) for k, (name, at) in enumerate(cpu_marks[:-1])
        }
    report = result.model.report
    out: dict[str, Any] = {
        "records": result.n_records,
        "input": str(path),
        "wall_seconds": round(total, 3),
        "cpu_seconds": round(cpu, 3),
        "load_avg_1m": [round(load0, 2), round(os.getloadavg()[0], 2)],
        "phases": {
            "read_parquet": round(read_s, 3),
            **{k: round(v, 3) for k, v in result.timings.items() if k != "read"},
            "write_parquet": round(write_s, 3),
        },
        "phases_cpu_seconds": phases_cpu,
        "peak_rss_mb": round(_peak_mb(), 1),
        "peak_rss_mb_before_run": round(base_mb, 1),
        "cluster_scores": cluster_scores(result.labels, truth).to_dict(),
        "blocking": blocking_quality(result.pairs.left, result.pairs.right, truth),
        "threshold": result.threshold,
        "train_seconds": round(result.timings.get("train", 0.0), 3),
        "em_seconds": round(report.em_seconds, 4) if report else None,
        "em_patterns": report.patterns if report else None,
        "em_iterations": report.iterations if report else None,
        "train_breakdown": {
            "u_sampling": round(report.u_seconds, 3),
            "pattern_counts": round(report.patterns_seconds, 3),
            "em": round(report.em_seconds, 4),
            "tf_tables": round(report.tf_seconds, 3),
        } if report else None,
    }
    if os.environ.get("BENCH_SPLINK") == "1":
        out["splink"] = splink_synthetic(path)
    return out


def splink_synthetic(path: Path) -> dict[str, Any]:
    """Run the Splink peer on the same Parquet file (subprocess; its JSON, plus process wall)."""
    sys.path.insert(0, str(ROOT))
    from benchmarks.peers import run_splink

    t0 = time.perf_counter()
    data = run_splink("synthetic", path, threshold=0.9, timeout=3600)
    wall = time.perf_counter() - t0
    if data is None:
        return {"available": False}
    data["available"] = True
    data["process_wall_seconds"] = round(wall, 3)
    return data


_SPLINK_LINE = re.compile(
    r"train (?P<train>[\d.]+)s predict (?P<predict>[\d.]+)s cluster (?P<cluster>[\d.]+)s "
    r"total (?P<total>[\d.]+)s P (?P<p>[\d.]+) R (?P<r>[\d.]+) F1 (?P<f1>[\d.]+)"
)


def splink_historical(mode: str, threshold: float) -> dict[str, Any]:
    """Splink's anchor script on historical_50k, timed as a subprocess (wall incl. start-up)."""
    script = ANCHORS / "splink_hist50k.py"
    if not script.exists() or not SPLINK_PYTHON.exists():
        return {"available": False}
    args = [str(SPLINK_PYTHON), str(script), str(DATA / "historical_50k.parquet"), str(threshold)]
    if mode == "tuned":
        args.append("tuned")
    t0 = time.perf_counter()
    proc = subprocess.run(args, capture_output=True, text=True, check=False, timeout=3600)
    wall = time.perf_counter() - t0
    child = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0
    m = _SPLINK_LINE.search(proc.stdout)
    if m is None:
        return {"available": False, "stderr": proc.stderr[-500:]}
    return {
        "available": True,
        "mode": mode,
        "threshold": threshold,
        "process_wall_seconds": round(wall, 3),
        "reported_total_seconds": float(m["total"]),
        "precision": float(m["p"]),
        "recall": float(m["r"]),
        "f1": float(m["f1"]),
        "peak_rss_mb_children": round(child, 1),
    }


def run_case(name: str) -> dict[str, Any]:
    """Run one case in this process."""
    if name == "historical_50k":
        return case_historical()
    if name == "fake_1000":
        return case_fake_1000()
    if name.startswith("synthetic_"):
        return case_synthetic(int(name.split("_", 1)[1]))
    raise SystemExit(f"unknown case {name!r}")


def run_in_child(name: str, splink: bool) -> dict[str, Any]:
    """Run one case in a child Python process (own peak memory); return its JSON."""
    env = dict(os.environ, BENCH_SPLINK="1" if splink else "0")
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, __file__, "--child", name],
        capture_output=True, text=True, check=False, env=env, timeout=7200,
    )
    if proc.returncode != 0:
        return {"error": proc.stderr[-2000:]}
    data: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    data["process_wall_seconds"] = round(time.perf_counter() - t0, 3)
    return data


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark cases and write the JSON report."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", nargs="*", default=DEFAULT_CASES)
    parser.add_argument("--no-splink", action="store_true")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "matching.json"))
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(run_case(args.child)))
        return 0
    report: dict[str, Any] = {
        "machine": {"cpus": os.cpu_count()},
        "note": "2-core machine shared with other jobs: compare with the peer of the same run",
        "cases": {},
    }
    for name in args.cases:
        load = os.getloadavg()[0]
        result = run_in_child(name, splink=not args.no_splink)
        result["load_avg_1m_at_start"] = round(load, 2)
        if name == "historical_50k" and not args.no_splink:
            result["splink_tuned"] = splink_historical("tuned", 0.9)
            result["splink_tutorial"] = splink_historical("tutorial", 0.95)
            tuned = result["splink_tuned"]
            if tuned.get("available") and "wall_seconds" in result:
                result["wall_ratio_vs_splink_tuned"] = round(
                    result["process_wall_seconds"] / tuned["process_wall_seconds"], 3
                )
        peer = result.get("splink")
        if isinstance(peer, dict) and peer.get("available") and "wall_seconds" in result:
            result["wall_ratio_vs_splink"] = round(
                result["wall_seconds"] / peer["process_wall_seconds"], 3
            )
        report["cases"][name] = result
        scores = result.get("cluster_scores", {})
        print(
            f"{name}: wall {result.get('wall_seconds')}s "
            f"(process {result.get('process_wall_seconds')}s) "
            f"P {scores.get('precision')} R {scores.get('recall')} F1 {scores.get('f1')} "
            f"peak {result.get('peak_rss_mb', '-')} MB",
            flush=True,
        )
        for key in ("splink_tuned", "splink_tutorial", "splink"):
            if key in result:
                print(f"  {key}: {json.dumps(result[key])}", flush=True)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
