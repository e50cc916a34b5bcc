"""The accounts preset's cluster method with more than the name: guarded against pooled.

The ``accounts`` preset pools weak links (``ClusterOptions(method="pooled")``) when the
organisation name is its only comparison. This measures both methods on generated account
lists WITH other columns (``synth.generate_companies(..., with_fields=True)``: city, web domain
and phone, some blank; seeds 3 and 4, different stems), on the name alone (the same
records: the reference) and with every column subset,
at the preset's own settings otherwise. Pairwise precision / recall / F1 of the final clusters.

Usage::

    python benchmarks/ab_accounts_cluster.py

Writes the key ``cluster_method_with_fields`` of ``benchmarks/results/accuracy_orgs.json``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

SUBSETS = ((), ("city", "domain", "phone"), ("city",), ("domain",), ("phone",))


def main() -> int:
    """Run every seed, column subset and method; print and write the figures."""
    import attrs

    import synth
    from crmcore.io import Table
    from crmcore.matching import ClusterOptions, accounts, cluster_scores, dedupe

    out: dict[str, Any] = {}
    for seed in (3, 4):
        table = synth.generate_companies(2000, seed=seed, with_fields=True)
        truth = table.column(synth.TRUTH_COLUMN)
        for extra in SUBSETS:
            cols = ["company", *extra]
            data = Table({k: table.column(k) for k in ["record_id", *cols]})
            base = accounts(cols)
            row: dict[str, Any] = {"records": table.n_rows, "default": base.cluster.method}
            for method in ("guarded", "pooled"):
                settings = attrs.evolve(base, cluster=ClusterOptions(method=method))
                result = dedupe(data, id_column="record_id", settings=settings)
                s = cluster_scores(result.labels, truth).to_dict()
                row[method] = {k: s[k] for k in ("precision", "recall", "f1")}
            key = f"companies_seed{seed}: name" + "".join(f" + {c}" for c in extra)
            out[key] = row
            print(f"{key:<34} guarded F1 {row['guarded']['f1']:.4f}  "
                  f"pooled F1 {row['pooled']['f1']:.4f}", flush=True)
    path = ROOT / "benchmarks" / "results" / "accuracy_orgs.json"
    report = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    report["cluster_method_with_fields"] = {
        "benchmark": "accounts preset with city / domain / phone: guarded vs pooled clusters",
        "cases": out,
    }
    path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
