"""Company names: legal forms across countries, key and display form."""

from __future__ import annotations

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from crmcore.normalize import (
    company_display_name,
    normalize_company_name,
    split_legal_form,
)
from tests.normalize.strategies import realistic_text

# The legal forms the issue lists, per country, as people write them.
FORMS = {
    "US": ["Inc", "Inc.", "Incorporated", "LLC", "L.L.C.", "Corp.", "Corporation", "Co."],
    "UK": ["Ltd", "Ltd.", "Limited", "PLC", "plc", "LLP"],
    "DE": ["GmbH", "AG", "KG", "GmbH & Co. KG", "e.V.", "UG (haftungsbeschränkt)"],
    "FR": ["S.A.", "SA", "SARL", "S.A.R.L.", "SAS"],
    "ES": ["S.L.", "S.A.", "SLU"],
    "IT": ["S.p.A.", "SpA", "S.r.l."],
    "NL": ["B.V.", "N.V.", "BV"],
    "Nordics": ["AB", "AB (publ)", "AS", "A/S", "ASA", "ApS", "Oy", "Oyj"],
    "AU": ["Pty Ltd", "Pty. Ltd.", "Pty Limited"],
    "JP": ["KK", "K.K.", "Kabushiki Kaisha", "G.K."],
}
BASES = ["Acme", "Northwind Traders", "Müller Bau", "Blue Sky Media", "Ørsted Energi"]
CASES = [(country, form, base) for country, forms in FORMS.items() for form in forms
         for base in BASES]  # fmt: skip


class TestLegalForms:
    @pytest.mark.parametrize(("country", "form", "base"), CASES)
    def test_form_is_removed_from_the_key(self, country: str, form: str, base: str) -> None:
        """'<base> <form>' has the key of '<base>' and the form is reported by the splitter."""
        key = normalize_company_name(base)
        assert normalize_company_name(f"{base} {form}") == key
        assert normalize_company_name(f"{base.upper()}, {form}") == key
        assert split_legal_form(f"{base} {form}")[0] == key
        assert split_legal_form(f"{base} {form}")[1] is not None

    def test_leading_forms_and_the(self) -> None:
        """A leading 'The' and a leading 'Kabushiki Kaisha' go; nothing leaves it empty."""
        assert normalize_company_name("The Acme Company") == "acme"
        assert normalize_company_name("Kabushiki Kaisha Toshiba") == "toshiba"
        assert normalize_company_name("Company") == "company"
        assert normalize_company_name("The") == "the"

    def test_and_forms(self) -> None:
        """'&', '+' and 'and' are one word."""
        names = ["Smith & Sons", "Smith + Sons", "SMITH AND SONS"]
        keys = {normalize_company_name(v) for v in names}
        assert keys == {"smith and sons"}


class TestDisplay:
    @settings(max_examples=200, deadline=None)
    @given(st.one_of(realistic_text, st.sampled_from([f"{b} {f}" for _, f, b in CASES])))
    @example("L.L.C. L.L.C.")
    @example("I.B.M. S.A.")
    @example("ı sa")
    @example("A B S.A.")
    @example("x s.a.")
    @example("ı L.L.C.")
    @example("ı . sa")
    @example("L.L.C. S.A. sa")
    def test_display_keeps_the_key(self, value: str) -> None:
        """The display form has the same matching key as the raw name."""
        display = company_display_name(value)
        if display is not None:
            assert normalize_company_name(display) == normalize_company_name(value)

    @pytest.mark.parametrize(
        ("value", "expected"),
        [
            ("ACME PTY. LTD", "Acme Pty Ltd"),
            ("northwind traders gmbh & co. kg", "Northwind Traders GmbH & Co. KG"),
            ("Blue Sky Media, Inc", "Blue Sky Media Inc."),
            ("IBM", "IBM"),
            ("McKinsey & Company", "McKinsey & Company"),
        ],
    )
    def test_usual_spelling(self, value: str, expected: str) -> None:
        """Legal forms are spelt the usual way; mixed-case names are left alone."""
        assert company_display_name(value) == expected


class TestCompanyWords:
    """company_words / word_overlap: organisation names as words for token comparison."""

    def test_noise_legal_forms_and_abbreviations(self) -> None:
        """Punctuation noise, legal forms and short forms give the same words."""
        from crmcore.normalize import company_words

        same = ["* AGILENT TECH., INC.", "Agilent Technologies", "agilent technology ltd"]
        assert {company_words(v) for v in same} == {"agilent technology"}
        assert company_words("Intl Business Machines Corp") == company_words(
            "International Business Machines Corporation")
        assert company_words(None) is None
        assert company_words("!!!") is None

    def test_legal_forms_inside_the_name_are_dropped(self) -> None:
        """A legal form before a place is dropped; forms that are also words or initials of a
        name (AB, AS, SCI for science) stay; a name that is only a form keeps it."""
        from crmcore.normalize import company_words

        assert company_words("AKZO NOBEL N.V., ARNHEM") == company_words("Akzo Nobel, Arnhem")
        assert company_words("N.V. Philips Gloeilampenfabrieken") == company_words(
            "Philips Gloeilampenfabrieken")
        assert company_words("Comp. Sci. Div., GmbH Campus") == "comp science division campus"
        assert company_words("AB Volvo") == "ab volvo"
        assert company_words("GmbH") == "gmbh"

    @given(st.text(max_size=30), st.text(max_size=30))
    @settings(max_examples=200, deadline=None)
    def test_overlap_is_bounded_and_symmetric(self, a: str, b: str) -> None:
        """Dice is symmetric and in [0, 1]; a value overlaps itself fully."""
        from crmcore.normalize import company_words, word_overlap

        wa, wb = company_words(a), company_words(b)
        if wa is None or wb is None:
            return
        d = word_overlap(wa, wb)
        assert 0.0 <= d <= 1.0
        assert d == word_overlap(wb, wa)
        assert word_overlap(wa, wa) == 1.0
        assert 0.0 <= word_overlap(wa, wb, "containment") <= 1.0

    def test_rare_words_weigh_more_than_generic_ones(self) -> None:
        """Sharing a distinctive word counts more than sharing a generic one."""
        from crmcore.normalize import company_word_weight, word_overlap

        assert company_word_weight("agilent") > company_word_weight("group")
        assert word_overlap("agilent group", "agilent holding") > word_overlap(
            "acme group", "zeta group")
