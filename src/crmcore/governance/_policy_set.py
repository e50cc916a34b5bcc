"""Governance policy sets and their dict (JSON / YAML) form, through the one spec codec.

A :class:`PolicySet` bundles what a deployment configures once and keeps in a file next to its
rule files: the roles (grants, denied fields) and owner teams of the permission policy, the
consent policy, the retention policies and the segments. Every part goes through
:class:`~crmcore.model.SpecCodec`: a grant, role, consent policy, retention policy and segment
each have a codec driven by their attrs fields, and reading collects every problem as a
:class:`~crmcore.errors.FieldProblem` with its path in the document
(``policies.roles[0].grants[1].actions``), raised together as one
:class:`~crmcore.errors.PolicyConfigError`.

The document::

    {"format": "crmcore.governance.policies/1",
     "roles": [{"name": "sales", "grants": [{"record_type": "contact", "actions": ["view"],
                                             "masked": ["phone"]}]}],
     "owner_teams": {"u1": ["emea"]},
     "consent": {"merge_rule": "most_restrictive"},
     "retention": [{"record_type": "lead", "after_days": 730, "action": "delete"}],
     "segments": [{"name": "newsletter", "purpose": "marketing", "channel": "email"}]}

Keys left out take their defaults (the consent policy's defaults when ``consent`` is absent).
Conditions (``only_if`` of a retention policy, ``condition`` of a segment) are written in the
condition language's own dict form; a Python predicate has no dict form, so writing one raises
:class:`~crmcore.errors.PolicyConfigError` naming it. Maskers are functions: they are given to
:meth:`PolicySet.permission_policy`, not stored.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

import attrs

from crmcore.conditions import Condition, condition_from_dict
from crmcore.errors import FieldProblem, PolicyConfigError, RuleValidationError
from crmcore.governance._consent import ConsentPolicy
from crmcore.governance._grants import Grant, Role
from crmcore.governance._permissions import PermissionPolicy
from crmcore.governance._retention import RetentionPolicy
from crmcore.governance._segments import Segment
from crmcore.model import DecodeContext, SpecCodec, SpecField

#: The ``format`` of a saved policy set (the number changes only with an incompatible change).
POLICIES_FORMAT = "crmcore.governance.policies/1"

_ERROR = PolicyConfigError.from_problems

GRANTS = SpecCodec("grant", key=None, error=_ERROR)
ROLES = SpecCodec("role", key=None, error=_ERROR)
CONSENT_POLICIES = SpecCodec("consent", key=None, error=_ERROR, noun="consent policy")
RETENTION_POLICIES = SpecCodec("retention", key=None, error=_ERROR, noun="retention policy")
SEGMENTS = SpecCodec("segment", key=None, error=_ERROR)
POLICY_SETS = SpecCodec("policies", key=None, error=_ERROR, noun="policy set")


def _strings(rule: str) -> Callable[[Any, DecodeContext], Any]:
    """A decoder of a list of strings (a tuple results)."""
    return SpecCodec.list_of(SpecCodec.typed(str, rule, "expected a string"), rule=rule)


def _optional(decode: Callable[[Any, DecodeContext], Any]) -> Callable[[Any, DecodeContext], Any]:
    """``None`` stays ``None``; anything else goes through ``decode``."""

    def read(raw: Any, ctx: DecodeContext) -> Any:
        return None if raw is None else decode(raw, ctx)

    return read


def _encode_condition(condition: Condition | None) -> dict[str, Any] | None:
    if condition is None:
        return None
    try:
        return condition.to_dict()
    except RuleValidationError as exc:
        raise PolicyConfigError.from_problems(
            exc.problems, "a Python predicate has no dict form; write the condition in the "
            "condition language to save the policy set",
        ) from None


_CONDITION = SpecCodec.nested(condition_from_dict)

# -- grants and roles ----------------------------------------------------------------------------
GRANTS.register(Grant, fields={
    "actions": SpecField(decode=_strings("grant.actions")),
    "fields": SpecField(decode=_optional(_strings("grant.fields"))),
    "masked": SpecField(decode=_strings("grant.masked")),
    "hidden": SpecField(decode=_strings("grant.hidden")),
    "scope": SpecField(decode=SpecCodec.typed(str, "grant.scope", "expected own, team or all")),
}, omit_defaults=True)  # fmt: skip
ROLES.register(Role, fields={
    "name": SpecField(decode=SpecCodec.typed(str, "role.name", "expected a string")),
    "grants": SpecField(encode=lambda gs: [GRANTS.to_dict(g) for g in gs],
                        decode=SpecCodec.list_of(GRANTS.decode, rule="role.grants")),
    "denied": SpecField(decode=_strings("role.denied"), omit=lambda v: not v),
})  # fmt: skip


# -- consent policy ------------------------------------------------------------------------------
def _string_sets(rule: str, message: str) -> Callable[[Any, DecodeContext], Any]:
    """A decoder of an object of key -> list of strings (a dict of frozensets results)."""
    read = _strings(rule)

    def decode(raw: Any, ctx: DecodeContext) -> Any:
        if not isinstance(raw, Mapping):
            ctx.problem(raw, rule, message)
            return SpecCodec.MISSING
        before = len(ctx.problems)
        out = {str(k): read(v, ctx.at(str(k))) for k, v in raw.items()}
        if len(ctx.problems) > before:
            return SpecCodec.MISSING
        return {k: frozenset(v) for k, v in out.items()}

    return decode


def _decode_pairs(raw: Any, ctx: DecodeContext) -> Any:
    if not isinstance(raw, list):
        ctx.problem(raw, "consent.legitimate_interest", "expected a list of [purpose, channel]")
        return SpecCodec.MISSING
    before = len(ctx.problems)
    out: set[tuple[str, str]] = set()
    for i, item in enumerate(raw):
        if isinstance(item, list) and len(item) == 2 and all(isinstance(x, str) for x in item):
            out.add((item[0], item[1]))
        else:
            ctx.at(f"[{i}]").problem(item, "consent.legitimate_interest",
                                     "expected [purpose, channel]")
    return frozenset(out) if len(ctx.problems) == before else SpecCodec.MISSING


CONSENT_POLICIES.register(ConsentPolicy, fields={
    "allowed_bases": SpecField(encode=lambda m: {k: sorted(v) for k, v in sorted(m.items())},
                               decode=_string_sets("consent.allowed_bases",
                                                  "expected an object of purpose -> bases")),
    "legitimate_interest": SpecField(encode=lambda s: [list(p) for p in sorted(s)],
                                     decode=_decode_pairs),
    "merge_rule": SpecField(decode=SpecCodec.typed(str, "consent.merge_rule",
                                                   "expected most_restrictive or newest_wins")),
    "channels": SpecField(decode=_strings("consent.channels")),
})  # fmt: skip


# -- retention policies and segments -------------------------------------------------------------
RETENTION_POLICIES.register(RetentionPolicy, fields={
    "record_type": SpecField(decode=SpecCodec.typed(str, "retention.record_type",
                                                    "expected a string")),
    "after_days": SpecField(decode=SpecCodec.typed((int, float), "retention.after_days",
                                                   "expected a number of days")),
    "action": SpecField(decode=SpecCodec.typed(str, "retention.action",
                                               "expected delete, anonymise or keep")),
    "only_if": SpecField(encode=_encode_condition, decode=_optional(_CONDITION)),
    "activity_fields": SpecField(decode=_strings("retention.activity_fields")),
    "personal_fields": SpecField(decode=_strings("retention.personal_fields")),
    "name": SpecField(decode=SpecCodec.typed(str, "retention.name", "expected a string")),
}, omit_defaults=True)  # fmt: skip
SEGMENTS.register(Segment, fields={
    "name": SpecField(decode=SpecCodec.typed(str, "segment.name", "expected a string")),
    "purpose": SpecField(decode=SpecCodec.typed(str, "segment.purpose", "expected a string")),
    "channel": SpecField(decode=SpecCodec.typed(str, "segment.channel", "expected a string")),
    "condition": SpecField(encode=_encode_condition, decode=_optional(_CONDITION)),
    "contact_fields": SpecField(decode=_optional(_strings("segment.contact_fields"))),
    "person_field": SpecField(decode=SpecCodec.typed(str, "segment.person_field",
                                                     "expected a string")),
    "third_party": SpecField(decode=SpecCodec.typed(bool, "segment.third_party",
                                                    "expected true or false")),
})  # fmt: skip


def _owner_teams(value: Mapping[str, Iterable[str]] | None) -> Mapping[str, frozenset[str]]:
    return {str(k): frozenset(v) for k, v in sorted((value or {}).items())}


def _check_unique_names(_inst: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    names = [x.name for x in value]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise PolicyConfigError.from_problems(
            [FieldProblem(attribute.name, repeated, f"policies.{attribute.name}.unique",
                          f"{attribute.name} names repeat")])


_Named = TypeVar("_Named", Role, Segment)


def _named(items: tuple[_Named, ...], name: str) -> _Named:
    for item in items:
        if item.name == name:
            return item
    raise KeyError(name)


@attrs.frozen
class PolicySet:
    """A deployment's governance configuration as one value with a file form.

    Args:
        roles: Roles of the permission policy (names unique).
        owner_teams: Owner id -> team ids, for ``team`` scope on records without a team field.
        consent: What counts as consent (defaults: :class:`ConsentPolicy`'s).
        retention: Retention policies, in the order :func:`plan_retention` takes them.
        segments: Audience specs (names unique).

    Example:
        >>> from crmcore.governance import Grant, Role
        >>> policies = PolicySet(roles=[Role("sales", [Grant("contact", {"view"})])])
        >>> data = policies.to_dict()
        >>> data["roles"]
        [{'name': 'sales', 'grants': [{'record_type': 'contact', 'actions': ['view']}]}]
        >>> PolicySet.from_dict(data) == policies
        True
    """

    roles: tuple[Role, ...] = attrs.field(default=(), converter=tuple,
                                          validator=_check_unique_names)
    owner_teams: Mapping[str, frozenset[str]] = attrs.field(factory=dict, converter=_owner_teams)
    consent: ConsentPolicy = attrs.field(factory=ConsentPolicy)
    retention: tuple[RetentionPolicy, ...] = attrs.field(default=(), converter=tuple)
    segments: tuple[Segment, ...] = attrs.field(default=(), converter=tuple,
                                                validator=_check_unique_names)

    def permission_policy(
        self, *, maskers: Mapping[str, Callable[[Any], Any]] | None = None
    ) -> PermissionPolicy:
        """The permission policy of these roles and owner teams (maskers live in code)."""
        return PermissionPolicy(self.roles, owner_teams=self.owner_teams, maskers=maskers)

    def role(self, name: str) -> Role:
        """The role of that name.

        Raises:
            KeyError: If there is none.
        """
        return _named(self.roles, name)

    def segment(self, name: str) -> Segment:
        """The segment of that name.

        Raises:
            KeyError: If there is none.
        """
        return _named(self.segments, name)

    def to_dict(self) -> dict[str, Any]:
        """The JSON / YAML-friendly form, under ``format`` (read back by :meth:`from_dict`).

        Raises:
            PolicyConfigError: If a condition is a Python predicate (it has no dict form).
        """
        return {"format": POLICIES_FORMAT, **POLICY_SETS.to_dict(self)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PolicySet:
        """Read a policy set from :meth:`to_dict`'s form (or a hand-written file of that form).

        Raises:
            PolicyConfigError: Listing every problem (path in the document, value, rule) in
                ``problems``.
        """
        if not isinstance(data, Mapping):
            raise PolicyConfigError.from_problems(
                [FieldProblem("policies", data, "policies.type", "expected an object")],
                "invalid policy set")
        fmt = data.get("format", POLICIES_FORMAT)
        if fmt != POLICIES_FORMAT:
            raise PolicyConfigError.from_problems(
                [FieldProblem("policies.format", fmt, "policies.format",
                              f"expected {POLICIES_FORMAT!r}")], "invalid policy set")
        body = {k: v for k, v in data.items() if k != "format"}
        policies: PolicySet = POLICY_SETS.from_dict(body)
        return policies


POLICY_SETS.register(PolicySet, fields={
    "roles": SpecField(encode=lambda rs: [ROLES.to_dict(r) for r in rs],
                       decode=SpecCodec.list_of(ROLES.decode, rule="policies.roles")),
    "owner_teams": SpecField(encode=lambda m: {k: sorted(v) for k, v in m.items()},
                             decode=_string_sets("policies.owner_teams",
                                                "expected an object of owner id -> team ids"),
                             omit=lambda m: not m),
    "consent": SpecField(encode=CONSENT_POLICIES.to_dict, decode=CONSENT_POLICIES.decode),
    "retention": SpecField(encode=lambda ps: [RETENTION_POLICIES.to_dict(p) for p in ps],
                           decode=SpecCodec.list_of(RETENTION_POLICIES.decode,
                                                    rule="policies.retention")),
    "segments": SpecField(encode=lambda ss: [SEGMENTS.to_dict(s) for s in ss],
                          decode=SpecCodec.list_of(SEGMENTS.decode, rule="policies.segments")),
})  # fmt: skip
