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
    HOUSEHOLD_RULE,
    NAMESAKE_RULE,
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


    def test_same_name_rule_yields_to_any_field_against_it(self) -> None:
        """The "same organisation name" match rule holds only when no other field present on
        both sides disagrees (its "else" level); such a pair is left to the score."""
        s = accounts(["company", "street", "city", "phone"])
        (rule,) = s.rules
        assert set(rule.when) == {"organisation name", "street", "city", "phone"}
        assert all("else" not in labels for labels in rule.when.values())
        rows = [
            {"id": "la", "company": "The Palm", "street": "9001 Santa Monica Blvd",
             "city": "Los Angeles", "phone": "+1 310 550 8811"},
            {"id": "ny", "company": "Palm", "street": "837 Second Ave", "city": "New York",
             "phone": "+1 212 687 2953"},
            {"id": "x", "company": "Palm", "street": None, "city": None, "phone": None},
        ]
        res = dedupe(rows, id_column="id", settings=s)
        by_pair = {frozenset((res.ids[a], res.ids[b])): r for a, b, r in zip(
            res.pairs.left.tolist(), res.pairs.right.tolist(), res.pairs.rule.tolist(),
            strict=True)}
        # two branches (street, city and phone all differ): no forced match
        assert by_pair[frozenset(("la", "ny"))] < 0
        # the same name with nothing else known: matched by the rule
        assert by_pair[frozenset(("la", "x"))] == 0


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

    def test_a_typo_in_each_name_is_still_a_candidate(self) -> None:
        """Two names each one letter off with the same birth date share no name key; the
        initials-and-date rule makes them candidates, and the typo levels link them."""
        rows = [{"id": "a", "first_name": "Hartmut", "last_name": "Hoffmann", "dob": "1929-12-29"},
                {"id": "b", "first_name": "Hartmhut", "last_name": "Hoffmsnn",
                 "dob": "1929-12-29"}]
        others = [("Anna", "Weber"), ("Karl", "Klein"), ("Uwe", "Koch"), ("Inge", "Wolf"),
                  ("Petra", "Engel"), ("Heinz", "Mayer")] * 3
        rows += [{"id": f"x{k}", "first_name": g, "last_name": f,
                  "dob": f"19{50 + k}-0{1 + k % 9}-1{k % 10}"} for k, (g, f) in enumerate(others)]
        settings_ = people(postcode=None)
        result = dedupe(rows, id_column="id", settings=settings_)
        assert {(result.ids[i], result.ids[j])
                for i, j in zip(result.pairs.left, result.pairs.right, strict=True)} >= {("a", "b")}
        assert result.labels[0] == result.labels[1]


    def test_swapped_names_and_changed_names_are_candidates(self) -> None:
        """Swapped names share the name key in either order; a record whose names both
        changed shares the birth date and postcode (Febrl 4's commonest misses)."""
        rows = [{"id": "a", "first_name": "jaxin", "last_name": "mccarthy", "dob": "1964-09-14",
                 "postcode": "3142"},
                {"id": "b", "first_name": "mccarthy", "last_name": "jaxin", "dob": "1964-09-15",
                 "postcode": "3124"},
                {"id": "c", "first_name": "gemma", "last_name": "lowe", "dob": "1970-05-24",
                 "postcode": "3199"},
                {"id": "d", "first_name": "lowe", "last_name": "chelsea", "dob": "1970-05-24",
                 "postcode": "3199"}]
        result = dedupe(rows, id_column="id", settings=people())
        pairs = {(result.ids[i], result.ids[j])
                 for i, j in zip(result.pairs.left, result.pairs.right, strict=True)}
        assert pairs == {("a", "b"), ("c", "d")}


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


class TestAccountDomains:
    def test_a_website_written_any_way_is_its_domain(self) -> None:
        """The accounts preset prepares its domain column as web domains: a URL, an email
        address and a bare domain of one site are one value."""
        from crmcore.io import Table
        from crmcore.matching import prepare_frame

        settings = accounts(["company", "domain"])
        assert settings.prepare["domain"] == "domain"
        table = Table({"company": ["Acme", "Acme Inc", "ACME", "Other"],
                       "domain": ["https://www.acme.com/about", "info@acme.com", "ACME.COM",
                                  "other.org"]})
        frame, _ = prepare_frame(table, settings)
        assert frame.values("domain") == ["acme.com", "acme.com", "acme.com", "other.org"]


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


class TestContactsExtraColumns:
    """contacts(...) uses the extra columns it is given, built by the same helper as people."""

    def test_extras_are_compared_and_blocked_on(self) -> None:
        """Identifiers, address, street number and website add the same comparisons as in
        people(...), and each identifier a blocking rule."""
        s = contacts(["first_name", "last_name", "email"], identifiers=("national_id",),
                     address="street", street_number="number", website="website")
        p = people(dob=None, postcode=None, identifiers=("national_id",), address="street",
                   street_number="number", website="website")
        extras = [c for c in s.comparisons if c.name in ("national_id", "address",
                                                          "street number", "website")]
        assert [c.name for c in extras] == ["national_id", "address", "street number", "website"]
        assert extras == [c for c in p.comparisons if c in extras]
        assert any(r.columns == frozenset({"national_id"}) for r in s.blocking)
        assert s.prepare["website"] == "domain"
        check_fits(s, ["first_name", "last_name", "email", "national_id", "street", "number",
                       "website"])

    def test_street_is_not_used_unless_named(self) -> None:
        """A street column alone is not compared (an office address is shared by colleagues)."""
        s = contacts(["first_name", "last_name", "email", "street"])
        assert "street" not in s.columns

    def test_identifier_decides(self) -> None:
        """Two records with the same customer number and different emails are one entity."""
        rows = [{"id": str(i), "first_name": f, "last_name": "Ng", "email": f"{e}@x.io",
                 "customer_no": c}
                for i, (f, e, c) in enumerate([("Ann", "ann", "C-1001"), ("Ann", "a.ng", "C-1001"),
                                                ("Bo", "bo", "C-2002"), ("Cy", "cy", "C-3003")])]
        plain = dedupe(rows, id_column="id",
                       settings=contacts(["first_name", "last_name", "email"]), threshold=0.5)
        used = dedupe(rows, id_column="id", threshold=0.5,
                      settings=contacts(["first_name", "last_name", "email"],
                                        identifiers=("customer_no",)))
        assert "customer_no" not in plain.settings.columns
        assert used.entity_ids[0] == used.entity_ids[1]
        assert len(set(used.entity_ids)) == 3


def _generated(n: int, seed: int, **rates: float):
    from benchmarks import synth
    from crmcore.io import Table

    table = synth.generate_contacts(n, seed=seed, annotate=True, **rates)
    data = Table({k: v for k, v in table.columns.items() if k not in ("entity_id", "variants")})
    return table, data


class TestPersonRules:
    """Households, namesakes and swapped names under the contacts preset's rules."""

    def test_rules_present(self) -> None:
        """The contacts preset carries the household and namesake rules; people(...) the
        household rule only when asked (and no namesake rule: it has no email column)."""
        names = [r.name for r in contacts().rules]
        assert HOUSEHOLD_RULE in names
        assert NAMESAKE_RULE in names
        assert people().rules == ()
        assert [r.name for r in people(household_rule=True).rules] == [HOUSEHOLD_RULE]

    def test_household_rule_reads_personal_evidence_only(self) -> None:
        """The household rule accepts the email, company and identifier levels that are not
        agreement, and leaves address, phone and family name free."""
        s = contacts(identifiers=("national_id",))
        rule = next(r for r in s.rules if r.name == HOUSEHOLD_RULE)
        assert rule.outcome == "non_match"
        assert rule.when["given name"] == ("else",)
        assert "same address" not in rule.when["email"]
        assert "same local part" not in rule.when["email"]
        assert "same name ignoring legal form" not in rule.when["company"]
        assert rule.when["national_id"] == ("missing", "else")
        assert not {"phone", "family name", "location"} & set(rule.when)

    def test_households_stay_apart(self) -> None:
        """On generated contacts where a fifth of the people live with someone else, the
        household rule keeps (nearly) all the household members the score alone merges
        apart, and the explanation names the rule."""
        table, data = _generated(4000, 5, household_rate=0.2, namesake_rate=0.0)
        truth = table.column("entity_id")
        kinds = table.column("variants")
        members = {i for i, k in enumerate(kinds) if k and "household" in k}

        def merged_households(labels) -> int:
            return sum(1 for i in members for j in range(len(truth))
                       if labels[i] == labels[j] and truth[i] != truth[j])

        preset = contacts(data.column_names)
        score_only = attrs.evolve(preset, rules=[r for r in preset.rules
                                                 if r.name != HOUSEHOLD_RULE])
        result = dedupe(data, id_column="record_id", settings=preset)
        before = merged_households(dedupe(data, id_column="record_id",
                                          settings=score_only).labels)
        after = merged_households(result.labels)
        assert before > 50
        assert after <= 0.1 * before
        vetoed = result.pairs.rule == [r.name for r in result.model.rules].index(HOUSEHOLD_RULE)
        k = int(vetoed.nonzero()[0][0])
        left, right = result.ids[result.pairs.left[k]], result.ids[result.pairs.right[k]]
        assert result.explain(left, right).rule == HOUSEHOLD_RULE

    def test_numbered_mailboxes_are_namesakes(self) -> None:
        """Same name and company with a.rodriguez@ and a.rodriguez2@ are two people."""
        rows = [
            {"id": "1", "first_name": "Ana", "last_name": "Rodriguez", "company": "Acme Ltd",
             "email": "a.rodriguez@acme.io", "city": "Leeds"},
            {"id": "2", "first_name": "Ana", "last_name": "Rodriguez", "company": "Acme Ltd",
             "email": "a.rodriguez2@acme.io", "city": "Leeds"},
            {"id": "3", "first_name": "Ana", "last_name": "Rodriguez", "company": "ACME Limited",
             "email": "A.Rodriguez@acme.io", "city": "Leeds"},
        ]
        result = dedupe(rows, id_column="id", threshold=0.5)
        assert result.entity_ids[0] == result.entity_ids[2] != result.entity_ids[1]
        assert result.explain("1", "2").rule == NAMESAKE_RULE

    def test_swapped_names_with_same_email_and_phone(self) -> None:
        """Given and family names swapped (with a typo too) with the same email and phone are
        one entity at the default threshold."""
        _table, data = _generated(3000, 9, household_rate=0.0, namesake_rate=0.0)
        extra = [
            {"record_id": "S-1", "first_name": "Diane", "last_name": "Aguirre",
             "email": "diane.aguirre@example.org", "phone": "+1 212 555 0199"},
            {"record_id": "S-2", "first_name": "Aguirre", "last_name": "Diane",
             "email": "diane.aguirre@example.org", "phone": "212-555-0199"},
            {"record_id": "S-3", "first_name": "Aguire", "last_name": "Diane",
             "email": "Diane.Aguirre@example.org", "phone": None},
        ]
        cols = {c: list(v) + [r.get(c) for r in extra] for c, v in data.columns.items()}
        from crmcore.io import Table

        result = dedupe(Table(cols), id_column="record_id")
        ids = {r: result.entity_ids[result.row_of(r)] for r in ("S-1", "S-2", "S-3")}
        assert len(set(ids.values())) == 1


class TestOneNameField:
    def test_full_name_is_split(self) -> None:
        """With one name column, "Aguirre, Diane" and "Diane Aguirre" compare as the same given
        and family names, and the name blocking rules read its parts."""
        s = contacts(["full_name", "email", "phone"])
        assert s.comparisons[0].levels[0].expressions == ("given_part(full_name)",)
        assert s.comparisons[1].levels[0].expressions == ("family_part(full_name)",)
        rows = [
            {"id": "1", "full_name": "Aguirre, Diane", "email": "diane@x.io", "phone": None},
            {"id": "2", "full_name": "Diane Aguirre", "email": "diane@x.io", "phone": "555 0100"},
            {"id": "3", "full_name": "Bob Smith", "email": "bob@z.io", "phone": "555 0111"},
        ]
        result = dedupe(rows, id_column="id", threshold=0.5)
        assert result.explain("1", "2").rule == "same email and compatible given name"
        assert result.entity_ids[0] == result.entity_ids[1] != result.entity_ids[2]

    def test_first_and_last_win_over_full_name(self) -> None:
        """When first and last name columns exist, a full name column is not read."""
        assert "full_name" not in contacts(["first_name", "last_name", "full_name"]).columns
