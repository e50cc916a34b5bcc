"""The condition language: nodes, factories, dict form, evaluation, value coercion.

See :mod:`crmcore.conditions` (the front door) for the language itself.
"""

from __future__ import annotations

import enum
import math
import operator
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any, ClassVar

import attrs

from crmcore.errors import FieldProblem, RuleValidationError
from crmcore.model import DecodeContext, SpecCodec, SpecField, parse_datetime

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
    "EvalContext",
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
    "decode_value",
    "empty",
    "encode_value",
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
    "resolve_path",
    "to_datetime",
]

COMPARISON_OPS: tuple[str, ...] = ("eq", "ne", "lt", "le", "gt", "ge")

_MISSING: Any = object()
_OPERATORS: dict[str, Callable[[Any, Any], Any]] = {
    "eq": operator.eq,
    "ne": operator.ne,
    "lt": operator.lt,
    "le": operator.le,
    "gt": operator.gt,
    "ge": operator.ge,
}


# --------------------------------------------------------------------------------------------
# values: JSON encoding and coercion


def encode_value(value: Any) -> Any:
    """Return the JSON-friendly form of a rule constant (dates become ``{"$date": iso}``).

    Args:
        value: ``None``, bool, int, float, str, date, datetime, or a list / tuple of those.

    Returns:
        The encoded value.

    Raises:
        TypeError: If the value cannot be written to a rule file.
    """
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise TypeError(f"non-finite number {value!r} cannot be written to a rule file")
        return value
    if isinstance(value, datetime):
        return {"$datetime": value.isoformat()}
    if isinstance(value, date):
        return {"$date": value.isoformat()}
    if isinstance(value, enum.Enum):
        return encode_value(value.value)
    if isinstance(value, (list, tuple)):
        return [encode_value(v) for v in value]
    raise TypeError(f"value {value!r} of type {type(value).__name__} cannot be written to a rule")


def decode_value(value: Any) -> Any:
    """Invert :func:`encode_value` (lists become tuples).

    Args:
        value: A JSON-decoded value.

    Returns:
        The rule constant.

    Raises:
        TypeError: If the value is not a valid encoded constant.
    """
    if isinstance(value, dict):
        if set(value) == {"$date"} and isinstance(value["$date"], str):
            return date.fromisoformat(value["$date"])
        if set(value) == {"$datetime"} and isinstance(value["$datetime"], str):
            return datetime.fromisoformat(value["$datetime"])
        raise TypeError(f"unknown encoded value {value!r}")
    if isinstance(value, list):
        return tuple(decode_value(v) for v in value)
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"value {value!r} of type {type(value).__name__} is not a rule constant")


def _freeze(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_freeze(v) for v in value)
    return value


def _check_constant(value: Any) -> Any:
    value = _freeze(value)
    encode_value(value)  # raises TypeError
    return value


def to_datetime(value: Any) -> datetime | None:
    """Coerce a date, datetime, ISO-8601 string or epoch seconds to an aware datetime.

    Naive values are taken as UTC. Strings may carry the IANA zone suffix the domain model
    writes for ``ZoneInfo`` datetimes (``"2024-05-01T09:30:00+02:00[Europe/Paris]"``).

    Args:
        value: The value to coerce.

    Returns:
        The datetime, or ``None`` when the value is empty or not a date.
    """
    if value is None:
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        # "...+02:00[Europe/Paris]" comes from a model record's to_dict (a ZoneInfo datetime)
        parse = parse_datetime if text.endswith("]") else datetime.fromisoformat
        try:
            parsed = parse(text)
        except ValueError:  # SerializationError is a ValueError too
            return None
        return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return datetime.fromtimestamp(value, tz=UTC)
    return None


def _plain(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    return value


def _align(a: Any, b: Any) -> tuple[Any, Any]:
    """Bring a record value ``a`` and a rule constant ``b`` to comparable types."""
    a = _plain(a)
    if type(a) is type(b):
        return a, b
    if isinstance(a, date) or isinstance(b, date):
        da, db = to_datetime(a), to_datetime(b)
        if da is not None and db is not None:
            return da, db
    return a, b


def _equal(a: Any, b: Any) -> bool:
    a, b = _align(a, b)
    try:
        return bool(a == b)
    except TypeError:  # pragma: no cover - exotic __eq__
        return False


def _is_empty(value: Any) -> bool:
    if value is None or value is _MISSING:
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, (list, tuple, set, frozenset, dict, Mapping)):
        return len(value) == 0
    return False


# --------------------------------------------------------------------------------------------
# paths and context


def _split(path: str) -> tuple[str, ...]:
    return tuple(path.split("."))


Related = Mapping[str, Any] | Callable[[str], Any]


def resolve_path(
    parts: tuple[str, ...] | str, record: Mapping[str, Any], related: Related | None = None
) -> Any:
    """Return the value at a dotted path, or ``None`` when any step is missing.

    The first step is looked up in the record; when the record has no such field it is looked up
    in ``related`` (a mapping ``name -> related record`` or a callable ``name -> record``). Later
    steps descend into mappings (or public attributes of objects: never ``_private`` or
    ``__dunder__`` ones).

    Args:
        parts: The path, dotted string or tuple of steps.
        record: The record.
        related: Related records by name.

    Returns:
        The value found, or ``None``.
    """
    if isinstance(parts, str):
        parts = _split(parts)
    head = parts[0]
    value = record.get(head, _MISSING)
    if value is _MISSING:
        if related is None:
            return None
        value = related(head) if callable(related) else related.get(head)
    for step in parts[1:]:
        if value is None or value is _MISSING:
            return None
        if isinstance(value, Mapping):
            value = value.get(step)
        elif step.startswith("_"):  # objects expose public attributes only
            return None
        else:
            value = getattr(value, step, None)
    return None if value is _MISSING else value


def _change_pair(change: Mapping[str, Any] | None, path: str) -> tuple[Any, Any] | None:
    """Return ``(before, after)`` of a changed path, or ``None`` when it did not change."""
    if not change:
        return None
    entry = change.get(path, _MISSING)
    if entry is _MISSING:
        parts = _split(path)
        if len(parts) == 1:
            return None
        entry = change.get(parts[0], _MISSING)
        if entry is _MISSING:
            return None
        before, after = _pair(entry)
        rest = parts[1:]
        before = resolve_path(rest, before) if isinstance(before, Mapping) else None
        after = resolve_path(rest, after) if isinstance(after, Mapping) else None
    else:
        before, after = _pair(entry)
    if _equal(after, _plain(before)) and _equal(before, _plain(after)):
        return None
    return before, after


def _pair(entry: Any) -> tuple[Any, Any]:
    if isinstance(entry, tuple) and len(entry) == 2:
        return entry[0], entry[1]
    if hasattr(entry, "before") and hasattr(entry, "after"):
        return entry.before, entry.after
    if isinstance(entry, Mapping) and "before" in entry and "after" in entry:
        return entry["before"], entry["after"]
    raise TypeError(f"a change entry must be (before, after), got {entry!r}")


class EvalContext:
    """What a condition sees: the record, the change, related records and the clock.

    Attributes:
        record: The record (field -> value).
        change: ``field -> (before, after)`` of the change being processed, or ``None``.
        related: Related records by name (mapping or callable), or ``None``.
        now: The host's clock (aware datetime).
    """

    __slots__ = ("change", "now", "record", "related")

    def __init__(
        self,
        record: Mapping[str, Any],
        change: Mapping[str, Any] | None = None,
        related: Related | None = None,
        now: datetime | None = None,
    ) -> None:
        self.record = record
        self.change = change
        self.related = related
        if type(now) is datetime and now.tzinfo is not None:
            self.now: datetime = now
        else:
            self.now = to_datetime(now) or datetime.now(UTC)

    def get(self, path: str) -> Any:
        """Return the value at a dotted path (``None`` when missing)."""
        return resolve_path(path, self.record, self.related)

    def changed(self, path: str) -> bool:
        """Return whether the change altered the path."""
        return _change_pair(self.change, path) is not None

    def before(self, path: str) -> Any:
        """Return the value before the change (the current value when it did not change)."""
        pair = _change_pair(self.change, path)
        return self.get(path) if pair is None else pair[0]


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
        return _check_constant(value)
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
        parts = _split(self.field)
        object.__setattr__(self, "_parts", parts)
        object.__setattr__(self, "_head", parts[0] if len(parts) == 1 else None)
        object.__setattr__(self, "_fn", _OPERATORS[self.cmp])
        kind = type(self.value)
        object.__setattr__(self, "_fast", kind if kind in (int, float, str) else None)

    def test(self, ctx: EvalContext) -> bool:
        """Evaluate against a context."""
        head = self._head
        if head is not None:
            value = ctx.record.get(head, _MISSING)
            if value is _MISSING:
                value = resolve_path(self._parts, ctx.record, ctx.related)
        else:
            value = resolve_path(self._parts, ctx.record, ctx.related)
        if self._fast is not None and type(value) is self._fast:  # same plain type: compare
            return bool(self._fn(value, self.value))
        cmp = self.cmp
        if cmp == "eq":
            return _equal(value, self.value)
        if cmp == "ne":
            return not _equal(value, self.value)
        if value is None or self.value is None:
            return False
        a, b = _align(value, self.value)
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
        object.__setattr__(self, "_parts", _split(self.field))
        fast: frozenset[Any] | None = None
        if all(isinstance(v, str) for v in self.values):
            fast = frozenset(self.values)
        object.__setattr__(self, "_fast", fast)

    def test(self, ctx: EvalContext) -> bool:
        """Evaluate against a context."""
        value = _plain(resolve_path(self._parts, ctx.record, ctx.related))
        if self._fast is not None and (value is None or isinstance(value, str)):
            found = value in self._fast
        else:
            found = any(_equal(value, v) for v in self.values)
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
        object.__setattr__(self, "_parts", _split(self.field))

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
            return any(_equal(v, self.value) for v in value)
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
        object.__setattr__(self, "_parts", _split(self.field))

    def test(self, ctx: EvalContext) -> bool:
        """Evaluate against a context."""
        return _is_empty(resolve_path(self._parts, ctx.record, ctx.related)) != self.negate

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
        return _change_pair(ctx.change, self.field) is not None

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
        pair = _change_pair(ctx.change, self.field)
        return pair is not None and _equal(pair[1], self.value)

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
        pair = _change_pair(ctx.change, self.field)
        return pair is not None and _equal(pair[0], self.value)

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
        object.__setattr__(self, "_parts", _split(self.field))

    def test(self, ctx: EvalContext) -> bool:
        """Evaluate against a context."""
        when = to_datetime(_plain(resolve_path(self._parts, ctx.record, ctx.related)))
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


