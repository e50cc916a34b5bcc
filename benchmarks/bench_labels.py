"""Labels benchmark: cluster F1 at the shipped defaults vs after 50 labels of active learning.

For every data set the job first runs unsupervised with shipped presets (no per-data-set tuning);
then an :class:`~crmcore.matching.ActiveLearning` session asks for 5 rounds of 10 pairs, a
simulated labeller answers from the truth column, and the job runs again end to end with the
fitted model and threshold. Reported per data set: pairwise cluster P / R / F1 at defaults and
with the labels, the fitted threshold, and the CPU / wall seconds of each labelling round
(choosing the pairs, recording the answers, refitting).

Data sets: the accuracy suite's cases, loaded and run by ``bench_accuracy.py`` (same data, same
settings: ``historical_50k``, ``fake_1000`` (also fitted from the 3,176 clerical labels of
``fake_1000_labels.csv``), ``affiliations``, Febrl 1-3, ``register_one_error``,
``synthetic_20000``, ``households_20000``, ``companies``, ``companies_heldout``, ``patents``;
a case whose dependency is missing is skipped with a note), and the example export
``examples/contacts.csv`` with its truth file.

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
sys.path.insert(0, str(ROOT))
from bench_accuracy import CASES as ACCURACY_CASES  # noqa: E402
from bench_accuracy import Case  # noqa: E402
from bench_matching import DATA  # noqa: E402

ROUNDS = 5
PER_ROUND = 10


def _example_contacts() -> Case:
    """The example export ``examples/contacts.csv`` with its truth file (the docs page's)."""
    from crmcore.io import read_table
    from crmcore.matching import dedupe

    table = read_table(ROOT / "examples" / "contacts.csv")
    truth = read_table(ROOT / "examples" / "contacts_truth.csv")
    entity = dict(zip(truth.column("record_id"), truth.column("entity_id"), strict=True))
    return (table, [entity.get(r) for r in table.column("record_id")],
            lambda t, **kw: dedupe(t, **{"id_column": "record_id", **kw}), None)


#: The accuracy suite's cases (same data, same settings) and the docs page's example export.
CASES: dict[str, Callable[[], Case]] = {**ACCURACY_CASES, "example_contacts": _example_contacts}


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
    from crmcore.matching import active_learning

    table, truth, run, _ = CASES[name]()
    t0, c0 = time.perf_counter(), time.process_time()
    base = run(table)
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
    rerun = run(table, settings=fit.settings, model=fit.model)
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
        out["clerical_labels_file"] = _fake_1000_file_labels(table, base, truth, run)
    return out


def _fake_1000_file_labels(table: Any, base: Any, truth: Any, run: Callable[..., Any]) -> Any:
    """Fit from the clerical labels file (all of them, and 50 drawn at random)."""
    import numpy as np

    from crmcore.io import read_table
    from crmcore.matching import fit_labels

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
        rerun = run(table, settings=fit.settings, model=fit.model)
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
