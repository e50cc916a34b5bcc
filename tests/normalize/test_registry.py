"""The registry of normalizers and the batch API (cache per distinct value)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crmcore.errors import FieldProblem, NormalizationError
from crmcore.normalize import (
    NormalizerRegistryError,
    UnknownNormalizerError,
    get_normalizer,
    normalize_column,
    normalizer_names,
    register_normalizer,
)
from crmcore.normalize._registry import _REGISTRY

POOLS = {
    "email": ["Ann@Acme.io", "ann@acme.io", "test@test.com", "bad", None, "", "n/a"],
    "phone": ["+1 415 555 0134", "020 7946 0958", "555-0134", "0000000000", None, "x"],
    "company": ["ACME Inc", "Acme, Inc.", "!!!", "Test", None, "The Acme Co"],
    "name_key": ["Smith, John", "JOHN SMITH", "12", "Test", None],
    "date": ["03/04/2025", "25/03/2025", "2025-03-04", "March 2025", None],
    "country": ["Deutschland", "DE", "Narnia", "NA", None],
}


@pytest.fixture
def clean_registry():
    saved = dict(_REGISTRY)
    yield
    _REGISTRY.clear()
    _REGISTRY.update(saved)


class TestRegistry:
    def test_builtins(self) -> None:
        """Every built-in is registered under its name."""
        for name in ["email", "domain", "phone", "person_name", "name_key", "given_name",
                     "company", "company_display", "country", "postcode", "address", "date",
                     "datetime", "text"]:  # fmt: skip
            assert name in normalizer_names()
            assert get_normalizer(name).name == name

    def test_host_function(self, clean_registry: None) -> None:
        """A host registers a plain function; ValueError means rejected, lenient and strict."""

        def sku(text: str) -> str | None:
            if not text.isalnum():
                raise ValueError("an SKU is letters and digits")
            return text.upper()

        normalizer = register_normalizer("sku", sku, description="stock keeping unit")
        assert get_normalizer("sku") is normalizer
        assert normalize_column("sku", ["ab1", "AB1", "a-1"]) == ["AB1", "AB1", None]
        issues: list[FieldProblem] = []
        assert normalizer("a-1", issues=issues, record="p1") is None
        assert (issues[0].rule, issues[0].field, issues[0].record) == ("sku.invalid", "sku", "p1")
        with pytest.raises(NormalizationError, match="letters and digits"):
            normalizer("a-1", strict=True)

    def test_names_are_protected(self, clean_registry: None) -> None:
        """A taken name needs replace=True; bad registrations are refused."""
        with pytest.raises(NormalizerRegistryError, match="already registered"):
            register_normalizer("email", str.lower)
        replaced = register_normalizer("email", str.lower, replace=True)
        assert get_normalizer("email") is replaced
        with pytest.raises(NormalizerRegistryError):
            register_normalizer("", str.lower)
        with pytest.raises(NormalizerRegistryError):
            register_normalizer("nope", 42)  # type: ignore[arg-type]

    def test_unknown_name(self) -> None:
        """An unknown name raises a LookupError naming what is registered."""
        with pytest.raises(UnknownNormalizerError, match="email") as caught:
            get_normalizer("no-such-normalizer")
        assert isinstance(caught.value, LookupError)


class TestNormalizeColumn:
    @pytest.mark.parametrize("name", sorted(POOLS))
    @settings(max_examples=40, deadline=None)
    @given(data=st.data())
    def test_same_as_one_value_at_a_time(self, name: str, data: st.DataObject) -> None:
        """Batch output and issues equal the per-value results (brute-force reference)."""
        values = data.draw(st.lists(st.sampled_from(POOLS[name]), max_size=30))
        normalizer = get_normalizer(name)
        issues: list[FieldProblem] = []
        out = normalize_column(name, values, issues=issues, field="f")
        expected_issues: list[FieldProblem] = []
        expected = [
            normalizer(v, issues=expected_issues, field="f", record=str(i))
            for i, v in enumerate(values)
        ]
        assert out == expected
        assert issues == expected_issues

    @settings(max_examples=40, deadline=None)
    @given(
        st.lists(
            st.tuples(
                st.sampled_from(POOLS["phone"]), st.sampled_from(["US", "GB", None, "Germany"])
            ),
            max_size=30,
        )
    )
    def test_row_options(self, rows: list[tuple[str | None, str | None]]) -> None:
        """Per-row options (each row's region) give the per-value results."""
        values = [v for v, _ in rows]
        regions = [r for _, r in rows]
        out = normalize_column("phone", values, row_options={"region": regions})
        assert out == [get_normalizer("phone")(v, region=r) for v, r in rows]

    def test_strict_lists_every_rejected_row(self) -> None:
        """Strict mode raises one error naming each rejected row's record id."""
        with pytest.raises(NormalizationError) as caught:
            normalize_column("email", ["bad", "a@acme.io", "bad"], strict=True,
                             record_ids=["r1", "r2", "r3"])  # fmt: skip
        assert [p.record for p in caught.value.problems] == ["r1", "r3"]

    def test_unhashable_cells(self) -> None:
        """Unhashable cells never crash the batch: read as their text, as one by one."""
        values = [["020 7946 0958"], "020 7946 0958", {"a": 1}, None]
        regions = ["GB", ["GB"], "GB", None]
        issues: list[FieldProblem] = []
        out = normalize_column("phone", values, row_options={"region": regions}, issues=issues)
        phone = get_normalizer("phone")
        expected_issues: list[FieldProblem] = []
        expected = [
            phone(v, region=r, issues=expected_issues, record=str(i))
            for i, (v, r) in enumerate(zip(values, regions, strict=True))
        ]
        assert out == expected
        assert [(p.value, p.rule) for p in issues] == [(p.value, p.rule) for p in expected_issues]
        assert normalize_column("text", [[1, 2], "a"]) == ["[1, 2]", "a"]

    def test_unequal_row_options(self) -> None:
        """Row options must be as long as the column."""
        with pytest.raises(ValueError, match="region"):
            normalize_column("phone", ["1"], row_options={"region": []})
