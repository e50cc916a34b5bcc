"""Normalizer benchmark: values per second per normalizer through the batch API, one core.

Run: ``python benchmarks/bench_normalize.py [--values 1000000] [--pool-rows 100000]``

Two scenarios, both through :func:`crmcore.normalize.normalize_column` (the path matching uses):

* **pool** (the aims): ``--values`` values drawn at random, with replacement, from the rows of a
  synthetic export of ``--pool-rows`` contacts (``benchmarks/synth.py``: Zipf-weighted names,
  duplicates with varied formats, country-specific phones and postcodes). Each column keeps the
  export's own value frequencies, so common names are common; the distinct share per column is
  recorded (about 8% of the values for e-mails and phones at the defaults).
* **natural** (``--natural-rows``, 0 to skip): a synthetic export of that many rows normalised as
  it is; most e-mails and phones are distinct there, so this measures the per-distinct cost.

Per normalizer the figures are values per second on process CPU time (robust on a shared
machine) and on wall time, median of ``--repeat`` runs, each run starting with an empty cache.
Also measured on a sample of distinct values: the uncached per-value rate of each normalizer and,
as the peer, phonenumbers alone (``parse`` + ``is_possible_number`` + ``format_number`` per
value, what a plain implementation does). Phones and postcodes get each row's country as their
region, as :func:`~crmcore.normalize.normalize_table` does.

Aims (issue 3): >= 500k values/s for e-mail, name keys and company keys; >= 200k values/s for
phones. The process is pinned to one CPU when the platform allows. ``os.getloadavg()`` is
recorded before and after. Writes ``benchmarks/results/normalize.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import phonenumbers

sys.path.insert(0, str(Path(__file__).resolve().parent))

from crmcore.normalize import get_normalizer, normalize_column
from synth import generate_contacts

RESULTS = Path(__file__).resolve().parent / "results" / "normalize.json"

# (label, registry name, source column, per-row option or None, aim in values/s or None)
CASES: list[tuple[str, str, str, str | None, int | None]] = [
    ("email", "email", "email", None, 500_000),
    ("given_name (nickname key)", "given_name", "first_name", None, 500_000),
    ("name_key (family name)", "name_key", "last_name", None, 500_000),
    ("person_name (display)", "person_name", "last_name", None, None),
    ("company (key)", "company", "company", None, 500_000),
    ("company_display", "company_display", "company", None, None),
    ("phone", "phone", "phone", "region", 200_000),
    ("postcode", "postcode", "postcode", "country", None),
    ("country", "country", "country", None, None),
    ("address", "address", "street", None, None),
    ("datetime", "datetime", "created_at", None, None),
]


def load_avg() -> list[float]:
    """1, 5 and 15 minute load averages (the machine is shared: read figures against them)."""
    return [round(x, 2) for x in os.getloadavg()]


def pin_one_core() -> int | None:
    """Pin this process to one CPU; return it (None when the platform cannot)."""
    if not hasattr(os, "sched_setaffinity"):
        return None
    cpu = sorted(os.sched_getaffinity(0))[-1]
    os.sched_setaffinity(0, {cpu})
    return cpu


def timed(fn: Callable[[], object]) -> tuple[float, float]:
    """Run ``fn`` once; return (cpu seconds, wall seconds)."""
    c0, w0 = time.process_time(), time.perf_counter()
    fn()
    return time.process_time() - c0, time.perf_counter() - w0


def rate(n: int, seconds: float) -> float:
    return round(n / seconds) if seconds > 0 else float("inf")


def bench_column(
    name: str,
    values: Sequence[object],
    regions: Sequence[object] | None,
    option: str | None,
    repeat: int,
) -> dict[str, Any]:
    """Median CPU and wall rates of normalize_column over ``values`` (fresh cache each run)."""
    row_options = {option: regions} if option is not None and regions is not None else None
    runs = [timed(lambda: normalize_column(name, values, row_options=row_options))
            for _ in range(repeat)]  # fmt: skip
    cpu = statistics.median(r[0] for r in runs)
    wall = statistics.median(r[1] for r in runs)
    keys = set(zip(values, regions, strict=True)) if row_options else set(values)
    return {
        "values": len(values),
        "distinct": len(keys),
        "distinct_share": round(len(keys) / len(values), 4),
        "cpu_s": round(cpu, 3),
        "wall_s": round(wall, 3),
        "values_per_s_cpu": rate(len(values), cpu),
        "values_per_s_wall": rate(len(values), wall),
    }


def bench_uncached(
    name: str,
    values: Sequence[object],
    regions: Sequence[object] | None,
    option: str | None,
    sample: int,
    rng: random.Random,
) -> dict[str, Any]:
    """Per-value rate of the normalizer without any cache, on distinct values."""
    normalizer = get_normalizer(name)
    pairs = sorted(
        {(v, r) for v, r in zip(values, regions or [None] * len(values), strict=True)
         if v is not None}, key=repr,
    )  # fmt: skip
    pairs = rng.sample(pairs, min(sample, len(pairs)))
    if option is None:
        cpu, wall = timed(lambda: [normalizer(v) for v, _ in pairs])
    else:
        cpu, wall = timed(lambda: [normalizer(v, **{option: r}) for v, r in pairs])
    return {"values": len(pairs), "values_per_s_cpu": rate(len(pairs), cpu),
            "values_per_s_wall": rate(len(pairs), wall)}  # fmt: skip


def phonenumbers_peer(values: Sequence[tuple[str, str | None]]) -> dict[str, Any]:
    """phonenumbers alone: parse, possible-number check and E.164 format per value."""
    e164 = phonenumbers.PhoneNumberFormat.E164

    def run() -> None:
        for text, region in values:
            try:
                number = phonenumbers.parse(text, region)
            except phonenumbers.NumberParseException:
                continue
            if phonenumbers.is_possible_number(number):
                phonenumbers.format_number(number, e164)

    cpu, wall = timed(run)
    return {"values": len(values), "values_per_s_cpu": rate(len(values), cpu),
            "values_per_s_wall": rate(len(values), wall)}  # fmt: skip


def regions_of(countries: Sequence[str | None]) -> list[str | None]:
    """Each row's country normalised, as normalize_table passes it to phones and postcodes."""
    return normalize_column("country", countries)


def scenario(
    table: Any,
    picks: Sequence[int] | None,
    repeat: int,
    uncached: int,
    rng: random.Random,
) -> dict[str, Any]:
    """Benchmark every case on the table's rows (or on the rows ``picks`` selects)."""

    def column(name: str) -> list[Any]:
        col = table.column(name)
        return col if picks is None else [col[i] for i in picks]

    regions = regions_of(column("country"))
    out: dict[str, Any] = {}
    for label, name, source, option, aim in CASES:
        values = column(source)
        row_regions = regions if option is not None else None
        figures = bench_column(name, values, row_regions, option, repeat)
        if uncached:
            figures["uncached"] = bench_uncached(name, values, row_regions, option, uncached, rng)
        if aim is not None:
            figures["aim_values_per_s"] = aim
            figures["aim_met_cpu"] = figures["values_per_s_cpu"] >= aim
            figures["aim_met_wall"] = figures["values_per_s_wall"] >= aim
        out[label] = figures
        print(f"  {label:28s} {figures['values_per_s_cpu']:>12,} /s cpu "
              f"{figures['values_per_s_wall']:>12,} /s wall  distinct "
              f"{figures['distinct_share']:.1%}"
              + (f"  aim {aim:,}" if aim else ""), flush=True)  # fmt: skip
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--values", type=int, default=1_000_000)
    parser.add_argument("--pool-rows", type=int, default=100_000)
    parser.add_argument("--natural-rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--uncached",
        type=int,
        default=20_000,
        help="distinct values for the uncached and peer rates (0: skip)",
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)

    cpu = pin_one_core()
    rng = random.Random(args.seed)
    result: dict[str, Any] = {
        "benchmark": "normalize",
        "python": platform.python_version(),
        "phonenumbers": phonenumbers.__version__,
        "pinned_cpu": cpu,
        "load_avg_start": load_avg(),
        "settings": vars(args) | {"out": str(args.out)},
    }

    print(f"pool: {args.values:,} values drawn from a {args.pool_rows:,}-row synthetic export")
    pool = generate_contacts(args.pool_rows, seed=args.seed)
    picks = [rng.randrange(pool.n_rows) for _ in range(args.values)]
    result["pool"] = scenario(pool, picks, args.repeat, args.uncached, rng)

    if args.uncached:
        phones = pool.column("phone")
        regions = regions_of(pool.column("country"))
        distinct = sorted({(p, r) for p, r in zip(phones, regions, strict=True)
                           if p is not None}, key=repr)  # fmt: skip
        sample = rng.sample(distinct, min(args.uncached, len(distinct)))
        peer = phonenumbers_peer(sample)
        result["peer_phonenumbers_alone"] = peer
        print(f"  peer: phonenumbers alone   {peer['values_per_s_cpu']:>12,} /s cpu "
              f"(distinct values, no cache)")  # fmt: skip
    del pool, picks

    if args.natural_rows:
        print(f"natural: a {args.natural_rows:,}-row synthetic export as it is")
        natural = generate_contacts(args.natural_rows, seed=args.seed + 1)
        result["natural"] = scenario(natural, None, 1, 0, rng)
        del natural

    result["load_avg_end"] = load_avg()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    print(f"wrote {args.out}  load average {result['load_avg_start']} -> {result['load_avg_end']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
