"""Default rules of the contacts and accounts presets."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crmcore.errors import SurvivorshipError
from crmcore.normalize._schema import ACCOUNT_FIELDS, CONTACT_FIELDS
from crmcore.survivorship import ACCOUNT_RULES, CONTACT_RULES, preset_rules
from crmcore.survivorship._presets import is_date_like, is_email_like, is_phone_like


class TestPresets:
    def test_lookup(self):
        """Presets are found by name; an unknown one names the choices."""
        assert preset_rules("contacts") is CONTACT_RULES
        assert preset_rules("accounts") is ACCOUNT_RULES
        with pytest.raises(SurvivorshipError, match="accounts"):
            preset_rules("deals")

    @pytest.mark.parametrize(("rules", "fields"), [(CONTACT_RULES, CONTACT_FIELDS),
                                                   (ACCOUNT_RULES, ACCOUNT_FIELDS)])
    def test_every_canonical_field_has_a_rule(self, rules, fields):
        """Every canonical field of the schema mapping is decided (or ignored, like ids)."""
        for f in fields:
            assert f in rules.ignore or rules.rule_for(f) is not None

    def test_multi_valued_fields_are_unions(self):
        """emails, phones, tags and account ids are unions."""
        for f in ("emails", "phones", "tags", "account_ids"):
            assert CONTACT_RULES.rule_for(f).policy.name == "aggregate"

    @pytest.mark.parametrize(
        ("check", "good", "bad"),
        [(is_email_like, "ann@acme.io", "ann(at)acme"), (is_phone_like, "+44 20 7946 0001", "n/a"),
         (is_date_like, "2024-02-29", "someday")],
    )
    def test_shape_checks(self, check, good, bad):
        """The cheap shape validators accept the shape and refuse the rest."""
        assert check(good)
        assert not check(bad)

    @settings(max_examples=60, deadline=None)
    @given(st.from_regex(r"[a-z]{1,8}@[a-z]{1,8}\.(io|com|org)", fullmatch=True))
    def test_email_shape_accepts_addresses(self, email):
        """Well-formed addresses always pass the e-mail shape check."""
        assert is_email_like(email)
