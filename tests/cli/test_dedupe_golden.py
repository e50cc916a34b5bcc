"""``crmcore dedupe ... --golden OUT``: golden records with lineage next to the entities."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from crmcore.cli import main
from crmcore.io import read_table

ROWS = [
    ["rid", "source_system", "updated_at", "First Name", "last_name", "email", "title"],
    ["1", "crm", "2024-01-01", "Robert", "Smith", "bob@acme.io", "VP Sales"],
    ["2", "erp", "2024-06-01", "Robert", "Smith", "bob@acme.io", "Sales Director"],
    ["3", "crm", "2023-01-01", "Ann", "Lee", "ann@lee.org", "Buyer"],
    ["4", "web", "2023-02-01", "", "", "", ""],
]


def write(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows(rows)
    return path


def rows_of(path: Path) -> list[dict[str, str | None]]:
    return list(read_table(path).rows())


def run(tmp_path: Path, golden_name: str) -> tuple[Path, Path]:
    src = write(tmp_path / "in.csv", ROWS)
    out = tmp_path / "entities.csv"
    golden = tmp_path / "out" / golden_name
    code = main(["dedupe", str(src), "--id", "rid", "--out", str(out), "--quiet",
                 "--map", "First Name=first_name", "--golden", str(golden)])
    assert code == 0
    return out, golden


class TestGoldenOption:
    @pytest.mark.parametrize("name", ["golden.csv", "golden.parquet"])
    def test_one_golden_record_per_entity(self, tmp_path, name):
        """Every entity has one golden record listing exactly its member rows."""
        entities, golden = run(tmp_path, name)
        members: dict[str, set[str]] = {}
        for row in rows_of(entities):
            members.setdefault(str(row["entity_id"]), set()).add(str(row["id"]))
        got = {str(r["entity_id"]): set(str(r["record_ids"]).split("; ")) for r in rows_of(golden)}
        assert got == members

    def test_lineage_next_to_golden(self, tmp_path, capsys):
        """Lineage rows name a member record of their entity, for every golden value."""
        entities, golden = run(tmp_path, "golden.csv")
        lineage = golden.with_name("golden.lineage.csv")
        assert lineage.exists()
        assert "lineage rows" in capsys.readouterr().out
        entity_of = {str(r["id"]): str(r["entity_id"]) for r in rows_of(entities)}
        golden_rows = {str(r["entity_id"]): r for r in rows_of(golden)}
        for row in rows_of(lineage):
            if row["record_id"] is not None:
                assert entity_of[str(row["record_id"])] == row["entity_id"]
            assert golden_rows[str(row["entity_id"])][str(row["field"])] == row["value"]

    def test_values_come_from_the_sources(self, tmp_path):
        """The merged Robert Smith takes the most recent title, from the ERP row."""
        _, golden = run(tmp_path, "golden.csv")
        (bob,) = [r for r in rows_of(golden) if r["record_ids"] == "1; 2"]
        assert (bob["title"], bob["first_name"], bob["n_records"]) == (
            "Sales Director", "Robert", "2",
        )
        lineage = rows_of(golden.with_name("golden.lineage.csv"))
        title = [r for r in lineage if r["entity_id"] == bob["entity_id"] and r["field"] == "title"]
        assert [(r["record_id"], r["source_system"], r["conflict"]) for r in title] == [
            ("2", "erp", "true")
        ]

    def test_without_golden_nothing_extra(self, tmp_path):
        """Without --golden only the entities file is written."""
        src = write(tmp_path / "in.csv", ROWS)
        assert main(["dedupe", str(src), "--id", "rid", "--out", str(tmp_path / "e.csv"),
                     "--quiet"]) == 0
        assert sorted(p.name for p in tmp_path.iterdir()) == ["e.csv", "in.csv"]
