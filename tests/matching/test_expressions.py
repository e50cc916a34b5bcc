"""Field expressions and the coded frame: parsing, functions, codes against per-row values."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crmcore.errors import MatchingConfigError
from crmcore.matching import EXPRESSION_FUNCTIONS, Frame, parse_expression
from crmcore.matching._functions import MULTI_VALUED_FUNCTIONS
from tests.matching.strategies import (
    EMAILS,
    MULTI_EXPRESSIONS,
    PHONES,
    SINGLE_EXPRESSIONS,
    frame_of,
    naive_value,
    naive_values,
    records,
)


def fn(name: str, value: str, argument: int | None = None) -> str | None:
    function, _ = EXPRESSION_FUNCTIONS[name]
    result: str | None = function(value) if argument is None else function(value, argument)
    return result


class TestParseExpression:
    def test_bare_column(self) -> None:
        """A bare name parses to a column with no function."""
        expr = parse_expression(" last_name ")
        assert (expr.column, expr.function, expr.inner) == ("last_name", None, None)
        assert expr.text == "last_name"

    def test_nested_call_with_argument(self) -> None:
        """Nested calls keep the innermost column and the integer argument of the outer call."""
        expr = parse_expression("prefix( metaphone(last_name) , 3)")
        assert expr.column == "last_name"
        assert (expr.function, expr.argument) == ("prefix", 3)
        assert expr.inner is not None
        assert expr.inner.function == "metaphone"
        assert expr.text == "prefix(metaphone(last_name), 3)"

    @pytest.mark.parametrize("text", SINGLE_EXPRESSIONS + MULTI_EXPRESSIONS)
    def test_canonical_text_round_trips(self, text: str) -> None:
        """The canonical text parses back to the same expression."""
        expr = parse_expression(text)
        assert parse_expression(expr.text) == expr

    @pytest.mark.parametrize(
        ("text", "fragment"),
        [
            ("nosuch(last_name)", "unknown function 'nosuch'"),
            ("prefix(last_name)", "needs a number"),
            ("lower(last_name, 2)", "takes no number"),
            ("tokens(city, 2)", "takes no number"),
            ("lower(tokens(city))", "must be the outermost call"),
            ("a(b", "not a column or a call"),
        ],
    )
    def test_bad_expressions_raise_with_the_text(self, text: str, fragment: str) -> None:
        """Bad expressions raise MatchingConfigError naming the expression and the problem."""
        with pytest.raises(MatchingConfigError, match=fragment) as info:
            parse_expression(text)
        assert repr(text) in str(info.value)

    def test_multi_valued_flag(self) -> None:
        """Only the multi-valued functions mark an expression as multi-valued."""
        assert parse_expression("tokens(company)").multi_valued
        assert not parse_expression("sorted_tokens(company)").multi_valued


class TestExpressionFunctions:
    @pytest.mark.parametrize(
        ("name", "value", "argument", "expected"),
        [
            ("lower", "  ÉMILE Zola ", None, "emile zola"),
            ("digits", "+44 (20) 7946-0001", None, "442079460001"),
            ("email_local", "J.Doe+crm@Acme.io", None, "jdoe"),
            ("email_local", "no-at-sign", None, None),
            ("email_domain", "j.doe@Acme.IO", None, "acme.io"),
            ("email_domain", "j.doe@", None, None),
            ("national_number", "+44 20 7946 0001", None, "079460001"),
            ("national_number", "12345", None, None),
            ("phone_line", "+16127458190;ext=565", None, "+16127458190"),
            ("phone_line", "6127458190", None, "6127458190"),
            ("switchboard", "+16127458190;ext=565", None, "+16127458190"),
            ("line_number", "+16127458190;ext=565", None, "127458190"),
            ("line_number", "6127458190", None, "127458190"),
            ("switchboard", "+16127458190", None, None),
            ("initial", "Éric", None, "e"),
            ("initial", "-x", None, None),
            ("first_token", "Mary-Jane Watson", None, "mary"),
            ("last_token", "Mary-Jane Watson", None, "watson"),
            ("sorted_tokens", "Watson, Mary", None, "mary watson"),
            ("acronym", "International Business Machines", None, "ibm"),
            ("acronym", "Acme", None, None),
            ("acronym", "Bank of the West", None, "bw"),
            ("year", "1980-01-31", None, "1980"),
            ("year_month", "1980-01-31", None, "1980-01"),
            ("month_day", "1980-01-31", None, "01-31"),
            ("year", "31/01/1980", None, None),
            ("prefix", "Smith", 3, "Smi"),
            ("suffix", "Smith", 2, "th"),
            ("last_digits", "020 7946 0001", 4, "0001"),
            ("last_digits", "12", 4, None),
            ("soundex", "Robert", None, "R163"),
            ("metaphone", "", None, None),
        ],
    )
    def test_examples(
        self, name: str, value: str, argument: int | None, expected: str | None
    ) -> None:
        """Each function maps a value to the documented key (or None when it has none)."""
        assert fn(name, value, argument) == expected

    def test_canonical_given_maps_nicknames_together(self) -> None:
        """Nicknames share the canonical given name of the formal name."""
        assert fn("canonical_given", "Bob") == fn("canonical_given", "Robert")
        assert fn("canonical_given", "Bob") != fn("canonical_given", "Ann")

    def test_company_key_ignores_legal_form(self) -> None:
        """Company keys of the same name with and without a legal form agree."""
        assert fn("company_key", "Acme Ltd") == fn("company_key", "ACME Limited")

    def test_phonetic_codes_agree_on_sound_alikes(self) -> None:
        """Sound-alike surnames share a phonetic code."""
        assert fn("soundex", "Smith") == fn("soundex", "Smyth")
        assert fn("metaphone", "Smith") == fn("metaphone", "Smyth")

    def test_tokens_drop_stop_words(self) -> None:
        """The multi-valued tokens() function yields distinct words without stop words."""
        assert MULTI_VALUED_FUNCTIONS["tokens"]("Bank of the West, West") == ["bank", "west"]


class TestDeletions:
    """deletions(): the value and each value one character shorter (typo-tolerant keys)."""

    def test_keys_of_a_name(self) -> None:
        """A name's keys are itself and its one-character deletions, each once."""
        assert MULTI_VALUED_FUNCTIONS["deletions"]("smith") == [
            "mith", "sith", "smih", "smit", "smith", "smth"]

    @pytest.mark.parametrize(
        ("a", "b"),
        [("smith", "smiht"), ("smith", "smyth"), ("smith", "smiith"), ("smith", "smit"),
         ("de luca", "deluca")],
    )
    def test_one_typo_shares_a_key(self, a: str, b: str) -> None:
        """A transposition, a substitution, an insertion, a deletion or a space keeps a key."""
        fn_ = MULTI_VALUED_FUNCTIONS["deletions"]
        assert set(fn_(a)) & set(fn_(b))

    @settings(max_examples=300, deadline=None)
    @given(st.text("abc ", min_size=1, max_size=6), st.text("abc ", min_size=1, max_size=6))
    def test_shared_key_iff_one_deletion_each(self, a: str, b: str) -> None:
        """Two values share a key exactly when deleting at most one character from each makes
        them equal and non-empty: an indel distance of at most 2 with lengths at most one
        apart (brute force by rapidfuzz's Indel distance)."""
        from rapidfuzz.distance import Indel

        fn_ = MULTI_VALUED_FUNCTIONS["deletions"]
        shared = bool(set(fn_(a)) & set(fn_(b)))
        expected = (Indel.distance(a, b) <= 2 and abs(len(a) - len(b)) <= 1
                    and (a == b or max(len(a), len(b)) > 1))
        assert shared == expected


class TestFrame:
    @settings(max_examples=40, deadline=None)
    @given(records(), st.sampled_from(SINGLE_EXPRESSIONS))
    def test_codes_equal_per_row_values(self, rows, expression) -> None:
        """Codes decode to the value computed row by row; equal codes mean equal values."""
        frame = frame_of(rows)
        codes = frame.codes(expression)
        expected = [naive_value(expression, r) for r in rows]
        assert frame.values(expression) == expected
        assert [frame.string(int(c)) for c in codes] == expected
        for i in range(len(rows)):
            for j in range(len(rows)):
                same = expected[i] is not None and expected[i] == expected[j]
                assert (codes[i] == codes[j] and codes[i] >= 0) == same

    @settings(max_examples=40, deadline=None)
    @given(records(), st.sampled_from(SINGLE_EXPRESSIONS), st.sampled_from(["outer", "inner"]))
    def test_codes_apart_equal_per_row_values(self, rows, expression, which) -> None:
        """Expressions coded apart (the outer one, or those inside it) decode to the per-row
        values, equal codes meaning equal values; the shared dictionary stays one."""
        chain = []
        expr = parse_expression(expression)
        while expr is not None:
            chain.append(expr.text)
            expr = expr.inner
        frame = frame_of(rows, apart=chain[:1] if which == "outer" else chain[1:])
        first, last = frame.codes("first_name"), frame.codes("last_name")
        codes = frame.codes(expression)
        expected = [naive_value(expression, r) for r in rows]
        assert frame.values(expression) == expected
        for i in range(len(rows)):
            for j in range(len(rows)):
                same = expected[i] is not None and expected[i] == expected[j]
                assert (codes[i] == codes[j] and codes[i] >= 0) == same
                shared = rows[i]["first_name"] is not None and (
                    rows[i]["first_name"] == rows[j]["last_name"])
                assert (first[i] == last[j] and first[i] >= 0) == shared

    @settings(max_examples=30, deadline=None)
    @given(records(), st.sampled_from(MULTI_EXPRESSIONS))
    def test_exploded_equals_per_row_keys(self, rows, expression) -> None:
        """A multi-valued expression explodes into exactly each row's set of keys."""
        frame = frame_of(rows)
        got_rows, keys = frame.exploded(expression)
        got: dict[int, set[str]] = {i: set() for i in range(len(rows))}
        for r, k in zip(got_rows.tolist(), keys.tolist(), strict=True):
            value = frame.string(k)
            assert value is not None
            got[r].add(value)
        assert got == {i: naive_values(expression, r) for i, r in enumerate(rows)}

    @settings(max_examples=8, deadline=None)
    @given(
        st.lists(
            st.one_of(
                st.sampled_from([*EMAILS, *PHONES, "A.B+c@X.io ", "a@b@c", "@", "+", "x@", ""]),
                st.text(alphabet="aZ09 .+@-_()\t\u00e9\u0663", max_size=12),
            ),
            min_size=1, max_size=20,
        ),
        st.sampled_from(["digits", "email_local", "email_domain", "national_number",
                         "last_digits(a, 4)", "lower", "phone_line", "switchboard",
                         "line_number"]),
    )
    def test_big_columns_equal_per_row_values(self, base, function) -> None:
        """Columns of 20k+ rows and 2k+ distinct values decode to the per-row values too."""
        distinct = [f"{v}{suffix}" for k in range(1000) for v in base
                    for suffix in (f" +{k}@{k}", f"{k}")]
        values: list[str | None] = [*distinct, None] * (20_000 // (len(distinct) + 1) + 1)
        expr = function if "(" in function else f"{function}(a)"
        frame = Frame({"a": values})
        row = {"a": None}
        expected = []
        for v in values:
            row["a"] = v
            expected.append(naive_value(expr, row))
        assert frame.values(expr) == expected
        assert frame.values("a") == values

    @pytest.mark.parametrize("apart", [("a",), ("national_number(a)",),
                                       ("a", "digits(a)", "national_number(a)")])
    def test_big_columns_apart(self, apart: tuple[str, ...]) -> None:
        """Through pyarrow, expressions coded apart decode to the per-row values, one code per
        value each; the values of other expressions keep their one code in the dictionary."""
        distinct = [f"+1 612 {k:07d}" if k % 3 else f"{k:07d}" for k in range(6000)]
        values: list[str | None] = [*distinct, None, *distinct[::2]] * 3
        tails = [None if v is None else v[-7:] for v in reversed(values)]
        frame = Frame({"a": values, "b": tails}, apart=apart)
        for expr in ("a", "digits(a)", "national_number(a)", "last_digits(a, 7)", "b"):
            codes = frame.codes(expr)
            got = frame.values(expr)
            row = {"a": None, "b": None}
            want = []
            for v, w in zip(values, frame.values("b"), strict=True):
                row["a"], row["b"] = v, w
                want.append(naive_value(expr, row))
            assert got == want, expr
            code_of: dict[str, int] = {}
            for c, v in zip(codes.tolist(), got, strict=True):
                assert (c < 0) == (v is None)
                if v is not None:
                    assert code_of.setdefault(v, c) == c, expr
            assert len(set(code_of.values())) == len(code_of), expr
        # the others share one dictionary: one code per string across them
        seen: dict[str, int] = {}
        shared = [e for e in ("a", "digits(a)", "national_number(a)", "last_digits(a, 7)", "b")
                  if e not in apart]
        for expr in shared:
            for c, v in zip(frame.codes(expr).tolist(), frame.values(expr), strict=True):
                if v is not None:
                    assert seen.setdefault(v, c) == c, expr
        assert len(seen) < sum(len(set(frame.values(e)) - {None}) for e in shared)
        # strings coded apart are made as read: one code, then all of them
        codes = frame.codes("national_number(a)")
        got = frame.values("national_number(a)")
        assert frame.string(int(codes[5])) == got[5]
        assert frame.strings()[codes[codes >= 0]].tolist() == [v for v in got if v is not None]

    def test_one_dictionary_across_columns(self) -> None:
        """Equal strings in different columns share one code."""
        frame = Frame({"a": ["lee", "ann"], "b": ["ann", None]})
        a, b = frame.codes("a"), frame.codes("b")
        assert a[1] == b[0]
        assert b[1] == -1

    def test_normaliser_rejections_are_recorded(self) -> None:
        """Rows whose value the normaliser rejects become missing and are listed."""
        frame = Frame({"e": ["x@acme.io", "bad", None]},
                      {"e": lambda v: v if "@" in v else None})
        assert frame.codes("e").tolist()[1:] == [-1, -1]
        assert frame.rejected["e"].tolist() == [1]

    def test_columns_of_different_lengths_raise(self) -> None:
        """Prepared columns must all have the same length."""
        with pytest.raises(MatchingConfigError, match="differ in length"):
            Frame({"a": ["x"], "b": ["x", "y"]})

    def test_unknown_column_raises_with_the_columns(self) -> None:
        """Asking for a column the frame lacks names it and the columns there are."""
        frame = Frame({"a": ["x"]})
        with pytest.raises(MatchingConfigError, match=r"'zz'.*\['a'\]"):
            frame.codes("lower(zz)")

    def test_multi_valued_codes_raise(self) -> None:
        """Multi-valued expressions have no single code per row."""
        frame = Frame({"a": ["x y"]})
        with pytest.raises(MatchingConfigError, match="multi-valued"):
            frame.codes("tokens(a)")

    def test_functions_run_once_per_distinct_value(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """An expression's function is called once per distinct value, not once per row."""
        calls: list[str] = []

        def spy(value: str) -> str:
            calls.append(value)
            return value.upper()

        monkeypatch.setitem(EXPRESSION_FUNCTIONS, "lower", (spy, False))  # type: ignore[index]
        frame = Frame({"a": ["x", "y", "x", None, "y", "x"]})
        assert frame.values("lower(a)") == ["X", "Y", "X", None, "Y", "X"]
        assert sorted(calls) == ["x", "y"]
        assert np.array_equal(frame.codes("lower(a)"), frame.codes("lower(a)"))


class TestArrowPath:
    """The pyarrow path (long columns, many distinct values) codes exactly as the Python path."""

    @staticmethod
    def _column(base: list[str]) -> list[str | None]:
        distinct = [f"{v}{k}" for k in range(700) for v in base]
        return [*distinct, None, *distinct[::3]] * 10

    @settings(max_examples=5, deadline=None)
    @given(
        st.lists(
            st.one_of(
                st.sampled_from([*EMAILS, *PHONES, "A.B+c@X.io ", "  ", "x@", "Ann"]),
                st.text(alphabet="aZ09 .+@-\u00e9", max_size=8),
            ),
            min_size=1, max_size=6, unique=True,
        )
    )
    def test_same_codes_as_the_python_path(self, base: list[str]) -> None:
        """Every code (hence the numbering of the shared dictionary) equals the Python path's,
        for plain and normalised columns, expressions and columns read with their encoding."""
        import pyarrow as pa

        from crmcore.io._arrow import arrow_to_table
        from crmcore.matching import PREPARE_KINDS
        from crmcore.matching import _expressions as ex

        values = self._column(base)
        exprs = ["a", "e", "digits(a)", "email_local(e)", "email_domain(a)", "lower(e)",
                 "national_number(a)", "prefix(a, 2)", "metaphone(a)", "b"]
        norm = {"e": PREPARE_KINDS["email"], "a": PREPARE_KINDS["phone"]}
        encoded = arrow_to_table(pa.table({"v": values})).columns["v"]
        assert list(encoded) == [v if v is None or v.strip() else None for v in values]

        def run(columns: dict[str, list[str | None]]) -> list[list[int]]:
            frame = Frame(columns, norm)
            return [frame.codes(e).tolist() for e in exprs]

        plain = {"a": values, "e": values, "b": values[::-1]}
        arrow = run(plain)
        with_encoding = run({"a": encoded, "e": encoded, "b": plain["b"]})
        old_rows, old_distinct = ex._ARROW_MIN_ROWS, ex._ARROW_MIN_DISTINCT
        try:
            ex._ARROW_MIN_ROWS = ex._ARROW_MIN_DISTINCT = 10**9
            python = run({k: list(v) for k, v in plain.items()})
        finally:
            ex._ARROW_MIN_ROWS, ex._ARROW_MIN_DISTINCT = old_rows, old_distinct
        for expr, got, want in zip(exprs, arrow, python, strict=True):
            assert got == want, expr
        # blank strings are missing in the read column, so compare where both have values
        for expr, got, want in zip(exprs, with_encoding, python, strict=True):
            if expr == "b":
                continue
            assert [g for g, v in zip(got, values, strict=True) if v is None or v.strip()] == [
                w for w, v in zip(want, values, strict=True) if v is None or v.strip()
            ], expr

    def test_dense_codes_rank_the_distinct_values(self) -> None:
        """Dense codes number an expression's distinct values 0..k-1 in code order."""
        frame = Frame({"a": ["x", "y", None, "x", "z"], "b": ["z", "q", "q", None, "x"]})
        dense, k = frame.dense_codes("b")
        codes = frame.codes("b")
        assert k == 3
        assert dense.tolist()[3] == -1
        present = codes >= 0
        order = np.argsort(codes[present])
        assert sorted(set(dense[present].tolist())) == [0, 1, 2]
        assert np.all(np.diff(dense[present][order]) >= 0)
        for i in range(5):
            for j in range(5):
                assert (dense[i] == dense[j]) == (codes[i] == codes[j])
