"""Presets: settings that fit the columns there are, with valid rules, and work on the example."""

from __future__ import annotations

import csv
from pathlib import Path

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crmcore.errors import MatchingConfigError
from crmcore.matching import (
    PRESETS,
    MatchModel,
    MatchSettings,
    accounts,
    cluster_scores,
    contacts,
    dedupe,
    get_preset,
    people,
)

ROOT = Path(__file__).resolve().parents[2]
CONTACT_FIELDS = ["first_name", "last_name", "email", "phone", "company", "city", "postcode",
                  "country", "dob", "title"]
ACCOUNT_FIELDS = ["company", "domain", "phone", "street", "city", "postcode", "country",
                  "industry"]


def model_for(s: MatchSettings) -> MatchModel:
    """A flat model over the settings' comparisons (validates the rules' level labels)."""
    m = [(1.0, *[1.0 / (c.n_levels - 1)] * (c.n_levels - 1)) for c in s.comparisons]
    return MatchModel(s.comparisons, m=m, u=m, prior=0.1, rules=s.rules)


def check_fits(s: MatchSettings, columns: list[str]) -> None:
    assert s.columns <= set(columns)
    assert set(s.prepare) <= set(columns)
    model_for(s)
    assert MatchSettings.from_dict(s.to_dict()) == s


class TestContacts:
    @settings(max_examples=60, deadline=None)
    @given(st.lists(st.sampled_from(CONTACT_FIELDS), unique=True))
    def test_fits_any_subset_of_fields(self, columns) -> None:
        """For any available fields, the settings read only those, or refuse with advice."""
        try:
            s = contacts(columns)
        except MatchingConfigError as exc:
            refusal = exc
        else:
            check_fits(s, columns)
            assert s.name == "contacts"
            return
        assert "map source columns onto these fields" in str(refusal)
        assert not {"email", "phone"} & set(columns), "email or phone alone are enough"

    def test_all_fields(self) -> None:
        """With every field the preset compares names, email, phone, company, dob, location."""
        s = contacts()
        assert [c.name for c in s.comparisons] == [
            "given name", "family name", "email", "phone", "company", "dob", "location",
            "country"]
        assert all(r.name for r in s.blocking)
        check_fits(s, CONTACT_FIELDS)

    def test_nothing_to_match_on(self) -> None:
        """Without name, email or phone columns the preset refuses and names the columns found."""
        with pytest.raises(MatchingConfigError, match=r"needs name, email or phone.*\['title'\]"):
            contacts(["title"])

    def test_works_on_the_example_export(self) -> None:
        """Out of the box the preset finds the example's duplicates with cluster F1 >= 0.85."""
        with (ROOT / "examples" / "contacts.csv").open(encoding="utf-8", newline="") as fh:
            rows = list(csv.DictReader(fh))
        with (ROOT / "examples" / "contacts_truth.csv").open(encoding="utf-8", newline="") as fh:
            truth = {r["record_id"]: r["entity_id"] for r in csv.DictReader(fh)}
        result = dedupe(rows, id_column="record_id", preset="contacts")
        scores = cluster_scores(result.labels, [truth[i] for i in result.ids if i is not None])
        assert scores.f1 >= 0.85


class TestAccounts:
    @settings(max_examples=40, deadline=None)
    @given(st.lists(st.sampled_from(ACCOUNT_FIELDS), unique=True))
    def test_fits_any_subset_of_fields(self, columns) -> None:
        """For any available fields, the settings read only those, or refuse with advice."""
        if not {"company", "domain", "phone"} & set(columns):
            with pytest.raises(MatchingConfigError, match="map source columns onto these fields"):
                accounts(columns)
            return
        check_fits(accounts(columns), columns)

    def test_matches_legal_form_variants(self) -> None:
        """Accounts whose names differ only by legal form and share a domain are one entity."""
        rows = [
            {"record_id": "1", "company": "Acme Ltd", "domain": "acme.io", "city": "Leeds"},
            {"record_id": "2", "company": "ACME Limited", "domain": "acme.io", "city": "Leeds"},
            {"record_id": "3", "company": "Globex Corp", "domain": "globex.io", "city": "Paris"},
            {"record_id": "4", "company": "Initech", "domain": "initech.io", "city": "Austin"},
        ]
        result = dedupe(rows, id_column="record_id", preset="accounts", threshold=0.5)
        assert result.entity_ids[0] == result.entity_ids[1]
        assert len(set(result.entity_ids)) == 3


class TestPeople:
    @settings(max_examples=20, deadline=None)
    @given(st.sampled_from([None, "dob"]), st.sampled_from([None, "pc"]),
           st.sampled_from([None, "town"]), st.sampled_from([None, "job"]),
           st.sampled_from([None, "full"]))
    def test_columns_are_parameters(self, dob, postcode, place, occupation, full_name) -> None:
        """The settings read exactly the columns named, under those names."""
        s = people(first_name="given", last_name="family", dob=dob, postcode=postcode,
                   place=place, occupation=occupation, full_name=full_name, threshold=0.8)
        named = {"given", "family", dob, postcode, place, occupation, full_name} - {None}
        assert s.columns == named
        assert s.threshold == 0.8
        check_fits(s, sorted(c for c in named if c is not None))


class TestGetPreset:
    def test_named_presets(self) -> None:
        """get_preset builds the named preset for the columns given."""
        assert set(PRESETS) == {"contacts", "accounts"}
        assert get_preset("accounts", ["company"]) == accounts(["company"])

    def test_unknown(self) -> None:
        """An unknown preset name lists the choices."""
        with pytest.raises(MatchingConfigError, match="choose one of \\['accounts', 'contacts'\\]"):
            get_preset("leads")

    def test_presets_are_plain_settings(self) -> None:
        """A preset can be changed with attrs.evolve like any settings value."""
        s = attrs.evolve(contacts(), threshold=0.5)
        assert s.threshold == 0.5
        assert s.comparisons == contacts().comparisons


class TestOrganisationNames:
    """The accounts preset on a list of names only."""

    def test_name_only_list_finds_duplicates(self) -> None:
        """Legal forms, short forms and noise variants of one name end up in one entity; a
        different company sharing only a generic word does not."""
        import random

        r = random.Random(2)
        rows = []
        words = ["Technologies", "Holdings", "Foods", "Logistics", "Partners", "Media", "Energy",
                 "Robotics", "Apparel", "Brewing", "Textiles", "Marine", "Realty", "Travel",
                 "Printing", "Bakery", "Furniture", "Aerospace", "Chemicals", "Freight"]
        for _ in range(150):
            stem = "".join(r.choice("bcdfgklmnprstvz") + r.choice("aeiou") for _ in range(3))
            word = r.choice(words)
            short = {"Technologies": "TECH."}.get(word, word.upper())
            variants = [f"{stem.title()} {word} Inc", f"* {stem.upper()} {short}, INC.",
                        f"{stem.title()} {word}"][: r.randint(1, 3)]
            rows += [{"id": f"{len(rows) + k}", "company": v, "truth": stem}
                     for k, v in enumerate(variants)]
        rows.append({"id": "x", "company": "Other Technologies Inc", "truth": "other"})
        result = dedupe(rows, id_column="id", preset="accounts")
        scores = cluster_scores(result.labels, [r["truth"] for r in rows])
        assert scores.recall == 1.0
        assert result.labels[-1] not in set(result.labels[:-1].tolist())


class TestPeopleIdentifiers:
    """people(...) uses the extra identifier columns it is given."""

    def test_identifiers_are_compared_and_blocked_on(self) -> None:
        """Each identifier adds a comparison and a blocking rule; address and street number
        add comparisons."""
        s = people(dob=None, postcode=None, identifiers=("national_id",), address="street",
                   street_number="number")
        names = [c.name for c in s.comparisons]
        assert {"national_id", "address", "street number"} <= set(names)
        assert any(r.columns == frozenset({"national_id"}) for r in s.blocking)
        check_fits(s, ["first_name", "last_name", "national_id", "street", "number"])
