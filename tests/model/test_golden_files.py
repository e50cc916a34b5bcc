"""Validation rule sets written by the release before the spec codec load and round-trip."""

from __future__ import annotations

import json
from pathlib import Path

from crmcore.model import DEFAULT_RULES, ValidationRuleSet

GOLDEN = Path(__file__).resolve().parents[1] / "fixtures" / "codec" / "model"


class TestGoldenValidationRules:
    def test_rule_sets_load_and_round_trip(self) -> None:
        """Every saved rule set loads and writes back to the same content."""
        data = json.loads((GOLDEN / "validation_rules.json").read_text(encoding="utf-8"))
        sets = [data["every_kind"], *data["default_rules"].values()]
        assert len(sets) == 1 + len(DEFAULT_RULES)
        for saved in sets:
            rules = ValidationRuleSet.from_dict(saved)
            assert rules.to_dict() == saved
            assert ValidationRuleSet.from_dict(rules.to_dict()) == rules

    def test_default_rules_unchanged(self) -> None:
        """The saved default rule sets equal today's defaults."""
        data = json.loads((GOLDEN / "validation_rules.json").read_text(encoding="utf-8"))
        for record_type, saved in data["default_rules"].items():
            assert ValidationRuleSet.from_dict(saved) == DEFAULT_RULES[record_type]
