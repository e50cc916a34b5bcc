"""The command line on messy inputs and unsafe outputs: nothing lost, nothing destroyed."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from crmcore.cli import main

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "contacts.csv"
SRC = ROOT / "src"

HEADER = ["rid", "first_name", "last_name", "email", "phone"]
ROWS = [
    ["1", "Robert", "Smith", "bob@acme.com", "+44 20 7946 0001"],
    ["2", "Robert", "Smith", "bob@acme.com", "020 7946 0001"],
    ["3", "Ann", "Lee", "ann@lee.org", ""],
]


def write(path: Path, rows: list[list[str]], encoding: str = "utf-8") -> Path:
    with path.open("w", newline="", encoding=encoding) as fh:
        csv.writer(fh).writerows(rows)
    return path


def read_rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len([line for line in err if "error" in line]) == 1, err
    return err[-1]


class TestOutputsCheckedFirst:
    @pytest.mark.parametrize("option", ["--out", "--golden", "--pairs"])
    def test_output_naming_the_input_is_refused(self, tmp_path, capsys, option):
        """--out / --golden / --pairs naming the input: exit 2, the input is untouched."""
        src = write(tmp_path / "in.csv", [HEADER, *ROWS])
        before = src.read_bytes()
        args = ["dedupe", str(src), "--id", "rid", "--quiet", "--out", str(tmp_path / "o.csv")]
        args += [option, str(src)] if option != "--out" else []
        if option == "--out":
            args[-1] = str(src)
        assert main(args) == 2
        assert src.read_bytes() == before
        assert "is an input file" in one_line_error(capsys)

    def test_directory_as_output_before_any_work(self, tmp_path, capsys):
        """A directory as --golden is refused before --out is written."""
        src = write(tmp_path / "in.csv", [HEADER, *ROWS])
        (tmp_path / "dir").mkdir()
        code = main(["dedupe", str(src), "--id", "rid", "--out", str(tmp_path / "o.csv"),
                     "--golden", str(tmp_path / "dir"), "--quiet"])
        assert code == 2
        assert not (tmp_path / "o.csv").exists()
        assert "is a directory" in one_line_error(capsys)

    def test_unwritable_place(self, tmp_path, capsys):
        """An output under /proc cannot be written: one line, exit 2, nothing else written."""
        src = write(tmp_path / "in.csv", [HEADER, *ROWS])
        code = main(["dedupe", str(src), "--id", "rid", "--out", str(tmp_path / "o.csv"),
                     "--pairs", "/proc/crmcore/pairs.csv", "--quiet"])
        assert code == 2
        assert not (tmp_path / "o.csv").exists()
        assert "--pairs /proc/crmcore/pairs.csv" in one_line_error(capsys)

    def test_bad_observed_column_fails_before_writing(self, tmp_path, capsys):
        """--observed naming no column stops before entities.csv is written."""
        src = write(tmp_path / "in.csv", [HEADER, *ROWS])
        code = main(["dedupe", str(src), "--id", "rid", "--out", str(tmp_path / "o.csv"),
                     "--golden", str(tmp_path / "g.csv"), "--observed", "nope", "--quiet"])
        assert code == 2
        assert not (tmp_path / "o.csv").exists()
        assert "--observed 'nope'" in one_line_error(capsys)


class TestIds:
    def test_repeated_ids_refused_with_the_list(self, tmp_path, capsys):
        """Repeated ids: exit 1 naming them, no output written."""
        src = write(tmp_path / "in.csv", [HEADER, *ROWS, ["1", "X", "Y", "", ""]])
        code = main(["dedupe", str(src), "--id", "rid", "--out", str(tmp_path / "o.csv"),
                     "--quiet"])
        assert code == 1
        assert not (tmp_path / "o.csv").exists()
        line = one_line_error(capsys)
        assert "'1' (2 rows)" in line
        assert "--on-duplicate-ids rename" in line

    def test_repeated_ids_renamed_behind_the_flag(self, tmp_path):
        """--on-duplicate-ids rename keeps every row, renames the repeat and notes it."""
        src = write(tmp_path / "in.csv", [HEADER, *ROWS, ["1", "X", "Y", "", ""]])
        out = tmp_path / "o.csv"
        code = main(["dedupe", str(src), "--id", "rid", "--out", str(out), "--quiet",
                     "--on-duplicate-ids", "rename"])
        assert code == 0
        got = read_rows(out)
        assert [r["id"] for r in got] == ["1", "2", "3", "1#2"]
        assert "renamed '1#2'" in got[3]["note"]

    def test_link_refuses_repeated_ids(self, tmp_path, capsys):
        """link refuses repeated ids in either file too."""
        left = write(tmp_path / "l.csv", [HEADER, *ROWS, ROWS[0]])
        right = write(tmp_path / "r.csv", [HEADER, *ROWS])
        code = main(["link", str(left), str(right), "--id", "rid",
                     "--out", str(tmp_path / "o.csv"), "--quiet"])
        assert code == 1
        assert "repeats 1 record ids" in one_line_error(capsys)


class TestMessyInput:
    def test_latin1_input_with_encoding_option(self, tmp_path, capsys):
        """--encoding latin-1 reads a latin-1 export; detection does too."""
        rows = [HEADER, ["1", "Renée", "Müller", "r@x.com", ""], ["2", "Zoë", "Ñandú", "", ""]]
        src = write(tmp_path / "in.csv", rows, encoding="latin-1")
        for extra in (["--encoding", "latin-1"], []):
            out = tmp_path / "o.csv"
            assert main(["dedupe", str(src), "--id", "rid", "--out", str(out), "--quiet",
                         *extra]) == 0
            assert [r["id"] for r in read_rows(out)] == ["1", "2"]
        assert "encoding latin-1 (read as)" in capsys.readouterr().out

    def test_stray_quote_rows_kept_with_a_note(self, tmp_path, capsys):
        """A stray quote: every row out, the quote's line noted, the summary counts it."""
        src = tmp_path / "in.csv"
        lines = [",".join(HEADER)] + [f"{i},Ann{i},Lee,a{i}@x.com," for i in range(1, 40)]
        lines[5] = '5,"Ann5,Lee,a5@x.com,'
        src.write_text("\n".join(lines) + "\n", encoding="utf-8")
        out = tmp_path / "o.csv"
        assert main(["dedupe", str(src), "--id", "rid", "--out", str(out), "--quiet"]) == 0
        got = read_rows(out)
        assert len(got) == 39
        assert "unbalanced double quote" in got[4]["note"]
        text = capsys.readouterr().out
        assert "39 rows in = 38 read cleanly + 1 reported" in text

    def test_strict_mode_stops_with_exit_1(self, tmp_path, capsys):
        """--strict: a ragged row stops the job, exit 1, the line named."""
        src = tmp_path / "in.csv"
        src.write_text(",".join(HEADER) + "\n1,Ann\n2,Bo,Li,b@x.com,\n", encoding="utf-8")
        code = main(["dedupe", str(src), "--id", "rid", "--out", str(tmp_path / "o.csv"),
                     "--strict", "--quiet"])
        assert code == 1
        assert "in.csv:2:" in one_line_error(capsys)

    def test_row_without_id_is_its_own_entity(self, tmp_path):
        """A duplicate row without an id gets its own entity and a note."""
        src = write(tmp_path / "in.csv", [HEADER, *ROWS, ["", *ROWS[0][1:]]])
        out = tmp_path / "o.csv"
        assert main(["dedupe", str(src), "--id", "rid", "--out", str(out), "--quiet"]) == 0
        got = read_rows(out)
        assert got[0]["entity_id"] == got[1]["entity_id"]
        assert got[3]["entity_id"] not in {g["entity_id"] for g in got[:3]}
        assert "missing id" in got[3]["note"]

    def test_summary_is_richer(self, tmp_path, capsys):
        """The summary has rows in / out, cluster sizes, comparisons' columns, rejects."""
        rows = [*ROWS, ["4", "Cy", "Wu", "not-an-email", ""]]
        src = write(tmp_path / "in.csv", [HEADER, *rows])
        assert main(["dedupe", str(src), "--id", "rid", "--out", str(tmp_path / "o.csv"),
                     "--quiet"]) == 0
        text = capsys.readouterr().out
        assert "rows in    4; rows out 4" in text
        assert "entities   3 (by size: 1: 2, 2: 1)" in text
        assert "email (email, first_name, last_name)" in text  # names: a mailbox made of them
        assert "rejected values (kept as missing) email 1" in text


class TestPipesAndHelp:
    def test_broken_pipe_is_quiet(self, tmp_path):
        """``crmcore validate ... | head -1``: no traceback, exit 141."""
        rows = [[str(i), "Ann", "Lee", f"not-an-email-{i}", ""] for i in range(4_000)]
        src = write(tmp_path / "in.csv", [HEADER, *rows])  # > 64 KiB of issues: the pipe fills
        code = (
            "import sys; from crmcore.cli import main; "
            f"sys.exit(main(['validate', {str(src)!r}, '--issues', '100000']))"
        )
        env = {**os.environ, "PYTHONPATH": str(SRC)}
        with subprocess.Popen(
            [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            env=env,
        ) as proc:
            assert proc.stdout is not None
            assert proc.stderr is not None
            proc.stdout.readline()
            proc.stdout.close()
            err = proc.stderr.read().decode()
            assert proc.wait(timeout=120) == 141
        assert "Traceback" not in err
        assert "BrokenPipe" not in err

    @pytest.mark.parametrize(
        ("command", "wanted"),
        [("dedupe", ["0.95", "default: contacts", "--encoding", "--strict", "--observed"]),
         ("link", ["0.95", "default: contacts", "--on-duplicate-ids"]),
         ("validate", ["default: 10", "--encoding", "--id"])],
    )
    def test_help_names_the_defaults(self, capsys, command, wanted):
        """--help lists every option with its default."""
        with pytest.raises(SystemExit):
            main([command, "--help"])
        text = " ".join(capsys.readouterr().out.split())
        for w in wanted:
            assert w in text


class TestValidate:
    def test_json_has_every_issue(self, capsys):
        """validate --json returns all issues, not the first ten."""
        assert main(["validate", str(EXAMPLE), "--json"]) == 0
        doc = json.loads(capsys.readouterr().out)
        assert doc["issue_count"] == len(doc["issues"]) > 10
        assert doc["read"]["rows_in"] == 338

    def test_repeated_ids_are_issues(self, tmp_path, capsys):
        """validate lists repeated record ids of the id column."""
        src = write(tmp_path / "in.csv", [HEADER, *ROWS, ROWS[2]])
        assert main(["validate", str(src), "--id", "rid"]) == 0
        assert "record id '3' of column 'rid' is on 2 rows" in capsys.readouterr().out


class TestParquetInput:
    def test_row_without_id_is_its_own_entity(self, tmp_path):
        """A Parquet row with a null id is not clustered with the row it duplicates."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        src = tmp_path / "in.parquet"
        pq.write_table(pa.table({
            "rid": pa.array([1, 2, None]),
            "first_name": ["Robert", "Ann", "Robert"],
            "last_name": ["Smith", "Lee", "Smith"],
            "email": ["bob@acme.com", "ann@lee.org", "bob@acme.com"],
            "phone": pa.array([4420794600.0, None, 4420794600.0]),
        }), src)
        out = tmp_path / "o.csv"
        assert main(["dedupe", str(src), "--id", "rid", "--out", str(out), "--quiet"]) == 0
        got = read_rows(out)
        assert [r["id"] for r in got] == ["1", "2", ""]
        assert len({r["entity_id"] for r in got}) == 3
        assert "missing id" in got[2]["note"]
