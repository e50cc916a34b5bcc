"""Rule files written by the release before the spec codec load unchanged and round-trip."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from crmcore.workflows import RuleSet

GOLDEN = Path(__file__).resolve().parents[1] / "fixtures" / "codec" / "workflows"
JSON_FILES = sorted(GOLDEN.glob("*.json"))
YAML_FILES = sorted(GOLDEN.glob("*.yaml"))


class TestGoldenRuleFiles:
    def test_files_exist(self) -> None:
        """The golden rule files are there (a missing fixture must not pass silently)."""
        assert {p.stem for p in JSON_FILES} == {"every_part", "standard_workflows"}
        assert {p.stem for p in YAML_FILES} == {"every_part", "standard_workflows"}

    @pytest.mark.parametrize("path", JSON_FILES, ids=lambda p: p.name)
    def test_json_loads_and_round_trips(self, path: Path) -> None:
        """A JSON rule file loads and writes back to the same content."""
        data = json.loads(path.read_text(encoding="utf-8"))
        rules = RuleSet.from_json(path)
        assert rules.to_dict() == data
        assert RuleSet.from_dict(rules.to_dict()) == rules

    @pytest.mark.parametrize("path", YAML_FILES, ids=lambda p: p.name)
    def test_yaml_loads_and_round_trips(self, path: Path) -> None:
        """A YAML rule file loads, equals its JSON twin and writes back to the same content."""
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        rules = RuleSet.from_yaml(path)
        assert rules.to_dict() == data
        assert rules == RuleSet.from_json(path.with_suffix(".json"))
