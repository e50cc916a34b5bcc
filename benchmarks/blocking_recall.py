"""Blocking recall of the contacts preset: the true pairs it misses, by kind, and what candidate
rules would add.

On the synthetic contacts of ``bench_matching.py`` (seed 1, cached Parquet with the truth
column ``entity_id``), with the preset's blocking rules:

* the missed true pairs, by how the names compare (``same names``, ``given differs``,
  ``family differs``, ``both differ``, ``swapped``) and by which other fields agree after
  preparation (email, email domain, phone, employer, city, postcode; ``none`` when only the
  names and the country are left);
* the missed true pairs by evidence: a field other than the names agrees, or only the names
  (and the country) do, with another field present on both sides and different or not
  (``pairs_completeness_ceiling_with_a_second_field``: what keys that need a second field
  could reach at best);
* for each candidate rule, the pairs it makes, the pairs new to the preset's union and the
  missed true pairs it finds (pairs completeness gained per new pair).

Usage::

    python benchmarks/blocking_recall.py --n 200000 --out /tmp/blocking_recall_analysis.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from bench_matching import _synthetic_file  # noqa: E402  (the cached benchmark data)

GIVEN, LAST, FIRST = "canonical_given(first_name)", "last_name", "first_name"
COMPANY = "company_key(company)"
#: Candidate rules measured against the preset: name -> (expressions, options).
CANDIDATES: dict[str, tuple[tuple[str, ...], dict[str, Any]]] = {
    "given, family typo keys, city": ((GIVEN, f"deletions({LAST})", "city"), {}),
    "given typo keys, family, city": ((f"deletions({FIRST})", LAST, "city"), {}),
    "given, family initial, city": ((GIVEN, f"initial({LAST})", "city"), {}),
    "given, family initial, employer": ((GIVEN, f"initial({LAST})", COMPANY), {}),
    "names, country, blocks <= 5": (
        (GIVEN, LAST, "country"),
        {"any_order": True, "max_block_size": 5},
    ),
    "given, family typo keys, country, blocks <= 5": (
        (GIVEN, f"deletions({LAST})", "country"),
        {"max_block_size": 5},
    ),
    "email local part without number": (("without_number(email_local(email))",), {}),
    "phone line, family sound": (("line_number(phone)", f"metaphone({LAST})"), {}),
    "given initial, family typo keys, postcode": (
        (f"initial({FIRST})", f"deletions({LAST})", "postcode"),
        {},
    ),
}
EVIDENCE = {
    "email": "email",
    "email domain": "email_domain(email)",
    "phone": "national_number(phone)",
    "phone line": "line_number(phone)",
    "employer": COMPANY,
    "city": "city",
    "postcode": "postcode",
}


def _codes(left: Any, right: Any, n: int) -> Any:
    lo, hi = np.minimum(left, right), np.maximum(left, right)
    keep = lo != hi
    return np.unique(lo[keep] * n + hi[keep])


def run(n: int, candidates: bool) -> dict[str, Any]:
    """The analysis of ``n`` synthetic contacts."""
    import pyarrow.parquet as pq

    from crmcore.matching import block_on, read_records
    from crmcore.matching._api import prepare_frame
    from crmcore.matching._blocking import block_and_analyse
    from crmcore.matching._presets import contacts

    path = _synthetic_file(n, 1)
    truth = np.asarray(pq.read_table(path, columns=["entity_id"]).column("entity_id"))
    table = read_records(path, id_column="record_id", preset="contacts")
    settings = contacts(table.column_names)
    frame, _ = prepare_frame(table, settings)
    t0 = time.process_time()
    pairs, _ = block_and_analyse(frame, settings.blocking)
    block_cpu = time.process_time() - t0
    _, ent = np.unique(truth, return_inverse=True)
    order = np.argsort(ent, kind="stable")
    starts = np.flatnonzero(np.r_[True, ent[order][1:] != ent[order][:-1]])
    sizes = np.diff(np.r_[starts, len(order)])
    left, right = [], []
    for size in range(2, int(sizes.max(initial=1)) + 1):
        for s in starts[sizes == size]:
            rows = order[s : s + size]
            i, j = np.triu_indices(size, 1)
            left.append(rows[i])
            right.append(rows[j])
    true = _codes(np.concatenate(left), np.concatenate(right), n)
    found = np.isin(true, pairs.codes)
    ml, mr = true[~found] // n, true[~found] % n
    given, last, first = frame.codes(GIVEN), frame.codes(LAST), frame.codes(FIRST)

    def same(c: Any) -> Any:
        return (c[ml] == c[mr]) & (c[ml] >= 0)

    swapped = (first[ml] == last[mr]) & (last[ml] == first[mr]) & (first[ml] >= 0)
    names = np.where(
        same(given) & same(last),
        "same names",
        np.where(
            swapped,
            "swapped",
            np.where(
                same(last), "given differs", np.where(same(given), "family differs", "both differ")
            ),
        ),
    )
    agree = {k: same(frame.codes(e)) for k, e in EVIDENCE.items()}
    # the ceiling: a pair no field but the names agrees on is out of reach of any key with a
    # second field; with a field present on both sides and different, no reviewer could link it
    against = np.zeros(len(ml), dtype=bool)
    for e in (*EVIDENCE.values(), "country"):
        c = frame.codes(e)
        against |= (c[ml] != c[mr]) & (c[ml] >= 0) & (c[mr] >= 0)
    any_agrees = np.logical_or.reduce(list(agree.values())) if agree else against & False
    evidence = Counter(
        np.where(any_agrees, "a field agrees",
                 np.where(against, "names only, a field against", "names only, nothing against"))
        .tolist()
    )
    kinds: Counter[str] = Counter()
    for k in range(len(ml)):
        fields = [f for f in EVIDENCE if agree[f][k]]
        kinds[f"{names[k]}; {', '.join(fields) or 'none'}"] += 1
    out: dict[str, Any] = {
        "records": n,
        "candidate_pairs": len(pairs),
        "true_pairs": len(true),
        "pairs_completeness": round(float(found.mean()), 5),
        "block_cpu_seconds": round(block_cpu, 3),
        "missed": len(ml),
        "missed_by_names": dict(Counter(names.tolist()).most_common()),
        "missed_by_kind": dict(kinds.most_common(25)),
        "missed_by_evidence": dict(evidence.most_common()),
        "pairs_completeness_ceiling_with_a_second_field": round(
            (int(found.sum()) + evidence["a field agrees"]) / len(true), 5
        ),
    }
    if candidates:
        missed = true[~found]
        rows: dict[str, Any] = {}
        for name, (exprs, opts) in CANDIDATES.items():
            got, _ = block_and_analyse(frame, [block_on(*exprs, **opts)])
            new = got.codes[~np.isin(got.codes, pairs.codes)]
            hit = int(np.isin(missed, new).sum())
            rows[name] = {
                "pairs": len(got),
                "new_pairs": len(new),
                "missed_found": hit,
                "pc_gain": round(hit / len(true), 5),
            }
        out["candidates"] = rows
    return out


def main(argv: list[str] | None = None) -> int:
    """Run the analysis and write JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, nargs="*", default=[200_000])
    parser.add_argument("--no-candidates", action="store_true")
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    report = {f"synthetic_{n}": run(n, not args.no_candidates) for n in args.n}
    text = json.dumps(report, indent=1)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
