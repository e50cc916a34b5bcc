"""The optional pyarrow kernels answer exactly as the Python code they replace."""

from __future__ import annotations

import itertools
import re

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from crmcore.io._arrow import (
    EncodedColumn,
    all_fullmatch,
    arrow_to_table,
    blank,
    digits_only,
    encode,
    fold_key_codes,
    fullmatch_many,
    group_order,
    join_groups,
    sorted_codes,
    sorted_codes_filled,
)
from crmcore.survivorship import RegexValidator
from crmcore.survivorship._presets import EMAIL_LIKE, PHONE_LIKE
from crmcore.survivorship._records import default_key

TEXT = st.one_of(
    st.none(),
    st.integers(),
    st.text(max_size=10),
    st.text(alphabet="ab@. \t\x0b\x1c\xa0\u2003+0123456789()-xX", max_size=14),
    st.sampled_from(["ann@acme.io", " a@b.co ", "a@b", "+44 20 7946 0001", "020 7946 0001 x12",
                     "ann@acme.io\n", "ANN@ACME.IO", "k\u212a@acme.io"]),
)
PATTERNS = [EMAIL_LIKE, PHONE_LIKE, RegexValidator(r"[a-z]+\d?", ignore_case=True),
            RegexValidator(r"(a)\1")]  # a back-reference: not RE2, falls back to Python


class TestFullmatchMany:
    @settings(max_examples=60, deadline=None)
    @given(values=st.lists(TEXT, min_size=1, max_size=30), which=st.sampled_from(PATTERNS))
    def test_equals_python(self, values, which):
        """RE2 on plain text plus Python on the rest equals Python on everything."""
        got = fullmatch_many(which.pattern, which.ignore_case, values, which)
        want = [which(v) for v in values]
        assert got is None or got.tolist() == want
        big = values * (2001 // len(values) + 1)  # past the size where many() uses arrow
        assert which.many(big).tolist() == [which(v) for v in big]

    def test_not_re2_gives_none(self):
        """A pattern RE2 cannot run (back-reference) makes the kernel decline."""
        assert fullmatch_many(r"(a)\1", False, ["aa"], lambda v: True) is None


class TestSortedCodes:
    @settings(max_examples=60, deadline=None)
    @given(values=st.lists(st.text(max_size=6), min_size=1, max_size=40))
    def test_equals_python_sort(self, values):
        """Codes index the distinct values in Python's sort order."""
        got = sorted_codes(values)
        assert got is not None
        codes, distinct = got
        assert distinct == sorted(set(values))
        assert [distinct[c] for c in codes.tolist()] == values

    @settings(max_examples=60, deadline=None)
    @given(pairs=st.lists(st.tuples(st.none() | st.text(max_size=4), st.text(max_size=4)),
                          min_size=1, max_size=30))
    def test_filled_equals_python(self, pairs):
        """None values take their fill; codes index the sorted distinct results."""
        values, fill = [v for v, _ in pairs], [f for _, f in pairs]
        want_values = [f if v is None else v for v, f in pairs]
        got = sorted_codes_filled(values, fill)
        assert got is not None
        codes, distinct = got
        assert distinct == sorted(set(want_values))
        assert [distinct[c] for c in codes.tolist()] == want_values

    def test_filled_declines_without_a_fill(self):
        """A None value whose fill is None too (a missing id) declines."""
        assert sorted_codes_filled(["a", None], ["x", None]) is None

    def test_unencodable_text_declines(self):
        """Text arrow cannot hold (a lone surrogate) makes the kernels decline, not fail."""
        assert sorted_codes(["a", "\ud800"]) is None
        assert fullmatch_many("a", False, ["a", "\ud800"], lambda v: v == "a") is None


#: Text that stresses the kernels: case, runs of spaces, other whitespace, non-ASCII case
#: folding (ß, the Kelvin sign), NUL bytes, long shared prefixes.
KEY_TEXT = st.one_of(
    st.text(alphabet="aAbB \t\xa0\u2003\x00\u00df\u212ak-:T0123", max_size=12),
    st.text(max_size=6),
    st.sampled_from(["", " ", "Ann", "ann", " ANN ", "a  nn", "STRASSE", "stra\u00dfe",
                     "2024-01-02T10:00:00", "2024-01-02t10:00:00", "salesforce-000000001",
                     "salesforce-000000002", "salesforce-00000000", "a\x00", "a"]),
)


def same_partition(codes: list[int], keys: list[object]) -> bool:
    """Equal codes exactly where the keys are equal."""
    pairs = set(zip(codes, keys, strict=True))
    return len(pairs) == len(set(codes)) == len(set(keys))


class TestEncode:
    @settings(max_examples=60, deadline=None)
    @given(values=st.lists(st.none() | KEY_TEXT, min_size=1, max_size=40))
    def test_codes_and_distinct(self, values):
        """Codes index the distinct values (first seen order); None is -1."""
        enc = encode(values)
        assert enc is not None
        assert enc.distinct == list(dict.fromkeys(v for v in values if v is not None))
        assert [None if c < 0 else enc.distinct[c] for c in enc.codes.tolist()] == values
        assert enc.plain.tolist() == [all(" " <= ch <= "~" for ch in v) for v in enc.distinct]

    @settings(max_examples=60, deadline=None)
    @given(values=st.lists(KEY_TEXT, min_size=1, max_size=40))
    def test_blank_equals_strip(self, values):
        """Blank per distinct value exactly when Python's strip leaves nothing."""
        enc = encode(values)
        assert enc is not None
        assert blank(enc).tolist() == [not v.strip() for v in enc.distinct]

    @settings(max_examples=80, deadline=None)
    @given(values=st.lists(KEY_TEXT, min_size=1, max_size=40))
    def test_fold_key_codes_partition_like_default_key(self, values):
        """Two distinct values share a key code exactly when their default keys are equal."""
        enc = encode(values)
        assert enc is not None
        codes = fold_key_codes(enc, default_key)
        assert codes is not None
        assert same_partition(codes.tolist(), [default_key(v) for v in enc.distinct])

    def test_non_plain_values_meet_plain_keys(self):
        """A value keyed in Python (tab, NBSP) shares its code with the plain value of that key."""
        enc = encode(["Ann  Lee", "ann\tlee", "ANN\xa0LEE ", "Bob"])
        assert enc is not None
        codes = fold_key_codes(enc, default_key)
        assert codes is not None
        assert codes.tolist()[:3] == [codes[0]] * 3
        assert codes[3] != codes[0]
        assert encode(["a", "\ud800"]) is None


class TestGroupOrder:
    @settings(max_examples=80, deadline=None)
    @given(data=st.lists(st.tuples(KEY_TEXT, st.integers(0, 3)), min_size=1, max_size=40,
                         unique_by=lambda t: t[0]))
    def test_equals_python_sort(self, data):
        """Rows by group, then by id in Python's order; distinct first 8 bytes prove unique."""
        ids = [i for i, _ in data]
        codes = np.array([g for _, g in data], dtype=np.int64)
        got = group_order(codes, ids)
        assert got is not None
        order, arr, unique = got
        assert order.tolist() == sorted(range(len(ids)), key=lambda i: (codes[i], ids[i]))
        assert arr.to_pylist() == ids
        prefixes = [i.encode()[:8].ljust(8, b"\x00") for i in ids]
        assert unique == (len(set(prefixes)) == len(ids))

    def test_repeated_ids_are_never_called_unique(self):
        """Equal ids have equal keys, so the kernel never vouches for them."""
        got = group_order(np.array([0, 1, 0]), ["a", "b", "a"])
        assert got is not None
        assert got[2] is False

    def test_declines(self):
        """None ids, non-text ids and no ids give None (the caller reports from Python)."""
        assert group_order(np.array([0, 0]), ["a", None]) is None
        assert group_order(np.array([0]), [1]) is None
        assert group_order(np.array([], dtype=np.int64), []) is None


class TestJoinGroups:
    @settings(max_examples=40, deadline=None)
    @given(sizes=st.lists(st.integers(1, 4), min_size=1, max_size=10), data=st.data())
    def test_equals_str_join(self, sizes, data):
        """Each run of taken values is joined like str.join."""
        n = sum(sizes)
        values = data.draw(st.lists(KEY_TEXT, min_size=n, max_size=n))
        take = np.array(data.draw(st.permutations(range(n))), dtype=np.int64)
        import pyarrow as pa

        arr = pa.array(values, type=pa.large_string())
        starts = np.concatenate(([0], np.cumsum(sizes)[:-1])).astype(np.int64)
        bounds = [*starts.tolist(), n]
        want = ["; ".join(values[j] for j in take[lo:hi].tolist())
                for lo, hi in itertools.pairwise(bounds)]
        assert join_groups(arr, take, starts, "; ") == want


class TestAllFullmatch:
    @settings(max_examples=60, deadline=None)
    @given(
        values=st.lists(
            st.none() | st.integers() | st.text(alphabet="0123456789-T :.Z", max_size=22)
            | st.sampled_from(["2021-06-12", "2021-06-12T10:30:00.123", "2021-06-12 24:00"]),
            min_size=1, max_size=20,
        )
    )
    def test_definition(self, values):
        """True exactly when every value is text that Python's re fully matches (ASCII)."""
        import re

        pattern = r"\d{4}-\d{2}-\d{2}(?:[T ](?:[01]\d|2[0-3]):[0-5]\d(?::[0-5]\d)?)?"
        want = all(isinstance(v, str) and re.fullmatch(pattern, v) for v in values)
        assert all_fullmatch(values, pattern) == want


class TestArrowToTable:
    def test_blank_and_missing_values_and_encoding(self) -> None:
        """Blank text (any whitespace) is missing; the carried encoding matches the values."""
        import pyarrow as pa

        values = ["b", " ", None, "a", "\u3000", "b", " a ", "\x1c", "", "a"]
        table = arrow_to_table(pa.table({"v": values, "id": values}), plain=["id"])
        expected = [v if v is not None and v.strip() else None for v in values]
        assert table.columns["v"] == expected
        assert table.columns["id"] == expected
        col = table.columns["v"]
        assert isinstance(col, EncodedColumn)
        distinct = col.encoding.distinct
        assert distinct == list(dict.fromkeys(v for v in expected if v is not None))
        assert [distinct[i] if i >= 0 else None for i in col.encoding.codes.tolist()] == expected

    def test_dictionary_columns_read_as_the_plain_ones(self) -> None:
        """A text column given as dictionaries (chunks with their own, unused values, nulls,
        blanks) comes out exactly as the same column given as strings; a plain (id) one too."""
        import pyarrow as pa

        chunks = [["b", " ", None, "a"], ["zz", "b", None], ["\u3000", "a", "c", "b"]]
        coded = pa.chunked_array(
            [
                pa.DictionaryArray.from_arrays(
                    pa.array([None if v is None else sorted(set(c) - {None}).index(v) for v in c],
                             type=pa.int32()),
                    pa.array([*sorted(set(c) - {None}), "unused"]),
                )
                for c in chunks
            ]
        )
        flat = [v for c in chunks for v in c]
        want = arrow_to_table(pa.table({"v": flat, "id": flat}), plain=["id"])
        got = arrow_to_table(pa.table({"v": coded, "id": coded}), plain=["id"])
        assert got.columns["v"] == want.columns["v"]
        assert got.columns["id"] == want.columns["id"]
        assert got.columns["v"].encoding.codes.tolist() == want.columns["v"].encoding.codes.tolist()
        assert got.columns["v"].encoding.distinct == want.columns["v"].encoding.distinct

    def test_a_dictionary_repeating_a_value_gives_it_one_code(self) -> None:
        """A dictionary that lists one string twice (writers do not, the format allows it)
        still comes out with one code per distinct string, as the plain column does."""
        import pyarrow as pa

        coded = pa.chunked_array([pa.DictionaryArray.from_arrays(
            pa.array([0, 1, 2, None, 1], type=pa.int32()), pa.array(["a", "b", "a"]))])
        flat = ["a", "b", "a", None, "b"]
        got = arrow_to_table(pa.table({"v": coded})).columns["v"]
        want = arrow_to_table(pa.table({"v": flat})).columns["v"]
        assert got == want
        assert got.encoding.distinct == ["a", "b"]
        assert got.encoding.codes.tolist() == want.encoding.codes.tolist()

    def test_encode_reuses_the_carried_encoding(self) -> None:
        """``encode`` of a column read from Arrow is its carried encoding, equal to a fresh one."""
        import pyarrow as pa

        values = ["x", None, "y", "x", " ", "z"]
        col = arrow_to_table(pa.table({"v": values})).columns["v"]
        assert isinstance(col, EncodedColumn)
        carried = encode(col)
        fresh = encode(list(col))
        assert carried is col.encoding
        assert fresh is not None
        assert carried is not None
        assert carried.codes.tolist() == fresh.codes.tolist()
        assert carried.distinct == fresh.distinct


class TestDigitsOnly:
    @settings(max_examples=60, deadline=None)
    @given(st.lists(st.one_of(st.none(), st.text(max_size=12),
                              st.text(alphabet="0123456789 +()-x\u0663é", max_size=12))),
           st.integers(0, 5), st.booleans())
    def test_equals_the_regular_expression(self, values, start, large) -> None:
        """The digits of every value of a (sliced, string or large_string) array, nulls kept,
        as ``re.sub(r"[^0-9]+", "", v)`` gives them (an Arabic-Indic digit is no ASCII digit)."""
        import pyarrow as pa
        import pyarrow.compute as pc

        arr = pa.array(["9 x", None, *values], type=pa.large_string() if large else pa.string())
        part = arr.slice(min(start, len(arr)))
        got = digits_only(pc, part)
        got.validate(full=True)
        want = [None if v is None else re.sub(r"[^0-9]+", "", v) for v in part.to_pylist()]
        assert got.type == part.type
        assert got.to_pylist() == want
