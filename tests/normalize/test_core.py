"""The shared machinery: null tokens, lenient and strict modes, the safety net."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crmcore.errors import FieldProblem, NormalizationError
from crmcore.normalize import NULL_TOKENS, Normalizer, Rejection
from crmcore.normalize._core import clean_text, fold_accents, is_null_token


def _upper_core(text: str) -> str | Rejection:
    if text.isdigit():
        return Rejection("demo.digits", "digits only")
    return text.upper()


DEMO = Normalizer("demo", _upper_core, "upper case")


class TestNullTokens:
    @pytest.mark.parametrize("token", sorted(NULL_TOKENS))
    def test_every_token_is_none_without_issue(self, token: str) -> None:
        """Each "no value" token, in any case and with spaces around, gives None and no issue."""
        issues: list[FieldProblem] = []
        for variant in (token, f"  {token.upper()} ", token.title()):
            assert DEMO(variant, issues=issues, strict=True) is None
            assert is_null_token(variant)
        assert issues == []

    def test_none_and_nan(self) -> None:
        """None and float NaN carry no information."""
        assert DEMO(None) is None
        assert DEMO(float("nan")) is None

    def test_output_that_is_a_token_becomes_none(self) -> None:
        """A result that is itself a "no value" token is None, so f(f(x)) == f(x)."""
        squash = Normalizer("squash", lambda text: text.replace(" ", ""))
        assert squash("x x") is None
        assert squash("n /a") is None

    def test_keep_tokens(self) -> None:
        """Exact values in ``keep`` pass although they look like tokens."""
        keeper = Normalizer("keeper", lambda text: text, keep=frozenset({"NA"}))
        assert keeper("NA") == "NA"
        assert keeper("na") is None


class TestModes:
    def test_lenient_records_the_issue(self) -> None:
        """Lenient: None, and one problem naming field, value, rule, reason, record."""
        issues: list[FieldProblem] = []
        assert DEMO(" 123 ", issues=issues, field="code", record="r7") is None
        assert issues == [FieldProblem("code", " 123 ", "demo.digits", "digits only", "r7")]

    def test_lenient_without_list(self) -> None:
        """Lenient without an issues list: None, nothing raised."""
        assert DEMO("123") is None

    def test_strict_raises_with_the_same_facts(self) -> None:
        """Strict: NormalizationError (a ValueError) carrying the same problem."""
        with pytest.raises(NormalizationError) as caught:
            DEMO("123", strict=True, record="r1")
        assert isinstance(caught.value, ValueError)
        (problem,) = caught.value.problems
        assert (problem.field, problem.value, problem.rule, problem.record) == (
            "demo", "123", "demo.digits", "r1"
        )  # fmt: skip
        assert "demo.digits" in str(caught.value)
        assert "'123'" in str(caught.value)

    def test_valid_value(self) -> None:
        """A good value is normalised in both modes."""
        assert DEMO(" abc ") == "ABC"
        assert DEMO(" abc ", strict=True) == "ABC"

    def test_core_errors_never_escape_a_lenient_call(self) -> None:
        """An unexpected error inside a core becomes a rejection, never an exception."""

        def broken(text: str) -> str:
            raise ZeroDivisionError("boom")

        buggy = Normalizer("buggy", broken)
        issues: list[FieldProblem] = []
        assert buggy("x", issues=issues) is None
        assert issues[0].rule == "buggy.error"
        assert "ZeroDivisionError" in issues[0].message
        with pytest.raises(NormalizationError):
            buggy("x", strict=True)

    def test_unprintable_object(self) -> None:
        """An object whose str() fails carries no text."""

        class Bad:
            def __str__(self) -> str:
                raise RuntimeError("no")

        assert DEMO(Bad()) is None

    def test_repr(self) -> None:
        """The repr names the normalizer."""
        assert repr(DEMO) == "Normalizer('demo')"

    def test_rejection_needs_a_rule(self) -> None:
        """A rejection without a rule name is refused."""
        with pytest.raises(ValueError):
            Rejection("", "why")


class TestTextHelpers:
    def test_clean_text(self) -> None:
        """NFKC, control and zero-width characters out, whitespace collapsed."""
        assert clean_text("  Ａｃｍｅ\t\u200bLtd\x00 \n") == "Acme Ltd"

    def test_fold_accents(self) -> None:
        """Accents go, letters without a decomposition are folded."""
        assert fold_accents("Søren Müller-Łukasz Straße Ærø") == "Soren Muller-Lukasz Strasse AEro"


class TestRepairMojibake:
    @settings(max_examples=300, deadline=None)
    @given(st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=20))
    def test_utf8_read_as_windows_1252_comes_back(self, text: str) -> None:
        """Any text whose UTF-8 bytes were read as Windows-1252 (where they can be) comes back
        whole; text that was never misread and carries no such sequence is unchanged."""
        from crmcore.normalize import repair_mojibake

        try:
            misread = text.encode("utf-8").decode("cp1252")
        except UnicodeDecodeError:
            misread = None
        if misread is not None and not text.isascii():
            assert repair_mojibake(misread) == text
        repaired = repair_mojibake(text)
        if repaired != text:  # only text that itself reads as misread UTF-8, read back whole
            assert repaired.encode("utf-8") in {
                text.encode(codec, "replace") for codec in ("cp1252", "latin-1")}
