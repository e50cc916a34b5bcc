"""The optional pyarrow kernels answer exactly as the Python code they replace."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from crmcore.survivorship import EMAIL_LIKE, PHONE_LIKE, RegexValidator
from crmcore.survivorship._arrow import fullmatch_many, sorted_codes

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

    def test_unencodable_text_declines(self):
        """Text arrow cannot hold (a lone surrogate) makes the kernels decline, not fail."""
        assert sorted_codes(["a", "\ud800"]) is None
        assert fullmatch_many("a", False, ["a", "\ud800"], lambda v: v == "a") is None
