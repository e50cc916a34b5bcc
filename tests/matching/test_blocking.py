"""Blocking: candidate pairs against brute force, the blocking analysis and the pair budget."""

from __future__ import annotations

import itertools
from collections import Counter

import attrs
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crmcore.errors import MatchingConfigError, PairBudgetExceeded
from crmcore.matching import (
    BlockingAnalysis,
    BlockOn,
    Frame,
    SortedNeighbourhood,
    analyse_blocking,
    block,
    block_and_analyse,
    block_on,
    rule_from_dict,
)
from crmcore.matching._agreement import rule_agrees
from tests.matching.strategies import (
    block_on_rules,
    blocking_rules,
    frame_of,
    naive_agree,
    naive_block,
    naive_raw_count,
    naive_rule_pairs,
    naive_rule_used,
    naive_value,
    naive_values,
    records,
)


def pair_set(left: np.ndarray, right: np.ndarray) -> set[tuple[int, int]]:
    return set(zip(left.tolist(), right.tolist(), strict=True))


sources = st.lists(st.integers(0, 1), min_size=18, max_size=18)


class TestBlock:
    @settings(max_examples=40, deadline=None)
    @given(records(), blocking_rules())
    def test_equals_naive_rules_and_is_a_subset_of_all_pairs(self, rows, rules) -> None:
        """OR-ed rules give exactly the brute-force pairs: distinct, ordered, among all pairs."""
        pairs = block(frame_of(rows), rules)
        got = pair_set(pairs.left, pairs.right)
        assert len(got) == len(pairs)
        assert got <= set(itertools.combinations(range(len(rows)), 2))
        assert got == naive_block(rules, rows)

    @settings(max_examples=40, deadline=None)
    @given(records(), blocking_rules(), sources)
    def test_link_keeps_cross_source_pairs(self, rows, rules, source) -> None:
        """With sources, the pairs are the brute-force pairs across the two sources only."""
        src = np.array(source[: len(rows)], dtype=np.int64)
        pairs = block(frame_of(rows), rules, source=src)
        assert pair_set(pairs.left, pairs.right) == naive_block(rules, rows, src.tolist())

    @settings(max_examples=30, deadline=None)
    @given(records(), blocking_rules())
    def test_pairs_sorted_by_code(self, rows, rules) -> None:
        """Pairs come sorted by pair code with left < right."""
        pairs = block(frame_of(rows), rules)
        assert (pairs.left < pairs.right).all()
        assert (np.diff(pairs.codes) > 0).all()
        assert pairs.n_rows == len(rows)

    def test_exact_keys(self) -> None:
        """Records sharing every key value pair up; a missing value never agrees."""
        frame = Frame({"a": ["x", "x", "x", None, None], "b": ["1", "1", "2", "1", "1"]})
        assert pair_set(*_lr(block(frame, [block_on("a", "b")]))) == {(0, 1)}

    def test_prefix_and_phonetic(self) -> None:
        """Prefix and phonetic keys block spelling variants together."""
        frame = Frame({"n": ["Smith", "Smyth", "Smithers", "Jones"]})
        assert pair_set(*_lr(block(frame, [block_on("prefix(n, 3)")]))) == {(0, 2)}
        assert (0, 1) in pair_set(*_lr(block(frame, [block_on("soundex(n)")])))

    def test_multi_valued_tokens_share_any_key(self) -> None:
        """tokens() blocks records that share any word, each pair once."""
        frame = Frame({"c": ["Acme Widgets", "Widgets Acme", "Acme", "Other"]})
        assert pair_set(*_lr(block(frame, [block_on("tokens(c)")]))) == {(0, 1), (0, 2), (1, 2)}

    def test_sorted_neighbourhood_window(self) -> None:
        """A window of 2 pairs each record with its next neighbour in sorted order."""
        frame = Frame({"n": ["d", "a", "c", "b", None]})
        pairs = block(frame, [SortedNeighbourhood("n", window=2)])
        assert pair_set(pairs.left, pairs.right) == {(1, 3), (2, 3), (0, 2)}

    def test_many_expressions_over_a_big_dictionary(self) -> None:
        """Keys of many fields with large codes are re-coded, never colliding or overflowing."""
        n = 70_000
        frame = Frame({
            "filler": [f"v{k}" for k in range(n)],
            **{col: ["x", "x", "y", "x", "x", "x"] + [None] * (n - 6) for col in "abc"},
            "d": ["1", "1", "1", "2", "1", None] + [None] * (n - 6),
        })
        frame.codes("filler")  # the later columns get codes above 70 000
        pairs = block(frame, [block_on("a", "b", "c", "d", "lower(d)")])
        assert pair_set(pairs.left, pairs.right) == {(0, 1), (0, 4), (1, 4)}

    def test_no_rules_raise(self) -> None:
        """Blocking needs at least one rule."""
        with pytest.raises(MatchingConfigError, match="at least one blocking rule"):
            block(Frame({"a": ["x"]}), [])

    def test_empty_frame(self) -> None:
        """An empty frame has no pairs."""
        assert len(block(Frame({"a": []}), [block_on("a")])) == 0


def _lr(pairs):  # type: ignore[no-untyped-def]
    return pairs.left, pairs.right


class TestAnalyseBlocking:
    @settings(max_examples=30, deadline=None)
    @given(records(), blocking_rules(max_size=4))
    def test_counts_equal_actual_pairs(self, rows, rules) -> None:
        """Per-rule, new and union counts equal the pairs the rules actually produce."""
        analysis = analyse_blocking(frame_of(rows), rules)
        seen: set[tuple[int, int]] = set()
        for k, rule in enumerate(rules):
            if not naive_rule_used(rule, rows):
                assert isinstance(rule, BlockOn)
                assert rule.name in analysis.skipped
                assert analysis.pairs_per_rule[k] == naive_raw_count(rule, rows)
                assert analysis.new_pairs_per_rule[k] == 0
                continue
            own = naive_rule_pairs(rule, rows)
            assert analysis.pairs_per_rule[k] == len(own)
            assert analysis.new_pairs_per_rule[k] == len(own - seen)
            seen |= own
        assert analysis.union == len(seen) == len(block(frame_of(rows), rules))
        n = len(rows)
        assert analysis.total_pairs == n * (n - 1) // 2
        assert analysis.rules == tuple(r.name for r in rules)

    @settings(max_examples=30, deadline=None)
    @given(records(), blocking_rules(), sources)
    def test_link_counts(self, rows, rules, source) -> None:
        """For linkage, counts are of cross-source pairs and the total is n_left * n_right."""
        src = np.array(source[: len(rows)], dtype=np.int64)
        analysis = analyse_blocking(frame_of(rows), rules, source=src)
        assert analysis.union == len(naive_block(rules, rows, src.tolist()))
        n_left = int((src == 0).sum())
        assert analysis.total_pairs == n_left * (len(rows) - n_left)

    @settings(max_examples=30, deadline=None)
    @given(records(), blocking_rules())
    def test_block_and_analyse_agree(self, rows, rules) -> None:
        """The one-pass function returns the same pairs and analysis as the two functions."""
        frame = frame_of(rows)
        pairs, analysis = block_and_analyse(frame, rules)
        assert np.array_equal(pairs.codes, block(frame, rules).codes)
        assert analysis == analyse_blocking(frame, rules)

    def test_progress_per_rule(self) -> None:
        """progress hears about each rule, in order, by name."""
        messages: list[str] = []
        frame = Frame({"a": ["x", "x"], "b": ["y", "y"]})
        block_and_analyse(frame, [block_on("a"), block_on("b", name="bee")],
                          progress=messages.append)
        assert len(messages) == 2
        assert "1/2" in messages[0]
        assert messages[0].endswith("a")
        assert "2/2" in messages[1]
        assert messages[1].endswith("bee")

    def test_reduction_ratio_and_text(self) -> None:
        """The reduction ratio is the share of pairs avoided; the text lists every rule."""
        analysis = BlockingAnalysis(("a", "b & c"), (3, 2), (3, 1), 4, 10)
        assert analysis.reduction_ratio == pytest.approx(0.6)
        text = analysis.to_text()
        assert "b & c" in text
        assert "union" in text
        assert "0.600000" in text
        assert BlockingAnalysis(("a",), (0,), (0,), 0, 0).reduction_ratio == 1.0


class TestPairBudget:
    @settings(max_examples=30, deadline=None)
    @given(records(), st.lists(block_on_rules().filter(lambda r: not r.multi_valued),
                               min_size=1, max_size=3),
           st.integers(0, 40))
    def test_raises_exactly_when_over_budget(self, rows, rules, budget) -> None:
        """For dedupe with single-valued rules, blocking raises iff the union exceeds the budget."""
        frame = frame_of(rows)
        union = len(naive_block(rules, rows))
        if union > budget:
            with pytest.raises(PairBudgetExceeded):
                block(frame, rules, max_pairs=budget)
        else:
            assert len(block(frame, rules, max_pairs=budget)) == union

    def test_message_names_rule_and_gives_advice(self) -> None:
        """The error names the rule and the counts, and says how to fix it."""
        frame = Frame({"country": ["GB"] * 50})
        with pytest.raises(PairBudgetExceeded) as info:
            analyse_blocking(frame, [block_on("country", name="by country")], max_pairs=100)
        message = str(info.value)
        assert "'by country'" in message
        assert "1,225" in message
        assert "100" in message
        assert "stricter" in message
        assert "max_pairs" in message
        assert isinstance(info.value, MatchingConfigError)

    def test_checked_before_generating(self) -> None:
        """A rule over budget is refused even when only a tiny sub-budget is allowed."""
        frame = Frame({"a": ["x"] * 2000})
        with pytest.raises(PairBudgetExceeded, match="1,999,000"):
            block(frame, [block_on("a")], max_pairs=10)


class TestBlockOn:
    def test_default_name_and_columns(self) -> None:
        """The name defaults to the expressions; columns are the base columns read."""
        rule = block_on("last_name", "prefix(first_name, 1)")
        assert rule.name == "last_name & prefix(first_name, 1)"
        assert rule.columns == frozenset({"last_name", "first_name"})

    def test_validation(self) -> None:
        """A rule needs an expression, valid syntax, and at most one multi-valued expression."""
        with pytest.raises(MatchingConfigError):
            BlockOn(())
        with pytest.raises(MatchingConfigError):
            block_on("nosuch(a)")
        with pytest.raises(MatchingConfigError, match="one multi-valued"):
            block_on("tokens(a)", "tokens(b)")

    @settings(max_examples=30, deadline=None)
    @given(records(min_size=1), block_on_rules(), st.data())
    def test_record_keys_match_blocks(self, rows, rule, data) -> None:
        """Two records share a block exactly when they share a record key tuple."""
        frame = frame_of(rows)
        i = data.draw(st.integers(0, len(rows) - 1))
        j = data.draw(st.integers(0, len(rows) - 1))
        ki, kj = set(rule.record_keys(frame, i)), set(rule.record_keys(frame, j))
        assert bool(ki & kj) == naive_agree(rule, rows[i], rows[j])

    def test_max_block_size_drops_common_keys(self) -> None:
        """Keys shared by more records than max_block_size pair nobody; the rest pair as
        without the cap (brute force over all pairs of a small table)."""
        words = ["acme group", "acme inc", "zeta group", "kilo group", "zeta inc", "mira"]
        frame = Frame({"name": words})
        rule = block_on("tokens(name)", max_block_size=2)
        got = {tuple(p) for p in zip(*(block(frame, [rule]).left, block(frame, [rule]).right),
                                     strict=True)}
        counts: dict[str, int] = {}
        for w in words:
            for t in set(w.split()):
                counts[t] = counts.get(t, 0) + 1
        expected = {
            (i, j) for i, j in itertools.combinations(range(len(words)), 2)
            if any(counts[t] <= 2 for t in set(words[i].split()) & set(words[j].split()))
        }
        assert got == expected
        assert rule_from_dict(rule.to_dict()) == rule
        with pytest.raises(MatchingConfigError, match="max_block_size"):
            block_on("name", max_block_size=1)

    def test_any_order_pairs_swapped_names(self) -> None:
        """With any_order, given and family names swapped still share a block (same city);
        the same names elsewhere, or one name missing, do not."""
        frame = Frame({
            "first_name": ["Javier", "Jiménez", "Javier", "Javier", None],
            "last_name": ["Jiménez", "Javier", "Jiménez", "Ruiz", "Jiménez"],
            "city": ["Madrid", "Madrid", "Sevilla", "Madrid", "Madrid"],
        })
        rule = block_on("first_name", "last_name", "city", any_order=True)
        assert rule.name == "first_name & last_name & city (any order)"
        pairs = block(frame, [rule])
        assert pair_set(pairs.left, pairs.right) == {(0, 1)}
        assert len(block(frame, [block_on("first_name", "last_name", "city")])) == 0
        assert rule.record_keys(frame, 0) == rule.record_keys(frame, 1)
        assert rule.record_keys(frame, 0) == [("Javier", "Jiménez", "Madrid")]
        assert rule.record_keys(frame, 4) == []
        assert rule_from_dict(rule.to_dict()) == rule
        assert "any_order" not in block_on("first_name", "last_name").to_dict()
        with pytest.raises(MatchingConfigError, match="any_order needs two or more"):
            block_on("first_name", any_order=True)
        with pytest.raises(MatchingConfigError, match="any_order needs two or more"):
            block_on("tokens(first_name)", "last_name", any_order=True)

    @settings(max_examples=60, deadline=None)
    @given(records(), st.lists(st.sampled_from(["first_name", "last_name", "city",
                                                "canonical_given(first_name)",
                                                "initial(last_name)", "metaphone(last_name)"]),
                               min_size=2, max_size=3, unique=True),
           st.sampled_from([None, 2, 3, 5]))
    def test_any_order_key_equals_brute_force(self, rows, exprs, cap) -> None:
        """An any_order rule pairs exactly the records whose values are the same multiset,
        in blocks of at most max_block_size records (brute force over all pairs)."""
        rule = block_on(*exprs, any_order=True, max_block_size=cap)
        keys = [tuple(sorted(v)) if None not in (v := [naive_value(e, r) for e in exprs])
                else None for r in rows]
        sizes = Counter(k for k in keys if k is not None)
        expected = {
            (i, j) for i, j in itertools.combinations(range(len(rows)), 2)
            if keys[i] is not None and keys[i] == keys[j]
            and (cap is None or sizes[keys[i]] <= cap)
        }
        pairs = block(frame_of(rows), [rule])
        assert pair_set(pairs.left, pairs.right) == expected

    def test_dict_round_trip(self) -> None:
        """to_dict / rule_from_dict rebuild the same rule, per-record budget included."""
        rule = block_on("email_domain(email)", "initial(first_name)", name="domain")
        assert rule_from_dict(rule.to_dict()) == rule
        loose = block_on("metaphone(last_name)", max_pairs_per_record=2.5)
        assert rule_from_dict(loose.to_dict()) == loose

    def test_adaptive_rule_skipped_when_too_loose(self) -> None:
        """A rule over its per-record budget is skipped, and the analysis says so."""
        frame = Frame({"a": ["x"] * 6 + ["y", "y"]})
        loose = block_on("a", max_pairs_per_record=1.0)   # 16 pairs > 1 * 8 records
        pairs, analysis = block_and_analyse(frame, [block_on("a", name="strict"), loose])
        assert analysis.skipped == ("a",)
        assert analysis.used_rules == ("strict",)
        assert "skipped" in analysis.to_text()
        assert len(pairs) == 16
        assert len(block(frame, [loose])) == 0
        assert len(block(frame, [block_on("a", max_pairs_per_record=2.0)])) == 16


def naive_budget_count(rule: BlockOn, rows: list[dict[str, str | None]]) -> tuple[int, int]:
    """(pairs, units) of a count_by rule, directly: per key, pairs of the distinct count_by
    values of the records holding it (a record without a value is its own value)."""
    assert rule.count_by is not None
    by = [naive_value(rule.count_by, r) for r in rows]
    own = [("value", v) if v is not None else ("row", i) for i, v in enumerate(by)]
    held: dict[tuple[str, ...], set[object]] = {}
    for i, r in enumerate(rows):
        for k in itertools.product(*(sorted(naive_values(e, r)) for e in rule.expressions)):
            held.setdefault(tuple(sorted(k)) if rule.any_order else k, set()).add(own[i])
    return sum(len(v) * (len(v) - 1) // 2 for v in held.values()), len(set(own))


class TestCountBy:
    @settings(max_examples=150, deadline=None)
    @given(records(), block_on_rules(), st.sampled_from(["last_name", "lower(city)",
                                                         "prefix(first_name, 2)"]),
           st.sampled_from([0.1, 0.5, 1.0, 2.0]))
    def test_budget_count_equals_naive(self, rows, rule, by, budget) -> None:
        """budget_count counts pairs of distinct count_by values sharing a key, per distinct
        value (brute force), and blocking uses or skips the rule by it, with all its pairs."""
        rule = attrs.evolve(rule, max_block_size=None, max_pairs_per_record=budget,
                            count_by=by)
        frame = frame_of(rows)
        pairs, units = naive_budget_count(rule, rows)
        assert rule.budget_count(frame, *rule.keys(frame)) == (pairs, units)
        got, analysis = block_and_analyse(frame, [rule])
        used = pairs <= budget * max(units, 1)
        assert (rule.name not in analysis.skipped) == used
        expected = naive_rule_pairs(attrs.evolve(rule, count_by=None, max_pairs_per_record=None),
                                    rows) if used else set()
        assert pair_set(got.left, got.right) == expected

    def test_repeated_name_counts_once(self) -> None:
        """Many records of one name under a shared prefix weigh as one name: the rule is
        used where counting records would skip it."""
        frame = Frame({"name": ["acme"] * 8 + ["acne", "zeta"]})
        by_record = block_on("prefix(name, 2)", max_pairs_per_record=1.0)
        by_name = block_on("prefix(name, 2)", max_pairs_per_record=1.0, count_by="name")
        assert block_and_analyse(frame, [by_record])[1].skipped == (by_record.name,)
        pairs, analysis = block_and_analyse(frame, [by_name])
        assert analysis.skipped == ()
        assert len(pairs) == 36  # all pairs among the nine "ac" records

    def test_needs_a_budget_and_one_value(self) -> None:
        """count_by without max_pairs_per_record, or multi-valued, is a configuration error."""
        with pytest.raises(MatchingConfigError, match="max_pairs_per_record"):
            block_on("name", count_by="name")
        with pytest.raises(MatchingConfigError, match="single-valued"):
            block_on("name", max_pairs_per_record=1.0, count_by="tokens(name)")

    def test_dict_round_trip(self) -> None:
        """to_dict / rule_from_dict keep count_by (and leave it out when unset)."""
        rule = block_on("prefix(name, 2)", max_pairs_per_record=1.0, count_by="name")
        assert rule_from_dict(rule.to_dict()) == rule
        assert "count_by" not in block_on("name").to_dict()


class TestSortedNeighbourhood:
    def test_window_validated(self) -> None:
        """A window below 2 is refused."""
        with pytest.raises(MatchingConfigError, match="window must be >= 2"):
            SortedNeighbourhood("a", window=1)

    def test_name_columns_and_round_trip(self) -> None:
        """Default name shows the expression and window; the dict form round-trips."""
        rule = SortedNeighbourhood("sorted_tokens(name)", window=3)
        assert rule.name == "sorted(sorted_tokens(name), 3)"
        assert rule.columns == frozenset({"name"})
        assert rule_from_dict(rule.to_dict()) == rule

    def test_unknown_kind(self) -> None:
        """rule_from_dict refuses an unknown kind."""
        with pytest.raises(MatchingConfigError, match="unknown blocking rule kind"):
            rule_from_dict({"kind": "magic"})


class TestRuleAgrees:
    @settings(max_examples=40, deadline=None)
    @given(records(), block_on_rules())
    def test_equals_naive_agreement(self, rows, rule) -> None:
        """rule_agrees is true exactly for the pairs the rule blocks together."""
        n = len(rows)
        i, j = np.triu_indices(n, 1)
        left, right = i.astype(np.int64), j.astype(np.int64)
        got = rule_agrees(rule, frame_of(rows), left, right)
        expected = naive_rule_pairs(attrs.evolve(rule, max_pairs_per_record=None), rows)
        assert {(a, b) for a, b, ok in zip(left.tolist(), right.tolist(), got.tolist(),
                                           strict=True) if ok} == expected

    @settings(max_examples=40, deadline=None)
    @given(records(), st.lists(block_on_rules(), min_size=2, max_size=4))
    def test_shared_equality_cache_changes_nothing(self, rows, rules) -> None:
        """Rules sharing one cache of per-expression equality agree as each alone."""
        n = len(rows)
        i, j = np.triu_indices(n, 1)
        left, right = i.astype(np.int64), j.astype(np.int64)
        frame = frame_of(rows)
        equal: dict[str, np.ndarray] = {}
        for rule in rules:
            alone = rule_agrees(rule, frame, left, right)
            assert np.array_equal(rule_agrees(rule, frame, left, right, equal=equal), alone)

    @settings(max_examples=150, deadline=None)
    @given(records(), block_on_rules(), st.integers(2, 4))
    def test_capped_rule_agrees_only_in_blocks_it_pairs(self, rows, rule, cap) -> None:
        """With ``max_block_size``, a pair agrees only through a key held by at most ``cap``
        records (brute force over the keys): what blocking pairs, and what the Spark runner's
        EM sessions count (sharing a key in a block over the cap used to count in-process)."""
        rule = attrs.evolve(rule, max_pairs_per_record=None, max_block_size=cap)
        holders: dict[tuple[str, ...], set[int]] = {}
        for i, r in enumerate(rows):
            for k in itertools.product(*(sorted(naive_values(e, r)) for e in rule.expressions)):
                holders.setdefault(tuple(sorted(k)) if rule.any_order else k, set()).add(i)
        expected = {(a, b) for members in holders.values() if len(members) <= cap
                    for a, b in itertools.combinations(sorted(members), 2)}
        i, j = np.triu_indices(len(rows), 1)
        left, right = i.astype(np.int64), j.astype(np.int64)
        got = rule_agrees(rule, frame_of(rows), left, right)
        assert {(a, b) for a, b, ok in zip(left.tolist(), right.tolist(), got.tolist(),
                                           strict=True) if ok} == expected

    @settings(max_examples=150, deadline=None)
    @given(records(), block_on_rules(), st.integers(2, 4))
    def test_capped_rule_blocks_only_blocks_under_the_cap(self, rows, rule, cap) -> None:
        """Blocking with ``max_block_size`` pairs the records of the keys held by at most
        ``cap`` records, each pair once (brute force over the keys; multi-valued rules go
        through classes of records with equal values)."""
        rule = attrs.evolve(rule, max_pairs_per_record=None, max_block_size=cap)
        holders: dict[tuple[str, ...], set[int]] = {}
        for i, r in enumerate(rows):
            for k in itertools.product(*(sorted(naive_values(e, r)) for e in rule.expressions)):
                holders.setdefault(tuple(sorted(k)) if rule.any_order else k, set()).add(i)
        small = [sorted(m) for m in holders.values() if len(m) <= cap]
        expected = {p for m in small for p in itertools.combinations(m, 2)}
        pairs, analysis = block_and_analyse(frame_of(rows), [rule])
        assert pair_set(*_lr(pairs)) == expected
        assert len(pairs) == len(expected)
        assert analysis.pairs_per_rule == (len(expected),)

    def test_equal_records_over_the_cap_do_not_pair(self) -> None:
        """Three equal surnames fill every block of their keys past a cap of 2: no pairs, as
        for any key more records hold; a fourth one keystroke off pairs with nobody either."""
        rule = block_on("deletions(last_name)", max_block_size=2)
        frame = Frame({"last_name": ["lee", "lee", "lee", "leo", "smith", "smiht"]})
        assert pair_set(*_lr(block(frame, [rule]))) == {(4, 5)}
        assert pair_set(*_lr(block(frame, [block_on("deletions(last_name)")]))) == {
            (0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3), (4, 5)}

    def test_common_word_is_no_agreement(self) -> None:
        """Four names sharing GROUP (cap 3) do not agree through it; two ACME names do."""
        names = ["acme group", "zeta group", "omega group", "delta group", "acme ltd"]
        rule = block_on("tokens(name)", max_block_size=3)
        i, j = np.triu_indices(len(names), 1)
        got = rule_agrees(rule, Frame({"name": names}), i.astype(np.int64), j.astype(np.int64))
        assert [(a, b) for a, b, ok in zip(i.tolist(), j.tolist(), got.tolist(), strict=True)
                if ok] == [(0, 4)]

    def test_sorted_neighbourhood_has_no_agreement_test(self) -> None:
        """Sorted-neighbourhood rules cannot be tested per pair."""
        with pytest.raises(MatchingConfigError, match="no per-pair agreement test"):
            rule_agrees(SortedNeighbourhood("a"), Frame({"a": ["x"]}),
                        np.zeros(0, np.int64), np.zeros(0, np.int64))


class TestSortPaths:
    """The packed-sort fast paths and their argsort fallbacks give the same result."""

    @settings(max_examples=20, deadline=None)
    @given(st.lists(st.integers(0, 6), min_size=1, max_size=40))
    def test_group_with_huge_keys_groups_the_same_rows(self, small: list[int]) -> None:
        """Keys too big to pack with the row fall back to argsort; the groups are the same."""
        from crmcore.matching._blocking import _group

        keys = np.asarray(small, dtype=np.int64)
        rows = np.arange(len(keys), dtype=np.int64)
        groups = []
        for k in (keys, keys * (1 << 58) + 3):
            srows, starts, sizes = _group(rows, k)
            groups.append(sorted(
                tuple(sorted(srows[s:s + z].tolist())) for s, z in zip(starts, sizes, strict=True)
            ))
        naive = sorted(tuple(i for i, v in enumerate(small) if v == u) for u in set(small))
        assert groups[0] == groups[1] == naive

    @settings(max_examples=20, deadline=None)
    @given(st.lists(st.sets(st.integers(0, 30), max_size=12), min_size=1, max_size=5),
           st.booleans())
    def test_union_credits_the_earliest_rule(self, rule_codes: list[set[int]], huge: bool) -> None:
        """Union and credit per rule equal a brute force (packed sort and argsort paths)."""
        from crmcore.matching._blocking import _union_with_credit

        shift = (1 << 61) if huge else 0
        chunks = [np.asarray(sorted(c), dtype=np.int64) + shift for c in rule_codes]
        union, credit = _union_with_credit(chunks, list(range(len(chunks))), len(chunks))
        seen: set[int] = set()
        expected = []
        for c in rule_codes:
            expected.append(len(c - seen))
            seen |= c
        assert (union - shift).tolist() == sorted(seen)
        assert credit == expected
