"""Tests for the spec codec (crmcore.model.SpecCodec): dispatch, fields, problems, round trips."""

from __future__ import annotations

import json
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crmcore.errors import CrmcoreError, FieldProblem, RuleValidationError, SerializationError
from crmcore.model import DecodeContext, SpecCodec, SpecField


def _positive(instance: Any, attribute: Any, value: Any) -> None:
    if value <= 0:
        raise SerializationError(FieldProblem(f"shape.{attribute.name}", value, "shape.positive",
                                              "must be > 0"))  # fmt: skip


@attrs.frozen
class Square:
    side: float = attrs.field(validator=_positive)
    label: str = ""


@attrs.frozen
class Range:
    field: str
    low: int = 0
    inclusive: bool = True


@attrs.frozen
class Group:
    shapes: tuple[Any, ...]
    from_: str = "origin"
    note: str | None = None


@attrs.frozen
class Plain:
    name: str


class _Broken(CrmcoreError):
    """An error without problems (one line)."""


@attrs.frozen
class Strict:
    value: int = attrs.field()

    @value.validator
    def _check(self, _a: object, value: int) -> None:
        if value == 13:
            raise _Broken("13 is unlucky")


def _codec() -> SpecCodec:
    codec = SpecCodec("shape", key="kind")
    codec.register(Square, "square")
    codec.register(Range, {"range": {"inclusive": True}, "open_range": {"inclusive": False}})
    codec.register(
        Group,
        "group",
        fields={
            "shapes": SpecField(
                encode=lambda xs: [codec.to_dict(x) for x in xs],
                decode=SpecCodec.list_of(codec.decode, rule="shape.shapes"),
                path="members",
            ),
            "note": SpecField(omit=lambda v: v is None),
        },
    )
    codec.register(Strict, "strict")
    return codec


CODEC = _codec()

squares = st.builds(Square, st.floats(0.001, 1e6), st.text(max_size=5))
ranges = st.builds(Range, st.text(min_size=1, max_size=5), st.integers(-5, 5), st.booleans())
leaves = st.one_of(squares, ranges)
shapes = st.recursive(
    leaves,
    lambda inner: st.builds(
        Group, st.lists(inner, max_size=3).map(tuple), st.text(max_size=3),
        st.none() | st.text(max_size=3),
    ),
    max_leaves=6,
)


class TestWriting:
    def test_tag_then_fields_in_order(self) -> None:
        """The dispatch key comes first, then the fields in attrs order."""
        assert list(CODEC.to_dict(Square(2.0))) == ["kind", "side", "label"]

    def test_tag_for_field_values(self) -> None:
        """A tag that stands for field values is chosen from them, and the field is not written."""
        assert CODEC.to_dict(Range("x", inclusive=False)) == {"kind": "open_range", "field": "x",
                                                              "low": 0}  # fmt: skip

    def test_trailing_underscore_and_omit(self) -> None:
        """``from_`` is written ``from``; an omitted default is left out."""
        out = CODEC.to_dict(Group((), "a"))
        assert out == {"kind": "group", "shapes": [], "from": "a"}

    def test_unregistered_class(self) -> None:
        """Writing a class the codec does not know is refused."""
        with pytest.raises(SerializationError):
            CODEC.to_dict(Plain("x"))


class TestReading:
    def test_every_problem_with_its_path(self) -> None:
        """Unknown keys, missing keys, bad tags and validation problems are all reported."""
        data = {"kind": "group", "members": 1, "shapes": [
            {"kind": "square", "side": -1},
            {"kind": "range"},
            {"kind": "hexagon"},
            "nope",
        ]}  # fmt: skip
        with pytest.raises(SerializationError) as info:
            CODEC.from_dict(data, record="r1", path="doc")
        got = {(p.field, p.rule) for p in info.value.problems}
        assert got == {
            ("doc.members", "shape.unknown_key"),
            ("doc.members[0].side", "shape.positive"),
            ("doc.members[1].field", "shape.required"),
            ("doc.members[2].kind", "shape.kind"),
            ("doc.members[3]", "shape.type"),
        }
        assert all(p.record == "r1" for p in info.value.problems)

    def test_error_without_problems_becomes_one(self) -> None:
        """A class error without problems is reported as one problem naming the value."""
        with pytest.raises(SerializationError) as info:
            CODEC.from_dict({"kind": "strict", "value": 13})
        (problem,) = info.value.problems
        assert (problem.field, problem.rule, problem.message) == (
            "shape", "shape.value", "13 is unlucky"
        )

    def test_type_error_becomes_a_problem(self) -> None:
        """A value the class cannot take is a problem, not a crash."""
        with pytest.raises(SerializationError) as info:
            CODEC.from_dict({"kind": "square", "side": "wide"})
        assert info.value.problems[0].rule == "shape.value"

    def test_custom_error(self) -> None:
        """A codec raises the error its family uses."""
        codec = SpecCodec("rule", key=None, error=RuleValidationError)
        codec.register(Plain)
        assert codec.from_dict({"name": "x"}) == Plain("x")
        with pytest.raises(RuleValidationError):
            codec.from_dict({})

    def test_typed_decoder(self) -> None:
        """``typed`` refuses other types, and booleans for numbers."""
        problems: list[FieldProblem] = []
        read = SpecCodec.typed(int, "x.int", "expected int")
        assert read(3, DecodeContext("a", None, problems)) == 3
        assert read(True, DecodeContext("a", None, problems)) is SpecCodec.MISSING
        assert [p.rule for p in problems] == ["x.int"]

    def test_nested_parser(self) -> None:
        """A parse function of another package joins its problems to the document's."""
        problems: list[FieldProblem] = []
        read = SpecCodec.nested(lambda raw, rule, path: CODEC.from_dict(raw, record=rule,
                                                                        path=path))  # fmt: skip
        got = read({"kind": "square"}, DecodeContext("x.shape", "r", problems))
        assert got is SpecCodec.MISSING
        assert [(p.field, p.record) for p in problems] == [("x.shape.side", "r")]


class TestRoundTrip:
    @settings(max_examples=150, deadline=None)
    @given(shapes)
    def test_json_round_trip(self, shape: Any) -> None:
        """to_dict -> JSON -> from_dict gives back an equal value."""
        text = json.dumps(CODEC.to_dict(shape))
        assert CODEC.from_dict(json.loads(text)) == shape

    @settings(max_examples=100, deadline=None)
    @given(shapes, st.sampled_from(["kind", "side", "field", "shapes", "label", "low", "zzz"]))
    def test_a_dropped_or_added_key_is_reported_or_defaulted(self, shape: Any, key: str) -> None:
        """Dropping a key gives the default or a 'required' problem; never a silent other value."""
        data = CODEC.to_dict(shape)
        data.pop(key, None) if key in data else data.update({key: 1})
        defaults = {a.name: a.default for a in attrs.fields(type(shape))}
        if defaults.get(key, attrs.NOTHING) is attrs.NOTHING:
            with pytest.raises(SerializationError) as info:
                CODEC.from_dict(data)
            assert all(p.rule.startswith("shape.") for p in info.value.problems)
        else:
            assert getattr(CODEC.from_dict(data), key) == defaults[key]
