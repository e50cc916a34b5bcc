"""Tests for the synthetic CRM generator in benchmarks/synth.py."""

from __future__ import annotations

import collections
import itertools
from pathlib import Path

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rapidfuzz.distance import OSA

from benchmarks import synth
from crmcore.io import read_table

ANNOTATED = synth.generate_contacts(6000, seed=11, annotate=True)


def entity_rows(table):
    """Map entity id -> list of row dicts."""
    groups = collections.defaultdict(list)
    for row in table.rows():
        groups[row[synth.TRUTH_COLUMN]].append(row)
    return groups


def mailbox(address: str) -> str:
    """Reference mailbox key: lowercase, no +tag, Gmail dots ignored."""
    local, _, domain = address.lower().partition("@")
    local = local.split("+")[0]
    if domain == "gmail.com":
        local = local.replace(".", "")
    return f"{local}@{domain}"


class TestGenerateContacts:
    @settings(max_examples=25, deadline=None)
    @given(n=st.integers(0, 400), seed=st.integers(0, 2**32))
    def test_requested_size_and_columns(self, n, seed):
        """The table has exactly n rows and the canonical columns then the truth column."""
        table = synth.generate_contacts(n, seed)
        assert table.n_rows == n
        assert table.column_names == [*synth.COLUMNS, synth.TRUTH_COLUMN]

    @settings(max_examples=10, deadline=None)
    @given(n=st.integers(1, 300), seed=st.integers(0, 2**32))
    def test_same_seed_same_table(self, n, seed):
        """The same n and seed give the same table, value for value."""
        assert synth.generate_contacts(n, seed).columns == synth.generate_contacts(n, seed).columns

    def test_different_seed_different_table(self):
        """Different seeds give different data."""
        a = synth.generate_contacts(200, 1).column("email")
        b = synth.generate_contacts(200, 2).column("email")
        assert a != b

    @settings(max_examples=10, deadline=None)
    @given(n=st.integers(1, 500), seed=st.integers(0, 2**32))
    def test_record_ids_unique_and_present(self, n, seed):
        """Every record has a distinct record id, a source and an entity id."""
        table = synth.generate_contacts(n, seed)
        ids = table.column("record_id")
        assert len(set(ids)) == n
        assert None not in table.column("source_system")
        assert None not in table.column(synth.TRUTH_COLUMN)

    def test_mailbox_belongs_to_one_entity(self):
        """An email mailbox (case, +tag and Gmail dots ignored) never spans two entities."""
        owner: dict[str, str] = {}
        for email, entity in zip(
            ANNOTATED.column("email"), ANNOTATED.column(synth.TRUTH_COLUMN), strict=True
        ):
            if email:
                assert owner.setdefault(mailbox(email), entity) == entity, email

    def test_unannotated_records_of_an_entity_agree_on_names(self):
        """Duplicates without name variations carry the entity's exact names."""
        name_kinds = {"nickname", "swap_names", "name_case"} | {
            k for k in synth.VARIANT_KINDS if k.startswith("typo_")
        }
        for rows in entity_rows(ANNOTATED).values():
            plain = [
                (r["first_name"], r["last_name"])
                for r in rows
                if not name_kinds & set((r["variants"] or "").split(";"))
            ]
            assert len(set(plain)) <= 1, plain

    def test_every_variant_kind_present(self):
        """All duplicate variation kinds and hard-negative kinds occur in a few thousand rows."""
        seen = collections.Counter(
            kind for v in ANNOTATED.column("variants") if v for kind in v.split(";")
        )
        missing = set(synth.VARIANT_KINDS) | set(synth.HARD_NEGATIVE_KINDS)
        assert not missing - set(seen), sorted(missing - set(seen))

    def test_annotation_only_on_request(self):
        """The variants column is there only with annotate=True."""
        assert "variants" not in synth.generate_contacts(50, 3).column_names

    def test_cluster_sizes_realistic(self):
        """Most entities are singletons, then pairs, and no cluster exceeds six records."""
        sizes = collections.Counter(len(rows) for rows in entity_rows(ANNOTATED).values())
        assert set(sizes) <= {1, 2, 3, 4, 5, 6}
        assert sizes[1] > sizes[2] > sizes[3] > sizes[6] > 0

    @pytest.mark.parametrize("rate", [0.0, 0.15, 0.3, 0.5])
    def test_dup_rate_respected(self, rate):
        """The share of extra copies is close to dup_rate."""
        table = synth.generate_contacts(8000, 4, dup_rate=rate)
        entities = len(set(table.column(synth.TRUTH_COLUMN)))
        assert abs((table.n_rows - entities) / table.n_rows - rate) < 0.03

    def test_namesakes_share_a_name_with_another_entity(self):
        """Each namesake entity has the exact name of a different entity."""
        by_name = collections.defaultdict(set)
        namesakes = set()
        for row in ANNOTATED.rows():
            by_name[(row["first_name"], row["last_name"])].add(row[synth.TRUTH_COLUMN])
            if "namesake" in (row["variants"] or ""):
                namesakes.add(row[synth.TRUTH_COLUMN])
        assert namesakes
        for entity in namesakes:
            assert any(entity in ids and len(ids) > 1 for ids in by_name.values()), entity

    def test_households_share_a_phone_with_another_entity(self):
        """Household entities share a phone number with a different entity."""
        def digits(p):
            return "".join(ch for ch in p.split(" x")[0].split(" ext")[0] if ch.isdigit())[-8:]

        owners = collections.defaultdict(set)
        households = set()
        for row in ANNOTATED.rows():
            if row["phone"] and ";ext=" not in row["phone"]:
                owners[digits(row["phone"])].add(row[synth.TRUTH_COLUMN])
            if "household" in (row["variants"] or ""):
                households.add(row[synth.TRUTH_COLUMN])
        shared = {e for ids in owners.values() if len(ids) > 1 for e in ids}
        assert households
        assert len(households & shared) >= 0.6 * len(households)

    def test_phones_valid_for_their_country(self):
        """Nearly all phones are valid numbers for the record's country (libphonenumber)."""
        total = bad = 0
        for phone, country in zip(
            ANNOTATED.column("phone"), ANNOTATED.column("country"), strict=True
        ):
            if not phone or country not in synth.COUNTRIES:
                continue
            total += 1
            try:
                ok = phonenumbers.is_valid_number(phonenumbers.parse(phone, country))
            except phonenumbers.NumberParseException:
                ok = False
            bad += not ok
        assert total > 1000
        assert bad / total < 0.01

    def test_sources_mapping_and_names(self):
        """Only the requested source systems appear."""
        table = synth.generate_contacts(300, 5, sources={"crm": 1.0, "erp": 2.0})
        assert set(table.column("source_system")) == {"crm", "erp"}

    @pytest.mark.parametrize(
        "kwargs", [{"n": -1}, {"n": 10, "dup_rate": 0.9}, {"n": 10, "sources": ()}]
    )
    def test_bad_arguments_raise(self, kwargs):
        """Out-of-range arguments raise ValueError."""
        with pytest.raises(ValueError):
            synth.generate_contacts(**kwargs)


class TestTypo:
    @settings(max_examples=200)
    @given(text=st.text(alphabet="abcdefghij", min_size=3, max_size=20),
           op=st.sampled_from(["insert", "delete", "transpose", "substitute"]),
           seed=st.integers(0, 1000))
    def test_one_edit_away(self, text, op, seed):
        """A typo is exactly one insert / delete / transposition / substitution away."""
        import random

        out = synth._typo(text, op, random.Random(seed))
        assert OSA.distance(text, out) == 1


class TestMain:
    @pytest.mark.parametrize("suffix", [".csv", ".parquet"])
    def test_writes_readable_file(self, tmp_path: Path, suffix, capsys):
        """The command line writes a file that reads back with the same rows."""
        out = tmp_path / f"contacts{suffix}"
        assert synth.main(["120", "--seed", "7", "--out", str(out)]) == 0
        table = read_table(out)
        assert table.n_rows == 120
        assert table.columns == synth.generate_contacts(120, 7).columns
        assert "120 records" in capsys.readouterr().out


class TestGenerateRegister:
    """generate_register: a person register with exactly one error per duplicate."""

    def test_every_duplicate_differs_in_exactly_one_field(self) -> None:
        """Within an entity, each non-first record differs from some record in one field only
        (brute force over all pairs of the entity)."""
        table = synth.generate_register(400, seed=5)
        fields = synth.REGISTER_COLUMNS[1:]
        for rows in entity_rows(table).values():
            for a, b in itertools.pairwise(rows):
                diffs = sum(a[f] != b[f] for f in fields)
                assert diffs <= 2  # two copies each one error away from the original
            assert any(sum(r[f] != s[f] for f in fields) == 1
                       for r in rows for s in rows if r is not s) or len(rows) == 1

    def test_same_seed_same_table(self) -> None:
        """The same seed gives the same table; a different seed another one."""
        one = list(synth.generate_register(50, seed=1).rows())
        assert one == list(synth.generate_register(50, seed=1).rows())
        assert one != list(synth.generate_register(50, seed=2).rows())


class TestGenerateCompanies:
    """generate_companies: organisation name lists with varied duplicates."""

    def test_truth_and_columns(self) -> None:
        """Every row has a company name and an entity; extra fields only when asked."""
        plain = synth.generate_companies(100, seed=1)
        rich = synth.generate_companies(100, seed=1, with_fields=True)
        assert plain.column_names == ["record_id", "company", synth.TRUTH_COLUMN]
        assert {"city", "domain", "phone"} <= set(rich.column_names)
        assert all(plain.column("company"))
        assert len(set(plain.column(synth.TRUTH_COLUMN))) == 100

    def test_heldout_seeds_use_other_names(self) -> None:
        """Two seeds share few distinctive stems (held-out lists)."""
        def stems(seed: int) -> set[str]:
            names = synth.generate_companies(200, seed=seed).column("company")
            return {n.split()[0].strip("*\"-(").lower() for n in names if n.split()}

        a, b = stems(3), stems(4)
        assert len(a & b) < 0.2 * len(a)
