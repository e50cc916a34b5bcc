"""The ``crmcore validate`` command: per-field completeness, validity and changes."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from crmcore.cli import main
from crmcore.io import read_table
from crmcore.normalize import normalize_table

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "contacts.csv"

ROWS = [
    ["Contact ID", "E-mail Address", "Mobile", "Country", "Organisation", "Signup", "Notes"],
    ["c1", "Ann@Acme.io", "07700 900123", "UK", "ACME LTD", "03/04/2025", "vip"],
    ["c2", "bad", "(415) 555-0134", "USA", "Globex, Inc.", "25/03/2025", ""],
    ["c3", "", "n/a", "Narnia", "", "", "call"],
    ["c4", "ann@acme.io", "+44 7700 900123", "GB", "Acme Limited", "2025-03-04", ""],
]


def write(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows(rows)
    return path


class TestValidateCommand:
    def test_example_file(self, capsys: pytest.CaptureFixture[str]) -> None:
        """The example export: one line per mapped field with its figures, then the issues."""
        assert main(["validate", str(EXAMPLE), "--issues", "2"]) == 0
        out = capsys.readouterr().out
        expected = normalize_table(read_table(EXAMPLE))
        assert f"{expected.table.n_rows} rows" in out
        assert "complete" in out
        assert "valid" in out
        assert "changed" in out
        for report in expected.reports:
            line = next(x for x in out.splitlines() if x.startswith(report.field + " "))
            assert f"{100 * report.completeness:.1f}%" in line
            assert f"{100 * report.validity:.1f}%" in line
            assert line.split()[-3:] == [str(report.changed), str(report.rejected),
                                         str(report.blank)]  # fmt: skip
        assert f"issues: {len(expected.issues)}" in out
        assert "more (use --issues N or --json)" in out

    def test_json_and_unmapped(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """--json prints the mapping, per-field figures, changes and issues as one document."""
        src = write(tmp_path / "in.csv", ROWS)
        assert main(["validate", str(src), "--json"]) == 0
        doc = json.loads(capsys.readouterr().out)
        assert doc["rows"] == 4
        assert doc["mapping"]["mapping"]["E-mail Address"] == "email"
        assert doc["mapping"]["unmapped"] == ["Signup", "Notes"]
        fields = {f["field"]: f for f in doc["fields"]}
        assert fields["email"]["valid"] == 2
        assert fields["email"]["rejected"] == 1
        assert fields["mobile"]["changed"] == 3
        assert fields["mobile"]["completeness"] == 0.75
        rules = {(i["record"], i["field"], i["rule"]) for i in doc["issues"]}
        assert ("c2", "email", "email.format") in rules
        assert ("c3", "country", "country.unknown") in rules

    def test_text_lists_unmapped_columns(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Unmapped columns are reported as custom fields."""
        src = write(tmp_path / "in.csv", ROWS)
        assert main(["validate", str(src)]) == 0
        assert "unmapped (kept as custom fields): Signup, Notes" in capsys.readouterr().out

    def test_map_and_dayfirst(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """--map maps a column; without a convention an ambiguous date is an issue."""
        src = write(tmp_path / "in.csv", ROWS)
        assert main(["validate", str(src), "--json", "--map", "Signup=created_at"]) == 0
        doc = json.loads(capsys.readouterr().out)
        created = {f["field"]: f for f in doc["fields"]}["created_at"]
        assert created["rejected"] == 1  # 03/04/2025 is ambiguous
        assert main(["validate", str(src), "--json", "--map", "Signup=created_at",
                     "--dayfirst"]) == 0  # fmt: skip
        doc = json.loads(capsys.readouterr().out)
        assert {f["field"]: f for f in doc["fields"]}["created_at"]["rejected"] == 0

    def test_bad_input(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """A missing file or a bad --map is an input error (exit code 2)."""
        assert main(["validate", str(tmp_path / "missing.csv")]) == 2
        src = write(tmp_path / "in.csv", ROWS)
        assert main(["validate", str(src), "--map", "Nope=email"]) == 2
        assert "Nope" in capsys.readouterr().err


class TestValidateQuality:
    def test_duplicate_rate_from_matching(self, capsys: pytest.CaptureFixture[str]) -> None:
        """``--duplicates`` runs matching: the example export's duplicates are counted."""
        assert main(["validate", str(EXAMPLE), "--duplicates", "--json"]) == 0
        quality = json.loads(capsys.readouterr().out)["quality"]
        truth = read_table(ROOT / "examples" / "contacts_truth.csv")
        true_entities = len(set(truth.column("entity_id")))
        assert quality["rows"] == truth.n_rows
        # matching finds most duplicates without merging distinct people wholesale
        assert true_entities <= quality["entities"] < 1.15 * true_entities
        assert quality["duplicate_rate"] == pytest.approx(1 - quality["entities"] / quality["rows"])

    def test_text_without_duplicates(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Without ``--duplicates`` the text report gives the row count but no duplicate rate."""
        path = write(tmp_path / "in.csv", ROWS)
        assert main(["validate", str(path)]) == 0
        out = capsys.readouterr().out
        assert "rows: 4" in out
        assert "duplicate rate" not in out
