"""The table of real-world-looking cases (``cases.csv``): every normalizer, expected outputs."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest

from crmcore.errors import FieldProblem, NormalizationError
from crmcore.normalize import get_normalizer

CASES_FILE = Path(__file__).with_name("cases.csv")


def _option(text: str) -> Any:
    return {"True": True, "False": False, "None": None}.get(text, text)


def load_cases() -> list[tuple[str, str, dict[str, Any], str | None, str | None]]:
    """Read cases.csv into (kind, input, options, expected, rule) rows."""
    with CASES_FILE.open(encoding="utf-8") as fh:
        rows = csv.DictReader(line for line in fh if not line.startswith("#"))
        out = []
        for row in rows:
            options = {
                key: _option(value)
                for key, value in (item.split("=", 1) for item in row["options"].split(";") if item)
            }
            out.append(
                (row["kind"], row["input"], options, row["expected"] or None, row["rule"] or None)
            )
    return out


CASES = load_cases()


def test_table_is_large_and_covers_every_builtin() -> None:
    """The table has at least 150 cases and exercises every built-in normalizer."""
    kinds = {case[0] for case in CASES}
    assert len(CASES) >= 150
    assert kinds >= {
        "email", "domain", "phone", "person_name", "name_key", "given_name", "company",
        "company_display", "address", "postcode", "country", "date", "datetime", "text",
    }  # fmt: skip


@pytest.mark.parametrize(
    ("kind", "value", "options", "expected", "rule"),
    CASES,
    ids=[f"{c[0]}:{c[1]!r}{'+' if c[2] else ''}" for c in CASES],
)
def test_case(
    kind: str, value: str, options: dict[str, Any], expected: str | None, rule: str | None
) -> None:
    """The normalizer gives the expected value, and rejects with the expected rule."""
    normalizer = get_normalizer(kind)
    issues: list[FieldProblem] = []
    assert normalizer(value, issues=issues, **options) == expected
    assert [p.rule for p in issues] == ([rule] if rule else [])
    if rule:
        with pytest.raises(NormalizationError) as caught:
            normalizer(value, strict=True, field="f", record="r1", **options)
        problem = caught.value.problems[0]
        assert (problem.field, problem.value, problem.rule, problem.record) == (
            "f", value, rule, "r1"
        )  # fmt: skip
    else:
        assert normalizer(value, strict=True, **options) == expected
    if expected is not None:  # the output is already canonical
        assert normalizer(expected, **options) == expected
