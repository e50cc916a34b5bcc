"""Shared machinery of the domain model: the immutable mapping, field codecs, record bases.

Every model type is an attrs frozen class whose field annotations drive three things, derived
once per class from the type hints and cached:

* construction checks and light coercion (``list`` -> ``tuple``, ``dict`` -> :class:`FrozenMap`,
  ``"lead"`` -> ``LifecycleStage.LEAD``, ``int`` -> ``Decimal``); every problem is collected and
  raised together as one :class:`~crmcore.errors.ValidationError`;
* ``to_dict``: a JSON-friendly plain dict (Decimal as string, dates and tz-aware datetimes as
  ISO 8601 (with a ``[Zone/Name]`` suffix for ``ZoneInfo`` datetimes, see
  :mod:`crmcore.model._timestamps`), enums as their values, tuples and frozensets as lists, nested
  values as dicts);
* ``from_dict``: the exact inverse, raising :class:`~crmcore.errors.SerializationError` whose
  problems name every bad field.
"""

from __future__ import annotations

import math
import re
import sys
import types
import typing
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from enum import Enum
from typing import Annotated, Any, ClassVar, TypeAlias, TypeVar, Union, get_args, get_origin

import attrs

from crmcore import _compat
from crmcore.errors import FieldProblem, SerializationError, ValidationError
from crmcore.model._timestamps import TimeTextError, format_datetime
from crmcore.model._timestamps import parse_time_text as _parse_datetime

K = TypeVar("K")
V = TypeVar("V")

#: A custom-field value: a JSON scalar (floats must be finite), so it round-trips exactly.
CustomValue: TypeAlias = str | int | float | bool | None


class FrozenMap(Mapping[K, V]):
    """An immutable, hashable mapping (used for custom fields and per-field provenance).

    Args:
        data: A mapping or an iterable of ``(key, value)`` pairs.

    Example:
        >>> m = FrozenMap({"tier": "gold"})
        >>> m["tier"], len(m), m == {"tier": "gold"}
        ('gold', 1, True)
    """

    __slots__ = ("_data", "_hash")

    def __init__(self, data: Mapping[K, V] | Iterable[tuple[K, V]] = ()) -> None:
        self._data: dict[K, V] = dict(data)
        self._hash: int | None = None

    def __getitem__(self, key: K) -> V:
        return self._data[key]

    def __iter__(self) -> Iterator[K]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def __eq__(self, other: object) -> bool:
        if isinstance(other, FrozenMap):
            return self._data == other._data
        if isinstance(other, Mapping):
            return self._data == dict(other.items())
        return NotImplemented

    def __hash__(self) -> int:
        if self._hash is None:
            self._hash = hash(frozenset(self._data.items()))
        return self._hash

    def __repr__(self) -> str:
        return f"FrozenMap({self._data!r})"

    def set(self, key: K, value: V) -> FrozenMap[K, V]:
        """Return a copy with ``key`` set to ``value``."""
        data = dict(self._data)
        data[key] = value
        return FrozenMap(data)

    def delete(self, key: K) -> FrozenMap[K, V]:
        """Return a copy without ``key`` (no error when it is absent)."""
        return FrozenMap({k: v for k, v in self._data.items() if k != key})


#: The shared empty mapping, used as the default of mapping fields.
EMPTY_MAP: FrozenMap[Any, Any] = FrozenMap()


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


class _Bad(Exception):
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
        more: tuple[_Bad, ...] = (),
    ) -> None:
        super().__init__(message)
        self.rule = rule
        self.message = message
        self.path = path
        self.value = value
        self.has_value = path != ""
        self.more = more

    def prefixed(self, prefix: str, value: Any) -> _Bad:
        """Return this problem (and its siblings) one level deeper, under ``prefix``."""
        return _Bad(
            self.rule,
            self.message,
            prefix + self.path,
            self.value if self.has_value else value,
            tuple(m.prefixed(prefix, value) for m in self.more),
        )

    @staticmethod
    def combine(bads: list[_Bad]) -> _Bad:
        """Return one problem carrying all of ``bads`` (at least one)."""
        flat = [b for bad in bads for b in bad.each()]
        first = flat[0]
        return _Bad(first.rule, first.message, first.path, first.value, tuple(flat[1:]))

    def each(self) -> Iterator[_Bad]:
        """Yield this problem and every sibling."""
        yield self
        for m in self.more:
            yield from m.each()


class _Codec:
    """Check, coerce, dump and load one kind of value."""

    kind = "value"

    def coerce(self, value: Any) -> Any:
        """Return the value (maybe converted) or raise :class:`_Bad`."""
        raise NotImplementedError

    def dump(self, value: Any) -> Any:
        """Return a JSON-friendly form of an already valid value."""
        return value

    def load(self, raw: Any) -> Any:
        """Return the model value for a JSON-friendly form, or raise :class:`_Bad`."""
        return self.coerce(raw)


def _type_name(value: Any) -> str:
    return type(value).__name__


class _Str(_Codec):
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
                raise _Bad("type", f"expected a string, got {_type_name(value)}")
            value = str(value)  # str subclasses (StrEnum members ...) become plain strings
        if self.nonempty is not None and not value.strip():
            raise _Bad(self.nonempty.rule, "must not be empty")
        for regex, spec in self.patterns:
            if regex.fullmatch(value) is None:
                raise _Bad(spec.rule, spec.message)
        return value


class _Int(_Codec):
    kind = "integer"

    def coerce(self, value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, int):
            raise _Bad("type", f"expected an integer, got {_type_name(value)}")
        return value


class _Bool(_Codec):
    kind = "boolean"

    def coerce(self, value: Any) -> Any:
        if not isinstance(value, bool):
            raise _Bad("type", f"expected a boolean, got {_type_name(value)}")
        return value


class _Decimal(_Codec):
    kind = "decimal"

    def coerce(self, value: Any) -> Any:
        if isinstance(value, Decimal):
            result = value
        elif isinstance(value, bool):
            raise _Bad("type", "expected a Decimal, got bool")
        elif isinstance(value, int):
            result = Decimal(value)
        elif isinstance(value, str):
            try:
                result = Decimal(value.strip())
            except InvalidOperation:
                raise _Bad("decimal.format", f"{value!r} is not a decimal number") from None
        elif isinstance(value, float):
            raise _Bad("type", "floats lose precision: give a Decimal or a string")
        else:
            raise _Bad("type", f"expected a Decimal, got {_type_name(value)}")
        if not result.is_finite():
            raise _Bad("decimal.finite", "must be a finite number")
        return result

    def dump(self, value: Any) -> Any:
        return str(value)


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise _Bad("datetime.naive", "naive datetime: a timezone (UTC offset) is required")
    return value


class _DateTime(_Codec):
    kind = "datetime"

    def coerce(self, value: Any) -> Any:
        if not isinstance(value, datetime):
            raise _Bad("type", f"expected a timezone-aware datetime, got {_type_name(value)}")
        return _aware(value)

    def dump(self, value: Any) -> Any:
        return format_datetime(value)

    def load(self, raw: Any) -> Any:
        if not isinstance(raw, str):
            raise _Bad("type", f"expected an ISO 8601 datetime string, got {_type_name(raw)}")
        try:
            parsed = _parse_datetime(raw)
        except TimeTextError as exc:
            raise _Bad(exc.rule, exc.message) from None
        return _aware(parsed)


class _Date(_Codec):
    kind = "date"

    def coerce(self, value: Any) -> Any:
        if isinstance(value, datetime) or not isinstance(value, date):
            raise _Bad("type", f"expected a date, got {_type_name(value)}")
        return value

    def dump(self, value: Any) -> Any:
        return value.isoformat()

    def load(self, raw: Any) -> Any:
        if not isinstance(raw, str):
            raise _Bad("type", f"expected an ISO 8601 date string, got {_type_name(raw)}")
        try:
            return date.fromisoformat(raw)
        except ValueError:
            raise _Bad("date.format", f"{raw!r} is not an ISO 8601 date") from None


class _Enum(_Codec):
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
            raise _Bad(
                "enum", f"not a {self.enum.__name__}: expected one of {self.allowed}"
            ) from None

    def dump(self, value: Any) -> Any:
        return value.value


class _Scalar(_Codec):
    """A JSON scalar: str, int, finite float, bool or None."""

    kind = "scalar"

    def coerce(self, value: Any) -> Any:
        if value is None or isinstance(value, (str, int, bool)):
            return value
        if isinstance(value, float):
            if not math.isfinite(value):
                raise _Bad("custom_value.finite", "floats must be finite")
            return value
        raise _Bad(
            "custom_value.type",
            f"custom values must be str, int, float, bool or None, got {_type_name(value)}",
        )


class _Optional(_Codec):
    def __init__(self, inner: _Codec) -> None:
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
        raise _Bad("type", f"expected a {what}, got {_type_name(value)}")
    return value


class _Tuple(_Codec):
    kind = "tuple"

    def __init__(self, inner: _Codec) -> None:
        self.inner = inner

    def _each(self, value: Any, fn: Callable[[Any], Any]) -> tuple[Any, ...]:
        out = []
        bads: list[_Bad] = []
        for i, item in enumerate(_elements(value, "sequence (list or tuple)")):
            try:
                out.append(fn(item))
            except _Bad as bad:
                bads.append(bad.prefixed(f"[{i}]", item))
        if bads:
            raise _Bad.combine(bads)
        return tuple(out)

    def coerce(self, value: Any) -> Any:
        if (  # fast path for the common tuple-of-strings field
            type(value) is tuple
            and isinstance(self.inner, _Str)
            and not self.inner.patterns
            and all(type(v) is str for v in value)
            and (self.inner.nonempty is None or all(v.strip() for v in value))
        ):
            return value
        if isinstance(value, (set, frozenset)):
            raise _Bad("type", "expected an ordered sequence (list or tuple), got a set")
        return self._each(value, self.inner.coerce)

    def dump(self, value: Any) -> Any:
        return [self.inner.dump(v) for v in value]

    def load(self, raw: Any) -> Any:
        if not isinstance(raw, (list, tuple)):
            raise _Bad("type", f"expected a list, got {_type_name(raw)}")
        return self._each(raw, self.inner.load)


class _FrozenSet(_Codec):
    kind = "set"

    def __init__(self, inner: _Codec) -> None:
        self.inner = inner

    def _each(self, value: Any, fn: Callable[[Any], Any]) -> frozenset[Any]:
        out = set()
        bads: list[_Bad] = []
        for item in _elements(value, "set (set, frozenset, list or tuple)"):
            try:
                out.add(fn(item))
            except _Bad as bad:
                bads.append(bad.prefixed(f"[{item!r}]", item))
        if bads:
            raise _Bad.combine(bads)
        return frozenset(out)

    def coerce(self, value: Any) -> Any:
        if (
            type(value) is frozenset
            and isinstance(self.inner, _Str)
            and self.inner.nonempty is None
            and all(type(v) is str for v in value)
        ):
            return value
        return self._each(value, self.inner.coerce)

    def dump(self, value: Any) -> Any:
        return sorted((self.inner.dump(v) for v in value), key=repr)

    def load(self, raw: Any) -> Any:
        if not isinstance(raw, (list, tuple)):
            raise _Bad("type", f"expected a list, got {_type_name(raw)}")
        return self._each(raw, self.inner.load)


class _Map(_Codec):
    kind = "mapping"

    def __init__(self, key: _Codec, value: _Codec) -> None:
        self.key = key
        self.value = value

    def _each(self, raw: Any, fn: Callable[[Any], Any]) -> FrozenMap[Any, Any]:
        if not isinstance(raw, Mapping):
            raise _Bad("type", f"expected a mapping, got {_type_name(raw)}")
        out = {}
        bads: list[_Bad] = []
        for k, v in raw.items():
            try:
                key = self.key.coerce(k)
            except _Bad as bad:
                bads.append(_Bad("key." + bad.rule, f"key: {bad.message}", f"[{k!r}]", k))
                continue
            try:
                out[key] = fn(v)
            except _Bad as bad:
                bads.append(bad.prefixed(f"[{k!r}]", v))
        if bads:
            raise _Bad.combine(bads)
        return FrozenMap(out)

    def coerce(self, value: Any) -> Any:
        if isinstance(value, FrozenMap):
            # keep the given map when every key and value is already in final form
            unchanged = True
            for k, v in value.items():
                try:
                    key = self.key.coerce(k)
                except _Bad as bad:
                    raise _Bad("key." + bad.rule, f"key: {bad.message}", f"[{k!r}]", k) from None
                try:
                    new = self.value.coerce(v)
                except _Bad as bad:
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


class _Nested(_Codec):
    """A nested model value (Address, Provenance, RecordRef ...)."""

    kind = "object"

    def __init__(self, cls: type[ModelBase]) -> None:
        self.cls = cls

    def coerce(self, value: Any) -> Any:
        if not isinstance(value, self.cls):
            raise _Bad("type", f"expected a {self.cls.__name__}, got {_type_name(value)}")
        return value

    def dump(self, value: Any) -> Any:
        return value.to_dict()

    def load(self, raw: Any) -> Any:
        if not isinstance(raw, Mapping):
            raise _Bad("type", f"expected a {self.cls.__name__} object, got {_type_name(raw)}")
        try:
            return self.cls.from_dict(raw)
        except SerializationError as exc:
            bads = [_Bad(p.rule, p.message, f".{p.field}", p.value) for p in exc.problems]
            raise _Bad(
                bads[0].rule, bads[0].message, bads[0].path, bads[0].value, tuple(bads[1:])
            ) from None


_SCALAR_UNION = frozenset({str, int, float, bool, type(None)})


def _codec_for(hint: Any) -> _Codec:
    origin = get_origin(hint)
    if origin is Annotated:
        base, *meta = get_args(hint)
        if base is not str:
            raise TypeError(f"Annotated constraints are only supported on str, not {base!r}")
        return _Str(tuple(meta))
    if origin is Union or origin is types.UnionType:
        args = get_args(hint)
        if frozenset(args) == _SCALAR_UNION:
            return _Scalar()
        others = [a for a in args if a is not type(None)]
        if len(others) == 1 and len(args) == 2:
            return _Optional(_codec_for(others[0]))
        raise TypeError(f"unsupported union {hint!r}")
    if origin is tuple:
        args = get_args(hint)
        if len(args) != 2 or args[1] is not Ellipsis:
            raise TypeError(f"only tuple[X, ...] is supported, not {hint!r}")
        return _Tuple(_codec_for(args[0]))
    if origin is frozenset:
        return _FrozenSet(_codec_for(get_args(hint)[0]))
    if origin is FrozenMap:
        key, value = get_args(hint)
        return _Map(_codec_for(key), _codec_for(value))
    if hint is str:
        return _Str()
    if hint is bool:
        return _Bool()
    if hint is int:
        return _Int()
    if hint is Decimal:
        return _Decimal()
    if hint is datetime:
        return _DateTime()
    if hint is date:
        return _Date()
    if isinstance(hint, type) and issubclass(hint, Enum):
        return _Enum(hint)
    if isinstance(hint, type) and issubclass(hint, ModelBase):
        return _Nested(hint)
    raise TypeError(f"unsupported field type {hint!r}")


@attrs.frozen
class _Spec:
    """Per-class derived data: field names and codecs in serialisation order."""

    fields: tuple[tuple[str, _Codec], ...]
    names: frozenset[str]
    required: frozenset[str]
    checks: tuple[tuple[str, Callable[[Any], Any], bool, Any], ...]
    """``(name, coerce, None is fine, default known valid)`` per field, for construction."""


_NO_DEFAULT = object()
_COMMON_LAST = ("created_at", "updated_at", "provenance", "field_provenance")


def _type_hints(cls: type[Any]) -> dict[str, Any]:
    """Resolve the field annotations of ``cls`` (strings under ``from __future__ import ...``).

    Annotations resolve in the modules that define the class and its bases (a public class names
    its front door in ``__module__``, see :func:`crmcore._compat.type_hints`). For classes defined
    where no module holds their names (``exec``-ed code), the namespace captured by
    :func:`register` is added.
    """
    return _compat.type_hints(cls, cls.__dict__.get("_hint_namespace"))


def model_spec(cls: type[ModelBase]) -> _Spec:
    spec = cls.__dict__.get("_spec_cache")
    if spec is None:
        hints = _type_hints(cls)
        attr_fields = attrs.fields(cls)  # type: ignore[arg-type]
        order = [a.name for a in attr_fields if a.name not in _COMMON_LAST]
        order += [n for n in _COMMON_LAST if n in {a.name for a in attr_fields}]
        if "id" in order:
            order.remove("id")
            order.insert(0, "id")
        fields = tuple((name, _codec_for(hints[name])) for name in order)
        required = frozenset(a.name for a in attr_fields if a.default is attrs.NOTHING)
        defaults = {
            a.name: a.default
            for a in attr_fields
            if a.default is not attrs.NOTHING and not isinstance(a.default, attrs.Factory)  # type: ignore[arg-type]
        }
        checks = []
        for name, codec in fields:
            default = defaults.get(name, _NO_DEFAULT)
            if default is not _NO_DEFAULT and codec.coerce(default) is not default:
                default = _NO_DEFAULT  # a default that would be converted is checked each time
            checks.append((name, codec.coerce, isinstance(codec, _Optional), default))
        spec = _Spec(fields, frozenset(order), required, tuple(checks))
        type.__setattr__(cls, "_spec_cache", spec)
    assert isinstance(spec, _Spec)
    return spec


def _problems(record_id: Any, field: str, value: Any, bad: _Bad) -> Iterator[FieldProblem]:
    rid = record_id if isinstance(record_id, str) and record_id else None
    for b in bad.each():
        yield FieldProblem(
            field=field + b.path,
            value=b.value if b.has_value else value,
            rule=b.rule,
            message=b.message,
            record=rid,
        )


class ModelBase:
    """Base of every model value: construction checks plus the dict round trip."""

    __slots__ = ()
    _spec_cache: ClassVar[_Spec | None]

    def __attrs_post_init__(self) -> None:
        problems: list[FieldProblem] | None = None
        setter = object.__setattr__
        for name, coerce, nullable, default in model_spec(type(self)).checks:
            value = getattr(self, name)
            if value is default or (value is None and nullable):
                continue
            try:
                new = coerce(value)
            except _Bad as bad:
                if problems is None:
                    problems = []
                problems.extend(_problems(getattr(self, "id", None), name, value, bad))
                continue
            if new is not value:
                setter(self, name, new)
        if problems is None:
            problems = [
                FieldProblem(field=f, value=v, rule=r, message=m, record=self._record_id())
                for f, v, r, m in self._invariants()
            ]
        if problems:
            raise ValidationError(problems, f"invalid {type(self).__name__}")

    def _record_id(self) -> str | None:
        record_id = getattr(self, "id", None)
        return record_id if isinstance(record_id, str) and record_id else None

    def _invariants(self) -> Iterable[tuple[str, Any, str, str]]:
        """Cross-field shape invariants: yield ``(field, value, rule, message)``."""
        return ()

    def to_dict(self) -> dict[str, Any]:
        """Return a plain, JSON-friendly dict that :meth:`from_dict` turns back into an equal value.

        Returns:
            A dict of field name to JSON-friendly value (records also carry ``"record_type"``).
        """
        out: dict[str, Any] = {}
        if isinstance(self, RecordLike):
            out["record_type"] = self.record_type
        for name, codec in model_spec(type(self)).fields:
            out[name] = codec.dump(getattr(self, name))
        return out

    def field_values(self) -> dict[str, Any]:
        """Return field name -> Python value, shallow (no JSON encoding).

        Unlike :meth:`to_dict`, amounts stay ``Decimal``, datetimes stay ``datetime`` and nested
        values stay objects; records also carry ``"record_type"``. Handy for rule engines that
        compare values.
        """
        out: dict[str, Any] = {}
        if isinstance(self, RecordLike):
            out["record_type"] = self.record_type
        for name, _codec in model_spec(type(self)).fields:
            out[name] = getattr(self, name)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> typing.Self:
        """Build a value from the plain dict made by :meth:`to_dict`.

        Missing optional fields take their defaults; unknown fields are rejected.

        Args:
            data: A mapping as produced by :meth:`to_dict` (or parsed from its JSON).

        Returns:
            The value.

        Raises:
            SerializationError: If the payload is not a mapping, has unknown or missing fields,
                a value of the wrong kind, or breaks a construction rule; every problem is listed.
        """
        if not isinstance(data, Mapping):
            raise SerializationError(
                FieldProblem(
                    "<payload>", data, "type", f"expected a mapping, got {_type_name(data)}"
                )
            )
        spec = model_spec(cls)
        record_id = data.get("id") if isinstance(data.get("id"), str) else None
        problems: list[FieldProblem] = []
        record_type = cls.record_type if issubclass(cls, RecordLike) else None
        kwargs: dict[str, Any] = {}
        for key, raw in data.items():
            if key == "record_type" and record_type:
                if raw != record_type:
                    problems.append(
                        FieldProblem(
                            "record_type",
                            raw,
                            "record_type.mismatch",
                            f"expected record_type {record_type!r}",
                            record_id,
                        )
                    )
                continue
            if key not in spec.names:
                problems.append(
                    FieldProblem(
                        str(key),
                        raw,
                        "unknown_field",
                        f"{cls.__name__} has no field {key!r}",
                        record_id,
                    )
                )
        for name, codec in spec.fields:
            if name not in data:
                if name in spec.required:
                    problems.append(
                        FieldProblem(name, None, "required", "missing required field", record_id)
                    )
                continue
            raw = data[name]
            try:
                kwargs[name] = codec.load(raw)
            except _Bad as bad:
                problems.extend(_problems(record_id, name, raw, bad))
        if problems:
            raise SerializationError(problems, f"cannot build {cls.__name__} from the payload")
        try:
            return cls(**kwargs)
        except ValidationError as exc:
            raise SerializationError(
                exc.problems, f"cannot build {cls.__name__} from the payload"
            ) from exc


class Value(ModelBase):
    """Base of the small nested value types (Address, Provenance, RecordRef ...)."""

    __slots__ = ()


class RecordLike(ModelBase):
    """Marker base for record classes (see :class:`crmcore.model.Record`)."""

    __slots__ = ()
    record_type: ClassVar[str] = ""


_REGISTRY: dict[str, type[RecordLike]] = {}

R = TypeVar("R", bound=type["RecordLike"])


def register(cls: R) -> R:
    """Class decorator: register a record class under its ``record_type`` for dispatch."""
    if not cls.record_type:
        raise TypeError(f"{cls.__name__} has no record_type")
    # keep the defining namespace, for annotations that no module can resolve (exec-ed code)
    type.__setattr__(cls, "_hint_namespace", sys._getframe(1).f_globals)
    _REGISTRY[cls.record_type] = cls
    return cls


def record_class(record_type: str) -> type[RecordLike]:
    """Return the record class registered for ``record_type``.

    Raises:
        KeyError: If no class is registered under that name.
    """
    return _REGISTRY[record_type]


def record_types() -> tuple[str, ...]:
    """Return the registered record type names, in registration order."""
    return tuple(_REGISTRY)
