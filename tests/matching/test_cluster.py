"""Clusters: partitions, connected components against brute force, weak-chain guard, one-to-one."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from crmcore.matching import (
    ClusterOptions,
    ScoredPairs,
    cluster_pairs,
    connected_components,
    one_to_one,
)
from tests.matching.strategies import naive_components, pairs_of, scored_pairs

thresholds = st.sampled_from([0.0, 0.3, 0.5, 0.9])
guards = st.builds(
    ClusterOptions,
    method=st.just("guarded"),
    max_size=st.one_of(st.none(), st.integers(1, 6)),
    min_density=st.sampled_from([0.0, 0.3, 0.5, 1.0]),
)


def is_partition(labels: np.ndarray, n: int) -> bool:
    """Every row has exactly one label, and every label is a row of its own cluster."""
    return len(labels) == n and all(0 <= labels[i] < n and labels[labels[i]] == labels[i]
                                    for i in range(n))


class TestConnectedComponents:
    @settings(max_examples=60, deadline=None)
    @given(scored_pairs())
    def test_equals_brute_force(self, case) -> None:
        """Labels equal a brute-force relabelling: the smallest row of each component."""
        n, pairs = case
        labels = connected_components(n, pairs.left, pairs.right)
        edges = list(zip(pairs.left.tolist(), pairs.right.tolist(), strict=True))
        assert labels.tolist() == naive_components(n, edges)

    @settings(max_examples=30, deadline=None)
    @given(scored_pairs())
    def test_without_scipy_gives_the_same_labels(self, case) -> None:
        """The numpy fallback (SciPy absent) labels components exactly like brute force."""
        import sys
        from unittest import mock

        n, pairs = case
        with mock.patch.dict(sys.modules, {"scipy.sparse": None, "scipy.sparse.csgraph": None}):
            labels = connected_components(n, pairs.left, pairs.right)
        edges = list(zip(pairs.left.tolist(), pairs.right.tolist(), strict=True))
        assert labels.tolist() == naive_components(n, edges)

    @settings(max_examples=30, deadline=None)
    @given(scored_pairs(), st.integers(0, 2))
    def test_graphs_left_unsettled_go_to_scipy(self, case, rounds) -> None:
        """A graph the numpy rounds do not settle is labelled by SciPy, exactly alike."""
        from unittest import mock

        from crmcore.matching import _cluster

        n, pairs = case
        with mock.patch.object(_cluster, "_NUMPY_ROUNDS", rounds):
            labels = connected_components(n, pairs.left, pairs.right)
        edges = list(zip(pairs.left.tolist(), pairs.right.tolist(), strict=True))
        assert labels.tolist() == naive_components(n, edges)

    def test_chain_and_isolated_nodes(self) -> None:
        """A long chain is one component; nodes without edges are their own."""
        n = 50
        labels = connected_components(n, np.arange(1, 40), np.arange(0, 39))
        assert (labels[:40] == 0).all()
        assert labels[40:].tolist() == list(range(40, 50))

    def test_no_nodes(self) -> None:
        """An empty graph has no labels."""
        empty = np.zeros(0, dtype=np.int64)
        assert len(connected_components(0, empty, empty)) == 0


class TestClusterPairs:
    @settings(max_examples=60, deadline=None)
    @given(scored_pairs(), thresholds)
    def test_components_are_a_partition_equal_to_brute_force(self, case, threshold) -> None:
        """With method=components every row is in exactly one cluster, as brute force finds."""
        n, pairs = case
        labels = cluster_pairs(n, pairs, threshold=threshold,
                               options=ClusterOptions(method="components"))
        assert is_partition(labels, n)
        kept = [(a, b) for a, b, p in zip(pairs.left.tolist(), pairs.right.tolist(),
                                          pairs.probability.tolist(), strict=True)
                if p >= threshold]
        assert labels.tolist() == naive_components(n, kept)

    @settings(max_examples=80, deadline=None)
    @given(scored_pairs(), guards, st.randoms(use_true_random=False))
    def test_guard_with_ids_does_not_depend_on_row_order(self, case, options, rnd) -> None:
        """Given record ids, the guarded split drops equally weak edges in id order: the
        clusters (as sets of ids) are the same for the rows and edges in any order."""
        n, pairs = case
        weight = np.round(pairs.match_weight / 8.0) * 8.0  # few distinct weights: many ties
        ids = [f"id{i:02d}" for i in range(n)]

        def clusters(perm: list[int], edge_order: list[int]) -> set[frozenset[str]]:
            at = np.argsort(np.array(perm, dtype=np.int64))  # old row -> new row
            lo = at[pairs.left][edge_order]
            hi = at[pairs.right][edge_order]
            moved = ScoredPairs(np.minimum(lo, hi), np.maximum(lo, hi), weight[edge_order],
                                np.ones(len(lo)), pairs.levels[edge_order],
                                pairs.rule[edge_order], ())
            labels = cluster_pairs(n, moved, threshold=0.5, options=options,
                                   ids=[ids[i] for i in perm])
            groups: dict[int, set[str]] = {}
            for row, label in enumerate(labels.tolist()):
                groups.setdefault(label, set()).add(ids[perm[row]])
            return {frozenset(g) for g in groups.values()}

        perm = list(range(n))
        edges = list(range(len(pairs)))
        expected = clusters(perm, edges)
        rnd.shuffle(perm)
        rnd.shuffle(edges)
        assert clusters(perm, edges) == expected

    @settings(max_examples=60, deadline=None)
    @given(scored_pairs(), thresholds, guards)
    def test_guard_never_merges_more_than_components(self, case, threshold, options) -> None:
        """Guarded clusters are a partition that refines the plain components."""
        n, pairs = case
        guarded = cluster_pairs(n, pairs, threshold=threshold, options=options)
        plain = cluster_pairs(n, pairs, threshold=threshold,
                              options=ClusterOptions(method="components"))
        assert is_partition(guarded, n)
        for i in range(n):
            assert plain[guarded[i]] == plain[i]

    @settings(max_examples=60, deadline=None)
    @given(scored_pairs(), thresholds, guards)
    def test_guarded_clusters_pass_the_guard(self, case, threshold, options) -> None:
        """Every guarded cluster respects max_size and, with 3+ rows, min_density."""
        n, pairs = case
        labels = cluster_pairs(n, pairs, threshold=threshold, options=options)
        matched = pairs.probability >= threshold
        for label in set(labels.tolist()):
            members = set(np.flatnonzero(labels == label).tolist())
            size = len(members)
            if options.max_size is not None:
                assert size <= max(options.max_size, 1)
            if size >= 3:
                inside = sum(1 for a, b, ok in zip(pairs.left.tolist(), pairs.right.tolist(),
                                                   matched.tolist(), strict=True)
                             if ok and a in members and b in members)
                assert inside / (size * (size - 1) / 2) >= options.min_density

    def test_weak_link_between_two_cliques_is_cut(self) -> None:
        """Two tight groups joined by one weak link are two clusters when guarded."""
        clique = [(0, 1, 9.0), (0, 2, 9.0), (1, 2, 9.0), (3, 4, 9.0), (3, 5, 9.0),
                  (4, 5, 9.0)]
        chain = [(2, 3, 1.0), (1, 3, 1.0)]
        pairs = pairs_of(clique + chain)
        plain = cluster_pairs(6, pairs, threshold=0.5,
                              options=ClusterOptions(method="components"))
        guarded = cluster_pairs(6, pairs, threshold=0.5,
                                options=ClusterOptions(min_density=0.6))
        assert plain.tolist() == [0] * 6
        assert guarded.tolist() == [0, 0, 0, 3, 3, 3]

    def test_threshold_is_inclusive(self) -> None:
        """A pair exactly at the threshold is matched."""
        pairs = pairs_of([(0, 1, 0.0)])
        assert cluster_pairs(2, pairs, threshold=0.5).tolist() == [0, 0]
        assert cluster_pairs(2, pairs, threshold=0.51).tolist() == [0, 1]


def greedy_reference(pairs: ScoredPairs, threshold: float) -> set[tuple[int, int]]:
    """Sequential greedy: best weight first (ties: smaller left, right), rows used once."""
    order = sorted(
        (k for k in range(len(pairs)) if pairs.probability[k] >= threshold),
        key=lambda k: (-pairs.match_weight[k], pairs.left[k], pairs.right[k]),
    )
    taken: set[int] = set()
    kept: set[tuple[int, int]] = set()
    for k in order:
        a, b = int(pairs.left[k]), int(pairs.right[k])
        if a not in taken and b not in taken:
            kept.add((a, b))
            taken |= {a, b}
    return kept


@st.composite
def bipartite_pairs(draw: st.DrawFn) -> ScoredPairs:
    """Distinct pairs from left rows 0..9 to right rows 10..19 (as in a link job)."""
    raw = draw(st.lists(
        st.tuples(st.integers(0, 9), st.integers(10, 19),
                  st.sampled_from([-2.0, 0.0, 1.0, 3.5, 3.5, 7.0])),
        max_size=40, unique_by=lambda t: (t[0], t[1]),
    ))
    return pairs_of(sorted(raw))


@st.composite
def dedupe_pairs(draw: st.DrawFn) -> ScoredPairs:
    """Distinct pairs over rows 0..9 where a row can be on either side (chains, triangles)."""
    raw = draw(st.lists(
        st.tuples(st.integers(0, 9), st.integers(0, 9),
                  st.sampled_from([-2.0, 0.0, 1.0, 3.5, 3.5, 7.0])),
        max_size=40,
    ))
    seen: dict[tuple[int, int], float] = {}
    for a, b, w in raw:
        if a != b:
            seen.setdefault((min(a, b), max(a, b)), w)
    return pairs_of(sorted((a, b, w) for (a, b), w in seen.items()))


class TestOneToOne:
    @settings(max_examples=80, deadline=None)
    @given(dedupe_pairs(), thresholds)
    def test_any_graph_at_most_one_partner_and_equals_greedy(self, pairs, threshold) -> None:
        """A row on the right of one pair and the left of another is still one row: it keeps
        at most one partner, and the result equals sequential greedy matching."""
        kept = one_to_one(pairs, threshold=threshold)
        rows = kept.left.tolist() + kept.right.tolist()
        assert len(rows) == len(set(rows))
        got = set(zip(kept.left.tolist(), kept.right.tolist(), strict=True))
        assert got == greedy_reference(pairs, threshold)

    def test_chain_keeps_the_stronger_link(self) -> None:
        """0-1 (weight 5) and 1-2 (weight 4): row 1 is taken by the stronger pair."""
        kept = one_to_one(pairs_of([(0, 1, 5.0), (1, 2, 4.0)]))
        assert list(zip(kept.left.tolist(), kept.right.tolist(), strict=True)) == [(0, 1)]

    @settings(max_examples=60, deadline=None)
    @given(bipartite_pairs(), thresholds)
    def test_at_most_one_partner_and_equals_greedy(self, pairs, threshold) -> None:
        """Every row keeps at most one partner; the result equals sequential greedy matching."""
        kept = one_to_one(pairs, threshold=threshold)
        rows = kept.left.tolist() + kept.right.tolist()
        assert len(rows) == len(set(rows))
        got = set(zip(kept.left.tolist(), kept.right.tolist(), strict=True))
        assert got == greedy_reference(pairs, threshold)

    def test_mutual_best_wins(self) -> None:
        """The strongest pair is kept and its rows' other pairs are dropped."""
        pairs = pairs_of([(0, 10, 5.0), (0, 11, 4.0), (1, 10, 4.5), (1, 11, 1.0)])
        kept = one_to_one(pairs)
        assert set(zip(kept.left.tolist(), kept.right.tolist(), strict=True)) == {
            (0, 10), (1, 11)}
