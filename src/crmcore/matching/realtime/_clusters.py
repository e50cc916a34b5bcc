"""Clusters and stable entity ids of a match index: which records are indexed (ids, positions,
alive flags), their match links, and the entity id of every record, kept right as records come
and go.

Links at or above the threshold join clusters; the clusters a write touches are re-labelled with
the stable-id rule of :mod:`crmcore.matching._stable_ids` (on a merge the id held by most records
wins, ties to the oldest id; the others are retired). A removed (or changed) record's cluster is
recomputed from its stored links, and if the record held it together it splits (the largest part
keeps the id, other parts get new ids). Review decisions are respected: "different" pairs are
never linked (a chain joining them is cut at its weakest link), "same" pairs always are; pairs a
``"non_match"`` rule vetoed are kept apart as "different" ones (stored as they are scored).

Clusters come from :func:`~crmcore.matching.cluster_with_decisions`, the function batch
runs use, over whole link components (the links of a chain it cut stay stored: the cut is
recomputed whenever the component changes), so the index finds the batch clusters whatever the
order records arrive in. A record joining entities whose link components hold no cannot-link
pair, without a decision or veto of its own into them, takes the fast path: the plain
component, which is then what the function gives too (never with the pooled cluster method:
its weak links are stored as links, and whether they join is the pooled clustering's call).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping, Sequence

import attrs
import numpy as np
import numpy.typing as npt

from crmcore.matching._review import ReviewQueue, cluster_with_decisions
from crmcore.matching._settings import ClusterOptions
from crmcore.matching._stable_ids import IdChangeReport, assign_stable_ids, format_entity_id
from crmcore.matching.realtime._storage import Growable, Links, Texts, no_links

IntArray = npt.NDArray[np.int64]


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
        self.ids = Texts()
        self.pos: dict[str, int] = {}
        self.alive = Growable(np.empty(0, dtype=bool))
        self.entity = Texts()
        self.links = no_links()
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
        self.apart = apart if apart is not None else no_links()
        self._diff_cache = (0, [])
        a, b, _ = links.edges()
        ent = np.asarray(entity_ids, dtype=object)
        across = ent[a] != ent[b] if len(a) else np.zeros(0, dtype=bool)
        self.split = set(ent[a[across]].tolist()) | set(ent[b[across]].tolist())

    def append(self, record_id: str) -> int:
        """A new position for a record (no entity yet)."""
        pos = len(self.ids)
        self.ids.append(record_id)
        self.pos[record_id] = pos
        self.alive.append(True)
        self.entity.append("")
        return pos

    def unlink_all(self, p: int) -> list[int]:
        """Drop every link (and cannot-link pair) of a record; return its former neighbours."""
        neighbours = list(self.links.of(p))
        for q in neighbours:
            self.links.unlink(p, q)
        for q in list(self.apart.of(p)):
            self.apart.unlink(p, q)
        return neighbours

    def add_forced(self, positions: Iterable[int]) -> None:
        """Link the "same" decisions touching these positions (weight +inf)."""
        alive = self.alive.view()
        for d in self.review.decisions_about(self.ids[p] for p in positions):
            if d.decision != "same":
                continue
            a, b = self.pos.get(d.left_id), self.pos.get(d.right_id)
            if a is not None and b is not None and alive[a] and alive[b]:
                self.links.link(a, b, float("inf"))

    def component(self, starts: Iterable[int], avoid: int | None = None) -> list[int]:
        """Positions connected to ``starts`` by links (a walk that never enters ``avoid``)."""
        seen: set[int] = set() if avoid is None else {avoid}
        todo = deque(starts)
        while todo:
            x = todo.popleft()
            if x in seen:
                continue
            seen.add(x)
            todo.extend(y for y in self.links.of(x) if y not in seen)
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
        result = cluster_with_decisions(
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
        """Link a record to its scored candidates per threshold and decisions, and store its
        ``vetoed`` candidates as cannot-link pairs; return the neighbours linked."""
        out: list[int] = []
        rid = self.ids[pos]
        if vetoed is not None:
            for c in vetoed.tolist():
                self.apart.link(min(c, pos), max(c, pos), float("-inf"))
        for c, p, w in zip(candidates.tolist(), probability.tolist(), weight.tolist(),
                           strict=True):
            d = self.review.decision_for(self.ids[c], rid)
            if d is not None and d.decision == "different":
                continue
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
