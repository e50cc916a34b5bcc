"""The batch matching pipeline on Apache Spark: :func:`spark_dedupe`.

Phases, each a Spark job (or a few) over DataFrames:

1. **prepare** — ``mapInArrow`` runs crmcore's normalisers and field expressions on every batch
   (:class:`~crmcore.matching._expressions.Frame`), giving the prepared columns and the block
   keys of every rule; rows are numbered 0..n-1 in input order (as in-process).
2. **block** — per rule, the pair count ``sum(c * (c - 1) / 2)`` over its blocks is computed
   first (a group-by; blocks over a rule's ``max_block_size`` are dropped, by the rule's own
   :meth:`~crmcore.matching.BlockOn.block_used`) and checked against
   ``settings.max_pairs`` (raising :class:`~crmcore.errors.PairBudgetExceeded` like
   in-process); then the pairs are a self-join
   on the key (sorted neighbourhood: a join on the position in the sorted order). The rules'
   pairs are unioned and de-duplicated with a bit mask saying which rules produced each pair,
   which gives the blocking analysis in one aggregation.
3. **compare** — the pairs are joined with the prepared records of both sides and
   ``mapInArrow`` runs :func:`~crmcore.matching._comparisons.compute_levels` per batch.
4. **train** (unless a model is given) — u from the same random pairs as in-process, compared in
   Spark; m by expectation maximisation (in-process function) on the counts of distinct level
   patterns per rule mask, aggregated in Spark and collected to the driver (a few thousand rows
   whatever the data size); term frequencies by a group-by. A comparison no EM session can
   estimate (a name-only organisation list) takes its m from the rare-word anchor, computed in
   Spark (:meth:`_Run.anchor_counts`) and passed to the same ``fit_parameters``.
5. **score** — ``mapInArrow`` runs :func:`~crmcore.matching._predict.score_levels`.
6. **cluster** — connected components of the pairs at or above the threshold
   (:func:`spark_connected_components`); the ``guarded`` policy (which splits weak chains)
   then runs per component with ``applyInPandas`` over the in-process
   :func:`~crmcore.matching._cluster.cluster_pairs`, and the ``pooled`` one (components of
   the pairs down to its weak-link threshold) over the in-process
   :func:`~crmcore.matching._cluster.pooled_labels`; pairs vetoed by a ``"non_match"`` rule
   that still share a cluster are kept apart per component, again with ``applyInPandas``, by
   the in-process :func:`~crmcore.matching.cluster_with_decisions`; entity ids as in-process.

Results equal :func:`crmcore.matching.dedupe` on the same input: the same pairs, the same scores
(to float rounding) and the same clusters and entity ids.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import attrs
import numpy as np
import numpy.typing as npt

from crmcore.errors import MatchingConfigError, MissingDependencyError, ModelError
from crmcore.io import Table
from crmcore.matching._anchors import ANCHOR_MAX_RECORDS, anchor_words
from crmcore.matching._blocking import BlockingAnalysis, BlockOn, SortedNeighbourhood
from crmcore.matching._cluster import cluster_pairs, id_ranks, pooled_labels
from crmcore.matching._comparisons import Comparison
from crmcore.matching._em import MIN_SESSION_PAIRS, session_comparisons
from crmcore.matching._em import (
    merge_patterns as _weighted_patterns,  # same order as pattern_counts, no int64 overflow
)
from crmcore.matching._expressions import parse_expression
from crmcore.matching._model import MatchModel
from crmcore.matching._predict import ScoredPairs, vetoed
from crmcore.matching._prepare import with_date_order
from crmcore.matching._presets import get_preset
from crmcore.matching._review import cluster_with_decisions
from crmcore.matching._settings import MatchSettings
from crmcore.matching._stable_ids import ENTITY_ID_WIDTH
from crmcore.matching._tf import TermFrequencies, tf_bonus
from crmcore.matching._training import fit_parameters, model_from_fit
from crmcore.matching._u_sampling import (
    draw_within_strata,
    random_pairs,
    u_from_level_counts,
    u_sample_size,
)
from crmcore.matching.spark._components import spark_connected_components
from crmcore.matching.spark._stages import (
    count_column,
    key_column,
    levels_function,
    prepare_function,
    score_function,
    sort_column,
    typo_function,
    words_function,
)
from crmcore.matching.spark._util import (
    arrow_columns,
    consecutive_index,
    counted_index,
    from_numpy,
    quiet,
)
from crmcore.normalize import apply_mapping

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
LevelArray = npt.NDArray[np.int8]
Progress = Callable[[str], None]


def _require_spark() -> None:
    try:
        import pyarrow as pa
        import pyspark

        del pa, pyspark
    except ImportError as exc:
        raise MissingDependencyError(
            getattr(exc, "name", None) or "pyspark", "spark", "the Spark runner"
        ) from exc


@attrs.frozen
class SparkMatchResult:
    """Outcome of :func:`spark_dedupe`: Spark DataFrames plus the driver-side model and analysis.

    Args:
        pairs: Scored candidate pairs: ``left_id``, ``right_id``, ``left_row``, ``right_row``
            (``left_row < right_row``, rows number the input in order), ``match_weight``,
            ``probability``, ``rule`` (index of the deciding rule or -1) and one level index
            column per comparison (named after it).
        entities: Every input row: ``id``, ``row``, ``entity_id``, ``label`` (smallest row of
            its cluster), ``cluster_size``.
        model: The model used (trained in this run unless one was given).
        settings: The settings used.
        threshold: Match probability threshold used for clusters.
        analysis: Blocking analysis (pairs per rule, new pairs per rule, union).
        timings: Seconds per phase (Spark jobs run inside the phase that needs them).
        n_records: Number of input rows.
    """

    pairs: Any = attrs.field(repr=False)
    entities: Any = attrs.field(repr=False)
    model: MatchModel
    settings: MatchSettings
    threshold: float
    analysis: BlockingAnalysis
    timings: dict[str, float]
    n_records: int

    @property
    def matches(self) -> Any:
        """Pairs at or above the threshold (a DataFrame)."""
        from pyspark.sql import functions as sf

        return self.pairs.where(sf.col("probability") >= self.threshold)

    def with_level_labels(self) -> Any:
        """The pairs with level labels (text) instead of level indexes."""
        from pyspark.sql import functions as sf

        out = self.pairs
        for comp in self.model.comparisons:
            labels = sf.array(*[sf.lit(lab) for lab in comp.labels])
            label = sf.element_at(labels, sf.col(comp.name).cast("int") + 1)
            out = out.withColumn(comp.name, label)
        return out


# -- helpers ------------------------------------------------------------------------------------


def _renames(
    columns: Sequence[str], mapping: Mapping[str, str] | None, preset: str | None
) -> dict[str, str]:
    """Source column -> canonical field, exactly as :func:`crmcore.normalize.apply_mapping`."""
    probe = apply_mapping(Table({c: [c] for c in columns}), mapping, preset=preset)
    return {str(values[0]): target for target, values in probe.columns.items()}


def _tf_columns(comparisons: Sequence[Comparison]) -> list[str]:
    cols: list[str] = []
    for comp in comparisons:
        for li in comp.tf_levels:
            col = parse_expression(comp.levels[li - 1].expressions[0]).column
            if col not in cols:
                cols.append(col)
    return cols


def _advice(rule: str, count: int, budget: int) -> str:
    return (
        f"blocking rule {rule!r} would produce {count:,} pairs, over the budget of {budget:,}; "
        "make it stricter (add a field, use a longer prefix, a phonetic code of a second field), "
        "or raise max_pairs if the cluster has the resources (Spark spills, but every pair is "
        "joined with both records and compared)"
    )


# -- the pipeline -------------------------------------------------------------------------------


class _Run:
    """State of one Spark run (an engine object, not a spec)."""

    def __init__(
        self, df: Any, id_column: str, settings: MatchSettings, progress: Progress | None,
        checkpoint: str = "local",
    ) -> None:
        self.df = df
        self.spark = df.sparkSession
        self.id_column = id_column
        self.settings = settings
        self.say = progress or (lambda _msg: None)
        self.columns = sorted(settings.columns)
        self.comparisons = settings.comparisons
        self.n_comp = len(self.comparisons)
        self.timings: dict[str, float] = {}
        self.level_cols = [f"__crm_lv{j}" for j in range(self.n_comp)]
        self.checkpoint = checkpoint

    def keep(self, df: Any) -> Any:
        """Materialise a stage and cut its lineage (query plans stay small across stages)."""
        if self.checkpoint == "reliable":
            return df.checkpoint(eager=True)
        return df.localCheckpoint(eager=True)

    # 1. prepare
    def prepare(self) -> Any:
        import pyarrow as pa
        from pyspark.sql import functions as sf

        missing = [c for c in self.columns if c not in self.df.columns]
        if missing:
            raise MatchingConfigError(
                f"the settings read columns {missing} which the data lacks; "
                f"the data has {self.df.columns} (map columns with mapping={{SOURCE: FIELD}})"
            )
        if self.id_column not in self.df.columns:
            raise MatchingConfigError(
                f"no id column {self.id_column!r}; the data has {self.df.columns}"
            )
        base = self.df.select(
            sf.col(self.id_column).cast("string").alias("__crm_id"),
            *[sf.col(c).cast("string").alias(c) for c in self.columns],
        )
        numbered, self.n = counted_index(base, "__crm_row")
        indexed = self.keep(numbered)
        fields = [pa.field("__crm_row", pa.int64())]
        fields += [pa.field(c, pa.string()) for c in self.columns]
        ddl = ["`__crm_row` long", *[f"`{c}` string" for c in self.columns]]
        for i, rule in enumerate(self.settings.blocking):
            if isinstance(rule, BlockOn):
                fields.append(pa.field(key_column(i), pa.list_(pa.string())))
                ddl.append(f"`{key_column(i)}` array<string>")
                if rule.count_by is not None:
                    fields.append(pa.field(count_column(i), pa.string()))
                    ddl.append(f"`{count_column(i)}` string")
            else:
                fields.append(pa.field(sort_column(i), pa.string()))
                ddl.append(f"`{sort_column(i)}` string")
        # the day/month order of the date columns, as batch decides it (their distinct values)
        dates = {c: [row[0] for row in base.select(c).distinct().collect()]
                 for c, kind in self.settings.prepare.items()
                 if kind == "date" and c in self.columns}
        self.settings = with_date_order(self.settings, dates)
        fn = prepare_function(
            self.columns, self.settings.prepare, self.settings.blocking, pa.schema(fields)
        )
        with quiet():
            prepared = indexed.select("__crm_row", *self.columns).mapInArrow(fn, ", ".join(ddl))
        self.prepared = self.keep(prepared)
        self.ids = indexed.select("__crm_row", "__crm_id")
        return self.prepared

    # 2. block
    def _raise_budget(self, name: str, count: int) -> None:
        from crmcore.errors import PairBudgetExceeded

        raise PairBudgetExceeded(_advice(name, count, self.settings.max_pairs or 0))

    def _exact_pairs(self, rules: Sequence[tuple[int, BlockOn]]) -> Any | None:
        """Pairs of every exact-key rule: one key table, one count job, one self-join.

        Keys are ``(rule, key)``: a pair shares a block under rule ``r`` exactly when both rows
        carry the same key for ``r``. The counts of every block give each rule's pair count
        before any pair exists; adaptive rules over their per-record budget are skipped and a
        rule over ``max_pairs`` raises, as in-process.
        """
        from pyspark.sql import functions as sf

        if not rules:
            return None
        parts = [
            self.prepared.select(
                sf.lit(i).alias("rule"), sf.lit(1 << i).cast("long").alias("bit"),
                sf.col("__crm_row").alias("row"), sf.explode(key_column(i)).alias("key"),
            )
            for i, _ in rules
        ]
        keys = parts[0]
        for part in parts[1:]:
            keys = keys.unionByName(part)
        keys = self.keep(keys)
        sizes = keys.groupBy("rule", "key").count()
        capped = [(i, rule) for i, rule in rules if rule.max_block_size is not None]
        if capped:
            # blocks over a rule's max_block_size pair nobody (the rule's own test of a size)
            sizes = self.keep(sizes)
            over = None
            for i, rule in capped:
                big = (sf.col("rule") == i) & ~rule.block_used(sf.col("count"))
                over = big if over is None else over | big
            assert over is not None
            keys = self.keep(keys.join(sizes.where(over).select("rule", "key"),
                                       ["rule", "key"], "left_anti"))
            sizes = sizes.where(~over)
        raw_rows = sizes.groupBy("rule").agg(
            sf.sum(sf.col("count") * (sf.col("count") - 1) / 2).alias("pairs")
        ).collect()
        raw = {int(r["rule"]): int(r["pairs"] or 0) for r in raw_rows}
        weighed = {i: (raw.get(i, 0), self.n) for i, _ in rules}
        weighed.update({i: self._distinct_count(i, rule, keys) for i, rule in rules
                        if rule.count_by is not None})
        budget = self.settings.max_pairs
        used: list[int] = []
        for i, rule in rules:
            count = raw.get(i, 0)
            adaptive = rule.max_pairs_per_record
            pairs, units = weighed[i]
            if adaptive is not None and pairs > adaptive * max(units, 1):
                self.skipped[i] = count
                continue
            if budget is not None and count > budget:
                self._raise_budget(rule.name, count)
            used.append(i)
        if not used:
            return None
        keys = keys.where(sf.col("rule").isin(used))
        a, b = keys.alias("a"), keys.alias("b")
        return a.join(
            b, (sf.col("a.rule") == sf.col("b.rule")) & (sf.col("a.key") == sf.col("b.key"))
        ).where(sf.col("a.row") < sf.col("b.row")).select(
            sf.col("a.row").alias("left"), sf.col("b.row").alias("right"),
            sf.col("a.bit").alias("bit"),
        )

    def _distinct_count(self, index: int, rule: BlockOn, keys: Any) -> tuple[int, int]:
        """:meth:`BlockOn.budget_count` of a ``count_by`` rule: pairs of distinct values
        sharing a key, and distinct values (a row without one counts as its own)."""
        from pyspark.sql import functions as sf

        by = self.prepared.select(sf.col("__crm_row").alias("row"),
                                  sf.col(count_column(index)).alias("by"))
        # a row without a value is a value of its own, as in-process
        own = sf.coalesce(sf.col("by"), sf.concat(sf.lit("\x00"), sf.col("row").cast("string")))
        by = by.select("row", own.alias("by"))
        units = int(by.select(sf.countDistinct("by")).collect()[0][0] or 0)
        entries = (keys.where(sf.col("rule") == index).join(by, "row")
                   .select("key", "by").distinct().groupBy("key").count())
        got = entries.agg(sf.sum(sf.col("count") * (sf.col("count") - 1) / 2)).collect()[0][0]
        return int(got or 0), units

    def _neighbour_pairs(self, index: int, rule: SortedNeighbourhood) -> Any:
        """Pairs of a sorted-neighbourhood rule: a join on the position in the sorted order."""
        from pyspark.sql import functions as sf

        col = sort_column(index)
        present = self.prepared.where(sf.col(col).isNotNull()).select(
            sf.col("__crm_row").alias("row"), sf.col(col).alias("value")
        )
        n_present = int(present.count())
        raw = sum(max(n_present - d, 0) for d in range(1, rule.window))
        budget = self.settings.max_pairs
        if budget is not None and raw > budget:
            self._raise_budget(rule.name, raw)
        ordered = self.keep(consecutive_index(present.orderBy("value", "row"), "pos"))
        out = None
        for d in range(1, rule.window):
            a, b = ordered.alias("a"), ordered.alias("b")
            part = a.join(b, sf.col("a.pos") + d == sf.col("b.pos")).select(
                sf.least("a.row", "b.row").alias("left"),
                sf.greatest("a.row", "b.row").alias("right"),
            )
            out = part if out is None else out.unionByName(part)
        assert out is not None
        return out.where(sf.col("left") != sf.col("right")).select(
            "left", "right", sf.lit(1 << index).cast("long").alias("bit")
        )

    def block(self) -> Any:
        from pyspark.sql import functions as sf

        rules = self.settings.blocking
        if len(rules) > 62:
            raise MatchingConfigError("the Spark runner supports at most 62 blocking rules")
        self.skipped: dict[int, int] = {}
        exact = [(i, r) for i, r in enumerate(rules) if isinstance(r, BlockOn)]
        self.say(f"  exact-key rules: {len(exact)}")
        union = self._exact_pairs(exact)
        for i, rule in enumerate(rules):
            if isinstance(rule, SortedNeighbourhood):
                self.say(f"  blocking rule {i + 1}/{len(rules)}: {rule.name}")
                part = self._neighbour_pairs(i, rule)
                union = part if union is None else union.unionByName(part)
        if union is None:
            union = self.spark.createDataFrame([], "left long, right long, bit long")
        pairs = union.groupBy("left", "right").agg(sf.expr("bit_or(bit)").alias("rules"))
        self.pairs = self.keep(pairs)
        lowest = sf.col("rules").bitwiseAND(-sf.col("rules"))
        aggs = []
        for i in range(len(rules)):
            bit = sf.lit(1 << i).cast("long")
            aggs.append(sf.sum(sf.when(sf.col("rules").bitwiseAND(bit) != 0, 1).otherwise(0)))
            aggs.append(sf.sum(sf.when(lowest == bit, 1).otherwise(0)))
        row = self.pairs.agg(sf.count("*").alias("union"), *aggs).collect()[0]
        per_rule = tuple(
            self.skipped.get(i, int(row[1 + 2 * i] or 0)) for i in range(len(rules))
        )
        new = tuple(int(row[2 + 2 * i] or 0) for i in range(len(rules)))
        budget = self.settings.max_pairs
        if budget is not None:
            seen = 0
            for added in new:
                seen += added
                if seen > budget:
                    self._raise_budget("union of the rules so far", seen)
        self.analysis = BlockingAnalysis(
            rules=tuple(r.name for r in rules),
            pairs_per_rule=per_rule,
            new_pairs_per_rule=new,
            union=int(row["union"]),
            total_pairs=self.n * (self.n - 1) // 2,
            skipped=tuple(rules[i].name for i in sorted(self.skipped)),
        )
        self.n_pairs = self.analysis.union
        return self.pairs

    # 3. compare
    def _joined(self, pairs: Any, carry: Sequence[str], tf_columns: Sequence[str]) -> Any:
        from pyspark.sql import functions as sf

        del tf_columns
        left = self.prepared.select(
            sf.col("__crm_row").alias("left"), *[sf.col(c).alias(f"l_{c}") for c in self.columns]
        )
        right = self.prepared.select(
            sf.col("__crm_row").alias("right"), *[sf.col(c).alias(f"r_{c}") for c in self.columns]
        )
        return pairs.join(left, "left").join(right, "right").select(
            *carry, *[f"l_{c}" for c in self.columns], *[f"r_{c}" for c in self.columns]
        )

    def levels_of(self, pairs: Any, carry: Sequence[str], tf_columns: Sequence[str]) -> Any:
        import pyarrow as pa

        types = dict(pairs.dtypes)
        arrow_type = {"bigint": pa.int64(), "int": pa.int32(), "double": pa.float64()}
        fields = [pa.field(c, arrow_type[types[c]]) for c in carry]
        fields += [pa.field(c, pa.int8()) for c in self.level_cols]
        fields += [pa.field(f"__crm_tf_{c}", pa.string()) for c in tf_columns]
        ddl = [f"`{c}` {types[c]}" for c in carry]
        ddl += [f"`{c}` tinyint" for c in self.level_cols]
        ddl += [f"`__crm_tf_{c}` string" for c in tf_columns]
        fn = levels_function(
            self.comparisons, self.columns, carry, tf_columns, pa.schema(fields)
        )
        with quiet():
            return self._joined(pairs, carry, tf_columns).mapInArrow(fn, ", ".join(ddl))

    def compare(self, tf_columns: Sequence[str]) -> Any:
        self.levels = self.keep(self.levels_of(self.pairs, ["left", "right", "rules"], tf_columns))
        return self.levels

    # 4. train
    def _pattern_table(self, df: Any, extra: Sequence[str]) -> tuple[LevelArray, FloatArray, Any]:
        from pyspark.sql import functions as sf

        agg = df.groupBy(*self.level_cols, *extra).agg(sf.count("*").alias("n"))
        cols = arrow_columns(agg)
        k = len(cols["n"])
        patterns = np.empty((k, self.n_comp), dtype=np.int8)
        for j, c in enumerate(self.level_cols):
            patterns[:, j] = np.asarray(cols[c], dtype=np.int8)
        return patterns, np.asarray(cols["n"], dtype=np.float64), cols

    def _level_counts(self, sample: Any) -> list[FloatArray]:
        """Per comparison, how many sampled pairs fall in each level (compared in Spark)."""
        levels = self.levels_of(sample, ["left", "right"], [])
        patterns, counts, _ = self._pattern_table(levels, [])
        return [
            np.bincount(
                patterns[:, c].astype(np.int64), weights=counts, minlength=comp.n_levels
            ).astype(np.float64)
            for c, comp in enumerate(self.comparisons)
        ]

    def _pairs_within(
        self, within: str, count: int, rng: np.random.Generator
    ) -> Any | None:
        """Random pairs of distinct rows sharing the value of ``within`` (uniform over such
        pairs), drawn as in-process: strata in order of first appearance, rows in row order."""
        from pyspark.sql import Window
        from pyspark.sql import functions as sf

        column = parse_expression(within).column
        values = self._expression_values(within, column, with_row=True).where(
            sf.col("v").isNotNull()
        )
        strata = arrow_columns(
            values.groupBy("v").agg(sf.min("row").alias("first"), sf.count("*").alias("size"))
        )
        order = np.argsort(np.asarray(strata["first"], dtype=np.int64), kind="stable")
        sizes = np.asarray(strata["size"], dtype=np.int64)[order]
        names = np.asarray(strata["v"], dtype=object)[order]
        if int(sizes.sum()) < 2:
            return None
        drawn = draw_within_strata(sizes, count, rng)
        if drawn is None:
            return None
        group, a, b = drawn
        positions = values.withColumn(
            "pos", sf.row_number().over(Window.partitionBy("v").orderBy("row")) - 1
        )
        pick = from_numpy(
            self.spark, {"g": group.astype(np.int64), "a": a.astype(np.int64),
                         "b": b.astype(np.int64)}, "g long, a long, b long",
        )
        strata_df = self.spark.createDataFrame(
            [(int(k), str(v)) for k, v in enumerate(names.tolist())], "g long, v string"
        )
        pick = pick.join(sf.broadcast(strata_df), "g")
        left = positions.select("v", sf.col("pos").alias("a"), sf.col("row").alias("left"))
        right = positions.select("v", sf.col("pos").alias("b"), sf.col("row").alias("right"))
        return pick.join(left, ["v", "a"]).join(right, ["v", "b"]).select("left", "right")

    def estimate_u(self) -> list[FloatArray]:
        """u from random pairs: the same pairs as in-process (same generator and seed), with
        the comparisons not reading ``TrainingOptions.u_within`` taken from random pairs that
        share its value."""
        opts = self.settings.training
        n = self.n
        if n < 2:
            raise ModelError("u estimation needs at least two records")
        rng = np.random.default_rng(opts.seed)
        count = u_sample_size(n, opts.u_sample_pairs)
        i, j = random_pairs(n, count, rng)
        sample = from_numpy(self.spark, {"left": i, "right": j}, "left long, right long")
        per_comp = self._level_counts(sample)
        within = getattr(opts, "u_within", None)
        if within is not None:
            strat = self._pairs_within(within, count, rng)
            if strat is not None:
                inside = self._level_counts(strat)
                column = parse_expression(within).column
                for c, comp in enumerate(self.comparisons):
                    if column not in comp.columns:
                        per_comp[c] = inside[c]
        return [u_from_level_counts(per_level) for per_level in per_comp]

    def term_frequencies(self) -> dict[tuple[int, int], TermFrequencies]:
        from pyspark.sql import functions as sf

        tf: dict[tuple[int, int], TermFrequencies] = {}
        for ci, comp in enumerate(self.comparisons):
            for li in comp.tf_levels:
                expr = comp.levels[li - 1].expressions[0]
                column = parse_expression(expr).column
                values = self._expression_values(expr, column)
                counts = values.where(sf.col("v").isNotNull()).groupBy("v").count()
                cols = arrow_columns(counts)
                c = np.asarray(cols["count"], dtype=np.int64)
                order = np.argsort(np.asarray(cols["v"], dtype=object).astype(str), kind="stable")
                c = c[order]
                names = np.asarray(cols["v"], dtype=object)[order]
                total = int(c.sum())
                agreement = float(((c / total) ** 2).sum()) if total else 0.0
                keep = c >= 2
                table = dict(zip(names[keep].tolist(), c[keep].tolist(), strict=True))
                tf[(ci, li)] = TermFrequencies(expr, table, total, agreement)
        return tf

    def _expression_values(self, expr: str, column: str, *, with_row: bool = False) -> Any:
        """Column ``v``: the expression's value for every record (computed per batch), and the
        record's ``row`` if asked."""
        import pyarrow as pa

        from crmcore.matching._expressions import Frame

        fields = [pa.field("v", pa.string())]
        if with_row:
            fields.append(pa.field("row", pa.int64()))
        schema = pa.schema(fields)

        def run(batches: Any) -> Any:
            for batch in batches:
                frame = Frame({column: batch.column(column).to_pylist()})
                out: dict[str, Any] = {"v": frame.values(expr)}
                if with_row:
                    out["row"] = batch.column("__crm_row")
                yield pa.RecordBatch.from_pydict(out, schema=schema)

        source = self.prepared.select(column, "__crm_row")
        with quiet():
            return source.mapInArrow(run, "v string, row long" if with_row else "v string")

    def anchor_counts(self, which: Sequence[int]) -> dict[int, FloatArray]:
        """The rare-word anchor of in-process training
        (:func:`~crmcore.matching._anchors.rare_word_anchor_counts`) computed in Spark: per
        comparison of ``which`` that compares words, how many candidate pairs that share a
        word at most ``ANCHOR_MAX_RECORDS`` records hold, or whose words are one typo apart,
        fall in each of its levels.

        Word record counts are a group-by; pairs sharing a rare word a self-join of the rare
        words (a handful of records each); the typo flag runs per batch of joined pairs with
        the in-process function. Only the level counts reach the driver.
        """
        import pyarrow as pa
        from pyspark.sql import functions as sf

        out: dict[int, FloatArray] = {}
        for i in which:
            words = anchor_words(self.comparisons[i])
            if words is None or self.n_pairs == 0:
                continue
            column = parse_expression(words).column
            with quiet():
                per_row = self.prepared.select("__crm_row", column).mapInArrow(
                    words_function(words, column, pa.schema(
                        [pa.field("row", pa.int64()), pa.field("word", pa.string())])),
                    "row long, word string",
                )
            per_row = self.keep(per_row)
            rare = per_row.groupBy("word").count().where(
                sf.col("count") <= ANCHOR_MAX_RECORDS).select("word")
            rare_rows = per_row.join(rare, "word")
            a, b = rare_rows.alias("a"), rare_rows.alias("b")
            sharing = a.join(b, "word").where(sf.col("a.row") < sf.col("b.row")).select(
                sf.col("a.row").alias("left"), sf.col("b.row").alias("right"))
            joined = self._joined(self.pairs.select("left", "right"), ["left", "right"], [])
            with quiet():
                typo = joined.select("left", "right", f"l_{column}", f"r_{column}").mapInArrow(
                    typo_function(words, column, pa.schema(
                        [pa.field("left", pa.int64()), pa.field("right", pa.int64())])),
                    "left long, right long",
                )
            hit = sharing.unionByName(typo).distinct()
            level = self.level_cols[i]
            rows = self.levels.join(hit, ["left", "right"]).groupBy(level).count().collect()
            counts = np.zeros(self.comparisons[i].n_levels, dtype=np.float64)
            for row in rows:
                counts[int(row[level])] += float(row["count"])
            out[i] = counts
        return out

    def train(self) -> MatchModel:
        from crmcore.matching._blocking import BlockOn as _BlockOn

        settings = self.settings
        comps = self.comparisons
        opts = settings.training
        if self.n_pairs == 0:
            raise ModelError("no candidate pairs to train on: loosen the blocking rules")
        u = self.estimate_u()
        patterns, counts, cols = self._pattern_table(self.levels, ["rules"])
        masks = np.asarray(cols["rules"], dtype=np.int64)

        def sessions() -> Iterator[tuple[list[int], LevelArray, FloatArray]]:
            # as in-process train_model: one EM session per exact rule with enough pairs
            for r, rule in enumerate(settings.blocking):
                if not isinstance(rule, _BlockOn) or r in self.skipped:
                    continue
                agree = (masks & (1 << r)) != 0
                if counts[agree].sum() < MIN_SESSION_PAIRS:
                    continue
                free = session_comparisons(comps, rule.columns)
                if not free:
                    continue
                pats, cnts = _weighted_patterns(patterns[agree][:, free], counts[agree])
                yield free, pats, cnts

        all_patterns, all_counts = _weighted_patterns(patterns, counts)
        n = self.n
        tf = self.term_frequencies()
        fitted = fit_parameters(
            comps, u, opts, sessions(), patterns=all_patterns, counts=all_counts,
            total_pairs=n * (n - 1) // 2, n_rows=n, threshold=settings.threshold,
            tf_bonus=tf_bonus(tf),
            has_match_rules=any(r.outcome == "match" for r in settings.rules),
            anchors=self.anchor_counts,
        )
        return model_from_fit(
            fitted, comps, tf, settings, n_rows=n, candidate_pairs=int(all_counts.sum()),
            u_sample_pairs=opts.u_sample_pairs,
        )

    # 5. score
    def score(self, model: MatchModel, tf_columns: Sequence[str]) -> Any:
        import pyarrow as pa
        from pyspark.sql import functions as sf

        carry = ["left", "right"]
        fields = [pa.field("left", pa.int64()), pa.field("right", pa.int64()),
                  pa.field("match_weight", pa.float64()), pa.field("probability", pa.float64()),
                  pa.field("rule", pa.int8())]
        fields += [pa.field(c, pa.int8()) for c in self.level_cols]
        ddl = ["left long", "right long", "match_weight double", "probability double",
               "rule tinyint", *[f"`{c}` tinyint" for c in self.level_cols]]
        fn = score_function(model, carry, tf_columns, pa.schema(fields))
        with quiet():
            scored = self.levels.select(
                *carry, *self.level_cols, *[f"__crm_tf_{c}" for c in tf_columns]
            ).mapInArrow(fn, ", ".join(ddl))
        ids_l = self.ids.select(
            sf.col("__crm_row").alias("left"), sf.col("__crm_id").alias("left_id")
        )
        ids_r = self.ids.select(
            sf.col("__crm_row").alias("right"), sf.col("__crm_id").alias("right_id")
        )
        named = scored.join(ids_l, "left").join(ids_r, "right").select(
            "left_id", "right_id", sf.col("left").alias("left_row"),
            sf.col("right").alias("right_row"), "match_weight", "probability", "rule",
            *[
                sf.col(c).alias(comp.name)
                for c, comp in zip(self.level_cols, model.comparisons, strict=True)
            ],
        )
        self.scored = self.keep(named)
        return self.scored

    # 6. cluster
    def cluster(self, threshold: float, local_edges: int, model: MatchModel) -> Any:
        from pyspark.sql import functions as sf

        options = self.settings.cluster
        edges = self.keep(
            self.scored.where(sf.col("probability") >= options.link_floor(threshold)).select(
                sf.col("left_row").alias("src"), sf.col("right_row").alias("dst"), "match_weight",
                "probability",
            )
        )
        labels = spark_connected_components(edges, local_edges=local_edges)
        guarded = options.max_size is not None or options.min_density > 0
        if options.method == "guarded" and guarded:
            labels = self._guarded(edges, labels, threshold)
        elif options.method == "pooled":
            labels = self._pooled(edges, labels, threshold)
        veto = vetoed(model, np.arange(len(model.rules), dtype=np.int8))
        if options.vetoes_apart and veto.any():
            labels = self._apart(edges, self.keep(labels), np.flatnonzero(veto).tolist())
        labels = self.keep(labels)
        rows = self.ids.join(labels.withColumnRenamed("node", "__crm_row"), "__crm_row", "left")
        rows = rows.withColumn("label", sf.coalesce(sf.col("label"), sf.col("__crm_row")))
        width = ENTITY_ID_WIDTH  # one entity-id format: batch, Spark and the index
        # Cluster labels are the smallest row of each cluster: exactly the rows labelled by
        # themselves. Entity ids number them in order, as in-process.
        roots = rows.where(sf.col("label") == sf.col("__crm_row")).select("label")
        ranked = consecutive_index(roots.orderBy("label"), "__crm_rank")
        eid = sf.concat(
            sf.lit("E"), sf.lpad((sf.col("__crm_rank") + 1).cast("string"), width, "0")
        )
        ranked = ranked.select("label", eid.alias("entity_id"))
        sizes = rows.groupBy("label").agg(sf.count("*").alias("cluster_size"))
        self.entities = rows.join(ranked, "label").join(sizes, "label").select(
            sf.col("__crm_id").alias("id"), sf.col("__crm_row").alias("row"), "entity_id",
            "label", "cluster_size",
        )
        return self.entities

    def _per_component(self, work: Any, fn: Callable[[Any], Any]) -> Any:
        """``fn`` over buckets of whole components (rows keyed by ``component``), with
        ``applyInPandas``: new ``node`` / ``label`` rows."""
        from pyspark.sql import functions as sf

        buckets = int(self.spark.conf.get("spark.sql.shuffle.partitions"))
        bucket = sf.pmod(sf.xxhash64("component"), sf.lit(buckets)).alias("__crm_bucket")
        with quiet():
            return work.groupBy(bucket).applyInPandas(fn, "node long, label long")

    def _with_ids(self, work: Any) -> Any:
        """Edges (``src`` / ``dst`` rows) with both records' ids (``sid`` / ``did``)."""
        from pyspark.sql import functions as sf

        ids = self.ids.select(sf.col("__crm_row").alias("src"), sf.col("__crm_id").alias("sid"))
        return work.join(ids, "src").join(
            ids.select(sf.col("src").alias("dst"), sf.col("sid").alias("did")), "dst"
        )

    def _guarded(self, edges: Any, labels: Any, threshold: float) -> Any:
        """Apply the guarded policy per component with the in-process ``cluster_pairs``."""
        import pandas as pd
        from pyspark.sql import functions as sf

        options = self.settings.cluster
        comp_edges = self._with_ids(edges.join(
            labels.select(sf.col("node").alias("src"), sf.col("label").alias("component")), "src"
        ))

        def split(pdf: pd.DataFrame) -> pd.DataFrame:
            # A bucket holds whole components; the policy treats components independently, so
            # running it on their disjoint union gives each one its in-process result. It
            # drops equally weak edges in the order of their records' ids, as in-process.
            pdf = pdf.sort_values(["src", "dst"], kind="stable")
            nodes, left, right = _local_nodes(pdf)
            k = len(left)
            pairs = ScoredPairs(
                left=left, right=right,
                match_weight=pdf["match_weight"].to_numpy(dtype=np.float64),
                probability=pdf["probability"].to_numpy(dtype=np.float64),
                levels=np.zeros((k, 0), dtype=np.int8), rule=np.full(k, -1, dtype=np.int8),
                comparison_names=(),
            )
            local = cluster_pairs(len(nodes), pairs, threshold=threshold, options=options,
                                  ids=_node_names(pdf, nodes))
            return pd.DataFrame({"node": nodes, "label": nodes[local]})

        return self._per_component(comp_edges, split)


    def _pooled(self, edges: Any, labels: Any, threshold: float) -> Any:
        """The pooled method per link component (``edges`` are the pairs at or above its
        weak-link threshold) with the in-process
        :func:`~crmcore.matching._cluster.pooled_labels`, ties broken by record id."""
        import pandas as pd
        from pyspark.sql import functions as sf

        options = self.settings.cluster
        work = self._with_ids(edges.join(
            labels.select(sf.col("node").alias("src"), sf.col("label").alias("component")), "src"
        ))

        def pool(pdf: pd.DataFrame) -> pd.DataFrame:
            # A bucket holds whole link components; the method clusters each on its own and
            # breaks ties by record id, so the bucket's union gives the in-process labels.
            nodes, left, right = _local_nodes(pdf)
            local = pooled_labels(
                len(nodes), left, right,
                pdf["match_weight"].to_numpy(dtype=np.float64), threshold=threshold,
                options=options, rank=id_ranks(_node_names(pdf, nodes)),
            )
            return pd.DataFrame({"node": nodes, "label": nodes[local]})

        return self._per_component(work, pool)

    def _apart(self, edges: Any, labels: Any, veto_rules: list[int]) -> Any:
        """Keep vetoed pairs apart: the components (after the guarded policy) holding both
        records of a vetoed pair are re-clustered with the in-process
        :func:`~crmcore.matching.review.cluster_with_decisions` over their kept links, as
        in-process ``dedupe`` does; other labels stay."""
        import pandas as pd
        from pyspark.sql import functions as sf

        lab = labels.select("node", "label")
        vetoes = self.scored.where(sf.col("rule").isin(veto_rules)).select(
            sf.col("left_row").alias("src"), sf.col("right_row").alias("dst"),
            sf.lit(float("-inf")).alias("match_weight"), sf.lit(1).alias("kind"),
        )
        links = edges.select("src", "dst", "match_weight", sf.lit(0).alias("kind"))
        both = (
            vetoes.unionByName(links)
            .join(lab.select(sf.col("node").alias("src"), sf.col("label").alias("la")), "src")
            .join(lab.select(sf.col("node").alias("dst"), sf.col("label").alias("lb")), "dst")
            .where(sf.col("la") == sf.col("lb"))
            .select("src", "dst", "match_weight", "kind", sf.col("la").alias("component"))
        )
        both = self.keep(both)
        broken = both.where(sf.col("kind") == 1).select("component").distinct()
        if broken.limit(1).count() == 0:
            return labels
        work = self._with_ids(both.join(broken, "component"))

        def split(pdf: pd.DataFrame) -> pd.DataFrame:
            # The function keeps each component's pairs apart independently of the others and
            # of positions (ties go by record id), so the bucket's union gives the
            # in-process labels: the smallest row of each part.
            nodes, left, right = _local_nodes(pdf)
            link = pdf["kind"].to_numpy() == 0
            res = cluster_with_decisions(
                _node_names(pdf, nodes), left[link], right[link],
                pdf["match_weight"].to_numpy(dtype=np.float64)[link], (),
                apart=(left[~link], right[~link]),
            )
            return pd.DataFrame({"node": nodes, "label": nodes[res.labels]})

        redone = self._per_component(work, split)
        untouched = lab.join(broken.select(sf.col("component").alias("label")), "label",
                             "left_anti")
        return untouched.select("node", "label").unionByName(redone)


def _local_nodes(pdf: Any) -> tuple[IntArray, IntArray, IntArray]:
    """The nodes of a bucket's edges (``src`` / ``dst``), sorted, and each edge's two ends as
    positions among them."""
    lo = pdf["src"].to_numpy(dtype=np.int64)
    hi = pdf["dst"].to_numpy(dtype=np.int64)
    nodes, inverse = np.unique(np.concatenate((lo, hi)), return_inverse=True)
    inverse = inverse.reshape(-1)
    return nodes, inverse[: len(lo)], inverse[len(lo) :]


def _node_names(pdf: Any, nodes: IntArray) -> list[str]:
    """The record id of each node of a bucket (from the edges' ``sid`` / ``did``)."""
    names = dict(zip(pdf["src"].tolist(), pdf["sid"].astype(str).tolist(), strict=True))
    names.update(zip(pdf["dst"].tolist(), pdf["did"].astype(str).tolist(), strict=True))
    return [names[x] for x in nodes.tolist()]


def spark_dedupe(
    df: Any,
    *,
    id_column: str,
    preset: str | None = None,
    settings: MatchSettings | None = None,
    mapping: Mapping[str, str] | None = None,
    threshold: float | None = None,
    model: MatchModel | None = None,
    local_edges: int = 2_000_000,
    checkpoint: str = "local",
    progress: Progress | None = None,
) -> SparkMatchResult:
    """Find the records of one Spark DataFrame that are the same person (or company).

    The Spark counterpart of :func:`crmcore.matching.dedupe`, with the same settings, presets
    and models and the same answers.

    Args:
        df: Spark DataFrame of records (columns are read as text).
        id_column: Column of record ids.
        preset: ``"contacts"`` (default) or ``"accounts"``; ignored when ``settings`` is given.
        settings: Explicit settings.
        mapping: Source column -> canonical field renames (on top of the schema mapping).
        threshold: Match probability threshold (default: the settings').
        model: A trained model to use instead of training one.
        local_edges: Connected components finish on the driver once at most this many edges
            remain (0: entirely in Spark).
        checkpoint: How stages are materialised: ``"local"`` (``localCheckpoint``, executor
            storage) or ``"reliable"`` (``checkpoint`` to the directory set with
            ``SparkContext.setCheckpointDir``, survives the loss of an executor).
        progress: Called with a message at the start of every phase.

    Returns:
        The result: DataFrames of scored pairs and of entities, the model, the analysis.

    Raises:
        MatchingConfigError: For settings that do not fit the data.
        PairBudgetExceeded: If a blocking rule (or the union) would exceed ``settings.max_pairs``.
        MissingDependencyError: Without pyspark / pyarrow (``pip install 'crmcore[spark]'``).
    """
    _require_spark()
    timings: dict[str, float] = {}
    t = time.perf_counter()
    renames = _renames(df.columns, mapping, preset if settings is None else None)
    renamed = df.select(*[df[src].alias(dst) for src, dst in renames.items()])
    if id_column not in renamed.columns and id_column in renames:
        id_column = renames[id_column]
    chosen = settings if settings is not None else get_preset(preset or "contacts", renamed.columns)
    cut = chosen.threshold if threshold is None else threshold
    if not 0.0 <= cut <= 1.0:
        raise MatchingConfigError(f"threshold must be a probability, got {cut}")
    if model is not None and [c.name for c in model.comparisons] != [
        c.name for c in chosen.comparisons
    ]:
        raise MatchingConfigError("the model's comparisons differ from the settings' comparisons")
    if checkpoint not in ("local", "reliable"):
        raise MatchingConfigError(f"checkpoint must be local or reliable, not {checkpoint!r}")
    run = _Run(renamed, id_column, chosen, progress, checkpoint)
    timings["read"] = time.perf_counter() - t

    t = time.perf_counter()
    run.say("preparing")
    run.prepare()
    timings["prepare"] = time.perf_counter() - t

    t = time.perf_counter()
    run.say("blocking")
    run.block()
    timings["block"] = time.perf_counter() - t

    t = time.perf_counter()
    tf_columns = _tf_columns(chosen.comparisons if model is None else model.comparisons)
    run.say(f"comparing {run.analysis.union:,} candidate pairs")
    run.compare(tf_columns)
    timings["compare"] = time.perf_counter() - t

    t = time.perf_counter()
    if model is None:
        run.say("training (u by sampling, m by EM on pattern counts)")
        model = run.train()
    timings["train"] = time.perf_counter() - t

    t = time.perf_counter()
    run.say("scoring")
    pairs = run.score(model, tf_columns)
    pairs.count()
    timings["score"] = time.perf_counter() - t

    t = time.perf_counter()
    run.say("clustering")
    entities = run.keep(run.cluster(cut, local_edges, model))
    entities.count()
    timings["cluster"] = time.perf_counter() - t
    return SparkMatchResult(
        pairs=pairs,
        entities=entities,
        model=model,
        settings=run.settings,
        threshold=cut,
        analysis=run.analysis,
        timings=timings,
        n_records=run.n,
    )
