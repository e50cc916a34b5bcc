"""Field codecs: check, coerce, dump and load one kind of field value.

A model class's field annotations pick one :class:`Codec` per field (see
:func:`crmcore.model._base.codec_for`): strings with their ``Annotated`` constraints
(:class:`NonEmpty`, :class:`Pattern`), numbers, Decimals, dates and tz-aware datetimes, enums,
optional values, tuples, frozensets, :class:`~crmcore.model._frozen_map.FrozenMap` and nested
model values. A value that fails raises :class:`BadValue`, which names the rule and the path
inside the value; the model turns those into :class:`~crmcore.errors.FieldProblem` entries.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any

import attrs

from crmcore.errors import SerializationError
from crmcore.model._frozen_map import FrozenMap
from crmcore.model._timestamps import TimeTextError, format_datetime
from crmcore.model._timestamps import parse_time_text as _parse_datetime

if TYPE_CHECKING:
    from crmcore.model._base import ModelBase


# --------------------------------------------------------------------------------------------
# Constraints carried by ``Annotated`` aliases
# --------------------------------------------------------------------------------------------


@attrs.frozen
class NonEmpty:
    """Constraint: a string must not be empty or only whitespace."""

    rule: str = "required"


@attrs.frozen
class Pattern:
    """Constraint: a string must fully match ``regex``.

    Args:
        regex: Regular expression, matched with ``fullmatch``.
        rule: Rule name reported on failure.
        message: Human-readable explanation.
    """

    regex: str
    rule: str
    message: str


#: A record identifier: a non-empty string.
Id = Annotated[str, NonEmpty("id.required")]


class BadValue(Exception):
    """Internal: a value failed a codec; carries the rule, message and a sub-path.

    ``more`` holds further problems found in the same value (a nested object with several bad
    fields), so every one of them is reported.
    """

    def __init__(
        self,
        rule: str,
        message: str,
        path: str = "",
        value: Any = None,
        more: tuple[BadValue, ...] = (),
    ) -> None:
        super().__init__(message)
        self.rule = rule
        self.message = message
        self.path = path
        self.value = value
        self.has_value = path != ""
        self.more = more

    def prefixed(self, prefix: str, value: Any) -> BadValue:
        """Return this problem (and its siblings) one level deeper, under ``prefix``."""
        return BadValue(
            self.rule,
            self.message,
            prefix + self.path,
            self.value if self.has_value else value,
            tuple(m.prefixed(prefix, value) for m in self.more),
        )

    @staticmethod
    def combine(bads: list[BadValue]) -> BadValue:
        """Return one problem carrying all of ``bads`` (at least one)."""
        flat = [b for bad in bads for b in bad.each()]
        first = flat[0]
        return BadValue(first.rule, first.message, first.path, first.value, tuple(flat[1:]))

    def each(self) -> Iterator[BadValue]:
        """Yield this problem and every sibling."""
        yield self
        for m in self.more:
            yield from m.each()


class Codec:
    """Check, coerce, dump and load one kind of value."""

    kind = "value"

    def coerce(self, value: Any) -> Any:
        """Return the value (maybe converted) or raise :class:`BadValue`."""
        raise NotImplementedError

    def dump(self, value: Any) -> Any:
        """Return a JSON-friendly form of an already valid value."""
        return value

    def load(self, raw: Any) -> Any:
        """Return the model value for a JSON-friendly form, or raise :class:`BadValue`."""
        return self.coerce(raw)


def type_name(value: Any) -> str:
    return type(value).__name__


class StrCodec(Codec):
    kind = "string"

    def __init__(self, constraints: tuple[Any, ...] = ()) -> None:
        self.nonempty: NonEmpty | None = None
        self.patterns: list[tuple[re.Pattern[str], Pattern]] = []
        for c in constraints:
            if isinstance(c, NonEmpty):
                self.nonempty = c
            elif isinstance(c, Pattern):
                self.patterns.append((re.compile(c.regex), c))

    def coerce(self, value: Any) -> Any:
        if type(value) is not str:
            if not isinstance(value, str):
                raise BadValue("type", f"expected a string, got {type_name(value)}")
            value = str(value)  # str subclasses (StrEnum members ...) become plain strings
        if self.nonempty is not None and not value.strip():
            raise BadValue(self.nonempty.rule, "must not be empty")
        for regex, spec in self.patterns:
            if regex.fullmatch(value) is None:
                raise BadValue(spec.rule, spec.message)
        return value


class IntCodec(Codec):
    kind = "integer"

    def coerce(self, value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, int):
            raise BadValue("type", f"expected an integer, got {type_name(value)}")
        return value


class BoolCodec(Codec):
    kind = "boolean"

    def coerce(self, value: Any) -> Any:
        if not isinstance(value, bool):
            raise BadValue("type", f"expected a boolean, got {type_name(value)}")
        return value


class DecimalCodec(Codec):
    kind = "decimal"

    def coerce(self, value: Any) -> Any:
        if isinstance(value, Decimal):
            result = value
        elif isinstance(value, bool):
            raise BadValue("type", "expected a Decimal, got bool")
        elif isinstance(value, int):
            result = Decimal(value)
        elif isinstance(value, str):
            try:
                result = Decimal(value.strip())
            except InvalidOperation:
                raise BadValue("decimal.format", f"{value!r} is not a decimal number") from None
        elif isinstance(value, float):
            raise BadValue("type", "floats lose precision: give a Decimal or a string")
        else:
            raise BadValue("type", f"expected a Decimal, got {type_name(value)}")
        if not result.is_finite():
            raise BadValue("decimal.finite", "must be a finite number")
        return result

    def dump(self, value: Any) -> Any:
        return str(value)


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise BadValue("datetime.naive", "naive datetime: a timezone (UTC offset) is required")
    return value


class DateTimeCodec(Codec):
    kind = "datetime"

    def coerce(self, value: Any) -> Any:
        if not isinstance(value, datetime):
            raise BadValue("type", f"expected a timezone-aware datetime, got {type_name(value)}")
        return _aware(value)

    def dump(self, value: Any) -> Any:
        return format_datetime(value)

    def load(self, raw: Any) -> Any:
        if not isinstance(raw, str):
            raise BadValue("type", f"expected an ISO 8601 datetime string, got {type_name(raw)}")
        try:
            parsed = _parse_datetime(raw)
        except TimeTextError as exc:
            raise BadValue(exc.rule, exc.message) from None
        return _aware(parsed)


class DateCodec(Codec):
    kind = "date"

    def coerce(self, value: Any) -> Any:
        if isinstance(value, datetime) or not isinstance(value, date):
            raise BadValue("type", f"expected a date, got {type_name(value)}")
        return value

    def dump(self, value: Any) -> Any:
        return value.isoformat()

    def load(self, raw: Any) -> Any:
        if not isinstance(raw, str):
            raise BadValue("type", f"expected an ISO 8601 date string, got {type_name(raw)}")
        try:
            return date.fromisoformat(raw)
        except ValueError:
            raise BadValue("date.format", f"{raw!r} is not an ISO 8601 date") from None


class EnumCodec(Codec):
    kind = "enum"

    def __init__(self, enum: type[Enum]) -> None:
        self.enum = enum
        self.by_value = {m.value: m for m in enum}
        self.allowed = ", ".join(repr(m.value) for m in enum)

    def coerce(self, value: Any) -> Any:
        if isinstance(value, self.enum):
            return value
        try:
            return self.by_value[value]
        except (KeyError, TypeError):
            raise BadValue(
                "enum", f"not a {self.enum.__name__}: expected one of {self.allowed}"
            ) from None

    def dump(self, value: Any) -> Any:
        return value.value


class ScalarCodec(Codec):
    """A JSON scalar: str, int, finite float, bool or None."""

    kind = "scalar"

    def coerce(self, value: Any) -> Any:
        if value is None or isinstance(value, (str, int, bool)):
            return value
        if isinstance(value, float):
            if not math.isfinite(value):
                raise BadValue("custom_value.finite", "floats must be finite")
            return value
        raise BadValue(
            "custom_value.type",
            f"custom values must be str, int, float, bool or None, got {type_name(value)}",
        )


class OptionalCodec(Codec):
    def __init__(self, inner: Codec) -> None:
        self.inner = inner
        self.kind = f"optional {inner.kind}"

    def coerce(self, value: Any) -> Any:
        return None if value is None else self.inner.coerce(value)

    def dump(self, value: Any) -> Any:
        return None if value is None else self.inner.dump(value)

    def load(self, raw: Any) -> Any:
        return None if raw is None else self.inner.load(raw)


def _elements(value: Any, what: str) -> Iterable[Any]:
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Iterable):
        raise BadValue("type", f"expected a {what}, got {type_name(value)}")
    return value


class TupleCodec(Codec):
    kind = "tuple"

    def __init__(self, inner: Codec) -> None:
        self.inner = inner

    def _each(self, value: Any, fn: Callable[[Any], Any]) -> tuple[Any, ...]:
        out = []
        bads: list[BadValue] = []
        for i, item in enumerate(_elements(value, "sequence (list or tuple)")):
            try:
                out.append(fn(item))
            except BadValue as bad:
                bads.append(bad.prefixed(f"[{i}]", item))
        if bads:
            raise BadValue.combine(bads)
        return tuple(out)

    def coerce(self, value: Any) -> Any:
        if (  # fast path for the common tuple-of-strings field
            type(value) is tuple
            and isinstance(self.inner, StrCodec)
            and not self.inner.patterns
            and all(type(v) is str for v in value)
            and (self.inner.nonempty is None or all(v.strip() for v in value))
        ):
            return value
        if isinstance(value, (set, frozenset)):
            raise BadValue("type", "expected an ordered sequence (list or tuple), got a set")
        return self._each(value, self.inner.coerce)

    def dump(self, value: Any) -> Any:
        return [self.inner.dump(v) for v in value]

    def load(self, raw: Any) -> Any:
        if not isinstance(raw, (list, tuple)):
            raise BadValue("type", f"expected a list, got {type_name(raw)}")
        return self._each(raw, self.inner.load)


class FrozenSetCodec(Codec):
    kind = "set"

    def __init__(self, inner: Codec) -> None:
        self.inner = inner

    def _each(self, value: Any, fn: Callable[[Any], Any]) -> frozenset[Any]:
        out = set()
        bads: list[BadValue] = []
        for item in _elements(value, "set (set, frozenset, list or tuple)"):
            try:
                out.add(fn(item))
            except BadValue as bad:
                bads.append(bad.prefixed(f"[{item!r}]", item))
        if bads:
            raise BadValue.combine(bads)
        return frozenset(out)

    def coerce(self, value: Any) -> Any:
        if (
            type(value) is frozenset
            and isinstance(self.inner, StrCodec)
            and self.inner.nonempty is None
            and all(type(v) is str for v in value)
        ):
            return value
        return self._each(value, self.inner.coerce)

    def dump(self, value: Any) -> Any:
        return sorted((self.inner.dump(v) for v in value), key=repr)

    def load(self, raw: Any) -> Any:
        if not isinstance(raw, (list, tuple)):
            raise BadValue("type", f"expected a list, got {type_name(raw)}")
        return self._each(raw, self.inner.load)


class MapCodec(Codec):
    kind = "mapping"

    def __init__(self, key: Codec, value: Codec) -> None:
        self.key = key
        self.value = value

    def _each(self, raw: Any, fn: Callable[[Any], Any]) -> FrozenMap[Any, Any]:
        if not isinstance(raw, Mapping):
            raise BadValue("type", f"expected a mapping, got {type_name(raw)}")
        out = {}
        bads: list[BadValue] = []
        for k, v in raw.items():
            try:
                key = self.key.coerce(k)
            except BadValue as bad:
                bads.append(BadValue("key." + bad.rule, f"key: {bad.message}", f"[{k!r}]", k))
                continue
            try:
                out[key] = fn(v)
            except BadValue as bad:
                bads.append(bad.prefixed(f"[{k!r}]", v))
        if bads:
            raise BadValue.combine(bads)
        return FrozenMap(out)

    def coerce(self, value: Any) -> Any:
        if isinstance(value, FrozenMap):
            # keep the given map when every key and value is already in final form
            unchanged = True
            for k, v in value.items():
                try:
                    key = self.key.coerce(k)
                except BadValue as bad:
                    raise BadValue(
                        "key." + bad.rule, f"key: {bad.message}", f"[{k!r}]", k
                    ) from None
                try:
                    new = self.value.coerce(v)
                except BadValue as bad:
                    raise bad.prefixed(f"[{k!r}]", v) from None
                if key is not k or new is not v:
                    unchanged = False
            if unchanged:
                return value
        return self._each(value, self.value.coerce)

    def dump(self, value: Any) -> Any:
        return {k: self.value.dump(v) for k, v in value.items()}

    def load(self, raw: Any) -> Any:
        return self._each(raw, self.value.load)


class NestedCodec(Codec):
    """A nested model value (Address, Provenance, RecordRef ...)."""

    kind = "object"

    def __init__(self, cls: type[ModelBase]) -> None:
        self.cls = cls

    def coerce(self, value: Any) -> Any:
        if not isinstance(value, self.cls):
            raise BadValue("type", f"expected a {self.cls.__name__}, got {type_name(value)}")
        return value

    def dump(self, value: Any) -> Any:
        return value.to_dict()

    def load(self, raw: Any) -> Any:
        if not isinstance(raw, Mapping):
            raise BadValue("type", f"expected a {self.cls.__name__} object, got {type_name(raw)}")
        try:
            return self.cls.from_dict(raw)
        except SerializationError as exc:
            bads = [BadValue(p.rule, p.message, f".{p.field}", p.value) for p in exc.problems]
            raise BadValue(
                bads[0].rule, bads[0].message, bads[0].path, bads[0].value, tuple(bads[1:])
            ) from None

