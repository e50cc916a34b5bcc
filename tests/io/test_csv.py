"""The CSV reader: encodings, every physical line accounted for, problems reported."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crmcore.errors import DataInputError
from crmcore.io import MAX_CELL, read_table, read_table_report

HEADER = "id,first_name,last_name,email\n"


def rows(n: int, start: int = 1) -> list[str]:
    return [f"{i},Ann{i},Lee,ann{i}@x.com\n" for i in range(start, start + n)]


class TestEncodings:
    @pytest.mark.parametrize("encoding", ["latin-1", "cp1252"])
    def test_single_byte_exports_are_detected(self, tmp_path: Path, encoding: str) -> None:
        """A latin-1 / cp1252 export is decoded (detected), not a UnicodeDecodeError."""
        p = tmp_path / "t.csv"
        text = HEADER + "1,Renée,Müller,r@x.com\n2,François,Großmann,f@y.com\n" * 20
        p.write_bytes(text.encode(encoding))
        table, report = read_table_report(p)
        assert table.column("first_name")[:2] == ["Renée", "François"]
        assert table.column("last_name")[1] == "Großmann"
        assert report.detected
        assert report.rows_in == 40
        assert not report.problems

    @pytest.mark.parametrize("encoding", ["latin-1", "cp1252"])
    def test_western_letters_survive_detection(self, tmp_path: Path, encoding: str) -> None:
        """Letters other code pages read differently (å, ñ, ø, ã) come back as written."""
        p = tmp_path / "t.csv"
        names = [("Åsa", "Pålsson"), ("Begoña", "Muñoz"), ("Søren", "Ørsted"), ("João", "Simões")]
        body = "".join(f"{i},{g},{f},x{i}@y.se\n" for i, (g, f) in enumerate(names * 10))
        p.write_bytes((HEADER + body).encode(encoding))
        table, report = read_table_report(p)
        assert report.detected
        got = list(zip(table.column("first_name"), table.column("last_name"), strict=True))
        assert got == names * 10

    def test_given_encoding_is_used(self, tmp_path: Path) -> None:
        """``encoding=`` decodes with that codec, not detection."""
        p = tmp_path / "t.csv"
        p.write_bytes((HEADER + "1,Zoë,Ñandú,z@x.com\n").encode("cp1252"))
        table, report = read_table_report(p, encoding="cp1252")
        assert table.column("first_name") == ["Zoë"]
        assert not report.detected

    def test_wrong_given_encoding_names_the_line(self, tmp_path: Path) -> None:
        """Bytes the given encoding cannot decode are a one-line error with file and line."""
        p = tmp_path / "t.csv"
        p.write_bytes(HEADER.encode() + b"1,Ann,Lee,a@x.com\n2,Ren\xe9e,X,r@x.com\n")
        with pytest.raises(DataInputError, match=r"t\.csv:3: bytes .* are not utf-8"):
            read_table(p, encoding="utf-8")

    def test_unknown_encoding(self, tmp_path: Path) -> None:
        """An unknown codec name is a clear error."""
        p = tmp_path / "t.csv"
        p.write_text(HEADER, encoding="utf-8")
        with pytest.raises(DataInputError, match="unknown encoding 'klingon'"):
            read_table(p, encoding="klingon")

    @pytest.mark.parametrize("encoding", ["utf-16", "utf-8-sig"])
    def test_bom_names_the_encoding(self, tmp_path: Path, encoding: str) -> None:
        """A UTF-16 or UTF-8 BOM decides the encoding; the BOM is not in the header."""
        p = tmp_path / "t.csv"
        p.write_bytes((HEADER + "1,Åsa,Ng,a@x.com\n").encode(encoding))
        table = read_table(p)
        assert table.column_names[0] == "id"
        assert table.column("first_name") == ["Åsa"]


class TestEveryLine:
    def test_stray_quote_does_not_swallow_rows(self, tmp_path: Path) -> None:
        """One stray quote: 338 rows in, 338 rows out, the quote's lines reported."""
        lines = rows(338)
        lines[10] = '11,"Ann11,Lee,ann11@x.com\n'  # opens a value, never closes on its line
        lines[47] = '48,Ann48,"Lee,ann48@x.com\n'  # ... until this line's quote
        p = tmp_path / "t.csv"
        p.write_text(HEADER + "".join(lines), encoding="utf-8")
        table, report = read_table_report(p)
        assert table.n_rows == report.rows_in == 338
        assert table.column("id") == [str(i) for i in range(1, 339)]
        assert [(q.line, q.rule) for q in report.problems] == [(12, "csv.quote"), (49, "csv.quote")]
        assert report.rows_clean + report.rows_reported == report.rows_in
        assert "338 rows in = 336 read cleanly + 2 reported" in report.summary()
        assert report.notes()[10].startswith("line 12: unbalanced double quote")

    def test_one_column_quote_never_closed_does_not_swallow_rows(self, tmp_path: Path) -> None:
        """A one-column file (no delimiter to tell a row by) whose quote never closes: every
        line after it is still a row, the quote's line reported (a fuzzed file lost rows)."""
        p = tmp_path / "t.csv"
        p.write_text('email\nann@x.com\n"bo@x.com\ncy@x.com\ndi@x.com\n', encoding="utf-8")
        table, report = read_table_report(p)
        assert table.column("email") == ["ann@x.com", '"bo@x.com', "cy@x.com", "di@x.com"]
        assert report.rows_in == 4
        assert [(q.line, q.rule) for q in report.problems] == [(3, "csv.quote")]
        # a quote that does close is one value over several lines, as before
        p.write_text('note\n"two\nlines"\nthree\n', encoding="utf-8")
        table, report = read_table_report(p)
        assert table.column("note") == ["two\nlines", "three"]

    def test_a_malformed_quoted_value_does_not_swallow_rows(self, tmp_path: Path) -> None:
        """Lines read as one quoted value whose closing quote is followed by more than a
        delimiter (the quote opened on another row's line, or the delimiter was guessed
        wrong) are rows of their own, the quote reported (a fuzzed one-column file, its
        delimiter past the sniffed sample, folded two rows into one)."""
        p = tmp_path / "t.csv"
        p.write_text('note\n"a\nb\n"c\nd\n', encoding="utf-8")
        table, report = read_table_report(p)
        assert report.rows_in == table.n_rows == 4
        assert table.column("note")[1:] == ["b", '"c', "d"]
        assert "csv.quote" in {q.rule for q in report.problems}
        # the fuzzed file: written with "|", one column, the delimiter beyond the sample
        buf = io.StringIO()
        csv.writer(buf, delimiter="|", lineterminator="\n").writerows(
            [["id"], ["z" * MAX_CELL, "\n"], [";"], [";\n"]])
        p.write_text(buf.getvalue(), encoding="utf-8")
        table, report = read_table_report(p)
        assert report.delimiter == "|"  # the one with which the file is well-formed CSV
        assert report.rows_in == table.n_rows == 3
        assert table.column("id")[1:] == [";", ";\n"]
        # the same with a header the guess does not split: the candidate in it is taken
        buf = io.StringIO()
        csv.writer(buf, delimiter="|", lineterminator="\n").writerows(
            [["id", "name"], ["z" * MAX_CELL, "\n"], [";"], [";", "\n"]])
        p.write_text(buf.getvalue(), encoding="utf-8")
        table, report = read_table_report(p)
        assert (report.delimiter, table.n_rows) == ("|", 3)
        assert table.column("id")[1:] == [";", ";"]
        # one column, no quotes: the sniffer's guess (or ",") stands
        p.write_text("email\na;b@x.com\nc|d@x.com\n", encoding="utf-8")
        table, report = read_table_report(p)
        assert table.column("email") == ["a;b@x.com", "c|d@x.com"]

    def test_quoted_line_breaks_are_one_value(self, tmp_path: Path) -> None:
        """A properly quoted value with line breaks (a street address) stays one value."""
        p = tmp_path / "t.csv"
        p.write_text('id,street,city\n1,"12 Main St\nFlat 3",Leeds\n2,x,York\n', encoding="utf-8")
        table, report = read_table_report(p)
        assert table.column("street") == ["12 Main St\nFlat 3", "x"]
        assert report.rows_in == 2
        assert not report.problems

    def test_ragged_rows_reported_and_kept(self, tmp_path: Path) -> None:
        """Too few and too many values: kept, reported with line and reason."""
        p = tmp_path / "t.csv"
        p.write_text(HEADER + "1,Ann\n2,Bo,Li,b@x.com,EXTRA\n3,Cy,Wu,c@x.com,\n", encoding="utf-8")
        table, report = read_table_report(p)
        assert table.column("id") == ["1", "2", "3"]
        assert [(q.line, q.rule) for q in report.problems] == [
            (2, "csv.too_few"), (3, "csv.too_many")
        ]
        assert "'EXTRA'" in report.problems[1].message

    def test_oversized_cell_is_read_and_reported(self, tmp_path: Path) -> None:
        """A cell over the stdlib's 128 KiB field limit is read (no traceback) and reported."""
        big = "x" * (MAX_CELL + 10)
        p = tmp_path / "t.csv"
        p.write_text(HEADER + f'1,Ann,"{big}",a@x.com\n2,Bo,Li,b@x.com\n', encoding="utf-8")
        table, report = read_table_report(p)
        assert table.column("last_name")[0] == big
        assert table.n_rows == 2
        assert [q.rule for q in report.problems] == ["csv.cell_size"]
        assert "'last_name'" in str(report.problems[0])

    def test_strict_mode_stops_with_the_list(self, tmp_path: Path) -> None:
        """strict=True raises one error listing every problem row with its line."""
        p = tmp_path / "t.csv"
        p.write_text(HEADER + "1,Ann\n2,Bo,Li,b@x.com\n3\n", encoding="utf-8")
        with pytest.raises(DataInputError, match=r"2 of 3 rows.*t\.csv:2:.*t\.csv:4:"):
            read_table(p, strict=True)

    def test_blank_lines_are_not_rows(self, tmp_path: Path) -> None:
        """Blank lines are counted apart, not turned into rows."""
        p = tmp_path / "t.csv"
        p.write_text(HEADER + "1,Ann,Lee,a@x.com\n\n\n2,Bo,Li,b@x.com\n", encoding="utf-8")
        table, report = read_table_report(p)
        assert table.n_rows == report.rows_in == 2
        assert report.blank_lines == 2

    def test_directory_is_an_error(self, tmp_path: Path) -> None:
        """A directory as input is a one-line error."""
        with pytest.raises(DataInputError, match="is a directory"):
            read_table(tmp_path)


CELL = st.one_of(
    st.text(alphabet='ab ,;|\t"\r\n\'é€Ω', max_size=8),
    st.sampled_from(['"', '""', '"x', 'x"', '"a,b"', "\r\n", "\n\n"]),
    st.integers(0, 3).map(lambda k: "z" * (MAX_CELL + k)),
)


class TestFuzz:
    @settings(
        max_examples=60, deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(
        header=st.lists(st.sampled_from(["id", "name", "email", "phone"]), min_size=1,
                        max_size=4, unique=True),
        body=st.lists(st.lists(CELL, max_size=6), max_size=12),
        delimiter=st.sampled_from([",", ";", "|", "\t"]),
        encoding=st.sampled_from(["utf-8", "utf-8-sig", "cp1252", "latin-1", "utf-16"]),
        newline=st.sampled_from(["\n", "\r\n", "\r"]),
        quoted=st.booleans(),
    )
    def test_rows_in_equal_rows_out_plus_reported(
        self, tmp_path_factory, header, body, delimiter, encoding, newline, quoted
    ) -> None:
        """Random quotes, delimiters, encodings, line endings and huge cells: no traceback,
        every row in the table, rows in = clean + reported, and (written by csv) no row lost."""
        if quoted:  # a well-formed file: csv writes it, every record must come back
            buf = io.StringIO()
            csv.writer(buf, delimiter=delimiter, lineterminator=newline).writerows([header, *body])
            text = buf.getvalue()
        else:  # raw text: cells joined with no quoting at all
            text = newline.join(delimiter.join([*header]) if i == 0 else delimiter.join(r)
                                for i, r in enumerate([header, *body]))
        data = text.encode(encoding, errors="replace")
        p = tmp_path_factory.mktemp("fuzz") / "f.csv"
        p.write_bytes(data)
        table, report = read_table_report(p)  # the header is never empty: no refusal
        assert table.n_rows == report.rows_in
        assert report.rows_clean + report.rows_reported == report.rows_in
        assert all(0 <= q.row < table.n_rows and q.line >= 2 for q in report.problems)
        if quoted and encoding in {"utf-8", "utf-8-sig", "utf-16"}:
            written = [r for r in body if r and any(c.strip() for c in r)]
            assert report.rows_in >= len(written)
