"""The dict (JSON / YAML) form of survivorship rules, through the one spec codec.

A policy is written with its name as the tag (``{"name": "source_priority", "ranking": [...]}``);
a field rule as ``policy``, ``tie_breakers``, ``fallbacks``, ``validate`` and ``key`` (the last
four left out when empty); a rule set as ``fields`` (field name -> rule), ``default``,
``source_priority``, ``ignore`` and ``groups``, under ``format``. ``validate`` and ``key`` are a
normaliser name, ``{"pattern": ..., "ignore_case": ...}`` for a :class:`RegexValidator`, or
``{"function": "group_key"}`` / ``{"function": "is_date_like"}`` for the field-group key
and the presets' date check; a plain function has no dict form (and
neither has :class:`FunctionPolicy`), so writing one raises :class:`SurvivorshipError`.
``TrustDecay`` writes ``trust`` as a source -> trust object, ``half_life_seconds`` and ``as_of``
as ISO 8601. Every problem when reading is a :class:`~crmcore.errors.FieldProblem` with its path
in the document (``rules.fields.email.policy.ranking``); all are raised together.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any

from crmcore.errors import FieldProblem, SurvivorshipError
from crmcore.model import DecodeContext, SpecCodec, SpecField
from crmcore.survivorship._policies import (
    Aggregate,
    Earliest,
    FirstNonNull,
    Highest,
    Longest,
    Lowest,
    MostComplete,
    MostFrequent,
    MostRecent,
    SourcePriority,
    TrustDecay,
)
from crmcore.survivorship._presets import is_date_like
from crmcore.survivorship._rules import (
    FieldGroup,
    FieldRule,
    RegexValidator,
    SurvivorshipRules,
    group_key,
)

#: The ``format`` of a saved rule set (the number changes only with an incompatible change).
RULES_FORMAT = "crmcore.survivorship.rules/1"

#: Key / validation functions with a dict form, by name.
NAMED_FUNCTIONS: Mapping[str, Callable[[Any], Any]] = {
    "group_key": group_key,
    "is_date_like": is_date_like,
}


def _problems_error(problems: list[FieldProblem], summary: str) -> SurvivorshipError:
    return SurvivorshipError.from_problems(problems, summary)


POLICIES = SpecCodec("policy", key="name", error=_problems_error,
                     catch=(TypeError, ValueError, OverflowError))  # fmt: skip
FIELD_RULES = SpecCodec("rule", key=None, error=_problems_error)
GROUPS = SpecCodec("group", key=None, error=_problems_error)
RULE_SETS = SpecCodec("rules", key=None, error=_problems_error, noun="survivorship rules")


def _strings(rule: str) -> Any:
    """A decoder of a list of strings (a tuple results)."""
    item = SpecCodec.typed(str, rule, "expected a string")
    return SpecCodec.list_of(item, rule=rule)


def _encode_trust(trust: tuple[tuple[str, float], ...]) -> dict[str, float]:
    return dict(trust)


def _decode_trust(raw: Any, ctx: DecodeContext) -> Any:
    if not isinstance(raw, Mapping) or not all(
        isinstance(v, (int, float)) and not isinstance(v, bool) for v in raw.values()
    ):
        ctx.problem(raw, "policy.trust", "expected an object of source -> trust in [0, 1]")
        return SpecCodec.MISSING
    return dict(raw)


def _encode_half_life(value: dt.timedelta) -> float:
    return value.total_seconds()


def _decode_half_life(raw: Any, ctx: DecodeContext) -> Any:
    if not isinstance(raw, (int, float)) or isinstance(raw, bool) or not raw > 0:
        ctx.problem(raw, "policy.half_life", "expected a positive number of seconds")
        return SpecCodec.MISSING
    try:
        return dt.timedelta(seconds=raw)
    except OverflowError:
        ctx.problem(raw, "policy.half_life", "too long")
        return SpecCodec.MISSING


def _decode_as_of(raw: Any, ctx: DecodeContext) -> Any:
    try:
        return dt.datetime.fromisoformat(raw) if isinstance(raw, str) else None
    except ValueError:
        pass
    ctx.problem(raw, "policy.as_of", "expected an ISO 8601 date and time")
    return SpecCodec.MISSING


def _decode_trust_value(raw: Any, ctx: DecodeContext) -> Any:
    if raw is not None and (not isinstance(raw, (int, float)) or isinstance(raw, bool)):
        ctx.problem(raw, "policy.default_trust", "expected a number in [0, 1] or null")
        return SpecCodec.MISSING
    return raw


def _decode_kind(raw: Any, ctx: DecodeContext) -> Any:
    if raw not in ("number", "text", "date"):
        ctx.problem(raw, "policy.kind", "expected 'number', 'text' or 'date'")
        return SpecCodec.MISSING
    return raw


def _decode_separator(raw: Any, ctx: DecodeContext) -> Any:
    if raw is not None and not isinstance(raw, str):
        ctx.problem(raw, "policy.separator", "expected a string or null")
        return SpecCodec.MISSING
    return raw


for _cls in (MostRecent, Earliest, MostFrequent, Longest, MostComplete):
    POLICIES.register(_cls, _cls.name)
POLICIES.register(SourcePriority, SourcePriority.name,
                  fields={"ranking": SpecField(decode=_strings("policy.ranking"))},
                  omit_defaults=True)  # fmt: skip
POLICIES.register(FirstNonNull, FirstNonNull.name,
                  fields={"sources": SpecField(decode=_strings("policy.sources"))},
                  omit_defaults=True)  # fmt: skip
for _extreme in (Highest, Lowest):
    POLICIES.register(_extreme, _extreme.name, fields={"kind": SpecField(decode=_decode_kind)})
POLICIES.register(
    TrustDecay,
    TrustDecay.name,
    fields={
        "trust": SpecField(encode=_encode_trust, decode=_decode_trust),
        "half_life": SpecField(key="half_life_seconds", encode=_encode_half_life,
                               decode=_decode_half_life),
        "as_of": SpecField(encode=dt.datetime.isoformat, decode=_decode_as_of),
        "default_trust": SpecField(decode=_decode_trust_value),
    },
)  # fmt: skip
POLICIES.register(Aggregate, Aggregate.name,
                  fields={"separator": SpecField(decode=_decode_separator)})  # fmt: skip


def _encode_policy(policy: Any) -> dict[str, Any]:
    if not POLICIES.handles(policy):
        raise SurvivorshipError(
            f"policy {getattr(policy, 'name', policy)!r} ({type(policy).__name__}) has no dict "
            "form: only the built-in policies can be saved"
        )
    return POLICIES.to_dict(policy)


def _encode_policies(policies: tuple[Any, ...]) -> list[dict[str, Any]]:
    return [_encode_policy(p) for p in policies]


def _encode_function(value: Any) -> Any:
    """A ``validate`` / ``key`` value's dict form (see the module docstring)."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, RegexValidator):
        return {"pattern": value.pattern, "ignore_case": value.ignore_case}
    for name, fn in NAMED_FUNCTIONS.items():
        if value is fn:
            return {"function": name}
    raise SurvivorshipError(
        f"{getattr(value, '__name__', value)!r} has no dict form: give a normaliser name or a "
        "RegexValidator to save the rules"
    )


def _decode_function(raw: Any, ctx: DecodeContext) -> Any:
    if raw is None or isinstance(raw, str):
        return raw
    if isinstance(raw, Mapping) and set(raw) == {"function"} and raw["function"] in NAMED_FUNCTIONS:
        return NAMED_FUNCTIONS[raw["function"]]
    if (isinstance(raw, Mapping) and "pattern" in raw and set(raw) <= {"pattern", "ignore_case"}
            and isinstance(raw["pattern"], str)
            and isinstance(raw.get("ignore_case", False), bool)):  # fmt: skip
        try:
            return RegexValidator(raw["pattern"], raw.get("ignore_case", False))
        except SurvivorshipError as exc:
            ctx.problem(raw["pattern"], "rule.pattern", str(exc))
            return SpecCodec.MISSING
    ctx.problem(raw, "rule.function", "expected a normaliser name, {'pattern': ..., "
                f"'ignore_case': ...}}, or {{'function': one of {sorted(NAMED_FUNCTIONS)}}}")
    return SpecCodec.MISSING


_POLICY_LIST = SpecCodec.list_of(POLICIES.decode, rule="rule.policies")

FIELD_RULES.register(
    FieldRule,
    fields={
        "policy": SpecField(encode=_encode_policy, decode=POLICIES.decode),
        "tie_breakers": SpecField(encode=_encode_policies, decode=_POLICY_LIST),
        "fallbacks": SpecField(encode=_encode_policies, decode=_POLICY_LIST),
        "validate": SpecField(encode=_encode_function, decode=_decode_function),
        "key": SpecField(encode=_encode_function, decode=_decode_function),
    },
    omit_defaults=True,
)

#: The rule a field group gets when none is given (left out of the dict form).
_GROUP_DEFAULT = FieldGroup("a", ("a", "b")).rule

GROUPS.register(
    FieldGroup,
    fields={
        "name": SpecField(decode=SpecCodec.typed(str, "group.name", "expected a string")),
        "fields": SpecField(decode=_strings("group.fields")),
        "rule": SpecField(encode=FIELD_RULES.to_dict, decode=FIELD_RULES.decode,
                          omit=lambda rule: bool(rule == _GROUP_DEFAULT)),
    },
)  # fmt: skip


def _encode_fields(fields: tuple[tuple[str, FieldRule], ...]) -> dict[str, Any]:
    return {name: FIELD_RULES.to_dict(rule) for name, rule in fields}


def _decode_fields(raw: Any, ctx: DecodeContext) -> Any:
    if not isinstance(raw, Mapping):
        ctx.problem(raw, "rules.fields", "expected an object of field name -> rule")
        return SpecCodec.MISSING
    out = {str(name): FIELD_RULES.decode(rule, ctx.at(str(name))) for name, rule in raw.items()}
    if any(rule is SpecCodec.MISSING for rule in out.values()):
        return SpecCodec.MISSING
    return out


RULE_SETS.register(
    SurvivorshipRules,
    fields={
        "fields": SpecField(encode=_encode_fields, decode=_decode_fields),
        "default": SpecField(encode=FIELD_RULES.to_dict, decode=FIELD_RULES.decode),
        "source_priority": SpecField(decode=_strings("rules.source_priority")),
        "ignore": SpecField(decode=_strings("rules.ignore")),
        "groups": SpecField(encode=lambda gs: [GROUPS.to_dict(g) for g in gs],
                            decode=SpecCodec.list_of(GROUPS.decode, rule="rules.groups")),
    },
)  # fmt: skip


def rules_to_dict(rules: SurvivorshipRules) -> dict[str, Any]:
    """The dict form of a rule set (see :meth:`SurvivorshipRules.to_dict`)."""
    return {"format": RULES_FORMAT, **RULE_SETS.to_dict(rules)}


def rules_from_dict(data: Any) -> SurvivorshipRules:
    """A rule set from its dict form (see :meth:`SurvivorshipRules.from_dict`)."""
    if isinstance(data, Mapping) and data.get("format", RULES_FORMAT) != RULES_FORMAT:
        found = data.get("format")
        raise SurvivorshipError.from_problems(
            [FieldProblem("rules.format", found, "rules.format",
                          f"unknown format; this release reads {RULES_FORMAT!r}")],
            "invalid survivorship rules",
        )  # fmt: skip
    body = {k: v for k, v in data.items() if k != "format"} if isinstance(data, Mapping) else data
    rules: SurvivorshipRules = RULE_SETS.from_dict(body, path="rules")
    return rules


__all__ = ["RULES_FORMAT", "rules_from_dict", "rules_to_dict"]
