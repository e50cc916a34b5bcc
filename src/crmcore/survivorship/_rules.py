"""Survivorship rules: which policy decides each field, and the rule set of a merge.

A :class:`FieldRule` chains policies (:mod:`._policies`): the main policy, fallback policies
tried in turn when the main one yields nothing (no eligible candidate), then tie-breakers applied
while more than one distinct value is left, then the fixed final tie-break (source order, then
record id) so the winner never depends on input order; a validator and a comparison key per
field (a normaliser name or a :class:`RegexValidator`). :class:`FieldGroup` makes fields survive
together. :class:`SurvivorshipRules` maps field names to rules, with a default rule for the
others.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import attrs
import numpy as np

from crmcore.errors import SurvivorshipError
from crmcore.normalize import get_normalizer
from crmcore.survivorship._policies import (
    GROUP_SEPARATOR,
    Aggregate,
    FunctionPolicy,
    MostComplete,
    MostFrequent,
    MostRecent,
    Policy,
    ScoringPolicy,
)
from crmcore.survivorship._records import default_key


def as_policy(value: Any) -> Policy | Aggregate:
    if isinstance(value, (Aggregate, ScoringPolicy, FunctionPolicy)):
        return value
    if isinstance(value, Policy):
        return value
    if callable(value):
        return FunctionPolicy(value)
    raise SurvivorshipError(f"not a survivorship policy: {value!r}")


def as_policies(values: Iterable[Any]) -> tuple[Policy, ...]:
    out: list[Policy] = []
    for v in values:
        p = as_policy(v)
        if isinstance(p, Aggregate):
            raise SurvivorshipError("Aggregate cannot be a tie-breaker or a fallback")
        out.append(p)
    return tuple(out)


Validator = Callable[[Any], Any]


@attrs.frozen
class RegexValidator:
    """A validator accepting text that fully matches a regular expression.

    Calling it checks one value; :meth:`many` checks many values in one regex scan (the bulk
    path uses it), with the same answers.

    Args:
        pattern: The regular expression (matched against the whole value).
        ignore_case: Match case-insensitively.

    Example:
        >>> v = RegexValidator(r"[A-Z]{2}")
        >>> v("FR"), v("France"), v.many(["FR", None, "fr"]).tolist()
        (True, False, [True, False, False])
    """

    pattern: str
    ignore_case: bool = False
    _compiled: re.Pattern[str] = attrs.field(init=False, repr=False, eq=False)
    _scanner: re.Pattern[str] = attrs.field(init=False, repr=False, eq=False)

    def __attrs_post_init__(self) -> None:
        flags = re.IGNORECASE if self.ignore_case else 0
        try:
            compiled = re.compile(self.pattern, flags)
            scanner = re.compile(f"^(?:{self.pattern})$", flags | re.MULTILINE)
        except re.error as exc:
            raise SurvivorshipError(f"invalid pattern {self.pattern!r}: {exc}") from exc
        object.__setattr__(self, "_compiled", compiled)
        object.__setattr__(self, "_scanner", scanner)

    @property
    def __name__(self) -> str:
        """Name used in rejection reasons."""
        return f"pattern {self.pattern!r}"

    def __call__(self, value: Any) -> bool:
        """True when ``value`` is text fully matching the pattern."""
        return isinstance(value, str) and self._compiled.fullmatch(value) is not None

    def many(self, values: Sequence[Any]) -> np.ndarray[Any, np.dtype[np.bool_]]:
        """Check many values at once: one scan over the joined text finds the matches; values it
        does not find are checked one by one (so the answers equal calling the validator)."""
        if len(values) > 2_000:
            from crmcore.io._arrow import fullmatch_many

            fast = fullmatch_many(self.pattern, self.ignore_case, values, self)
            if fast is not None:
                return fast
        texts = [v for v in values if isinstance(v, str) and "\n" not in v]
        joined = "\n".join(texts)
        if self._scanner.groups == 0:
            found = set(self._scanner.findall(joined))
        else:
            found = {m.group(0) for m in self._scanner.finditer(joined)}
        found = {f for f in found if "\n" not in f}
        return np.array(
            [(isinstance(v, str) and v in found) or self(v) for v in values], dtype=bool
        )


def _resolve_normalizer(name: str) -> Callable[..., Any]:
    try:
        fn: Callable[..., Any] = get_normalizer(name)
    except (LookupError, ValueError) as exc:
        raise SurvivorshipError(f"unknown normalizer {name!r}: {exc}") from exc
    return fn


@attrs.frozen
class FieldRule:
    """How one field survives: policy, fallbacks, tie-breakers, validation and equality key.

    Args:
        policy: The main policy (a :class:`Policy`, an :class:`Aggregate`, or a plain function,
            which is wrapped in :class:`FunctionPolicy`).
        tie_breakers: Policies applied in turn while more than one distinct value is left.
        fallbacks: Policies tried in turn when the main policy yields nothing.
        validate: Only valid values can win: a callable returning truthy for valid values, or
            the name of a :mod:`crmcore.normalize` normalizer (valid when it returns a value).
        key: Equality key for frequency and conflicts: a callable or a normalizer name (falling
            back to the default key when the normalizer returns None). Default: text
            case-folded with whitespace collapsed.

    Example:
        >>> rule = FieldRule(SourcePriority(("crm", "erp")), tie_breakers=(MostRecent(),))
        >>> rule.policy.name
        'source_priority'
    """

    policy: Policy | Aggregate = attrs.field(converter=as_policy)
    tie_breakers: tuple[Policy, ...] = attrs.field(default=(), converter=as_policies)
    fallbacks: tuple[Policy, ...] = attrs.field(default=(), converter=as_policies)
    validate: str | Validator | None = None
    key: str | Callable[[Any], Any] | None = None

    def __attrs_post_init__(self) -> None:
        if isinstance(self.policy, Aggregate) and (self.tie_breakers or self.fallbacks):
            raise SurvivorshipError("an Aggregate rule takes no tie-breakers or fallbacks")
        for spec in (self.validate, self.key):
            if spec is not None and not isinstance(spec, str) and not callable(spec):
                raise SurvivorshipError(f"validate / key must be a name or a callable: {spec!r}")

    @property
    def policies(self) -> tuple[Policy, ...]:
        """The main policy followed by the fallbacks (empty for an aggregate)."""
        if isinstance(self.policy, Aggregate):
            return ()
        return (self.policy, *self.fallbacks)

    @property
    def vectorised(self) -> bool:
        """True when every policy of the rule scores columns (the bulk fast path)."""
        return all(isinstance(p, ScoringPolicy) for p in (*self.policies, *self.tie_breakers))

    def validator(self) -> Callable[[Any], str | None]:
        """Return a function giving None for a valid value, else the reason it is invalid."""
        spec = self.validate
        if spec is None:
            return lambda _v: None
        fn = _resolve_normalizer(spec) if isinstance(spec, str) else spec
        rule = spec if isinstance(spec, str) else str(getattr(spec, "__name__", "validate"))

        def check(value: Any) -> str | None:
            try:
                ok = fn(value)
            except Exception as exc:  # noqa: BLE001 - a failing validator rejects the value
                return f"{rule}: {type(exc).__name__}: {exc}"
            if isinstance(spec, str):
                return None if ok is not None else f"{rule}: not a valid value"
            return None if ok else f"{rule}: not a valid value"

        return check

    def key_function(self) -> Callable[[Any], Any]:
        """Return the equality-key function of the field."""
        spec = self.key
        if spec is None:
            return default_key
        fn = _resolve_normalizer(spec) if isinstance(spec, str) else spec
        if isinstance(spec, str):

            def keyed(value: Any) -> Any:
                try:
                    k = fn(value)
                except Exception:  # noqa: BLE001 - a failing key function keeps the default
                    k = None
                return default_key(value) if k is None else default_key(k)

            return keyed
        return lambda value: default_key(fn(value))


def group_key(value: Any) -> Any:
    """Equality key of a field group's value: each part's default key, joined by NUL (text
    whose default key is itself, so the bulk path keys it fast)."""
    if not isinstance(value, str):
        return default_key(value)
    return "\x00".join(" ".join(p.split()).casefold() for p in value.split(GROUP_SEPARATOR))


def _group_rule() -> FieldRule:
    return FieldRule(
        MostComplete(), tie_breakers=(MostRecent(), MostFrequent()), key=group_key
    )


def _field_names(value: Iterable[str]) -> tuple[str, ...]:
    names = tuple(str(v) for v in value)
    if len(names) < 2 or len(set(names)) != len(names):
        raise SurvivorshipError(f"a field group needs two or more distinct fields, not {names}")
    return names


@attrs.frozen
class FieldGroup:
    """Fields that survive together: all their values come from the one record that wins the
    group (an address never mixes a street of one source with a postcode of another).

    Each record's group value is its group fields' values (each checked by its field's
    validation; invalid ones count as missing); the group's rule picks the winning record
    (default: most complete, then most recent, then most frequent), and every field of the
    group takes that record's value, missing ones included. Lineage names the group in the
    policy (``address:most_complete``). A group applies where two or more of its fields are
    present; a group of one field is that field, under its own rule.

    Args:
        name: Group name (recorded in lineage).
        fields: The fields, in order.
        rule: How the winning record is chosen.

    Example:
        >>> FieldGroup("address", ("street", "city", "postcode")).rule.policy.name
        'most_complete'
    """

    name: str
    fields: tuple[str, ...] = attrs.field(converter=_field_names)
    rule: FieldRule = attrs.field(factory=_group_rule)


def _default_rule() -> FieldRule:
    return FieldRule(MostRecent(), tie_breakers=(MostFrequent(),))


def _rules_map(value: Mapping[str, FieldRule]) -> tuple[tuple[str, FieldRule], ...]:
    items = tuple(sorted(dict(value).items()))
    for name, rule in items:
        if not isinstance(rule, FieldRule):
            raise SurvivorshipError(f"rule for field {name!r} is not a FieldRule: {rule!r}")
    return items


def _groups(value: Iterable[FieldGroup]) -> tuple[FieldGroup, ...]:
    return tuple(value)


def _names(value: Iterable[str]) -> frozenset[str]:
    return frozenset(str(v) for v in value)


@attrs.frozen
class SurvivorshipRules:
    """Field rules for a record type.

    Args:
        fields: Field name to :class:`FieldRule`.
        default: Rule for fields not listed (most recent, then most frequent).
        source_priority: Global source ranking, most trusted first: used by
            :class:`SourcePriority` / :class:`FirstNonNull` without their own list, and by the
            final tie-break (source order, then record id).
        ignore: Fields never carried into golden records (ids, source system).
        groups: Fields that survive together (:class:`FieldGroup`); a field is in one group
            at most.

    Example:
        >>> rules = SurvivorshipRules({"title": FieldRule(Longest())}, source_priority=("crm",))
        >>> rules.rule_for("title").policy.name, rules.rule_for("city").policy.name
        ('longest', 'most_recent')
    """

    fields: tuple[tuple[str, FieldRule], ...] = attrs.field(factory=tuple, converter=_rules_map)
    default: FieldRule = attrs.field(factory=_default_rule)
    source_priority: tuple[str, ...] = attrs.field(default=(), converter=tuple)
    ignore: frozenset[str] = attrs.field(
        default=frozenset({"record_id", "source_system"}), converter=_names
    )
    groups: tuple[FieldGroup, ...] = attrs.field(default=(), converter=_groups)

    def __attrs_post_init__(self) -> None:
        seen: dict[str, str] = {}
        for group in self.groups:
            if not isinstance(group, FieldGroup):
                raise SurvivorshipError(f"not a FieldGroup: {group!r}")
            for f in group.fields:
                if f in seen:
                    raise SurvivorshipError(
                        f"field {f!r} is in groups {seen[f]!r} and {group.name!r}"
                    )
                seen[f] = group.name

    def rule_for(self, field: str) -> FieldRule:
        """Return the rule of ``field`` (the default rule when it has none)."""
        return dict(self.fields).get(field, self.default)

    def with_fields(self, **rules: FieldRule) -> SurvivorshipRules:
        """Return a copy with some field rules added or replaced."""
        return attrs.evolve(self, fields={**dict(self.fields), **rules})

    def to_dict(self) -> dict[str, Any]:
        """The JSON / YAML-friendly form, under ``format`` (read back by :meth:`from_dict`).

        Raises:
            SurvivorshipError: If a policy, validator or key is a plain function (it has no
                dict form: use a normaliser name or a :class:`RegexValidator`).

        Example:
            >>> rules = SurvivorshipRules({"title": FieldRule(Longest())}, ignore=("id",))
            >>> rules.to_dict()["fields"]
            {'title': {'policy': {'name': 'longest'}}}
            >>> SurvivorshipRules.from_dict(rules.to_dict()) == rules
            True
        """
        from crmcore.survivorship._spec import rules_to_dict

        return rules_to_dict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SurvivorshipRules:
        """Rebuild rules from :meth:`to_dict` (or a hand-written file of that form).

        Raises:
            SurvivorshipError: Listing every problem (path in the document, value, rule) in
                ``problems``.
        """
        from crmcore.survivorship._spec import rules_from_dict

        return rules_from_dict(data)
