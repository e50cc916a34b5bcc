"""Shared hypothesis strategies and brute-force helpers for the survivorship tests."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from hypothesis import strategies as st

from crmcore.survivorship import (
    Aggregate,
    Earliest,
    FieldGroup,
    FieldRule,
    FirstNonNull,
    FunctionPolicy,
    Highest,
    Longest,
    Lowest,
    MostComplete,
    MostFrequent,
    MostRecent,
    RegexValidator,
    SourcePriority,
    SourceRecord,
    SurvivorshipRules,
    TrustDecay,
)
from crmcore.survivorship._rules import group_key

SOURCES = ("crm", "erp", "web", "golden")
FIELDS = ("title", "city", "score", "tags", "when")
T0 = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
AS_OF = dt.datetime(2024, 2, 1, tzinfo=dt.UTC)

#: A few whole days (trust decay scores are then exact powers of two on both paths).
times = st.none() | st.integers(0, 2).map(lambda d: T0 + dt.timedelta(days=d))

_VALUES = {
    "title": st.sampled_from(["VP Sales", "vp  sales", "Sales Director", "CEO", "x-bad", " "]),
    "city": st.sampled_from(["Paris", "Lyon", "paris", "Berlin", "x-bad"]),
    "score": st.sampled_from(["1", "10", "2.5", "-3", "n/a", "x-bad"]),
    "tags": st.sampled_from(["vip", "vip;new", "new; old", "OLD", "x-bad;vip", ""]),
    "when": st.sampled_from(["2024-01-02", "2023-12-31", "2024-01-02T10:00:00", "soon"]),
}


def not_bad(value: Any) -> bool:
    """A validator: values starting with ``x-`` are invalid."""
    return not str(value).startswith("x-")


def shortest(candidates: Sequence[Any]) -> Any:
    """A custom policy: the shortest text (ties kept: the rule breaks them)."""
    best = min(len(str(c.value)) for c in candidates)
    return [c for c in candidates if len(str(c.value)) == best]


def nothing(candidates: Sequence[Any]) -> Any:
    """A custom policy with no opinion (the fallback decides)."""
    return None


#: Source rankings; "golden" (where golden records are stored back) is always ranked, so that
#: merging a golden record with itself is a fair test of idempotence.
rankings = st.permutations(SOURCES).flatmap(
    lambda order: st.integers(1, len(order)).map(
        lambda k: (*tuple(s for s in order[:k] if s != "golden"), "golden")
    )
)

simple_policies = st.one_of(
    st.just(MostRecent()),
    st.just(Earliest()),
    st.just(MostFrequent()),
    rankings.map(SourcePriority),
    st.just(Longest()),
    st.sampled_from(["number", "text", "date"]).map(Highest),
    st.sampled_from(["number", "text", "date"]).map(Lowest),
    st.one_of(st.just(()), rankings).map(FirstNonNull),
    st.builds(
        TrustDecay,
        trust=st.fixed_dictionaries(
            {"golden": st.sampled_from([0.5, 1.0])},
            optional={s: st.sampled_from([0.5, 1.0]) for s in SOURCES[:3]},
        ),
        half_life=st.just(dt.timedelta(days=1)),
        as_of=st.just(AS_OF),
        default_trust=st.sampled_from([None, 0.25]),
    ),
)
custom_policies = st.sampled_from(
    [FunctionPolicy(shortest), FunctionPolicy(nothing, label="nothing")]
)
policies = simple_policies | custom_policies


@st.composite
def field_rules(draw: st.DrawFn, *, custom: bool = True) -> FieldRule:
    """A random field rule: aggregate, or policy + fallbacks + tie-breakers, maybe validated."""
    validate = draw(st.sampled_from([None, not_bad]))
    if draw(st.integers(0, 5)) == 0:
        return FieldRule(Aggregate(), validate=validate)
    pool = policies if custom else simple_policies
    return FieldRule(
        draw(pool),
        tie_breakers=tuple(draw(st.lists(pool, max_size=2))),
        fallbacks=tuple(draw(st.lists(pool, max_size=2))),
        validate=validate,
    )


@st.composite
def rule_sets(draw: st.DrawFn, *, custom: bool = True) -> SurvivorshipRules:
    """Random rules for the test fields, a random default and a global source ranking."""
    chosen = draw(st.lists(st.sampled_from(FIELDS), unique=True))
    return SurvivorshipRules(
        {f: draw(field_rules(custom=custom)) for f in chosen},
        default=draw(field_rules(custom=custom)),
        source_priority=draw(st.just(()) | rankings),
    )


@st.composite
def source_records(draw: st.DrawFn, ids: Sequence[str]) -> list[SourceRecord]:
    """One random source record per id (a random subset of the test fields each)."""
    out = []
    for rid in ids:
        fields = draw(st.lists(st.sampled_from(FIELDS), unique=True, max_size=len(FIELDS)))
        values = {f: draw(st.none() | _VALUES[f]) for f in fields}
        per_field = draw(
            st.none() | st.fixed_dictionaries({}, optional=dict.fromkeys(fields, times))
        )
        out.append(
            SourceRecord(rid, draw(st.sampled_from(SOURCES[:3])), draw(times), values, per_field)
        )
    return out


@st.composite
def record_groups(draw: st.DrawFn, max_size: int = 5) -> list[SourceRecord]:
    """Records of one entity (1 to ``max_size``, unique ids)."""
    n = draw(st.integers(1, max_size))
    return draw(source_records([f"r{i}" for i in range(n)]))


def raw_items(rule: FieldRule, records: Sequence[SourceRecord], field: str) -> list[Any]:
    """Every raw value (aggregates: every item) any record has for ``field``."""
    out: list[Any] = []
    for r in records:
        v = r.values.get(field)
        if v is None:
            continue
        out.extend(rule.policy.items(v) if isinstance(rule.policy, Aggregate) else [v])
    return out


#: Text for names, sources and separators: any characters, including non-ASCII.
_texts = st.text(min_size=1, max_size=8)
_validators = st.one_of(
    st.none(),
    st.sampled_from(["email", "phone", "country"]),
    st.builds(RegexValidator, st.sampled_from([r"[A-Z]{2}", r"\d+", r"(a|b)c"]), st.booleans()),
)


@st.composite
def saveable_policies(draw: st.DrawFn) -> Any:
    """A random built-in policy (any ranking, trust table, half-life and clock): the policies
    that have a dict form."""
    sources = st.lists(_texts, max_size=4).map(tuple)
    return draw(st.one_of(
        st.sampled_from([MostRecent(), Earliest(), MostFrequent(), Longest(), MostComplete()]),
        sources.map(SourcePriority),
        sources.map(FirstNonNull),
        st.sampled_from(["number", "text", "date"]).map(Highest),
        st.sampled_from(["number", "text", "date"]).map(Lowest),
        st.builds(
            TrustDecay,
            trust=st.dictionaries(_texts, st.floats(0.0, 1.0), max_size=3),
            half_life=st.timedeltas(dt.timedelta(microseconds=1), dt.timedelta(days=36_500)),
            as_of=st.datetimes(timezones=st.sampled_from([dt.UTC, None])),
            default_trust=st.none() | st.floats(0.0, 1.0),
        ),
    ))  # fmt: skip


@st.composite
def saveable_rules(draw: st.DrawFn) -> FieldRule:
    """A random field rule with a dict form (built-in policies, named or regex validation)."""
    if draw(st.integers(0, 4)) == 0:
        return FieldRule(Aggregate(draw(st.none() | _texts)), validate=draw(_validators))
    return FieldRule(
        draw(saveable_policies()),
        tie_breakers=tuple(draw(st.lists(saveable_policies(), max_size=2))),
        fallbacks=tuple(draw(st.lists(saveable_policies(), max_size=2))),
        validate=draw(_validators),
        key=draw(_validators | st.just(group_key)),
    )


@st.composite
def saveable_rule_sets(draw: st.DrawFn) -> SurvivorshipRules:
    """Random rules with a dict form: field rules, default, ranking, ignored fields, groups."""
    names = draw(st.lists(_texts, unique=True, max_size=8))
    cut = draw(st.integers(0, len(names)))
    grouped = names[cut:]
    groups = []
    while len(grouped) >= 2:
        k = draw(st.integers(2, len(grouped)))
        rule = draw(st.none() | saveable_rules())
        fields, grouped = tuple(grouped[:k]), grouped[k:]
        name = draw(_texts)
        groups.append(FieldGroup(name, fields) if rule is None else FieldGroup(name, fields, rule))
    return SurvivorshipRules(
        {f: draw(saveable_rules()) for f in names[:cut]},
        default=draw(saveable_rules()),
        source_priority=tuple(draw(st.lists(_texts, max_size=3))),
        ignore=draw(st.lists(_texts, max_size=3)),
        groups=groups,
    )
