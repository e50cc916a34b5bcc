"""The base of every model value (:class:`ModelBase`): construction checks and the dict round trip.

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

The codec of each field (``_field_codecs.py``) is picked from its annotation by
:func:`codec_for`; the immutable mapping is in ``_frozen_map.py``, the record registry in
``_registry.py``.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Annotated, Any, ClassVar, Union, get_args, get_origin

import attrs

from crmcore import compat
from crmcore.errors import FieldProblem, SerializationError, ValidationError
from crmcore.model._field_codecs import (
    BadValue,
    BoolCodec,
    Codec,
    DateCodec,
    DateTimeCodec,
    DecimalCodec,
    EnumCodec,
    FrozenSetCodec,
    IntCodec,
    MapCodec,
    NestedCodec,
    OptionalCodec,
    ScalarCodec,
    StrCodec,
    TupleCodec,
    type_name,
)
from crmcore.model._frozen_map import FrozenMap

_SCALAR_UNION = frozenset({str, int, float, bool, type(None)})


def codec_for(hint: Any) -> Codec:
    origin = get_origin(hint)
    if origin is Annotated:
        base, *meta = get_args(hint)
        if base is not str:
            raise TypeError(f"Annotated constraints are only supported on str, not {base!r}")
        return StrCodec(tuple(meta))
    if origin is Union or origin is types.UnionType:
        args = get_args(hint)
        if frozenset(args) == _SCALAR_UNION:
            return ScalarCodec()
        others = [a for a in args if a is not type(None)]
        if len(others) == 1 and len(args) == 2:
            return OptionalCodec(codec_for(others[0]))
        raise TypeError(f"unsupported union {hint!r}")
    if origin is tuple:
        args = get_args(hint)
        if len(args) != 2 or args[1] is not Ellipsis:
            raise TypeError(f"only tuple[X, ...] is supported, not {hint!r}")
        return TupleCodec(codec_for(args[0]))
    if origin is frozenset:
        return FrozenSetCodec(codec_for(get_args(hint)[0]))
    if origin is FrozenMap:
        key, value = get_args(hint)
        return MapCodec(codec_for(key), codec_for(value))
    if hint is str:
        return StrCodec()
    if hint is bool:
        return BoolCodec()
    if hint is int:
        return IntCodec()
    if hint is Decimal:
        return DecimalCodec()
    if hint is datetime:
        return DateTimeCodec()
    if hint is date:
        return DateCodec()
    if isinstance(hint, type) and issubclass(hint, Enum):
        return EnumCodec(hint)
    if isinstance(hint, type) and issubclass(hint, ModelBase):
        return NestedCodec(hint)
    raise TypeError(f"unsupported field type {hint!r}")


@attrs.frozen
class ModelSpec:
    """Per-class derived data: field names and codecs in serialisation order."""

    fields: tuple[tuple[str, Codec], ...]
    names: frozenset[str]
    required: frozenset[str]
    checks: tuple[tuple[str, Callable[[Any], Any], bool, Any], ...]
    """``(name, coerce, None is fine, default known valid)`` per field, for construction."""


_NO_DEFAULT = object()
_COMMON_LAST = ("created_at", "updated_at", "provenance", "field_provenance")


def _type_hints(cls: type[Any]) -> dict[str, Any]:
    """Resolve the field annotations of ``cls`` (strings under ``from __future__ import ...``).

    Annotations resolve in the modules that define the class and its bases (a public class names
    its front door in ``__module__``, see :func:`crmcore.compat.type_hints`). For classes defined
    where no module holds their names (``exec``-ed code), the namespace captured by
    :func:`register` is added.
    """
    return compat.type_hints(cls, cls.__dict__.get("_hint_namespace"))


def model_spec(cls: type[ModelBase]) -> ModelSpec:
    spec = cls.__dict__.get("_spec_cache")
    if spec is None:
        hints = _type_hints(cls)
        attr_fields = attrs.fields(cls)  # type: ignore[arg-type]
        order = [a.name for a in attr_fields if a.name not in _COMMON_LAST]
        order += [n for n in _COMMON_LAST if n in {a.name for a in attr_fields}]
        if "id" in order:
            order.remove("id")
            order.insert(0, "id")
        fields = tuple((name, codec_for(hints[name])) for name in order)
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
            checks.append((name, codec.coerce, isinstance(codec, OptionalCodec), default))
        spec = ModelSpec(fields, frozenset(order), required, tuple(checks))
        type.__setattr__(cls, "_spec_cache", spec)
    assert isinstance(spec, ModelSpec)
    return spec


def _problems(record_id: Any, field: str, value: Any, bad: BadValue) -> Iterator[FieldProblem]:
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
    _spec_cache: ClassVar[ModelSpec | None]

    def __attrs_post_init__(self) -> None:
        problems: list[FieldProblem] | None = None
        setter = object.__setattr__
        for name, coerce, nullable, default in model_spec(type(self)).checks:
            value = getattr(self, name)
            if value is default or (value is None and nullable):
                continue
            try:
                new = coerce(value)
            except BadValue as bad:
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
                    "<payload>", data, "type", f"expected a mapping, got {type_name(data)}"
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
            except BadValue as bad:
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

