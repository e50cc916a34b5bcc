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
