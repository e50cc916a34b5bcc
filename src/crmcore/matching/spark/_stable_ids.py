"""Stable entity ids on Spark: :func:`spark_assign_stable_ids`.

The Spark counterpart of :func:`crmcore.matching._stable_ids.assign_stable_ids`, with the same
rule and the same answers (ids, change report, next sequence number), for clusterings that do
not fit the driver:

1. **claims** — the records of the new clustering are joined with the previous assignment on
   the record id; a group-by counts the members of each new cluster that held each previous id.
   Every claim gets the key ``(-members, previous id, -cluster size, smallest record id of the
   cluster)``: the in-process order (strictly total, so the greedy grant is well defined).
2. **grant** — rounds of *locally dominant* claims: a claim that is the smallest key both among
   its cluster's claims and among its previous id's claims is granted (two group-bys and a
   join); claims of granted clusters and ids are dropped (anti-joins). With a strict total
   order this is exactly the sequential greedy grant. Once at most ``local_claims`` claims are
   left (most are settled in the first round: uncontested claims win at once), the rest is
   collected and granted on the driver in key order.
3. **new ids** — clusters without a granted id are numbered in order of their smallest record
   id from ``max(next_sequence, largest previous sequence + 1)``.
4. **report** — kept, new, merged (with the id of the cluster holding most of the retired id's
   records), split (with the other clusters' ids) and removed ids, as one DataFrame of changes;
   :meth:`SparkStableIds.report` collects it into the in-process
   :class:`~crmcore.matching._stable_ids.IdChangeReport`.

Record ids and entity ids are compared as text; Spark orders strings by their UTF-8 bytes,
which is the code-point order Python uses, so "oldest id" and "smallest record id" mean the
same on both engines.
"""

from __future__ import annotations

import re
from typing import Any

import attrs

from crmcore.errors import FieldProblem, MatchingConfigError, ValidationError
from crmcore.matching._stable_ids import IdChangeReport
from crmcore.matching.spark._util import counted_index

_WIDTH = 12
_MAX_SEQUENCE = 2**63 - 1


@attrs.frozen
class SparkStableIds:
    """Outcome of :func:`spark_assign_stable_ids`: DataFrames plus driver-side figures.

    Args:
        assignments: Every record of the new clustering: the record id (named as the input's
            id column) and its ``entity_id``.
        changes: One row per entity id the run touched: ``entity_id``, ``change`` (``"kept"``,
            ``"new"``, ``"merged"`` or ``"removed"``), ``merged_into`` (merged ids: the id of the
            cluster that now holds most of its records), ``split_into`` (kept ids: the ids of the
            *other* clusters that now hold some of its former records, sorted; empty when it did
            not split) and ``seq`` (new ids: issue order).
        next_sequence: Sequence number to pass to the next run so no id is ever reused.
        summary: Number of ids per category, as :meth:`IdChangeReport.summary`.
    """

    assignments: Any = attrs.field(repr=False)
    changes: Any = attrs.field(repr=False)
    next_sequence: int
    summary: dict[str, int]

    def report(self) -> IdChangeReport:
        """Collect the changes into the in-process report (one entry per id: driver memory)."""
        kept: list[str] = []
        new: list[tuple[int, str]] = []
        merged: dict[str, str] = {}
        split: dict[str, tuple[str, ...]] = {}
        removed: list[str] = []
        for row in self.changes.collect():
            eid, change = row["entity_id"], row["change"]
            if change == "kept":
                kept.append(eid)
                if row["split_into"]:
                    split[eid] = tuple(sorted(row["split_into"]))
            elif change == "new":
                new.append((int(row["seq"]), eid))
            elif change == "merged":
                merged[eid] = row["merged_into"]
            else:
                removed.append(eid)
        return IdChangeReport(
            kept=tuple(sorted(kept)),
            new=tuple(eid for _, eid in sorted(new)),
            merged=dict(sorted(merged.items())),
            split=dict(sorted(split.items())),
            retired=tuple(sorted([*merged, *removed])),
            removed=tuple(sorted(removed)),
        )

    def mapping(self) -> dict[str, str]:
        """Collect record id -> entity id (for tables that fit the driver)."""
        rid = self.assignments.columns[0]
        return {r[rid]: r["entity_id"] for r in self.assignments.collect()}


def _keep(df: Any, checkpoint: str) -> Any:
    if checkpoint == "reliable":
        return df.checkpoint(eager=True)
    return df.localCheckpoint(eager=True)


def _check_columns(df: Any, columns: list[str], what: str) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise MatchingConfigError(
            f"{what} lack the columns {missing}; they have {df.columns} "
            "(name them with id_column= / label_column= / previous_*_column=)"
        )


def _check_unique(records: Any, column: str, field: str, what: str) -> None:
    """Raise :class:`ValidationError` for missing or repeated record ids (one Spark job)."""
    from pyspark.sql import functions as sf

    bad = (
        records.groupBy(column)
        .agg(sf.count("*").alias("n"))
        .where(sf.col(column).isNull() | (sf.col("n") > 1))
    )
    total = bad.count()
    if not total:
        return
    rows = bad.orderBy(sf.col(column).asc_nulls_first()).limit(20).collect()
    problems = [
        FieldProblem(field, None, "stable_ids.required", f"record id missing in {what}")
        if r[column] is None
        else FieldProblem(
            field, r[column], "stable_ids.unique",
            f"record id given {r['n']} times in {what}", r[column],
        )
        for r in rows
    ]
    raise ValidationError(problems, f"{total} missing or duplicate record ids in {what}")


def _check_previous(prev: Any, field: str) -> None:
    """Raise :class:`ValidationError` for records with two previous entity ids (one job)."""
    from pyspark.sql import functions as sf

    bad = prev.where(sf.col("old") != sf.col("other"))
    rows = bad.orderBy("rid").limit(21).collect()
    if not rows:
        return
    problems = [
        FieldProblem(
            field, r["rid"], "stable_ids.unique",
            f"record has two entity ids in the previous assignment: {r['old']!r}, "
            f"{r['other']!r}", r["rid"],
        )
        for r in rows[:20]
    ]
    raise ValidationError(
        problems, f"{'over 20' if len(rows) > 20 else len(rows)} record ids with two entity ids "
        "in the previous assignment",
    )


def _largest_sequence(old_ids: Any, prefix: str) -> int:
    """Largest sequence number among previous ids of the form prefix + 12 or more digits.

    Matches what ``assign_stable_ids`` parses (Python's ``\\d`` is a Unicode decimal digit,
    Java's ``\\p{Nd}``). ASCII numbers are compared in Spark (length, then text, of the digits
    without leading zeros); the rare ids with other decimal digits are collected and parsed.
    One Spark job.
    """
    from pyspark.sql import functions as sf

    pattern = "^" + re.escape(prefix) + r"(\p{Nd}{" + str(_WIDTH) + r",})$"
    digits = sf.regexp_extract(sf.col("old"), pattern, 1)
    found = old_ids.select(digits.alias("d")).where(sf.length("d") > 0)
    is_ascii = sf.col("d").rlike("^[0-9]+$")
    stripped = sf.regexp_replace("d", "^0+", "")
    row = found.agg(
        sf.max(sf.when(is_ascii, sf.struct(sf.length(stripped).alias("n"), stripped.alias("d"))))
        .alias("top"),
        sf.collect_set(sf.when(~is_ascii, sf.col("d"))).alias("others"),
    ).collect()[0]
    values = [int(d) for d in row["others"]]
    if row["top"] is not None:
        values.append(int(row["top"]["d"] or "0"))
    return max(values, default=0)


def _greedy(claims: list[tuple[Any, ...]]) -> list[tuple[str, str]]:
    """Sequential greedy grant of ``(key, cmin, old)`` claims in key order (driver side)."""
    taken_c: set[str] = set()
    taken_o: set[str] = set()
    out: list[tuple[str, str]] = []
    for _, cmin, old in sorted(claims, key=lambda c: c[0]):
        if cmin not in taken_c and old not in taken_o:
            taken_c.add(cmin)
            taken_o.add(old)
            out.append((cmin, old))
    return out


def _grant(claims: Any, local_claims: int, checkpoint: str) -> Any:
    """Granted ``(cmin, old)`` claims: Spark rounds until few are left, then the driver."""
    from pyspark.sql import functions as sf

    spark = claims.sparkSession
    parts: list[Any] = []
    remaining = claims
    limit = max(local_claims, 0)
    rows: list[Any] = []
    while True:
        if limit and remaining.limit(limit + 1).count() <= limit:
            rows = remaining.select("key", "cmin", "old").collect()
            break
        if not limit and remaining.isEmpty():
            break
        best_c = remaining.groupBy("cmin").agg(sf.min("key").alias("bc"))
        best_o = remaining.groupBy("old").agg(sf.min("key").alias("bo"))
        won = (
            remaining.join(best_c, "cmin")
            .join(best_o, "old")
            .where((sf.col("key") == sf.col("bc")) & (sf.col("key") == sf.col("bo")))
            .select("cmin", "old")
        )
        won = _keep(won, checkpoint)
        parts.append(won)
        remaining = _keep(
            remaining.join(won.select("cmin"), "cmin", "left_anti").join(
                won.select("old"), "old", "left_anti"
            ),
            checkpoint,
        )
    local = _greedy([(tuple(r["key"]), r["cmin"], r["old"]) for r in rows])
    granted = spark.createDataFrame(local, "cmin string, old string")
    for part in parts:
        granted = part.unionByName(granted)
    return granted


def spark_assign_stable_ids(
    entities: Any,
    previous: Any | None = None,
    *,
    id_column: str = "id",
    label_column: str = "label",
    previous_id_column: str | None = None,
    previous_entity_column: str = "entity_id",
    prefix: str = "E",
    next_sequence: int = 1,
    local_claims: int = 500_000,
    checkpoint: str = "local",
) -> SparkStableIds:
    """Give every cluster an entity id, keeping previous ids where the entity survives.

    The same rule and the same answers as
    :func:`crmcore.matching._stable_ids.assign_stable_ids` (see its module for the rule),
    computed with joins and group-bys.

    Args:
        entities: Spark DataFrame of the new clustering: one row per record with a record id
            and a cluster label (e.g. the ``entities`` of
            :func:`~crmcore.matching.spark.spark_dedupe`: ``id`` and ``label``). Labels only
            group records.
        previous: Spark DataFrame of the previous assignment, record id -> entity id (rows
            without an entity id are ignored); None on the first run.
        id_column: Column of record ids in ``entities`` (read as text, unique).
        label_column: Column of cluster labels in ``entities``.
        previous_id_column: Column of record ids in ``previous`` (default: ``id_column``).
        previous_entity_column: Column of entity ids in ``previous``.
        prefix: Prefix of newly issued ids.
        next_sequence: First sequence number this run may issue (the previous run's
            ``next_sequence``); raised past any previous id of the same format.
        local_claims: Claims are granted in Spark rounds until at most this many are left; the
            rest are granted on the driver (0: all in Spark).
        checkpoint: ``"local"`` (``localCheckpoint``) or ``"reliable"`` (``checkpoint`` to the
            directory of ``SparkContext.setCheckpointDir``).

    Returns:
        DataFrames of record -> entity id and of the changes, the next sequence number and the
        number of ids per category.

    Raises:
        ValidationError: If a record id is missing or repeated (in ``entities`` or with two
            entity ids in ``previous``).
        MatchingConfigError: For missing columns or an unknown ``checkpoint``.
    """
    from pyspark.sql import Window
    from pyspark.sql import functions as sf

    if checkpoint not in ("local", "reliable"):
        raise MatchingConfigError(f"checkpoint must be local or reliable, not {checkpoint!r}")
    _check_columns(entities, [id_column, label_column], "the entities")
    spark = entities.sparkSession
    recs = entities.select(
        sf.col(id_column).cast("string").alias("rid"), sf.col(label_column).alias("lab")
    )
    _check_unique(recs, "rid", id_column, "the entities")

    # Clusters: smallest record id (the cluster's key from here on) and size.
    cluster = Window.partitionBy("lab")
    members = _keep(
        recs.select(
            "rid", sf.min("rid").over(cluster).alias("cmin"),
            sf.count("*").over(cluster).alias("size"),
        ),
        checkpoint,
    )

    # Previous assignment: one entity id per record.
    if previous is None:
        prev = spark.createDataFrame([], "rid string, old string")
    else:
        pid = previous_id_column or id_column
        _check_columns(previous, [pid, previous_entity_column], "the previous assignment")
        pairs = previous.select(
            sf.col(pid).cast("string").alias("rid"),
            sf.col(previous_entity_column).cast("string").alias("old"),
        ).where(sf.col("rid").isNotNull() & sf.col("old").isNotNull())
        prev = _keep(
            pairs.groupBy("rid").agg(sf.min("old").alias("old"), sf.max("old").alias("other")),
            checkpoint,
        )
        _check_previous(prev, pid)
        prev = prev.select("rid", "old")

    # 1. Claims with their order key.
    key = sf.struct(
        (-sf.col("n")).alias("k0"), sf.col("old").alias("k1"), (-sf.col("size")).alias("k2"),
        sf.col("cmin").alias("k3"),
    )
    claims = _keep(
        members.join(prev, "rid")
        .groupBy("cmin", "size", "old")
        .agg(sf.count("*").alias("n"))
        .select("cmin", "old", key.alias("key")),
        checkpoint,
    )

    # 2. Grant.
    granted = _keep(_grant(claims, local_claims, checkpoint), checkpoint)

    # 3. New ids for the other clusters, in order of their smallest record id.
    start = max(next_sequence, _largest_sequence(prev, prefix) + 1)
    roots = members.where(sf.col("rid") == sf.col("cmin")).select("cmin")
    fresh = roots.join(granted.select("cmin"), "cmin", "left_anti")
    fresh, n_new = counted_index(fresh.orderBy("cmin"), "seq")
    if start + n_new - 1 > _MAX_SEQUENCE:
        raise ValidationError(
            FieldProblem(
                "next_sequence", start, "stable_ids.sequence",
                f"sequence numbers past {_MAX_SEQUENCE} are not supported on Spark",
            )
        )
    number = (sf.col("seq") + sf.lit(start)).cast("string")
    digits = sf.when(sf.length(number) >= _WIDTH, number).otherwise(sf.lpad(number, _WIDTH, "0"))
    fresh = _keep(
        fresh.select("cmin", "seq", sf.concat(sf.lit(prefix), digits).alias("entity_id")),
        checkpoint,
    )
    eids = granted.select("cmin", sf.col("old").alias("entity_id")).unionByName(
        fresh.select("cmin", "entity_id")
    )
    assignments = members.join(eids, "cmin").select(
        sf.col("rid").alias(id_column), "entity_id"
    )

    # 4. Changes: per previous id, from its claims (holder: the cluster granted the id).
    holders = granted.select("old", sf.col("cmin").alias("holder"))
    per_old = (
        claims.join(holders, "old", "left")
        .join(eids, "cmin")
        .groupBy("old")
        .agg(
            sf.max("holder").alias("holder"),
            sf.array_sort(
                sf.collect_list(
                    sf.when(sf.col("cmin") != sf.col("holder"), sf.col("entity_id"))
                )
            ).alias("split_into"),
            sf.min(sf.struct("key", "entity_id")).alias("best"),
        )
    )
    empty = sf.array().cast("array<string>")
    no_seq = sf.lit(None).cast("long")
    olds = prev.select("old").distinct().join(per_old, "old", "left").select(
        sf.col("old").alias("entity_id"),
        sf.when(sf.col("holder").isNotNull(), "kept")
        .when(sf.col("best").isNotNull(), "merged")
        .otherwise("removed")
        .alias("change"),
        sf.when(sf.col("holder").isNull(), sf.col("best.entity_id")).alias("merged_into"),
        sf.when(sf.col("holder").isNotNull(), sf.col("split_into"))
        .otherwise(empty)
        .alias("split_into"),
        no_seq.alias("seq"),
    )
    new = fresh.select(
        "entity_id", sf.lit("new").alias("change"),
        sf.lit(None).cast("string").alias("merged_into"), empty.alias("split_into"), "seq",
    )
    changes = _keep(olds.unionByName(new), checkpoint)
    tally = {
        r["change"]: (int(r["n"]), int(r["splits"]))
        for r in changes.groupBy("change")
        .agg(
            sf.count("*").alias("n"),
            sf.sum((sf.size("split_into") > 0).cast("long")).alias("splits"),
        )
        .collect()
    }

    def n_of(change: str) -> int:
        return tally.get(change, (0, 0))[0]

    summary = {
        "kept": n_of("kept"),
        "new": n_of("new"),
        "merged": n_of("merged"),
        "split": tally.get("kept", (0, 0))[1],
        "retired": n_of("merged") + n_of("removed"),
        "removed": n_of("removed"),
    }
    return SparkStableIds(
        assignments=assignments, changes=changes, next_sequence=start + n_new, summary=summary
    )
