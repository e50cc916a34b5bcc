"""Property tests of blocking, comparisons, the model, prediction and clustering."""

from __future__ import annotations

import itertools
import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from crmcore.matching import (
    ClusterOptions,
    Comparison,
    ExactLevel,
    Frame,
    MatchModel,
    ScoredPairs,
    SimilarityLevel,
    SortedNeighbourhood,
    block,
    block_on,
    cluster_pairs,
    cluster_scores,
    compute_levels,
    connected_components,
    dedupe,
    exact_match,
    expectation_maximisation,
    fuzzy_comparison,
    parse_expression,
    score_pairs,
)
from crmcore.matching._em import pattern_counts

NAMES = ["ann", "anne", "bob", "rob", "robert", "lee", "li", None]
rows = st.lists(
    st.tuples(st.sampled_from(NAMES), st.sampled_from(NAMES), st.sampled_from(["x", "y", None])),
    min_size=0,
    max_size=25,
)


def frame_of(data):
    return Frame(
        {
            "a": [r[0] for r in data],
            "b": [r[1] for r in data],
            "c": [r[2] for r in data],
        }
    )


class TestBlock:
    @settings(max_examples=60, deadline=None)
    @given(rows)
    def test_equals_naive_or_of_rules(self, data):
        """Blocked pairs equal a brute-force evaluation of the same OR-ed rules."""
        frame = frame_of(data)
        rules = [block_on("a", "c"), block_on("prefix(b, 2)")]
        pairs = block(frame, rules)
        got = set(zip(pairs.left.tolist(), pairs.right.tolist(), strict=True))
        expected = set()
        for i, j in itertools.combinations(range(len(data)), 2):
            a_ok = data[i][0] is not None and data[i][0] == data[j][0]
            c_ok = data[i][2] is not None and data[i][2] == data[j][2]
            bi, bj = data[i][1], data[j][1]
            b_ok = bi is not None and bj is not None and bi[:2] == bj[:2]
            if (a_ok and c_ok) or b_ok:
                expected.add((i, j))
        assert got == expected

    @settings(max_examples=40, deadline=None)
    @given(rows, st.integers(min_value=2, max_value=4))
    def test_sorted_neighbourhood_subset_of_all_pairs(self, data, window):
        """Sorted-neighbourhood pairs are distinct, ordered pairs of existing rows."""
        frame = frame_of(data)
        pairs = block(frame, [SortedNeighbourhood("a", window=window)])
        codes = pairs.left * max(len(data), 1) + pairs.right
        assert len(np.unique(codes)) == len(codes)
        assert (pairs.left < pairs.right).all()
        assert (pairs.right < len(data)).all()

    def test_link_keeps_cross_source_pairs_only(self):
        """With sources, only pairs across the two sources are produced."""
        frame = Frame({"a": ["x", "x", "x", "x"]})
        source = np.array([0, 0, 1, 1])
        pairs = block(frame, [block_on("a")], source=source)
        assert (source[pairs.left] != source[pairs.right]).all()
        assert len(pairs) == 4


class TestParseExpression:
    def test_nested_calls_round_trip(self):
        """Nested calls parse to a canonical text that parses to itself."""
        expr = parse_expression("metaphone( prefix(last_name,3) )")
        assert expr.column == "last_name"
        assert parse_expression(expr.text) == expr


class TestComputeLevels:
    @settings(max_examples=40, deadline=None)
    @given(rows)
    def test_levels_symmetric(self, data):
        """A pair gets the same levels whichever record is on the left."""
        frame = frame_of(data)
        comps = [fuzzy_comparison("a", thresholds=(0.9, 0.7)), exact_match("b")]
        n = len(data)
        i, j = np.triu_indices(n, 1)
        forward = compute_levels(comps, frame, i.astype(np.int64), j.astype(np.int64))
        backward = compute_levels(comps, frame, j.astype(np.int64), i.astype(np.int64))
        assert (forward == backward).all()

    def test_first_level_wins_and_missing_is_zero(self):
        """Levels are tested in order; a missing side gives level 0; no match gives else."""
        frame = Frame({"a": ["anna", "anna", "anne", None, "zed"]})
        comp = Comparison("a", (ExactLevel("a"), SimilarityLevel("a", "jaro_winkler", 0.8)))
        levels = compute_levels([comp], frame, np.array([0, 0, 0, 0]), np.array([1, 2, 3, 4]))
        assert levels[:, 0].tolist() == [1, 2, 0, 3]


def simulate(rng, n_pairs, m, u, prior):
    match = rng.random(n_pairs) < prior
    cols = []
    for mc, uc in zip(m, u, strict=True):
        lm = rng.choice(len(mc), size=n_pairs, p=mc)
        lu = rng.choice(len(uc), size=n_pairs, p=uc)
        cols.append(np.where(match, lm, lu) + 1)  # shift past the missing level
    return np.stack(cols, axis=1).astype(np.int8)


class TestExpectationMaximisation:
    def test_recovers_known_parameters(self):
        """EM on simulated pattern counts recovers the m, u and prior it was simulated with."""
        rng = np.random.default_rng(3)
        true_m = [np.array([0.85, 0.1, 0.05]), np.array([0.9, 0.1]), np.array([0.7, 0.2, 0.1])]
        true_u = [np.array([0.05, 0.15, 0.8]), np.array([0.1, 0.9]), np.array([0.02, 0.08, 0.9])]
        levels = simulate(rng, 200_000, true_m, true_u, 0.2)
        comps = [
            Comparison(f"c{k}", tuple(ExactLevel(f"x{k}{j}") for j in range(len(mk) - 1)))
            for k, mk in enumerate(true_m)
        ]
        patterns, counts = pattern_counts(levels)
        start_m = [np.r_[1.0, np.linspace(2, 1, len(mk)) / np.linspace(2, 1, len(mk)).sum()]
                   for mk in true_m]
        start_u = [np.r_[1.0, np.linspace(1, 2, len(uk)) / np.linspace(1, 2, len(uk)).sum()]
                   for uk in true_u]
        m, u, prior, _, converged = expectation_maximisation(
            patterns, counts, comps, m=start_m, u=start_u, prior=0.5
        )
        assert converged
        assert abs(prior - 0.2) < 0.01
        for k in range(3):
            assert np.abs(m[k][1:] - true_m[k]).max() < 0.02
            assert np.abs(u[k][1:] - true_u[k]).max() < 0.02

    @settings(max_examples=20, deadline=None)
    @given(st.integers(min_value=1, max_value=5))
    def test_pattern_counts_cover_all_pairs(self, reps):
        """Distinct patterns times their counts rebuild the original level rows."""
        levels = np.array([[1, 2], [1, 2], [0, 3], [2, 1]] * reps, dtype=np.int8)
        patterns, counts = pattern_counts(levels)
        assert counts.sum() == len(levels)
        assert len(patterns) == 3


CONTACTS = [
    {"id": "1", "first_name": "Robert", "last_name": "Smith", "email": "bob@acme.com",
     "phone": "+44 20 7946 0001", "city": "London"},
    {"id": "2", "first_name": "Bob", "last_name": "Smith", "email": "bob@acme.com",
     "phone": "020 7946 0001", "city": "London"},
    {"id": "3", "first_name": "Robert", "last_name": "Smyth", "email": "r.smith@acme.com",
     "phone": "+44 20 7946 0001", "city": "London"},
    {"id": "4", "first_name": "Ann", "last_name": "Lee", "email": "ann@lee.org",
     "phone": None, "city": "Leeds"},
    {"id": "5", "first_name": "Anne", "last_name": "Lee", "email": "ann@lee.org",
     "phone": "0113 496 0000", "city": "Leeds"},
    {"id": "6", "first_name": "Carl", "last_name": "Jones", "email": "carl@j.net",
     "phone": "0161 496 0999", "city": "Manchester"},
    {"id": "7", "first_name": None, "last_name": None, "email": None, "phone": None,
     "city": None},
] + [
    {"id": f"x{k}", "first_name": f"name{k}", "last_name": f"family{k % 7}",
     "email": f"p{k}@mail{k % 5}.com", "phone": f"0207 000 {k:04d}", "city": f"town{k % 11}"}
    for k in range(60)
]


class TestDedupe:
    def test_every_row_gets_an_entity(self):
        """No row is lost; an empty row is its own entity with a note."""
        result = dedupe(CONTACTS, id_column="id")
        assert len(result.entity_ids) == len(CONTACTS)
        assert result.entity_ids[0] == result.entity_ids[1]
        assert result.notes[6].startswith("no usable value")
        assert result.labels[6] == 6

    def test_scores_symmetric(self):
        """Scoring (j, i) gives the same weight as (i, j)."""
        result = dedupe(CONTACTS, id_column="id")
        pairs = result.pairs
        flipped = score_pairs(result.model, result.frame, None, pairs.right, pairs.left)
        assert np.allclose(flipped.match_weight, pairs.match_weight)

    def test_saved_model_predicts_the_same(self, tmp_path):
        """A model saved to JSON and loaded back gives identical scores."""
        result = dedupe(CONTACTS, id_column="id")
        path = tmp_path / "model.json"
        result.model.save(path)
        loaded = MatchModel.load(path)
        again = score_pairs(loaded, result.frame, None, result.pairs.left, result.pairs.right)
        assert np.allclose(again.match_weight, result.pairs.match_weight)
        assert loaded.summary() .startswith("Fellegi-Sunter model")

    def test_explain_adds_up(self):
        """The waterfall's steps add up to the pair's match weight."""
        result = dedupe(CONTACTS, id_column="id")
        waterfall = result.explain("1", "2")
        total = sum(s.weight + s.tf_adjustment for s in waterfall.steps)
        assert waterfall.rule is not None or math.isclose(total, waterfall.match_weight)
        assert "total" in waterfall.to_text()


class TestClusterPairs:
    @settings(max_examples=60, deadline=None)
    @given(
        st.integers(min_value=1, max_value=30).flatmap(
            lambda n: st.tuples(
                st.just(n),
                st.lists(
                    st.tuples(st.integers(0, n - 1), st.integers(0, n - 1),
                              st.floats(0.0, 1.0)),
                    max_size=60,
                ),
            )
        ),
        st.sampled_from([0.0, 0.4, 0.8]),
    )
    def test_partition_and_matches_brute_force(self, case, density):
        """Labels form a partition; plain components equal a brute-force union-find."""
        n, edges = case
        edges = [(a, b, p) for a, b, p in edges if a != b]
        left = np.array([min(a, b) for a, b, _ in edges], dtype=np.int64)
        right = np.array([max(a, b) for a, b, _ in edges], dtype=np.int64)
        prob = np.array([p for *_, p in edges], dtype=np.float64)
        pairs = ScoredPairs(left, right, np.log2(prob + 1e-9), prob,
                            np.zeros((len(edges), 0), dtype=np.int8),
                            np.full(len(edges), -1, dtype=np.int8), ())
        labels = cluster_pairs(n, pairs, threshold=0.5,
                               options=ClusterOptions(min_density=density))
        assert len(labels) == n
        assert all(labels[labels[i]] == labels[i] for i in range(n))  # label is a member row
        plain = connected_components(n, left[prob >= 0.5], right[prob >= 0.5])
        parent = list(range(n))

        def find(x):
            while parent[x] != x:
                x = parent[x]
            return x

        for a, b, p in edges:
            if p >= 0.5:
                ra, rb = find(a), find(b)
                parent[max(ra, rb)] = min(ra, rb)
        assert [find(i) for i in range(n)] == plain.tolist()
        # the guarded clusters refine the plain components
        for i in range(n):
            assert plain[labels[i]] == plain[i]


class TestClusterScores:
    def test_perfect_and_counts(self):
        """Identical partitions score 1; pair counts come from cluster sizes."""
        s = cluster_scores([0, 0, 2, 2, 2], ["a", "a", "b", "b", "b"])
        assert (s.precision, s.recall, s.actual) == (1.0, 1.0, 4)


# -- batch (pyarrow) string kernels, adaptive blocking, stratified u, guarded clusters ---------

_KERNEL_TEXT = st.text(
    alphabet=st.sampled_from(list("abcXYZ019 .,@+-_'()#;=\t\x1céİ")), max_size=16
)


@settings(max_examples=40, deadline=None)
@given(st.lists(_KERNEL_TEXT, min_size=1, max_size=60))
def test_batch_kernels_equal_scalar_functions(texts: list[str]) -> None:
    from crmcore.io._arrow import BATCH_KERNELS, batch_map

    assert BATCH_KERNELS, "no batch kernels registered"
    values = texts * (2000 // len(texts) + 1)  # batches this long take the pyarrow path
    for scalar in list(BATCH_KERNELS):
        assert batch_map(scalar, values) == [scalar(v) for v in values], scalar.__name__


@settings(max_examples=30, deadline=None)
@given(st.lists(st.sampled_from(["ann", "bob", "cy", "dee", None]), min_size=2, max_size=40),
       st.floats(min_value=0.0, max_value=5.0))
def test_adaptive_rule_used_only_within_its_budget(names: list[str | None], budget: float) -> None:
    from crmcore.matching import analyse_blocking

    frame = Frame({"a": names})
    strict = block_on("a", "a")
    loose = block_on("a", max_pairs_per_record=budget)
    analysis = analyse_blocking(frame, [strict, loose])
    counts: dict[str, int] = {}
    for name in names:
        if name is not None:
            counts[name] = counts.get(name, 0) + 1
    pairs = sum(c * (c - 1) // 2 for c in counts.values())
    assert analysis.pairs_per_rule[1] == pairs
    assert (loose.name in analysis.skipped) == (pairs > budget * len(names))


def test_stratified_u_counts_agreement_within_the_stratum() -> None:
    from crmcore.matching import estimate_u

    rng = np.random.default_rng(3)
    n = 4000
    country = rng.choice(["fr", "de", "it", "es"], size=n).tolist()
    # names drawn per country: agreement is likely within a country, rare across countries
    name = [f"{c}{rng.integers(0, 20)}" for c in country]
    frame = Frame({"name": name, "country": country})
    comps = [exact_match("name"), exact_match("country")]
    plain = estimate_u(comps, frame, sample_pairs=40_000, seed=1)
    within = estimate_u(comps, frame, sample_pairs=40_000, seed=1, within="country")
    assert math.isclose(plain[0][1], 1 / 80, rel_tol=0.25)
    assert math.isclose(within[0][1], 1 / 20, rel_tol=0.15)
    # the comparison on the stratum itself keeps the global u
    assert math.isclose(within[1][1], plain[1][1], rel_tol=1e-9)


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=2, max_value=30), st.data())
def test_guarded_clusters_refine_components(n: int, data: st.DataObject) -> None:
    edges = data.draw(st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1),
                                         st.floats(-5, 5)), max_size=60))
    seen: dict[tuple[int, int], float] = {}
    for a, b, w in edges:
        if a != b:
            seen.setdefault((min(a, b), max(a, b)), w)
    keys = sorted(seen)
    left = np.array([k[0] for k in keys], dtype=np.int64)
    right = np.array([k[1] for k in keys], dtype=np.int64)
    weight = np.array([seen[k] for k in keys], dtype=np.float64)
    pairs = ScoredPairs(
        left=left, right=right, match_weight=weight, probability=1 / (1 + 2.0 ** -weight),
        levels=np.zeros((len(keys), 1), dtype=np.int8), rule=np.zeros(len(keys), dtype=np.int8),
        comparison_names=("x",),
    )
    comps = cluster_pairs(n, pairs, threshold=0.0, options=ClusterOptions(method="components"))
    guarded = cluster_pairs(n, pairs, threshold=0.0, options=ClusterOptions(max_size=3))
    # every guarded cluster lies inside one component and respects the size cap
    for label in set(guarded.tolist()):
        members = np.flatnonzero(guarded == label)
        assert len(set(comps[members].tolist())) == 1
        assert len(members) <= 3
        assert label == members.min()
