"""The pooled cluster method: strong-link components joined by average linkage over weak links.

Checked against a brute-force reference (groups merged one best pair at a time, every cross
pair scored in plain Python), for independence from positions and between link components
(what the real-time index and Spark rely on), and by hand on the cases it is for.
"""

from __future__ import annotations

import itertools
import math

import attrs
import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from crmcore.errors import MatchingConfigError
from crmcore.matching import ClusterOptions, MatchSettings, ScoredPairs, accounts, cluster_pairs
from crmcore.matching._cluster import id_ranks, pooled_labels
from crmcore.matching._settings import CLUSTER

POOLED = ClusterOptions(method="pooled")


def weight_of(p: float) -> float:
    """Match weight (log2 odds) of a probability."""
    return math.inf if p >= 1.0 else -math.inf if p <= 0.0 else math.log2(p / (1.0 - p))


def pooled(n, links, threshold=0.9, options=POOLED, ids=None):
    """Labels of ``pooled_labels`` over ``(a, b, probability)`` links."""
    a = np.array([x for x, _, _ in links], dtype=np.int64)
    b = np.array([y for _, y, _ in links], dtype=np.int64)
    w = np.array([weight_of(p) for _, _, p in links], dtype=np.float64)
    rank = None if ids is None else id_ranks(ids)
    return pooled_labels(n, a, b, w, threshold=threshold, options=options, rank=rank)


def groups_of(labels) -> set[frozenset[int]]:
    out: dict[int, set[int]] = {}
    for i, lab in enumerate(np.asarray(labels).tolist()):
        out.setdefault(lab, set()).add(i)
    return {frozenset(g) for g in out.values()}


def brute_force(n, links, threshold, options):
    """Sequential average linkage in plain Python: merge the best pair of groups while its
    score is above 0, every cross pair scored one by one. Returns the groups, or None when two
    candidate merges tie (the order of equal merges is a tie-break, tested elsewhere)."""
    prob: dict[tuple[int, int], float] = {}
    for a, b, p in links:
        if a != b:
            key = (min(a, b), max(a, b))
            p = 1.0 / (1.0 + 2.0 ** -weight_of(p))  # as scored: from the weight
            prob[key] = max(prob.get(key, 0.0), p)
    strong = {k for k, p in prob.items() if p >= threshold}
    weak = {k for k, p in prob.items() if options.pool_threshold <= p < threshold}
    # strong-link components, by repeated merging
    group = list(range(n))
    changed = True
    while changed:
        changed = False
        for a, b in strong:
            if group[a] != group[b]:
                lo, hi = min(group[a], group[b]), max(group[a], group[b])
                group = [lo if g == hi else g for g in group]
                changed = True
    # link components of strong and weak links
    comp = list(range(n))
    changed = True
    while changed:
        changed = False
        for a, b in strong | weak:
            if comp[a] != comp[b]:
                lo, hi = min(comp[a], comp[b]), max(comp[a], comp[b])
                comp = [lo if c == hi else c for c in comp]
                changed = True
    trusted = set()
    for c in set(comp):
        inner = [k for k in strong | weak if comp[k[0]] == c and group[k[0]] == group[k[1]]]
        n_weak = sum(k in weak for k in inner)
        if inner and n_weak >= options.pool_weak_share * len(inner):
            trusted.add(c)
    usable = {k for k in weak if comp[k[0]] in trusted}
    groups = {g: {i for i in range(n) if group[i] == g} for g in set(group)}

    def score(x: set[int], y: set[int]) -> float:
        total = 0.0
        for i in x:
            for j in y:
                key = (min(i, j), max(i, j))
                if key in usable:
                    total += prob[key] - options.pool_threshold
                else:
                    total -= options.pool_missing
        return total / (len(x) * len(y))

    while True:
        scored = sorted(((score(x, y), gx, gy) for (gx, x), (gy, y)
                         in itertools.combinations(sorted(groups.items()), 2)
                         if any((min(i, j), max(i, j)) in usable for i in x for j in y)),
                        reverse=True)
        if not scored or scored[0][0] <= 0:
            break
        if len(scored) > 1 and math.isclose(scored[0][0], scored[1][0], abs_tol=1e-9):
            return None
        _, gx, gy = scored[0]
        groups[gx] |= groups.pop(gy)
    return {frozenset(g) for g in groups.values()}


@st.composite
def weak_graphs(draw):
    """A few records, strong links and many weak links with distinct probabilities."""
    n = draw(st.integers(2, 9))
    pairs = draw(st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)),
                          max_size=20, unique_by=lambda e: (min(e), max(e))))
    pairs = [(a, b) for a, b in pairs if a != b]
    probs = draw(st.lists(st.floats(0.2, 1.0), min_size=len(pairs), max_size=len(pairs),
                          unique=True))
    return n, [(a, b, p) for (a, b), p in zip(pairs, probs, strict=True)]


options_strategy = st.builds(
    ClusterOptions, method=st.just("pooled"),
    pool_threshold=st.sampled_from([0.3, 0.4, 0.5]),
    pool_missing=st.sampled_from([0.0, 0.005, 0.05]),
    pool_weak_share=st.sampled_from([0.0, 0.1, 0.5]),
)


class TestAgainstBruteForce:
    @settings(max_examples=150, deadline=None)
    @given(weak_graphs(), options_strategy, st.sampled_from([0.8, 0.9, 0.95]))
    def test_equals_sequential_average_linkage(self, graph, options, threshold) -> None:
        """Rounds of mutual best pairs give the clusters of merging the best pair one at a
        time (average linkage is reducible), where no two merges tie."""
        n, links = graph
        expected = brute_force(n, links, threshold, options)
        assume(expected is not None)
        assert groups_of(pooled(n, links, threshold, options)) == expected

    @settings(max_examples=80, deadline=None)
    @given(weak_graphs())
    def test_labels_are_smallest_member(self, graph) -> None:
        """Each label is the smallest position of its cluster."""
        n, links = graph
        labels = pooled(n, links)
        for g in groups_of(labels):
            assert all(labels[i] == min(g) for i in g)


@st.composite
def tied_graphs(draw):
    """Records and links drawn from three probabilities only: merges tie often."""
    n = draw(st.integers(2, 10))
    pairs = draw(st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)),
                          max_size=25, unique_by=lambda e: (min(e), max(e))))
    return n, [(a, b, draw(st.sampled_from([0.45, 0.6, 0.95]))) for a, b in pairs if a != b]


class TestIndependence:
    @settings(max_examples=100, deadline=None)
    @given(tied_graphs(), st.randoms(use_true_random=False))
    def test_positions_and_link_order_do_not_matter(self, graph, rnd) -> None:
        """Records at other positions (same ids) and links in another order give the same
        clusters, ties included: ties go by record id."""
        n, links = graph
        ids = [f"id{i}" for i in range(n)]
        perm = list(range(n))
        rnd.shuffle(perm)  # record i moves to position perm[i]
        moved = [(perm[a], perm[b], p) if rnd.random() < 0.5 else (perm[b], perm[a], p)
                 for a, b, p in links]
        rnd.shuffle(moved)
        moved_ids = [""] * n
        for i, pos in enumerate(perm):
            moved_ids[pos] = ids[i]
        before = {frozenset(ids[i] for i in g) for g in groups_of(pooled(n, links, ids=ids))}
        after = {frozenset(moved_ids[i] for i in g)
                 for g in groups_of(pooled(n, moved, ids=moved_ids))}
        assert before == after

    @settings(max_examples=60, deadline=None)
    @given(tied_graphs(), tied_graphs())
    def test_link_components_are_clustered_on_their_own(self, one, two) -> None:
        """Two graphs side by side give each one's clusters (the index re-clusters one link
        component, Spark a bucket of them)."""
        n1, l1 = one
        n2, l2 = two
        ids = [f"a{i}" for i in range(n1)] + [f"b{i}" for i in range(n2)]
        both = pooled(n1 + n2, [*l1, *((a + n1, b + n1, p) for a, b, p in l2)], ids=ids)
        assert groups_of(both[:n1]) == groups_of(pooled(n1, l1, ids=ids[:n1]))
        assert groups_of(both[n1:] - n1) == groups_of(pooled(n2, l2, ids=ids[n1:]))


def clique(nodes, p):
    return [(a, b, p) for a, b in itertools.combinations(nodes, 2)]


class TestByHand:
    def test_many_weak_links_join_one_does_not(self) -> None:
        """Two groups of four (a chain of strong links, weak links inside too) joined by all
        sixteen cross pairs at p 0.46 merge; joined by one such link they stay apart, though
        that link alone is as strong as each of the sixteen."""
        def group(nodes):
            chain = list(itertools.pairwise(nodes))
            return [(a, b, 0.99 if (a, b) in chain else 0.46)
                    for a, b in itertools.combinations(nodes, 2)]

        inside = [*group([0, 1, 2, 3]), *group([4, 5, 6, 7])]
        dense = [(a, b, 0.46) for a in range(4) for b in range(4, 8)]
        assert groups_of(pooled(8, inside + dense)) == {frozenset(range(8))}
        assert groups_of(pooled(8, [*inside, (3, 4, 0.46)])) == {
            frozenset(range(4)), frozenset(range(4, 8))}

    def test_no_pooling_without_a_group_to_learn_from(self) -> None:
        """A link component of weak links only (no strong group of two or more records) gives
        no sign that its duplicates look weak: its records stay apart."""
        assert groups_of(pooled(4, clique(range(4), 0.46))) == {frozenset({i}) for i in range(4)}

    def test_weak_chain_does_not_glue_two_strong_groups(self) -> None:
        """Two strong groups of five and a record weakly linked to one member of each:
        components at the weak threshold would make one entity of all eleven; the pooled
        method joins the record to one group and keeps the groups apart (one weak link for
        25 cross pairs)."""
        strong = [*clique(range(5), 0.99), *clique(range(6, 11), 0.99)]
        weak = [(4, 5, 0.5), (5, 6, 0.5)]
        labels = pooled(11, strong + weak, options=attrs.evolve(POOLED, pool_weak_share=0.0))
        assert groups_of(labels) == {frozenset(range(6)), frozenset(range(6, 11))}

    def test_weak_links_ignored_where_groups_hold_only_strong_links(self) -> None:
        """Sibling companies: each group held together by strong links only, dense weak links
        between them. The component shows that duplicates here look strong: the weak links
        do not count (below ``pool_weak_share``), and the groups stay apart."""
        strong = [*clique([0, 1, 2], 0.99), *clique([3, 4, 5], 0.99)]
        cross = [(a, b, 0.7) for a in (0, 1, 2) for b in (3, 4, 5)]
        assert groups_of(pooled(6, strong + cross)) == {
            frozenset({0, 1, 2}), frozenset({3, 4, 5})}
        # the same links where a group also holds a weak link inside: they count, and join
        inner_weak = [(0, 1, 0.99), (0, 2, 0.99), (1, 2, 0.7), *clique([3, 4, 5], 0.99)]
        assert groups_of(pooled(6, inner_weak + cross)) == {frozenset(range(6))}

    def test_missing_pairs_weigh_against(self) -> None:
        """A group of five and a record linked to one member by a weak link: the four pairs
        without a link cost ``pool_missing`` each; a large cost keeps them apart."""
        five = [(a, b, 0.46 if (a, b) == (0, 1) else 0.99)
                for a, b in itertools.combinations(range(5), 2)]
        link = [(4, 5, 0.46)]
        cheap = attrs.evolve(POOLED, pool_missing=0.0)
        dear = attrs.evolve(POOLED, pool_missing=0.05)
        assert groups_of(pooled(6, five + link, options=cheap)) == {frozenset(range(6))}
        assert frozenset({5}) in groups_of(pooled(6, five + link, options=dear))

    def test_strong_links_join_as_components(self) -> None:
        """Links at or above the threshold join outright, whatever pooling says."""
        chain = [(0, 1, 0.95), (1, 2, 0.95), (2, 3, 0.95)]
        assert groups_of(pooled(4, chain)) == {frozenset(range(4))}

    def test_cluster_pairs_runs_it_from_scored_pairs(self) -> None:
        """``cluster_pairs`` with the pooled method reads the pairs down to the weak-link
        threshold and gives ``pooled_labels``' clusters."""
        groups = [(0, 1, 0.99), (1, 2, 0.99), (0, 2, 0.46), (3, 4, 0.99), (4, 5, 0.99),
                  (3, 5, 0.46)]
        links = [*groups, *((a, b, 0.46) for a in (0, 1, 2) for b in (3, 4, 5)), (5, 6, 0.1)]
        w = np.array([weight_of(p) for _, _, p in links])
        pairs = ScoredPairs(
            left=np.array([a for a, _, _ in links]), right=np.array([b for _, b, _ in links]),
            match_weight=w, probability=1.0 / (1.0 + np.exp2(-w)),
            levels=np.zeros((len(links), 0), dtype=np.int8),
            rule=np.full(len(links), -1, dtype=np.int8), comparison_names=(),
        )
        got = cluster_pairs(7, pairs, threshold=0.9, options=POOLED, ids=[f"r{i}" for i in
                                                                          range(7)])
        assert groups_of(got) == {frozenset(range(6)), frozenset({6})}
        plain = cluster_pairs(7, pairs, threshold=0.9, options=ClusterOptions(method="components"))
        assert groups_of(plain) == {frozenset({0, 1, 2}), frozenset({3, 4, 5}), frozenset({6})}


class TestOptions:
    def test_defaults_write_no_new_keys(self) -> None:
        """Settings files written before the pooled method round-trip unchanged: the default
        options write none of its keys."""
        assert set(CLUSTER.to_dict(ClusterOptions())) == {"method", "max_size", "min_density"}

    def test_pooled_options_round_trip(self) -> None:
        """Non-default pooled options are written and read back."""
        opts = ClusterOptions(method="pooled", pool_threshold=0.3, pool_missing=0.01,
                              pool_weak_share=0.2)
        data = CLUSTER.to_dict(opts)
        assert data["pool_threshold"] == 0.3
        assert CLUSTER.from_dict(data, path="cluster") == opts

    @pytest.mark.parametrize(("field", "value"), [
        ("pool_threshold", 1.5), ("pool_weak_share", -0.1), ("pool_missing", -1.0),
        ("method", "pool")])
    def test_bad_values_refused(self, field, value) -> None:
        """Out-of-range options are a configuration error naming the field."""
        with pytest.raises(MatchingConfigError, match=field.split("_")[0]):
            ClusterOptions(**{field: value})

    def test_link_floor(self) -> None:
        """Clustering reads pairs down to the weak-link threshold only with the pooled method."""
        assert POOLED.link_floor(0.9) == 0.4
        assert POOLED.link_floor(0.3) == 0.3
        assert ClusterOptions().link_floor(0.9) == 0.9


class TestAccountsPreset:
    def test_name_only_lists_pool(self) -> None:
        """The accounts preset pools weak links when the organisation name is its only
        comparison, and keeps the default guarded method when it has more fields."""
        assert accounts(["company"]).cluster == POOLED
        assert accounts().cluster == ClusterOptions()
        assert accounts(["company", "domain"]).cluster == ClusterOptions()

    def test_saved_settings_load(self) -> None:
        """The name-only preset's settings round-trip through their dict form."""
        s = accounts(["company"])
        assert MatchSettings.from_dict(s.to_dict()) == s
