"""Stable entity ids: keep the ids of entities that survive a re-run of clustering.

Survivorship, consent and workflows key on entity ids, so a re-run of batch clustering after the
data changed must keep an existing id wherever the entity is substantially the same, and say what
it merged, split, created and retired.

The rule (implemented by :func:`assign_stable_ids`):

1. Every new cluster *claims* each previous id held by one of its members; the claim's weight is
   the number of its members that held that id.
2. Claims are granted greedily, strongest first, so that each cluster gets at most one previous id
   and each previous id goes to at most one cluster. Claims are ordered by member count
   (descending), then by the id's age (the *oldest* id first: ids sort by their text, and the ids
   this module issues are zero-padded sequence numbers, so text order is creation order), then by
   the cluster's size (descending), then by the cluster's smallest record id (lexicographic).
   Consequences:

   * a cluster takes the id held by the plurality of its members; ties go to the oldest id;
   * on a **merge** the winning id is kept and the others are **retired**;
   * on a **split** the part holding most of the old members keeps the id, the other parts take
     another previous id they hold (if they win one) or a **new** id;
   * a cluster with no previously-known member gets a new id.

3. New ids are ``prefix`` + a 12-digit zero-padded sequence number, issued in order of each new
   cluster's smallest record id, starting at ``next_sequence`` (raised past any id of the same
   format in the previous assignment). Persist :attr:`StableIds.next_sequence` and pass it back:
   then a retired id is never issued again, for this or any other entity.

The greedy grant is computed with numpy in rounds of *locally dominant* claims (a claim that is the
best remaining one for both its cluster and its id is granted); with a strict total order this
gives exactly the sequential greedy result, in a few vectorised rounds, for millions of records.

Example:
    >>> first = assign_stable_ids({"a": 1, "b": 1, "c": 2})
    >>> first.mapping()
    {'a': 'E000000000001', 'b': 'E000000000001', 'c': 'E000000000002'}
    >>> again = assign_stable_ids({"a": 7, "b": 7, "c": 7}, first.mapping(),
    ...                           next_sequence=first.next_sequence)
    >>> again.mapping()["c"], again.report.merged
    ('E000000000001', {'E000000000002': 'E000000000001'})
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Hashable, Mapping, Sequence
from typing import Any

import attrs
import numpy as np
import numpy.typing as npt

from crmcore.errors import FieldProblem, ValidationError

#: Digits of an entity id's sequence number: one format for batch jobs, Spark and the index.
ENTITY_ID_WIDTH = 12
_WIDTH = ENTITY_ID_WIDTH
IntArray = npt.NDArray[np.int64]


def format_entity_id(sequence: int, prefix: str = "E") -> str:
    """Return the entity id with this sequence number: ``prefix`` + 12 zero-padded digits.

    Args:
        sequence: A positive sequence number.
        prefix: Text put before the digits.

    Returns:
        The id, e.g. ``"E000000000042"``.

    Example:
        >>> format_entity_id(42)
        'E000000000042'
    """
    return f"{prefix}{sequence:0{_WIDTH}d}"


def format_entity_ids(first: int, count: int, prefix: str = "E") -> list[str]:
    """The ids of ``count`` consecutive sequence numbers from ``first``, as
    :func:`format_entity_id` writes them (what batch jobs number their entities with).

    Example:
        >>> format_entity_ids(1, 2)
        ['E000000000001', 'E000000000002']
    """
    if count <= 0:
        return []
    try:
        import pyarrow as pa
        import pyarrow.compute as pc
    except ImportError:  # pragma: no cover - exercised without the parquet extra
        return [format_entity_id(k, prefix) for k in range(first, first + count)]
    numbers = pa.array(np.arange(first, first + count, dtype=np.int64)).cast(pa.string())
    out: list[str] = pc.binary_join_element_wise(
        prefix, pc.utf8_lpad(numbers, width=_WIDTH, padding="0"), ""
    ).to_pylist()
    return out


def _sequence_of(entity_id: str, pattern: re.Pattern[str]) -> int:
    m = pattern.fullmatch(entity_id)
    return int(m.group(1)) if m else 0


@attrs.frozen
class IdChangeReport:
    """What a re-run did to the previous entity ids.

    Attributes:
        kept: Previous ids still in use, sorted.
        new: Ids issued by this run, sorted.
        merged: Retired id -> the kept id of the cluster that now holds most of its records.
        split: Kept id -> ids of the *other* clusters that now hold some of its former records.
        retired: Every previous id no longer in use (merged ones and ``removed`` ones), sorted.
        removed: Retired ids none of whose records is in the new clustering, sorted.
    """

    kept: tuple[str, ...] = ()
    new: tuple[str, ...] = ()
    merged: dict[str, str] = attrs.field(factory=dict)
    split: dict[str, tuple[str, ...]] = attrs.field(factory=dict)
    retired: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()

    def summary(self) -> dict[str, int]:
        """Return the number of ids in each category."""
        return {
            "kept": len(self.kept),
            "new": len(self.new),
            "merged": len(self.merged),
            "split": len(self.split),
            "retired": len(self.retired),
            "removed": len(self.removed),
        }


@attrs.frozen(eq=False)
class StableIds:
    """The entity id of every record after a run, with the change report.

    Attributes:
        record_ids: Record ids in input order.
        entity_ids: Entity id of each record, aligned with ``record_ids``.
        report: Kept, new, merged, split and retired ids.
        next_sequence: Sequence number to pass to the next run so no id is ever reused.
    """

    record_ids: tuple[str, ...]
    entity_ids: tuple[str, ...]
    report: IdChangeReport
    next_sequence: int

    def __attrs_post_init__(self) -> None:
        if len(self.record_ids) != len(self.entity_ids):
            raise ValueError("record_ids and entity_ids differ in length")

    def mapping(self) -> dict[str, str]:
        """Return record id -> entity id."""
        return dict(zip(self.record_ids, self.entity_ids, strict=True))


def _factorize(labels: Sequence[Hashable] | npt.NDArray[Any]) -> IntArray:
    arr = labels if isinstance(labels, np.ndarray) else None
    if arr is not None and arr.dtype.kind in "iub":
        return np.unique(arr, return_inverse=True)[1].astype(np.int64).reshape(-1)
    codes: dict[Hashable, int] = {}
    return np.fromiter(
        (codes.setdefault(lab, len(codes)) for lab in labels), dtype=np.int64, count=len(labels)
    )


def _inputs(
    clustering: Mapping[str, Hashable]
    | tuple[Sequence[str], Sequence[Hashable] | npt.NDArray[Any]],
) -> tuple[list[str], IntArray]:
    if isinstance(clustering, Mapping):
        rec_ids = [str(r) for r in clustering]
        labels: Sequence[Hashable] | npt.NDArray[Any] = list(clustering.values())
    else:
        ids, labels = clustering
        rec_ids = [str(r) for r in ids]
        if len(rec_ids) != len(labels):
            raise ValidationError(
                FieldProblem(
                    "labels", len(labels), "stable_ids.aligned",
                    f"{len(labels)} labels for {len(rec_ids)} record ids",
                )
            )
    if len(set(rec_ids)) != len(rec_ids):
        dupes = sorted(r for r, k in Counter(rec_ids).items() if k > 1)
        raise ValidationError(
            [
                FieldProblem("record_id", d, "stable_ids.unique", "record id given twice", d)
                for d in dupes[:20]
            ],
            f"{len(dupes)} duplicate record ids",
        )
    return rec_ids, _factorize(labels)


def _first_per_group(group: IntArray, order_keys: tuple[IntArray, ...]) -> IntArray:
    """Index of the first element of each group under the lexicographic order of the keys."""
    order = np.lexsort((*order_keys[::-1], group))
    g = group[order]
    first = np.ones(len(g), dtype=bool)
    first[1:] = g[1:] != g[:-1]
    return np.asarray(order[first], dtype=np.int64)


def assign_stable_ids(
    clustering: Mapping[str, Hashable]
    | tuple[Sequence[str], Sequence[Hashable] | npt.NDArray[Any]],
    previous: Mapping[str, str] | None = None,
    *,
    prefix: str = "E",
    next_sequence: int = 1,
) -> StableIds:
    """Give every cluster an entity id, keeping previous ids where the entity survives.

    See the module docstring for the rule.

    Args:
        clustering: Record id -> cluster label, or a pair ``(record_ids, labels)`` of aligned
            sequences (labels may be a numpy integer array). Labels only group records; their
            values carry no meaning.
        previous: Record id -> entity id from the previous run (records not in ``clustering``
            are gone; their ids are retired unless other records keep them).
        prefix: Prefix of newly issued ids.
        next_sequence: First sequence number this run may issue (from the previous run's
            :attr:`StableIds.next_sequence`); raised past any previous id of the same format.

    Returns:
        The assignment, the change report and the next free sequence number.

    Raises:
        ValidationError: If record ids repeat or labels and record ids differ in length.

    Example:
        >>> r = assign_stable_ids((["a", "b"], [0, 0]), {"a": "X1", "b": "X2"})
        >>> r.mapping(), r.report.merged
        ({'a': 'X1', 'b': 'X1'}, {'X2': 'X1'})
    """
    rec_ids, labels = _inputs(clustering)
    prev = dict(previous or {})
    n = len(rec_ids)
    pattern = re.compile(re.escape(prefix) + r"(\d{" + str(_WIDTH) + r",})")
    n_clusters = int(labels.max()) + 1 if n else 0

    # Previous ids, coded in text order (= age order for our ids).
    old_of = [prev.get(r) for r in rec_ids]
    has = np.fromiter((o is not None for o in old_of), dtype=bool, count=n)
    prev_sorted = sorted(set(prev.values()))
    code_of = {e: i for i, e in enumerate(prev_sorted)}
    all_prev_ids = np.array(prev_sorted, dtype=object)
    old_code = np.fromiter(
        (code_of[o] for o in old_of if o is not None), dtype=np.int64, count=int(has.sum())
    )
    n_old = len(prev_sorted)

    # Cluster order keys: size and smallest record id.
    sizes = np.bincount(labels, minlength=n_clusters).astype(np.int64)
    rec_rank = np.empty(n, dtype=np.int64)
    rec_rank[np.array(sorted(range(n), key=rec_ids.__getitem__), dtype=np.int64)] = np.arange(n)
    cmin = np.full(n_clusters, n, dtype=np.int64)
    if n:
        np.minimum.at(cmin, labels, rec_rank)

    # Claims: distinct (cluster, old id) with member counts.
    c_known = labels[has]
    pair = c_known * max(n_old, 1) + old_code
    upair, counts = np.unique(pair, return_counts=True)
    e_c = (upair // max(n_old, 1)).astype(np.int64)
    e_o = (upair % max(n_old, 1)).astype(np.int64)
    n_edges = len(upair)
    order = np.lexsort((cmin[e_c], -sizes[e_c], e_o, -counts))
    rank = np.empty(n_edges, dtype=np.int64)
    rank[order] = np.arange(n_edges)

    granted = np.full(n_clusters, -1, dtype=np.int64)  # cluster -> old id code
    c_taken = np.zeros(n_clusters, dtype=bool)
    o_taken = np.zeros(n_old, dtype=bool)
    alive = np.ones(n_edges, dtype=bool)
    while alive.any():
        idx = np.flatnonzero(alive)
        r = rank[idx]
        best_c = np.full(n_clusters, n_edges, dtype=np.int64)
        np.minimum.at(best_c, e_c[idx], r)
        best_o = np.full(n_old, n_edges, dtype=np.int64)
        np.minimum.at(best_o, e_o[idx], r)
        win = idx[(best_c[e_c[idx]] == r) & (best_o[e_o[idx]] == r)]
        granted[e_c[win]] = e_o[win]
        c_taken[e_c[win]] = True
        o_taken[e_o[win]] = True
        alive[idx] = ~(c_taken[e_c[idx]] | o_taken[e_o[idx]])

    # New ids for the rest, in order of smallest record id.
    start = max(
        [next_sequence, *(_sequence_of(str(e), pattern) + 1 for e in all_prev_ids)]
    )
    fresh = np.flatnonzero(granted < 0)
    fresh = fresh[np.argsort(cmin[fresh], kind="stable")]
    cluster_eid = np.empty(n_clusters, dtype=object)
    if n_old:
        kept_mask = granted >= 0
        cluster_eid[kept_mask] = all_prev_ids[granted[kept_mask]]
    new_ids = [format_entity_id(start + i, prefix) for i in range(len(fresh))]
    for c, eid in zip(fresh.tolist(), new_ids, strict=True):
        cluster_eid[c] = eid
    entity_ids: list[str] = cluster_eid[labels].tolist() if n else []

    # Report.
    kept_codes = np.flatnonzero(o_taken)
    kept = tuple(str(e) for e in all_prev_ids[kept_codes])
    merged: dict[str, str] = {}
    removed: list[str] = []
    if n_edges:
        best_edge_of_old = _first_per_group(e_o, (rank,))
        best_cluster = np.full(n_old, -1, dtype=np.int64)
        best_cluster[e_o[best_edge_of_old]] = e_c[best_edge_of_old]
    else:
        best_cluster = np.full(n_old, -1, dtype=np.int64)
    for o in np.flatnonzero(~o_taken).tolist():
        if best_cluster[o] >= 0:
            merged[str(all_prev_ids[o])] = str(cluster_eid[best_cluster[o]])
        else:
            removed.append(str(all_prev_ids[o]))
    split: dict[str, list[str]] = {}
    loose = o_taken[e_o] & (granted[e_c] != e_o)
    for c, o in zip(e_c[loose].tolist(), e_o[loose].tolist(), strict=True):
        split.setdefault(str(all_prev_ids[o]), []).append(str(cluster_eid[c]))
    report = IdChangeReport(
        kept=kept,
        new=tuple(new_ids),
        merged=dict(sorted(merged.items())),
        split={k: tuple(sorted(v)) for k, v in sorted(split.items())},
        retired=tuple(sorted([*merged, *removed])),
        removed=tuple(sorted(removed)),
    )
    return StableIds(
        record_ids=tuple(rec_ids),
        entity_ids=tuple(entity_ids),
        report=report,
        next_sequence=start + len(new_ids),
    )
