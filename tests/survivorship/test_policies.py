"""Policies: each built-in policy, custom functions, validators, and rule construction."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crmcore.errors import SurvivorshipError
from crmcore.survivorship import (
    Aggregate,
    Earliest,
    FieldRule,
    FirstNonNull,
    FunctionPolicy,
    Highest,
    Longest,
    Lowest,
    MostFrequent,
    MostRecent,
    RegexValidator,
    SourcePriority,
    SourceRecord,
    SurvivorshipRules,
    TrustDecay,
    merge_field,
)
from crmcore.survivorship._policies import parse_time_us, parse_times_us
from tests.survivorship.strategies import T0


def rec(rid: str, source: str, day: int | None, value: object) -> SourceRecord:
    when = None if day is None else T0 + dt.timedelta(days=day)
    return SourceRecord(rid, source, when, {"f": value})


RECS = [rec("a", "crm", 1, "10"), rec("b", "erp", 3, "9.5"), rec("c", "web", 2, "Lyon"),
        rec("d", "web", None, "10")]


def winner(rule: FieldRule, recs=RECS, priority=()) -> object:
    return merge_field("f", recs, rule, priority).value


class TestBuiltInPolicies:
    @pytest.mark.parametrize(
        ("policy", "expected"),
        [
            (MostRecent(), "9.5"),
            (Earliest(), "10"),
            (MostFrequent(), "10"),
            (SourcePriority(("web", "crm")), "Lyon"),  # web: c and d tie, record id c
            (Longest(), "Lyon"),
            (Highest(), "10"),
            (Lowest(), "9.5"),
            (Highest(kind="text"), "Lyon"),
            (FirstNonNull(("erp",)), "9.5"),
        ],
    )
    def test_each_policy(self, policy, expected):
        """Each built-in policy picks the value its definition says."""
        assert winner(FieldRule(policy)) == expected

    def test_dates_compare_as_dates(self):
        """Highest(kind='date') compares parsed dates, not text."""
        recs = [rec("a", "crm", 0, "2024-02-01"), rec("b", "crm", 0, "2023-12-31T23:00:00Z"),
                rec("c", "crm", 0, "someday")]
        assert winner(FieldRule(Highest(kind="date")), recs) == "2024-02-01"
        assert winner(FieldRule(Lowest(kind="date")), recs) == "2023-12-31T23:00:00Z"

    def test_trust_decay(self):
        """An old value from a trusted source loses to a fresh one from a less trusted one."""
        policy = TrustDecay({"crm": 1.0, "erp": 0.5}, dt.timedelta(days=1), T0 + dt.timedelta(10))
        recs = [rec("a", "crm", 1, "old"), rec("b", "erp", 9, "fresh")]
        assert winner(FieldRule(policy), recs) == "fresh"
        fresh_crm = [rec("a", "crm", 9, "crm"), rec("b", "erp", 9, "erp")]
        assert winner(FieldRule(policy), fresh_crm) == "crm"
        assert winner(FieldRule(policy), [rec("c", "web", 9, "x")]) is None

    def test_source_priority_unlisted_falls_back(self):
        """Unlisted sources are not eligible; the fallback then decides."""
        rule = FieldRule(SourcePriority(("nowhere",)), fallbacks=(Earliest(),))
        lin = merge_field("f", RECS, rule)
        assert (lin.value, lin.policy) == ("10", "earliest")

    def test_global_source_priority(self):
        """An empty ranking uses the rules' source priority."""
        assert winner(FieldRule(SourcePriority()), priority=("erp",)) == "9.5"


class TestFunctionPolicy:
    def test_plain_function_is_wrapped(self):
        """A plain function becomes a FunctionPolicy named after it."""

        def shortest(cands):
            return min(cands, key=lambda c: len(c.value))

        rule = FieldRule(shortest)
        assert isinstance(rule.policy, FunctionPolicy)
        lin = merge_field("f", RECS, rule)
        assert (lin.value, lin.policy) == ("10", "shortest")

    def test_foreign_candidate_refused(self):
        """A function returning something it was not given is an error naming the policy."""
        bad = FunctionPolicy(lambda cands: [object()], label="bad")
        with pytest.raises(SurvivorshipError, match=r"'bad'.*'f'"):
            winner(FieldRule(bad))


class TestFieldRule:
    def test_aggregate_takes_no_chain(self):
        """Aggregates cannot have tie-breakers, nor be tie-breakers."""
        with pytest.raises(SurvivorshipError):
            FieldRule(Aggregate(), tie_breakers=(MostRecent(),))
        with pytest.raises(SurvivorshipError):
            FieldRule(MostRecent(), tie_breakers=(Aggregate(),))

    def test_not_a_policy(self):
        """A non-policy value is refused."""
        with pytest.raises(SurvivorshipError, match="not a survivorship policy"):
            FieldRule(42)  # type: ignore[arg-type]

    def test_normalizer_validation_and_key(self):
        """A normalizer name validates and keys the field (equal emails count once)."""
        rule = FieldRule(MostFrequent(), tie_breakers=(MostRecent(),), validate="email",
                         key="email")
        recs = [rec("a", "crm", 1, "ANN@acme.io"), rec("b", "erp", 2, "ann@acme.io "),
                rec("c", "web", 3, "bob@acme.io"), rec("d", "web", 4, "not an email")]
        lin = merge_field("f", recs, rule)
        assert lin.value == "ann@acme.io "
        assert [r.candidate.record_id for r in lin.rejected] == ["d"]

    def test_unknown_normalizer(self):
        """An unknown normalizer name is reported when the rule is used."""
        with pytest.raises(SurvivorshipError, match="unknown normalizer"):
            FieldRule(MostRecent(), validate="nope").validator()

    def test_rules_default_and_with_fields(self):
        """Unlisted fields use the default; with_fields adds rules without changing the old."""
        rules = SurvivorshipRules()
        more = rules.with_fields(city=FieldRule(Longest()))
        assert rules.rule_for("city").policy.name == "most_recent"
        assert more.rule_for("city").policy.name == "longest"

    def test_bad_trust_and_half_life(self):
        """Trust outside [0, 1] and non-positive half-lives are refused."""
        with pytest.raises(SurvivorshipError, match="trust"):
            TrustDecay({"crm": 2.0}, dt.timedelta(days=1), T0)
        with pytest.raises(SurvivorshipError, match="half_life"):
            TrustDecay({"crm": 1.0}, dt.timedelta(0), T0)


TEXTS = st.one_of(st.none(), st.text(max_size=12), st.sampled_from(
    ["ann@acme.io", " a@b.co ", "a@b", "x\n@y.z", "@@", "a@b.c.d"]
))


class TestVectorisedHelpers:
    @settings(max_examples=80, deadline=None)
    @given(values=st.lists(TEXTS, max_size=12))
    def test_regex_many_equals_call(self, values):
        """RegexValidator.many gives the same answers as calling it value by value."""
        v = RegexValidator(r"\s*[^@\s]+@[^@\s]+\.[^@\s.]+\s*")
        assert v.many(values).tolist() == [v(x) for x in values]

    @settings(max_examples=80, deadline=None)
    @given(values=st.lists(st.one_of(
        st.none(), st.sampled_from(["2024-01-01", "2024-01-01T10:00:00Z", "1 Jan 2024", "nope"]),
        st.datetimes(min_value=dt.datetime(1971, 1, 1), max_value=dt.datetime(2100, 1, 1)),
    ), max_size=8))
    def test_parse_times_equals_scalar(self, values):
        """parse_times_us equals parse_time_us value by value."""
        got = parse_times_us(values).tolist()
        want = [parse_time_us(v) for v in values]
        assert [None if g != g else g for g in got] == want

    @settings(max_examples=15, deadline=None)
    @given(values=st.lists(st.one_of(
        st.sampled_from(["2024-01-01", "2024-02-30", " 2024-01-01", "2024-01-01T10:00:00Z",
                         "NaT", "2024-01-01 10:00", "2024", "soon", "Z"]),
        st.datetimes(min_value=dt.datetime(1971, 1, 1), max_value=dt.datetime(2100, 1, 1)).map(
            lambda d: d.isoformat()
        ),
    ), min_size=1, max_size=6))
    def test_parse_times_large_equals_scalar(self, values):
        """Past the size where the bare-text check runs, still equal value by value."""
        big = values * (2001 // len(values) + 1)
        one = {v: parse_time_us(v) for v in values}
        got = parse_times_us(big).tolist()
        assert [None if g != g else g for g in got] == [one[v] for v in big]


def test_parse_time_reads_zone_suffixes() -> None:
    """Zoned datetimes as crmcore.model writes them (RFC 9557 ``[Zone/Name]``) parse to the
    same instant as their UTC form, one by one and in bulk; an unknown zone parses to nothing."""
    assert parse_time_us("2024-03-30T12:00:00+01:00[Europe/Paris]") == parse_time_us(
        "2024-03-30T11:00:00Z")
    assert parse_time_us("2024-07-30T12:00:00[Europe/Paris]") == parse_time_us(
        "2024-07-30T10:00:00Z")
    assert parse_time_us("2024-07-30T12:00:00[Nowhere/Atlantis]") is None
    bulk = parse_times_us(["2024-03-30T12:00:00+01:00[Europe/Paris]"] * 2_500)
    assert set(bulk.tolist()) == {parse_time_us("2024-03-30T11:00:00Z")}


#: Date / time layouts the normalisers accept (crmcore.normalize.dates), as CRM exports write them.
TIME_FORMATS = (
    "%Y-%m-%d",
    "%Y%m%d",  # ISO 8601 basic (SAP, ERP exports)
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%dT%H:%M:%SZ",
    "%Y-%m-%dT%H:%M:%S.%f",
    "%Y-%m-%dT%H:%M:%S+02:00",
    "%Y%m%dT%H%M%S",
    "%d %B %Y",
    "%b %d, %Y",
    "%Y/%m/%d",
    "%d.%m.%Y",
    " %Y-%m-%d ",
)


class TestParseTimes:
    @settings(max_examples=40, deadline=None)
    @given(
        stamps=st.lists(
            st.tuples(
                st.datetimes(min_value=dt.datetime(1800, 1, 1), max_value=dt.datetime(2200, 1, 1)),
                st.sampled_from(TIME_FORMATS),
            ),
            min_size=1, max_size=30,
        ),
        big=st.booleans(),
    )
    def test_bulk_equals_scalar_for_every_format(self, stamps, big):
        """parse_times_us equals parse_time_us value by value for every accepted layout, on the
        small path and the large (> 2,000 values) one."""
        values = [when.strftime(fmt) for when, fmt in stamps]
        if big:
            values = values * (2_001 // len(values) + 1)
        got = parse_times_us(values).tolist()
        want = [parse_time_us(v) for v in values]
        assert [None if g != g else g for g in got] == want

    @pytest.mark.parametrize("big", [False, True])
    def test_iso_basic_is_a_date_not_a_year(self, big):
        """'20210612' is 2021-06-12 in bulk (numpy alone reads it as the year 20210612)."""
        values = ["2021-02-09", "20210612"] * (1_200 if big else 1)
        got = parse_times_us(values)
        assert got[1] == parse_time_us("2021-06-12") > got[0]

    def test_words_numpy_reads_are_not_times(self):
        """'now' / 'today' are not times (numpy reads them as the clock)."""
        for big in (False, True):
            values = ["now", "today"] * (1_100 if big else 1)
            assert np.isnan(parse_times_us(values)).all()
