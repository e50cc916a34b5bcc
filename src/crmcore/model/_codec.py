"""One spec codec: attrs spec classes to and from their dict form, driven by their fields.

A :class:`SpecCodec` serves one family of specs (workflow triggers, conditions, comparison
levels ...) dispatched by one key (``"type"``, ``"op"`` or ``"kind"``). Each class is registered
with a tag (or several, when the tag stands for field values: ``"not_in"`` is ``In`` with
``negate=True``); writing walks the class's attrs fields, reading checks the dict's keys against
them and builds the class. Fields need no code unless their dict form differs from their value:
a per-field :class:`SpecField` gives the key (``from_`` is written ``from``), an encoder, a decoder
(which may be another codec: nested specs), and when to leave the key out.

Every problem is a :class:`~crmcore.errors.FieldProblem` naming the path in the document
(``rules[2].trigger.days``), the value and the rule (``trigger.required``,
``condition.unknown_key`` ...); reading collects them all and raises one error.

Example:
    >>> import attrs
    >>> @attrs.frozen
    ... class Every:
    ...     days: int
    ...     label: str = ""
    >>> codec = SpecCodec("schedule", key="type")
    >>> codec.register(Every, "every")
    >>> codec.to_dict(Every(3))
    {'type': 'every', 'days': 3, 'label': ''}
    >>> codec.from_dict({"type": "every", "days": 3})
    Every(days=3, label='')
    >>> try:
    ...     codec.from_dict({"type": "every", "dayz": 3})
    ... except SerializationError as exc:
    ...     for problem in exc.problems:
    ...         print(problem)
    field 'schedule.dayz' value 3 broke rule 'schedule.unknown_key': unknown key
    field 'schedule.days' value None broke rule 'schedule.required': 'days' is required
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, ClassVar

import attrs

from crmcore.errors import CrmcoreError, FieldProblem, SerializationError

__all__ = ["DecodeContext", "SpecCodec", "SpecField"]


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


#: A key absent from the dict (a decoder returns it to leave the field at its default).
MISSING: Any = _Missing()

#: ``error(problems, summary) -> exception`` raised by :meth:`SpecCodec.from_dict`.
ErrorFactory = Callable[[list[FieldProblem], str], Exception]


@attrs.frozen
class DecodeContext:
    """Where a value sits while it is read: its path, the record (rule name) and the problems."""

    path: str
    record: str | None
    problems: list[FieldProblem]

    def problem(self, value: Any, rule: str, message: str, *, key: str | None = None) -> None:
        """Report a problem at this path (or at ``path.key``)."""
        where = self.path if key is None else self.at(key).path
        self.problems.append(FieldProblem(where, value, rule, message, self.record))

    def at(self, key: str) -> DecodeContext:
        """The context one step down (``path.key`` or ``path[i]`` for ``key="[i]"``)."""
        sep = "" if key.startswith("[") or not self.path else "."
        return DecodeContext(f"{self.path}{sep}{key}", self.record, self.problems)


Decoder = Callable[[Any, DecodeContext], Any]
Encoder = Callable[[Any], Any]


@attrs.frozen
class SpecField:
    """How one attrs field is written and read (everything optional).

    Args:
        key: The dict key (default: the field name without a trailing ``_``).
        encode: ``value -> dict form`` (default: nested specs through their codec, tuples as
            lists, mappings as dicts).
        decode: ``(dict form, context) -> value``; report problems through the context and
            return ``SpecCodec.MISSING`` to leave the field at its default.
        omit: ``value -> bool``: leave the key out when true (e.g. a default that older files
            never wrote).
        skip: Never written nor read (a value fixed by the tag, or derived).
        path: The step this field adds to problem paths (default: its key).
        absent: The value when the key is absent, where it differs from the field's default
            (what older readers did with a missing key).
    """

    key: str | None = None
    encode: Encoder | None = None
    decode: Decoder | None = None
    omit: Callable[[Any], bool] | None = None
    skip: bool = False
    path: str | None = None
    absent: Any = MISSING


@attrs.frozen
class _Spec:
    cls: type[Any]
    tags: Mapping[str, Mapping[str, Any]]  # tag -> field values it stands for
    tag_field: str | None  # a field whose value is the tag
    fields: tuple[tuple[str, str, SpecField, bool], ...]  # (name, key, how, required)
    keys: frozenset[str]
    extra: frozenset[str]  # keys accepted and ignored


# -- common field decoders ---------------------------------------------------------------------


def _list_of(decode: Decoder, *, rule: str, empty: str | None = None) -> Decoder:
    """A decoder of a list whose items ``decode`` reads (paths ``key[i]``); a tuple results."""

    def read(raw: Any, ctx: DecodeContext) -> Any:
        if not isinstance(raw, list):
            ctx.problem(raw, rule, "expected a list")
            return MISSING
        if not raw and empty is not None:
            ctx.problem([], rule, empty)
            return MISSING
        items = [decode(item, ctx.at(f"[{i}]")) for i, item in enumerate(raw)]
        if any(i is MISSING for i in items):
            return MISSING
        return tuple(items)

    return read


def _typed(kind: type | tuple[type, ...], rule: str, message: str) -> Decoder:
    """A decoder that accepts only instances of ``kind`` (``bool`` is not an ``int``)."""
    kinds = kind if isinstance(kind, tuple) else (kind,)
    no_bool = bool not in kinds

    def read(raw: Any, ctx: DecodeContext) -> Any:
        if not isinstance(raw, kinds) or (no_bool and isinstance(raw, bool)):
            ctx.problem(raw, rule, message)
            return MISSING
        return raw

    return read


def _nested(parse: Callable[..., Any]) -> Decoder:
    """A decoder from a ``parse(data, rule=..., path=...)`` function of another package.

    Its problems (an error carrying ``problems``) join the document's; the value is then left
    out.
    """

    def read(raw: Any, ctx: DecodeContext) -> Any:
        try:
            return parse(raw, rule=ctx.record, path=ctx.path)
        except CrmcoreError as exc:
            found: Sequence[FieldProblem] = getattr(exc, "problems", ())
            if not found:
                raise
            ctx.problems.extend(found)
            return MISSING

    return read


def _equals(default: Any) -> Callable[[Any], bool]:
    def same(value: Any) -> bool:
        return default is not attrs.NOTHING and bool(value == default)

    return same


def _plain(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, (frozenset, set)):
        return sorted((_plain(v) for v in value), key=repr)
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    return value


class SpecCodec:
    """Dict form of a family of attrs spec classes, dispatched by one key.

    Args:
        family: The family's name, used in problem rules (``"<family>.required"``) and paths.
        key: The dispatch key (``"type"``, ``"op"``, ``"kind"``), or ``None`` for a family of
            one class written without a tag.
        error: Builds the exception :meth:`from_dict` raises from the problems (default
            :class:`~crmcore.errors.SerializationError`).
        noun: What one spec is called in messages (default: the family).
        catch: Exceptions of a class's constructor reported as problems (besides crmcore's
            own errors).
    """

    #: Returned by a decoder to leave the field at its default (the key counts as absent).
    MISSING: ClassVar[Any] = MISSING
    list_of = staticmethod(_list_of)
    typed = staticmethod(_typed)
    nested = staticmethod(_nested)

    def __init__(
        self,
        family: str,
        *,
        key: str | None = "type",
        error: ErrorFactory | None = None,
        noun: str | None = None,
        catch: tuple[type[Exception], ...] = (TypeError, ValueError),
    ) -> None:
        self.family = family
        self.noun = noun or family
        self.catch = catch
        self.key = key
        self.error: ErrorFactory = error or SerializationError
        self._by_tag: dict[str, _Spec] = {}
        self._by_cls: dict[type[Any], _Spec] = {}

    # -- registration -------------------------------------------------------------------------

    def register(
        self,
        cls: type[Any],
        tag: str | Iterable[str] | Mapping[str, Mapping[str, Any]] | None = None,
        *,
        tag_field: str | None = None,
        fields: Mapping[str, SpecField] | None = None,
        order: Sequence[str] | None = None,
        extra: Iterable[str] = (),
        omit_defaults: bool = False,
    ) -> None:
        """Register an attrs class under its tag(s).

        Args:
            cls: The attrs class.
            tag: One tag; several tags, each the value of ``tag_field``; or ``tag -> field
                values`` it stands for (``{"in": {"negate": False}, "not_in": {...}}``).
            tag_field: The field whose value is the tag (``Compare.cmp``: ``"eq"``, ``"lt"``).
            fields: Per-field :class:`SpecField` where the default does not fit.
            order: Keys in the written order (default: field order).
            extra: Keys accepted on reading and ignored (written by older releases).
            omit_defaults: Leave out fields whose value equals their (non-factory) default.
        """
        how = dict(fields or {})
        tags: dict[str, Mapping[str, Any]]
        if tag is None:
            tags = {}
        elif isinstance(tag, str):
            tags = {tag: {}}
        elif isinstance(tag, Mapping):
            tags = {t: dict(v) for t, v in tag.items()}
        else:
            tags = {t: {tag_field: t} if tag_field else {} for t in tag}
        fixed = {name for values in tags.values() for name in values}
        rows = []
        for a in attrs.fields(cls):
            if not a.init:
                continue
            f = how.get(a.name, SpecField())
            if f.skip or a.name in fixed:
                continue
            if omit_defaults and f.omit is None and not isinstance(a.default, attrs.Factory):  # type: ignore[arg-type]
                f = attrs.evolve(f, omit=_equals(a.default))
            key = f.key or a.name.rstrip("_")
            required = a.default is attrs.NOTHING
            rows.append((a.name, key, f, required))
        if order is not None:
            rank = {k: i for i, k in enumerate(order)}
            rows.sort(key=lambda r: rank.get(r[1], len(rank)))
        spec = _Spec(cls, tags, tag_field, tuple(rows), frozenset(r[1] for r in rows),
                     frozenset(extra))  # fmt: skip
        for t in tags:
            self._by_tag[t] = spec
        if self.key is None:
            self._by_tag[""] = spec
        self._by_cls[cls] = spec

    @property
    def tags(self) -> tuple[str, ...]:
        """Every registered tag, sorted."""
        return tuple(sorted(t for t in self._by_tag if t))

    def handles(self, value: Any) -> bool:
        """Whether ``value`` is an instance of a registered class."""
        return type(value) in self._by_cls

    # -- writing ------------------------------------------------------------------------------

    def to_dict(self, obj: Any) -> dict[str, Any]:
        """The dict form of a registered spec."""
        spec = self._by_cls.get(type(obj))
        if spec is None:
            raise SerializationError(
                FieldProblem(self.family, obj, f"{self.family}.class",
                             f"{type(obj).__name__} is not a registered {self.family}")
            )  # fmt: skip
        out: dict[str, Any] = {}
        if self.key is not None:
            out[self.key] = self._tag_of(spec, obj)
        for name, key, how, _ in spec.fields:
            value = getattr(obj, name)
            if how.omit is not None and how.omit(value):
                continue
            out[key] = how.encode(value) if how.encode is not None else _plain(value)
        return out

    def _tag_of(self, spec: _Spec, obj: Any) -> str:
        if spec.tag_field is not None:
            return str(getattr(obj, spec.tag_field))
        for tag, values in spec.tags.items():
            if all(getattr(obj, k) == v for k, v in values.items()):
                return tag
        raise SerializationError(
            FieldProblem(self.family, obj, f"{self.family}.tag", "no tag fits the value")
        )

    # -- reading ------------------------------------------------------------------------------

    def from_dict(
        self, data: Any, *, record: str | None = None, path: str | None = None
    ) -> Any:
        """Build a spec from its dict form, or raise every problem at once.

        Args:
            data: The dict form.
            record: The enclosing record's name (a rule name), quoted in problems.
            path: Where the dict sits in its document (default: the family name).
        """
        problems: list[FieldProblem] = []
        out = self.decode(data, DecodeContext(path or self.family, record, problems))
        if problems or out is MISSING:
            where = f" in {record!r}" if record is not None else ""
            raise self.error(problems, f"invalid {self.noun}{where}")
        return out

    def decoder(self) -> Decoder:
        """This codec as a field decoder (for nested specs)."""
        return self.decode

    def decode(self, data: Any, ctx: DecodeContext) -> Any:
        """Build a spec, reporting problems to ``ctx``; ``SpecCodec.MISSING`` when it cannot."""
        fam = self.family
        if not isinstance(data, Mapping):
            ctx.problem(data, f"{fam}.type", f"a {self.noun} must be an object")
            return MISSING
        tag: Any = ""
        spec: _Spec | None = self._by_tag[""] if self.key is None else None
        if self.key is not None:
            tag = data.get(self.key)
            spec = self._by_tag.get(tag) if isinstance(tag, str) else None
            if spec is None:
                ctx.problem(tag, f"{fam}.{self.key}", f"unknown {self.noun} {self.key} {tag!r}; "
                            f"expected one of {', '.join(self.tags)}", key=self.key)  # fmt: skip
                return MISSING
        assert spec is not None
        before = len(ctx.problems)
        allowed = spec.keys | spec.extra | ({self.key} if self.key else set())
        for key in sorted(k for k in data if k not in allowed):
            ctx.problem(data[key], f"{fam}.unknown_key", "unknown key", key=str(key))
        kwargs: dict[str, Any] = dict(spec.tags.get(tag, {}))
        if spec.tag_field is not None:
            kwargs[spec.tag_field] = tag
        for name, key, how, required in spec.fields:
            if key not in data:
                if how.absent is not MISSING:
                    kwargs[name] = how.absent
                elif required:
                    ctx.problem(None, f"{fam}.required", f"{key!r} is required", key=key)
                continue
            raw = data[key]
            decode = how.decode
            value = raw if decode is None else decode(raw, ctx.at(how.path or key))
            if value is not MISSING:
                kwargs[name] = value
        if len(ctx.problems) > before:
            return MISSING
        return self.build(spec.cls, kwargs, ctx, data)

    def build(
        self, cls: type[Any], kwargs: Mapping[str, Any], ctx: DecodeContext, data: Any
    ) -> Any:
        """Construct ``cls``; its own validation problems are re-pathed under ``ctx``."""
        try:
            return cls(**kwargs)
        except CrmcoreError as exc:
            found: Sequence[FieldProblem] = getattr(exc, "problems", ())
            if not found:
                ctx.problem(_plain_data(data), f"{self.family}.value", str(exc))
            for p in found:
                ctx.problems.append(
                    attrs.evolve(p, field=_repath(p.field, self.family, ctx.path),
                                 record=ctx.record if ctx.record is not None else p.record)
                )  # fmt: skip
        except self.catch as exc:
            ctx.problem(_plain_data(data), f"{self.family}.value", str(exc))
        return MISSING


def _plain_data(data: Any) -> Any:
    return dict(data) if isinstance(data, Mapping) else data


def _repath(field: str, family: str, path: str) -> str:
    """A class's own problem field (``family.x`` or ``x``) as a path in the document."""
    if field == family:
        return path
    if field.startswith(family + "."):
        field = field[len(family) + 1 :]
    return f"{path}.{field}" if path else field
