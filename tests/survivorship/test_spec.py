"""The dict form of survivorship rules: round trip, golden file, problems reported by path."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from hypothesis import given, settings

from crmcore.errors import SurvivorshipError
from crmcore.survivorship import (
    FieldRule,
    FunctionPolicy,
    MostRecent,
    SurvivorshipRules,
    TrustDecay,
    merge,
    preset_rules,
)
from tests.survivorship.strategies import record_groups, rule_sets, saveable_rule_sets

GOLDEN = Path(__file__).resolve().parents[1] / "fixtures" / "codec" / "survivorship"


class TestRoundTrip:
    @settings(max_examples=150, deadline=None)
    @given(saveable_rule_sets())
    def test_json_round_trip(self, rules: SurvivorshipRules) -> None:
        """Any saveable rule set survives to_dict, JSON text and from_dict unchanged."""
        text = json.dumps(rules.to_dict())
        back = SurvivorshipRules.from_dict(json.loads(text))
        assert back == rules
        assert back.to_dict() == rules.to_dict()

    @settings(max_examples=60, deadline=None)
    @given(rule_sets(custom=False), record_groups())
    def test_loaded_rules_merge_the_same(self, rules: SurvivorshipRules, records) -> None:
        """Rules read back from their dict form give the same golden record, lineage included."""
        plain = SurvivorshipRules(
            {name: FieldRule(r.policy, tie_breakers=r.tie_breakers, fallbacks=r.fallbacks)
             for name, r in rules.fields},
            default=FieldRule(rules.default.policy, tie_breakers=rules.default.tie_breakers,
                              fallbacks=rules.default.fallbacks),
            source_priority=rules.source_priority,
        )  # fmt: skip
        back = SurvivorshipRules.from_dict(json.loads(json.dumps(plain.to_dict())))
        assert merge(records, back).to_dict() == merge(records, plain).to_dict()

    @pytest.mark.parametrize("name", ["contacts", "accounts"])
    def test_presets_round_trip(self, name: str) -> None:
        """The preset rule sets have a dict form and read back equal."""
        rules = preset_rules(name)
        assert SurvivorshipRules.from_dict(rules.to_dict()) == rules


class TestGoldenFile:
    def test_loads_and_writes_back(self) -> None:
        """The saved rule set using every policy, validator and key form loads and writes back
        to the same content."""
        saved = json.loads((GOLDEN / "rules_every_part.json").read_text(encoding="utf-8"))
        rules = SurvivorshipRules.from_dict(saved)
        assert rules.to_dict() == saved
        names = {r.policy.name for _, r in rules.fields}
        names |= {p.name for _, r in rules.fields for p in (*r.tie_breakers, *r.fallbacks)}
        assert names >= {"most_recent", "earliest", "most_frequent", "source_priority",
                         "longest", "most_complete", "highest", "lowest", "first_non_null",
                         "trust_decay", "aggregate"}  # fmt: skip


class TestProblems:
    def test_every_problem_with_its_path(self) -> None:
        """Reading collects every problem, each naming its path, value and rule."""
        bad = {
            "fields": {
                "a": {"policy": {"name": "nope"}},
                "b": {"policy": {"name": "highest", "kind": "colour"}, "validate": 3},
                "c": {"policy": {"name": "source_priority", "ranking": "crm"}, "extra": 1},
            },
            "ignore": "id",
        }
        with pytest.raises(SurvivorshipError) as info:
            SurvivorshipRules.from_dict(bad)
        found = {(p.field, p.rule) for p in info.value.problems}
        assert found == {
            ("rules.fields.a.policy.name", "policy.name"),
            ("rules.fields.b.policy.kind", "policy.kind"),
            ("rules.fields.b.validate", "rule.function"),
            ("rules.fields.c.policy.ranking", "policy.ranking"),
            ("rules.fields.c.extra", "rule.unknown_key"),
            ("rules.ignore", "rules.ignore"),
        }
        assert all("\n" not in str(p) for p in info.value.problems)

    def test_constructor_checks_become_problems(self) -> None:
        """A value the policy itself refuses (trust above 1) is a problem at the policy's path."""
        bad = {"fields": {"t": {"policy": {
            "name": "trust_decay", "trust": {"crm": 2.0}, "half_life_seconds": 60,
            "as_of": "2024-01-01T00:00:00+00:00", "default_trust": None}}}}  # fmt: skip
        with pytest.raises(SurvivorshipError) as info:
            SurvivorshipRules.from_dict(bad)
        (problem,) = info.value.problems
        assert problem.field == "rules.fields.t.policy"
        assert "trust of source 'crm'" in problem.message

    def test_unknown_format(self) -> None:
        """A file of another format version is refused, naming the format."""
        with pytest.raises(SurvivorshipError, match=r"rules\.format"):
            SurvivorshipRules.from_dict({"format": "crmcore.survivorship.rules/9"})

    def test_function_policy_has_no_dict_form(self) -> None:
        """Writing a rule with a plain function says which one cannot be saved."""
        rules = SurvivorshipRules({"x": FieldRule(FunctionPolicy(len, label="by_length"))})
        with pytest.raises(SurvivorshipError, match="by_length"):
            rules.to_dict()

    def test_function_validator_has_no_dict_form(self) -> None:
        """A validator given as a function cannot be saved; a normaliser name can."""
        with pytest.raises(SurvivorshipError, match="no dict form"):
            SurvivorshipRules({"x": FieldRule(MostRecent(), validate=bool)}).to_dict()

    def test_naive_as_of_reads_as_utc(self) -> None:
        """A hand-written ``as_of`` without a zone is UTC, as in the constructor."""
        rules = SurvivorshipRules.from_dict({"fields": {"t": {"policy": {
            "name": "trust_decay", "trust": {}, "half_life_seconds": 3600,
            "as_of": "2024-01-01T00:00:00"}}}})  # fmt: skip
        policy = rules.rule_for("t").policy
        assert isinstance(policy, TrustDecay)
        assert policy.as_of == dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
