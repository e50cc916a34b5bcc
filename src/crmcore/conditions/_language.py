"""The condition language: nodes, factories, evaluation and the dict form.

Values and their coercion are in ``_values.py``, paths and the :class:`EvalContext` a condition
sees in ``_context.py``.

See :mod:`crmcore.conditions` (the front door) for the language itself.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any, ClassVar

import attrs

from crmcore.conditions._context import (
    EvalContext,
    Related,
    change_pair,
    resolve_path,
    split_path,
)
from crmcore.conditions._values import (
    MISSING,
    align_values,
    check_constant,
    decode_value,
    encode_value,
    is_empty,
    plain_value,
    to_datetime,
    values_equal,
)
from crmcore.errors import FieldProblem, RuleValidationError
from crmcore.model import DecodeContext, SpecCodec, SpecField

__all__ = [
    "COMPARISON_OPS",
    "AllOf",
    "AnyOf",
    "Changed",
    "ChangedFrom",
    "ChangedTo",
    "Compare",
    "Condition",
    "Contains",
    "Empty",
    "In",
    "Not",
    "OlderThan",
    "Predicate",
    "all_",
    "any_",
    "as_condition",
    "changed",
    "changed_from",
    "changed_to",
    "condition_from_dict",
    "contains",
    "empty",
    "eq",
    "evaluate",
    "evaluate_many",
    "ge",
    "gt",
    "in_",
    "le",
    "lt",
    "ne",
    "newer_than",
    "not_",
    "not_empty",
    "not_in",
    "older_than",
    "predicate",
    "referenced_fields",
]

COMPARISON_OPS: tuple[str, ...] = ("eq", "ne", "lt", "le", "gt", "ge")

_OPERATORS: dict[str, Callable[[Any, Any], Any]] = {
    "eq": operator.eq,
    "ne": operator.ne,
    "lt": operator.lt,
    "le": operator.le,
    "gt": operator.gt,
    "ge": operator.ge,
}


# --------------------------------------------------------------------------------------------
# condition values


def _problem(path: str, value: Any, rule: str, message: str, where: str | None) -> FieldProblem:
    return FieldProblem(field=path, value=value, rule=rule, message=message, record=where)


def _check_field(instance: Any, attribute: Any, value: Any) -> None:
    if not isinstance(value, str) or not value or any(not p for p in value.split(".")):
        raise RuleValidationError(
            _problem(
                f"condition.{attribute.name}",
                value,
                "condition.field",
                "a field must be a non-empty dotted path such as 'stage' or 'account.country'",
                None,
            )
        )


def _check_days(instance: Any, attribute: Any, value: Any) -> None:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or value < 0
    ):
        raise RuleValidationError(
            _problem(
                "condition.days", value, "condition.days", "days must be a number >= 0", None
            )
        )


def _const_converter(value: Any) -> Any:
    try:
        return check_constant(value)
    except TypeError as exc:
        raise RuleValidationError(
            _problem("condition.value", value, "condition.value", str(exc), None)
        ) from exc


def _consts_converter(values: Any) -> tuple[Any, ...]:
    if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
        raise RuleValidationError(
            _problem(
                "condition.values", values, "condition.values", "values must be a list", None
            )
        )
    return tuple(_const_converter(v) for v in values)


class _Base:
    """Shared behaviour of condition values."""

    op: ClassVar[str]

    def test(self, ctx: EvalContext) -> bool:  # pragma: no cover - overridden
        raise NotImplementedError

    def to_dict(self) -> dict[str, Any]:  # pragma: no cover - overridden
        raise NotImplementedError

    def __and__(self, other: Condition) -> AllOf:
        return AllOf((self, other))

    def __or__(self, other: Condition) -> AnyOf:
        return AnyOf((self, other))

    def __invert__(self) -> Not:
        return Not(self)  # type: ignore[arg-type]


def _conditions_converter(values: Any) -> tuple[Condition, ...]:
    items = tuple(values)
    for item in items:
        if not isinstance(item, _Base):
            raise RuleValidationError(
                _problem(
                    "condition.conditions",
                    item,
                    "condition.type",
                    "expected a condition value",
                    None,
                )
            )
    return items


def _condition_validator(instance: Any, attribute: Any, value: Any) -> None:
    if not isinstance(value, _Base):
        raise RuleValidationError(
            _problem("condition.condition", value, "condition.type", "expected a condition", None)
        )


@attrs.frozen
class AllOf(_Base):
    """True when every sub-condition is true (true when there are none)."""

    conditions: tuple[Condition, ...] = attrs.field(converter=_conditions_converter)
    op: ClassVar[str] = "all"

    def test(self, ctx: EvalContext) -> bool:
        """Evaluate against a context."""
        return all(c.test(ctx) for c in self.conditions)

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-friendly dict form."""
        return CONDITIONS.to_dict(self)


@attrs.frozen
class AnyOf(_Base):
    """True when at least one sub-condition is true (false when there are none)."""

    conditions: tuple[Condition, ...] = attrs.field(converter=_conditions_converter)
    op: ClassVar[str] = "any"

    def test(self, ctx: EvalContext) -> bool:
        """Evaluate against a context."""
        return any(c.test(ctx) for c in self.conditions)

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-friendly dict form."""
        return CONDITIONS.to_dict(self)


@attrs.frozen
class Not(_Base):
    """True when the sub-condition is false."""

    condition: Condition = attrs.field(validator=_condition_validator)
    op: ClassVar[str] = "not"

    def test(self, ctx: EvalContext) -> bool:
        """Evaluate against a context."""
        return not self.condition.test(ctx)

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-friendly dict form."""
        return CONDITIONS.to_dict(self)


def _check_cmp_op(instance: Any, attribute: Any, value: Any) -> None:
    if value not in COMPARISON_OPS:
        raise RuleValidationError(
            _problem(
                "condition.op",
                value,
                "condition.op",
                f"comparison must be one of {', '.join(COMPARISON_OPS)}",
                None,
            )
        )


@attrs.frozen
class Compare(_Base):
    """Compare the value at ``field`` with a constant: ``eq ne lt le gt ge``."""

    field: str = attrs.field(validator=_check_field)
    cmp: str = attrs.field(validator=_check_cmp_op)
    value: Any = attrs.field(converter=_const_converter)
    _parts: tuple[str, ...] = attrs.field(init=False, eq=False, repr=False)
    _head: str | None = attrs.field(init=False, eq=False, repr=False)
    _fn: Callable[[Any, Any], Any] = attrs.field(init=False, eq=False, repr=False)
    _fast: type | None = attrs.field(init=False, eq=False, repr=False)
    op: ClassVar[str] = "compare"

    def __attrs_post_init__(self) -> None:
        parts = split_path(self.field)
        object.__setattr__(self, "_parts", parts)
        object.__setattr__(self, "_head", parts[0] if len(parts) == 1 else None)
        object.__setattr__(self, "_fn", _OPERATORS[self.cmp])
        kind = type(self.value)
        object.__setattr__(self, "_fast", kind if kind in (int, float, str) else None)

    def test(self, ctx: EvalContext) -> bool:
        """Evaluate against a context."""
        head = self._head
        if head is not None:
            value = ctx.record.get(head, MISSING)
            if value is MISSING:
                value = resolve_path(self._parts, ctx.record, ctx.related)
        else:
            value = resolve_path(self._parts, ctx.record, ctx.related)
        if self._fast is not None and type(value) is self._fast:  # same plain type: compare
            return bool(self._fn(value, self.value))
        cmp = self.cmp
        if cmp == "eq":
            return values_equal(value, self.value)
        if cmp == "ne":
            return not values_equal(value, self.value)
        if value is None or self.value is None:
            return False
        a, b = align_values(value, self.value)
        try:
            return bool(self._fn(a, b))
        except TypeError:
            return False

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-friendly dict form."""
        return CONDITIONS.to_dict(self)


@attrs.frozen
class In(_Base):
    """True when the value at ``field`` equals one of ``values`` (``negate`` for ``not_in``)."""

    field: str = attrs.field(validator=_check_field)
    values: tuple[Any, ...] = attrs.field(converter=_consts_converter)
    negate: bool = False
    _parts: tuple[str, ...] = attrs.field(init=False, eq=False, repr=False)
    _fast: frozenset[Any] | None = attrs.field(init=False, eq=False, repr=False)
    op: ClassVar[str] = "in"

    def __attrs_post_init__(self) -> None:
        object.__setattr__(self, "_parts", split_path(self.field))
        fast: frozenset[Any] | None = None
        if all(isinstance(v, str) for v in self.values):
            fast = frozenset(self.values)
        object.__setattr__(self, "_fast", fast)

    def test(self, ctx: EvalContext) -> bool:
        """Evaluate against a context."""
        value = plain_value(resolve_path(self._parts, ctx.record, ctx.related))
        if self._fast is not None and (value is None or isinstance(value, str)):
            found = value in self._fast
        else:
            found = any(values_equal(value, v) for v in self.values)
        return found != self.negate

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-friendly dict form."""
        return CONDITIONS.to_dict(self)


@attrs.frozen
class Contains(_Base):
    """True when a text field contains ``value`` as a substring, or a collection holds it."""

    field: str = attrs.field(validator=_check_field)
    value: Any = attrs.field(converter=_const_converter)
    _parts: tuple[str, ...] = attrs.field(init=False, eq=False, repr=False)
    op: ClassVar[str] = "contains"

    def __attrs_post_init__(self) -> None:
        object.__setattr__(self, "_parts", split_path(self.field))

    def test(self, ctx: EvalContext) -> bool:
        """Evaluate against a context."""
        value = resolve_path(self._parts, ctx.record, ctx.related)
        if value is None:
            return False
        if isinstance(value, str):
            return isinstance(self.value, str) and self.value in value
        if isinstance(value, Mapping):
            return self.value in value
        if isinstance(value, (list, tuple, set, frozenset)):
            return any(values_equal(v, self.value) for v in value)
        return False

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-friendly dict form."""
        return CONDITIONS.to_dict(self)


@attrs.frozen
class Empty(_Base):
    """True when the value at ``field`` is empty (``negate`` for ``not_empty``)."""

    field: str = attrs.field(validator=_check_field)
    negate: bool = False
    _parts: tuple[str, ...] = attrs.field(init=False, eq=False, repr=False)
    op: ClassVar[str] = "empty"

    def __attrs_post_init__(self) -> None:
        object.__setattr__(self, "_parts", split_path(self.field))

    def test(self, ctx: EvalContext) -> bool:
        """Evaluate against a context."""
        return is_empty(resolve_path(self._parts, ctx.record, ctx.related)) != self.negate

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-friendly dict form."""
        return CONDITIONS.to_dict(self)


@attrs.frozen
class Changed(_Base):
    """True when the change being processed altered ``field``."""

    field: str = attrs.field(validator=_check_field)
    op: ClassVar[str] = "changed"

    def test(self, ctx: EvalContext) -> bool:
        """Evaluate against a context."""
        return change_pair(ctx.change, self.field) is not None

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-friendly dict form."""
        return CONDITIONS.to_dict(self)


@attrs.frozen
class ChangedTo(_Base):
    """True when the change altered ``field`` and its new value equals ``value``."""

    field: str = attrs.field(validator=_check_field)
    value: Any = attrs.field(converter=_const_converter)
    op: ClassVar[str] = "changed_to"

    def test(self, ctx: EvalContext) -> bool:
        """Evaluate against a context."""
        pair = change_pair(ctx.change, self.field)
        return pair is not None and values_equal(pair[1], self.value)

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-friendly dict form."""
        return CONDITIONS.to_dict(self)


@attrs.frozen
class ChangedFrom(_Base):
    """True when the change altered ``field`` and its old value equals ``value``."""

    field: str = attrs.field(validator=_check_field)
    value: Any = attrs.field(converter=_const_converter)
    op: ClassVar[str] = "changed_from"

    def test(self, ctx: EvalContext) -> bool:
        """Evaluate against a context."""
        pair = change_pair(ctx.change, self.field)
        return pair is not None and values_equal(pair[0], self.value)

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-friendly dict form."""
        return CONDITIONS.to_dict(self)


@attrs.frozen
class OlderThan(_Base):
    """True when the date at ``field`` is more than ``days`` before ``now`` (``newer`` flips it).

    An empty or unparseable date is neither older nor newer.
    """

    field: str = attrs.field(validator=_check_field)
    days: float = attrs.field(validator=_check_days)
    newer: bool = False
    _parts: tuple[str, ...] = attrs.field(init=False, eq=False, repr=False)
    op: ClassVar[str] = "older_than"

    def __attrs_post_init__(self) -> None:
        object.__setattr__(self, "_parts", split_path(self.field))

    def test(self, ctx: EvalContext) -> bool:
        """Evaluate against a context."""
        when = to_datetime(plain_value(resolve_path(self._parts, ctx.record, ctx.related)))
        if when is None:
            return False
        limit = ctx.now - timedelta(days=self.days)
        return when > limit if self.newer else when < limit

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-friendly dict form."""
        return CONDITIONS.to_dict(self)


@attrs.frozen
class Predicate(_Base):
    """A Python callable ``fn(ctx: EvalContext) -> bool`` used as a condition (code-only rules)."""

    fn: Callable[[EvalContext], bool] = attrs.field(eq=True)
    name: str = ""
    op: ClassVar[str] = "predicate"

    def test(self, ctx: EvalContext) -> bool:
        """Evaluate against a context."""
        return bool(self.fn(ctx))

    def to_dict(self) -> dict[str, Any]:
        """Predicates live in code only.

        Raises:
            RuleValidationError: Always.
        """
        label = self.name or getattr(self.fn, "__name__", repr(self.fn))
        raise RuleValidationError(
            _problem(
                "condition",
                label,
                "condition.serialisable",
                "a Python predicate cannot be written to a rule file; use declarative conditions",
                None,
            )
        )


Condition = (
    AllOf | AnyOf | Not | Compare | In | Contains | Empty | Changed | ChangedTo | ChangedFrom
    | OlderThan | Predicate
)


# --------------------------------------------------------------------------------------------
# builders


def all_(*conditions: Condition | Callable[[EvalContext], bool]) -> AllOf:
    """All of the conditions (callables are wrapped as predicates)."""
    return AllOf(tuple(as_condition(c) for c in conditions))


def any_(*conditions: Condition | Callable[[EvalContext], bool]) -> AnyOf:
    """Any of the conditions (callables are wrapped as predicates)."""
    return AnyOf(tuple(as_condition(c) for c in conditions))


def not_(condition: Condition | Callable[[EvalContext], bool]) -> Not:
    """The negation of a condition."""
    return Not(as_condition(condition))


def eq(field: str, value: Any) -> Compare:
    """``field == value``."""
    return Compare(field, "eq", value)


def ne(field: str, value: Any) -> Compare:
    """``field != value``."""
    return Compare(field, "ne", value)


def lt(field: str, value: Any) -> Compare:
    """``field < value``."""
    return Compare(field, "lt", value)


def le(field: str, value: Any) -> Compare:
    """``field <= value``."""
    return Compare(field, "le", value)


def gt(field: str, value: Any) -> Compare:
    """``field > value``."""
    return Compare(field, "gt", value)


def ge(field: str, value: Any) -> Compare:
    """``field >= value``."""
    return Compare(field, "ge", value)


def in_(field: str, values: Iterable[Any]) -> In:
    """``field`` is one of ``values``."""
    return In(field, tuple(values))


def not_in(field: str, values: Iterable[Any]) -> In:
    """``field`` is none of ``values``."""
    return In(field, tuple(values), negate=True)


def contains(field: str, value: Any) -> Contains:
    """``field`` (text or collection) contains ``value``."""
    return Contains(field, value)


def empty(field: str) -> Empty:
    """``field`` is missing, ``None``, blank text or an empty collection."""
    return Empty(field)


def not_empty(field: str) -> Empty:
    """``field`` has a value."""
    return Empty(field, negate=True)


def changed(field: str) -> Changed:
    """The change altered ``field``."""
    return Changed(field)


def changed_to(field: str, value: Any) -> ChangedTo:
    """The change set ``field`` to ``value``."""
    return ChangedTo(field, value)


def changed_from(field: str, value: Any) -> ChangedFrom:
    """The change moved ``field`` away from ``value``."""
    return ChangedFrom(field, value)


def older_than(field: str, days: float) -> OlderThan:
    """The date at ``field`` is more than ``days`` days before ``now``."""
    return OlderThan(field, days)


def newer_than(field: str, days: float) -> OlderThan:
    """The date at ``field`` is less than ``days`` days before ``now``."""
    return OlderThan(field, days, newer=True)


def predicate(fn: Callable[[EvalContext], bool], name: str = "") -> Predicate:
    """Wrap a Python callable ``fn(ctx) -> bool`` as a condition."""
    return Predicate(fn, name or getattr(fn, "__name__", ""))


def as_condition(value: Condition | Callable[[EvalContext], bool] | None) -> Condition:
    """Return a condition: conditions as they are, callables wrapped, ``None`` as always-true.

    Raises:
        RuleValidationError: If the value is neither.
    """
    if value is None:
        return AllOf(())
    if isinstance(value, _Base):
        return value
    if callable(value):
        return predicate(value)
    raise RuleValidationError(
        _problem("condition", value, "condition.type", "expected a condition or callable", None)
    )


# --------------------------------------------------------------------------------------------
# evaluation


def evaluate(
    condition: Condition | Callable[[EvalContext], bool],
    record: Mapping[str, Any],
    *,
    change: Mapping[str, Any] | None = None,
    related: Related | None = None,
    now: datetime | None = None,
) -> bool:
    """Evaluate a condition against a record.

    Args:
        condition: The condition (or a Python callable taking an :class:`EvalContext`).
        record: The record, a mapping ``field -> value``.
        change: ``field -> (before, after)`` for the change being processed (or objects with
            ``before`` / ``after``); ``None`` when there is no change (``changed*`` are false).
        related: Related records, a mapping ``name -> record`` or a callable ``name -> record``.
        now: The host's clock; defaults to the current UTC time.

    Returns:
        Whether the record meets the condition.

    Example:
        >>> evaluate(changed_to("stage", "won"), {"stage": "won"}, change={"stage": ("new", "won")})
        True
    """
    ctx = EvalContext(record, change, related, now)
    return as_condition(condition).test(ctx)


def evaluate_many(
    condition: Condition | Callable[[EvalContext], bool],
    records: Iterable[Mapping[str, Any]],
    *,
    related: Callable[[Mapping[str, Any], str], Any] | None = None,
    now: datetime | None = None,
) -> list[bool]:
    """Evaluate one condition over many records (e.g. a rule-based audience / segment).

    Args:
        condition: The condition.
        records: The records.
        related: ``fn(record, name) -> related record`` for dotted paths into related records.
        now: The host's clock (one instant for the whole batch).

    Returns:
        One boolean per record, in order.

    Example:
        >>> evaluate_many(gt("amount", 10), [{"amount": 5}, {"amount": 50}])
        [False, True]
    """
    cond = as_condition(condition)
    ctx = EvalContext({}, None, None, now)
    out: list[bool] = []
    for record in records:
        ctx.record = record
        if related is not None:
            ctx.related = _bind(related, record)
        out.append(cond.test(ctx))
    return out


def _bind(
    related: Callable[[Mapping[str, Any], str], Any], record: Mapping[str, Any]
) -> Callable[[str], Any]:
    return lambda name: related(record, name)


def referenced_fields(condition: Condition) -> frozenset[str] | None:
    """Return the top-level record fields a condition reads, or ``None`` if unknown (predicates).

    Used by the engine to skip rules whose fields an update did not touch.
    """
    if isinstance(condition, (AllOf, AnyOf)):
        out: set[str] = set()
        for c in condition.conditions:
            sub = referenced_fields(c)
            if sub is None:
                return None
            out |= sub
        return frozenset(out)
    if isinstance(condition, Not):
        return referenced_fields(condition.condition)
    if isinstance(condition, Predicate):
        return None
    return frozenset({condition.field.split(".", 1)[0]})


# --------------------------------------------------------------------------------------------
# dict form: one codec, dispatched by "op"


def _decode_constant(raw: Any, ctx: DecodeContext) -> Any:
    try:
        return decode_value(raw)
    except TypeError as exc:
        ctx.problem(raw, "condition.value", str(exc))
        return SpecCodec.MISSING


def _decode_constants(raw: Any, ctx: DecodeContext) -> Any:
    if not isinstance(raw, list):
        ctx.problem(raw, "condition.values", "expected a list")
        return SpecCodec.MISSING
    return _decode_constant(raw, ctx)


def _encode_constants(values: tuple[Any, ...]) -> list[Any]:
    return [encode_value(v) for v in values]


def _encode_conditions(values: tuple[Condition, ...]) -> list[dict[str, Any]]:
    return [c.to_dict() for c in values]


def _encode_condition(value: Condition) -> dict[str, Any]:
    return value.to_dict()


#: The dict form of every declarative condition, dispatched by ``"op"`` (predicates live in
#: code only).
CONDITIONS = SpecCodec("condition", key="op", error=RuleValidationError)
_VALUE = SpecField(encode=encode_value, decode=_decode_constant)
_VALUES = SpecField(encode=_encode_constants, decode=_decode_constants)
for _cls, _tag in ((AllOf, "all"), (AnyOf, "any")):
    CONDITIONS.register(_cls, _tag, fields={"conditions": SpecField(
        encode=_encode_conditions, path=_tag,
        decode=SpecCodec.list_of(CONDITIONS.decode, rule="condition.type"),
    )})  # fmt: skip
CONDITIONS.register(Not, "not", fields={"condition": SpecField(
    encode=_encode_condition, decode=CONDITIONS.decode, path="not")})  # fmt: skip
CONDITIONS.register(Compare, COMPARISON_OPS, tag_field="cmp", fields={"value": _VALUE})
CONDITIONS.register(In, {"in": {"negate": False}, "not_in": {"negate": True}},
                    fields={"values": _VALUES})  # fmt: skip
CONDITIONS.register(Contains, "contains", fields={"value": _VALUE})
CONDITIONS.register(Empty, {"empty": {"negate": False}, "not_empty": {"negate": True}})
CONDITIONS.register(Changed, "changed")
CONDITIONS.register(ChangedTo, "changed_to", fields={"value": _VALUE})
CONDITIONS.register(ChangedFrom, "changed_from", fields={"value": _VALUE})
CONDITIONS.register(OlderThan, {"older_than": {"newer": False}, "newer_than": {"newer": True}})


def condition_from_dict(
    data: Any, *, rule: str | None = None, path: str = "condition"
) -> Condition:
    """Build a condition from its dict form, validating every part.

    Args:
        data: The dict form (as written by ``Condition.to_dict``).
        rule: Name of the rule the condition belongs to, quoted in errors.
        path: Where in the rule the condition sits, quoted in errors.

    Returns:
        The condition.

    Raises:
        RuleValidationError: Listing every problem (each names the rule and the field path).
    """
    condition: Condition = CONDITIONS.from_dict(data, record=rule, path=path)
    return condition


