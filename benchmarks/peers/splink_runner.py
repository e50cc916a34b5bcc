"""Splink (DuckDB backend) side-by-side runs for crmcore's benchmarks.

Run under a separate virtual environment that has Splink 5 installed (Splink is never a crmcore
dependency); crmcore calls it as a subprocess through :func:`benchmarks.peers.run_splink`.
Every mode prints ONE line of JSON (the last line of stdout):

* ``hist50k PATH [--threshold 0.9]``: the hand-tuned settings of
  ``shared/anchors/splink_hist50k.py`` (7 blocking rules, TF adjustments, two EM sessions) on
  historical_50k; phase times, total wall time, peak RSS and pairwise P/R/F1 of the clusters
  against the ``cluster`` column.
* ``synthetic PATH [--threshold 0.9]``: contacts made by ``benchmarks/synth.py`` (CSV or
  Parquet with ``entity_id`` truth): light pandas cleaning (lower case, Gmail dots and +tags
  removed, last nine digits of phones with the extension kept, legal forms stripped), blocking on
  email, phone, full name + postcode / company / city and swapped names; comparisons on given
  and family name (Jaro-Winkler, TF), email (address, username, username one edit apart), phone,
  company (Jaro-Winkler, TF) and postcode (TF); two EM sessions (blocked on name, on email);
  the same JSON plus F1 at other cluster thresholds (computed outside the timed run).
* ``people PATH`` / ``names PATH``: the accuracy suite's standard forms (a person register;
  an organisation name list) with the settings of Splink's own examples (see ``run_people``,
  ``run_names``); pairwise P/R/F1 of the clusters at threshold 0.95 by default.
* ``predict_between PATH --n N [--queries Q]``: train as in ``synthetic`` on the first N
  records, then score each of the next Q records on its own against the N with
  ``linker.inference.predict_between`` (Splink 5's replacement for
  ``find_matches_to_new_records``) and report p50 / p99 / mean latency per record.

Usage: /work/splink-venv/bin/python benchmarks/peers/splink_runner.py MODE PATH [options]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from collections.abc import Callable
from typing import Any

__all__ = ["main"]

LEGAL_FORMS = (
    r"\b(incorporated|inc|llc|l\.l\.c|corp|corporation|ltd|limited|plc|public limited company"
    r"|gmbh|g\.m\.b\.h|ag|aktiengesellschaft|sas|s\.a\.s|sarl|s\.a\.r\.l|sa|s\.a|s\.l|sl"
    r"|sociedad limitada|sociedad an[oó]nima|s\.r\.l|srl|s\.p\.a|spa|b\.v|bv|n\.v|nv|ab"
    r"|aktiebolag|pty ltd|pty\. ltd|pty|proprietary limited|k\.k|kk|kabushiki kaisha"
    r"|co\., ltd)\.?$"
)


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _pair_count(sizes: Any) -> int:
    return int(sum(int(s) * (int(s) - 1) // 2 for s in sizes))


def _pairwise_scores(clusters: Any, truth: dict[Any, Any]) -> dict[str, float]:
    """Pairwise precision / recall / F1 of predicted clusters against a truth mapping."""
    clusters = clusters.copy()
    clusters["truth"] = clusters["unique_id"].map(truth)
    tp = _pair_count(clusters.groupby(["cluster_id", "truth"]).size())
    predicted = _pair_count(clusters.groupby("cluster_id").size())
    counts: dict[Any, int] = {}
    for value in truth.values():
        counts[value] = counts.get(value, 0) + 1
    actual = _pair_count(counts.values())
    p = tp / max(predicted, 1)
    r = tp / max(actual, 1)
    f1 = 2 * p * r / (p + r) if p + r else 0.0
    return {"precision": round(p, 4), "recall": round(r, 4), "f1": round(f1, 4),
            "true_pairs": actual, "predicted_pairs": predicted}


# ---------------------------------------------------------------------------------------------
# historical_50k: the anchor's tuned settings


def run_hist50k(path: str, threshold: float) -> dict[str, Any]:
    """Reproduce shared/anchors/splink_hist50k.py (tuned) and measure it."""
    import pandas as pd
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    t0 = time.perf_counter()
    df = pd.read_parquet(path)
    t_read = time.perf_counter()
    rules = [
        block_on("first_name", "surname"),
        block_on("surname", "dob"),
        block_on("first_name", "dob"),
        block_on("postcode_fake", "first_name"),
        block_on("postcode_fake", "surname"),
        block_on("dob", "birth_place"),
        block_on("substr(surname,1,3)", "substr(first_name,1,2)", "birth_place"),
    ]
    settings = SettingsCreator(
        link_type="dedupe_only",
        blocking_rules_to_generate_predictions=rules,
        comparisons=[
            cl.ExactMatch("first_name").configure(term_frequency_adjustments=True),
            cl.JaroWinklerAtThresholds(
                "surname", score_threshold_or_thresholds=[0.9, 0.8]
            ).configure(term_frequency_adjustments=True),
            cl.LevenshteinAtThresholds(
                "postcode_fake", distance_threshold_or_thresholds=[1, 2, 3]
            ),
            cl.JaroWinklerAtThresholds(
                "birth_place", score_threshold_or_thresholds=0.9
            ).configure(term_frequency_adjustments=True),
            cl.ExactMatch("occupation").configure(term_frequency_adjustments=True),
            cl.DateOfBirthComparison("dob", input_is_string=True),
        ],
    )
    linker = Linker(DuckDBAPI().register(df), settings, log_level=40)
    linker.training.estimate_probability_two_random_records_match(
        [block_on("first_name", "surname", "dob"),
         block_on("substr(first_name,1,2)", "surname", "substr(postcode_fake,1,2)")],
        recall=0.6,
    )
    linker.training.estimate_u_using_random_sampling(max_pairs=5e6)
    linker.training.estimate_parameters_using_expectation_maximisation(
        block_on("first_name", "surname")
    )
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("dob"))
    t1 = time.perf_counter()
    pred = linker.inference.predict(threshold_match_probability=0.2)
    t2 = time.perf_counter()
    clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(
        pred, threshold
    ).as_pandas_dataframe()
    t3 = time.perf_counter()
    scores = _pairwise_scores(clusters, dict(zip(df.unique_id, df.cluster, strict=True)))
    return {
        "peer": "splink", "mode": "hist50k", "settings": "tuned (anchor)",
        "threshold": threshold, "records": len(df),
        "entities_true": int(df.cluster.nunique()),
        "entities_predicted": int(clusters.cluster_id.nunique()),
        "time_s": {"read": round(t_read - t0, 3), "train": round(t1 - t_read, 3),
                   "predict": round(t2 - t1, 3), "cluster": round(t3 - t2, 3),
                   "total": round(t3 - t0, 3)},
        "peak_rss_mb": round(_peak_rss_mb(), 1),
        **scores,
    }


# ---------------------------------------------------------------------------------------------
# synthetic contacts


def _read_contacts(path: str) -> Any:
    import pandas as pd

    if path.endswith((".parquet", ".pq")):
        df = pd.read_parquet(path)
    else:
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
    return df.astype("string").replace({"": None})


def _prepare_contacts(df: Any) -> Any:
    """The cleaning a Splink user would do in pandas before linking CRM contacts."""
    import pandas as pd

    out = pd.DataFrame({"unique_id": df["record_id"]})

    def low(col: str) -> Any:
        return df[col].str.strip().str.lower()

    out["first_name"] = low("first_name")
    out["last_name"] = low("last_name")
    email = low("email")
    local = email.str.extract(r"^([^@+]+)", expand=False)
    domain = email.str.extract(r"@(.+)$", expand=False)
    gmail = domain.isin(["gmail.com", "googlemail.com"])
    local = local.where(~gmail, local.str.replace(".", "", regex=False))
    out["email"] = (local + "@" + domain).where(email.str.contains("@", na=False))
    parts = df["phone"].str.split(r"(?i)\s*(?:;ext=|\(?ext\.?|x)\s*", n=1, regex=True)
    digits = parts.str[0].astype("string").str.replace(r"\D", "", regex=True)
    ext = parts.str[1].astype("string").str.replace(r"\D", "", regex=True).fillna("")
    # last 9 digits of the number (national vs international prefixes agree), extension kept
    phone = digits.str[-9:] + ext.where(ext == "", "x" + ext)
    out["phone"] = phone.where(digits.str.len() >= 7)
    company = low("company").str.replace(",", " ", regex=False).str.replace(r"\s+", " ",
                                                                              regex=True)
    company = company.str.strip().str.replace(LEGAL_FORMS, "", regex=True).str.strip()
    out["company"] = company.where(company.str.len() > 0)
    out["city"] = low("city")
    out["postcode"] = df["postcode"].str.upper().str.replace(r"[\s-]", "", regex=True)
    return out


def _email_comparison(cl: Any, cll: Any, column_expression: Any) -> Any:
    """Email levels: same address, same username, username one edit apart, else.

    Splink's ``EmailComparison`` also has Jaro-Winkler levels on the whole address; at a shared
    company domain those make colleagues (``ann.lee@acme.com`` / ``ann.low@acme.com``) look
    alike, so they are left out here.
    """
    user = column_expression("email").regex_extract("^[^@]+")
    return cl.CustomComparison(
        output_column_name="email",
        comparison_levels=[
            cll.NullLevel("email"),
            cll.ExactMatchLevel("email").configure(tf_adjustment_column="email"),
            cll.ExactMatchLevel(user).configure(label_for_charts="same username"),
            cll.DamerauLevenshteinLevel(user, 1).configure(
                label_for_charts="username one edit apart"
            ),
            cll.ElseLevel(),
        ],
    )


def _contacts_linker(data: Any, db_api: Any) -> Any:
    """Settings, linker and training for contacts."""
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl
    from splink import ColumnExpression, Linker, SettingsCreator, block_on

    rules = [
        block_on("email"),
        block_on("phone"),
        block_on("first_name", "last_name", "postcode"),
        block_on("first_name", "last_name", "company"),
        block_on("first_name", "last_name", "city"),
        "l.first_name = r.last_name and l.last_name = r.first_name",  # swapped names
    ]
    settings = SettingsCreator(
        link_type="dedupe_only",
        blocking_rules_to_generate_predictions=rules,
        comparisons=[
            cl.NameComparison("first_name").configure(term_frequency_adjustments=True),
            cl.NameComparison("last_name").configure(term_frequency_adjustments=True),
            _email_comparison(cl, cll, ColumnExpression),
            cl.LevenshteinAtThresholds("phone", [1, 2]),
            cl.JaroWinklerAtThresholds("company", [0.95, 0.88]).configure(
                term_frequency_adjustments=True
            ),
            cl.ExactMatch("postcode").configure(term_frequency_adjustments=True),
        ],
        retain_intermediate_calculation_columns=False,
    )
    sdf = db_api.register(data)
    linker = Linker(sdf, settings, log_level=40)
    linker.training.estimate_probability_two_random_records_match(
        [block_on("email"), block_on("phone", "last_name")], recall=0.7
    )
    linker.training.estimate_u_using_random_sampling(max_pairs=5e6, seed=1)
    linker.training.estimate_parameters_using_expectation_maximisation(
        block_on("first_name", "last_name")
    )
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("email"))
    return linker, sdf, rules


def _f1_by_threshold(linker: Any, pred: Any, truth: dict[Any, Any],
                     thresholds: list[float]) -> dict[str, float]:
    """F1 of the clusters at other thresholds (outside the timed run)."""
    out = {}
    for t in thresholds:
        clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(
            pred, t
        ).as_pandas_dataframe()
        out[str(t)] = _pairwise_scores(clusters, truth)["f1"]
    return out


def run_synthetic(path: str, threshold: float) -> dict[str, Any]:
    """Dedupe synthetic contacts with Splink and score against ``entity_id``."""
    from splink import DuckDBAPI

    t0 = time.perf_counter()
    raw = _read_contacts(path)
    t_read = time.perf_counter()
    data = _prepare_contacts(raw)
    t_prep = time.perf_counter()
    linker, _sdf, _rules = _contacts_linker(data, DuckDBAPI())
    t1 = time.perf_counter()
    pred = linker.inference.predict(threshold_match_probability=0.2)
    t2 = time.perf_counter()
    clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(
        pred, threshold
    ).as_pandas_dataframe()
    t3 = time.perf_counter()
    truth = dict(zip(raw["record_id"], raw["entity_id"], strict=True))
    scores = _pairwise_scores(clusters, truth)
    others = _f1_by_threshold(linker, pred, truth, [0.5, 0.8, 0.95, 0.99])
    return {
        "peer": "splink", "mode": "synthetic", "input": path, "threshold": threshold,
        "records": len(raw), "entities_true": int(raw["entity_id"].nunique()),
        "entities_predicted": int(clusters.cluster_id.nunique()),
        "time_s": {"read": round(t_read - t0, 3), "prepare": round(t_prep - t_read, 3),
                   "train": round(t1 - t_prep, 3), "predict": round(t2 - t1, 3),
                   "cluster": round(t3 - t2, 3), "total": round(t3 - t0, 3)},
        "peak_rss_mb": round(_peak_rss_mb(), 1),
        **scores,
        "f1_by_threshold_untimed": others,
    }


# ---------------------------------------------------------------------------------------------
# the accuracy suite: people registers and organisation name lists in a standard form


def run_people(path: str, threshold: float) -> dict[str, Any]:
    """A person register (columns unique_id, cluster and any of first_name, surname, dob,
    city, email, postcode, id_number) with the settings of Splink's own example notebooks
    (NameComparison, DateOfBirthComparison, EmailComparison, TF on city; blocking on name pairs
    and name + dob; prior from exact name + dob with recall 0.7; EM on names, on dob)."""
    import pandas as pd
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    t0 = time.perf_counter()
    df = pd.read_parquet(path)
    cols = set(df.columns)
    comps: list[Any] = [cl.NameComparison(c).configure(term_frequency_adjustments=True)
                        for c in ("first_name", "surname") if c in cols]
    if "dob" in cols:
        comps.append(cl.DateOfBirthComparison("dob", input_is_string=True))
    if "city" in cols:
        comps.append(cl.ExactMatch("city").configure(term_frequency_adjustments=True))
    if "email" in cols:
        comps.append(cl.EmailComparison("email"))
    if "postcode" in cols:
        comps.append(cl.LevenshteinAtThresholds("postcode", [1, 2]))
    if "id_number" in cols:
        comps.append(cl.LevenshteinAtThresholds("id_number", [1, 2]))
    rules = [block_on("first_name", "surname")]
    if "dob" in cols:
        rules += [block_on("surname", "dob"), block_on("first_name", "dob")]
    if "postcode" in cols:
        rules += [block_on("postcode", "first_name"), block_on("postcode", "surname")]
    if "email" in cols:
        rules.append(block_on("email"))
    settings = SettingsCreator(link_type="dedupe_only", comparisons=comps,
                               blocking_rules_to_generate_predictions=rules)
    linker = Linker(DuckDBAPI().register(df), settings, log_level=40)
    exact = ["first_name", "surname"] + (["dob"] if "dob" in cols else [])
    linker.training.estimate_probability_two_random_records_match(
        [block_on(*exact)], recall=0.7
    )
    linker.training.estimate_u_using_random_sampling(max_pairs=1e6)
    linker.training.estimate_parameters_using_expectation_maximisation(
        block_on("first_name", "surname")
    )
    if "dob" in cols:
        linker.training.estimate_parameters_using_expectation_maximisation(block_on("dob"))
    return _finish(linker, df, t0, threshold, "people")


def run_names(path: str, threshold: float) -> dict[str, Any]:
    """An organisation name list (columns unique_id, cluster, name): lower case, legal forms
    stripped, then Splink's usual single-field settings (exact + Jaro-Winkler 0.9 / 0.8 with
    TF; blocking on the first four letters and on the exact name; prior from exact names with
    recall 0.7; EM blocked on the exact name)."""
    import pandas as pd
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    t0 = time.perf_counter()
    df = pd.read_parquet(path)
    df["name"] = (df["name"].fillna("").str.lower().str.replace(r"[^\w\s]", " ", regex=True)
                  .str.replace(LEGAL_FORMS, "", regex=True).str.split().str.join(" "))
    df.loc[df["name"] == "", "name"] = None
    settings = SettingsCreator(
        link_type="dedupe_only",
        comparisons=[cl.JaroWinklerAtThresholds("name", [0.9, 0.8]).configure(
            term_frequency_adjustments=True)],
        blocking_rules_to_generate_predictions=[block_on("name"),
                                                block_on("substr(name, 1, 4)")],
    )
    def trained(em: bool) -> Any:
        linker = Linker(DuckDBAPI().register(df), settings, log_level=40)
        linker.training.estimate_probability_two_random_records_match([block_on("name")],
                                                                      recall=0.7)
        linker.training.estimate_u_using_random_sampling(max_pairs=1e6)
        if em:
            linker.training.estimate_parameters_using_expectation_maximisation(
                block_on("substr(name, 1, 4)")
            )
        return linker

    try:
        linker = trained(em=True)
        linker.inference.predict(threshold_match_probability=0.99)
        note = "EM on substr(name, 1, 4)"
    except Exception as exc:  # EM cannot train the only comparison when blocked on it
        linker = trained(em=False)
        note = f"EM failed ({type(exc).__name__}); Splink's default m values"
    out = _finish(linker, df, t0, threshold, "names")
    out["note"] = note
    return out


def run_places(path: str, threshold: float) -> dict[str, Any]:
    """A business listing (columns unique_id, cluster, name, street, city, phone): values
    lower-cased, the phone reduced to digits, then settings in the style of Splink's examples
    (Jaro-Winkler 0.9 / 0.8 with TF on the name and the street, exact city with TF, exact
    phone; blocking on the name, the phone, and the name's first four letters with the city;
    prior from deterministic rules on the phone and on name + city with recall 0.7; EM blocked
    on the phone, then on the name)."""
    import pandas as pd
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    t0 = time.perf_counter()
    df = pd.read_parquet(path)
    for col in ("name", "street", "city"):
        df[col] = (df[col].fillna("").str.lower().str.replace(r"[^\w\s]", " ", regex=True)
                   .str.split().str.join(" "))
        df.loc[df[col] == "", col] = None
    df["phone"] = df["phone"].fillna("").str.replace(r"\D", "", regex=True)
    df.loc[df["phone"] == "", "phone"] = None
    settings = SettingsCreator(
        link_type="dedupe_only",
        comparisons=[
            cl.JaroWinklerAtThresholds("name", [0.9, 0.8]).configure(
                term_frequency_adjustments=True),
            cl.JaroWinklerAtThresholds("street", [0.9, 0.8]),
            cl.ExactMatch("city").configure(term_frequency_adjustments=True),
            cl.ExactMatch("phone"),
        ],
        blocking_rules_to_generate_predictions=[
            block_on("name"), block_on("phone"), block_on("substr(name, 1, 4)", "city"),
        ],
    )
    linker = Linker(DuckDBAPI().register(df), settings, log_level=40)
    linker.training.estimate_probability_two_random_records_match(
        [block_on("phone"), block_on("name", "city")], recall=0.7)
    linker.training.estimate_u_using_random_sampling(max_pairs=1e6)
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("phone"))
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("name"))
    return _finish(linker, df, t0, threshold, "places")


def _finish(linker: Any, df: Any, t0: float, threshold: float, mode: str) -> dict[str, Any]:
    t1 = time.perf_counter()
    pred = linker.inference.predict(threshold_match_probability=0.2)
    clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(
        pred, threshold
    ).as_pandas_dataframe()
    t2 = time.perf_counter()
    scores = _pairwise_scores(clusters, dict(zip(df.unique_id, df.cluster, strict=True)))
    return {"peer": "splink", "mode": mode, "threshold": threshold, "records": len(df),
            "time_s": {"train": round(t1 - t0, 3), "predict_cluster": round(t2 - t1, 3),
                       "total": round(t2 - t0, 3)},
            "peak_rss_mb": round(_peak_rss_mb(), 1), **scores}


# ---------------------------------------------------------------------------------------------
# real time: one new record against N


def run_predict_between(path: str, n: int, queries: int, threshold: float) -> dict[str, Any]:
    """Train on N records, then time scoring single new records against them."""
    from splink import DuckDBAPI

    raw = _read_contacts(path)
    if len(raw) < n + queries:
        raise SystemExit(f"{path} has {len(raw)} rows; need n + queries = {n + queries}")
    t0 = time.perf_counter()
    base = _prepare_contacts(raw.iloc[:n])
    db_api = DuckDBAPI()
    linker, sdf, _rules = _contacts_linker(base, db_api)
    for column in ("first_name", "last_name", "company", "city", "email"):
        linker.table_management.compute_tf_table(column)
    t_build = time.perf_counter() - t0
    new = _prepare_contacts(raw.iloc[n : n + queries])
    latencies: list[float] = []
    found = 0
    for k in range(queries):
        one = new.iloc[[k]]
        start = time.perf_counter()
        new_sdf = db_api.register(one)
        result = linker.inference.predict_between(
            sdf, new_sdf, threshold_match_probability=threshold, warning_mode="never"
        ).as_pandas_dataframe()
        latencies.append(time.perf_counter() - start)
        found += int(len(result) > 0)
        new_sdf.drop_table_from_database_and_remove_from_cache(force_non_splink_table=True)
    latencies.sort()

    def q(p: float) -> float:
        return round(1000 * latencies[min(len(latencies) - 1, int(p * len(latencies)))], 2)

    return {
        "peer": "splink", "mode": "predict_between", "input": path, "n": n,
        "queries": queries, "threshold": threshold, "build_s": round(t_build, 3),
        "latency_ms": {"p50": q(0.5), "p99": q(0.99),
                       "mean": round(1000 * sum(latencies) / len(latencies), 2),
                       "max": round(1000 * latencies[-1], 2)},
        "queries_with_a_match": found,
        "peak_rss_mb": round(_peak_rss_mb(), 1),
    }


def main(argv: list[str] | None = None) -> int:
    """Parse the mode and its options, run it, print one JSON line."""
    parser = argparse.ArgumentParser(description="Splink side-by-side runs (JSON output)")
    parser.add_argument("mode", choices=["hist50k", "synthetic", "predict_between", "people",
                                         "names", "places"])
    parser.add_argument("path", help="input file")
    parser.add_argument("--threshold", type=float, default=None)
    parser.add_argument("--n", type=int, default=100_000, help="predict_between: base records")
    parser.add_argument("--queries", type=int, default=200, help="predict_between: new records")
    args = parser.parse_args(argv)
    runners: dict[str, Callable[[], dict[str, Any]]] = {
        "hist50k": lambda: run_hist50k(args.path, args.threshold or 0.9),
        "synthetic": lambda: run_synthetic(args.path, args.threshold or 0.9),
        "people": lambda: run_people(args.path, args.threshold or 0.95),
        "names": lambda: run_names(args.path, args.threshold or 0.95),
        "places": lambda: run_places(args.path, args.threshold or 0.95),
        "predict_between": lambda: run_predict_between(
            args.path, args.n, args.queries, args.threshold or 0.5
        ),
    }
    import splink

    load_before = os.getloadavg()[0]
    result = runners[args.mode]()
    result["splink_version"] = splink.__version__
    result["load_avg_1m"] = {"before": round(load_before, 2),
                             "after": round(os.getloadavg()[0], 2)}
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
