"""Preparation: normalised columns equal per-row normalisation; rejected values are reported."""

from __future__ import annotations

from typing import ClassVar

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crmcore.errors import MatchingConfigError
from crmcore.io import Table
from crmcore.matching import PREPARE_KINDS, prepare_columns
from tests.matching.strategies import CITIES, DATES, EMAILS, GIVEN, PHONES

KINDS = {"first_name": "name", "email": "email", "phone": "phone", "city": "text",
         "dob": "date", "postcode": "postcode"}
VALUES = {"first_name": GIVEN, "email": EMAILS, "phone": PHONES, "city": CITIES, "dob": DATES,
          "postcode": ["sw1a 1aa", "SW1A-1AA", "75001", " ", "ls1"]}


@st.composite
def tables(draw: st.DrawFn) -> Table:
    """A table of the prepared columns plus an id column and an untouched note column."""
    n = draw(st.integers(0, 15))
    cols: dict[str, list[str | None]] = {"id": [f"r{k}" for k in range(n)]}
    for name, choices in VALUES.items():
        cols[name] = draw(st.lists(st.one_of(st.none(), st.sampled_from(choices)),
                                   min_size=n, max_size=n))
    cols["note"] = draw(st.lists(st.one_of(st.none(), st.text(max_size=5)), min_size=n,
                                 max_size=n))
    return Table(cols)


class TestPrepareColumns:
    @settings(max_examples=40, deadline=None)
    @given(tables())
    def test_equals_per_row_normalisation(self, table) -> None:
        """Every prepared value is the kind's normaliser applied to that row's value."""
        out, _ = prepare_columns(table, KINDS, id_column="id")
        for name, kind in KINDS.items():
            expected = [None if v is None else PREPARE_KINDS[kind](v) for v in table.column(name)]
            assert out[name] == expected
        assert out["note"] == table.column("note")
        assert out["id"] == table.column("id")

    @settings(max_examples=40, deadline=None)
    @given(tables())
    def test_every_rejected_value_is_reported(self, table) -> None:
        """One problem per present value the normaliser rejects, naming record, field and rule."""
        out, problems = prepare_columns(table, KINDS, id_column="id")
        expected = sorted(
            (table.column("id")[row], name, table.column(name)[row], f"normalize.{kind}")
            for name, kind in KINDS.items()
            for row in range(table.n_rows)
            if table.column(name)[row] is not None and out[name][row] is None
        )
        got = sorted((p.record, p.field, p.value, p.rule) for p in problems)
        assert got == expected

    def test_last_comma_first(self) -> None:
        """The name kind puts "Last, First" in natural order and keeps a suffix-only comma part."""
        name = PREPARE_KINDS["name"]
        assert name("Aguirre, Diane") == name("Diane Aguirre") == "diane aguirre"
        assert name("GARCÍA MÁRQUEZ, Gabriel José") == "gabriel jose garcia marquez"
        assert name("Smith, Jr.") == "smith jr"

    def test_examples(self) -> None:
        """Emails lose +tags and Gmail dots; postcodes are upper case; bad dates kept as text."""
        table = Table({"email": ["J.Doe+crm@GoogleMail.com", "bad@"],
                       "postcode": ["sw1a-1aa", None], "dob": ["2020-02-30", "31/01/1980"]})
        out, problems = prepare_columns(
            table, {"email": "email", "postcode": "postcode", "dob": "date"})
        assert out["email"] == ["jdoe@gmail.com", None]
        assert out["postcode"] == ["SW1A 1AA", None]
        assert out["dob"] == ["2020-02-30", "1980-01-31"]
        assert [(p.record, p.value) for p in problems] == [("1", "bad@")]

    def test_runs_once_per_distinct_value(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """The normaliser is called once per distinct value of a column."""
        calls: list[str] = []

        def spy(value: str) -> str:
            calls.append(value)
            return value.lower()

        monkeypatch.setitem(PREPARE_KINDS, "text", spy)  # type: ignore[index]
        table = Table({"city": ["Leeds", "Paris", "Leeds", None, "Leeds"]})
        out, _ = prepare_columns(table, {"city": "text"})
        assert out["city"] == ["leeds", "paris", "leeds", None, "leeds"]
        assert sorted(calls) == ["Leeds", "Paris"]

    def test_columns_filter_and_unknown_kind(self) -> None:
        """Only the asked columns are returned (absent ones skipped); unknown kinds raise."""
        table = Table({"a": ["x"], "b": ["y"]})
        out, _ = prepare_columns(table, {}, columns=["b", "zz"])
        assert out == {"b": ["y"]}
        with pytest.raises(MatchingConfigError, match="unknown prepare kinds \\['magic'\\]"):
            prepare_columns(table, {"a": "magic"})


class TestDateOrder:
    """A date column's day/month order is decided once, from the data, for batch and index."""

    ROWS: ClassVar[list[dict[str, str]]] = [
        {"id": str(k), "first_name": g, "last_name": f, "dob": d}
        for k, (g, f, d) in enumerate([
            ("anna", "weber", "25.03.1961"), ("anna", "weber", "06.11.1961"),
            ("karl", "klein", "30.01.1970"), ("uwe", "koch", "13.12.2001"),
            ("inge", "wolf", "02.04.1950"), ("petra", "engel", "31.05.1944")])]

    def test_batch_reads_the_order_the_column_shows(self) -> None:
        """dd.mm.yyyy dates: the settings say so, and the ambiguous ones are ISO dates."""
        from crmcore.matching import dedupe, people

        result = dedupe(self.ROWS, id_column="id", settings=people(postcode=None))
        assert result.settings.prepare["dob"] == "date_dayfirst"
        assert result.frame.values("dob")[1] == "1961-11-06"
        assert result.frame.values("dob")[4] == "1950-04-02"

    def test_index_prepares_later_records_as_batch_did(self) -> None:
        """A record added to an index built on day-first dates is read day first too, and
        matches its twin exactly as batch scores the pair."""
        from crmcore.matching import dedupe, people
        from crmcore.matching.realtime import MatchIndex

        result = dedupe(self.ROWS, id_column="id", settings=people(postcode=None))
        index = MatchIndex.build(result.model, people(postcode=None), self.ROWS, id_column="id")
        assert index.settings.prepare["dob"] == "date_dayfirst"
        twin = {"id": "new", "first_name": "anna", "last_name": "weber", "dob": "06.11.1961"}
        assert index._prepare(twin)["dob"] == "1961-11-06"
        both = dedupe([*self.ROWS, twin], id_column="id", settings=people(postcode=None),
                      model=result.model)
        batch = {(both.ids[i], both.ids[j]): p for i, j, p in zip(
            both.pairs.left, both.pairs.right, both.pairs.probability, strict=True)}
        got = {m.record_id: m.probability for m in index.match(twin, threshold=0.0)}
        assert got["1"] == pytest.approx(batch[("1", "new")])

    def test_unknown_order_keeps_invalid_dates_in_iso_layout(self) -> None:
        """Without an order, ambiguous values stay as written; a compact date with a month
        typed 00 takes the ISO layout, so the typo level still compares it."""
        table = Table({"dob": ["03/04/2025", "19490013", "1949-07-13", None]})
        prepared, _ = prepare_columns(table, {"dob": "date"})
        assert prepared["dob"] == ["03/04/2025", "1949-00-13", "1949-07-13", None]


class TestHonorifics:
    def test_leading_honorifics_are_dropped_alike_in_both_forms(self) -> None:
        """The name kind drops leading honorifics (never the last word), value by value and
        in the pyarrow batch form alike."""
        values = ["Dr. Hans", "Prof. Dr. Anna-Lena", "Frau Inge", "Herr Dr. Klaus",
                  "Smith, John, Mr", "Drew", "Ms", "DR", "Mr  Mrs", "Mme. Léa Dubois"]
        expected = ["hans", "anna-lena", "inge", "klaus", "john smith", "drew", "ms", "dr",
                    "mrs", "lea dubois"]
        assert [PREPARE_KINDS["name"](v) for v in values] == expected
        prepared, _ = prepare_columns(Table({"n": values}), {"n": "name"})
        assert prepared["n"] == expected


class TestPostcodes:
    def test_a_postcode_written_without_its_space_is_the_same(self) -> None:
        """British, Canadian and Dutch postcodes with and without their space are one value,
        whose first word is the district; other postcodes keep their words."""
        values = ["sw1a1aa", "SW1A 1AA", "ec1a-3xh", "m5v3l9", "1012ab", "02134-1234", "10115",
                  "113 46", "A65F4E2"]
        prepared, _ = prepare_columns(Table({"p": values}), {"p": "postcode"})
        assert prepared["p"] == ["SW1A 1AA", "SW1A 1AA", "EC1A 3XH", "M5V 3L9", "1012 AB",
                                 "02134 1234", "10115", "113 46", "A65F4E2"]


class TestMisreadText:
    def test_utf8_read_as_windows_1252_is_repaired(self) -> None:
        """A name whose UTF-8 was read as Windows-1252 prepares as the name itself; a
        typographic apostrophe is an apostrophe."""
        values = ["MÃ¼ller", "JosÃ© GarcÃ\xada", "StraÃŸe", "Oâ€™Brien", "O'Brien", "SÃO PAULO"]
        prepared, _ = prepare_columns(Table({"n": values}), {"n": "name"})
        assert prepared["n"] == ["muller", "jose garcia", "strasse", "o'brien", "o'brien",
                                 "sao paulo"]
