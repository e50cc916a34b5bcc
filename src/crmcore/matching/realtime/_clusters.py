"""Clusters and stable entity ids of a match index: which records are indexed (ids, positions,
alive flags), their match links, and the entity id of every record, kept right as records come
and go.

Links at or above the threshold join clusters; the clusters a write touches are re-labelled with
the stable-id rule of :mod:`crmcore.matching._stable_ids` (on a merge the id held by most records
wins, ties to the oldest id; the others are retired). A removed (or changed) record's cluster is
recomputed from its stored links, and if the record held it together it splits (the largest part
keeps the id, other parts get new ids). Review decisions are respected: "different" pairs are
never in one entity (a chain joining them is cut at its weakest link), "same" pairs always are;
pairs a ``"non_match"`` rule vetoed are kept apart as "different" ones (stored as they are
scored).

Clusters come from :func:`cluster_links`, the composition batch runs use: the ``guarded``
method's split (:func:`~crmcore.matching._cluster.cluster_pairs` over the scored links, equal
weights dropped in record-id order), then :func:`~crmcore.matching.cluster_with_decisions` over
the links it kept (decisions, vetoes, the ``pooled`` method's pooling), over whole link
components. Every scored link at or above the link floor is stored, with its weight, whatever
reviewers decided about the pair ("same" decisions are kept apart, in :attr:`Clusters.forced`,
as batch joins them after the split); the links of a chain cut or split stay stored, and the cut
is recomputed whenever the component changes. So the index finds the batch clusters whatever the
order records arrive in. A record joining entities whose link components hold no cannot-link
pair, without a decision or veto of its own into them, takes the fast path: the plain
component, which is then what the batch functions give too. With the guarded method the joined
component must also hold no "same" decision and pass the guard (:func:`passes_guard`: at most
``max_size`` records and, with 3 or more, an edge density of at least ``min_density``), so the
split leaves it whole; never with the pooled method (whether its weak links join is the pooled
clustering's call).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping, Sequence

import attrs
import numpy as np
import numpy.typing as npt

from crmcore.matching._cluster import cluster_pairs
from crmcore.matching._predict import ScoredPairs
from crmcore.matching._review import (
    ConstrainedClusters,
    ReviewDecision,
    ReviewQueue,
    cluster_with_decisions,
)
from crmcore.matching._settings import ClusterOptions
from crmcore.matching._stable_ids import IdChangeReport, assign_stable_ids, format_entity_id
from crmcore.matching.realtime._storage import Growable, Links, Texts, no_links

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


def guards(options: ClusterOptions | None) -> bool:
    """Whether the options split components (the guarded method with a size or density rule)."""
    return (options is not None and options.method == "guarded"
            and (options.max_size is not None or options.min_density > 0))


def passes_guard(size: int, edges: int, options: ClusterOptions) -> bool:
    """Whether a connected component of ``size`` records and ``edges`` links is left whole by
    the guarded split (the test of :func:`~crmcore.matching._cluster.cluster_pairs`)."""
    if options.max_size is not None and size > options.max_size:
        return False
    if options.min_density > 0 and size >= 3:
        possible = size * (size - 1) / 2
        return not edges / max(possible, 1) < options.min_density
    return True


def cluster_links(
    ids: Sequence[str],
    left: IntArray,
    right: IntArray,
    weight: FloatArray,
    decisions: Iterable[ReviewDecision],
    *,
    apart: tuple[IntArray, IntArray],
    threshold: float,
    options: ClusterOptions | None,
) -> ConstrainedClusters:
    """The batch clustering of linked records, as a batch run composes it: the guarded
    method's split (:func:`~crmcore.matching._cluster.cluster_pairs` over the links, ties by
    record id), then the links it kept, the decisions and the cannot-link pairs through
    :func:`~crmcore.matching.cluster_with_decisions` (which pools the pooled method's links).

    Args:
        ids: Record id of each position.
        left: One record of every link (each pair once; links at or above the link floor).
        right: The other record.
        weight: Match weight of every link.
        decisions: Review decisions ("same" pairs are joined, "different" ones kept apart).
        apart: Cannot-link pairs (vetoed) as two aligned position arrays.
        threshold: The link threshold.
        options: The cluster options.
    """
    if guards(options) and len(left):
        m = len(left)
        links = ScoredPairs(
            left=left, right=right, match_weight=weight,
            probability=np.ones(m, dtype=np.float64),  # every stored link is at the threshold
            levels=np.zeros((m, 0), dtype=np.int8), rule=np.full(m, -1, dtype=np.int8),
            comparison_names=(),
        )
        labels = cluster_pairs(len(ids), links, threshold=threshold, options=options, ids=ids)
        kept = labels[left] == labels[right]
        left, right, weight = left[kept], right[kept], weight[kept]
    return cluster_with_decisions(ids, left, right, weight, decisions, apart=apart,
                                  threshold=threshold, options=options)


class Clusters:
    """Indexed records, their links and entity ids (an engine component; the index holds the
    lock while calling it).

    Args:
        review: The review queue whose decisions are respected.
        prefix: Prefix of entity ids issued.
        threshold: The link threshold (the pooled cluster method's strong links).
        options: The cluster options (the pooled method pools weak links; others cluster
            components of the links).
    """

    def __init__(self, review: ReviewQueue, prefix: str, *, threshold: float = 1.0,
                 options: ClusterOptions | None = None) -> None:
        self.review = review
        self.prefix = prefix
        self.threshold = threshold
        self.options = options
        self.pooled = options is not None and options.method == "pooled"
        #: The guarded method splits components: a join must pass its test to stay whole.
        self.guarded = guards(options)
        self.ids = Texts()
        self.pos: dict[str, int] = {}
        self.alive = Growable(np.empty(0, dtype=bool))
        self.entity = Texts()
        #: Scored links at or above the link floor (pairs decided either way included: the
        #: guarded split reads them as batch does; decisions act on the clusters).
        self.links = no_links()
        #: "Same" decisions between indexed records (weight inf), apart from the links: batch
        #: joins them after the guarded split, not in it.
        self.forced = no_links()
        #: Cannot-link pairs other than decisions: pairs a "non_match" rule vetoed.
        self.apart = no_links()
        #: Entities whose link component holds other entities too (a cut keeps them apart):
        #: a record joining one of them re-clusters the component.
        self.split: set[str] = set()
        self.next_sequence = 1
        #: What the latest write did to entity ids: kept, new, merged, split, retired.
        self.last_report = IdChangeReport()
        self._diff_cache: tuple[int, list[tuple[str, str]]] = (0, [])

    def reset(
        self, ids: Sequence[str], entity_ids: Sequence[str], links: Links,
        apart: Links | None = None,
    ) -> None:
        """Take a whole set of live records (build, load, compaction)."""
        self.ids = Texts(ids)
        self.pos = dict(zip(ids, range(len(ids)), strict=True))
        self.alive = Growable(np.ones(len(ids), dtype=bool))
        self.entity = Texts(entity_ids)
        self.links = links
        self.forced = no_links()
        self.apart = apart if apart is not None else no_links()
        self._diff_cache = (0, [])
        a, b, _ = links.edges()
        ent = np.asarray(entity_ids, dtype=object)
        across = ent[a] != ent[b] if len(a) else np.zeros(0, dtype=bool)
        self.split = set(ent[a[across]].tolist()) | set(ent[b[across]].tolist())

    def recluster_all(self) -> None:
        """Re-cluster every live record from its links and decisions (ids kept by the
        stable-id rule): for an index whose entities were clustered another way."""
        members = np.flatnonzero(self.alive.view()).tolist()
        self.relabel(members, {p: self.entity[p] for p in members})

    def append(self, record_id: str) -> int:
        """A new position for a record (no entity yet)."""
        pos = len(self.ids)
        self.ids.append(record_id)
        self.pos[record_id] = pos
        self.alive.append(True)
        self.entity.append("")
        return pos

    def unlink_all(self, p: int) -> list[int]:
        """Drop every link ("same" decision, cannot-link pair) of a record; return its former
        neighbours."""
        neighbours = [*self.links.of(p), *self.forced.of(p)]
        for store in (self.links, self.forced, self.apart):
            for q in list(store.of(p)):
                store.unlink(p, q)
        return neighbours

    def add_forced(self, positions: Iterable[int]) -> None:
        """Link the "same" decisions touching these positions (weight +inf, in :attr:`forced`);
        one joining two entities (a "different" decision won) marks them split."""
        alive = self.alive.view()
        for d in self.review.decisions_about(self.ids[p] for p in positions):
            if d.decision != "same":
                continue
            a, b = self.pos.get(d.left_id), self.pos.get(d.right_id)
            if a is not None and b is not None and alive[a] and alive[b]:
                self.forced.link(a, b, float("inf"))
                ea, eb = self.entity[a], self.entity[b]
                if ea and eb and ea != eb:
                    self.split.update((ea, eb))

    def component(self, starts: Iterable[int], avoid: int | None = None) -> list[int]:
        """Positions connected to ``starts`` by links or "same" decisions (a walk that never
        enters ``avoid``)."""
        seen: set[int] = set() if avoid is None else {avoid}
        todo = deque(starts)
        forced = self.forced
        while todo:
            x = todo.popleft()
            if x in seen:
                continue
            seen.add(x)
            todo.extend(y for y in self.links.of(x) if y not in seen)
            todo.extend(y for y in forced.of(x) if y not in seen)
        if avoid is not None:
            seen.discard(avoid)
        return sorted(seen)

    def relabel(self, members: Sequence[int], previous_of: Mapping[int, str]) -> None:
        """Re-cluster a set of positions from their links and decisions; stable ids."""
        if not members:
            return
        ids = [self.ids[p] for p in members]
        local = {p: i for i, p in enumerate(members)}
        left: list[int] = []
        right: list[int] = []
        weight: list[float] = []
        apart_l: list[int] = []
        apart_r: list[int] = []
        for p in members:
            for q, w in self.links.of(p).items():
                if p < q and q in local:
                    left.append(local[p])
                    right.append(local[q])
                    weight.append(w)
            for q in self.apart.of(p):
                if p < q and q in local:
                    apart_l.append(local[p])
                    apart_r.append(local[q])
        result = cluster_links(
            ids,
            np.array(left, dtype=np.int64),
            np.array(right, dtype=np.int64),
            np.array(weight, dtype=np.float64),
            self.review.decisions_about(ids),
            apart=(np.array(apart_l, dtype=np.int64), np.array(apart_r, dtype=np.int64)),
            threshold=self.threshold, options=self.options,
        )
        prev = {self.ids[p]: e for p, e in previous_of.items()}
        stable = assign_stable_ids(
            (ids, result.labels), prev, prefix=self.prefix, next_sequence=self.next_sequence
        )
        self.split.difference_update(previous_of.values())
        for p, eid in zip(members, stable.entity_ids, strict=True):
            self.entity[p] = eid
        self.split.difference_update(stable.entity_ids)
        # links cut (or dropped) stay stored: the entities they join share a link component
        labels = result.labels
        for x, y in zip(left, right, strict=True):
            if labels[x] != labels[y]:
                self.split.update((stable.entity_ids[x], stable.entity_ids[y]))
        for p in members:
            for q in self.forced.of(p):
                if q in local and labels[local[p]] != labels[local[q]]:
                    self.split.update((self.entity[p], self.entity[q]))
        self.next_sequence = stable.next_sequence
        self.last_report = stable.report

    def relabel_around(self, starts: Iterable[int]) -> None:
        """Re-cluster the records connected to ``starts``, keeping their ids where they can."""
        members = self.component(starts)
        self.relabel(members, {p: self.entity[p] for p in members})

    def _different_pairs(self) -> list[tuple[str, str]]:
        n_seen, pairs = self._diff_cache
        history = self.review.history()
        if n_seen != len(history):
            pairs = [d.pair for d in self.review.decisions() if d.decision == "different"]
            self._diff_cache = (len(history), pairs)
        return pairs

    def join(self, pos: int, neighbours: Sequence[int]) -> None:
        """Give a new record (linked to ``neighbours``) its entity."""
        if not self._join_fast(pos, neighbours):
            members = self.component([pos, *neighbours])
            self.relabel(members, {p: self.entity[p] for p in members if p != pos})

    def _join_fast(self, pos: int, neighbours: Sequence[int]) -> bool:
        """Give a new record its entity without re-clustering, when no decision interferes.

        Joining one entity changes nobody else; joining several merges them under the id held
        by most records (ties: the oldest), exactly what the stable-id rule gives, relabelling
        only the smaller entities (found by a walk over their links that avoids the new record).
        With the guarded method the joined component must also pass its test (size and edge
        density, :func:`passes_guard`) and hold no "same" decision: then the split leaves it
        whole, as batch does; otherwise it is re-clustered.
        """
        if self.pooled or self.review.decisions_about([self.ids[pos]]):
            return False  # pooled: weak links may join or not, the component is re-clustered
        ents = {self.entity[q] for q in neighbours}
        if ents & self.split:
            return False
        vetoed = self.apart.of(pos)
        if vetoed and any(self.entity[c] in ents for c in vetoed):
            return False
        parts: dict[str, list[int]] = {}
        opts = self.options
        if self.guarded and ents and opts is not None:
            size, edges = 1, len(neighbours)
            for q in neighbours:
                if self.entity[q] not in parts:
                    part, half, forced = self._walk(q, pos)
                    if forced:
                        return False  # "same" links are joined after the split, not in it
                    parts[self.entity[q]] = part
                    size += len(part)
                    edges += half
            if not passes_guard(size, edges, opts):
                return False
        if len(ents) > 1:
            for a, b in self._different_pairs():
                pa, pb = self.pos.get(a), self.pos.get(b)
                if pa is None or pb is None:
                    continue
                if self.entity[pa] in ents and self.entity[pb] in ents:
                    return False
            # an entity not in ``split`` is a connected component of the links: a walk away
            for q in neighbours:
                if self.entity[q] not in parts:
                    parts[self.entity[q]] = self.component([q], avoid=pos)
            if self.apart.dst.size or self.apart.touched:  # any vetoed pair stored
                for eid, part in parts.items():
                    for m in part:
                        if any(self.entity[c] in ents and self.entity[c] != eid
                               for c in self.apart.of(m)):
                            return False
        if not ents:
            eid = format_entity_id(self.next_sequence, self.prefix)
            self.next_sequence += 1
            self.last_report = IdChangeReport(new=(eid,))
        elif len(ents) == 1:
            eid = next(iter(ents))
            self.last_report = IdChangeReport(kept=(eid,), merged={}, retired=())
        else:
            eid = min(parts, key=lambda e: (-len(parts[e]), e))
            losers = sorted(ents - {eid})
            for loser in losers:
                for m in parts[loser]:
                    self.entity[m] = eid
            self.last_report = IdChangeReport(
                kept=(eid,), merged=dict.fromkeys(losers, eid), retired=tuple(losers)
            )
        self.entity[pos] = eid
        return True

    def _walk(self, start: int, avoid: int) -> tuple[list[int], int, bool]:
        """The records linked to ``start`` (a walk never entering ``avoid``), how many links
        they hold among themselves, and whether any holds a "same" decision."""
        seen = {start, avoid}
        todo = [start]
        ends = 0  # link ends inside the part (each link counted from both records)
        forced = False
        links, same = self.links, self.forced
        while todo:
            x = todo.pop()
            nb = links.of(x)
            ends += len(nb) - (avoid in nb)
            forced = forced or bool(same.of(x))
            for y in nb:
                if y not in seen:
                    seen.add(y)
                    todo.append(y)
        seen.discard(avoid)
        return sorted(seen), ends // 2, forced

    def connect(
        self,
        pos: int,
        candidates: IntArray,
        probability: npt.NDArray[np.float64],
        weight: npt.NDArray[np.float64],
        threshold: float,
        *,
        vetoed: IntArray | None = None,
    ) -> list[int]:
        """Link a record to its scored candidates at or above the threshold (and its "same"
        decisions), and store its ``vetoed`` candidates as cannot-link pairs; return the
        neighbours linked."""
        out: list[int] = []
        if vetoed is not None:
            for c in vetoed.tolist():
                self.apart.link(min(c, pos), max(c, pos), float("-inf"))
        for c, p, w in zip(candidates.tolist(), probability.tolist(), weight.tolist(),
                           strict=True):
            # a pair decided "different" keeps its link: the guarded split reads it as batch
            # does, and the decision keeps the pair apart when clustering
            if p >= threshold:
                self.links.link(min(c, pos), max(c, pos), w)
                out.append(c)
        self.add_forced([pos])
        return out

    def remove(self, positions: Sequence[int], also: Iterable[int] = ()) -> None:
        """Remove live records at once; re-cluster what they held together (and the records
        ``also`` whose links the caller changed)."""
        drop = set(positions)
        neighbours: set[int] = set()
        old: set[str] = set()
        alive = self.alive.view()
        for pos in positions:
            neighbours.update(self.unlink_all(pos))
            alive[pos] = False
            del self.pos[self.ids[pos]]
            old.add(self.entity[pos])
            self.entity[pos] = ""
        members = self.component(sorted((neighbours | set(also)) - drop))
        report = IdChangeReport()
        if members:
            self.relabel(members, {p: self.entity[p] for p in members})
            report = self.last_report
        still = {self.entity[p] for p in members}
        vanished = tuple(sorted(old - still - set(report.kept)))
        self.last_report = attrs.evolve(
            report,
            retired=tuple(sorted(set(report.retired) | set(vanished))),
            removed=tuple(sorted(set(report.removed) | set(vanished))),
        )
