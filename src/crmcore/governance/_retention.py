"""Retention: delete or anonymise records after a period without activity, with a dry run first.

A :class:`RetentionPolicy` is a declarative spec for one record type: after how many days without
activity a record is deleted or anonymised, optionally only for records meeting a condition
(written in the workflow condition language). Policies are tried in the order given; the first
whose ``only_if`` matches a record decides for it (so "keep closed-won deals 7 years" goes before
"delete other deals after 2 years"). A ``keep`` policy keeps the records it matches for its
``after_days``; once that period is over, the next matching policy decides (a ``keep`` without a
later policy keeps them for good). :func:`plan_retention` is the dry run: it changes nothing and
says what would happen to which record and why; :func:`apply_retention` carries out a plan on the
stores and audits it.

The age of a record is measured from the first present of its ``activity_fields`` (by default
``last_activity_at``, ``updated_at``, ``created_at``). A record with none of them is not touched
and is reported as a problem.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, Protocol

import attrs

from crmcore.conditions import (
    Condition,
    EvalContext,
    as_condition,
    condition_from_dict,
    evaluate,
    to_datetime,
)
from crmcore.errors import FieldProblem
from crmcore.governance._audit import AuditLog

DEFAULT_PERSONAL_FIELDS: tuple[str, ...] = (
    "first_name",
    "last_name",
    "full_name",
    "email",
    "emails",
    "phone",
    "mobile",
    "phones",
    "street",
    "address",
    "postcode",
    "dob",
    "birth_date",
    "date_of_birth",
    "title",
    "website",
    "notes",
    "body",
    "subject",
    "custom_fields",
)
"""Fields cleared by anonymisation unless a policy lists its own."""


def _opt_condition(
    value: Condition | Mapping[str, Any] | Callable[[EvalContext], bool] | None,
) -> Condition | None:
    if value is None:
        return None
    if isinstance(value, Mapping):
        return condition_from_dict(value)
    return as_condition(value)


@attrs.frozen
class RetentionPolicy:
    """Delete or anonymise records of one type after N days without activity.

    Args:
        record_type: Record type the policy covers.
        after_days: Days without activity after which the action is due (> 0).
        action: ``delete``, ``anonymise`` or ``keep`` (``keep`` exempts matching records).
        only_if: Condition a record must meet for this policy to decide for it.
        activity_fields: Date fields giving the last activity, first present wins.
        personal_fields: Fields cleared by anonymisation.
        name: Policy name (reported in plans; default built from the other fields).
    """

    record_type: str
    after_days: float = attrs.field(validator=attrs.validators.gt(0))
    action: Literal["delete", "anonymise", "keep"] = attrs.field(
        default="delete", validator=attrs.validators.in_(("delete", "anonymise", "keep"))
    )
    only_if: Condition | None = attrs.field(default=None, converter=_opt_condition)
    activity_fields: tuple[str, ...] = attrs.field(
        default=("last_activity_at", "updated_at", "created_at"), converter=tuple
    )
    personal_fields: tuple[str, ...] = attrs.field(default=DEFAULT_PERSONAL_FIELDS, converter=tuple)
    name: str = ""

    @property
    def label(self) -> str:
        """The name, or a description of the policy."""
        if self.name:
            return self.name
        return f"{self.record_type}:{self.action} after {self.after_days:g} days"

    def to_dict(self) -> dict[str, Any]:
        """The JSON / YAML-friendly form (:mod:`crmcore.governance` policy files)."""
        from crmcore.governance._policy_set import RETENTION_POLICIES

        return RETENTION_POLICIES.to_dict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RetentionPolicy:
        """Read :meth:`to_dict`'s form.

        Raises:
            PolicyConfigError: Listing every problem (path, value, rule) in ``problems``.
        """
        from crmcore.governance._policy_set import RETENTION_POLICIES

        value: RetentionPolicy = RETENTION_POLICIES.from_dict(data)
        return value


@attrs.frozen
class RetentionAction:
    """What a plan will do to one record.

    Args:
        record_type: Record type.
        record_id: Record id.
        action: ``delete`` or ``anonymise``.
        policy: Label of the deciding policy.
        last_activity: The activity time used.
        due_since: When the action became due.
    """

    record_type: str
    record_id: str
    action: str
    policy: str
    last_activity: datetime
    due_since: datetime


@attrs.frozen
class RetentionPlan:
    """The dry-run result: actions due, records kept, problems. Nothing has changed yet.

    Args:
        at: The time the plan was made for.
        actions: Actions due.
        kept: Number of records examined and kept.
        problems: Records that could not be judged (no activity date ...).
    """

    at: datetime
    actions: tuple[RetentionAction, ...]
    kept: int
    problems: tuple[FieldProblem, ...] = ()

    def counts(self) -> dict[str, int]:
        """``record_type:action`` -> number of records."""
        out: dict[str, int] = {}
        for a in self.actions:
            key = f"{a.record_type}:{a.action}"
            out[key] = out.get(key, 0) + 1
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly report."""
        return {
            "at": self.at.isoformat(),
            "counts": self.counts(),
            "kept": self.kept,
            "actions": [
                {
                    **attrs.asdict(a),
                    "last_activity": a.last_activity.isoformat(),
                    "due_since": a.due_since.isoformat(),
                }
                for a in self.actions
            ],
            "problems": [p.to_dict() for p in self.problems],
        }


@attrs.frozen
class RetentionReport:
    """What :func:`apply_retention` did.

    Args:
        deleted: Ids deleted, by record type.
        anonymised: Ids anonymised, by record type.
        missing: Planned record ids no longer in their store.
    """

    deleted: Mapping[str, tuple[str, ...]]
    anonymised: Mapping[str, tuple[str, ...]]
    missing: tuple[str, ...] = ()


class RecordTable(Protocol):
    """What retention needs of a store: iterate, get, add (replace) and remove records."""

    def records(self) -> Iterator[dict[str, Any]]:
        """Every record."""

    def get(self, record_id: str) -> dict[str, Any] | None:
        """One record."""

    def add(self, record: Mapping[str, Any]) -> str:
        """Add or replace a record."""

    def remove(self, record_id: str) -> dict[str, Any] | None:
        """Remove a record."""


def anonymise(record: Mapping[str, Any], fields: Iterable[str]) -> dict[str, Any]:
    """Copy of a record with the personal fields cleared (None) and ``anonymised`` set True."""
    clear = set(fields)
    out = {k: (None if k in clear else v) for k, v in record.items()}
    out["anonymised"] = True
    return out


def _activity(record: Mapping[str, Any], fields: tuple[str, ...]) -> datetime | None:
    for field in fields:
        value = record.get(field)
        if value not in (None, ""):
            when = to_datetime(value)
            if when is not None:
                return when if when.tzinfo is not None else when.replace(tzinfo=UTC)
    return None


def plan_retention(
    policies: Iterable[RetentionPolicy],
    stores: Mapping[str, RecordTable | Iterable[Mapping[str, Any]]],
    *,
    now: datetime,
    id_field: str = "id",
) -> RetentionPlan:
    """Dry run: which records are due for deletion or anonymisation, and why.

    Args:
        policies: Policies, tried in order per record (first matching ``only_if`` decides).
        stores: Record type -> store (or iterable of records).
        now: The time to judge against.
        id_field: Field holding record ids.

    Returns:
        A :class:`RetentionPlan`; nothing is changed.
    """
    by_type: dict[str, list[RetentionPolicy]] = {}
    for item in policies:
        by_type.setdefault(item.record_type, []).append(item)
    actions: list[RetentionAction] = []
    problems: list[FieldProblem] = []
    kept = 0
    for record_type, store in stores.items():
        rules = by_type.get(record_type, [])
        rows = store.records() if hasattr(store, "records") else store
        for record in rows:
            rid = str(record.get(id_field))
            policy: RetentionPolicy | None = None
            for candidate in rules:
                if candidate.only_if is not None and not evaluate(
                    candidate.only_if, record, now=now
                ):
                    continue
                if candidate.action == "keep":
                    since = _activity(record, candidate.activity_fields)
                    if since is None or since + timedelta(days=candidate.after_days) > now:
                        break  # kept (for the period, or for good when undated)
                    continue  # the keep period is over: a later policy decides
                policy = candidate
                break
            if policy is None:
                kept += 1
                continue
            last = _activity(record, policy.activity_fields)
            if last is None:
                problems.append(
                    FieldProblem(
                        "/".join(policy.activity_fields),
                        None,
                        "retention.activity_date",
                        "no activity date: the record is kept",
                        f"{record_type}:{rid}",
                    )
                )
                kept += 1
                continue
            due = last + timedelta(days=policy.after_days)
            if due <= now:
                actions.append(
                    RetentionAction(record_type, rid, policy.action, policy.label, last, due)
                )
            else:
                kept += 1
    return RetentionPlan(now, tuple(actions), kept, tuple(problems))


def apply_retention(
    retention_plan: RetentionPlan,
    stores: Mapping[str, RecordTable],
    *,
    policies: Iterable[RetentionPolicy] = (),
    audit: AuditLog | None = None,
    actor: str = "retention",
) -> RetentionReport:
    """Carry out a plan: delete or anonymise each planned record, auditing each action.

    The audit entries about a deleted or anonymised record keep their metadata but lose their
    payload (old and new values), so the values do not outlive the record in the audit trail.

    Args:
        retention_plan: The plan from :func:`plan_retention`.
        stores: Record type -> store.
        policies: The policies (for their ``personal_fields``; defaults otherwise).
        audit: Audit log to record one entry per action (no personal data in it).
        actor: Actor named in the audit entries.

    Returns:
        A :class:`RetentionReport`.
    """
    fields = {p.label: p.personal_fields for p in policies}
    deleted: dict[str, list[str]] = {}
    anonymised: dict[str, list[str]] = {}
    missing: list[str] = []
    done: list[RetentionAction] = []
    for action in retention_plan.actions:
        store = stores[action.record_type]
        record = store.get(action.record_id)
        if record is None:
            missing.append(f"{action.record_type}:{action.record_id}")
            continue
        if action.action == "delete":
            store.remove(action.record_id)
            deleted.setdefault(action.record_type, []).append(action.record_id)
        else:
            store.add(anonymise(record, fields.get(action.policy, DEFAULT_PERSONAL_FIELDS)))
            anonymised.setdefault(action.record_type, []).append(action.record_id)
        done.append(action)
    if audit is not None and done:
        audit.erase(record_ids=[a.record_id for a in done], actor=actor, at=retention_plan.at)
        for action in done:
            audit.record(
                f"retention_{action.action}",
                actor=actor,
                record_type=action.record_type,
                record_id=action.record_id,
                reason=action.policy,
                at=retention_plan.at,
            )
    return RetentionReport(
        {k: tuple(v) for k, v in deleted.items()},
        {k: tuple(v) for k, v in anonymised.items()},
        tuple(missing),
    )
