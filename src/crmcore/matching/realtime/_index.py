"""The real-time match index: "is this new record someone we already know?" in milliseconds.

A :class:`MatchIndex` is a thin front over components, each one job: the stored records and
the per-record work on them (:mod:`._core`: preparing, block keys, candidates, scoring, linking,
block caps, fingerprints), the storage structures
(:mod:`._storage`: value dictionary, codes per record, inverted index per blocking rule, links),
the clusters and stable ids (:mod:`._clusters`), the readers-writer lock (:mod:`._lock`) and the
file format (:mod:`.store`). It re-implements none of matching: a record is prepared with the
batch normalisers, its block keys are the rules' expressions (:meth:`Expression.keys`), and it is
scored against its candidates with :func:`~crmcore.matching._predict.score_records` (each level's
pairwise test, the batch weights, TF adjustments and rules) and explained with
:func:`~crmcore.matching._explain.explain_levels`, so real time equals batch by construction.

* :meth:`MatchIndex.match` prepares one record, looks its blocking keys up, and scores it against
  the k candidates (the candidate as the left record as in batch, where the earlier row is left);
  records with more than 2,000 candidates, and models with a level kind lacking its own pairwise
  test, go through the columnar :func:`~crmcore.matching._predict.score_pairs`. It returns the
  candidates at or above a threshold with probability and explanation.
* :meth:`MatchIndex.add` indexes a record and returns its entity id (see
  :mod:`._clusters` for how clusters and stable ids follow).
* :meth:`MatchIndex.remove` and :meth:`MatchIndex.update` keep the index and clusters right.
* :meth:`MatchIndex.purge` forgets records for erasure: it removes them, takes their values out
  of the model's term-frequency counts (:meth:`TermFrequencies.without`; the index keeps an
  adjusted copy of the model), drops review items and decisions naming them, and rebuilds the
  value dictionary from the values live records use.
* Review: pairs whose probability falls in the review band of the index's
  :class:`~crmcore.matching._review.ReviewQueue` are queued with their explanation;
  :meth:`MatchIndex.decide` records a decision and re-clusters at once.
* :meth:`MatchIndex.save` / :meth:`MatchIndex.load` persist everything in one SQLite file (no
  pickle; see :mod:`crmcore.matching.realtime._store`).

Consistency with batch: with only exact-key (``BlockOn``) blocking rules, adding records one by
one (in any order) ends in exactly the clusters of one batch run over the same records, with
every cluster method: each pair sharing a blocking key is scored once, when the later of its two
records is added, with the batch score, and clusters come from the batch functions over whole
link components (see :mod:`._clusters`): the ``guarded`` method's weak-chain split
(:func:`~crmcore.matching._cluster.cluster_pairs`, ties by record id), then
:func:`~crmcore.matching.cluster_with_decisions` for review decisions, pairs vetoed by a
``"non_match"`` rule and the ``pooled`` method's pooling (the index stores its weak links too,
down to :attr:`MatchIndex.link_floor`). Those depend on the links, weights and record ids only,
never on the order records arrived in. Ids may differ in name, not in grouping. The index uses
the exact-key rules (:attr:`MatchIndex.ignored_rules` lists the others): sorted-neighbourhood
rules have no key to look one record up by. Adaptive rules (``max_pairs_per_record``) are used
or skipped by batch depending on the size of the whole table; :meth:`MatchIndex.build` makes the
same decision on its records and keeps it for later adds (it is saved with the index), and an
index started empty uses the adaptive rules named in ``adaptive`` (none by default). The
equivalence is with a batch run that uses the same rules.

Thread-safety: a readers-writer lock guards the index. Any number of threads may call
:meth:`~MatchIndex.match`, :meth:`~MatchIndex.entity_of` and friends at once;
:meth:`~MatchIndex.add`, :meth:`~MatchIndex.remove`, :meth:`~MatchIndex.update`,
:meth:`~MatchIndex.purge` and :meth:`~MatchIndex.decide` take the lock exclusively (waiting
writers go before new readers). Every call therefore sees the index either entirely before or
entirely after any write: never a half-added record, never an entity id being re-labelled.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import attrs
import numpy as np
import numpy.typing as npt

from crmcore.errors import FieldProblem, IndexStateError, MatchingConfigError
from crmcore.io import Table, to_table
from crmcore.matching._api import prepare_frame
from crmcore.matching._blocking import BlockOn, block_and_analyse
from crmcore.matching._expressions import parse_expression
from crmcore.matching._levels import has_pairwise_form
from crmcore.matching._model import MatchModel
from crmcore.matching._predict import (
    ModelScorer,
    score_pairs,
    vetoed,
)
from crmcore.matching._prepare import PREPARE_KINDS, with_date_order
from crmcore.matching._review import (
    ReviewDecision,
    ReviewItem,
    ReviewQueue,
    record_fingerprints,
)
from crmcore.matching._settings import MatchSettings
from crmcore.matching._stable_ids import IdChangeReport, assign_stable_ids
from crmcore.matching._tf import TermFrequencies
from crmcore.matching.realtime._clusters import Clusters, cluster_links
from crmcore.matching.realtime._core import (
    IndexCore,
    derived_expressions,
    key_counts,
    read_expressions,
)
from crmcore.matching.realtime._lock import ReadWriteLock
from crmcore.matching.realtime._storage import (
    Blocks,
    Growable,
    Links,
    Strings,
    group_csr,
    rule_csr,
)
from crmcore.matching.realtime._store import (
    FORMAT,
    IndexSnapshot,
    load_snapshot,
    save_snapshot,
)

IntArray = npt.NDArray[np.int64]


@attrs.frozen
class MatchCandidate:
    """An indexed record that may be the same as the record looked up.

    Attributes:
        record_id: Id of the indexed record.
        entity_id: Its entity id.
        probability: Match probability of the pair.
        match_weight: Match weight in bits.
        explanation: Comparison name -> ``{"level": label, "weight": bits, "tf_adjustment":
            bits}``, plus ``"prior"`` (bits) and ``"rule"`` (the deterministic rule that decided
            the pair, or None): :meth:`Waterfall.explanation` of the batch waterfall.
    """

    record_id: str
    entity_id: str
    probability: float
    match_weight: float
    explanation: Mapping[str, Any] = attrs.field(factory=dict)

class MatchIndex(IndexCore):
    """An in-memory, thread-safe index for real-time matching with stable entity ids.

    Build one with :meth:`build` (from records and a trained model) or :meth:`load`.

    Args:
        model: The trained model (its comparisons must be the settings' comparisons).
        settings: Match settings: prepare kinds, blocking rules, threshold.
        threshold: Match probability at or above which two records are linked (default: the
            settings' threshold).
        review: Review queue (its band sends pairs to review; its decisions are respected).
        id_column: Field holding the record id in records given to the index.
        prefix: Prefix of entity ids issued by the index.
        adaptive: Names of the settings' adaptive (``max_pairs_per_record``) rules to use;
            the others are ignored (:meth:`build` decides them from the data as batch does).

    Raises:
        MatchingConfigError: If the settings have no usable exact-key blocking rule, name an
            unknown adaptive rule, or the model does not fit the settings.
    """

    def __init__(
        self,
        model: MatchModel,
        settings: MatchSettings,
        *,
        threshold: float | None = None,
        review: ReviewQueue | None = None,
        id_column: str = "record_id",
        prefix: str = "E",
        adaptive: Iterable[str] = (),
    ) -> None:
        if [c.name for c in model.comparisons] != [c.name for c in settings.comparisons]:
            raise MatchingConfigError("the model's comparisons differ from the settings'")
        wanted = set(adaptive)
        known = {r.name for r in settings.blocking
                 if isinstance(r, BlockOn) and r.max_pairs_per_record is not None}
        if wanted - known:
            raise MatchingConfigError(
                f"adaptive rules {sorted(wanted - known)} are not adaptive (max_pairs_per_record)"
                f" rules of the settings; those are {sorted(known)}"
            )
        self.rules: tuple[BlockOn, ...] = tuple(
            r for r in settings.blocking
            if isinstance(r, BlockOn) and (r.max_pairs_per_record is None or r.name in wanted)
        )
        #: Names of the settings' blocking rules the index does not use, in settings order:
        #: sorted-neighbourhood rules, and adaptive (``max_pairs_per_record``) rules not chosen.
        self.ignored_rules: tuple[str, ...] = tuple(
            r.name for r in settings.blocking if r not in self.rules
        )
        if not self.rules:
            raise MatchingConfigError(
                "a match index needs an exact-key (BlockOn) rule without max_pairs_per_record; "
                f"settings have {[r.name for r in settings.blocking]}"
            )
        self.model = model
        self._scorer = ModelScorer(model)
        self.settings = settings
        # which deciding rules are vetoes kept apart (None: no veto to keep, no cost per add)
        veto = vetoed(model, np.arange(-1, len(model.rules), dtype=np.int8))
        self._veto_table: npt.NDArray[np.bool_] | None = (
            np.roll(veto, -1) if settings.cluster.vetoes_apart and veto.any() else None
        )
        self.threshold = settings.threshold if threshold is None else float(threshold)
        if not 0.0 <= self.threshold <= 1.0:
            raise MatchingConfigError(f"threshold must be a probability, got {self.threshold}")
        #: Lowest probability of a stored link: the threshold, or the pooled cluster method's
        #: weak-link threshold (its weak links are stored and pooled as batch pools them).
        self.link_floor = settings.cluster.link_floor(self.threshold)
        self._clusters = Clusters(review if review is not None else ReviewQueue(), prefix,
                                  threshold=self.threshold, options=settings.cluster)
        self.reviewing = review is not None
        self.id_column = id_column
        self.columns: tuple[str, ...] = tuple(sorted(settings.columns))
        self._lock = ReadWriteLock()
        self._strings = Strings(b"", np.zeros(1, dtype=np.int64))
        self._codes = {c: Growable(np.empty(0, dtype=np.int64)) for c in self.columns}
        # every level has its own pairwise test: a few candidates are scored pair by pair
        self._pairwise = all(has_pairwise_form(lv) for c in model.comparisons for lv in c.levels)
        # codes of the derived expressions the comparisons read, per record (as batch computed
        # them); a look-up then only decodes its candidates' values
        self._derived: dict[str, Growable] = {
            t: Growable(np.empty(0, dtype=np.int64)) for t in derived_expressions(model)
        } if self._pairwise else {}
        read = {parse_expression(t).column for t in read_expressions(model)}
        #: Base columns the comparisons read (decoded for each candidate scored).
        self._read_columns = tuple(c for c in self.columns if c in read)
        empty = np.zeros(0, dtype=np.int64)
        self._blocks = [Blocks(*group_csr(empty, empty)) for _ in self.rules]
        self._rule_exprs = [tuple(parse_expression(e) for e in r.expressions) for r in self.rules]
        self._memo: dict[tuple[str, str], str | None] = {}
        self._key_memo: dict[tuple[str, str], tuple[str, ...]] = {}
        self._prep_memo: dict[tuple[str, str], str | None] = {}
        self._prep_fns = {c: PREPARE_KINDS[k] for c, k in settings.prepare.items()
                          if k in PREPARE_KINDS}
        self._prep_unknown = len(self._prep_fns) < len(settings.prepare)
        #: Values :meth:`build` could not normalise (the records are kept, the value is missing).
        self.problems: list[FieldProblem] = []

    @property
    def prefix(self) -> str:
        """Prefix of entity ids issued by the index."""
        return self._clusters.prefix

    @property
    def next_sequence(self) -> int:
        """Sequence number of the next new entity id."""
        return self._clusters.next_sequence

    @property
    def last_report(self) -> IdChangeReport:
        """What the latest write (:meth:`build`, :meth:`add`, :meth:`update`, :meth:`remove`,
        :meth:`purge`, :meth:`decide`) did to entity ids: kept, new, merged, split, retired."""
        return self._clusters.last_report

    # -- construction -----------------------------------------------------------------------
    @classmethod
    def build(
        cls,
        model: MatchModel,
        settings: MatchSettings,
        records: object,
        *,
        threshold: float | None = None,
        review: ReviewQueue | None = None,
        id_column: str = "record_id",
        previous: Mapping[str, str] | None = None,
        next_sequence: int = 1,
        prefix: str = "E",
        adaptive: Iterable[str] | None = None,
    ) -> MatchIndex:
        """Index many records at once (batch blocking, scoring and clustering).

        Args:
            model: Trained model.
            settings: Match settings.
            records: A :class:`~crmcore.io.Table` or anything :func:`~crmcore.io.to_table`
                reads (iterable of mappings, DataFrame ...), in canonical field names.
            threshold: Link threshold (default: the settings').
            review: Review queue whose decisions are respected.
            id_column: Field holding record ids.
            previous: Record id -> entity id from an earlier run, kept where entities survive.
            next_sequence: First sequence number for new ids (from the earlier run).
            prefix: Prefix of new entity ids.
            adaptive: Adaptive (``max_pairs_per_record``) rules to consider; default all of
                the settings'. Each is used or skipped exactly as batch blocking decides on
                these records, and the decision is kept for later adds (and saved).

        Returns:
            The index.

        Raises:
            IndexStateError: If record ids are missing or repeat.
        """
        every = [r.name for r in settings.blocking
                 if isinstance(r, BlockOn) and r.max_pairs_per_record is not None]
        table = to_table(records)
        # the day/month order these records' dates show, kept for every record added later
        settings = with_date_order(settings, table.columns)
        index = cls(model, settings, threshold=threshold, review=review, id_column=id_column,
                    prefix=prefix, adaptive=every if adaptive is None else adaptive)
        ids = index._check_ids(table)
        absent = [c for c in index.columns if c not in table.columns]
        if absent:
            table = Table({**table.columns, **{c: [None] * table.n_rows for c in absent}})
        # batch's own preparation: each normaliser once per distinct raw value, vectorised
        frame, index.problems = prepare_frame(table, settings, ids=ids)
        n = table.n_rows
        index._codes = {c: Growable(frame.codes(c).copy()) for c in index.columns}
        pos = {r: i for i, r in enumerate(ids)}
        pairs = None
        if n > 1:
            # adaptive rules: used or skipped exactly as batch blocking decides on these records
            pairs, analysis = block_and_analyse(frame, index.rules, max_pairs=settings.max_pairs)
            if analysis.skipped:
                index.rules = tuple(r for r in index.rules if r.name not in analysis.skipped)
                index.ignored_rules = tuple(
                    r.name for r in settings.blocking if r not in index.rules
                )
                index._rule_exprs = [tuple(parse_expression(e) for e in r.expressions)
                                     for r in index.rules]
        index._blocks = [Blocks(*rule_csr(rule, frame)) for rule in index.rules]
        if pairs is not None and len(pairs):
            scored = score_pairs(model, frame, None, pairs.left, pairs.right)
            if index.reviewing:
                band = np.flatnonzero(
                    (scored.probability >= index.review.lower)
                    & (scored.probability < index.review.upper)
                )
                index.review.offer(
                    [ids[i] for i in scored.left[band].tolist()],
                    [ids[i] for i in scored.right[band].tolist()],
                    scored.probability[band],
                    [index._explain(scored, i, frame.row_values(int(scored.left[i])),
                                    frame.row_values(int(scored.right[i])))
                     for i in band.tolist()],
                )
            hit = scored.probability >= index.link_floor
            left, right, weight = scored.left[hit], scored.right[hit], scored.match_weight[hit]
            veto = (np.flatnonzero(index._veto_table[scored.rule])
                    if index._veto_table is not None else np.zeros(0, dtype=np.int64))
            apart_l, apart_r = scored.left[veto], scored.right[veto]
        else:
            left = right = apart_l = apart_r = np.zeros(0, dtype=np.int64)
            weight = np.zeros(0)
        # "different" decisions a record has outgrown since are reopened, as batch leaves
        # them out (the same fingerprints: record_fingerprints over the prepared values)
        named = sorted({pos[r] for d in index.review.decisions() if d.decision == "different"
                        for r in d.pair if r in pos})
        if named:
            rows = np.array(named, dtype=np.int64)
            index.review.reopen(record_fingerprints(
                {c: frame.values(c, rows) for c in index.columns}, [ids[p] for p in named]))
        result = cluster_links(ids, left, right, weight, index.review.decisions(),
                               apart=(apart_l, apart_r), threshold=index.threshold,
                               options=settings.cluster)
        # every link stays stored, those of chains cut or split and of pairs decided either
        # way (a later change re-clusters their component from them, as batch clusters)
        lo, hi = np.minimum(left, right), np.maximum(left, right)
        # the comparisons' derived values, as batch computed them (vectorised, once per value)
        index._derived = {t: Growable(frame.codes(t).copy()) for t in index._derived}
        index._strings = Strings.from_list(frame.strings().tolist())
        stable = assign_stable_ids(
            (ids, result.labels), previous, prefix=prefix, next_sequence=next_sequence
        )
        clusters = index._clusters
        apart_lo, apart_hi = np.minimum(apart_l, apart_r), np.maximum(apart_l, apart_r)
        clusters.reset(ids, stable.entity_ids, Links(n, lo, hi, weight),
                       Links(n, apart_lo, apart_hi, np.full(len(apart_lo), -np.inf)))
        clusters.add_forced(range(n))
        clusters.next_sequence = stable.next_sequence
        clusters.last_report = stable.report
        return index

    def _check_ids(self, table: Table) -> list[str]:
        if self.id_column not in table.columns:
            raise IndexStateError(f"records have no id column {self.id_column!r}")
        raw = table.column(self.id_column)
        missing = [i for i, r in enumerate(raw) if r is None]
        if missing:
            raise IndexStateError(f"records at rows {missing[:10]} have no {self.id_column!r}")
        ids = [str(r) for r in raw]
        if len(set(ids)) != len(ids):
            dupes = sorted(r for r, k in Counter(ids).items() if k > 1)
            raise IndexStateError(f"record ids repeat: {dupes[:10]}")
        return ids

    # -- public API -------------------------------------------------------------------------------
    def __len__(self) -> int:
        with self._lock.read():
            return len(self._clusters.pos)

    def __contains__(self, record_id: object) -> bool:
        with self._lock.read():
            return record_id in self._clusters.pos

    def match(
        self,
        record: Mapping[str, object],
        *,
        threshold: float | None = None,
        limit: int | None = None,
    ) -> list[MatchCandidate]:
        """Indexed records that match a record, best first (the index is not changed).

        Args:
            record: Field -> value, in canonical field names (raw values; they are prepared
                like batch input). An id field, if present, excludes that record itself.
            threshold: Smallest probability returned (default: the index's link threshold).
            limit: At most this many candidates.

        Returns:
            Candidates with probability, weight and explanation, by probability then record id.
        """
        cut = self.threshold if threshold is None else float(threshold)
        values = self._prepare(record)
        keys = self._keys(values)
        own = record.get(self.id_column)
        with self._lock.read():
            clusters = self._clusters
            exclude = clusters.pos.get(str(own)) if own is not None else None
            cand = self._candidates(keys, exclude)
            got = self._score(values, cand)
            if got is None:
                return []
            scored = got.scored
            hits = np.flatnonzero(scored.probability >= cut)
            out = [
                MatchCandidate(
                    record_id=clusters.ids[int(cand[i])],
                    entity_id=clusters.entity[int(cand[i])],
                    probability=float(scored.probability[i]),
                    match_weight=float(scored.match_weight[i]),
                    explanation=self._explain(scored, i, got.lefts[i], got.right),
                )
                for i in hits.tolist()
            ]
        out.sort(key=lambda m: (-m.probability, m.record_id))
        return out[:limit] if limit is not None else out

    def add(self, record: Mapping[str, object]) -> str:
        """Index a record and return its entity id (an existing one, or a new one).

        Links at or above the threshold (and "same" decisions) join the record to clusters;
        when it joins several, they merge under the stable-id rule (the id held by most records
        wins, ties to the oldest; the others are retired). Pairs in the review band are queued.

        Args:
            record: Field -> value, with the record id in :attr:`id_column`.

        Returns:
            The record's entity id.

        Raises:
            IndexStateError: If the record has no id or its id is already indexed (use
                :meth:`update`).
        """
        rid = self._record_id(record)
        values = self._prepare(record)
        keys = self._keys(values)
        with self._lock.write():
            if rid in self._clusters.pos:
                raise IndexStateError(f"record {rid!r} is already indexed; use update()")
            capped = self._capped(keys)
            cand = self._candidates(keys, None, capped)
            got = self._score(values, cand)
            pos = self._insert(rid, values, keys, None)
            clusters = self._clusters
            self._reopen_stale(pos)
            neighbours = self._connect(pos, cand, got)
            changed = self._rebalance(capped, Counter(), Counter(capped.keys()))
            if changed:  # a block grew over its cap: links it alone supported went
                members = clusters.component([pos, *neighbours, *changed])
                clusters.relabel(members, {p: clusters.entity[p] for p in members if p != pos})
            else:
                clusters.join(pos, neighbours)
            return clusters.entity[pos]

    def remove(self, record_id: str) -> None:
        """Remove a record; if it held its cluster together, the cluster splits.

        The largest remaining part keeps the entity id; other parts get new ids.

        Raises:
            IndexStateError: If the record is not indexed.
        """
        with self._lock.write():
            pos = self._clusters.pos.get(record_id)
            if pos is None:
                raise IndexStateError(f"record {record_id!r} is not indexed")
            capped = self._capped(self._stored_keys(pos), (pos,))
            changed = self._rebalance(capped, Counter(capped.keys()), Counter())
            self._clusters.remove([pos], also=changed)
            self.review.withdraw(naming=[record_id])  # its queued pairs are gone with it

    def update(self, record: Mapping[str, object]) -> str:
        """Replace an indexed record's values; re-block, re-score and re-cluster it.

        Its old links are dropped and recomputed; its old cluster splits if it held it together,
        and it may join other clusters. Ids follow the stable-id rule.

        Returns:
            The record's entity id after the update.

        Raises:
            IndexStateError: If the record is not indexed.
        """
        rid = self._record_id(record)
        values = self._prepare(record)
        keys = self._keys(values)
        with self._lock.write():
            clusters = self._clusters
            pos = clusters.pos.get(rid)
            if pos is None:
                raise IndexStateError(f"record {rid!r} is not indexed; use add()")
            old_keys = self._stored_keys(pos)
            capped = self._capped([sorted(set(a) | set(b)) for a, b in zip(old_keys, keys,
                                                                            strict=True)],
                                  (pos,))
            for blocks, rule_keys in zip(self._blocks, old_keys, strict=True):
                for key in rule_keys:
                    blocks.discard(key, pos)
            old_neighbours = clusters.unlink_all(pos)
            old_members = clusters.component([pos, *old_neighbours])
            previous = {p: clusters.entity[p] for p in old_members}
            cand = self._candidates(keys, pos, capped)
            got = self._score(values, cand)
            self._insert(rid, values, keys, pos)
            # its queued pairs are scored again below (re-queued if still in the band); pairs
            # reopened for review after an earlier change wait for the reviewer
            self.review.withdraw([(it.left_id, it.right_id)
                                  for it in self.review.pending_about([rid])
                                  if "reopened" not in it.explanation])
            self._reopen_stale(pos)
            neighbours = self._connect(pos, cand, got)
            changed = self._rebalance(capped, key_counts([old_keys]), key_counts([keys]))
            members = sorted(set(old_members)
                             | set(clusters.component([pos, *neighbours, *changed])))
            for p in members:
                previous.setdefault(p, clusters.entity[p])
            clusters.relabel(members, previous)
            return clusters.entity[pos]

    def decide(
        self,
        left_id: str,
        right_id: str,
        decision: str,
        *,
        reviewer: str,
        note: str = "",
    ) -> ReviewDecision:
        """Record a reviewer's decision and re-cluster the records it concerns at once.

        Returns:
            The recorded decision.

        Raises:
            IndexStateError: If either record is not indexed.
            ValidationError: For an invalid decision.
        """
        with self._lock.write():
            clusters = self._clusters
            a, b = clusters.pos.get(left_id), clusters.pos.get(right_id)
            if a is None or b is None:
                raise IndexStateError(f"records {left_id!r} and {right_id!r} must be indexed")
            d = self.review.decide(left_id, right_id, decision,  # type: ignore[arg-type]
                                   reviewer=reviewer, note=note,
                                   fingerprints=self._fingerprints([a, b]))
            if d.decision == "same":
                clusters.forced.link(min(a, b), max(a, b), float("inf"))
            else:  # the pair's scored link stays: clustering keeps the two apart
                clusters.forced.unlink(a, b)
            clusters.relabel_around([a, b])
            return d

    def _record_id(self, record: Mapping[str, object]) -> str:
        rid = record.get(self.id_column)
        if rid is None or str(rid) == "":
            raise IndexStateError(f"the record has no {self.id_column!r}: {dict(record)!r}")
        return str(rid)

    def entity_of(self, record_id: str) -> str:
        """Entity id of an indexed record.

        Raises:
            IndexStateError: If the record is not indexed.
        """
        with self._lock.read():
            pos = self._clusters.pos.get(record_id)
            if pos is None:
                raise IndexStateError(f"record {record_id!r} is not indexed")
            return self._clusters.entity[pos]

    def entities(self) -> dict[str, str]:
        """Record id -> entity id of every indexed record."""
        with self._lock.read():
            entity = list(self._clusters.entity)
            return {r: entity[p] for r, p in self._clusters.pos.items()}

    def members(self, entity_id: str) -> list[str]:
        """Record ids of an entity, sorted (empty if the entity does not exist)."""
        with self._lock.read():
            entity = list(self._clusters.entity)
            return sorted(r for r, p in self._clusters.pos.items() if entity[p] == entity_id)

    def fingerprints(self, record_ids: Iterable[str] | None = None) -> dict[str, str]:
        """Fingerprint of indexed records' compared (prepared) values, by id (all by default).

        The same values :meth:`MatchResult.fingerprints
        <crmcore.matching.MatchResult.fingerprints>` gives for the same records in batch.
        :meth:`decide` stores them with each decision, so that a "different" decision comes
        back for review when either record later changes in a compared field.
        """
        with self._lock.read():
            clusters = self._clusters
            if record_ids is None:
                positions = sorted(clusters.pos.values())
            else:
                positions = [clusters.pos[r] for r in dict.fromkeys(record_ids)
                             if r in clusters.pos]
            return self._fingerprints(positions)

    def links(self, record_id: str) -> dict[str, float]:
        """Records linked to a record, with the link's match weight (inf for "same" decisions;
        a pair decided "different" keeps its scored link, clustering keeps the two apart)."""
        with self._lock.read():
            clusters = self._clusters
            pos = clusters.pos.get(record_id)
            if pos is None:
                raise IndexStateError(f"record {record_id!r} is not indexed")
            linked = {**clusters.links.of(pos), **clusters.forced.of(pos)}
            return {clusters.ids[q]: w for q, w in sorted(linked.items())}

    # -- erasure ----------------------------------------------------------------------------------
    def purge(self, record_ids: Iterable[str]) -> int:
        """Forget records entirely (GDPR erasure): no value, id or decision of theirs stays.

        Records still indexed are removed first, exactly as :meth:`remove` does (clusters they
        held together split; the largest part keeps the id); ids already removed (or unknown)
        are accepted, so ``remove`` then ``purge`` works. Then, under the write lock:

        * the model's term-frequency tables lose the purged records' contributions: for each
          record and table, the count of the record's value of the table's expression drops by
          one (and ``total`` and ``agreement`` follow); a value left with a count under 2 leaves
          the table, as a value seen once does in training. The index then holds an adjusted
          copy of the (immutable) model in :attr:`model`. This assumes the purged records were
          counted when the model was trained (the index holds the training records); counts
          never go below zero.
        * review items and decisions (history included) naming a purged id are dropped;
        * the index is compacted: removed records' positions, their blocking keys and links
          go, and the value dictionary is rebuilt from the values live records use (values of
          records removed or updated earlier go too), as is the per-value memo.

        Stored links and entity ids of the remaining records are not re-scored; only later
        scoring (:meth:`match`, :meth:`add`, :meth:`update`) sees the new term frequencies, so
        a remaining pair's probability changes only through its TF adjustments. The work is
        linear in the index size (one compaction per call): purge in batches.

        Args:
            record_ids: Ids of the records to forget.

        Returns:
            How many records were forgotten (indexed or removed earlier).
        """
        gone = {str(r) for r in record_ids}
        if not gone:
            return 0
        with self._lock.write():
            clusters = self._clusters
            positions = [p for p, r in enumerate(clusters.ids) if r in gone]
            if not positions:
                self.review.forget(gone)
                return 0
            forgotten = len({clusters.ids[p] for p in positions})
            self._forget_tf(positions)
            self._scorer = ModelScorer(self.model)
            live = [p for p in positions if clusters.alive.view()[p]]
            if live:
                held = [self._stored_keys(p) for p in live]
                union = [sorted({k for ks in held for k in ks[ri]})
                         for ri in range(len(self.rules))]
                capped = self._capped(union, live)
                changed = self._rebalance(capped, key_counts(held), Counter())
                clusters.remove(live, also=changed)
            self.review.forget(gone)
            self.problems = [pr for pr in self.problems if str(pr.record) not in gone]
            self._adopt(self._snapshot())
            self._memo = {}
            self._key_memo = {}
            self._prep_memo = {}
            return forgotten

    def _forget_tf(self, positions: Sequence[int]) -> None:
        """Take these records' values out of the model's term-frequency tables (lock held)."""
        if not self.model.tf:
            return
        tables: dict[tuple[int, int], TermFrequencies] = {}
        for key, table in self.model.tf.items():
            expr = parse_expression(table.expression)
            column = self._codes.get(expr.column)
            if column is None:
                tables[key] = table
                continue
            codes = column.view()
            taken: Counter[str] = Counter()
            for p in positions:
                taken.update(expr.keys(self._strings.get(int(codes[p]))))
            tables[key] = table.without(taken)
        self.model = attrs.evolve(self.model, tf=tables)

    # -- persistence ------------------------------------------------------------------------------
    def _snapshot(self) -> IndexSnapshot:
        """Live records only: positions compacted, value dictionary of the used values (lock
        held; ``meta`` is left empty)."""
        clusters = self._clusters
        alive = clusters.alive.view().copy()
        n = len(alive)
        new_pos = np.cumsum(alive).astype(np.int64) - 1
        live = np.flatnonzero(alive)
        codes = {c: self._codes[c].view()[live] for c in self.columns}
        codes.update({t: d.view()[live] for t, d in self._derived.items()})
        mask = np.zeros(len(self._strings), dtype=bool)
        for col in codes.values():
            mask[col[col >= 0]] = True
        if mask.all():  # every value in use: codes stay as they are
            blob, offsets = self._strings.compact()
        else:
            blob, offsets = self._strings.subset(np.flatnonzero(mask).astype(np.int64))
            renumber = np.cumsum(mask, dtype=np.int64) - 1
            for c, col in codes.items():
                codes[c] = np.where(col >= 0, renumber[np.maximum(col, 0)], -1).astype(np.int64)
        a, b, ew = clusters.links.edges()
        va, vb, _ = clusters.apart.edges()  # cannot-link pairs: links of weight -inf
        a, b = np.concatenate((a, va)), np.concatenate((b, vb))
        ew = np.concatenate((ew, np.full(len(va), -np.inf)))
        return IndexSnapshot(
            meta={},
            columns=(*self.columns, *self._derived),
            strings=(blob, offsets),
            codes=codes,
            record_ids=[clusters.ids[p] for p in live.tolist()],
            entity_ids=[clusters.entity[p] for p in live.tolist()],
            blocks=[bl.csr(alive, new_pos) for bl in self._blocks],
            edge_a=new_pos[a] if n else a,
            edge_b=new_pos[b] if n else b,
            edge_w=ew,
            decisions=self.review.history(),
        )

    def _adopt(self, snap: IndexSnapshot) -> None:
        """Take the records, values, keys and links of a snapshot (not its meta)."""
        n = len(snap.record_ids)
        self._strings = Strings(*snap.strings)
        self._codes = {c: Growable(snap.codes[c]) for c in self.columns}
        wanted = derived_expressions(self.model) if self._pairwise else ()
        # files without them (older saves) derive values on demand
        self._derived = ({t: Growable(snap.codes[t]) for t in wanted}
                         if all(t in snap.codes for t in wanted) else {})
        self._blocks = [Blocks(*b) for b in snap.blocks]
        apart = np.isneginf(snap.edge_w)  # cannot-link pairs (vetoed) are stored as -inf
        link = ~apart
        clusters = self._clusters
        clusters.reset(
            snap.record_ids, snap.entity_ids,
            Links(n, snap.edge_a[link], snap.edge_b[link], snap.edge_w[link]),
            Links(n, snap.edge_a[apart], snap.edge_b[apart], snap.edge_w[apart]),
        )
        clusters.add_forced(range(n))  # "same" decisions: from the decisions, not the links
        if snap.layout != FORMAT and clusters.guarded:
            # layouts before 6 kept the guarded method's plain components: split them now
            clusters.recluster_all()

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the index (values, blocking keys, links, entity ids, decisions, model) to SQLite.

        Removed records are left out (positions are compacted), and so are values no live
        record uses (the value dictionary is rebuilt).
        """
        with self._lock.read():
            snap = attrs.evolve(
                self._snapshot(),
                meta={
                    "model": self.model.to_dict(),
                    "settings": self.settings.to_dict(),
                    "threshold": self.threshold,
                    "review_band": [self.review.lower, self.review.upper],
                    "reviewing": self.reviewing,
                    "id_column": self.id_column,
                    "prefix": self.prefix,
                    "next_sequence": self.next_sequence,
                    "rules": [r.name for r in self.rules],
                    "pending_review": [it.to_dict() for it in self.review.pending()],
                    # decisions sent back to review (stale): they stay in the history only
                    "reopened_review": [
                        {"left_id": d.left_id, "right_id": d.right_id,
                         "decided_at": d.decided_at.isoformat()}
                        for d in self.review.reopened()
                    ],
                },
            )
        save_snapshot(path, snap)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> MatchIndex:
        """Read an index written by :meth:`save`.

        Raises:
            IndexStateError: If the file is not a saved match index.
        """
        snap = load_snapshot(path)
        meta = snap.meta
        lower, upper = meta["review_band"]
        marked = {(str(r["left_id"]), str(r["right_id"]), str(r["decided_at"]))
                  for r in meta.get("reopened_review", [])}
        review = ReviewQueue(
            lower, upper, snap.decisions,
            reopened=[d for d in snap.decisions
                      if (d.left_id, d.right_id, d.decided_at.isoformat()) in marked],
            pending=[ReviewItem.from_dict(p) for p in meta.get("pending_review", [])],
        )
        settings = MatchSettings.from_dict(meta["settings"])
        saved_rules = [str(r) for r in meta.get("rules", [])]
        index = cls(
            MatchModel.from_dict(meta["model"]),
            settings,
            threshold=float(meta["threshold"]),
            review=review,
            id_column=str(meta["id_column"]),
            prefix=str(meta["prefix"]),
            adaptive=[r.name for r in settings.blocking
                      if isinstance(r, BlockOn) and r.max_pairs_per_record is not None
                      and r.name in saved_rules],
        )
        index.reviewing = bool(meta.get("reviewing", False))
        if [r.name for r in index.rules] != list(meta.get("rules", [])):
            raise IndexStateError(
                f"{path}: blocking rules {meta.get('rules')} do not fit the settings' "
                f"{[r.name for r in index.rules]}"
            )
        index._adopt(snap)
        if "reopened_review" not in meta:
            # saved before reopened decisions were kept: those stale now were reopened then
            index._reopen_all_stale()
        index._clusters.next_sequence = int(meta["next_sequence"])
        return index
