"""A small real matching run shared by the display tests (the example CRM export)."""

from __future__ import annotations

from pathlib import Path

import pytest

from crmcore.io import read_table
from crmcore.matching import MatchResult, dedupe

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="package")
def result() -> MatchResult:
    return dedupe(read_table(ROOT / "examples" / "contacts.csv"), id_column="record_id")
