"""The executor: plans a fired rule's actions against a record and carries them out.

Planning resolves an action's parameters (``$field`` references, templates), computes the
field updates it makes and the record it creates, and keeps the assignment state (round-robin
cursors, workload counts). Carrying out calls the host's handler. A dry run uses a
:class:`RecordingExecutor`: it plans exactly as the real one, from a copy of its state, and
records the requests instead of calling any handler.
"""

from __future__ import annotations

import hashlib
import logging
import warnings
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any, Protocol

import attrs

from crmcore.conditions import to_datetime
from crmcore.errors import ActionError, FieldProblem, MissingHandlerWarning, RuleValidationError
from crmcore.workflows._actions import Action, ActionHandler, ActionRequest, FunctionHandler
from crmcore.workflows._actions import resolve_param as _resolve
from crmcore.workflows._assignment import least_loaded, round_robin, territory_owner
from crmcore.workflows._index import RuleIndex
from crmcore.workflows._rules import Rule
from crmcore.workflows._sla import BusinessCalendar

__all__ = ["ActionOutcome", "Executor", "Outcomes", "RecordingExecutor", "as_handler"]

_log = logging.getLogger("crmcore.workflows")


@attrs.frozen
class ActionOutcome:
    """One action the engine took (or would take, in a dry run).

    Attributes:
        request: What was asked of the handler.
        status: ``done``, ``failed``, ``planned`` (dry run), ``scheduled`` (held for later),
            ``cancelled`` (held, but the record no longer met the condition) or ``no_handler``.
        result: The handler's return value.
        error: ``"ExceptionType: message"`` when the handler failed.
        due_at: For scheduled actions, when they come due.
    """

    request: ActionRequest
    status: str
    result: Any = None
    error: str | None = None
    due_at: datetime | None = None

    @property
    def rule(self) -> str:
        """Name of the rule."""
        return self.request.rule

    @property
    def type(self) -> str:
        """The action type."""
        return self.request.type


class Outcomes(Protocol):
    """Where an executor reports: the action outcomes and handler errors of one run."""

    @property
    def actions(self) -> list[ActionOutcome]:
        """The action outcomes, in order."""
        ...

    @property
    def errors(self) -> list[ActionError]:
        """Handler and planning failures."""
        ...


def as_handler(value: ActionHandler | Callable[[ActionRequest], Any]) -> ActionHandler:
    """An :class:`ActionHandler` from a handler or a plain function of the request."""
    if isinstance(value, ActionHandler):
        return value
    if callable(value):
        return FunctionHandler(value)
    raise RuleValidationError(
        FieldProblem("handlers", value, "engine.handler", "a handler must be callable")
    )


def _short_hash(text: str) -> str:
    return hashlib.blake2b(text.encode(), digest_size=6).hexdigest()


def _creates(action: Action) -> bool:
    return action.changes_record or action.type == "create_related"


class Executor:
    """Plans actions and calls the host's handlers.

    Args:
        index: The rule index (compiled action parameters).
        handlers: ``action type -> handler``.
        calendar: Business calendar for SLA actions.
        workload: ``fn(owner) -> open work`` for load-balanced assignment; by default the tasks
            this executor created per owner.
    """

    #: Whether this executor records instead of acting (a dry run).
    dry = False

    def __init__(
        self,
        index: RuleIndex,
        handlers: dict[str, ActionHandler],
        calendar: BusinessCalendar | None = None,
        workload: Callable[[str], int] | None = None,
    ) -> None:
        self.index = index
        self.handlers = handlers
        self.calendar = calendar
        self.workload_fn = workload
        self.cursors: dict[str, int] = {}
        self.workload: dict[str, int] = {}

    def recording(self) -> RecordingExecutor:
        """A recording executor planning from a copy of this one's state."""
        other = RecordingExecutor(self.index, self.handlers, self.calendar, self.workload_fn)
        other.cursors = dict(self.cursors)
        other.workload = dict(self.workload)
        return other

    # -- planning ---------------------------------------------------------------------------

    def _load(self, owner: str) -> int:
        if self.workload_fn is not None:
            return int(self.workload_fn(owner))
        return self.workload.get(owner, 0)

    def plan(
        self,
        rule: Rule,
        *,
        idx: int,
        action: Action,
        record: Mapping[str, Any],
        related: Callable[[str], Any],
        now: datetime,
        event_id: str,
        record_type: str,
        dry_plan: bool = False,
    ) -> ActionRequest:
        """Resolve an action against a record: params, field updates, new record.

        ``dry_plan`` plans without advancing round-robin cursors (a look, not a take).
        """
        kind = action.type
        meta = self.index.meta.get(rule.name)
        if meta is not None and idx < len(meta.params) and rule.actions[idx] is action:
            params: dict[str, Any] = {
                k: v if const else v(record, related, now) for k, const, v in meta.params[idx]
            }
        else:  # an action the engine was not built with
            params = {k: _resolve(v, record, related, now, key=k) for k, v in action.params.items()}
        updates: dict[str, Any] = {}
        new_record: dict[str, Any] | None = None
        rid = str(record["id"])
        key = f"{event_id}:{rule.name}:{idx}"
        if kind == "create_task":
            params["due_at"] = now + timedelta(days=float(params.get("due_in_days", 1)))
        elif kind == "assign_owner":
            field = str(params.get("field", "owner_id"))
            strategy = params["strategy"]
            owner: Any
            if strategy == "round_robin":
                cursor = self.cursors.get(rule.name, 0)
                owner, cursor = round_robin(params["pool"], cursor)
                if not dry_plan:
                    self.cursors[rule.name] = cursor
            elif strategy == "load_balanced":
                owner = least_loaded(params["pool"], self._load)
            else:
                owner = territory_owner(
                    record, action.params["territories"], params.get("by", "country"),
                    params.get("fallback"),
                )  # fmt: skip
            params["owner"] = owner
            if owner is not None and record.get(field) != owner:
                updates[field] = owner
        elif kind == "update_field":
            field = str(params["field"])
            if record.get(field) != params["value"]:
                updates[field] = params["value"]
        elif kind in ("add_tag", "remove_tag"):
            field = str(params.get("field", "tags"))
            tags = record.get(field) or ()
            current = list(tags) if not isinstance(tags, str) else [tags]
            tag = params["tag"]
            if kind == "add_tag" and tag not in current:
                updates[field] = (*current, tag)
            elif kind == "remove_tag" and tag in current:
                updates[field] = tuple(t for t in current if t != tag)
        elif kind == "create_related":
            target = str(params["record_type"])
            link = str(params.get("link_field") or f"{record_type}_id")
            new_record = {"id": f"{target}-{_short_hash(key)}", "record_type": target, link: rid}
            for k, v in dict(params.get("fields") or {}).items():
                new_record[k] = v
            for k, src in dict(action.params.get("copy") or {}).items():
                new_record[k] = _resolve(f"${src}", record, related, now)
        elif kind == "shorten_sla":
            field = str(params.get("field", "sla_due"))
            start = to_datetime(record.get(str(params.get("start_field", "created_at")))) or now
            hours = float(params["hours"])
            due = (
                self.calendar.add_business_hours(start, hours)
                if self.calendar is not None
                else start + timedelta(hours=hours)
            )
            existing = to_datetime(record.get(field))
            params["due_at"] = due
            if existing is None or due < existing:
                updates[field] = due
        elif kind == "custom":
            kind = str(params.pop("name"))
            params["_custom"] = True
        return ActionRequest(kind, rule.name, record_type, rid, params, updates, new_record,
                             key, event_id, now, record)  # fmt: skip

    def would_change(
        self,
        rule: Rule,
        record: Mapping[str, Any],
        related: Callable[[str], Any],
        now: datetime,
        *,
        event_id: str,
        record_type: str,
    ) -> bool:
        """Whether the rule's immediate actions would change the record or create one."""
        for idx, action in enumerate(rule.actions):
            if action.delayed or not _creates(action):
                continue
            try:
                req = self.plan(
                    rule, idx=idx, action=action, record=record, related=related, now=now,
                    event_id=event_id, record_type=record_type, dry_plan=True,
                )
            except Exception:  # noqa: BLE001, S112 - an unplannable action changes nothing
                continue
            if req.updates or req.new_record is not None:
                return True
        return False

    # -- carrying out -----------------------------------------------------------------------

    def take(
        self,
        rule: Rule,
        *,
        idx: int,
        action: Action,
        record: dict[str, Any],
        related: Callable[[str], Any],
        now: datetime,
        event_id: str,
        out: Outcomes,
    ) -> tuple[ActionRequest, Any] | None:
        """Plan and carry out one action; ``(request, handler value)`` when it was taken."""
        rt = str(record.get("record_type") or "")
        try:
            req = self.plan(
                rule, idx=idx, action=action, record=record, related=related, now=now,
                event_id=event_id, record_type=rt,
            )
        except Exception as exc:  # noqa: BLE001 - planning errors are recorded like failures
            req = ActionRequest(
                action.type, rule.name, rt, str(record["id"]), dict(action.params), {}, None,
                f"{event_id}:{rule.name}:{idx}", event_id, now, record,
            )
            self.failed(req, exc, out)
            return None
        taken = self.run(req, action, out)
        if taken is not None and req.type == "create_task":
            owner = req.params.get("owner")
            if isinstance(owner, str):
                self.workload[owner] = self.workload.get(owner, 0) + 1
        return taken

    def run(
        self, req: ActionRequest, action: Action, out: Outcomes
    ) -> tuple[ActionRequest, Any] | None:
        """Call the request's handler; ``(request, value)`` unless it failed or had none."""
        handler = self.handler_for(req)
        if handler is None and not _creates(action):
            err = ActionError(f"no handler registered for action {req.type!r} (rule {req.rule!r})")
            out.errors.append(err)
            message = f"{err} on {req.record_type} {req.record_id}: the action was not taken"
            _log.warning(message)
            warnings.warn(message, MissingHandlerWarning, stacklevel=4)
            out.actions.append(ActionOutcome(req, "no_handler", None, str(err)))
            return None
        value = None
        if handler is not None:
            try:
                value = handler.handle(req)
            except Exception as exc:  # noqa: BLE001 - a failing handler must not stop the batch
                self.failed(req, exc, out)
                return None
        out.actions.append(ActionOutcome(req, "done", value))
        return req, value

    def failed(self, req: ActionRequest, exc: Exception, out: Outcomes) -> None:
        """Record a failed action (planning or handler) with its error."""
        message = f"{type(exc).__name__}: {exc}"
        err = ActionError(
            f"action {req.type!r} of rule {req.rule!r} on {req.record_type} {req.record_id} "
            f"failed: {message}"
        )
        err.__cause__ = exc
        out.errors.append(err)
        out.actions.append(ActionOutcome(req, "failed", None, message))

    def handler_for(self, req: ActionRequest) -> ActionHandler | None:
        """The handler of a request: its type's, else the generic one for what it does."""
        h = self.handlers.get(req.type)
        if h is not None:
            return h
        if req.params.get("_custom"):
            return self.handlers.get("custom")
        if req.updates:
            return self.handlers.get("update_record")
        if req.new_record is not None:
            return self.handlers.get("create_record")
        return None


class RecordingExecutor(Executor):
    """An executor that records what it would do (status ``planned``) and calls no handler."""

    dry = True

    def run(
        self, req: ActionRequest, action: Action, out: Outcomes
    ) -> tuple[ActionRequest, Any] | None:
        """Record the request as planned."""
        out.actions.append(ActionOutcome(req, "planned"))
        return req, None
