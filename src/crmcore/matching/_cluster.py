"""Clusters: from matched pairs to entities.

:func:`connected_components` labels the components of an undirected graph in numpy (hook and
pointer-jumping, no Python loop per edge). :func:`cluster_pairs` applies a probability threshold
and a :class:`~crmcore.matching._settings.ClusterOptions` policy:

* ``components``: every connected component of the matched pairs is one entity;
* ``guarded`` (the default): as above, then any component larger than ``max_size``, or of 3+
  records whose edge density (matched pairs / possible pairs) is below ``min_density``, is split
  by removing its weakest edges — lowest match weight first, 10 % of the component's edges per
  round (at least one; equal weights by the records' ids when given, else by pair order) — and
  re-labelling, until every part passes. Weak chains thus cannot glue two tight groups together.

* ``pooled``: the components of the pairs at or above the threshold are joined further by
  average linkage over weak links (:func:`pooled_labels`): many weak links between two groups
  can join them, no single one can chain them.

Cluster labels are the smallest row index in the cluster, so they are stable for a given input
order. :func:`one_to_one` keeps, for linkage, only mutually-best pairs (each record on either
side links to at most one record on the other side; ties broken by the smaller row index).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from crmcore.matching._predict import ScoredPairs, weight_probability
from crmcore.matching._settings import ClusterOptions

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


#: Hook-and-jump rounds the numpy labelling takes before handing a graph to SciPy (record
#: graphs need a handful; a round count this high means long, thin components).
_NUMPY_ROUNDS = 32


def connected_components(n: int, left: IntArray, right: IntArray) -> IntArray:
    """Component label (smallest member row) of every node of an undirected graph.

    A numpy hook-and-pointer-jumping loop (no Python loop per edge; record graphs settle in a
    few rounds, and a run does not pay for importing SciPy); a graph still unsettled after
    ``_NUMPY_ROUNDS`` rounds goes to ``scipy.sparse.csgraph`` when SciPy is installed. Both
    give the same labels.

    Args:
        n: Number of nodes.
        left: First node of every edge.
        right: Second node of every edge.

    Returns:
        ``labels[i]`` = smallest node index in the component of ``i``.
    """
    a = np.asarray(left, dtype=np.int64)
    b = np.asarray(right, dtype=np.int64)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    labels = _numpy_components(n, a, b, max_rounds=_NUMPY_ROUNDS)
    if labels is not None:
        return labels
    try:
        from scipy.sparse import coo_matrix
        from scipy.sparse.csgraph import connected_components as _scipy_cc
    except ImportError:  # pragma: no cover - exercised when SciPy is absent
        settled = _numpy_components(n, a, b)  # without a cap it always settles
        assert settled is not None
        return settled
    graph = coo_matrix((np.ones(len(a), dtype=np.int8), (a, b)), shape=(n, n)).tocsr()
    _, comp = _scipy_cc(graph, directed=False)
    comp = np.asarray(comp, dtype=np.int64)
    smallest = np.full(int(comp.max(initial=0)) + 1, n, dtype=np.int64)
    np.minimum.at(smallest, comp, np.arange(n, dtype=np.int64))
    out: IntArray = smallest[comp]
    return out


def _numpy_components(
    n: int, a: IntArray, b: IntArray, *, max_rounds: int | None = None
) -> IntArray | None:
    """Smallest-member labels by hooking and pointer jumping; None when ``max_rounds``
    rounds do not settle the graph."""
    parent = np.arange(n, dtype=np.int64)
    rounds = 0
    while len(a):
        if max_rounds is not None and rounds >= max_rounds:
            return None
        rounds += 1
        ra, rb = parent[a], parent[b]
        lo, hi = np.minimum(ra, rb), np.maximum(ra, rb)
        differ = lo != hi
        if not differ.any():
            break
        np.minimum.at(parent, hi[differ], lo[differ])
        while True:
            grand = parent[parent]
            if np.array_equal(grand, parent):
                break
            parent = grand
        a, b = a[differ], b[differ]
    return parent


def id_ranks(ids: Sequence[str | None]) -> IntArray:
    """Rank of every record id in sorted order (rows without an id after all others, by row):
    what the pooled method breaks ties by, so that it does not depend on positions."""
    named = [(r, i) for i, r in enumerate(ids) if r is not None]
    order = [i for _, i in sorted(named)]
    order += [i for i, r in enumerate(ids) if r is None]
    rank = np.empty(len(ids), dtype=np.int64)
    rank[np.asarray(order, dtype=np.int64)] = np.arange(len(ids), dtype=np.int64)
    return rank


def pooled_labels(
    n: int,
    left: IntArray,
    right: IntArray,
    weight: FloatArray,
    *,
    threshold: float,
    options: ClusterOptions,
    rank: IntArray | None = None,
) -> IntArray:
    """Clusters of the pooled method: strong-link components joined by pooled weak links.

    1. Links with probability ``p >= threshold`` (strong) join records outright (connected
       components): the starting groups.
    2. Links with ``pool_threshold <= p < threshold`` are weak. They count only in link
       components (of strong and weak links) whose groups hold weak links inside too: at least
       ``pool_weak_share`` of the links inside its groups are weak. Where duplicates are held
       together by strong links alone (a list of sibling companies, each name family exact),
       a weak link between two groups says little, and is left out.
    3. Average linkage: the score of two groups ``A`` and ``B`` is the mean, over all
       ``|A| * |B|`` cross pairs, of ``p - pool_threshold`` for a weak link and
       ``-pool_missing`` for a pair without one. In rounds, every pair of groups that are each
       other's best neighbour (ties: the neighbour whose smallest record id comes first) with a
       score above 0 merges. Average linkage is reducible, so the rounds give the clusters of
       merging the best pair first, one pair at a time, until no score is above 0.

    Columnar: each round is a few numpy group-bys over the weak links. Deterministic by the
    links, their weights and ``rank`` (ties never depend on positions or input order), and
    each link component is clustered on its own: so the real-time index, which re-clusters one
    component at a time, and Spark, which clusters buckets of components, find the batch
    clusters.

    Args:
        n: Number of records.
        left: One record of every link (pairs at or above the weak-link threshold; lower ones
            are ignored).
        right: The other record.
        weight: Match weight of every link (its probability is ``1 / (1 + 2**-w)``).
        threshold: Probability of a strong link.
        options: The cluster options (``pool_threshold``, ``pool_missing``,
            ``pool_weak_share``).
        rank: Rank of each record's id (:func:`id_ranks`; default: the positions).

    Returns:
        Label per record: the smallest position in its cluster.
    """
    a = np.asarray(left, dtype=np.int64)
    b = np.asarray(right, dtype=np.int64)
    prob = weight_probability(np.asarray(weight, dtype=np.float64))
    order = np.arange(n, dtype=np.int64) if rank is None else np.asarray(rank, dtype=np.int64)
    strong = prob >= threshold
    weak = ~strong & (prob >= options.pool_threshold) & (a != b)
    groups = connected_components(n, a[strong], b[strong])
    if not weak.any():
        return groups
    # 2. weak links count only in link components whose groups hold weak links inside too
    used = strong | weak
    comp = connected_components(n, a[used], b[used])
    inside = used & (groups[a] == groups[b])
    n_inside = np.bincount(comp[a[inside]], minlength=n)
    n_weak = np.bincount(comp[a[inside & weak]], minlength=n)
    trusted = (n_inside > 0) & (n_weak >= options.pool_weak_share * n_inside)
    weak &= trusted[comp[a]] & (groups[a] != groups[b])
    el, er = a[weak], b[weak]
    gain = prob[weak] - options.pool_threshold
    # a canonical order of the links (by their records' ranks): sums do not depend on input order
    lo_rank, hi_rank = np.minimum(order[el], order[er]), np.maximum(order[el], order[er])
    canon = np.lexsort((hi_rank, lo_rank))
    el, er, gain = el[canon], er[canon], gain[canon]
    # 3. average linkage in rounds of mutual best pairs; a group is named by a member
    size = np.bincount(groups, minlength=n).astype(np.float64)
    first = np.full(n, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(first, groups, order)  # smallest rank in each group
    g = groups.copy()
    missing = options.pool_missing
    while len(el):
        ga, gb = g[el], g[er]
        across = ga != gb
        el, er, gain, ga, gb = el[across], er[across], gain[across], ga[across], gb[across]
        if not len(el):
            break
        ka = np.where(first[ga] <= first[gb], ga, gb)
        kb = np.where(first[ga] <= first[gb], gb, ga)
        code, inverse = np.unique(ka * n + kb, return_inverse=True)
        inverse = inverse.reshape(-1)
        total = np.bincount(inverse, weights=gain, minlength=len(code))
        linked = np.bincount(inverse, minlength=len(code)).astype(np.float64)
        pa, pb = code // n, code % n
        cross = size[pa] * size[pb]
        score = (total - missing * (cross - linked)) / cross
        # each group's best neighbour: highest score, ties to the smallest rank
        src = np.concatenate((pa, pb))
        dst = np.concatenate((pb, pa))
        both = np.concatenate((score, score))
        by = np.lexsort((first[dst], -both, first[src]))
        head = by[np.concatenate(([True], src[by][1:] != src[by][:-1]))]
        best = np.full(n, -1, dtype=np.int64)
        best[src[head]] = dst[head]
        mutual = (best[pa] == pb) & (best[pb] == pa) & (score > 0)
        if not mutual.any():
            break
        keep, gone = pa[mutual], pb[mutual]  # pa holds the smaller rank
        size[keep] += size[gone]
        target = np.arange(n, dtype=np.int64)
        target[gone] = keep
        g = target[g]
    out: IntArray = connected_components(n, np.arange(n, dtype=np.int64), g)
    return out


def cluster_pairs(
    n: int,
    pairs: ScoredPairs,
    *,
    threshold: float,
    options: ClusterOptions | None = None,
    ids: Sequence[str | None] | None = None,
) -> IntArray:
    """Cluster label of every row from the pairs at or above ``threshold``.

    Args:
        n: Number of rows.
        pairs: Scored pairs.
        threshold: Match probability threshold.
        options: Clustering policy (default: guarded, minimum density 0.4).
        ids: Record id of every row: the pooled and guarded methods break ties by id, so the
            clusters do not depend on the row order (default: by row).

    Returns:
        Label per row (the smallest row index of its cluster); unmatched rows are their own.
    """
    opts = options or ClusterOptions()
    if opts.method == "pooled":
        floor = pairs.probability >= opts.link_floor(threshold)
        return pooled_labels(
            n, pairs.left[floor], pairs.right[floor], pairs.match_weight[floor],
            threshold=threshold, options=opts, rank=None if ids is None else id_ranks(ids),
        )
    keep = pairs.probability >= threshold
    left, right, weight = pairs.left[keep], pairs.right[keep], pairs.match_weight[keep]
    labels = connected_components(n, left, right)
    if opts.method == "components" or (opts.max_size is None and opts.min_density <= 0):
        return labels
    for _ in range(10_000):
        bad_edges = _bad_edges(labels, left, opts)
        if not bad_edges.any():
            break
        # Work on the subgraph of the bad components only (nodes renumbered 0..k-1).
        sub_l, sub_r, sub_w = left[bad_edges], right[bad_edges], weight[bad_edges]
        left, right, weight = left[~bad_edges], right[~bad_edges], weight[~bad_edges]
        bad_label = np.zeros(n, dtype=bool)
        bad_label[labels[sub_l]] = True
        nodes = np.flatnonzero(bad_label[labels])
        local_l = np.searchsorted(nodes, sub_l)
        local_r = np.searchsorted(nodes, sub_r)
        sub_labels = labels[nodes]
        # equal weights are dropped in the order of the two records' ids, not their positions
        by_id = None if ids is None else id_ranks([ids[i] for i in nodes.tolist()])
        for _ in range(10_000):
            # drop the weakest 10% (at least one) of the edges of each bad component
            comp = sub_labels[local_l]
            if by_id is None:
                order = np.lexsort((sub_w, comp))
            else:
                ra, rb = by_id[local_l], by_id[local_r]
                order = np.lexsort((np.maximum(ra, rb), np.minimum(ra, rb), sub_w, comp))
            comp_sorted = comp[order]
            starts = np.flatnonzero(
                np.concatenate(([True], comp_sorted[1:] != comp_sorted[:-1]))
            )
            counts = np.diff(np.concatenate((starts, [len(comp_sorted)])))
            drop_n = np.maximum(counts // 10, 1)
            rank = np.arange(len(comp_sorted)) - np.repeat(starts, counts)
            keep = np.ones(len(local_l), dtype=bool)
            keep[order[rank < np.repeat(drop_n, counts)]] = False
            local_l, local_r, sub_w = local_l[keep], local_r[keep], sub_w[keep]
            sub_labels = nodes[connected_components(len(nodes), local_l, local_r)]
            still_bad = _bad_edges(sub_labels, local_l, opts)
            if not still_bad.any():
                break
            # edges of components that now pass are final
            left = np.concatenate((left, nodes[local_l[~still_bad]]))
            right = np.concatenate((right, nodes[local_r[~still_bad]]))
            weight = np.concatenate((weight, sub_w[~still_bad]))
            local_l, local_r, sub_w = local_l[still_bad], local_r[still_bad], sub_w[still_bad]
        left = np.concatenate((left, nodes[local_l]))
        right = np.concatenate((right, nodes[local_r]))
        weight = np.concatenate((weight, sub_w))
        labels[nodes] = sub_labels
        labels = connected_components(n, left, right)
    return labels


def _bad_edges(
    labels: IntArray, left: IntArray, opts: ClusterOptions
) -> npt.NDArray[np.bool_]:
    """Edges whose component is too big or too sparse (``labels`` covers whole components)."""
    if len(left) == 0:
        return np.zeros(0, dtype=bool)
    comp = labels[left]
    # labels are row indexes: count members and edges per label without sorting
    sizes = np.bincount(labels)[comp]
    edges = np.bincount(comp)[comp]
    possible = sizes * (sizes - 1) / 2
    with np.errstate(invalid="ignore", divide="ignore"):
        density = np.where(possible > 0, edges / np.maximum(possible, 1), 1.0)
    out: npt.NDArray[np.bool_] = np.zeros(len(comp), dtype=bool)
    if opts.max_size is not None:
        out |= sizes > opts.max_size
    if opts.min_density > 0:
        out |= (sizes >= 3) & (density < opts.min_density)
    return out


def one_to_one(pairs: ScoredPairs, *, threshold: float = 0.0) -> ScoredPairs:
    """Keep mutually-best pairs: each row appears in at most one kept pair.

    Pairs are taken greedily by descending match weight (ties: smaller left, then right row);
    a pair is kept when neither of its rows is already taken.

    Args:
        pairs: Scored pairs (for linkage: left rows from one source, right from the other).
        threshold: Only pairs at or above this probability are considered.

    Returns:
        The kept pairs.
    """
    cand = np.flatnonzero(pairs.probability >= threshold)
    order = cand[np.lexsort((pairs.right[cand], pairs.left[cand], -pairs.match_weight[cand]))]
    # Iterative vectorised greedy: in each round keep the pairs that come first (in the greedy
    # order) for both of their rows, counting a row's pairs on either side (a row is one record
    # whether it appears as left or right), then drop every pair touching a kept row. The first
    # remaining pair always wins, so each round makes progress; the result is the sequential
    # greedy one.
    n_rows = int(max(pairs.left.max(initial=-1), pairs.right.max(initial=-1))) + 1
    taken = np.zeros(n_rows, dtype=bool)
    kept: list[npt.NDArray[np.int64]] = []
    remaining = order
    while len(remaining):
        lefts = pairs.left[remaining]
        rights = pairs.right[remaining]
        pos = np.arange(len(remaining), dtype=np.int64)
        first = np.full(n_rows, len(remaining), dtype=np.int64)
        np.minimum.at(first, lefts, pos)
        np.minimum.at(first, rights, pos)
        win = (first[lefts] == pos) & (first[rights] == pos)
        winners = remaining[win]
        kept.append(winners.astype(np.int64))
        taken[pairs.left[winners]] = True
        taken[pairs.right[winners]] = True
        remaining = remaining[~taken[pairs.left[remaining]] & ~taken[pairs.right[remaining]]]
    chosen = np.concatenate(kept) if kept else np.zeros(0, dtype=np.int64)
    return pairs.select(np.sort(chosen))
