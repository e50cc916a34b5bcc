"""The result of a matching job: :class:`MatchResult` (an entity id for every input row, the
scored pairs, the model, the time per phase) and what it explains, exports and displays.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import numpy.typing as npt

from crmcore.errors import FieldProblem, MatchingConfigError
from crmcore.io import Table
from crmcore.io._arrow import unique_sorted
from crmcore.matching._blocking import BlockingAnalysis
from crmcore.matching._cluster import cluster_pairs
from crmcore.matching._explain import ClusterExplanation, Waterfall, explain_cluster, explain_pair
from crmcore.matching._expressions import Frame
from crmcore.matching._model import MatchModel
from crmcore.matching._predict import ScoredPairs
from crmcore.matching._review import (
    ReviewDecision,
    named_pairs,
    record_fingerprints,
    respect_decisions,
    vetoed_apart,
)
from crmcore.matching._settings import MatchSettings

IntArray = npt.NDArray[np.int64]
Progress = Callable[[str], None]


@attrs.frozen
class MatchResult:
    """Outcome of a dedupe or link job.

    Args:
        ids: Id of every input row (left rows then right rows for linkage).
        entity_ids: Entity id of every input row.
        labels: Cluster label (smallest row index of the cluster) of every row.
        source: Source of every row (0 for dedupe and the left table, 1 for the right table).
        notes: Per row, why it could not be used ("" when it was used).
        pairs: Scored candidate pairs (rows index ``ids``).
        model: The model used.
        settings: The settings used.
        threshold: Match probability threshold used for clusters.
        analysis: Blocking analysis.
        timings: Seconds per phase.
        problems: Values that could not be normalised (records kept).
        frame: The prepared records (for explanations and scoring more pairs).
        stale_decisions: Review decisions given to the job that were left out because a record
            changed in a compared field since ("different" decisions only; send them back to
            review with ``ReviewQueue.reopen(result.fingerprints())``).
        cut_links: Links of chains cut to keep records decided "different", or vetoed by a
            ``"non_match"`` rule, apart (besides the pairs' own links).
        warnings: Things the job noticed that may make its result useless (e.g. no blocking
            rule can pair any records with the columns mapped).
        cut_for: For each cut link, the pair of ids it was cut to keep apart.
    """

    ids: list[str | None]
    entity_ids: list[str]
    labels: IntArray
    source: npt.NDArray[np.int8]
    notes: list[str]
    pairs: ScoredPairs
    model: MatchModel
    settings: MatchSettings
    threshold: float
    analysis: BlockingAnalysis
    timings: dict[str, float]
    problems: list[FieldProblem]
    frame: Frame = attrs.field(repr=False, eq=False)
    stale_decisions: tuple[ReviewDecision, ...] = ()
    cut_links: tuple[tuple[str, str], ...] = ()
    warnings: tuple[str, ...] = ()
    cut_for: tuple[tuple[str, str], ...] = ()

    def fingerprints(self, record_ids: Sequence[str] | None = None) -> dict[str, str]:
        """Fingerprint of the compared (prepared) values of records, by id (all by default).

        Pass them to ``ReviewQueue.decide(..., fingerprints=...)`` when recording a decision,
        and to ``ReviewQueue.reopen`` to send outgrown "different" decisions back to review.
        """
        columns = sorted(self.settings.columns)
        values = {c: self.frame.values(c) for c in columns}
        return record_fingerprints(values, self.ids, record_ids)

    @property
    def n_records(self) -> int:
        """Number of input rows."""
        return len(self.ids)

    @property
    def n_entities(self) -> int:
        """Number of distinct entities."""
        return len(unique_sorted(self.labels))

    @property
    def duplicate_rate(self) -> float:
        """Share of rows that are not the first of their entity."""
        return 1.0 - self.n_entities / self.n_records if self.n_records else 0.0

    @property
    def matches(self) -> ScoredPairs:
        """Pairs at or above the threshold."""
        return self.pairs.above(self.threshold)

    def to_table(self) -> Table:
        """Every input row: ``id``, ``source`` (for linkage), ``entity_id``, ``cluster_size``,
        ``note``."""
        sizes = np.bincount(self.labels, minlength=len(self.labels))[self.labels]
        columns: dict[str, list[str | None]] = {"id": list(self.ids)}
        if (self.source != 0).any():
            columns["source"] = ["left" if s == 0 else "right" for s in self.source.tolist()]
        columns["entity_id"] = list(self.entity_ids)
        # one string per distinct size, shared by the rows (not a str() call per row)
        size_text = np.empty(int(sizes.max(initial=0)) + 1, dtype=object)
        size_text[:] = [str(k) for k in range(len(size_text))]
        columns["cluster_size"] = size_text[sizes].tolist()
        columns["note"] = [n or None for n in self.notes]
        return Table(columns)

    def pairs_table(self, *, all_pairs: bool = False) -> Table:
        """Scored pairs (matches only unless ``all_pairs``) with ids and level labels."""
        pairs = self.pairs if all_pairs else self.matches
        cols = pairs.to_columns(self.model, left_ids=self.ids, right_ids=self.ids)
        return Table.from_columns(cols)

    def row_of(self, record_id: str) -> int:
        """Row of a record id (the first row if the id repeats).

        Raises:
            MatchingConfigError: If no row has this id.
        """
        try:
            return self.ids.index(record_id)
        except ValueError:
            raise MatchingConfigError(f"no record with id {record_id!r}") from None

    def explain(self, left_id: str, right_id: str) -> Waterfall:
        """Waterfall of the pair of records with these ids (scored even if not a candidate)."""
        return explain_pair(self.model, self.frame, self.row_of(left_id), self.row_of(right_id))

    def labels_at(self, threshold: float) -> IntArray:
        """Cluster labels at another threshold, clustered as the run was: the settings'
        cluster options, vetoed pairs kept apart (review decisions are not applied again, nor
        a linkage's one-to-one filter)."""
        graph = named_pairs(self.ids, self.pairs)
        labels = cluster_pairs(len(self.ids), graph, threshold=threshold,
                               options=self.settings.cluster, ids=self.ids)
        apart = vetoed_apart(self.pairs, self.model, labels, self.settings.cluster)
        if apart is None:
            return labels
        floor = self.settings.cluster.link_floor(threshold)
        return respect_decisions(self.ids, labels, graph.above(floor), (), apart=apart,
                                 threshold=threshold, options=self.settings.cluster).labels

    def explain_entity(self, record_id: str) -> ClusterExplanation:
        """Members of the entity of a record, the links that hold it together, and the links
        from it that were cut to keep two records apart, with the reason (the vetoing rule's
        name, or the review decision)."""
        row = self.row_of(record_id)
        label = self.labels[row]
        lines = []
        if self.cut_links:
            named = {r for pair in (*self.cut_links, *self.cut_for) for r in pair}
            rows = {r: i for i, r in enumerate(self.ids) if r in named}
            for (x, y), (a, b) in zip(self.cut_links, self.cut_for, strict=True):
                if label in (self.labels[rows[x]], self.labels[rows[y]]):
                    why = self._apart_reason(rows[a], rows[b])
                    lines.append(f"{x} -- {y} cut to keep {a} and {b} apart: {why}")
        # the pooled method's entities are held together by weak links too: list them
        floor = self.settings.cluster.link_floor(self.threshold)
        return explain_cluster(self.pairs, self.labels, row, threshold=floor, kept_apart=lines)

    def _apart_reason(self, row_a: int, row_b: int) -> str:
        """Why two records are kept apart: the rule that vetoed their pair, or a review."""
        ra, rb = min(row_a, row_b), max(row_a, row_b)
        hit = np.flatnonzero((self.pairs.left == ra) & (self.pairs.right == rb))
        for k in hit.tolist():
            r = int(self.pairs.rule[k])
            if r >= 0 and self.model.rules[r].outcome == "non_match":
                return f"vetoed by rule {self.model.rules[r].name!r}"
        return "decided different in review"

    def cluster_sizes(self) -> dict[int, int]:
        """Number of entities of each size (size -> count), smallest size first."""
        if not len(self.labels):
            return {}
        per_entity = np.bincount(self.labels)
        per_entity = per_entity[per_entity > 0]
        sizes, counts = np.unique(per_entity, return_counts=True)
        return dict(zip(sizes.tolist(), counts.tolist(), strict=True))

    def rejected_per_field(self) -> dict[str, int]:
        """Values a normaliser rejected (now missing, rows kept), per column."""
        return {c: len(rows) for c, rows in sorted(self.frame.rejected.items()) if len(rows)}

    # -- display (rendering lives in crmcore.display) ------------------------------------------
    def __repr__(self) -> str:
        from crmcore.display import result_text

        return result_text(self)

    def _repr_html_(self) -> str:
        from crmcore.display import result_html

        return result_html(self)

    def to_pandas(self) -> Any:
        """:meth:`to_table` as a pandas DataFrame (``pip install 'crmcore[pandas]'``)."""
        return self.to_table().to_pandas()

    def to_arrow(self) -> Any:
        """:meth:`to_table` as a pyarrow Table (``pip install 'crmcore[parquet]'``)."""
        return self.to_table().to_arrow()

    def to_polars(self) -> Any:
        """:meth:`to_table` as a polars DataFrame (``pip install 'crmcore[polars]'``)."""
        return self.to_table().to_polars()

    def report(
        self, path: str | os.PathLike[str], *, truth: Sequence[str | None] | None = None
    ) -> Path:
        """Write a self-contained HTML report of this run (needs the ``plot`` extra).

        See :func:`crmcore.display.write_report`; ``truth`` (true entity per row) adds
        precision and recall by threshold.
        """
        from crmcore.display import write_report

        return write_report(self, path, truth=truth)

    def summary(self) -> str:
        """Lines: rows in / out / noted, entities and their sizes, duplicate rate, pairs,
        rejected values per field, the columns each comparison read, warnings, time per phase."""
        noted = sum(1 for n in self.notes if n)
        histogram = self.cluster_sizes()
        shown = [f"{k}: {v:,}" for k, v in histogram.items() if k < 5]
        big = sum(v for k, v in histogram.items() if k >= 5)
        if big:
            shown.append(f"5+: {big:,} (largest {max(histogram)})")
        lines = [
            (
                f"rows in    {self.n_records:,}; rows out {len(self.entity_ids):,} (every row "
                f"has an entity); rows with a note {noted:,}"
            ),
            f"entities   {self.n_entities:,} (by size: {', '.join(shown) or 'none'})",
            f"duplicate rate {self.duplicate_rate:.1%}",
            (
                f"candidate pairs {len(self.pairs):,} (reduction ratio "
                f"{self.analysis.reduction_ratio:.6f}); matched pairs {len(self.matches):,} "
                f"at threshold {self.threshold:g}"
            ),
            "comparisons " + "; ".join(
                f"{c.name} ({', '.join(sorted(c.columns))})" for c in self.settings.comparisons
            ),
        ]
        rejected = self.rejected_per_field()
        if rejected:
            lines.append(
                "rejected values (kept as missing) "
                + ", ".join(f"{c} {k:,}" for c, k in rejected.items())
            )
        unused = sum(1 for n in self.notes if n.startswith("no usable value"))
        if unused:
            lines.append(f"rows not usable for matching {unused:,} (each is its own entity)")
        lines.extend(f"warning: {w}" for w in self.warnings)
        report = self.model.report
        if report is not None:
            lines.extend(f"WARNING: {w}" for w in report.warnings)
        phases = "  ".join(f"{k} {v:.2f}s" for k, v in self.timings.items())
        lines.append(f"time       {phases}  total {sum(self.timings.values()):.2f}s")
        return "\n".join(lines)
