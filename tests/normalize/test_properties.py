"""Properties of every built-in normalizer: lenient never raises, idempotent, canonical output."""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crmcore.errors import FieldProblem, NormalizationError
from crmcore.normalize import get_normalizer
from tests.normalize.strategies import any_text, long_text, realistic_text, region

BUILTINS = [
    "email", "domain", "phone", "person_name", "name_key", "given_name", "company",
    "company_display", "country", "postcode", "address", "date", "datetime", "text",
]  # fmt: skip
_REGIONAL = {"phone": "region", "postcode": "country"}

CANONICAL = {
    "email": re.compile(r"[^\s@]+@[^\s@A-Z]+\.[^\s@A-Z.]+"),
    "phone": re.compile(r"\+[1-9]\d{1,14}(;ext=\d+)?"),
    "name_key": re.compile(r"[^\sA-Z]+( [^\sA-Z]+)*"),
    "country": re.compile(r"[A-Z]{2}"),
    "date": re.compile(r"\d{4}-\d{2}-\d{2}"),
    "datetime": re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{6})?\+00:00"),
    "company": re.compile(r"[^\sA-Z]+( [^\sA-Z]+)*"),
}
"""Shape of each normalizer's output (where it has a fixed one)."""

fast = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _options(name: str, reg: str | None) -> dict[str, str | None]:
    option = _REGIONAL.get(name)
    return {option: reg} if option else {}


def _check(name: str, value: object, reg: str | None) -> None:
    normalizer = get_normalizer(name)
    options = _options(name, reg)
    issues: list[FieldProblem] = []
    out = normalizer(value, issues=issues, **options)  # lenient: must not raise
    assert out is None or isinstance(out, str)
    assert len(issues) <= 1
    if issues:
        assert out is None
        assert issues[0].value is value
        assert issues[0].rule
        assert issues[0].message
    if out is not None:
        assert out == out.strip()
        assert out
        assert normalizer(out, **options) == out  # idempotent: f(f(x)) == f(x)
        shape = CANONICAL.get(name)
        if shape is not None:
            assert shape.fullmatch(out), out
    if issues:
        with pytest.raises(NormalizationError) as caught:
            normalizer(value, strict=True, **options)
        assert caught.value.problems[0].rule == issues[0].rule
    else:
        assert normalizer(value, strict=True, **options) == out


class TestEveryNormalizer:
    """The three properties hold for every built-in normalizer."""

    @pytest.mark.parametrize("name", BUILTINS)
    @fast
    @given(value=any_text, reg=region)
    def test_any_unicode(self, name: str, value: str, reg: str | None) -> None:
        """Any Unicode text (controls, surrogates, marks) is handled: lenient, idempotent."""
        _check(name, value, reg)

    @pytest.mark.parametrize("name", BUILTINS)
    @fast
    @given(value=realistic_text, reg=region)
    def test_realistic_fragments(self, name: str, value: str, reg: str | None) -> None:
        """Combinations of real-world fragments are normalised idempotently."""
        _check(name, value, reg)

    @pytest.mark.parametrize("name", BUILTINS)
    @settings(max_examples=5, deadline=None)
    @given(value=long_text)
    def test_very_long_strings(self, name: str, value: str) -> None:
        """Strings of thousands of characters never crash a lenient call."""
        _check(name, value, None)

    @pytest.mark.parametrize("name", BUILTINS)
    @fast
    @given(value=st.one_of(st.none(), st.integers(), st.floats(), st.binary(max_size=8)))
    def test_non_text_values(self, name: str, value: object) -> None:
        """None, numbers (NaN included) and bytes never crash a lenient call."""
        _check(name, value, None)
