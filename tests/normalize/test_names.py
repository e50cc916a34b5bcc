"""Person names: display form, matching key, splitter and the nickname table."""

from __future__ import annotations

from importlib import resources

import pytest
from hypothesis import given, settings

from crmcore.normalize import (
    canonical_given_name,
    given_name_variants,
    name_key,
    natural_name_order,
    nickname_table,
    normalize_person_name,
    split_full_name,
)
from tests.normalize.strategies import any_text, realistic_text


class TestNaturalNameOrder:
    @pytest.mark.parametrize(
        ("value", "expected"),
        [
            ("Aguirre, Diane", "Diane Aguirre"),
            ("AGUIRRE, Diane Marie", "Diane Marie AGUIRRE"),
            ("Smith, John, Jr.", "John Smith Jr."),
            ("Korea, Korea, Mr", "Mr Korea Korea"),  # a fuzzed case: the title went last
            ("Smith, John, Dr., PhD", "Dr. John Smith PhD"),
            ("Korea, Jr. (Bob)", "Korea, Jr. (Bob)"),  # a suffix with a note: no given name
            ("Smith Jr., John", "John Smith Jr."),
            ("Smith, Jr.", "Smith, Jr."),
            ("Smith, PhD", "Smith, PhD"),
            ("Diane Aguirre", "Diane Aguirre"),
            ("Smith, John, Mary", "Smith, John, Mary"),
            (", John", ", John"),
        ],
    )
    def test_cases(self, value: str, expected: str) -> None:
        """"Last, First" is reordered; suffix-only and ambiguous comma parts are left alone."""
        assert natural_name_order(value) == expected

    @settings(max_examples=200, deadline=None)
    @given(realistic_text)
    def test_agrees_with_the_display_form(self, value: str) -> None:
        """Reordering first never changes the display-normalised name."""
        assert normalize_person_name(natural_name_order(value)) == normalize_person_name(value)


class TestSplitFullName:
    @pytest.mark.parametrize(
        ("value", "expected"),
        [
            ("John Smith", ("john", "smith")),
            ("Smith, John", ("john", "smith")),
            ("Mr. John Michael Smith Jr.", ("john michael", "smith")),
            ("García Márquez, Gabriel", ("gabriel", "garcía márquez")),
            ("Ludwig van Beethoven", ("ludwig", "van beethoven")),
            ("Maria de la Cruz", ("maria", "de la cruz")),
            ("Cher", ("cher", None)),
            ("", (None, None)),
            (None, (None, None)),
            ("12345", (None, None)),
        ],
    )
    def test_cases(self, value: str | None, expected: tuple[str | None, str | None]) -> None:
        """Given names and family name, particles kept with the family name."""
        assert split_full_name(value) == expected

    @settings(max_examples=200, deadline=None)
    @given(realistic_text)
    def test_parts_rebuild_the_name(self, value: str) -> None:
        """Given + family is the display-normalised name (reordered for "Last, First")."""
        given_part, family = split_full_name(value)
        normalized = normalize_person_name(value)
        if normalized is None:
            assert (given_part, family) == (None, None)
        else:
            assert " ".join(p for p in (given_part, family) if p) == normalized


class TestKeys:
    @settings(max_examples=200, deadline=None)
    @given(any_text)
    def test_key_of_display_form_is_the_key(self, value: str) -> None:
        """The matching key can be computed from the display form: same answer."""
        display = normalize_person_name(value)
        if display is not None:
            assert name_key(display) == name_key(value)

    def test_key_is_folded(self) -> None:
        """Accents folded, apostrophes removed, hyphens split."""
        assert name_key("Zoë O'Connor-Brontë") == "zoe oconnor bronte"


class TestNicknames:
    def test_data_names_its_source_and_licence(self) -> None:
        """The shipped CSV says where the data comes from and under which licence."""
        text = (
            resources.files("crmcore.normalize").joinpath("data/nicknames.csv").read_text("utf-8")
        )
        header = "".join(line for line in text.splitlines() if line.startswith("#"))
        assert "Source:" in header
        assert "Licence: MIT" in header

    def test_issue_examples(self) -> None:
        """Bob -> Robert, Liz -> Elizabeth, Kate -> Katherine."""
        assert [canonical_given_name(n) for n in ("Bob", "Liz", "Kate")] == [
            "robert", "elizabeth", "katherine"
        ]  # fmt: skip

    def test_table_is_closed(self) -> None:
        """Every canonical name maps to itself: nicknames resolve in one step."""
        table = nickname_table()
        assert len(table) > 300
        for nickname, names in table.items():
            assert names, nickname
            assert len(set(names)) == len(names), nickname
            for name in names:
                assert canonical_given_name(name) == name, (nickname, name)

    def test_variants(self) -> None:
        """A nickname with several canonical names lists them all, most common first."""
        assert given_name_variants("Alex") == ("alexander", "alexandra")
        assert given_name_variants("Unknown") == ()
        assert given_name_variants("Zebedee") == ("zebedee",)
