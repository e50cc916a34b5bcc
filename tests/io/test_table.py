"""Reading and writing tables."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crmcore.errors import DataInputError
from crmcore.io import Table, read_table, to_table, write_table

text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\r\n"),
    max_size=20,
)


class TestReadTable:
    def test_csv_round_trip(self, tmp_path: Path) -> None:
        """A written CSV reads back the same, empty values as None."""
        t = Table.from_records([{"id": "1", "name": "Ann, Jr"}, {"id": "2", "name": ""}])
        write_table(t, tmp_path / "t.csv")
        back = read_table(tmp_path / "t.csv")
        assert back.columns == {"id": ["1", "2"], "name": ["Ann, Jr", None]}

    def test_semicolon_sniffed(self, tmp_path: Path) -> None:
        """A semicolon-delimited export is read without being told."""
        p = tmp_path / "t.csv"
        p.write_text("\ufeffid;email\n1;a@x.com\n2;b@y.org\n", encoding="utf-8")
        assert read_table(p).column("email") == ["a@x.com", "b@y.org"]

    def test_missing_file(self, tmp_path: Path) -> None:
        """A missing file names the path."""
        with pytest.raises(DataInputError, match="no such file"):
            read_table(tmp_path / "nope.csv")

    def test_ragged_row_is_an_error_in_strict_mode(self, tmp_path: Path) -> None:
        """A row with extra values names the line in strict mode (lenient keeps it)."""
        p = tmp_path / "t.csv"
        p.write_text("a,b\n1,2,3\n", encoding="utf-8")
        with pytest.raises(DataInputError, match=":2:"):
            read_table(p, strict=True)
        assert read_table(p).columns == {"a": ["1"], "b": ["2"]}

    def test_short_row_is_padded(self, tmp_path: Path) -> None:
        """A row with missing trailing values is kept, padded with None."""
        p = tmp_path / "t.csv"
        p.write_text("a,b\n1\n", encoding="utf-8")
        assert read_table(p).columns == {"a": ["1"], "b": [None]}

    def test_parquet_round_trip(self, tmp_path: Path) -> None:
        """Parquet round trip keeps text and nulls."""
        t = Table.from_columns({"id": ["1", "2"], "x": ["é", None]})
        write_table(t, tmp_path / "t.parquet")
        assert read_table(tmp_path / "t.parquet") == t

    @given(st.lists(st.tuples(text, text), max_size=20))
    def test_csv_round_trip_property(self, rows: list[tuple[str, str]]) -> None:
        """Any text (bar line breaks) survives a CSV round trip, blank cells as None."""
        import tempfile

        t = Table.from_columns({"a": [r[0] for r in rows], "b": [r[1] for r in rows]})
        with tempfile.TemporaryDirectory() as d:
            write_table(t, Path(d) / "x.csv")
            back = read_table(Path(d) / "x.csv", delimiter=",")
        if rows:
            assert back == t


class TestToTable:
    def test_pandas(self) -> None:
        """A pandas frame converts, NaN as None, numbers as text."""
        pd = pytest.importorskip("pandas")
        df = pd.DataFrame({"id": [1, 2], "v": ["x", None]})
        assert to_table(df).columns == {"id": ["1", "2"], "v": ["x", None]}

    def test_rows(self) -> None:
        """Rows with different keys give the union of columns."""
        t = to_table([{"a": "1"}, {"b": "2"}])
        assert t.columns == {"a": ["1", None], "b": [None, "2"]}

    def test_unknown(self) -> None:
        """A non-table object is rejected with its type."""
        with pytest.raises(DataInputError, match="int"):
            to_table(5)

    def test_unequal_columns(self) -> None:
        """Columns of different lengths are rejected."""
        with pytest.raises(DataInputError, match="differ in length"):
            Table({"a": ["1"], "b": []})


class TestParquetCells:
    def test_lists_structs_and_whole_floats(self, tmp_path: Path) -> None:
        """Lists are 'a; b', structs one column per field, a float phone has no '.0'."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        arrow = pa.table({
            "id": pa.array([1, None]),
            "phone": pa.array([5551234.0, 12.5]),
            "tags": pa.array([["a", "b"], []]),
            "address": pa.array([{"street": "1 Main St", "city": "Leeds"}, None]),
        })
        pq.write_table(arrow, tmp_path / "t.parquet")
        t = read_table(tmp_path / "t.parquet")
        assert t.columns == {
            "id": ["1", None],
            "phone": ["5551234", "12.5"],
            "tags": ["a; b", None],
            "address.street": ["1 Main St", None],
            "address.city": ["Leeds", None],
        }

    def test_pandas_float_ids_and_phones(self) -> None:
        """A pandas int column with a gap (floats) reads back as whole numbers."""
        import pandas as pd

        frame = pd.DataFrame({"phone": [5551234, None]})
        assert to_table(frame).columns == {"phone": ["5551234", None]}
