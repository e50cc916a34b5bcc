"""Comparisons: vectorised levels against a per-pair Python reference, symmetry, the CRM library."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crmcore.errors import MatchingConfigError
from crmcore.matching import (
    NUMBERED_MAILBOX,
    SWAPPED_NAMES,
    AllOf,
    Comparison,
    CrossExactLevel,
    DateDiffLevel,
    ExactLevel,
    Frame,
    InitialLevel,
    NumericLevel,
    SimilarityLevel,
    SwappedLevel,
    TokenOverlapLevel,
    company_comparison,
    comparison_from_dict,
    compute_levels,
    date_comparison,
    email_comparison,
    exact_match,
    family_name_comparison,
    fuzzy_comparison,
    given_name_comparison,
    level_from_dict,
    location_comparison,
    phone_comparison,
    postcode_comparison,
)
from crmcore.matching._levels import made_of_words
from crmcore.matching._pairs import PairContext
from tests.matching.strategies import (
    DEFAULT_COLUMNS,
    comparisons,
    frame_of,
    naive_level,
    naive_made_of,
    records,
)

LIBRARY = [
    given_name_comparison(), family_name_comparison(), email_comparison(), phone_comparison(),
    company_comparison(), date_comparison(), location_comparison(), postcode_comparison(),
    fuzzy_comparison("city", metric="token_sort", thresholds=(0.9, 0.7), tf=True),
]
LIBRARY_COLUMNS = [*DEFAULT_COLUMNS, "company", "postcode"]


def all_pairs(n: int) -> tuple[np.ndarray, np.ndarray]:
    i, j = np.triu_indices(n, 1)
    return i.astype(np.int64), j.astype(np.int64)


def levels_of(comparison: Comparison, rows: list[dict[str, str | None]]) -> list[int]:
    """Level of every pair of consecutive test rows (0-1, 2-3, ...)."""
    frame = Frame({k: [r.get(k) for r in rows] for k in rows[0]})
    left = np.arange(0, len(rows), 2, dtype=np.int64)
    return compute_levels([comparison], frame, left, left + 1)[:, 0].tolist()


class TestComputeLevels:
    @settings(max_examples=40, deadline=None)
    @given(records(max_size=12), st.lists(comparisons(), min_size=1, max_size=3))
    def test_equals_per_pair_reference(self, rows, comps) -> None:
        """Vectorised levels equal a per-pair Python evaluation of the same levels."""
        comps = [Comparison(f"c{k}", c.levels, c.missing) for k, c in enumerate(comps)]
        left, right = all_pairs(len(rows))
        got = compute_levels(comps, frame_of(rows), left, right)
        assert got.shape == (len(left), len(comps))
        expected = [
            [naive_level(c, rows[a], rows[b]) for c in comps]
            for a, b in zip(left.tolist(), right.tolist(), strict=True)
        ]
        assert got.tolist() == expected

    @settings(max_examples=25, deadline=None)
    @given(records(max_size=12, columns=LIBRARY_COLUMNS))
    def test_library_equals_per_pair_reference(self, rows) -> None:
        """The CRM comparison library's levels equal the per-pair reference too."""
        left, right = all_pairs(len(rows))
        got = compute_levels(LIBRARY, frame_of(rows, LIBRARY_COLUMNS), left, right)
        expected = [
            [naive_level(c, rows[a], rows[b]) for c in LIBRARY]
            for a, b in zip(left.tolist(), right.tolist(), strict=True)
        ]
        assert got.tolist() == expected

    @settings(max_examples=40, deadline=None)
    @given(records(max_size=12), comparisons())
    def test_symmetric(self, rows, comp) -> None:
        """Swapping the two records of every pair does not change its level."""
        left, right = all_pairs(len(rows))
        frame = frame_of(rows)
        forward = compute_levels([comp], frame, left, right)
        assert np.array_equal(forward, compute_levels([comp], frame, right, left))

    @settings(max_examples=30, deadline=None)
    @given(records(max_size=12), comparisons())
    def test_levels_in_range(self, rows, comp) -> None:
        """Every level index lies between 0 (missing) and the else level."""
        left, right = all_pairs(len(rows))
        got = compute_levels([comp], frame_of(rows), left, right)
        assert ((got >= 0) & (got < comp.n_levels)).all()

    def test_progress_per_comparison(self) -> None:
        """progress hears about each comparison, in order, by name."""
        messages: list[str] = []
        frame = Frame({"a": ["x", "x"], "b": ["y", "z"]})
        compute_levels([exact_match("a"), exact_match("b", name="bee")], frame,
                       np.array([0]), np.array([1]), progress=messages.append)
        assert len(messages) == 2
        assert "1/2" in messages[0]
        assert messages[0].endswith("a")
        assert "2/2" in messages[1]
        assert messages[1].endswith("bee")

    def test_no_pairs(self) -> None:
        """No pairs give an empty level matrix of the right width."""
        empty = np.zeros(0, dtype=np.int64)
        got = compute_levels([exact_match("a"), exact_match("b")], Frame({"a": [], "b": []}),
                             empty, empty)
        assert got.shape == (0, 2)


class TestPairContext:
    def test_similarity_computed_once_per_expression_and_metric(self) -> None:
        """Two thresholds on one field share one cached similarity array."""
        frame = Frame({"a": ["anna", "anne", None]})
        ctx = PairContext(frame, np.array([0, 0]), np.array([1, 2]))
        first = ctx.scores("a", "jaro_winkler")
        assert ctx.scores("a", "jaro_winkler") is first
        assert np.isnan(first[1])
        assert 0.8 < first[0] < 1.0

    def test_distance_metrics_count_edits(self) -> None:
        """Distance metrics report edits: 0 for equal values, 1 for a transposition (Damerau)."""
        frame = Frame({"a": ["abcd", "abdc", "abcd"]})
        ctx = PairContext(frame, np.array([0, 0]), np.array([1, 2]))
        assert ctx.scores("a", "damerau_levenshtein").tolist() == [1.0, 0.0]
        assert ctx.scores("a", "levenshtein").tolist() == [2.0, 0.0]

    def test_parsed_dates_and_numbers(self) -> None:
        """Dates parse to day numbers and numbers to floats; unparseable values are NaN."""
        frame = Frame({"d": ["2020-01-01", "2020-01-31", "soon"], "x": ["1,000", "2", "x"]})
        ctx = PairContext(frame, np.array([0, 0]), np.array([1, 2]))
        a, b = ctx.parsed("d", "date")
        assert (b - a)[0] == 30
        assert np.isnan(b[1])
        na, nb = ctx.parsed("x", "number")
        assert na.tolist() == [1000.0, 1000.0]
        assert nb[0] == 2.0


class TestSharesRareWord:
    @settings(max_examples=60, deadline=None)
    @given(
        st.lists(
            st.one_of(st.none(), st.lists(st.sampled_from("abcdefg"), min_size=1, max_size=3)
                      .map(" ".join)),
            min_size=2, max_size=12,
        ),
        st.integers(1, 4),
    )
    def test_matches_a_brute_force_reference(self, values: list[str | None], cap: int) -> None:
        """A pair shares a rare word exactly when some word on both sides is held by at most
        ``cap`` records (counted by brute force over the rows)."""
        frame = Frame({"w": values})
        left, right = all_pairs(len(values))
        got = PairContext(frame, left, right).shares_rare_word("w", cap)
        held = [set(v.split()) if v is not None else set() for v in values]
        records = {w: sum(w in h for h in held) for h in held for w in h}
        want = [any(records[w] <= cap for w in held[i] & held[j])
                for i, j in zip(left.tolist(), right.tolist(), strict=True)]
        assert got.tolist() == want


class TestExactLevel:
    def test_equal_present_values(self) -> None:
        """Exact: equal present values."""
        comp = Comparison("a", (ExactLevel("a"),))
        assert levels_of(comp, [{"a": "x"}, {"a": "x"}, {"a": "x"}, {"a": "y"}]) == [1, 2]


class TestSimilarityLevel:
    def test_threshold_is_inclusive(self) -> None:
        """A similarity equal to the threshold satisfies the level."""
        comp = Comparison("a", (SimilarityLevel("a", "ratio", 0.5),))
        assert levels_of(comp, [{"a": "ab"}, {"a": "ac"}, {"a": "ab"}, {"a": "cd"}]) == [1, 2]


class TestDateDiffLevel:
    def test_within_max_days(self) -> None:
        """Dates within max_days; unparseable dates fall through to else."""
        comp = Comparison("d", (DateDiffLevel("d", 31),))
        rows = [{"d": "2020-01-01"}, {"d": "2020-02-01"}, {"d": "2020-01-01"},
                {"d": "2020-02-02"}, {"d": "2020-01-01"}, {"d": "01/01/2020"}]
        assert levels_of(comp, rows) == [1, 2, 2]


class TestNumericLevel:
    def test_absolute_and_relative(self) -> None:
        """Numeric tolerance is absolute, or a fraction of the larger magnitude."""
        absolute = Comparison("x", (NumericLevel("x", 1.0),))
        relative = Comparison("x", (NumericLevel("x", 0.1, relative=True),))
        rows = [{"x": "100"}, {"x": "101"}, {"x": "100"}, {"x": "109"}]
        assert levels_of(absolute, rows) == [1, 2]
        assert levels_of(relative, rows) == [1, 1]


class TestSwappedLevel:
    def test_fields_crossed(self) -> None:
        """Given and family names swapped match; the same name in both fields does not."""
        comp = Comparison("n", (SwappedLevel("f", "l"),), missing=("f",))
        rows = [{"f": "lee", "l": "ann"}, {"f": "ann", "l": "lee"},
                {"f": "lee", "l": "lee"}, {"f": "lee", "l": "lee"}]
        assert levels_of(comp, rows) == [1, 2]

    def test_fuzzy_swap(self) -> None:
        """With a metric, a swap carrying a typo or a nickname counts; unrelated names, a
        straight (unswapped) pair and the same value in both fields do not."""
        comp = Comparison("n", (SwappedLevel("f", "l", metric="jaro_winkler", threshold=0.9),),
                          missing=("f",))
        rows = [{"f": "sakai", "l": "kaito"}, {"f": "kato", "l": "sakai"},
                {"f": "lewis", "l": "jeff"}, {"f": "jeffrey", "l": "lewis"},
                {"f": "ann", "l": "lee"}, {"f": "bob", "l": "smith"},
                {"f": "ann", "l": "lee"}, {"f": "ann", "l": "lee"},
                {"f": "lee", "l": "lee"}, {"f": "lee", "l": "lee"}]
        assert levels_of(comp, rows) == [1, 1, 2, 2, 2]

    def test_round_trip(self) -> None:
        """The metric and threshold survive the dict form; an old dict without them is exact."""
        level = SwappedLevel("f", "l", metric="jaro_winkler", threshold=0.9)
        assert level_from_dict(level.to_dict()) == level
        assert level_from_dict({"kind": "swapped", "first": "f", "second": "l"}) == (
            SwappedLevel("f", "l"))

    def test_bad_metric(self) -> None:
        """An unknown metric or a similarity threshold over 1 is refused."""
        with pytest.raises(MatchingConfigError):
            SwappedLevel("f", "l", metric="nope")
        with pytest.raises(MatchingConfigError):
            SwappedLevel("f", "l", metric="jaro", threshold=2.0)


class TestCrossExactLevel:
    def test_acronym(self) -> None:
        """An acronym on one side matches the company key of the other, either way round."""
        comp = Comparison("c", (CrossExactLevel("lower(c)", "acronym(c)"),))
        rows = [{"c": "IBM"}, {"c": "International Business Machines"},
                {"c": "International Business Machines"}, {"c": "IBM"}]
        assert levels_of(comp, rows) == [1, 1]


class TestInitialLevel:
    def test_one_letter_agrees(self) -> None:
        """A single letter agrees with a full value starting with it, not with another letter."""
        comp = Comparison("f", (InitialLevel("f"),))
        rows = [{"f": "j"}, {"f": "john"}, {"f": "j"}, {"f": "ann"}, {"f": "jo"}, {"f": "john"}]
        assert levels_of(comp, rows) == [1, 2, 2]


class TestAllOf:
    def test_needs_every_level(self) -> None:
        """AllOf needs every sub-level."""
        comp = Comparison("e", (AllOf((ExactLevel("email_domain(e)"),
                                       SimilarityLevel("email_local(e)", "jaro_winkler", 0.9))),))
        rows = [{"e": "jdoe@acme.io"}, {"e": "jdoe1@acme.io"},
                {"e": "jdoe@acme.io"}, {"e": "jdoe@globex.io"}]
        assert levels_of(comp, rows) == [1, 2]


class TestFuzzyComparison:
    def test_first_level_wins_and_missing(self) -> None:
        """Levels are tried in order; a missing side is level 0."""
        comp = fuzzy_comparison("a", thresholds=(0.8,))
        rows = [{"a": "anna"}, {"a": "anna"}, {"a": "anna"}, {"a": "anne"},
                {"a": "anna"}, {"a": None}, {"a": "anna"}, {"a": "zed"}]
        assert levels_of(comp, rows) == [1, 2, 0, 3]


class TestLevelFromDict:
    @pytest.mark.parametrize(
        "level",
        [
            ExactLevel("a", tf=True, name="x"),
            SimilarityLevel("a", "levenshtein", 2),
            DateDiffLevel("a", 3),
            NumericLevel("a", 0.5, relative=True),
            SwappedLevel("a", "b"),
            CrossExactLevel("a", "acronym(b)"),
            InitialLevel("a"),
            AllOf((ExactLevel("a"), InitialLevel("b")), name="both"),
        ],
    )
    def test_dict_round_trip(self, level) -> None:
        """Every level kind rebuilds from its dict form."""
        assert level_from_dict(level.to_dict()) == level

    def test_validation(self) -> None:
        """Bad metrics, thresholds and kinds are refused with a clear message."""
        with pytest.raises(MatchingConfigError, match="unknown metric"):
            SimilarityLevel("a", "cosine", 0.5)
        with pytest.raises(MatchingConfigError, match=r"in \[0, 1\]"):
            SimilarityLevel("a", "jaro_winkler", 1.5)
        with pytest.raises(MatchingConfigError, match="negative"):
            SimilarityLevel("a", "levenshtein", -1)
        with pytest.raises(MatchingConfigError, match="unknown comparison level kind"):
            level_from_dict({"kind": "magic"})
        with pytest.raises(MatchingConfigError, match=r"'level\.colour' .* unknown key") as info:
            level_from_dict({"kind": "exact", "expression": "a", "colour": "red"})
        assert [(p.field, p.rule) for p in info.value.problems] == [
            ("level.colour", "level.unknown_key")
        ]


class TestComparison:
    def test_labels_and_levels(self) -> None:
        """Labels are missing, the given levels, then else; TF levels are listed."""
        comp = fuzzy_comparison("a", thresholds=(0.9,), tf=True)
        assert comp.labels == ("missing", "exact a", "jaro_winkler a >= 0.9", "else")
        assert comp.n_levels == 4
        assert comp.tf_levels == (1,)
        assert comp.missing == ("a",)
        assert comp.columns == frozenset({"a"})

    def test_missing_needs_no_field_on_both_sides(self) -> None:
        """With several missing fields, a pair is missing only if none is on both sides."""
        comp = location_comparison()
        rows = [{"postcode": None, "city": "leeds"}, {"postcode": "LS1", "city": "leeds"},
                {"postcode": None, "city": "leeds"}, {"postcode": "LS1", "city": None}]
        assert levels_of(comp, rows) == [3, 0]

    def test_needs_levels(self) -> None:
        """A comparison needs at least one level and at most 30."""
        with pytest.raises(MatchingConfigError, match="at least one level"):
            Comparison("a", ())
        with pytest.raises(MatchingConfigError, match="at most 30"):
            Comparison("a", tuple(ExactLevel(f"prefix(a, {k})") for k in range(1, 32)))

    @pytest.mark.parametrize(
        "comp", [*LIBRARY, exact_match("country", tf=True)], ids=lambda c: c.name
    )
    def test_dict_round_trip(self, comp) -> None:
        """Every library comparison rebuilds from its dict form."""
        assert comparison_from_dict(comp.to_dict()) == comp


class TestGivenNameComparison:
    def test_levels(self) -> None:
        """Nicknames, swapped names, typos and initials land on their own levels."""
        comp = given_name_comparison()
        labels = comp.labels
        pairs = [("robert", "smith", "bob", "smith"), ("lee", "ann", "ann", "lee"),
                 ("jonathan", "x", "jonathon", "x"), ("j", "x", "jonathan", "x")]
        rows = [
            {"first_name": f, "last_name": last}
            for f1, l1, f2, l2 in pairs
            for f, last in ((f1, l1), (f2, l2))
        ]
        got = [labels[k] for k in levels_of(comp, rows)]
        assert got == ["nickname of the same name", "given and family names swapped",
                       "jaro_winkler first_name >= 0.92", "initial agrees"]

    def test_one_typo_below_the_similar_level(self) -> None:
        """A typo in a short given name is its own level; a long one stays "similar"."""
        comp = given_name_comparison(family=None)
        rows = [{"first_name": "uwe"}, {"first_name": "ume"},
                {"first_name": "hartmut"}, {"first_name": "hartmhut"},
                {"first_name": "uwe"}, {"first_name": "ute"}]
        labels = [comp.labels[k] for k in levels_of(comp, rows)]
        assert labels[0] == labels[2] == "one character off"
        assert labels[1] == "jaro_winkler first_name >= 0.92"


class TestEmailComparison:
    def test_levels(self) -> None:
        """Same address, then same local part ignoring dots and +tags, else."""
        comp = email_comparison()
        rows = [{"email": "jdoe@acme.io"}, {"email": "jdoe@acme.io"},
                {"email": "j.doe+crm@acme.io"}, {"email": "jdoe@globex.io"},
                {"email": "jdoe@acme.io"}, {"email": "ann@initech.io"}]
        assert [comp.labels[k] for k in levels_of(comp, rows)] == [
            "same address", "same local part", "else"]

    def test_local_part_made_of_the_name(self) -> None:
        """With the name expressions, a shared local part made only of either record's own
        name (namesakes at two providers) is not "same local part"; one with more in it (a
        number, a nickname, a role mailbox) still is."""
        comp = email_comparison(names=("first_name", "last_name"))
        person = [("Giuseppe", "Romano", "giusepperomano"), ("John", "Smith", "j.smith"),
                  ("Hiroshi", "Tanaka", "htanaka36"), ("Robert", "Smith", "bob.smith"),
                  ("Zoë", "van Dijk", "zoe_vandijk"), ("Ann", "Lee", "info")]
        rows = [{"first_name": f, "last_name": last, "email": f"{local}@{domain}"}
                for f, last, local in person for domain in ("libero.it", "virgilio.it")]
        assert [comp.labels[k] for k in levels_of(comp, rows)] == [
            "else", "else", "same local part", "same local part", "else", "same local part"]
        # either record's own name is enough: a typo on one side keeps the other's
        rows = [{"first_name": "Giuseppe", "last_name": "Romano", "email": "gromano@a.it"},
                {"first_name": "Giusepe", "last_name": "Romani", "email": "gromano@b.it"}]
        assert [comp.labels[k] for k in levels_of(comp, rows)] == ["else"]
        # without the names the level is as before (and its dict form unchanged)
        assert "unless_made_of" not in email_comparison().to_dict()["levels"][1]
        assert comparison_from_dict(comp.to_dict()) == comp

    @given(st.sampled_from(["Ann", "Zoë", "O'Neil", "van Dijk", "J", "", "Li", "bob7"]),
           st.sampled_from(["Lee", "Smith", "Müller-Lüdenscheidt", "de la Cruz", "X"]),
           st.lists(st.sampled_from(["ann", "zoe", "o", "neil", "oneil", "vandijk", "j", "li",
                                     "lee", "smith", "mueller", "mullerludenscheidt", "x",
                                     "delacruz", ".", "_", "-", "7", "A", "S"]),
                    min_size=1, max_size=4))
    def test_made_of_words_equals_the_listed_forms(self, given_name, family, parts) -> None:
        """:func:`made_of_words` equals looking the value up among every form listed."""
        value = "".join(parts)
        assert made_of_words(value, (given_name, family)) == naive_made_of(
            value, [given_name, family])

    def test_numbered_mailbox(self) -> None:
        """Two mailboxes at one domain that differ by a trailing number have their own level;
        the same numbered stem at another domain, or another name, do not."""
        comp = email_comparison()
        rows = [{"email": "a.rodriguez@acme.io"}, {"email": "a.rodriguez2@acme.io"},
                {"email": "mgomez2@acme.io"}, {"email": "mgomez3@acme.io"},
                {"email": "a.rodriguez@acme.io"}, {"email": "a.rodriguez2@globex.io"},
                {"email": "a.rodriguez@acme.io"}, {"email": "b.rodriguez@acme.io"},
                {"email": "2024@acme.io"}, {"email": "2025@acme.io"}]
        assert [comp.labels[k] for k in levels_of(comp, rows)] == [
            NUMBERED_MAILBOX, NUMBERED_MAILBOX, "else", "same domain", "same domain"]


class TestFamilyNameComparison:
    def test_swapped_with_the_given_name(self) -> None:
        """With ``given`` set, a swap (even with a typo) is its own level, not "else"."""
        comp = family_name_comparison(given="first_name")
        rows = [{"first_name": "kaito", "last_name": "sakai"},
                {"first_name": "sakai", "last_name": "kato"},
                {"first_name": "diane", "last_name": "aguirre"},
                {"first_name": "aguirre", "last_name": "diane"},
                {"first_name": "ann", "last_name": "lee"},
                {"first_name": "bob", "last_name": "smith"}]
        assert [comp.labels[k] for k in levels_of(comp, rows)] == [
            SWAPPED_NAMES, SWAPPED_NAMES, "else"]
        assert SWAPPED_NAMES not in family_name_comparison().labels

    def test_one_typo_in_a_short_name(self) -> None:
        """One edit that Jaro-Winkler >= 0.92 misses (a short name) is "one character off",
        above the sound and the looser similarity; two edits are not."""
        comp = family_name_comparison()
        rows = [{"last_name": "klein"}, {"last_name": "klbin"},
                {"last_name": "koch"}, {"last_name": "okch"},
                {"last_name": "roth"}, {"last_name": "rotgg"},
                {"last_name": "hoffmann"}, {"last_name": "hoffmsnn"}]
        assert [comp.labels[k] for k in levels_of(comp, rows)] == [
            "one character off", "one character off", "jaro_winkler last_name >= 0.8",
            "jaro_winkler last_name >= 0.92"]


class TestPhoneComparison:
    def test_levels(self) -> None:
        """Same digits, same national number, one digit off."""
        comp = phone_comparison()
        rows = [{"phone": "+44 20 7946 0001"}, {"phone": "442079460001"},
                {"phone": "+44 20 7946 0001"}, {"phone": "020 7946 0001"},
                {"phone": "020 7946 0001"}, {"phone": "020 7946 0002"}]
        assert [comp.labels[k] for k in levels_of(comp, rows)] == [
            "same number", "same national number", "one digit off"]


    def test_extensions(self) -> None:
        """On prepared keys (an extension written ``;ext=N``): the same number with the same
        extension is the same number; two extensions of one line (colleagues) and one
        extension written on one side only are two levels of their own, not "else"."""
        comp = phone_comparison()
        rows = [{"phone": "+16127458190;ext=565"}, {"phone": "+16127458190;ext=565"},
                {"phone": "+16127458190;ext=565"}, {"phone": "+16127458190;ext=566"},
                {"phone": "+16127458190;ext=565"}, {"phone": "+16127458190"},
                {"phone": "+16127458190"}, {"phone": "6127458190"},
                {"phone": "+16127458190;ext=565"}, {"phone": "+16127458191"}]
        assert [comp.labels[k] for k in levels_of(comp, rows)] == [
            "same number", "another extension of one line",
            "same line, extension on one side only", "same national number", "else"]

    def test_extension_written_anyhow_through_the_preset(self) -> None:
        """Raw writings, prepared by the contacts preset's phone key: ``(ext. 565)`` on one
        side only is the same line, not "else"."""
        from crmcore.io import to_table
        from crmcore.matching import contacts, prepare_frame

        table = to_table([{"record_id": "a", "phone": "+16127458190 (ext. 565)"},
                          {"record_id": "b", "phone": "+1 612 745 8190"},
                          {"record_id": "c", "phone": "+1 612 745 8190 x 566"}])
        settings = contacts(table.column_names)
        frame, _ = prepare_frame(table, settings, ids=table.column("record_id"))
        comp = next(c for c in settings.comparisons if c.name == "phone")
        got = compute_levels([comp], frame, np.array([0, 0]), np.array([1, 2]))[:, 0]
        assert [comp.labels[k] for k in got] == [
            "same line, extension on one side only", "another extension of one line"]


class TestCompanyComparison:
    def test_levels(self) -> None:
        """Legal form ignored; acronyms match the full name."""
        comp = company_comparison()
        rows = [{"company": "Acme Ltd"}, {"company": "ACME Limited"},
                {"company": "IBM"}, {"company": "International Business Machines"}]
        assert [comp.labels[k] for k in levels_of(comp, rows)] == [
            "same name ignoring legal form", "acronym of the other"]


class TestDateComparison:
    def test_levels(self) -> None:
        """A transposed digit is one character off; dates 19 days apart are within a month."""
        comp = date_comparison()
        rows = [{"dob": "1980-01-21"}, {"dob": "1980-01-12"},
                {"dob": "1980-01-01"}, {"dob": "1980-01-20"}]
        assert [comp.labels[k] for k in levels_of(comp, rows)] == [
            "one character off", "within a month"]


class TestForget:
    def test_forgotten_caches_are_recomputed_the_same(self) -> None:
        """Dropping a cache frees it; asking again gives the same values."""
        frame = Frame({"a": ["ann", "anne", None, "bob"], "b": ["x", "x", "y", None]})
        ctx = PairContext(frame, np.array([0, 0, 1, 2]), np.array([1, 3, 3, 3]))
        before = ctx.scores("a", "jaro_winkler").copy()
        codes_b = [c.copy() for c in ctx.codes("b")]
        ctx.forget(["b"])
        assert ("a", "jaro_winkler") not in ctx._scores
        assert "a" not in ctx._codes
        assert "b" in ctx._codes
        np.testing.assert_array_equal(ctx.scores("a", "jaro_winkler"), before)
        for got, want in zip(ctx.codes("b"), codes_b, strict=True):
            np.testing.assert_array_equal(got, want)


# -- the pairwise form of every level kind ---------------------------------------------------
import importlib  # noqa: E402 - kept next to the tests that use it
import inspect  # noqa: E402
import pkgutil  # noqa: E402

import crmcore.matching  # noqa: E402
from crmcore.matching import RecordValues  # noqa: E402
from crmcore.matching._levels import LEVEL_KINDS  # noqa: E402
from crmcore.matching._pairs import DISTANCE_METRICS, SIMILARITY_METRICS  # noqa: E402

PAIR_COLUMNS = ("first_name", "last_name", "company", "city", "born", "amount")
pair_rows = st.fixed_dictionaries({
    "first_name": st.sampled_from(["ann", "anne", "a", "alice", "bob", "robert", "lee", "l",
                                   "", None]),
    "last_name": st.sampled_from(["lee", "leigh", "li", "l", "ann", "smith", "smyth", None]),
    "company": st.sampled_from(["acme", "acme inc", "international business machines", "ibm",
                                "inc acme", "Acme Corp Ltd", "bob", None]),
    "city": st.sampled_from(["paris", "Paris", "oslo", None]),
    "born": st.sampled_from(["1980-01-02", "1980-01-30", "1980-03-15", "1981-01-02T10:00",
                             "not a date", None]),
    "amount": st.sampled_from(["10", "10.4", "11", "-11.5", "nan", "inf", "1,000", "x", None]),
})
TEXT_EXPRESSIONS = st.sampled_from([
    "first_name", "last_name", "lower(city)", "canonical_given(first_name)",
    "metaphone(last_name)", "company_key(company)", "acronym(company)", "prefix(last_name, 2)",
    "initial( first_name )", "email_domain(company)",
])
NAME_EXPRESSIONS = st.sampled_from(["first_name", "last_name", "lower(company)"])


def _similarity_level() -> st.SearchStrategy[SimilarityLevel]:
    similar = st.builds(SimilarityLevel, TEXT_EXPRESSIONS, st.sampled_from(SIMILARITY_METRICS),
                        st.floats(0.0, 1.0))
    distant = st.builds(SimilarityLevel, TEXT_EXPRESSIONS, st.sampled_from(DISTANCE_METRICS),
                        st.integers(0, 3))
    return similar | distant


#: A strategy per level kind: a kind found below without an entry here fails the test.
LEVEL_STRATEGIES: dict[type, st.SearchStrategy] = {
    ExactLevel: st.builds(ExactLevel, TEXT_EXPRESSIONS, tf=st.booleans()),
    SimilarityLevel: _similarity_level(),
    DateDiffLevel: st.builds(DateDiffLevel, st.just("born"), st.integers(0, 400)),
    NumericLevel: st.builds(NumericLevel, st.just("amount"), st.floats(0.0, 2.0),
                            relative=st.booleans()),
    SwappedLevel: st.builds(SwappedLevel, TEXT_EXPRESSIONS, TEXT_EXPRESSIONS)
    | st.builds(SwappedLevel, TEXT_EXPRESSIONS, TEXT_EXPRESSIONS,
                metric=st.sampled_from(SIMILARITY_METRICS), threshold=st.floats(0.0, 1.0))
    | st.builds(SwappedLevel, TEXT_EXPRESSIONS, TEXT_EXPRESSIONS,
                metric=st.sampled_from(DISTANCE_METRICS), threshold=st.integers(0, 3)),
    CrossExactLevel: st.builds(CrossExactLevel, TEXT_EXPRESSIONS, TEXT_EXPRESSIONS),
    InitialLevel: st.builds(InitialLevel, NAME_EXPRESSIONS),
    TokenOverlapLevel: st.builds(TokenOverlapLevel, TEXT_EXPRESSIONS, st.floats(0.0, 1.0),
                                 metric=st.sampled_from(["dice", "containment"])),
}
_LEAVES = st.one_of(*LEVEL_STRATEGIES.values())
LEVEL_STRATEGIES[AllOf] = st.builds(AllOf, st.lists(_LEAVES, min_size=1, max_size=3))


def level_kinds() -> set[type]:
    """Every level kind of crmcore.matching: the registry, and any class of any module of the
    package with a ``mask`` method and a ``kind`` (so a kind left out of the registry counts)."""
    found = set(LEVEL_KINDS.values())
    for info in pkgutil.walk_packages(crmcore.matching.__path__, "crmcore.matching."):
        if ".spark" in info.name:  # needs pyspark; holds no level kinds
            continue
        module = importlib.import_module(info.name)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ == module.__name__ and callable(getattr(cls, "mask", None)) and (
                isinstance(getattr(cls, "kind", None), str)
            ):
                found.add(cls)
    return found


class TestPairwiseForm:
    def test_every_level_kind_has_a_pairwise_form_and_a_test(self):
        """Every level kind found defines ``holds`` next to ``mask`` and has a strategy in
        LEVEL_STRATEGIES (a new kind without them fails here, not silently in real time)."""
        kinds = level_kinds()
        assert len(kinds) >= 8
        without_holds = sorted(k.__name__ for k in kinds
                               if "mask" in vars(k) and "holds" not in vars(k))
        assert without_holds == []
        untested = sorted(k.__name__ for k in kinds if k not in LEVEL_STRATEGIES)
        assert untested == [], f"add a strategy to LEVEL_STRATEGIES for {untested}"

    @settings(max_examples=150, deadline=None)
    @given(st.one_of(*LEVEL_STRATEGIES.values()), st.lists(pair_rows, min_size=2, max_size=8))
    def test_holds_equals_mask(self, level, rows):
        """``holds`` on one pair equals ``mask`` on every pair of a frame, for every kind."""
        frame = Frame({c: [r[c] for r in rows] for c in PAIR_COLUMNS})
        left, right = all_pairs(len(rows))
        batch = level.mask(PairContext(frame, left, right)).tolist()
        memo: dict = {}
        values = [RecordValues(r, memo) for r in rows]
        pairwise = [level.holds(values[i], values[j])
                    for i, j in zip(left.tolist(), right.tolist(), strict=True)]
        assert pairwise == batch

    @settings(max_examples=80, deadline=None)
    @given(st.lists(st.one_of(*LEVEL_STRATEGIES.values()), min_size=1, max_size=4),
           st.lists(TEXT_EXPRESSIONS, max_size=2), st.lists(pair_rows, min_size=2, max_size=8))
    def test_level_of_equals_evaluate(self, levels, missing, rows):
        """``Comparison.level_of`` on one pair equals ``evaluate`` over all pairs."""
        comparison = Comparison("c", tuple(levels), missing=tuple(missing))
        frame = Frame({c: [r[c] for r in rows] for c in PAIR_COLUMNS})
        left, right = all_pairs(len(rows))
        batch = comparison.evaluate(PairContext(frame, left, right)).tolist()
        values = [RecordValues(r) for r in rows]
        pairwise = [comparison.level_of(values[i], values[j])
                    for i, j in zip(left.tolist(), right.tolist(), strict=True)]
        assert pairwise == batch

    def test_library_comparisons_agree_on_crm_values(self):
        """The CRM comparisons' pairwise levels equal the columnar ones on real-looking rows."""
        rows = [
            {"first_name": "Bob", "last_name": "Smith", "email": "b.smith+x@acme.com",
             "phone": "+44 20 7946 0000", "company": "International Business Machines",
             "dob": "1980-01-02", "city": "Paris", "postcode": "75001"},
            {"first_name": "Robert", "last_name": "Smyth", "email": "bsmith@acme.com",
             "phone": "020 7946 0001", "company": "IBM", "dob": "1980-01-20", "city": "paris",
             "postcode": "75002"},
            {"first_name": "smith", "last_name": "bob", "email": None, "phone": "7946 0000",
             "company": "IBM Corp", "dob": "1980-02-02", "city": "Lyon", "postcode": "75001"},
        ]
        columns = sorted({k for r in rows for k in r})
        frame = Frame({c: [r.get(c) for r in rows] for c in columns})
        left, right = all_pairs(len(rows))
        values = [RecordValues({c: r.get(c) for c in columns}) for r in rows]
        for comparison in LIBRARY:
            batch = comparison.evaluate(PairContext(frame, left, right)).tolist()
            pairwise = [comparison.level_of(values[i], values[j])
                        for i, j in zip(left.tolist(), right.tolist(), strict=True)]
            assert pairwise == batch, comparison.name

    def test_record_values_name_a_missing_column(self):
        """Reading an expression over a column the record lacks names the column."""
        with pytest.raises(MatchingConfigError, match="no column 'email'"):
            RecordValues({"first_name": "ann"})["email_domain(email)"]
