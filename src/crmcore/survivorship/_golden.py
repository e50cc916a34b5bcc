"""Golden records with per-field lineage: :func:`merge`.

For every field present in any input record, :func:`merge` collects the candidates (one per record
holding a value), drops the values the field's validation rejects (they are kept in lineage with
the reason), and lets the field rule pick the winner:

1. the main policy narrows the valid candidates; when it yields nothing, each fallback is tried;
2. while more than one distinct value (by the field's key) is left, the tie-breakers narrow
   further, in order;
3. a fixed final tie-break decides what is left: source order (the rules' ``source_priority``,
   unlisted sources after, by name), then the smallest record id.

The result never depends on the order of the input records. Lineage names the winning value, the
record and source it came from, the policy and the tie-breaker that decided, the losing and the
rejected candidates, and whether there was a conflict (more than one distinct valid value).
"""

from __future__ import annotations

import datetime as dt
import types
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import attrs

from crmcore.errors import SurvivorshipError
from crmcore.survivorship._policies import (
    Aggregate,
    PolicyContext,
    group_parts,
    join_group,
    source_order_key,
)
from crmcore.survivorship._records import (
    Candidate,
    SourceRecord,
    check_unique_ids,
    is_missing,
)
from crmcore.survivorship._rules import FieldGroup, FieldRule, SurvivorshipRules

#: Names recorded in lineage when the final tie-break decided a field.
FINAL_TIE_BREAKERS = ("source_order", "record_id")


@attrs.frozen(unsafe_hash=False)
class RejectedValue:
    """A candidate value the field's validation rejected, and why."""

    candidate: Candidate
    reason: str

    __hash__ = None  # type: ignore[assignment]


def _freeze(value: Mapping[str, Any]) -> Mapping[str, Any]:
    return types.MappingProxyType(dict(value))


@attrs.frozen(unsafe_hash=False)
class FieldLineage:
    """Where a golden field's value came from and how it was chosen.

    Args:
        field: Field name.
        value: The golden value (None when no valid value exists).
        record_id: Record the value came from (None for aggregates and missing values).
        source_system: Its source system.
        policy: Name of the policy that chose it (the fallback's name when the main policy
            yielded nothing; ``"aggregate"`` for unions; ``"none"`` when nothing was chosen).
        tie_breaker: Name of the tie-breaker that decided, or None when the policy alone did.
        candidates: Valid candidates that lost (for aggregates: every contributing candidate).
        rejected: Candidates the validation rejected.
        conflict: True when the valid candidates held more than one distinct value.
        contributors: Record ids whose values are in the golden value (sorted).
    """

    field: str
    value: Any
    record_id: str | None
    source_system: str | None
    policy: str
    tie_breaker: str | None
    candidates: tuple[Candidate, ...] = ()
    rejected: tuple[RejectedValue, ...] = ()
    conflict: bool = False
    contributors: tuple[str, ...] = ()

    __hash__ = None  # type: ignore[assignment]

    @property
    def n_candidates(self) -> int:
        """Number of valid candidates (winner included)."""
        if self.policy == "aggregate":
            return len(self.candidates)
        return len(self.candidates) + (1 if self.record_id is not None else 0)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-friendly dict."""
        value = list(self.value) if isinstance(self.value, tuple) else self.value
        return {
            "field": self.field,
            "value": value,
            "record_id": self.record_id,
            "source_system": self.source_system,
            "policy": self.policy,
            "tie_breaker": self.tie_breaker,
            "conflict": self.conflict,
            "contributors": list(self.contributors),
            "losers": [c.to_dict() for c in self.candidates] if self.policy != "aggregate" else [],
            "rejected": [{**r.candidate.to_dict(), "reason": r.reason} for r in self.rejected],
        }


@attrs.frozen(unsafe_hash=False)
class GoldenRecord:
    """The surviving record of an entity, with lineage for every field.

    Args:
        entity_id: Id of the entity.
        values: Field to golden value.
        lineage: Field to :class:`FieldLineage`.
        record_ids: Ids of the member source records (sorted).
        observed_at: Latest observation time among the members.
    """

    entity_id: str
    values: Mapping[str, Any] = attrs.field(converter=_freeze)
    lineage: Mapping[str, FieldLineage] = attrs.field(converter=_freeze)
    record_ids: tuple[str, ...]
    observed_at: dt.datetime | None = None

    __hash__ = None  # type: ignore[assignment]

    def _repr_html_(self) -> str:
        from crmcore.display import golden_html

        return golden_html(self)

    @property
    def conflicts(self) -> tuple[str, ...]:
        """Fields whose valid candidates disagreed (sorted)."""
        return tuple(sorted(f for f, lin in self.lineage.items() if lin.conflict))

    def as_source(
        self, record_id: str | None = None, source_system: str = "golden"
    ) -> SourceRecord:
        """Return this golden record as a source record (to merge it again, or store it)."""
        return SourceRecord(
            record_id or self.entity_id, source_system, self.observed_at, dict(self.values)
        )

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-friendly dict with values and lineage."""
        return {
            "entity_id": self.entity_id,
            "record_ids": list(self.record_ids),
            "observed_at": None if self.observed_at is None else self.observed_at.isoformat(),
            "values": {k: list(v) if isinstance(v, tuple) else v for k, v in self.values.items()},
            "lineage": {k: v.to_dict() for k, v in self.lineage.items()},
        }


def _final_key(c: Candidate, priority: Sequence[str]) -> tuple[tuple[int, str], str]:
    return (source_order_key(c.source_system, priority), c.record_id)


def _distinct(cands: Sequence[Candidate]) -> int:
    return len({c.key for c in cands})


def _sorted(cands: Iterable[Candidate], priority: Sequence[str]) -> tuple[Candidate, ...]:
    return tuple(sorted(cands, key=lambda c: _final_key(c, priority)))


def merge_field(
    field: str,
    records: Sequence[SourceRecord],
    rule: FieldRule,
    source_priority: Sequence[str] = (),
) -> FieldLineage:
    """Decide one field over some records; return its lineage (the value is ``.value``).

    Args:
        field: Field name.
        records: Source records (order does not matter).
        rule: The field's rule.
        source_priority: Global source ranking for the final tie-break.

    Returns:
        The field's lineage.
    """
    priority = tuple(source_priority)
    check = rule.validator()
    keyf = rule.key_function()
    valid: list[Candidate] = []
    rejected: list[RejectedValue] = []
    aggregate = rule.policy if isinstance(rule.policy, Aggregate) else None
    for r in records:
        raw = r.values.get(field)
        if is_missing(raw):
            continue
        if aggregate is not None:
            for item in aggregate.items(raw):
                c = Candidate(item, r.record_id, r.source_system, r.observed(field), keyf(item))
                reason = check(item)
                (valid.append(c) if reason is None else rejected.append(RejectedValue(c, reason)))
            continue
        c = Candidate(raw, r.record_id, r.source_system, r.observed(field), keyf(raw))
        reason = check(raw)
        (valid.append(c) if reason is None else rejected.append(RejectedValue(c, reason)))
    valid_t = _sorted(valid, priority)
    rejected_t = tuple(
        sorted(rejected, key=lambda x: (_final_key(x.candidate, priority), repr(x.candidate.value)))
    )
    if aggregate is not None:
        return _aggregate(field, valid_t, rejected_t)
    conflict = _distinct(valid_t) > 1
    context = PolicyContext(field, valid_t, priority)
    remaining: Sequence[Candidate] = ()
    chosen_by = "none"
    for policy in rule.policies:
        remaining = _sorted(policy.select(valid_t, context), priority) if valid_t else ()
        if remaining:
            chosen_by = policy.name
            break
    if not remaining:
        return FieldLineage(
            field, None, None, None, "none", None, valid_t, rejected_t, conflict, ()
        )
    decided: str | None = None if _distinct(remaining) == 1 else ""
    for tb in rule.tie_breakers:
        if len(remaining) == 1:
            break
        narrowed = _sorted(tb.select(remaining, context), priority)
        if narrowed:
            remaining = narrowed
        if decided == "" and _distinct(remaining) == 1:
            decided = tb.name
    if decided == "":
        first = remaining[0]
        same_source = [c for c in remaining if c.source_system == first.source_system]
        decided = FINAL_TIE_BREAKERS[1] if _distinct(same_source) > 1 else FINAL_TIE_BREAKERS[0]
    winner = remaining[0]  # remaining is sorted by the final tie-break
    losers = tuple(c for c in valid_t if c is not winner)
    return FieldLineage(
        field,
        winner.value,
        winner.record_id,
        winner.source_system,
        chosen_by,
        decided,
        losers,
        rejected_t,
        conflict,
        (winner.record_id,),
    )


def _aggregate_sort_key(value: Any) -> tuple[str, str]:
    return (type(value).__name__, str(value))


def _aggregate(
    field: str, valid: tuple[Candidate, ...], rejected: tuple[RejectedValue, ...]
) -> FieldLineage:
    by_key: dict[Any, Any] = {}
    for c in valid:
        if c.key not in by_key or _aggregate_sort_key(c.value) < _aggregate_sort_key(by_key[c.key]):
            by_key[c.key] = c.value
    items = tuple(sorted(by_key.values(), key=_aggregate_sort_key))
    contributors = tuple(sorted({c.record_id for c in valid}))
    return FieldLineage(
        field,
        items if items else None,
        None,
        None,
        "aggregate" if items else "none",
        None,
        valid,
        rejected,
        False,
        contributors,
    )


def group_value(record: SourceRecord, group: FieldGroup, rules: SurvivorshipRules) -> str | None:
    """A record's value for a field group: its group fields joined (:func:`join_group`), each
    checked by its field's validation first (an invalid value counts as missing)."""
    parts: list[Any] = []
    for f in group.fields:
        v = record.values.get(f)
        if not is_missing(v) and rules.rule_for(f).validator()(v) is not None:
            v = None
        parts.append(v)
    return join_group(parts)


def merge_group(
    group: FieldGroup, records: Sequence[SourceRecord], rules: SurvivorshipRules
) -> dict[str, FieldLineage]:
    """Decide a field group over some records: one lineage per field of the group, every value
    from the record that won the group (policy ``group:policy``)."""
    synthetic = [
        attrs.evolve(r, values={group.name: group_value(r, group, rules)}) for r in records
    ]
    lin = merge_field(group.name, synthetic, group.rule, rules.source_priority)
    won = group_parts(lin.value, len(group.fields))
    out: dict[str, FieldLineage] = {}
    for i, f in enumerate(group.fields):
        losers = tuple(
            attrs.evolve(c, value=group_parts(c.value, len(group.fields))[i])
            for c in lin.candidates
        )
        out[f] = attrs.evolve(
            lin, field=f, value=won[i], policy=f"{group.name}:{lin.policy}", candidates=losers,
        )
    return out


def merge(
    records: Iterable[SourceRecord],
    rules: SurvivorshipRules,
    *,
    entity_id: str | None = None,
) -> GoldenRecord:
    """Merge source records of one entity into a golden record with per-field lineage.

    Args:
        records: The entity's source records (at least one; record ids unique).
        rules: Survivorship rules.
        entity_id: Id of the entity; the smallest record id when not given.

    Returns:
        The golden record.

    Raises:
        SurvivorshipError: If there are no records, or two share a record id.

    Example:
        >>> import datetime as dt
        >>> a = SourceRecord("a", "crm", dt.datetime(2024, 1, 1), {"title": "VP Sales"})
        >>> b = SourceRecord("b", "erp", dt.datetime(2024, 6, 1), {"title": "Sales Director"})
        >>> g = merge([a, b], SurvivorshipRules())
        >>> g.values["title"], g.lineage["title"].record_id, g.conflicts
        ('Sales Director', 'b', ('title',))
    """
    recs = tuple(records)
    if not recs:
        raise SurvivorshipError("merge needs at least one source record")
    for r in recs:
        if not isinstance(r, SourceRecord):
            raise SurvivorshipError(f"merge takes SourceRecord values, not {type(r).__name__}")
    check_unique_ids(recs)
    fields = sorted({f for r in recs for f in r.values} - set(rules.ignore))
    lineage: dict[str, FieldLineage] = {}
    values: dict[str, Any] = {}
    grouped: set[str] = set()
    for group in rules.groups:
        present = [f for f in group.fields if f in fields]
        if len(present) < 2:  # a group of one field is that field, under its own rule
            continue
        grouped.update(present)
        for f, lin in merge_group(group, recs, rules).items():
            if f in present:
                lineage[f] = lin
                values[f] = lin.value
    for f in fields:
        if f in grouped:
            continue
        lin = merge_field(f, recs, rules.rule_for(f), rules.source_priority)
        lineage[f] = lin
        values[f] = lin.value
    times = [r.observed_at for r in recs if r.observed_at is not None]
    ids = tuple(sorted(r.record_id for r in recs))
    return GoldenRecord(
        entity_id if entity_id is not None else ids[0],
        values,
        lineage,
        ids,
        max(times) if times else None,
    )
