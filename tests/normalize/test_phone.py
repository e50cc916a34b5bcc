"""Phone numbers: E.164, extensions, vanity letters, reasons, fast paths == full parse."""

from __future__ import annotations

import pytest
from hypothesis import given, settings

from crmcore.errors import FieldProblem, NormalizationError
from crmcore.normalize import normalize_phone
from crmcore.normalize._phone import _full_parse, _phone_core
from tests.normalize.strategies import phone_text, region


class TestNormalizePhone:
    def test_extension_split_and_kept(self) -> None:
        """The extension is split off and kept after the E.164 number."""
        assert normalize_phone("+1 415 555 0134 ext. 12") == "+14155550134;ext=12"
        assert normalize_phone("(415) 555-0134 (ext. 9)", "US") == "+14155550134;ext=9"

    def test_vanity_letters(self) -> None:
        """Letters on the keypad become digits."""
        assert normalize_phone("1-800-FLOWERS", "US") == "+18003569377"

    def test_region_from_country_name(self) -> None:
        """The record's country may be a name or an ISO3 code."""
        assert normalize_phone("020 7946 0958", "Royaume-Uni") == "+442079460958"
        assert normalize_phone("030 1234567", "DEU") == "+49301234567"

    @pytest.mark.parametrize(
        ("value", "reg", "rule"),
        [
            ("+1 555", None, "phone.too_short"),
            ("+1 415 555 01345678", None, "phone.too_long"),
            ("555-0134", "US", "phone.local_only"),
            ("+999 1234567", None, "phone.country_code"),
            ("4155550134", None, "phone.no_region"),
            ("1111111111", "US", "phone.placeholder"),
            ("ring me", "US", "phone.format"),
        ],
    )
    def test_impossible_numbers_rejected_with_reason(
        self, value: str, reg: str | None, rule: str
    ) -> None:
        """Impossible numbers are rejected, the rule saying why; strict mode raises it."""
        issues: list[FieldProblem] = []
        assert normalize_phone(value, reg, issues=issues, record="c9") is None
        assert [(p.rule, p.record, p.field) for p in issues] == [(rule, "c9", "phone")]
        with pytest.raises(NormalizationError, match=rule):
            normalize_phone(value, reg, strict=True)


class TestFastPaths:
    @settings(max_examples=600, deadline=None)
    @given(text=phone_text(), reg=region)
    def test_fast_paths_agree_with_full_parse(self, text: str, reg: str | None) -> None:
        """Every fast path (E.164, formatted, national, IDD, extension) == phonenumbers' parse."""
        assert _phone_core(text, region=reg) == _full_parse(text, reg)

    @pytest.mark.parametrize(
        ("text", "reg"),
        [
            ("+14155550134", None), ("+1 415 555 0134", None), ("(415) 555-0134", "US"),
            ("020 7946 0958", "GB"), ("00 44 20 7946 0958", "GB"), ("0176 12345678", "DE"),
            ("06 12 34 56 78 x5", "FR"), ("+39 06 1234 5678", None), ("02 1234 5678", "IT"),
            ("+44 (0)20 7946 0958", None), ("03-1234-5678", "JP"), ("011 44 20 7946 0958", "US"),
        ],
    )  # fmt: skip
    def test_known_formats(self, text: str, reg: str | None) -> None:
        """Common formats agree with the full parse and give a number."""
        assert _phone_core(text, region=reg) == _full_parse(text, reg)
        assert _full_parse(text, reg) is not None
