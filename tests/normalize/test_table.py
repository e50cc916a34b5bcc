"""normalize_table: mapping, per-row regions, custom fields kept, figures per field."""

from __future__ import annotations

from crmcore.io import Table
from crmcore.normalize import get_normalizer, normalize_table

SOURCE = Table(
    {
        "Contact ID": ["c1", "c2", "c3", "c4"],
        "E-mail Address": ["Ann@Acme.io", "bad", None, "test@test.com"],
        "Phone Number": ["020 7946 0958", "(415) 555-0134", "n/a", "12"],
        "Country": ["United Kingdom", "USA", "Deutschland", "Narnia"],
        "Organisation": ["ACME LTD", "Globex, Inc.", "", None],
        "Zip": ["sw1a1aa", "2134", "10115", "x"],
        "Notes": ["vip", None, "", "call back"],
    }
)


class TestNormalizeTable:
    def test_values_and_custom_fields(self) -> None:
        """Canonical fields normalised with each row's country; custom columns kept as they are."""
        result = normalize_table(SOURCE)
        table = result.table
        assert table.column("email") == ["ann@acme.io", None, None, None]
        assert table.column("phone") == ["+442079460958", "+14155550134", None, None]
        assert table.column("country") == ["GB", "US", "DE", None]
        assert table.column("postcode") == ["SW1A 1AA", "02134", "10115", "X"]
        assert table.column("company") == ["Acme Ltd", "Globex Inc.", None, None]
        assert table.column("Notes") == SOURCE.column("Notes")
        assert result.mapping.unmapped == ["Notes"]

    def test_issues_name_record_field_value_rule(self) -> None:
        """Each rejected value is one issue with the record id from the id column."""
        result = normalize_table(SOURCE)
        found = {(p.record, p.field, p.value, p.rule) for p in result.issues}
        assert ("c2", "email", "bad", "email.format") in found
        assert ("c4", "email", "test@test.com", "email.placeholder") in found
        assert ("c4", "country", "Narnia", "country.unknown") in found

    def test_reports_match_a_brute_force_count(self) -> None:
        """Per-field figures equal counts made value by value."""
        result = normalize_table(SOURCE)
        for report in result.reports:
            values = SOURCE.column(report.source)
            out = result.table.column(report.field)
            assert report.rows == 4
            assert report.present == sum(v is not None for v in values)
            assert report.valid == sum(v is not None for v in out)
            assert report.rejected == sum(1 for p in result.issues if p.field == report.field)
            assert report.changed == sum(
                1 for v, o in zip(values, out, strict=True) if o is not None and o != v
            )
            assert 0.0 <= report.completeness <= 1.0
            assert 0.0 <= report.validity <= 1.0
        assert result.to_dict()["issue_count"] == len(result.issues)

    def test_default_region_and_override(self) -> None:
        """Rows without a country use default_region; a field's normalizer can be replaced."""
        table = Table({"phone": ["020 7946 0958"], "company": ["ACME LTD"]})
        result = normalize_table(
            table, default_region="GB", normalizers={"company": get_normalizer("company")}
        )
        assert result.table.column("phone") == ["+442079460958"]
        assert result.table.column("company") == ["acme"]
