"""Rules and rule sets: trigger + condition + actions, serialised to JSON or YAML.

A :class:`Rule` is a frozen value; a :class:`RuleSet` is a named, versioned list of rules with
unique names. Files carry ``format: crmcore.workflows`` and a ``schema_version``; loading
validates everything and raises one :class:`~crmcore.errors.RuleValidationError` listing every
problem, each naming the rule (``problem.record``) and the field path (``problem.field``).

Ordering: the engine considers rules by descending ``priority``, then in the order they were
given (the rule set's order).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Final

import attrs

from crmcore.conditions import (
    Condition,
    EvalContext,
    as_condition,
    condition_from_dict,
)
from crmcore.errors import FieldProblem, RuleValidationError, require
from crmcore.model import DecodeContext, SpecCodec, SpecField
from crmcore.workflows._actions import ACTIONS, Action
from crmcore.workflows._triggers import TRIGGERS, Trigger

FORMAT: Final = "crmcore.workflows"
SCHEMA_VERSION: Final = 1
PHASES: Final = ("before_save", "after_save")


def _as_condition(value: Any) -> Condition:
    return as_condition(value)


def _actions(values: Any) -> tuple[Action, ...]:
    out = tuple(values)
    for i, a in enumerate(out):
        if not isinstance(a, Action):
            raise RuleValidationError(
                FieldProblem(f"actions[{i}]", a, "rule.action", "expected an Action")
            )
    return out


def _validate_rule(instance: Rule, attribute: Any, value: Any) -> None:
    problems: list[FieldProblem] = []
    name = instance.name if isinstance(instance.name, str) else None

    def bad(field: str, val: Any, rule: str, message: str) -> None:
        problems.append(FieldProblem(field, val, rule, message, name))

    if not isinstance(instance.name, str) or not instance.name.strip():
        bad("name", instance.name, "rule.name", "a rule needs a non-empty name")
    if not isinstance(instance.record_type, str) or not instance.record_type:
        bad("record_type", instance.record_type, "rule.record_type", "a record type is required")
    if instance.phase not in PHASES:
        bad("phase", instance.phase, "rule.phase", f"expected one of {', '.join(PHASES)}")
    if not hasattr(instance.trigger, "is_time"):
        bad("trigger", instance.trigger, "rule.trigger", "expected a trigger value")
    if not instance.actions:
        bad("actions", (), "rule.actions", "a rule needs at least one action")
    if isinstance(instance.priority, bool) or not isinstance(instance.priority, int):
        bad("priority", instance.priority, "rule.priority", "priority must be an integer")
    if instance.phase == "before_save":
        if getattr(instance.trigger, "is_time", False):
            bad("trigger", instance.trigger.type, "rule.phase", "before-save rules need an event")
        for i, action in enumerate(instance.actions):
            if not action.changes_record:
                bad(
                    f"actions[{i}].type",
                    action.type,
                    "rule.phase",
                    "before-save rules may only change the record's fields",
                )
            elif action.delayed:
                bad(f"actions[{i}].delay_days", action.delay_days, "rule.phase",
                    "before-save actions cannot be delayed")  # fmt: skip
    if problems:
        raise RuleValidationError(problems, f"invalid rule {name!r}")


@attrs.frozen
class Rule:
    """A workflow rule: when ``trigger`` fires on a ``record_type`` and ``condition`` holds, act.

    Attributes:
        name: Unique name (quoted in audit entries and errors).
        record_type: The record type the rule watches (``"deal"``, ``"contact"`` ...).
        trigger: What makes the rule look (see :mod:`crmcore.workflows._triggers`).
        actions: What it does.
        condition: Declarative condition or Python callable (default: always).
        phase: ``"after_save"`` (take actions) or ``"before_save"`` (return field updates
            applied to the same change, no new event).
        priority: Higher runs first; ties keep the given order.
        enabled: Disabled rules are considered but never fire (the audit says so).
        newly_met: Fire on an update only when the record did not meet the condition before.
        reenroll: May a record fire this rule again after it fired once? (Time triggers: once
            per period when true, once ever when false.) The store records which records a
            rule fired for only while ``reenroll`` is false: switching it off later counts the
            fires from then on.
        description: Free text.
    """

    name: str
    record_type: str
    trigger: Trigger
    actions: tuple[Action, ...] = attrs.field(converter=_actions)
    condition: Condition = attrs.field(default=None, converter=_as_condition)
    phase: str = "after_save"
    priority: int = 0
    enabled: bool = True
    newly_met: bool = False
    reenroll: bool = True
    description: str = attrs.field(default="", validator=_validate_rule)

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-friendly dict form.

        Raises:
            RuleValidationError: If the condition is a Python callable.
        """
        try:
            return RULES.to_dict(self)
        except RuleValidationError as exc:
            raise RuleValidationError(
                [attrs.evolve(p, record=self.name) for p in exc.problems],
                f"rule {self.name!r} cannot be serialised",
            ) from None

    @classmethod
    def from_dict(cls, data: Any) -> Rule:
        """Build a rule from its dict form (every problem reported at once).

        Raises:
            RuleValidationError: Naming the rule and each offending field.
        """
        problems: list[FieldProblem] = []
        rule = _rule_from_dict(data, 0, problems)
        if rule is None:
            raise RuleValidationError(problems, "invalid rule")
        return rule

    def evaluate(self, ctx: EvalContext) -> bool:
        """Evaluate the rule's condition in a context."""
        return self.condition.test(ctx)


def _to_dict(value: Any) -> Any:
    return value.to_dict()


def _to_dicts(values: Iterable[Any]) -> list[Any]:
    return [v.to_dict() for v in values]


def _typed(kind: type, key: str) -> SpecField:
    return SpecField(decode=SpecCodec.typed(kind, f"rule.{key}", f"expected {kind.__name__}"))


#: The dict form of a rule (its trigger, condition and actions through their own codecs).
RULES = SpecCodec("rule", key=None, error=RuleValidationError)
RULES.register(
    Rule,
    fields={
        "trigger": SpecField(encode=_to_dict, decode=TRIGGERS.decode),
        "actions": SpecField(encode=_to_dicts, decode=SpecCodec.list_of(
            ACTIONS.decode, rule="rule.actions", empty="a rule needs at least one action")),
        "condition": SpecField(encode=_to_dict, decode=SpecCodec.nested(condition_from_dict)),
        "priority": _typed(int, "priority"),
        "enabled": _typed(bool, "enabled"),
        "newly_met": _typed(bool, "newly_met"),
        "reenroll": _typed(bool, "reenroll"),
        "description": _typed(str, "description"),
    },
    order=("name", "record_type", "description", "phase", "priority", "enabled", "newly_met",
           "reenroll", "trigger", "condition", "actions"),
)  # fmt: skip


def _rule_from_dict(data: Any, index: int, problems: list[FieldProblem]) -> Rule | None:
    if not isinstance(data, Mapping):
        problems.append(
            FieldProblem(f"rules[{index}]", data, "rule.type", "a rule must be an object")
        )
        return None
    name = data.get("name")
    where = name if isinstance(name, str) and name else f"rules[{index}]"
    rule = RULES.decode(data, DecodeContext("", where, problems))
    return None if rule is SpecCodec.MISSING else rule


def _rules(values: Iterable[Any]) -> tuple[Rule, ...]:
    out: tuple[Any, ...] = tuple(values)
    seen: set[str] = set()
    problems = []
    for i, rule in enumerate(out):
        if not isinstance(rule, Rule):
            problems.append(FieldProblem(f"rules[{i}]", rule, "ruleset.rule", "expected a Rule"))
        elif rule.name in seen:
            problems.append(
                FieldProblem("name", rule.name, "ruleset.unique", "duplicate rule name", rule.name)
            )
        else:
            seen.add(rule.name)
    if problems:
        raise RuleValidationError(problems, "invalid rule set")
    return out


@attrs.frozen
class RuleSet:
    """A named, versioned list of rules with unique names.

    Attributes:
        rules: The rules, in order.
        name: Name of the set.
        version: The set's own version (bump it when you edit the rules).
    """

    rules: tuple[Rule, ...] = attrs.field(converter=_rules)
    name: str = "rules"
    version: int = 1

    def __iter__(self) -> Any:
        return iter(self.rules)

    def __len__(self) -> int:
        return len(self.rules)

    def __getitem__(self, name: str) -> Rule:
        for rule in self.rules:
            if rule.name == name:
                return rule
        raise KeyError(name)

    def __add__(self, other: RuleSet) -> RuleSet:
        return RuleSet(self.rules + other.rules, self.name, self.version)

    def to_dict(self) -> dict[str, Any]:
        """Return the versioned dict form."""
        return {
            "format": FORMAT,
            "schema_version": SCHEMA_VERSION,
            "name": self.name,
            "version": self.version,
            "rules": [r.to_dict() for r in self.rules],
        }

    def to_json(self, path: str | Path | None = None, *, indent: int | None = 2) -> str:
        """Return (and optionally write) the JSON form."""
        text = json.dumps(self.to_dict(), indent=indent, ensure_ascii=False)
        if path is not None:
            Path(path).write_text(text + "\n", encoding="utf-8")
        return text

    def to_yaml(self, path: str | Path | None = None) -> str:
        """Return (and optionally write) the YAML form (needs ``crmcore[yaml]``)."""
        yaml = require("yaml", "yaml", "YAML rule files")
        text: str = yaml.safe_dump(self.to_dict(), sort_keys=False, allow_unicode=True)
        if path is not None:
            Path(path).write_text(text, encoding="utf-8")
        return text

    @classmethod
    def from_dict(cls, data: Any) -> RuleSet:
        """Build and validate a rule set from its dict form."""
        return rules_from_dict(data)

    @classmethod
    def from_json(cls, text_or_path: str | Path) -> RuleSet:
        """Load a rule set from JSON text or a ``.json`` file path."""
        text = _read(text_or_path)
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise RuleValidationError(
                FieldProblem("json", str(text_or_path)[:60], "ruleset.json", str(exc))
            ) from None
        return rules_from_dict(data)

    @classmethod
    def from_yaml(cls, text_or_path: str | Path) -> RuleSet:
        """Load a rule set from YAML text or a file path (needs ``crmcore[yaml]``)."""
        yaml = require("yaml", "yaml", "YAML rule files")
        try:
            data = yaml.safe_load(_read(text_or_path))
        except yaml.YAMLError as exc:
            raise RuleValidationError(
                FieldProblem("yaml", str(text_or_path)[:60], "ruleset.yaml", str(exc))
            ) from None
        return rules_from_dict(data)


def _read(text_or_path: str | Path) -> str:
    if isinstance(text_or_path, Path):
        return text_or_path.read_text(encoding="utf-8")
    stripped = text_or_path.lstrip()
    if stripped[:1] not in ("{", "[") and "\n" not in text_or_path and Path(text_or_path).is_file():
        return Path(text_or_path).read_text(encoding="utf-8")
    return text_or_path


def rules_from_dict(data: Any) -> RuleSet:
    """Validate and build a :class:`RuleSet` from its dict form.

    Args:
        data: ``{"format": "crmcore.workflows", "schema_version": 1, "name", "version",
            "rules": [...]}``; a bare list of rules is accepted too.

    Returns:
        The rule set.

    Raises:
        RuleValidationError: Listing every problem in every rule.
    """
    if isinstance(data, list):
        data = {"format": FORMAT, "schema_version": SCHEMA_VERSION, "rules": data}
    if not isinstance(data, Mapping):
        raise RuleValidationError(
            FieldProblem("ruleset", data, "ruleset.type", "expected an object with 'rules'")
        )
    problems: list[FieldProblem] = []
    if data.get("format", FORMAT) != FORMAT:
        problems.append(
            FieldProblem("format", data.get("format"), "ruleset.format", f"expected {FORMAT!r}")
        )
    schema = data.get("schema_version", SCHEMA_VERSION)
    if not isinstance(schema, int) or isinstance(schema, bool) or not 1 <= schema <= SCHEMA_VERSION:
        problems.append(
            FieldProblem(
                "schema_version",
                schema,
                "ruleset.schema_version",
                f"this crmcore reads schema versions 1..{SCHEMA_VERSION}",
            )
        )
    raw = data.get("rules")
    if not isinstance(raw, list):
        problems.append(FieldProblem("rules", raw, "ruleset.rules", "expected a list of rules"))
        raw = []
    rules = [_rule_from_dict(item, i, problems) for i, item in enumerate(raw)]
    version = data.get("version", 1)
    if not isinstance(version, int) or isinstance(version, bool):
        problems.append(FieldProblem("version", version, "ruleset.version", "expected an integer"))
    if problems:
        raise RuleValidationError(problems, "invalid rule set")
    return RuleSet(
        tuple(r for r in rules if r is not None), str(data.get("name", "rules")), int(version)
    )
