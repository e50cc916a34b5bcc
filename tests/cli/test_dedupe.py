"""The ``crmcore dedupe`` and ``crmcore link`` commands."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from crmcore.cli import main

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "contacts.csv"

ROWS = [
    ["rid", "First Name", "last_name", "email", "phone"],
    ["1", "Robert", "Smith", "bob@acme.com", "+44 20 7946 0001"],
    ["2", "Robert", "Smith", "bob@acme.com", "020 7946 0001"],
    ["3", "Ann", "Lee", "ann@lee.org", ""],
    ["4", "", "", "", ""],
]


def read_rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def write(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows(rows)
    return path


class TestDedupeCommand:
    def test_writes_every_row(self, tmp_path, capsys):
        """Every input id is written with an entity id; the summary is printed."""
        src = write(tmp_path / "in.csv", ROWS)
        out = tmp_path / "out" / "entities.csv"
        code = main(["dedupe", str(src), "--id", "rid", "--out", str(out),
                     "--map", "First Name=first_name", "--pairs", str(tmp_path / "p.csv")])
        assert code == 0
        got = read_rows(out)
        assert [r["id"] for r in got] == ["1", "2", "3", "4"]
        assert got[0]["entity_id"] == got[1]["entity_id"] != got[2]["entity_id"]
        assert got[3]["note"].startswith("no usable value")
        assert "duplicate rate" in capsys.readouterr().out

    @pytest.mark.parametrize("id_name", ["id", "Contact ID"])
    def test_id_column_the_schema_mapping_renames(self, tmp_path, id_name):
        """``--id id`` / ``--id "Contact ID"`` work although the preset maps them to record_id."""
        src = write(tmp_path / "in.csv", [[id_name, *ROWS[0][1:]], *ROWS[1:]])
        out = tmp_path / "out.csv"
        code = main(["dedupe", str(src), "--id", id_name, "--out", str(out),
                     "--map", "First Name=first_name", "--quiet"])
        assert code == 0
        assert [r["id"] for r in read_rows(out)] == ["1", "2", "3", "4"]

    def test_bad_map_is_a_usage_error(self, tmp_path):
        """A --map without '=' is reported, exit code 2."""
        src = write(tmp_path / "in.csv", ROWS)
        assert main(["dedupe", str(src), "--id", "rid", "--out", str(tmp_path / "o.csv"),
                     "--map", "nonsense", "--quiet"]) == 2

    def test_readme_command_on_the_example(self, tmp_path, monkeypatch):
        """The README's main command runs on examples/contacts.csv and keeps every row."""
        if not EXAMPLE.exists():
            pytest.fail("examples/contacts.csv is missing")
        monkeypatch.chdir(tmp_path)
        code = main(["dedupe", str(EXAMPLE), "--id", "record_id", "--out", "out/entities.csv"])
        assert code == 0
        n_in = len(read_rows(EXAMPLE))
        got = read_rows(tmp_path / "out" / "entities.csv")
        assert len(got) == n_in


class TestLinkCommand:
    def test_links_across_files(self, tmp_path):
        """Rows of both files are written; the same person shares an entity."""
        left = write(tmp_path / "l.csv", ROWS[:3])
        right = write(tmp_path / "r.csv", [ROWS[0], ROWS[2], ROWS[3]])
        out = tmp_path / "links.csv"
        code = main(["link", str(left), str(right), "--id", "rid", "--out", str(out),
                     "--map", "First Name=first_name", "--one-to-one", "--quiet"])
        assert code == 0
        got = read_rows(out)
        assert len(got) == 4
        assert {r["source"] for r in got} == {"left", "right"}


class TestReportAndProgress:
    def test_report_flag(self, tmp_path, capsys):
        """--report writes the HTML report whose figures are the run's entity count."""
        import json
        import re

        out, report = tmp_path / "entities.csv", tmp_path / "out" / "report.html"
        code = main(["dedupe", str(EXAMPLE), "--id", "record_id", "--out", str(out),
                     "--report", str(report), "--quiet"])
        assert code == 0
        text = report.read_text(encoding="utf-8")
        figures = json.loads(re.search(r'type="application/json">(.*?)</script>', text).group(1))
        assert figures["entities"] == len({r["entity_id"] for r in read_rows(out)})
        assert f"report {report}" in capsys.readouterr().out

    def test_report_path_checked_first(self, tmp_path, capsys):
        """A report path that is the input file is refused before any work; the input is kept."""
        src = write(tmp_path / "in.csv", ROWS)
        before = src.read_bytes()
        code = main(["dedupe", str(src), "--id", "rid", "--out", str(tmp_path / "o.csv"),
                     "--report", str(src), "--quiet"])
        assert code != 0
        assert "--report" in capsys.readouterr().err
        assert src.read_bytes() == before
        assert not (tmp_path / "o.csv").exists()

    def test_lines_off_a_terminal(self, tmp_path, capsys):
        """Off a terminal each phase is one timestamped line on stderr, no bar."""
        src = write(tmp_path / "in.csv", ROWS)
        main(["dedupe", str(src), "--id", "rid", "--out", str(tmp_path / "o.csv")])
        err = capsys.readouterr().err
        assert "] preparing 4 records" in err
        assert "\r" not in err

    def test_bars_on_a_terminal(self, tmp_path, monkeypatch):
        """On a terminal each phase gets a tqdm bar titled with its counts."""
        import io
        import sys

        class Terminal(io.StringIO):
            def isatty(self):
                return True

        err = Terminal()
        monkeypatch.setattr(sys, "stderr", err)
        src = write(tmp_path / "in.csv", ROWS)
        assert main(["dedupe", str(src), "--id", "rid", "--out", str(tmp_path / "o.csv")]) == 0
        text = err.getvalue()
        assert "preparing 4 records" in text
        assert "\r" in text  # drawn as a bar that redraws in place
