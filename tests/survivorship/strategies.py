"""Shared hypothesis strategies and brute-force helpers for the survivorship tests."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from hypothesis import strategies as st

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
    SourcePriority,
    SourceRecord,
    SurvivorshipRules,
    TrustDecay,
)

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
