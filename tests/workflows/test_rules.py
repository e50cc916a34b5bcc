"""Tests for crmcore.workflows.rules: validation and JSON / YAML round trips."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings

from crmcore.conditions import predicate
from crmcore.errors import RuleValidationError
from crmcore.workflows import (
    Rule,
    RuleSet,
    Unchanged,
    create_task,
    on_created,
    rules_from_dict,
    send_alert,
)
from crmcore.workflows.examples import standard_workflows
from tests.workflows.strategies import rule_sets, rules


class TestRuleRoundTrip:
    @settings(max_examples=60, deadline=None)
    @given(rules())
    def test_json_round_trip(self, rule: Rule) -> None:
        """Every rule survives to_dict -> JSON text -> from_dict unchanged."""
        assert Rule.from_dict(json.loads(json.dumps(rule.to_dict()))) == rule

    @settings(max_examples=30, deadline=None)
    @given(rule_sets)
    def test_ruleset_json_and_yaml(self, ruleset: RuleSet) -> None:
        """Rule sets survive JSON and YAML text unchanged, version included."""
        assert RuleSet.from_json(ruleset.to_json()) == ruleset
        assert RuleSet.from_yaml(ruleset.to_yaml()) == ruleset

    def test_examples_round_trip(self, tmp_path) -> None:
        """The shipped example rules survive a JSON file round trip."""
        path = tmp_path / "rules.json"
        rules_ = standard_workflows()
        rules_.to_json(path)
        assert RuleSet.from_json(path) == rules_


class TestValidation:
    def test_errors_name_rule_and_field(self) -> None:
        """Every problem names the rule and the offending field; all are reported together."""
        data = standard_workflows().to_dict()
        data["rules"][0]["trigger"] = {"type": "sometimes"}
        data["rules"][1]["actions"][0]["params"]["due_in_days"] = -3
        data["rules"][2]["priority"] = "high"
        with pytest.raises(RuleValidationError) as info:
            rules_from_dict(data)
        got = {(p.record, p.field) for p in info.value.problems}
        assert got == {
            ("fast-follow-up", "trigger.type"),
            ("stalled-deal", "actions[0].params.due_in_days"),
            ("won-deal-handoff", "priority"),
        }

    def test_every_problem_of_every_rule(self) -> None:
        """Problems in conditions, action delays and empty action lists each name rule and field."""
        data = {"rules": [
            {"name": "r1", "record_type": "deal", "trigger": {"type": "event"},
             "condition": {"op": "all", "conditions": [{"op": "gt", "field": "amount"},
                                                       {"op": "frob", "field": "x"}]},
             "actions": [{"type": "send_email", "params": {"template": "t"},
                          "delay_days": "soon"}]},
            {"name": "r2", "record_type": "deal",
             "trigger": {"type": "date_offset", "field": "d", "days": "sixty"}, "actions": []},
        ]}  # fmt: skip
        with pytest.raises(RuleValidationError) as info:
            rules_from_dict(data)
        got = {(p.record, p.field) for p in info.value.problems}
        assert got == {
            ("r1", "condition.all[0].value"),
            ("r1", "condition.all[1].op"),
            ("r1", "actions[0].delay_days"),
            ("r2", "trigger.days"),
            ("r2", "actions"),
        }

    def test_schema_version_checked(self) -> None:
        """A newer schema version is refused."""
        data = standard_workflows().to_dict()
        data["schema_version"] = 99
        with pytest.raises(RuleValidationError, match="schema_version"):
            rules_from_dict(data)

    def test_duplicate_names(self) -> None:
        """Rule names are unique within a set."""
        r = Rule("x", "deal", on_created(), (create_task("t"),))
        with pytest.raises(RuleValidationError, match="duplicate"):
            RuleSet((r, r))

    def test_before_save_only_field_updates(self) -> None:
        """Before-save rules may only change fields, and need an event trigger."""
        with pytest.raises(RuleValidationError, match="before-save"):
            Rule("x", "deal", on_created(), (send_alert("a", "b"),), phase="before_save")
        with pytest.raises(RuleValidationError, match="before-save"):
            Rule("x", "deal", Unchanged("stage", 3), (create_task("t"),), phase="before_save")

    def test_unknown_action_type(self) -> None:
        """An unknown action type is refused with the list of known ones."""
        data = {"name": "r", "record_type": "deal", "trigger": {"type": "event"},
                "actions": [{"type": "teleport", "params": {}}]}  # fmt: skip
        with pytest.raises(RuleValidationError) as info:
            Rule.from_dict(data)
        assert info.value.problems[0].field == "actions[0].type"

    def test_predicate_rules_not_serialisable(self) -> None:
        """A rule with a Python predicate says it cannot be written, naming the rule."""
        r = Rule("code", "deal", on_created(), (create_task("t"),), condition=predicate(bool))
        with pytest.raises(RuleValidationError) as info:
            r.to_dict()
        assert info.value.problems[0].record == "code"
