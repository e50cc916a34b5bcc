"""Tests for crmcore.conditions."""

from __future__ import annotations

import enum
import json
from datetime import UTC, date, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crmcore.conditions import _language as c
from crmcore.conditions import to_datetime
from crmcore.errors import RuleValidationError
from tests.workflows.strategies import conditions, records

NOW = datetime(2024, 6, 1, tzinfo=UTC)


class Stage(enum.Enum):
    WON = "won"


class TestEvaluate:
    def test_comparisons(self) -> None:
        """Each comparison operator compares the field with the constant."""
        rec = {"amount": 10}
        assert c.evaluate(c.eq("amount", 10), rec)
        assert c.evaluate(c.ne("amount", 11), rec)
        assert c.evaluate(c.lt("amount", 11), rec)
        assert c.evaluate(c.le("amount", 10), rec)
        assert c.evaluate(c.gt("amount", 9), rec)
        assert c.evaluate(c.ge("amount", 10), rec)
        assert not c.evaluate(c.gt("amount", 10), rec)

    def test_unorderable_is_false(self) -> None:
        """Ordering text against a number, or anything against None, is false, not an error."""
        assert not c.evaluate(c.lt("amount", 3), {"amount": "a"})
        assert not c.evaluate(c.gt("amount", 3), {})

    def test_boolean_combinators(self) -> None:
        """all/any/not combine, with the empty all true and the empty any false."""
        rec = {"stage": "won"}
        assert c.evaluate(c.all_(), rec)
        assert not c.evaluate(c.any_(), rec)
        assert c.evaluate(c.any_(c.eq("stage", "lost"), c.eq("stage", "won")), rec)
        assert c.evaluate(c.not_(c.eq("stage", "lost")), rec)
        assert c.evaluate(c.eq("stage", "won") & ~c.eq("stage", "x"), rec)

    def test_membership_and_contains(self) -> None:
        """in/not_in test membership; contains works on text and collections."""
        rec = {"country": "DE", "tags": ("vip",), "notes": "call back"}
        assert c.evaluate(c.in_("country", ["DE", "AT"]), rec)
        assert c.evaluate(c.not_in("country", ["FR"]), rec)
        assert c.evaluate(c.contains("tags", "vip"), rec)
        assert c.evaluate(c.contains("notes", "back"), rec)
        assert not c.evaluate(c.contains("missing", "x"), rec)

    def test_empty(self) -> None:
        """None, missing, blank text and empty collections are empty."""
        for value in (None, "", "  ", (), {}):
            assert c.evaluate(c.empty("f"), {"f": value})
        assert c.evaluate(c.empty("f"), {})
        assert c.evaluate(c.not_empty("f"), {"f": 0})

    def test_changed_family(self) -> None:
        """changed / changed_to / changed_from read the change, false without one."""
        change = {"stage": ("open", "won")}
        rec = {"stage": "won"}
        assert c.evaluate(c.changed("stage"), rec, change=change)
        assert c.evaluate(c.changed_to("stage", "won"), rec, change=change)
        assert c.evaluate(c.changed_from("stage", "open"), rec, change=change)
        assert not c.evaluate(c.changed("stage"), rec)
        assert not c.evaluate(c.changed("stage"), rec, change={"stage": ("won", "won")})

    def test_changed_nested_path(self) -> None:
        """A dotted path looks inside a changed nested mapping."""
        change = {"address": ({"country": "DE"}, {"country": "FR"})}
        assert c.evaluate(c.changed_to("address.country", "FR"), {}, change=change)
        assert not c.evaluate(c.changed("address.city"), {}, change=change)

    def test_older_newer(self) -> None:
        """older_than / newer_than compare a date with now minus days; empty dates are neither."""
        rec = {"d": "2024-05-01", "e": None}
        assert c.evaluate(c.older_than("d", 14), rec, now=NOW)
        assert not c.evaluate(c.newer_than("d", 14), rec, now=NOW)
        assert c.evaluate(c.newer_than("d", 60), rec, now=NOW)
        assert not c.evaluate(c.older_than("e", 1), rec, now=NOW)
        assert not c.evaluate(c.newer_than("e", 1), rec, now=NOW)

    def test_related_path(self) -> None:
        """A dotted path reaches related records by name (mapping or callable)."""
        rec = {"id": "d1"}
        related = {"account": {"country": "DE"}}
        assert c.evaluate(c.eq("account.country", "DE"), rec, related=related)
        assert c.evaluate(
            c.eq("account.country", "DE"), rec, related=lambda name: {"country": "DE"}
        )
        assert c.evaluate(c.empty("account.country"), rec)

    def test_dates_and_enums_coerce(self) -> None:
        """ISO strings compare as dates against date constants; enums by value."""
        assert c.evaluate(c.lt("d", date(2024, 1, 2)), {"d": "2024-01-01"})
        assert c.evaluate(c.ge("d", "2024-01-01"), {"d": datetime(2024, 1, 1, 5, tzinfo=UTC)})
        assert c.evaluate(c.eq("stage", "won"), {"stage": Stage.WON})

    def test_zone_suffixed_strings(self) -> None:
        """Datetimes a model record wrote with its IANA zone ("...[Europe/Paris]") are dates."""
        from zoneinfo import ZoneInfo

        from crmcore.model import format_datetime

        when = datetime(2024, 5, 1, 23, 30, tzinfo=ZoneInfo("Europe/Paris"))
        text = format_datetime(when)
        assert text.endswith("[Europe/Paris]")
        assert to_datetime(text) == when
        assert to_datetime(text).tzinfo == ZoneInfo("Europe/Paris")  # type: ignore[union-attr]
        assert to_datetime("2024-05-01T23:30:00+02:00[Mars/Olympus]") is None
        rec = {"d": text}
        assert c.evaluate(c.older_than("d", 14), rec, now=NOW)
        assert c.evaluate(c.gt("d", datetime(2024, 5, 1, 21, 29, tzinfo=UTC)), rec)
        assert not c.evaluate(c.gt("d", datetime(2024, 5, 1, 21, 30, tzinfo=UTC)), rec)

    def test_predicate(self) -> None:
        """Python callables are conditions and see the context."""
        cond = c.all_(c.eq("stage", "won"), lambda ctx: ctx.get("amount") > 5)
        assert c.evaluate(cond, {"stage": "won", "amount": 6})
        assert not c.evaluate(cond, {"stage": "won", "amount": 4})


class TestEvaluateMany:
    @settings(max_examples=60, deadline=None)
    @given(conditions, st.lists(records, max_size=5))
    def test_same_as_one_by_one(self, cond, recs) -> None:
        """Batch evaluation equals evaluating each record on its own."""
        related = lambda rec, name: {"country": "DE"}  # noqa: E731
        got = c.evaluate_many(cond, recs, related=related, now=NOW)
        assert got == [
            c.evaluate(cond, r, related=lambda n, r=r: related(r, n), now=NOW) for r in recs
        ]


class TestValidation:
    def test_bad_field(self) -> None:
        """An empty field path is refused on construction."""
        with pytest.raises(RuleValidationError):
            c.eq("", 1)

    def test_bad_constant(self) -> None:
        """A constant that cannot go to JSON is refused."""
        with pytest.raises(RuleValidationError):
            c.eq("x", object())

    def test_negative_days(self) -> None:
        """Negative days are refused."""
        with pytest.raises(RuleValidationError):
            c.older_than("x", -1)


class TestConditionFromDict:
    def test_errors_name_rule_and_field(self) -> None:
        """Every problem names the rule and the path of the offending field."""
        bad = {"op": "all", "conditions": [{"op": "eq", "field": "", "value": 1}, {"op": "zz"}]}
        with pytest.raises(RuleValidationError) as info:
            c.condition_from_dict(bad, rule="r1")
        fields = {p.field for p in info.value.problems}
        assert fields == {"condition.all[0].field", "condition.all[1].op"}
        assert all(p.record == "r1" for p in info.value.problems)

    def test_missing_and_unknown_keys(self) -> None:
        """A missing required key and an unknown key are both reported."""
        with pytest.raises(RuleValidationError) as info:
            c.condition_from_dict({"op": "eq", "field": "x", "colour": 1})
        rules = {p.rule for p in info.value.problems}
        assert rules == {"condition.unknown_key", "condition.required"}

    def test_predicate_not_serialisable(self) -> None:
        """A predicate cannot be written to a rule file."""
        with pytest.raises(RuleValidationError):
            c.predicate(lambda ctx: True).to_dict()

    @settings(max_examples=150, deadline=None)
    @given(conditions)
    def test_json_round_trip(self, cond: c.Condition) -> None:
        """to_dict -> JSON -> condition_from_dict gives back an equal condition."""
        text = json.dumps(cond.to_dict())
        assert c.condition_from_dict(json.loads(text)) == cond


class TestReferencedFields:
    @settings(max_examples=100, deadline=None)
    @given(conditions, records, records)
    def test_unreferenced_fields_do_not_matter(self, cond, rec, other) -> None:
        """Changing fields a condition does not reference never changes its result."""
        used = c.referenced_fields(cond)
        assert used is not None
        mixed = {k: v for k, v in rec.items() if k.split(".")[0] in used}
        mixed.update({k: v for k, v in other.items() if k.split(".")[0] not in used})
        change = {"stage": ("a", "b")}
        assert c.evaluate(cond, rec, change=change, now=NOW) == c.evaluate(
            cond, mixed | {k: v for k, v in rec.items() if k in used}, change=change, now=NOW
        )


# -- brute-force reference over the dict form (plain ints, text and None only) ---------------


plain = st.one_of(st.none(), st.integers(-3, 3), st.sampled_from(["a", "b", ""]))
plain_fields = st.sampled_from(["x", "y", "z"])
plain_leaf = st.one_of(
    st.builds(c.Compare, plain_fields, st.sampled_from(c.COMPARISON_OPS), plain),
    st.builds(c.In, plain_fields, st.lists(plain, max_size=3).map(tuple), st.booleans()),
    st.builds(c.Empty, plain_fields, st.booleans()),
    st.builds(c.Changed, plain_fields),
    st.builds(c.ChangedTo, plain_fields, plain),
    st.builds(c.ChangedFrom, plain_fields, plain),
)
plain_conditions = st.recursive(
    plain_leaf,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3).map(lambda xs: c.AllOf(tuple(xs))),
        st.lists(inner, max_size=3).map(lambda xs: c.AnyOf(tuple(xs))),
        inner.map(c.Not),
    ),
    max_leaves=6,
)
plain_records = st.dictionaries(plain_fields, plain, max_size=3)


def reference(d, rec, change) -> bool:
    """A deliberately naive interpreter of the dict form."""
    op = d["op"]
    if op == "all":
        return all(reference(x, rec, change) for x in d["conditions"])
    if op == "any":
        return any(reference(x, rec, change) for x in d["conditions"])
    if op == "not":
        return not reference(d["condition"], rec, change)
    v = rec.get(d["field"])
    if op in ("changed", "changed_to", "changed_from"):
        if d["field"] not in change or change[d["field"]][0] == change[d["field"]][1]:
            return False
        before, after = change[d["field"]]
        return op == "changed" or (after if op == "changed_to" else before) == d["value"]
    if op == "empty":
        return v is None or v == ""
    if op == "not_empty":
        return not (v is None or v == "")
    if op == "in":
        return v in d["values"]
    if op == "not_in":
        return v not in d["values"]
    w = d["value"]
    if op == "eq":
        return v == w
    if op == "ne":
        return v != w
    if v is None or w is None or type(v) is not type(w):
        return False
    return {"lt": v < w, "le": v <= w, "gt": v > w, "ge": v >= w}[op]


class TestAgainstReference:
    @settings(max_examples=300, deadline=None)
    @given(plain_conditions, plain_records, plain_records)
    def test_matches_naive_interpreter(self, cond, rec, before) -> None:
        """evaluate agrees with a naive interpreter of the dict form."""
        change = {k: (before.get(k), rec.get(k)) for k in set(rec) | set(before)}
        got = c.evaluate(cond, rec, change=change, now=NOW)
        assert got == reference(cond.to_dict(), rec, change)


def test_decimal_constants_round_trip() -> None:
    """A Decimal constant is written as {"$decimal": text} and read back as the same Decimal;
    a non-finite one or bad text is refused."""
    import json
    from decimal import Decimal

    from crmcore.conditions import decode_value, encode_value

    value = [Decimal("10.50"), Decimal("-0.001"), 3]
    data = json.loads(json.dumps(encode_value(value)))
    assert data[0] == {"$decimal": "10.50"}
    assert decode_value(data) == (Decimal("10.50"), Decimal("-0.001"), 3)
    with pytest.raises(TypeError):
        encode_value(Decimal("NaN"))
    with pytest.raises(TypeError):
        decode_value({"$decimal": "ten"})
