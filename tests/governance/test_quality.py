"""Data-quality metrics."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crmcore.governance import format_quality_report, quality_report
from crmcore.io import Table

NOW = datetime(2025, 1, 1, tzinfo=UTC)


class TestQualityReport:
    def test_figures(self) -> None:
        """Completeness, validity, duplicates and freshness of a small table."""
        t = Table.from_records(
            [
                {
                    "record_id": "1",
                    "email": "a@x.com",
                    "phone": "+44 20 7946 0123",
                    "updated_at": "2024-12-01",
                },
                {
                    "record_id": "2",
                    "email": "not-an-email",
                    "phone": None,
                    "updated_at": "2020-01-01",
                },
                {"record_id": "3", "email": None, "phone": "12", "updated_at": None},
            ]
        )
        r = quality_report(t, entity_ids={"1": "e1", "2": "e1"}, now=NOW)
        assert r.field("email").completeness == 2 / 3
        assert r.field("email").validity == 0.5
        assert r.field("phone").validity == 0.5
        assert r.entities == 2
        assert r.duplicate_rate == pytest.approx(1 / 3)
        assert r.freshness is not None
        assert r.freshness.dated == 2
        assert r.freshness.stale == 2
        text = format_quality_report(r)
        assert "duplicate rate: 33.3%" in text
        assert "email" in text

    def test_custom_validators_and_fields(self) -> None:
        """Given validators and fields replace the defaults."""
        r = quality_report({"code": ["A1", "B", None]}, validators={"code": lambda v: len(v) == 2})
        assert r.field("code").validity == 0.5
        assert r.freshness is None

    @settings(max_examples=50, deadline=None)
    @given(
        st.lists(
            st.one_of(st.none(), st.sampled_from(["a@x.com", "b@y.org", "bad"])),
            min_size=1,
            max_size=30,
        ),
        st.lists(st.integers(0, 4), min_size=30, max_size=30),
    )
    def test_matches_brute_force(self, emails, entities) -> None:
        """Figures equal simple counts."""
        ents = entities[: len(emails)]
        r = quality_report({"email": emails}, entity_ids=ents)
        filled = [e for e in emails if e is not None]
        f = r.field("email")
        assert f.filled == len(filled)
        assert f.valid == sum(e != "bad" for e in filled)
        assert r.entities == len(set(ents))


class TestDuplicateRateFromMatching:
    def test_match_result_and_index_shapes(self) -> None:
        """Entity ids are read from a MatchResult (entity_ids) or a MatchIndex (entities())."""

        class Result:
            entity_ids = ["E1", "E1", "E2"]  # noqa: RUF012 - stands in for MatchResult

        class Index:
            def entities(self) -> dict[str, str]:
                return {"r1": "E1", "r2": "E1"}

        t = {"record_id": ["r1", "r2", "r3"], "email": ["a@acme.io", "a@acme.io", None]}
        assert quality_report(t, entity_ids=Result()).entities == 2
        assert quality_report(t, entity_ids=Index()).entities == 2  # r3 is its own entity
        with pytest.raises(TypeError, match="entity ids"):
            quality_report(t, entity_ids=42)

    def test_entity_ids_from_dedupe(self) -> None:
        """The entity ids of crmcore.matching.dedupe give the duplicate rate."""
        rows = {
            "record_id": ["1", "2", "3", "4"],
            "first_name": ["Robert", "Robert", "Ann", "Zed"],
            "last_name": ["Smith", "Smith", "Lee", "Quist"],
            "email": ["bob@acme.io", "bob@acme.io", "ann@lee.org", "zed@quist.net"],
        }
        from crmcore.matching import dedupe

        result = dedupe(rows, id_column="record_id")
        expected = len(set(result.entity_ids))
        report = quality_report(rows, entity_ids=result)
        assert report.entities == expected
        assert report.duplicate_rate == pytest.approx(1 - expected / 4)
        text = format_quality_report(report, fields=False)
        assert "duplicate rate" in text
        assert "first_name" not in text
