"""write_golden: golden records and lineage files for a matched table."""

from __future__ import annotations

import pytest

from crmcore.errors import SurvivorshipError
from crmcore.io import Table, read_table
from crmcore.survivorship import lineage_path, write_golden

TABLE = Table({
    "Id": ["1", "2", "3"],
    "source": ["crm", "erp", "crm"],
    "updated_at": ["2024-01-01", "2024-03-01", "2024-02-01"],
    "email": ["ann@acme.io", "n/a", "bob@acme.io"],
    "title": ["VP Sales", "Sales Director", "Buyer"],
})


class TestWriteGolden:
    def test_files_and_values(self, tmp_path):
        """Golden and lineage files are written; the id column is not a golden field."""
        out = tmp_path / "g.csv"
        msg = write_golden(TABLE, ["1", "2", "3"], ["e1", "e1", "e2"], out, id_column="Id")
        assert "2 golden records" in msg
        rows = list(read_table(out).rows())
        assert [r["entity_id"] for r in rows] == ["e1", "e2"]
        assert "Id" not in rows[0]
        assert (rows[0]["email"], rows[0]["title"]) == ("ann@acme.io", "Sales Director")
        lineage = list(read_table(lineage_path(out)).rows())
        assert {(r["entity_id"], r["field"]) for r in lineage} >= {("e1", "title"), ("e2", "email")}

    def test_lineage_path(self):
        """Lineage goes next to the golden file with the same extension."""
        assert lineage_path("a/b.parquet").name == "b.lineage.parquet"
        assert lineage_path("a/b").name == "b.lineage.csv"

    def test_missing_ids(self, tmp_path):
        """Rows without an id cannot be traced and are refused."""
        with pytest.raises(SurvivorshipError, match="row 1"):
            write_golden(TABLE, ["1", None, "3"], ["e", "e", "e"], tmp_path / "g.csv")

    def test_length_mismatch(self, tmp_path):
        """Ids and entity ids must have one entry per row."""
        with pytest.raises(SurvivorshipError, match="differ"):
            write_golden(TABLE, ["1"], ["e"], tmp_path / "g.csv")


MESSY = Table({
    "Id": ["1", "2", "3", "4"],
    "source_system": ["crm", "erp", "web", "crm"],
    "created_at": ["2021-02-09", "20210612", "12 March 2021", "2024-01-01"],
    "email": ["Ann.Lee@ACME.io", "test@test.com", "ann.lee@acme.io", "bo@x.org"],
    "phone": ["(415) 555-0100", "000-000-0000", "NULL", "n/a"],
    "country": ["U.S.", "Netherlands", "US", "GER"],
    "first_name": ["Ann", "NULL", "Ann", "Bo"],
})


def golden_rows(tmp_path, table=MESSY, **options):
    out = tmp_path / "g.csv"
    message = write_golden(table, list(table.column("Id")), ["e1", "e1", "e1", "e2"], out,
                           id_column="Id", **options)
    golden = {r["entity_id"]: r for r in read_table(out).rows()}
    lineage = {(r["entity_id"], r["field"]): r for r in read_table(lineage_path(out)).rows()}
    return message, golden, lineage


class TestShippableGolden:
    def test_winners_in_display_form_raw_in_lineage(self, tmp_path):
        """Winners are ISO / E.164 / lower-case; lineage keeps the raw text."""
        _msg, golden, lineage = golden_rows(tmp_path)
        e1 = golden["e1"]
        assert e1["email"] == "ann.lee@acme.io"
        assert e1["phone"] == "+14155550100"
        assert e1["country"] == "US"  # "U.S." and "US" agree
        assert e1["created_at"] == "2021-02-09T00:00:00+00:00"
        assert lineage[("e1", "phone")]["raw_value"] == "(415) 555-0100"

    def test_placeholders_never_win(self, tmp_path):
        """NULL, n/a, test@test.com, 000-000-0000: never golden, listed as rejected."""
        _msg, golden, lineage = golden_rows(tmp_path)
        assert golden["e1"]["first_name"] == "Ann"
        assert golden["e2"]["phone"] is None
        assert golden["e2"]["country"] is None
        rejected = lineage[("e1", "phone")]["rejected"]
        assert "'000-000-0000' (2)" in rejected
        assert "'NULL' (3)" in rejected
        assert "'test@test.com' (2): email.placeholder" in lineage[("e1", "email")]["rejected"]
        assert lineage[("e2", "phone")]["policy"] == "none"

    def test_lineage_lists_the_losers(self, tmp_path):
        """The lineage names the losing values with their record ids."""
        _msg, _golden, lineage = golden_rows(tmp_path)
        row = lineage[("e1", "country")]
        assert row["value"] == "US"
        assert "NL (2)" in row["losers"]

    def test_most_recent_reads_the_best_time_column(self, tmp_path):
        """Without updated_at, most_recent reads created_at (ISO basic dates included)."""
        msg, golden, _lineage = golden_rows(tmp_path)
        assert "most_recent read 'created_at'" in msg
        # the newest record (2, 20210612) has placeholders: the valid newest is record 3
        assert golden["e1"]["email"] == "ann.lee@acme.io"
        table = Table({**MESSY.columns, "last_touch": ["2020-01-01", None, "2019-01-01", None]})
        msg, golden, _lineage = golden_rows(tmp_path, table, observed_column="last_touch")
        assert "most_recent read 'last_touch'" in msg
        assert golden["e1"]["email"] == "ann.lee@acme.io"

    def test_no_time_column_is_said(self, tmp_path):
        """With no time column the message says tie-breakers decided."""
        table = Table({k: v for k, v in MESSY.columns.items() if k != "created_at"})
        table = Table({**table.columns, "title": ["CEO", "Chief Executive", "CEO", None]})
        msg, _golden, lineage = golden_rows(tmp_path, table)
        assert "no time column" in msg
        assert lineage[("e1", "title")]["policy"] == "most_recent"
        assert lineage[("e1", "title")]["tie_breaker"] == "most_frequent"

    def test_unknown_observed_column(self, tmp_path):
        """An observed column that does not exist is an error."""
        with pytest.raises(SurvivorshipError, match="'nope' is not a column"):
            golden_rows(tmp_path, observed_column="nope")
