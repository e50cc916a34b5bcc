"""Validation rule sets: business rules per record type, configurable by the host.

Construction checks types and shapes only; whether a record is *acceptable* is decided by rule
sets. A rule is a small frozen value with a ``rule`` name and a ``check(record)`` method yielding
:class:`~crmcore.errors.FieldProblem` values; a :class:`ValidationRuleSet` groups the rules of one
record type; :func:`validate` runs them all and returns every problem (never only the first);
:func:`check` raises one :class:`~crmcore.errors.ValidationError` carrying them all.

Field paths: ``"emails"`` checks each element of a tuple (reported as ``"emails[1]"``),
``"address.country"`` follows nested values, ``"custom_fields.vat_id"`` looks into mappings.
Format and allowed-value rules skip missing values (``None``); presence is the job of
:class:`Required` / :class:`RequireAny`.

Example:
    >>> from crmcore.model import Contact
    >>> problems = validate(Contact(id="c-1", emails=["not-an-email"], country="XX"))
    >>> [(p.field, p.rule) for p in problems]
    [('emails[0]', 'email.format'), ('country', 'country.iso3166')]
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from decimal import Decimal
from typing import Any, ClassVar, Protocol, runtime_checkable

import attrs

from crmcore.errors import CrmcoreError, FieldProblem, ValidationError
from crmcore.model._codec import DecodeContext, SpecCodec, SpecField
from crmcore.model._codes import COUNTRY_CODES, CURRENCY_CODES
from crmcore.model._frozen_map import FrozenMap
from crmcore.model._pipeline import DEFAULT_PIPELINES, Pipeline, is_filled


class RuleConfigError(CrmcoreError, ValueError):
    """A rule set was applied to a record type it was not made for, or is malformed.

    Read from a dict, it lists every problem in ``problems`` (path, value, rule); else that is
    empty.
    """

    problems: tuple[FieldProblem, ...] = ()

    @classmethod
    def from_problems(cls, problems: Iterable[FieldProblem], summary: str = "") -> RuleConfigError:
        """The error listing ``problems`` (the summary, then one line per problem)."""
        found = tuple(problems)
        err = cls("\n".join([*([summary] if summary else []), *map(str, found)]))
        err.problems = found
        return err


@runtime_checkable
class ValidationRule(Protocol):
    """One validation rule: a name and a check yielding problems."""

    @property
    def rule(self) -> str:
        """Machine-readable rule name, reported in :attr:`FieldProblem.rule`."""
        ...

    def check(self, record: Any) -> Iterable[FieldProblem]:
        """Yield a problem for every way ``record`` breaks the rule."""
        ...


_MISSING = object()


def _get(record: Any, path: str) -> Any:
    """Follow a dotted path through attributes and mappings; ``_MISSING`` when absent."""
    value = record
    for part in path.split("."):
        if value is None:
            return None
        if isinstance(value, Mapping):
            value = value.get(part, _MISSING)
        else:
            value = getattr(value, part, _MISSING)
        if value is _MISSING:
            return _MISSING
    return value


def _values(record: Any, path: str) -> Iterator[tuple[str, Any]]:
    """Yield ``(label, value)`` for each present value at ``path`` (tuple elements one by one)."""
    value = _get(record, path)
    if value is None or value is _MISSING:
        return
    if isinstance(value, tuple):
        for i, item in enumerate(value):
            if item is not None:
                yield f"{path}[{i}]", item
    elif isinstance(value, frozenset):
        for item in sorted(value, key=str):
            yield f"{path}[{item!r}]", item
    else:
        yield path, value


def _rid(record: Any) -> str | None:
    record_id = getattr(record, "id", None)
    return record_id if isinstance(record_id, str) and record_id else None


def _problem(record: Any, field: str, value: Any, rule: str, message: str) -> FieldProblem:
    return FieldProblem(field=field, value=value, rule=rule, message=message, record=_rid(record))


def _as_tuple(value: str | Iterable[str]) -> tuple[str, ...]:
    return (value,) if isinstance(value, str) else tuple(value)


@attrs.frozen
class Required:
    """Each field must be filled (not ``None``, not blank, not an empty collection).

    Args:
        fields: Field paths (a single string is accepted).
        rule: Rule name reported.
    """

    fields: tuple[str, ...] = attrs.field(converter=_as_tuple)
    rule: str = "required"

    def check(self, record: Any) -> Iterator[FieldProblem]:
        """Yield a ``required`` problem per empty field."""
        for path in self.fields:
            value = _get(record, path)
            if value is _MISSING or not is_filled(value):
                shown = None if value is _MISSING else value
                yield _problem(record, path, shown, self.rule, f"{path} is required")


@attrs.frozen
class RequireAny:
    """At least one of the fields must be filled.

    Args:
        fields: Field paths.
        rule: Rule name reported.
    """

    fields: tuple[str, ...] = attrs.field(converter=_as_tuple)
    rule: str = "required.any"

    def check(self, record: Any) -> Iterator[FieldProblem]:
        """Yield one problem when every field is empty."""
        for path in self.fields:
            value = _get(record, path)
            if value is not _MISSING and is_filled(value):
                return
        yield _problem(
            record,
            " | ".join(self.fields),
            None,
            self.rule,
            "at least one of " + ", ".join(self.fields) + " is required",
        )


@attrs.frozen
class MatchesPattern:
    """Each string value at ``field`` must fully match ``pattern``.

    Args:
        field: Field path.
        pattern: Regular expression (``fullmatch``).
        rule: Rule name reported.
        message: Explanation reported.
        flags: ``re`` flags.
    """

    field: str
    pattern: str
    rule: str = "format"
    message: str = "has the wrong format"
    flags: int = 0
    _regex: re.Pattern[str] = attrs.field(init=False, eq=False, repr=False, hash=False)

    def __attrs_post_init__(self) -> None:
        object.__setattr__(self, "_regex", re.compile(self.pattern, self.flags))

    def check(self, record: Any) -> Iterator[FieldProblem]:
        """Yield a problem per value that does not match."""
        for label, value in _values(record, self.field):
            if not isinstance(value, str) or self._regex.fullmatch(value) is None:
                yield _problem(record, label, value, self.rule, self.message)


_EMAIL = (
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}"
)
_DOMAIN = r"(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}"
_E164 = r"\+[1-9][0-9]{6,14}(?:;ext=[0-9]{1,10})?"


def _format_problems(
    record: Any, field: str, regex: re.Pattern[str], rule: str, message: str
) -> Iterator[FieldProblem]:
    for label, value in _values(record, field):
        if not isinstance(value, str) or regex.fullmatch(value) is None:
            yield _problem(record, label, value, rule, message)


@attrs.frozen
class EmailFormat:
    """Each value looks like an email address (``local@domain.tld``, ASCII shape).

    Args:
        field: Field path (default ``"emails"``).
        rule: Rule name reported.
    """

    field: str = "emails"
    rule: str = "email.format"
    message: ClassVar[str] = "not a valid email address"
    regex: ClassVar[re.Pattern[str]] = re.compile(_EMAIL)

    def check(self, record: Any) -> Iterator[FieldProblem]:
        """Yield a problem per malformed address."""
        return _format_problems(record, self.field, self.regex, self.rule, self.message)


@attrs.frozen
class DomainFormat:
    """Each value is a lower-case host name such as ``example.com`` (no scheme, no path).

    Args:
        field: Field path (default ``"domain"``).
        rule: Rule name reported.
    """

    field: str = "domain"
    rule: str = "domain.format"
    message: ClassVar[str] = "not a lower-case domain name such as 'example.com'"
    regex: ClassVar[re.Pattern[str]] = re.compile(_DOMAIN)

    def check(self, record: Any) -> Iterator[FieldProblem]:
        """Yield a problem per malformed domain."""
        return _format_problems(record, self.field, self.regex, self.rule, self.message)


@attrs.frozen
class PhoneFormat:
    """Each value is an E.164 number (``+`` and 7-15 digits, optional ``;ext=``).

    Not in the default rule sets (raw imports rarely hold E.164); add it once phones are
    normalised.

    Args:
        field: Field path (default ``"phones"``).
        rule: Rule name reported.
    """

    field: str = "phones"
    rule: str = "phone.e164"
    message: ClassVar[str] = "not an E.164 phone number ('+' and 7 to 15 digits)"
    regex: ClassVar[re.Pattern[str]] = re.compile(_E164)

    def check(self, record: Any) -> Iterator[FieldProblem]:
        """Yield a problem per malformed number."""
        return _format_problems(record, self.field, self.regex, self.rule, self.message)


@attrs.frozen
class AllowedValues:
    """Each value at ``field`` must be one of ``values``.

    Args:
        field: Field path.
        values: The allowed values.
        rule: Rule name reported.
        message: Explanation (default lists the allowed values).
    """

    field: str
    values: frozenset[Any] = attrs.field(converter=frozenset)
    rule: str = "allowed_values"
    message: str | None = None

    def check(self, record: Any) -> Iterator[FieldProblem]:
        """Yield a problem per value outside the allowed set."""
        for label, value in _values(record, self.field):
            if value not in self.values:
                message = self.message or "must be one of " + ", ".join(
                    sorted(repr(str(v)) for v in self.values)
                )
                yield _problem(record, label, value, self.rule, message)


def _code_problems(
    record: Any, field: str, codes: frozenset[str], rule: str, message: str
) -> Iterator[FieldProblem]:
    for label, value in _values(record, field):
        if value not in codes:
            yield _problem(record, label, value, rule, message)


@attrs.frozen
class CountryCode:
    """Each value is an ISO 3166-1 alpha-2 code.

    Args:
        field: Field path (default ``"country"``).
        codes: The accepted codes (default: the shipped table; extend it for e.g. ``"XK"``).
        rule: Rule name reported.
    """

    field: str = "country"
    codes: frozenset[str] = attrs.field(default=COUNTRY_CODES, converter=frozenset)
    rule: str = "country.iso3166"
    message: ClassVar[str] = "not an ISO 3166-1 alpha-2 country code"

    def check(self, record: Any) -> Iterator[FieldProblem]:
        """Yield a problem per unknown code."""
        return _code_problems(record, self.field, self.codes, self.rule, self.message)


@attrs.frozen
class CurrencyCode:
    """Each value is an ISO 4217 currency code.

    Args:
        field: Field path (default ``"currency"``).
        codes: The accepted codes (default: the shipped table).
        rule: Rule name reported.
    """

    field: str = "currency"
    codes: frozenset[str] = attrs.field(default=CURRENCY_CODES, converter=frozenset)
    rule: str = "currency.iso4217"
    message: ClassVar[str] = "not an ISO 4217 currency code"

    def check(self, record: Any) -> Iterator[FieldProblem]:
        """Yield a problem per unknown code."""
        return _code_problems(record, self.field, self.codes, self.rule, self.message)


@attrs.frozen
class NonNegative:
    """Each numeric value at ``field`` must be zero or more.

    Args:
        field: Field path.
        rule: Rule name reported.
    """

    field: str
    rule: str = "non_negative"

    def check(self, record: Any) -> Iterator[FieldProblem]:
        """Yield a problem per negative value."""
        for label, value in _values(record, self.field):
            if isinstance(value, (int, float, Decimal)) and value < 0:
                yield _problem(record, label, value, self.rule, "must not be negative")


@attrs.frozen
class MaxLength:
    """Each string value at ``field`` must be at most ``limit`` characters long.

    Args:
        field: Field path.
        limit: Maximum length.
        rule: Rule name reported.
    """

    field: str
    limit: int
    rule: str = "max_length"

    def check(self, record: Any) -> Iterator[FieldProblem]:
        """Yield a problem per value that is too long."""
        for label, value in _values(record, self.field):
            if isinstance(value, str) and len(value) > self.limit:
                yield _problem(
                    record, label, value, self.rule, f"longer than {self.limit} characters"
                )


@attrs.frozen
class StageRequirements:
    """A record's stage must belong to its pipeline, and the stage's required fields be filled.

    With the default sales pipeline this is "a deal needs an amount before it leaves the first
    stage".

    Args:
        pipelines: Pipelines by id (default: the shipped sales and ticket pipelines).
        rule: Rule name reported for missing fields (unknown pipelines and stages report
            ``"pipeline.unknown"`` / ``"stage.unknown"``).
    """

    pipelines: Mapping[str, Pipeline] = attrs.field(default=DEFAULT_PIPELINES, converter=FrozenMap)
    rule: str = "stage.required_fields"

    def check(self, record: Any) -> Iterator[FieldProblem]:
        """Yield problems for an unknown pipeline or stage, and for each missing field."""
        pipeline_id = getattr(record, "pipeline", None)
        pipeline = self.pipelines.get(pipeline_id) if isinstance(pipeline_id, str) else None
        if pipeline is None:
            yield _problem(
                record,
                "pipeline",
                pipeline_id,
                "pipeline.unknown",
                "unknown pipeline; known: " + ", ".join(sorted(self.pipelines)),
            )
            return
        stage_id = getattr(record, pipeline.stage_field, None)
        if not pipeline.has_stage(stage_id):
            yield _problem(
                record,
                pipeline.stage_field,
                stage_id,
                "stage.unknown",
                f"not a stage of pipeline {pipeline.id!r}; stages: "
                + ", ".join(pipeline.stage_ids),
            )
            return
        first = pipeline.first_stage
        kind = getattr(record, "record_type", "record")
        for field in pipeline.missing_fields(record):
            if field in first.required_fields:
                message = f"a {kind} in stage {stage_id!r} needs {field!r}"
            else:
                message = (
                    f"a {kind} needs {field!r} before it leaves the first stage "
                    f"({first.id!r}); it is in {stage_id!r}"
                )
            yield _problem(record, field, getattr(record, field, None), self.rule, message)


@attrs.frozen
class FunctionRule:
    """Wrap a plain function ``fn(record) -> Iterable[FieldProblem]`` as a rule.

    Args:
        rule: Rule name (for :meth:`ValidationRuleSet.without`).
        fn: The function.
    """

    rule: str
    fn: Callable[[Any], Iterable[FieldProblem]]

    def check(self, record: Any) -> Iterable[FieldProblem]:
        """Return the function's problems."""
        return self.fn(record)


def _rules_tuple(rules: Iterable[ValidationRule]) -> tuple[ValidationRule, ...]:
    return tuple(rules)


@attrs.frozen
class ValidationRuleSet:
    """The rules of one record type.

    Args:
        record_type: The record type the rules apply to (``"contact"`` ...).
        rules: The rules, run in order.
    """

    record_type: str
    rules: tuple[ValidationRule, ...] = attrs.field(default=(), converter=_rules_tuple)

    def validate(self, record: Any) -> list[FieldProblem]:
        """Return every problem of ``record`` (empty when it passes).

        Raises:
            RuleConfigError: If ``record`` is not of this rule set's type.
        """
        record_type = getattr(record, "record_type", None)
        if record_type != self.record_type:
            raise RuleConfigError(
                f"rule set for {self.record_type!r} records applied to a {record_type!r} record"
            )
        problems: list[FieldProblem] = []
        for rule in self.rules:
            problems.extend(rule.check(record))
        return problems

    def with_rules(self, *rules: ValidationRule) -> ValidationRuleSet:
        """Return a copy with ``rules`` appended."""
        return ValidationRuleSet(self.record_type, (*self.rules, *rules))

    def without(self, rule: str) -> ValidationRuleSet:
        """Return a copy without the rules named ``rule``."""
        return ValidationRuleSet(self.record_type, tuple(r for r in self.rules if r.rule != rule))

    def to_dict(self) -> dict[str, Any]:
        """Return ``{"record_type": ..., "rules": [rule dicts]}`` (see
        :func:`validation_rule_to_dict`)."""
        rules = [validation_rule_to_dict(r) for r in self.rules]
        return {"record_type": self.record_type, "rules": rules}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ValidationRuleSet:
        """Build a rule set from :meth:`to_dict` output or hand-written config.

        Raises:
            RuleConfigError: If the record type is missing or a rule is malformed.
        """
        record_type = data.get("record_type") if isinstance(data, Mapping) else None
        if not isinstance(record_type, str) or not record_type:
            raise RuleConfigError(f"a rule set needs a 'record_type': {data!r}")
        rules = data.get("rules", [])
        if not isinstance(rules, (list, tuple)):
            raise RuleConfigError("'rules' must be a list of rule dicts")
        return cls(record_type, tuple(validation_rule_from_dict(r) for r in rules))


_RULE_KINDS: dict[str, type[Any]] = {
    "required": Required,
    "require_any": RequireAny,
    "matches": MatchesPattern,
    "email_format": EmailFormat,
    "domain_format": DomainFormat,
    "phone_format": PhoneFormat,
    "allowed_values": AllowedValues,
    "country_code": CountryCode,
    "currency_code": CurrencyCode,
    "non_negative": NonNegative,
    "max_length": MaxLength,
    "stage_requirements": StageRequirements,
}
def _encode_pipelines(value: Mapping[str, Pipeline]) -> dict[str, Any]:
    return {k: p.to_dict() for k, p in value.items()}


def _decode_pipelines(raw: Any, ctx: DecodeContext) -> Any:
    if not isinstance(raw, Mapping):
        ctx.problem(raw, "validation.pipelines", "expected an object of pipelines by id")
        return SpecCodec.MISSING
    out: dict[str, Pipeline] = {}
    for key, value in raw.items():
        try:
            out[key] = value if isinstance(value, Pipeline) else Pipeline.from_dict(value)
        except (AttributeError, CrmcoreError, ValueError, TypeError) as exc:
            ctx.at(str(key)).problem(value, "validation.pipelines", f"bad pipeline: {exc}")
    return out if len(out) == len(raw) else SpecCodec.MISSING


#: The dict form of every declarative validation rule, dispatched by ``"kind"`` (arguments
#: equal to their defaults are left out, so the dict stays short).
VALIDATION_RULES = SpecCodec("validation", key="kind", error=RuleConfigError.from_problems,
                             noun="validation rule", catch=(TypeError, ValueError, re.error))
for _kind, _cls in _RULE_KINDS.items():
    VALIDATION_RULES.register(_cls, _kind, omit_defaults=True, fields={
        "pipelines": SpecField(encode=_encode_pipelines, decode=_decode_pipelines),
    } if _cls is StageRequirements else None)  # fmt: skip


def validation_rule_to_dict(rule: ValidationRule) -> dict[str, Any]:
    """Return the plain-dict form of a declarative rule (``{"kind": ..., <arguments>}``).

    Default arguments are left out, so the dict stays short and readable.

    Raises:
        RuleConfigError: For rules that are not declarative (e.g. :class:`FunctionRule`).
    """
    if not VALIDATION_RULES.handles(rule):
        raise RuleConfigError(f"{type(rule).__name__} rules cannot be written as data")
    return VALIDATION_RULES.to_dict(rule)


def validation_rule_from_dict(data: Mapping[str, Any]) -> ValidationRule:
    """Build a declarative rule from :func:`validation_rule_to_dict` output (or hand-written
    config).

    Example:
        >>> validation_rule_from_dict({"kind": "allowed_values", "field": "lead_source",
        ...                 "values": ["web", "event"]}).rule
        'allowed_values'

    Raises:
        RuleConfigError: If the kind is unknown or the arguments do not fit it (every problem
            listed in ``problems``).
    """
    rule: ValidationRule = VALIDATION_RULES.from_dict(data, path="rule")
    return rule


DEFAULT_RULES: FrozenMap[str, ValidationRuleSet] = FrozenMap(
    {
        "contact": ValidationRuleSet(
            "contact",
            (
                RequireAny(("first_name", "last_name", "emails", "phones")),
                EmailFormat("emails"),
                CountryCode("country"),
                CountryCode("address.country"),
            ),
        ),
        "account": ValidationRuleSet(
            "account",
            (Required("name"), DomainFormat("domain"), CountryCode("address.country")),
        ),
        "deal": ValidationRuleSet(
            "deal",
            (
                Required("name"),
                CurrencyCode("currency"),
                NonNegative("amount"),
                StageRequirements(),
            ),
        ),
        "ticket": ValidationRuleSet("ticket", (Required("subject"), StageRequirements())),
        "activity": ValidationRuleSet("activity", ()),
        "consent": ValidationRuleSet("consent", ()),
        "user": ValidationRuleSet("user", (EmailFormat("email"),)),
        "team": ValidationRuleSet("team", (Required("name"),)),
    }
)
"""The default rule set of every record type (hosts derive their own with
:meth:`ValidationRuleSet.with_rules` / :meth:`ValidationRuleSet.without`)."""


def _rule_set(
    record: Any, rules: ValidationRuleSet | Mapping[str, ValidationRuleSet] | None
) -> ValidationRuleSet | None:
    if isinstance(rules, ValidationRuleSet):
        return rules
    table = DEFAULT_RULES if rules is None else rules
    return table.get(getattr(record, "record_type", None))  # type: ignore[arg-type]


def validate(
    record: Any, rules: ValidationRuleSet | Mapping[str, ValidationRuleSet] | None = None
) -> list[FieldProblem]:
    """Return every problem ``record`` has under ``rules``.

    Args:
        record: Any model record.
        rules: A :class:`ValidationRuleSet`, a mapping of record type -> rule set (a record type
            without an entry has no rules), or ``None`` for :data:`DEFAULT_RULES`.

    Returns:
        All problems, in rule order (empty when the record passes).

    Raises:
        RuleConfigError: If a single rule set is for another record type.
    """
    rule_set = _rule_set(record, rules)
    return [] if rule_set is None else rule_set.validate(record)


def check(
    record: Any, rules: ValidationRuleSet | Mapping[str, ValidationRuleSet] | None = None
) -> None:
    """Raise if ``record`` has any problem under ``rules`` (see :func:`validate`).

    Raises:
        ValidationError: Carrying every problem.
    """
    problems = validate(record, rules)
    if problems:
        kind = getattr(record, "record_type", "record")
        raise ValidationError(problems, f"{kind} {_rid(record)!r} failed validation")


def validate_many(
    records: Iterable[Any], rules: ValidationRuleSet | Mapping[str, ValidationRuleSet] | None = None
) -> list[FieldProblem]:
    """Validate many records (of any types) and return all their problems, in record order."""
    problems: list[FieldProblem] = []
    for record in records:
        problems.extend(validate(record, rules))
    return problems
