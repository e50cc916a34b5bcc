"""The ``crmcore compare`` command."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from crmcore.cli import main


def write(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows(rows)
    return path


BEFORE = [["record_id", "entity_id"], ["1", "E1"], ["2", "E1"], ["3", "E2"], ["4", "E3"]]
AFTER = [["record_id", "entity_id"], ["1", "E1"], ["2", "E9"], ["3", "E2"], ["4", "E2"]]


class TestCompareCommand:
    def test_prints_and_writes_changes(self, tmp_path, capsys) -> None:
        """The summary is printed; the change table and the JSON report are written."""
        a, b = write(tmp_path / "a.csv", BEFORE), write(tmp_path / "b.csv", AFTER)
        out, report = tmp_path / "changes.csv", tmp_path / "r" / "report.json"
        code = main(["compare", str(a), str(b), "--id", "record_id", "--entity", "entity_id",
                     "--out", str(out), "--json", str(report)])
        assert code == 0
        text = capsys.readouterr().out
        assert "split 1" in text
        assert "merged 1" in text
        with out.open(encoding="utf-8", newline="") as fh:
            rows = list(csv.DictReader(fh))
        assert [(r["kind"], r["record_id"]) for r in rows] == [
            ("split", "1"), ("split", "2"), ("merged", "3"), ("merged", "4")]
        data = json.loads(report.read_text(encoding="utf-8"))
        assert data["split"] == 1
        assert data["pairwise"]["true_positives"] == 0

    def test_check_exit_code(self, tmp_path) -> None:
        """``--check`` exits 1 when anything changed and 0 for identical runs."""
        a, b = write(tmp_path / "a.csv", BEFORE), write(tmp_path / "b.csv", AFTER)
        args = ["--id", "record_id", "--entity", "entity_id", "--check"]
        assert main(["compare", str(a), str(b), *args]) == 1
        assert main(["compare", str(a), str(a), *args]) == 0

    def test_truth_file_columns(self, tmp_path, capsys) -> None:
        """A truth set with other column names is read with --after-id / --after-entity."""
        a = write(tmp_path / "a.csv", BEFORE)
        t = write(tmp_path / "t.csv", [["uid", "cluster"], ["1", "x"], ["2", "x"], ["3", "y"],
                                       ["4", "z"]])
        code = main(["compare", str(a), str(t), "--id", "record_id", "--entity", "entity_id",
                     "--after-id", "uid", "--after-entity", "cluster"])
        assert code == 0
        assert "f1 1.0000" in capsys.readouterr().out

    def test_missing_column_is_one_line_error(self, tmp_path, capsys) -> None:
        """An unknown entity column is a usage error (exit 2) naming the column."""
        a = write(tmp_path / "a.csv", BEFORE)
        code = main(["compare", str(a), str(a), "--id", "record_id", "--entity", "nope"])
        assert code == 2
        err = capsys.readouterr().err
        assert "nope" in err
        assert len(err.strip().splitlines()) == 1

    def test_refuses_to_overwrite_an_input(self, tmp_path, capsys) -> None:
        """--out naming an input file is refused before anything is written."""
        a, b = write(tmp_path / "a.csv", BEFORE), write(tmp_path / "b.csv", AFTER)
        code = main(["compare", str(a), str(b), "--id", "record_id", "--entity", "entity_id",
                     "--out", str(b)])
        assert code == 2
        assert "input file" in capsys.readouterr().err
        assert b.read_text(encoding="utf-8").startswith("record_id,entity_id")
