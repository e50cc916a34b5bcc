"""Clusters and stable entity ids of a match index: which records are indexed (ids, positions,
alive flags), their match links, and the entity id of every record, kept right as records come
and go.

Links at or above the threshold join clusters; the clusters a write touches are re-labelled with
the stable-id rule of :mod:`crmcore.matching._stable_ids` (on a merge the id held by most records
wins, ties to the oldest id; the others are retired). A removed (or changed) record's cluster is
recomputed from its stored links, and if the record held it together it splits (the largest part
keeps the id, other parts get new ids). Review decisions are respected: "different" pairs are
never linked (a chain joining them is cut at its weakest link), "same" pairs always are.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping, Sequence

import attrs
import numpy as np
import numpy.typing as npt

from crmcore.matching._review import ReviewQueue, cluster_with_decisions
from crmcore.matching._stable_ids import IdChangeReport, assign_stable_ids, format_entity_id
from crmcore.matching.realtime._storage import Growable, Links, Texts, no_links

IntArray = npt.NDArray[np.int64]


class Clusters:
    """Indexed records, their links and entity ids (an engine component; the index holds the
    lock while calling it).

    Args:
        review: The review queue whose decisions are respected.
        prefix: Prefix of entity ids issued.
    """

    def __init__(self, review: ReviewQueue, prefix: str) -> None:
        self.review = review
        self.prefix = prefix
        self.ids = Texts()
        self.pos: dict[str, int] = {}
        self.alive = Growable(np.empty(0, dtype=bool))
        self.entity = Texts()
        self.links = no_links()
        self.next_sequence = 1
        #: What the latest write did to entity ids: kept, new, merged, split, retired.
        self.last_report = IdChangeReport()
        self._diff_cache: tuple[int, list[tuple[str, str]]] = (0, [])

    def reset(self, ids: Sequence[str], entity_ids: Sequence[str], links: Links) -> None:
        """Take a whole set of live records (build, load, compaction)."""
        self.ids = Texts(ids)
        self.pos = dict(zip(ids, range(len(ids)), strict=True))
        self.alive = Growable(np.ones(len(ids), dtype=bool))
        self.entity = Texts(entity_ids)
        self.links = links
        self._diff_cache = (0, [])

    def append(self, record_id: str) -> int:
        """A new position for a record (no entity yet)."""
        pos = len(self.ids)
        self.ids.append(record_id)
        self.pos[record_id] = pos
        self.alive.append(True)
        self.entity.append("")
        return pos

    def unlink_all(self, p: int) -> list[int]:
        """Drop every link of a record; return its former neighbours."""
        neighbours = list(self.links.of(p))
        for q in neighbours:
            self.links.unlink(p, q)
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
        for p in members:
            for q, w in self.links.of(p).items():
                if p < q and q in local:
                    left.append(local[p])
                    right.append(local[q])
                    weight.append(w)
        result = cluster_with_decisions(
            ids,
            np.array(left, dtype=np.int64),
            np.array(right, dtype=np.int64),
            np.array(weight, dtype=np.float64),
            self.review.decisions_about(ids),
        )
        for a, b in result.cut_edges:
            self.links.unlink(self.pos[a], self.pos[b])
        prev = {self.ids[p]: e for p, e in previous_of.items()}
        stable = assign_stable_ids(
            (ids, result.labels), prev, prefix=self.prefix, next_sequence=self.next_sequence
        )
        for p, eid in zip(members, stable.entity_ids, strict=True):
            self.entity[p] = eid
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
        if self.review.decisions_about([self.ids[pos]]):
            return False
        ents = {self.entity[q] for q in neighbours}
        if len(ents) > 1:
            for a, b in self._different_pairs():
                pa, pb = self.pos.get(a), self.pos.get(b)
                if pa is None or pb is None:
                    continue
                if self.entity[pa] in ents and self.entity[pb] in ents:
                    return False
        if not ents:
            eid = format_entity_id(self.next_sequence, self.prefix)
            self.next_sequence += 1
            self.last_report = IdChangeReport(new=(eid,))
        else:
            # an entity is a connected component of the links: its size is a walk away
            parts: dict[str, list[int]] = {}
            for q in neighbours:
                if self.entity[q] not in parts:
                    parts[self.entity[q]] = self.component([q], avoid=pos)
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
    ) -> list[int]:
        """Link a record to its scored candidates per threshold and decisions; return the
        neighbours linked."""
        out: list[int] = []
        rid = self.ids[pos]
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
