"""Consent-safe segments: rule-based audiences that leave out everyone without valid consent.

A :class:`Segment` is a declarative spec: a name, a purpose, a channel and a condition written in
the workflow condition language (:mod:`crmcore.conditions`). :func:`build_segment`
evaluates it over records and, *by construction*, puts a person in the audience only when the
:class:`~crmcore.governance.ConsentLedger` allows contacting them on one of their contact points for
that channel and purpose (and, given a suppression list, when they are not suppressed). Everyone
else who met the condition is listed in ``excluded`` with the reason; records whose condition could
not be evaluated are listed in ``problems``. No record is silently dropped: every input record is a
member, an exclusion, a problem, or counted as not matching.

:class:`SegmentRegistry` keeps built audiences and is a :class:`~crmcore.governance.Store`, so
erasure reaches them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any

import attrs

from crmcore.conditions import (
    Condition,
    EvalContext,
    as_condition,
    condition_from_dict,
    evaluate,
    evaluate_many,
)
from crmcore.errors import CrmcoreError, FieldProblem
from crmcore.governance._consent import ConsentVerdict, DecisionReason
from crmcore.governance._identifiers import Identifiers
from crmcore.governance._identity import timestamp
from crmcore.governance._ledger import ConsentLedger
from crmcore.governance._stores import StoreErasure
from crmcore.governance._suppression import SuppressionList
from crmcore.normalize import contact_point_key

_EVAL_ERRORS = (CrmcoreError, TypeError, ValueError, KeyError)

NO_CONTACT_POINT = "no_contact_point"
"""Exclusion reason: the record has no contact point for the segment's channel."""
SUPPRESSED = "suppressed"
"""Exclusion reason: the record matches the suppression list (an erased person)."""

_CHANNEL_FIELDS: dict[str, tuple[str, ...]] = {
    "email": ("email", "emails"),
    "phone": ("phone", "mobile", "phones"),
    "sms": ("mobile", "phone", "phones"),
    "whatsapp": ("mobile", "phone", "phones"),
    "messaging": ("mobile", "phone", "phones"),
}


def _condition(
    value: Condition | Mapping[str, Any] | Callable[[EvalContext], bool] | None,
) -> Condition:
    if isinstance(value, Mapping):
        return condition_from_dict(value)
    return as_condition(value)


def _opt_tuple(value: Iterable[str] | None) -> tuple[str, ...] | None:
    return None if value is None else tuple(value)


@attrs.frozen
class Segment:
    """An audience spec: who (condition), for what (purpose) over which channel.

    Args:
        name: Segment name.
        purpose: Consent purpose (``marketing``, ``sales_outreach`` ...).
        channel: Channel the audience will be contacted on (``email``, ``sms`` ...).
        condition: Workflow condition (or its dict form, or a callable on an EvalContext).
        contact_fields: Fields holding contact points, in order of preference (default by
            channel: ``email``/``emails`` for email, ``phone``/``mobile``/``phones`` for phone).
        person_field: Field holding the person id the ledger knows (default ``id``).
        third_party: The audience goes to a third party (an ad platform's custom audience, a
            partner): a sale or share under US privacy law, so members also need
            :meth:`~crmcore.governance.ConsentLedger.may_share` (no "do not sell or share"
            flag, a valid ``data_sharing`` consent); others are excluded with that reason.
    """

    name: str
    purpose: str = attrs.field(converter=str)
    channel: str = attrs.field(converter=str)
    condition: Condition = attrs.field(default=None, converter=_condition)
    contact_fields: tuple[str, ...] | None = attrs.field(default=None, converter=_opt_tuple)
    person_field: str = "id"
    third_party: bool = False

    def fields_for_contact(self) -> tuple[str, ...]:
        """The contact point fields used (given, or the channel default)."""
        if self.contact_fields is not None:
            return self.contact_fields
        return _CHANNEL_FIELDS.get(self.channel, ())

    def to_dict(self) -> dict[str, Any]:
        """Dict form (the condition in its own dict form; :class:`PolicySet` files).

        Raises:
            PolicyConfigError: If the condition is a Python predicate (it has no dict form).
        """
        from crmcore.governance._policy_set import SEGMENTS

        return SEGMENTS.to_dict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Segment:
        """Read :meth:`to_dict`'s form.

        Raises:
            PolicyConfigError: Listing every problem (path, value, rule) in ``problems``.
        """
        from crmcore.governance._policy_set import SEGMENTS

        value: Segment = SEGMENTS.from_dict(data)
        return value


@attrs.frozen
class SegmentMember:
    """One person in an audience, with the contact point to use and the deciding consent.

    Args:
        person_id: Person id.
        contact_point: The contact point consent was found for (None for channel-wide consent).
        decision: The consent decision (always allowed).
    """

    person_id: str
    contact_point: str | None
    decision: ConsentVerdict


@attrs.frozen
class Exclusion:
    """Someone who met the condition but was left out, and why.

    Args:
        person_id: Person id.
        reason: A :class:`~crmcore.governance.DecisionReason` value, ``no_contact_point`` or
            ``suppressed``.
        record_id: The consent event that decided, when one did.
    """

    person_id: str
    reason: str
    record_id: str | None = None


@attrs.frozen
class SegmentResult:
    """A built audience.

    Args:
        segment: The segment spec.
        at: When it was built (consent is checked at this time).
        members: People who may be contacted.
        excluded: People who met the condition but may not be contacted, with the reason.
        not_matching: Number of records that did not meet the condition.
        problems: Records whose condition could not be evaluated.
    """

    segment: Segment
    at: datetime
    members: tuple[SegmentMember, ...]
    excluded: tuple[Exclusion, ...]
    not_matching: int
    problems: tuple[FieldProblem, ...] = ()

    @property
    def person_ids(self) -> tuple[str, ...]:
        """Member person ids, in input order."""
        return tuple(m.person_id for m in self.members)

    def exclusion_counts(self) -> dict[str, int]:
        """Reason -> number of people left out for it."""
        return dict(Counter(e.reason for e in self.excluded))

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly summary (members, exclusions, counts)."""
        return {
            "segment": self.segment.name,
            "at": self.at.isoformat(),
            "members": [
                {"person_id": m.person_id, "contact_point": m.contact_point} for m in self.members
            ],
            "excluded": [attrs.asdict(e) for e in self.excluded],
            "not_matching": self.not_matching,
            "problems": [p.to_dict() for p in self.problems],
        }


def _contact_points(record: Mapping[str, Any], fields: tuple[str, ...]) -> list[str]:
    out: list[str] = []
    for field in fields:
        value = record.get(field)
        values = value if isinstance(value, (list, tuple)) else [value]
        out.extend(str(v) for v in values if v not in (None, ""))
    return out


def build_segment(
    segment: Segment,
    records: Iterable[Mapping[str, Any]],
    ledger: ConsentLedger,
    *,
    now: datetime,
    suppression: SuppressionList | None = None,
) -> SegmentResult:
    """Evaluate a segment over records, keeping only people with valid consent.

    Args:
        segment: The segment spec.
        records: Records (mappings, flat or model-shaped via ``to_dict()``).
        ledger: The consent ledger.
        now: The time the audience will be contacted (consent and time conditions use it).
        suppression: Optional suppression list; matching records are excluded as
            ``suppressed``.

    Returns:
        A :class:`SegmentResult`; members always hold an allowed consent decision.

    Example:
        >>> from datetime import datetime, UTC
        >>> from crmcore.conditions import eq
        >>> ledger = ConsentLedger()
        >>> t = datetime(2025, 1, 1, tzinfo=UTC)
        >>> _ = ledger.record("p1", "email", "marketing", "opted_in", captured_at=t)
        >>> seg = Segment("uk", "marketing", "email", eq("country", "GB"))
        >>> rows = [{"id": "p1", "email": "a@x.com", "country": "GB"},
        ...         {"id": "p2", "email": "b@x.com", "country": "GB"}]
        >>> r = build_segment(seg, rows, ledger, now=t)
        >>> r.person_ids, r.exclusion_counts()
        (('p1',), {'no_consent': 1})
    """
    t = timestamp(now)
    fields = segment.fields_for_contact()
    members: list[SegmentMember] = []
    excluded: list[Exclusion] = []
    problems: list[FieldProblem] = []
    not_matching = 0
    rows = [raw if isinstance(raw, Mapping) else raw.to_dict() for raw in records]
    flags: list[bool | None]
    try:
        flags = list(evaluate_many(segment.condition, rows, now=now))
    except _EVAL_ERRORS:
        flags = [None] * len(rows)  # evaluate one by one to find the records that fail
    for number, record in enumerate(rows):
        pid = record.get(segment.person_field)
        person = str(pid) if pid is not None else f"row {number}"
        matched = flags[number]
        if matched is None:
            try:
                matched = evaluate(segment.condition, record, now=now)
            except _EVAL_ERRORS as exc:
                problems.append(
                    FieldProblem("condition", None, "segment.condition", str(exc), person)
                )
                continue
        if not matched:
            not_matching += 1
            continue
        if pid is None:
            problems.append(
                FieldProblem(
                    segment.person_field,
                    None,
                    "required",
                    "the record has no person id",
                    f"row {number}",
                )
            )
            continue
        if suppression is not None and suppression.matches(record):
            excluded.append(Exclusion(person, SUPPRESSED))
            continue
        if segment.third_party:
            share = ledger.may_share(person, now=t)
            if not share.allowed:
                excluded.append(Exclusion(person, str(share.reason), share.record_id))
                continue
        points = _contact_points(record, fields) if fields else []
        if fields and not points:
            excluded.append(Exclusion(person, NO_CONTACT_POINT))
            continue
        first_denial: ConsentVerdict | None = None
        chosen: SegmentMember | None = None
        candidates: list[str | None] = list(points) if points else [None]
        for point in candidates:
            decision = ledger.may_contact(
                person, segment.channel, segment.purpose, contact_point=point, now=t
            )
            if decision.allowed:
                cp = None if point is None else contact_point_key(segment.channel, point)
                chosen = SegmentMember(person, cp, decision)
                break
            if first_denial is None:
                first_denial = decision
        if chosen is not None:
            members.append(chosen)
        else:
            denial = (
                first_denial
                if first_denial is not None
                else ConsentVerdict(False, DecisionReason.NO_CONSENT)
            )
            excluded.append(Exclusion(person, str(denial.reason), denial.record_id))
    return SegmentResult(
        segment, now, tuple(members), tuple(excluded), not_matching, tuple(problems)
    )


class SegmentRegistry:
    """Built audiences by segment name; a :class:`~crmcore.governance.Store` for erasure.

    Args:
        name: Store name.
    """

    def __init__(self, name: str = "segments") -> None:
        self.name = name
        self._results: dict[str, SegmentResult] = {}

    def put(self, result: SegmentResult) -> None:
        """Keep (or replace) the audience of a segment."""
        self._results[result.segment.name] = result

    def get(self, name: str) -> SegmentResult:
        """The kept audience of a segment."""
        return self._results[name]

    def results(self) -> list[SegmentResult]:
        """Every kept audience."""
        return list(self._results.values())

    def _hit(self, identifiers: Identifiers, person: str, point: str | None) -> bool:
        return person in identifiers.person_ids or (
            point is not None and (point in identifiers.emails or point in identifiers.phones)
        )

    def find(self, identifiers: Identifiers) -> list[str]:
        """``segment/person`` keys of the person's memberships, exclusions and problems."""
        out: list[str] = []
        for name, result in self._results.items():
            out.extend(
                f"{name}/{m.person_id}"
                for m in result.members
                if self._hit(identifiers, m.person_id, m.contact_point)
            )
            out.extend(
                f"{name}/{e.person_id}"
                for e in result.excluded
                if e.person_id in identifiers.person_ids
            )
            out.extend(f"{name}/{p.record}" for p in result.problems if _mentions(p, identifiers))
        return sorted(out)

    def erase(self, identifiers: Identifiers) -> StoreErasure:
        """Remove the person from every kept audience (members and exclusions)."""
        removed = self.find(identifiers)
        for name, result in list(self._results.items()):
            self._results[name] = attrs.evolve(
                result,
                members=tuple(
                    m
                    for m in result.members
                    if not self._hit(identifiers, m.person_id, m.contact_point)
                ),
                excluded=tuple(
                    e for e in result.excluded if e.person_id not in identifiers.person_ids
                ),
                problems=tuple(p for p in result.problems if not _mentions(p, identifiers)),
            )
        return StoreErasure(self.name, len(removed), tuple(removed))

    def export(self, identifiers: Identifiers) -> list[dict[str, Any]]:
        """The person's memberships, exclusions and evaluation problems."""
        out: list[dict[str, Any]] = []
        for name, result in self._results.items():
            out.extend(
                {"segment": name, "member": True, "contact_point": m.contact_point}
                for m in result.members
                if self._hit(identifiers, m.person_id, m.contact_point)
            )
            out.extend(
                {"segment": name, "member": False, "reason": e.reason}
                for e in result.excluded
                if e.person_id in identifiers.person_ids
            )
            out.extend(
                {"segment": name, "problem": p.to_dict()}
                for p in result.problems
                if _mentions(p, identifiers)
            )
        return out


def _mentions(problem: FieldProblem, identifiers: Identifiers) -> bool:
    """Whether a problem is about the person (its record) or quotes one of their values."""
    if problem.record is not None and str(problem.record) in identifiers.person_ids:
        return True
    text = f"{problem.value!r} {problem.message}".casefold()
    return any(v.casefold() in text for v in identifiers.values())
