"""Tests for the example export in examples/ (contacts.csv and its truth file)."""

from __future__ import annotations

import csv
import importlib.util
from pathlib import Path

from crmcore.io import read_table

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
HEADER = [
    "record_id", "source_system", "first_name", "last_name", "email", "phone", "company",
    "title", "city", "postcode", "country", "created_at",
]


def load_builder():
    spec = importlib.util.spec_from_file_location("make_contacts", EXAMPLES / "make_contacts.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class TestContactsCsv:
    def test_header_and_ids(self):
        """The export has the documented header and a unique id on every row."""
        table = read_table(EXAMPLES / "contacts.csv")
        assert table.column_names == HEADER
        ids = table.column("record_id")
        assert None not in ids
        assert len(set(ids)) == table.n_rows
        assert 300 <= table.n_rows <= 400

    def test_truth_covers_every_record(self):
        """The truth file names every record exactly once and has real duplicates."""
        records = read_table(EXAMPLES / "contacts.csv").column("record_id")
        truth = read_table(EXAMPLES / "contacts_truth.csv")
        assert truth.column_names == ["record_id", "entity_id"]
        assert sorted(truth.column("record_id")) == sorted(records)
        entities = truth.column("entity_id")
        assert None not in entities
        assert len(set(entities)) < 0.8 * len(entities)

    def test_several_source_systems(self):
        """Rows come from five source systems."""
        assert len(set(read_table(EXAMPLES / "contacts.csv").column("source_system"))) == 5


class TestBuild:
    def test_rebuild_reproduces_committed_files(self):
        """examples/make_contacts.py rebuilds both committed files exactly."""
        rows, truth = load_builder().build()
        with (EXAMPLES / "contacts.csv").open(encoding="utf-8", newline="") as fh:
            committed = list(csv.DictReader(fh))
        with (EXAMPLES / "contacts_truth.csv").open(encoding="utf-8", newline="") as fh:
            committed_truth = list(csv.DictReader(fh))
        assert rows == committed
        assert truth == committed_truth
