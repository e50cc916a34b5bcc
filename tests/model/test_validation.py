"""Tests for crmcore.model.validation: every rule, rule sets and the front functions."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crmcore.errors import FieldProblem, ValidationError
from crmcore.model import (
    COUNTRY_CODES,
    CURRENCY_CODES,
    DEFAULT_RULES,
    Account,
    Activity,
    Address,
    AllowedValues,
    Consent,
    Contact,
    CountryCode,
    CurrencyCode,
    Deal,
    DomainFormat,
    EmailFormat,
    FunctionRule,
    MatchesPattern,
    MaxLength,
    NonNegative,
    PhoneFormat,
    Pipeline,
    RequireAny,
    Required,
    RuleConfigError,
    Stage,
    StageRequirements,
    Team,
    Ticket,
    User,
    ValidationRule,
    ValidationRuleSet,
    check,
    validate,
    validate_many,
    validation_rule_from_dict,
    validation_rule_to_dict,
)

from .strategies import BUILT_IN


def run(rule: ValidationRule, record: object) -> list[tuple[str, object, str, str]]:
    return [(p.field, p.value, p.rule, p.message) for p in rule.check(record)]


class TestRequired:
    """Required."""

    def test_rejects_empty(self) -> None:
        """None, blanks and empty tuples are reported with 'required' and '<field> is required'."""
        rule = Required(("first_name", "emails", "address.city", "custom_fields.vat"))
        c = Contact(id="c", first_name=" ", address=Address(city="Oslo"), custom_fields={"vat": ""})
        assert run(rule, c) == [
            ("first_name", " ", "required", "first_name is required"),
            ("emails", (), "required", "emails is required"),
            ("custom_fields.vat", "", "required", "custom_fields.vat is required"),
        ]

    def test_single_field_and_unknown(self) -> None:
        """A single string is one field; a field the record lacks is reported missing."""
        assert Required("name").fields == ("name",)
        assert run(Required("nope"), Contact(id="c"))[0][:3] == ("nope", None, "required")
        assert run(Required("first_name"), Contact(id="c", first_name="Ada")) == []


class TestRequireAny:
    """RequireAny."""

    def test_one_is_enough(self) -> None:
        """No problem when one field is filled; one problem naming all fields otherwise."""
        rule = RequireAny(("emails", "phones"))
        assert run(rule, Contact(id="c", phones=["1"])) == []
        assert run(rule, Contact(id="c")) == [
            ("emails | phones", None, "required.any", "at least one of emails, phones is required")
        ]


class TestEmailFormat:
    """EmailFormat."""

    @pytest.mark.parametrize(
        "bad",
        [
            "plain",
            "a@b",
            "a@@b.com",
            "a b@c.com",
            "@c.com",
            "a@.com",
            "a.@b.com",
            "a@b.c",
            "a@-b.com",
        ],
    )
    def test_rejects(self, bad: str) -> None:
        """Malformed addresses are reported per element with 'email.format'."""
        c = Contact(id="c", emails=["ok@example.com", bad])
        assert run(EmailFormat(), c) == [
            ("emails[1]", bad, "email.format", "not a valid email address")
        ]

    @pytest.mark.parametrize(
        "good", ["a@b.co", "first.last+tag@sub.example.org", "x_y@ex-ample.io"]
    )
    def test_accepts(self, good: str) -> None:
        """Ordinary addresses pass."""
        assert run(EmailFormat(), Contact(id="c", emails=[good])) == []

    def test_single_field(self) -> None:
        """It also checks single string fields (User.email)."""
        assert run(EmailFormat("email"), User(id="u", email="nope"))[0][:3] == (
            "email",
            "nope",
            "email.format",
        )


class TestDomainFormat:
    """DomainFormat."""

    @pytest.mark.parametrize(
        "bad", ["http://acme.com", "Acme.com", "acme", "acme.com/path", "www acme.com"]
    )
    def test_rejects(self, bad: str) -> None:
        """URLs, upper case, bare words and paths are refused with 'domain.format'."""
        problems = run(DomainFormat(), Account(id="a", domain=bad))
        assert problems == [
            ("domain", bad, "domain.format", "not a lower-case domain name such as 'example.com'")
        ]

    def test_accepts(self) -> None:
        """Plain lower-case domains pass; a missing domain is not this rule's business."""
        assert run(DomainFormat(), Account(id="a", domain="shop.acme.co.uk")) == []
        assert run(DomainFormat(), Account(id="a")) == []


class TestPhoneFormat:
    """PhoneFormat."""

    @pytest.mark.parametrize("bad", ["0171 1234567", "+0123456789", "+12", "+1234567890123456"])
    def test_rejects(self, bad: str) -> None:
        """Non-E.164 numbers are refused with 'phone.e164'."""
        problems = run(PhoneFormat(), Contact(id="c", phones=[bad]))
        assert problems == [
            ("phones[0]", bad, "phone.e164", "not an E.164 phone number ('+' and 7 to 15 digits)")
        ]

    def test_accepts(self) -> None:
        """E.164 numbers with an optional extension pass."""
        assert (
            run(PhoneFormat(), Contact(id="c", phones=["+4930123456", "+14155550100;ext=12"])) == []
        )


class TestMatches:
    """Matches: generic pattern rule."""

    def test_custom_pattern(self) -> None:
        """The given rule name and message are reported."""
        pattern = r"[A-Z]{2}[0-9]{8,12}"
        rule = MatchesPattern("custom_fields.vat", pattern, "vat.format", "not a VAT id")
        assert run(rule, Contact(id="c", custom_fields={"vat": "DE123456789"})) == []
        assert run(rule, Contact(id="c", custom_fields={"vat": 12})) == [
            ("custom_fields.vat", 12, "vat.format", "not a VAT id")
        ]


class TestAllowedValues:
    """AllowedValues."""

    def test_rejects_outside(self) -> None:
        """Values outside the set are reported with the allowed values listed."""
        rule = AllowedValues("lead_source", {"web", "event"})
        assert run(rule, Contact(id="c", lead_source="web")) == []
        assert run(rule, Contact(id="c", lead_source="tv")) == [
            ("lead_source", "tv", "allowed_values", "must be one of 'event', 'web'")
        ]

    def test_enum_values_and_tags(self) -> None:
        """Enum members compare by value; frozenset elements are checked one by one."""
        assert (
            run(AllowedValues("lifecycle_stage", {"lead"}), Contact(id="c", lifecycle_stage="lead"))
            == []
        )
        problems = run(
            AllowedValues("tags", {"vip"}, message="unknown tag"),
            Contact(id="c", tags={"vip", "x"}),
        )
        assert problems == [("tags['x']", "x", "allowed_values", "unknown tag")]


class TestCountryCode:
    """CountryCode."""

    @settings(deadline=None)
    @given(st.from_regex(r"[A-Z]{2}", fullmatch=True))
    def test_against_table(self, code: str) -> None:
        """A shape-valid code is refused exactly when it is not in the ISO 3166-1 table."""
        problems = run(CountryCode(), Contact(id="c", country=code))
        if code in COUNTRY_CODES:
            assert problems == []
        else:
            assert problems == [
                ("country", code, "country.iso3166", "not an ISO 3166-1 alpha-2 country code")
            ]

    def test_nested_and_extended(self) -> None:
        """Nested paths work; hosts can extend the table."""
        c = Contact(id="c", address=Address(country="EU"))
        assert run(CountryCode("address.country"), c)[0][0] == "address.country"
        assert run(CountryCode("address.country", COUNTRY_CODES | {"EU"}), c) == []

    def test_kosovo_contact_validates(self) -> None:
        """A Kosovo contact (XK, +383 phone) passes the default rules; XK can be opted out of."""
        c = Contact(id="c", last_name="Berisha", country="XK", phones=("+38344123456",),
                    address=Address(city="Prishtinë", country="XK"))  # fmt: skip
        assert validate(c) == []
        strict = CountryCode(codes=COUNTRY_CODES - {"XK"})
        assert run(strict, c) == [
            ("country", "XK", "country.iso3166", "not an ISO 3166-1 alpha-2 country code")
        ]


class TestCurrencyCode:
    """CurrencyCode."""

    @settings(max_examples=50, deadline=None)
    @given(st.from_regex(r"[A-Z]{3}", fullmatch=True))
    def test_against_table(self, code: str) -> None:
        """A shape-valid code is refused exactly when it is not in the ISO 4217 table."""
        problems = run(CurrencyCode(), Deal(id="d", amount=1, currency=code))
        if code in CURRENCY_CODES:
            assert problems == []
        else:
            assert problems == [
                ("currency", code, "currency.iso4217", "not an ISO 4217 currency code")
            ]


class TestNonNegative:
    """NonNegative."""

    def test_rejects_negative(self) -> None:
        """Negative amounts are refused; zero passes."""
        assert run(NonNegative("amount"), Deal(id="d", amount=0, currency="EUR")) == []
        assert run(NonNegative("amount"), Deal(id="d", amount=-1, currency="EUR")) == [
            ("amount", Decimal(-1), "non_negative", "must not be negative")
        ]


class TestMaxLength:
    """MaxLength."""

    def test_rejects_long(self) -> None:
        """Strings over the limit are refused."""
        assert run(MaxLength("title", 3), Contact(id="c", title="abc")) == []
        assert run(MaxLength("title", 3), Contact(id="c", title="abcd")) == [
            ("title", "abcd", "max_length", "longer than 3 characters")
        ]


class TestStageRequirements:
    """StageRequirements."""

    def test_amount_before_leaving_first_stage(self) -> None:
        """A deal past the first stage without an amount is reported in the issue's words."""
        problems = run(StageRequirements(), Deal(id="d", stage="proposal"))
        assert problems == [
            (
                "amount",
                None,
                "stage.required_fields",
                (
                    "a deal needs 'amount' before it leaves the first stage ('qualification'); "
                    "it is in 'proposal'"
                ),
            )
        ]
        assert run(StageRequirements(), Deal(id="d")) == []
        assert run(StageRequirements(), Deal(id="d", stage="lost", loss_reason="x")) == []

    def test_unknown_pipeline_and_stage(self) -> None:
        """Unknown pipelines and stages are reported."""
        assert run(StageRequirements(), Deal(id="d", pipeline="x"))[0][2] == "pipeline.unknown"
        assert run(StageRequirements(), Deal(id="d", stage="x"))[0][2] == "stage.unknown"
        assert run(StageRequirements(), Ticket(id="t", status="x"))[0][:3] == (
            "status",
            "x",
            "stage.unknown",
        )

    def test_required_in_first_stage(self) -> None:
        """A field required from the first stage on gets the in-stage message."""
        p = Pipeline.linear("p", "deal", [Stage("a", required_fields=("name",)), Stage("b")])
        problems = run(StageRequirements({"p": p}), Deal(id="d", pipeline="p", stage="a"))
        assert problems == [
            ("name", None, "stage.required_fields", "a deal in stage 'a' needs 'name'")
        ]


class TestFunctionRule:
    """FunctionRule wraps a plain function."""

    def test_wraps(self) -> None:
        """The function's problems are returned."""

        def no_gmail(record):
            for i, email in enumerate(record.emails):
                if email.endswith("@gmail.com"):
                    yield FieldProblem(
                        f"emails[{i}]", email, "email.business", "personal address", record.id
                    )

        rule = FunctionRule("email.business", no_gmail)
        assert isinstance(rule, ValidationRule)
        assert run(rule, Contact(id="c", emails=["a@gmail.com"]))[0][2] == "email.business"


class TestRuleSet:
    """ValidationRuleSet configuration."""

    def test_with_and_without(self) -> None:
        """Rules can be added and removed by name; the original is unchanged."""
        base = DEFAULT_RULES["contact"]
        stricter = base.with_rules(PhoneFormat())
        assert len(stricter.rules) == len(base.rules) + 1
        looser = base.without("country.iso3166")
        assert all(r.rule != "country.iso3166" for r in looser.rules)
        assert any(r.rule == "country.iso3166" for r in base.rules)

    def test_wrong_record_type(self) -> None:
        """A rule set refuses records of another type."""
        with pytest.raises(RuleConfigError):
            DEFAULT_RULES["deal"].validate(Contact(id="c"))

    def test_defaults_cover_every_type(self) -> None:
        """Every record type has a default rule set for its own type."""
        assert set(DEFAULT_RULES) == set(BUILT_IN)
        for name, rule_set in DEFAULT_RULES.items():
            assert rule_set.record_type == name
            assert all(isinstance(r, ValidationRule) for r in rule_set.rules)


class TestValidate:
    """validate: every problem, not the first only."""

    def test_collects_all(self) -> None:
        """A record breaking several default rules gets all of them, in rule order."""
        c = Contact(
            id="c", emails=["x", "y@example.com", "z"], country="QQ", address=Address(country="ZZ")
        )
        assert [(p.field, p.rule) for p in validate(c)] == [
            ("emails[0]", "email.format"),
            ("emails[2]", "email.format"),
            ("country", "country.iso3166"),
            ("address.country", "country.iso3166"),
        ]
        assert {p.record for p in validate(c)} == {"c"}

    def test_rule_choices(self) -> None:
        """A rule set, a mapping by type or the defaults can be given."""
        d = Deal(id="d", currency="EUR", amount=1)
        assert [p.rule for p in validate(d)] == ["required"]
        assert validate(d, ValidationRuleSet("deal")) == []
        assert validate(d, {"contact": DEFAULT_RULES["contact"]}) == []

    def test_default_rules_per_type(self) -> None:
        """Each type's defaults reject the obvious problems."""
        cases = [
            (Contact(id="c"), ["required.any"]),
            (Account(id="a", domain="ACME"), ["required", "domain.format"]),
            (
                Deal(id="d", name="x", amount=-5, currency="ABC", stage="negotiation"),
                ["currency.iso4217", "non_negative"],
            ),
            (Ticket(id="t"), ["required"]),
            (User(id="u", email="bad"), ["email.format"]),
            (Team(id="t"), ["required"]),
            (Activity(id="a", activity_type="note"), []),
            (
                Consent(
                    id="k", person_id="c", channel="email", purpose="marketing", status="pending"
                ),
                [],
            ),
        ]
        for record, rules in cases:
            assert [p.rule for p in validate(record)] == rules, record


class TestCheck:
    """check raises one ValidationError with every problem."""

    def test_raises_all(self) -> None:
        """All problems are carried; a clean record passes."""
        with pytest.raises(ValidationError) as info:
            check(Account(id="a", domain="ACME"))
        assert [p.rule for p in info.value.problems] == ["required", "domain.format"]
        assert "account 'a' failed validation" in str(info.value)
        check(Account(id="a", name="Acme", domain="acme.com"))


class TestValidateMany:
    """validate_many: a batch keeps going."""

    def test_batch(self) -> None:
        """Problems of every record are returned in record order."""
        records = [Contact(id="c1"), Contact(id="c2", first_name="A"), Team(id="t")]
        assert [(p.record, p.rule) for p in validate_many(records)] == [
            ("c1", "required.any"),
            ("t", "required"),
        ]


class TestRuleToDict:
    """validation_rule_to_dict / _from_dict and ValidationRuleSet.to_dict / .from_dict."""

    def test_default_rule_sets_round_trip_through_json(self) -> None:
        """Every default rule set survives the trip through JSON."""
        for rule_set in DEFAULT_RULES.values():
            data = json.loads(json.dumps(rule_set.to_dict()))
            assert ValidationRuleSet.from_dict(data) == rule_set

    def test_every_declarative_rule_round_trips(self) -> None:
        """Each rule kind with non-default arguments comes back equal."""
        custom = Pipeline.linear("p", "deal", [Stage("a"), Stage("b", required_fields=("name",))])
        rules = [
            Required(("name", "domain"), rule="must"),
            RequireAny(("emails", "phones")),
            MatchesPattern("title", "[A-Z].*", "title.case", "starts upper-case", 2),
            EmailFormat("email"),
            DomainFormat("website"),
            PhoneFormat("mobile"),
            AllowedValues("lead_source", {"web", "event"}, message="no"),
            CountryCode(codes=COUNTRY_CODES | {"EU"}),
            CurrencyCode("price_currency"),
            NonNegative("amount"),
            MaxLength("title", 80),
            StageRequirements({"p": custom}),
        ]
        for rule in rules:
            data = json.loads(json.dumps(validation_rule_to_dict(rule)))
            assert validation_rule_from_dict(data) == rule, data

    def test_hand_written_config(self) -> None:
        """A host can write rule sets as plain data."""
        rule_set = ValidationRuleSet.from_dict(
            {
                "record_type": "contact",
                "rules": [
                    {"kind": "required", "fields": ["last_name"]},
                    {"kind": "allowed_values", "field": "lead_source", "values": ["web"]},
                ],
            }
        )
        problems = validate(Contact(id="c", lead_source="tv"), rule_set)
        assert [p.rule for p in problems] == ["required", "allowed_values"]

    @pytest.mark.parametrize(
        "data",
        [
            {"fields": ["x"]},
            {"kind": "telepathy"},
            {"kind": "required", "colour": "red"},
            {"kind": "matches", "field": "x", "pattern": "("},
            {"kind": "stage_requirements", "pipelines": {"p": {"id": "p"}}},
        ],
    )
    def test_bad_rule_config(self, data) -> None:
        """Unknown kinds and bad arguments raise RuleConfigError."""
        with pytest.raises(RuleConfigError):
            validation_rule_from_dict(data)

    def test_bad_rule_set_config(self) -> None:
        """A rule set needs a record type and a list of rules; functions cannot be written."""
        with pytest.raises(RuleConfigError):
            ValidationRuleSet.from_dict({"rules": []})
        with pytest.raises(RuleConfigError):
            ValidationRuleSet.from_dict({"record_type": "contact", "rules": {"kind": "required"}})
        with pytest.raises(RuleConfigError):
            validation_rule_to_dict(FunctionRule("x", lambda r: []))
