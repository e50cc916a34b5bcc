"""merge / merge_field: golden records with lineage, against a brute-force reference."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crmcore.errors import SurvivorshipError
from crmcore.survivorship import (
    Aggregate,
    Candidate,
    FieldRule,
    MostFrequent,
    MostRecent,
    PolicyContext,
    ScoringPolicy,
    SourcePriority,
    SourceRecord,
    SurvivorshipRules,
    merge,
    merge_field,
)
from crmcore.survivorship._policies import source_order_key
from tests.survivorship.strategies import (
    FIELDS,
    T0,
    field_rules,
    raw_items,
    record_groups,
    rule_sets,
)

PROPS = settings(max_examples=40, deadline=None)


def candidates(field: str, records: list[SourceRecord], rule: FieldRule) -> list[Candidate]:
    check, keyf = rule.validator(), rule.key_function()
    out = []
    for r in records:
        v = r.values.get(field)
        if v is None or (isinstance(v, str) and not v.strip()):
            continue
        if check(v) is None:
            out.append(Candidate(v, r.record_id, r.source_system, r.observed(field), keyf(v)))
    return out


def best(policy: Any, cands: list[Candidate], context: PolicyContext) -> list[Candidate]:
    """Brute force: the candidates with the highest score (or the function's choice)."""
    if not isinstance(policy, ScoringPolicy):
        return list(policy.select(cands, context))
    scored = [(c, s) for c, s in zip(cands, policy.scores(cands, context), strict=True) if s]
    if not scored:
        return []
    top = max(s for _, s in scored)
    return [c for c, s in scored if s == top]


def reference(field: str, records: list[SourceRecord], rule: FieldRule, priority: tuple[str, ...]):
    """The winner by the documented chain: policy / fallbacks, tie-breakers, final tie-break."""
    cands = candidates(field, records, rule)
    context = PolicyContext(field, tuple(cands), priority)
    left: list[Candidate] = []
    for p in rule.policies:
        left = best(p, cands, context) if cands else []
        if left:
            break
    if not left:
        return None
    for tb in rule.tie_breakers:
        if len(left) > 1:
            left = best(tb, left, context) or left
    return min(left, key=lambda c: (source_order_key(c.source_system, priority), c.record_id))


def rec(rid: str, source: str, day: int | None, **values: Any) -> SourceRecord:
    when = None if day is None else T0 + dt.timedelta(days=day)
    return SourceRecord(rid, source, when, values)


class TestMergeExamples:
    def test_most_recent_wins_with_lineage(self):
        """The issue's example: the newer title wins; lineage names record, source, loser."""
        recs = [rec("a", "crm", 0, title="VP Sales"), rec("b", "erp", 5, title="Sales Director")]
        g = merge(recs, SurvivorshipRules())
        lin = g.lineage["title"]
        assert (g.values["title"], lin.record_id, lin.source_system, lin.policy) == (
            "Sales Director", "b", "erp", "most_recent",
        )
        assert [c.value for c in lin.candidates] == ["VP Sales"]
        assert lin.conflict
        assert g.conflicts == ("title",)

    def test_tie_breaker_named(self):
        """Equal times: the tie-breaker (most frequent) decides and is named."""
        recs = [rec("a", "crm", 1, city="Paris"), rec("b", "erp", 1, city="Lyon"),
                rec("c", "web", 1, city="Lyon")]
        g = merge(recs, SurvivorshipRules(default=FieldRule(MostRecent(), (MostFrequent(),))))
        assert (g.values["city"], g.lineage["city"].tie_breaker) == ("Lyon", "most_frequent")

    def test_final_tie_break_by_source_order(self):
        """Nothing else decides: the global source ranking does."""
        recs = [rec("a", "crm", 1, city="Paris"), rec("b", "erp", 1, city="Lyon")]
        g = merge(recs, SurvivorshipRules(source_priority=("erp", "crm")))
        assert (g.values["city"], g.lineage["city"].tie_breaker) == ("Lyon", "source_order")

    def test_invalid_values_never_win(self):
        """A rejected value is kept in lineage with the reason; the valid one wins."""
        rule = FieldRule(MostRecent(), validate=lambda v: "@" in v)
        g = merge([rec("a", "crm", 0, email="ann@acme.io"), rec("b", "erp", 9, email="n/a")],
                  SurvivorshipRules({"email": rule}))
        assert g.values["email"] == "ann@acme.io"
        (bad,) = g.lineage["email"].rejected
        assert (bad.candidate.value, bad.candidate.record_id) == ("n/a", "b")
        assert "not a valid value" in bad.reason

    def test_fallback_when_policy_yields_nothing(self):
        """No source of the ranking has a value: the fallback policy decides and is named."""
        rule = FieldRule(SourcePriority(("crm",)), fallbacks=(MostRecent(),))
        g = merge([rec("a", "erp", 0, city="Paris"), rec("b", "web", 3, city="Lyon")],
                  SurvivorshipRules({"city": rule}))
        assert (g.values["city"], g.lineage["city"].policy) == ("Lyon", "most_recent")

    def test_aggregate_union(self):
        """Aggregates union every record's items; equal keys once; contributors listed."""
        rule = FieldRule(Aggregate())
        g = merge([rec("a", "crm", 0, tags="vip;new"), rec("b", "erp", 1, tags="VIP; old")],
                  SurvivorshipRules({"tags": rule}))
        assert g.values["tags"] == ("VIP", "new", "old")
        assert g.lineage["tags"].contributors == ("a", "b")

    def test_no_records_is_an_error(self):
        """Merging nothing is refused."""
        with pytest.raises(SurvivorshipError, match="at least one"):
            merge([], SurvivorshipRules())

    def test_duplicate_ids_are_an_error(self):
        """Two records with one id are refused, naming the id."""
        with pytest.raises(SurvivorshipError, match="'a'"):
            merge([rec("a", "crm", 0), rec("a", "erp", 1)], SurvivorshipRules())


class TestMergeProperties:
    @PROPS
    @given(recs=record_groups(), rule=field_rules(), data=st.data())
    def test_matches_reference(self, recs, rule, data):
        """merge_field picks the brute-force reference's winner."""
        field = data.draw(st.sampled_from(FIELDS))
        priority = data.draw(st.sampled_from([(), ("erp", "web", "crm")]))
        lin = merge_field(field, recs, rule, priority)
        if isinstance(rule.policy, Aggregate):
            return
        want = reference(field, recs, rule, priority)
        assert (lin.value, lin.record_id) == (
            (None, None) if want is None else (want.value, want.record_id)
        )

    @PROPS
    @given(recs=record_groups(), rules=rule_sets(), data=st.data())
    def test_order_independent(self, recs, rules, data):
        """Shuffling the input records changes nothing, lineage included."""
        shuffled = data.draw(st.permutations(recs))
        assert merge(shuffled, rules) == merge(recs, rules)

    @PROPS
    @given(recs=record_groups(), rules=rule_sets())
    def test_idempotent(self, recs, rules):
        """Merging a golden record with itself (one or two copies) changes no value."""
        g = merge(recs, rules)
        once = merge([g.as_source("g1")], rules)
        twice = merge([g.as_source("g1"), g.as_source("g2")], rules)
        assert dict(once.values) == dict(g.values) == dict(twice.values)
        assert not twice.conflicts

    @PROPS
    @given(recs=record_groups(), rules=rule_sets())
    def test_no_invented_values(self, recs, rules):
        """Every golden value (every aggregate item) is some record's value."""
        g = merge(recs, rules)
        for field, value in g.values.items():
            if value is None:
                continue
            rule = rules.rule_for(field)
            items = raw_items(rule, recs, field)
            got = value if isinstance(rule.policy, Aggregate) else (value,)
            assert all(any(v is i for i in items) or v in items for v in got)
            lin = g.lineage[field]
            if lin.record_id is not None:
                src = next(r for r in recs if r.record_id == lin.record_id)
                assert src.values[field] == value

    @PROPS
    @given(recs=record_groups(), rules=rule_sets())
    def test_every_record_accounted_for(self, recs, rules):
        """Every input record is a member; every candidate is the winner, a loser or rejected."""
        g = merge(recs, rules)
        assert g.record_ids == tuple(sorted(r.record_id for r in recs))
        for field, lin in g.lineage.items():
            if isinstance(rules.rule_for(field).policy, Aggregate):
                continue
            holders = sorted(
                r.record_id for r in recs
                if r.values.get(field) is not None and str(r.values[field]).strip()
            )
            seen = [c.record_id for c in lin.candidates] + [
                x.candidate.record_id for x in lin.rejected
            ]
            if lin.record_id is not None:
                seen.append(lin.record_id)
            assert sorted(seen) == holders

    @PROPS
    @given(recs=record_groups(), rules=rule_sets())
    def test_conflict_iff_distinct_valid_values(self, recs, rules):
        """A field is a conflict exactly when its valid candidates hold two distinct keys."""
        g = merge(recs, rules)
        for field, lin in g.lineage.items():
            rule = rules.rule_for(field)
            if isinstance(rule.policy, Aggregate):
                continue
            keys = {c.key for c in candidates(field, recs, rule)}
            assert lin.conflict == (len(keys) > 1)
