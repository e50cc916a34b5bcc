"""Schema mapping: synonyms, prefixes, stems, overrides, conflicts, custom fields."""

from __future__ import annotations

import pytest

from crmcore.errors import SchemaMappingError
from crmcore.io import Table
from crmcore.normalize import SCHEMA_PRESETS, apply_mapping, column_renames, map_schema
from crmcore.normalize._schema import column_key


class TestSynonyms:
    @pytest.mark.parametrize(
        ("column", "field"),
        [
            ("E-mail Address", "email"), ("Email", "email"), ("EMAIL_ADDRESS", "email"),
            ("Company Name", "company"), ("Organisation", "company"), ("Organization", "company"),
            ("Mobile", "mobile"), ("Mobile Phone", "mobile"), ("Cell", "mobile"),
            ("Phone Number", "phone"), ("Tel.", "phone"), ("Work Phone", "phone"),
            ("Zip", "postcode"), ("Post Code", "postcode"), ("ZIP/Postal Code", "postcode"),
            ("PLZ", "postcode"), ("First Name", "first_name"), ("Vorname", "first_name"),
            ("Prénom", "first_name"), ("Surname", "last_name"), ("Full Name", "full_name"),
            ("Country/Region", "country"), ("Date of Birth", "dob"), ("Contact Email", "email"),
            ("MailingPostalCode", "postcode"), ("Created Date", "created_at"),
        ],
    )  # fmt: skip
    def test_detected(self, column: str, field: str) -> None:
        """Common spellings of each field are detected automatically."""
        mapping = map_schema([column, "Notes"])
        assert mapping.mapping == {column: field}
        assert mapping.unmapped == ["Notes"]

    @pytest.mark.parametrize(
        "column", ["Email Opt In", "EmailOptIn", "Phone Type", "email_verified", "Fax", "Notes"]
    )
    def test_flags_are_not_values(self, column: str) -> None:
        """Columns about a field (opt-in, type, verified ...) are not the field."""
        assert map_schema([column]).mapping == {}


class TestChoices:
    def test_best_candidate_wins(self) -> None:
        """An exact synonym beats an earlier stem match; the loser is a reported custom field."""
        mapping = map_schema(["Secondary Email", "Email", "Company"])
        assert mapping.mapping == {"Email": "email", "Company": "company"}
        assert mapping.conflicts == {"email": ["Secondary Email"]}
        assert mapping.unmapped == ["Secondary Email"]
        assert mapping.how == {"Email": "synonym", "Company": "synonym"}

    def test_overrides(self) -> None:
        """Overrides map a column, or keep it custom with None."""
        mapping = map_schema(["Mail 1", "Email", "Zip"], overrides={"Mail 1": "email", "Zip": None})
        assert mapping.mapping == {"Mail 1": "email"}
        assert mapping.unmapped == ["Email", "Zip"]
        assert mapping.source_of("email") == "Mail 1"
        assert mapping.fields == ["email"]
        assert mapping.to_dict()["how"] == {"Mail 1": "override"}

    def test_bad_overrides_are_all_reported(self) -> None:
        """Unknown columns, unknown fields and duplicate targets are reported together."""
        with pytest.raises(SchemaMappingError) as caught:
            map_schema(["a", "b"], overrides={"x": "email", "a": "nope", "b": "phone",
                                              "c": "phone"})  # fmt: skip
        text = str(caught.value)
        assert "'x'" in text
        assert "'nope'" in text
        assert "'phone'" in text
        with pytest.raises(SchemaMappingError, match="preset"):
            map_schema(["a"], preset="people")

    def test_accounts_preset(self) -> None:
        """The accounts preset maps names and websites onto account fields."""
        mapping = map_schema(["Account Name", "Website", "Employees"], preset="accounts")
        assert mapping.mapping == {"Account Name": "company", "Website": "domain",
                                   "Employees": "size"}  # fmt: skip
        assert set(mapping.mapping.values()) <= set(SCHEMA_PRESETS["accounts"][0])

    def test_column_key(self) -> None:
        """Keys ignore case, accents and punctuation."""
        assert column_key(" E-mail Address ") == column_key("email_address") == "emailaddress"


class TestApplyMapping:
    def test_renames_keep_the_first_source(self) -> None:
        """Explicit renames apply; a second column mapped to the same field is dropped."""
        table = Table({"Mail": ["a@acme.io"], "E-mail": ["b@acme.io"], "x": ["1"]})
        out = apply_mapping(table, {"Mail": "email", "E-mail": "email"})
        assert out.column("email") == ["a@acme.io"]
        assert out.column_names == ["email", "x"]

    def test_explicit_mapping_wins_over_a_same_named_column(self) -> None:
        """An explicit SOURCE=FIELD rename wins over a column already named FIELD."""
        table = Table({"Mail": ["a@acme.io"], "email": ["b@acme.io"], "x": ["1"]})
        out = apply_mapping(table, {"Mail": "email"})
        assert out.column("email") == ["a@acme.io"]
        assert sorted(out.column_names) == ["email", "x"]
        # without the explicit entry the column already named email stays
        assert apply_mapping(table).column("email") == ["b@acme.io"]

    def test_preset_maps_synonyms_and_explicit_entries_win(self) -> None:
        """With a preset, synonyms map; an explicit entry wins the field; renames agree."""
        table = Table({"E-mail": ["a@x.io"], "Mail 2": ["b@x.io"], "Notes": ["hi"]})
        out = apply_mapping(table, {"Mail 2": "email"}, preset="contacts")
        assert out.column("email") == ["b@x.io"]
        assert out.column_names == ["E-mail", "email", "Notes"]
        renames = column_renames(table.column_names, {"Mail 2": "email"}, preset="contacts")
        assert renames == {"Mail 2": "email"}
        assert column_renames(["E-mail"], preset="contacts") == {"E-mail": "email"}
