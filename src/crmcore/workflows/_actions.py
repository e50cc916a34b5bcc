"""Actions: what a rule does, planned by the engine and carried out by host handlers.

An :class:`Action` is a small frozen value: a ``type`` and its ``params``, optionally delayed.
Built-in types (the engine knows their meaning and validates their params):

============== ====================================================== ===================
type           params                                                 changes the record
============== ====================================================== ===================
create_task    title, owner (``"$owner_id"``), due_in_days, priority  no
assign_owner   strategy (round_robin / load_balanced / territory),    yes (``field``)
               pool, territories, by, fallback, field
send_alert     to, message                                            no
update_field   field, value                                           yes
add_tag        tag, field (``"tags"``)                                yes
remove_tag     tag, field (``"tags"``)                                yes
create_related record_type, fields, copy, link_field                  creates a record
send_email     template, to (``"$email"``), context                   no
shorten_sla    hours, field (``"sla_due"``), start_field                 yes
custom         name, anything else                                    no
============== ====================================================== ===================

Param values are constants, except: a string ``"$path"`` reads a field of the record (or a
related record, ``"$account.owner_id"``), ``"$now"`` is the engine's clock, ``"$$x"`` is the
literal ``"$x"``; and ``{path}`` inside ``title``, ``message``, ``subject``, ``body`` and
``notes`` strings is replaced by the field's value (no attribute access, no ``eval``).

Handlers implement :class:`ActionHandler` (one method, ``handle(request)``);
:func:`function_handler` turns a plain function into one.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Final, Protocol, runtime_checkable

import attrs

from crmcore.conditions import decode_value, encode_value, resolve_path
from crmcore.errors import FieldProblem, RuleValidationError
from crmcore.model import DecodeContext, SpecCodec, SpecField

# type -> (required params, optional params)
ACTION_TYPES: Final[dict[str, tuple[frozenset[str], frozenset[str]]]] = {
    "create_task": (
        frozenset({"title"}),
        frozenset({"owner", "due_in_days", "priority", "notes", "queue"}),
    ),
    "assign_owner": (
        frozenset({"strategy"}),
        frozenset({"pool", "territories", "by", "fallback", "field"}),
    ),
    "send_alert": (frozenset({"to", "message"}), frozenset({"channel"})),
    "update_field": (frozenset({"field", "value"}), frozenset()),
    "add_tag": (frozenset({"tag"}), frozenset({"field"})),
    "remove_tag": (frozenset({"tag"}), frozenset({"field"})),
    "create_related": (
        frozenset({"record_type"}),
        frozenset({"fields", "copy", "link_field"}),
    ),
    "send_email": (frozenset({"template"}), frozenset({"to", "context", "subject"})),
    "shorten_sla": (frozenset({"hours"}), frozenset({"field", "start_field"})),
    "custom": (frozenset({"name"}), frozenset()),  # any extra params allowed
}

RECORD_CHANGING: Final = frozenset(
    {"assign_owner", "update_field", "add_tag", "remove_tag", "shorten_sla"}
)
ASSIGN_STRATEGIES: Final = ("round_robin", "load_balanced", "territory")
_TEMPLATED: Final = frozenset({"title", "message", "subject", "body", "notes"})
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)\}")


def _problem(field: str, value: Any, rule: str, message: str) -> FieldProblem:
    return FieldProblem(field, value, rule, message)


def _check_params(kind: str, params: Mapping[str, Any]) -> list[FieldProblem]:
    problems: list[FieldProblem] = []
    if kind not in ACTION_TYPES:
        return [
            _problem(
                "type",
                kind,
                "action.type",
                f"unknown action type; expected one of {', '.join(sorted(ACTION_TYPES))} "
                "(host-specific actions use type 'custom' with a 'name')",
            )
        ]
    required, optional = ACTION_TYPES[kind]
    problems.extend(
        _problem(f"params.{k}", None, "action.required", f"{kind} needs {k!r}")
        for k in sorted(required - set(params))
    )
    if kind != "custom":
        problems.extend(
            _problem(f"params.{k}", params[k], "action.unknown_param", f"{kind} takes no {k!r}")
            for k in sorted(set(params) - required - optional)
        )
    for key, value in params.items():
        try:
            encode_value(value) if not isinstance(value, Mapping) else _check_mapping(value)
        except TypeError as exc:
            problems.append(_problem(f"params.{key}", value, "action.value", str(exc)))
    if kind == "assign_owner":
        strategy = params.get("strategy")
        if strategy is not None and strategy not in ASSIGN_STRATEGIES:
            problems.append(
                _problem(
                    "params.strategy",
                    strategy,
                    "action.strategy",
                    f"expected one of {', '.join(ASSIGN_STRATEGIES)}",
                )
            )
        if strategy in ("round_robin", "load_balanced") and not params.get("pool"):
            problems.append(
                _problem("params.pool", params.get("pool"), "action.pool", "needs a pool")
            )
        if strategy == "territory" and not isinstance(params.get("territories"), Mapping):
            problems.append(
                _problem(
                    "params.territories",
                    params.get("territories"),
                    "action.territories",
                    "territory routing needs a mapping of country/region -> owner",
                )
            )
    for key in ("due_in_days", "hours"):
        if key in params:
            value = params[key]
            if (
                isinstance(value, bool)
                or not isinstance(value, (int, float))
                or not math.isfinite(value)
                or value < 0
            ):
                problems.append(
                    _problem(f"params.{key}", value, "action.number", "expected a number >= 0")
                )
    problems.extend(
        _problem(f"params.{key}", params[key], "action.type", "expected a map")
        for key in ("fields", "copy", "territories", "context")
        if key in params and not isinstance(params[key], Mapping)
    )
    return problems


def _check_mapping(value: Mapping[str, Any]) -> None:
    for k, v in value.items():
        if not isinstance(k, str):
            raise TypeError(f"map keys must be text, got {k!r}")
        if isinstance(v, Mapping):
            _check_mapping(v)
        else:
            encode_value(v)


def _freeze_params(params: Any) -> Mapping[str, Any]:
    if not isinstance(params, Mapping):
        raise RuleValidationError(_problem("params", params, "action.params", "expected a map"))
    return {k: _freeze(v) for k, v in params.items()}


def _freeze(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_freeze(v) for v in value)
    if isinstance(value, Mapping):
        return {k: _freeze(v) for k, v in value.items()}
    return value


def _validate_action(instance: Action, attribute: Any, value: Any) -> None:
    problems = _check_params(instance.type, instance.params)
    if instance.delay_days < 0 or not math.isfinite(instance.delay_days):
        problems.append(_problem("delay_days", instance.delay_days, "action.delay", "must be >= 0"))
    if instance.at_field is not None and (
        not isinstance(instance.at_field, str) or not instance.at_field
    ):
        problems.append(
            _problem("at_field", instance.at_field, "action.at_field", "expected a field name")
        )
    if instance.offset_days is not None and not math.isfinite(instance.offset_days):
        problems.append(
            _problem("offset_days", instance.offset_days, "action.delay", "must be finite")
        )
    if problems:
        raise RuleValidationError(problems, f"invalid {instance.type!r} action")


@attrs.frozen
class Action:
    """One action of a rule.

    Attributes:
        type: One of :data:`ACTION_TYPES`.
        params: The action's parameters (see the module docs).
        delay_days: Run this many days (fractions for hours) after the rule fires; the engine
            holds it in its store and re-checks the rule's condition when it comes due.
        at_field: Run relative to this date field of the record instead (with ``offset_days``).
        offset_days: Offset from ``at_field`` (negative: before).
    """

    type: str
    params: Mapping[str, Any] = attrs.field(factory=dict, converter=_freeze_params, hash=False)
    delay_days: float = 0.0
    at_field: str | None = None
    offset_days: float | None = attrs.field(default=None, validator=_validate_action)

    @property
    def delayed(self) -> bool:
        """Whether the action runs later than the rule fires."""
        return self.delay_days > 0 or self.at_field is not None

    @property
    def changes_record(self) -> bool:
        """Whether the action changes the record's fields."""
        return self.type in RECORD_CHANGING

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-friendly dict form."""
        return ACTIONS.to_dict(self)


def _encode_params(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _encode_params(v) for k, v in value.items()}
    return encode_value(value)


def _decode_params(value: Any) -> Any:
    if isinstance(value, Mapping) and not (len(value) == 1 and next(iter(value)).startswith("$")):
        return {k: _decode_params(v) for k, v in value.items()}
    return decode_value(value)


def _decode_params_field(raw: Any, ctx: DecodeContext) -> Any:
    try:
        return _decode_params(raw)
    except TypeError as exc:
        ctx.problem(raw, "action.value", str(exc))
        return SpecCodec.MISSING


def _number(raw: Any, ctx: DecodeContext) -> Any:
    if raw is None:
        return SpecCodec.MISSING
    if isinstance(raw, bool) or not isinstance(raw, (int, float)):
        ctx.problem(raw, "action.delay", "expected a number")
        return SpecCodec.MISSING
    return float(raw)


def _is_none(value: Any) -> bool:
    return value is None


def _is_zero(value: Any) -> bool:
    return not value


#: The dict form of an action (its ``type`` is a field: built-in and custom types share it).
ACTIONS = SpecCodec("action", key=None, error=RuleValidationError)
ACTIONS.register(Action, fields={
    "params": SpecField(encode=_encode_params, decode=_decode_params_field),
    "delay_days": SpecField(omit=_is_zero, decode=_number),
    "at_field": SpecField(omit=_is_none),
    "offset_days": SpecField(omit=_is_none, decode=_number),
})  # fmt: skip


def action_from_dict(data: Any, *, rule: str | None = None, path: str = "action") -> Action:
    """Build an action from its dict form.

    Args:
        data: The dict form.
        rule: The rule's name, quoted in errors.
        path: Where the action sits in the rule, quoted in errors.

    Returns:
        The action.

    Raises:
        RuleValidationError: Every problem, naming the rule and the field path.
    """
    action: Action = ACTIONS.from_dict(data, record=rule, path=path)
    return action


# ------------------------------------------------------------------------------------------
# builders


def create_task(
    title: str,
    *,
    owner: str = "$owner_id",
    due_in_days: float = 1,
    priority: str | None = None,
    notes: str | None = None,
    queue: str | None = None,
    delay_days: float = 0.0,
) -> Action:
    """Create a task (``{field}`` placeholders in the title are filled from the record)."""
    params: dict[str, Any] = {"title": title, "owner": owner, "due_in_days": due_in_days}
    extra = {"priority": priority, "notes": notes, "queue": queue}
    params.update({k: v for k, v in extra.items() if v is not None})
    return Action("create_task", params, delay_days)


def assign_owner(
    strategy: str,
    *,
    pool: tuple[str, ...] | list[str] = (),
    territories: Mapping[str, str] | None = None,
    by: str | tuple[str, ...] = "country",
    fallback: str | None = None,
    field: str = "owner_id",
) -> Action:
    """Assign an owner by round robin, by least open work, or by territory."""
    params: dict[str, Any] = {"strategy": strategy, "field": field}
    if pool:
        params["pool"] = tuple(pool)
    if territories is not None:
        params["territories"] = dict(territories)
        params["by"] = by if isinstance(by, str) else tuple(by)
    if fallback is not None:
        params["fallback"] = fallback
    return Action("assign_owner", params)


def send_alert(to: str, message: str, *, channel: str | None = None) -> Action:
    """Send an internal alert (to a user, a role or ``"$owner_id"``)."""
    params: dict[str, Any] = {"to": to, "message": message}
    if channel is not None:
        params["channel"] = channel
    return Action("send_alert", params)


def update_field(field: str, value: Any, *, delay_days: float = 0.0) -> Action:
    """Set a field to a value (a constant, ``"$path"`` or ``"$now"``)."""
    return Action("update_field", {"field": field, "value": value}, delay_days)


def add_tag(tag: str, *, field: str = "tags") -> Action:
    """Add a tag to the record's tag collection."""
    return Action("add_tag", {"tag": tag, "field": field})


def remove_tag(tag: str, *, field: str = "tags") -> Action:
    """Remove a tag from the record's tag collection."""
    return Action("remove_tag", {"tag": tag, "field": field})


def create_related(
    record_type: str,
    *,
    fields: Mapping[str, Any] | None = None,
    copy: Mapping[str, str] | None = None,
    link_field: str | None = None,
) -> Action:
    """Create a related record: constant ``fields`` plus fields ``copy``-ed (target: source)."""
    params: dict[str, Any] = {"record_type": record_type}
    if fields:
        params["fields"] = dict(fields)
    if copy:
        params["copy"] = dict(copy)
    if link_field:
        params["link_field"] = link_field
    return Action("create_related", params)


def send_email(
    template: str,
    *,
    to: str = "$email",
    context: Mapping[str, Any] | None = None,
    delay_days: float = 0.0,
    at_field: str | None = None,
    offset_days: float | None = None,
) -> Action:
    """Send a templated email through the host's email handler."""
    params: dict[str, Any] = {"template": template, "to": to}
    if context:
        params["context"] = dict(context)
    return Action("send_email", params, delay_days, at_field, offset_days)


def shorten_sla(
    hours: float, *, field: str = "sla_due", start_field: str = "created_at"
) -> Action:
    """Set the SLA due time to ``hours`` business hours after ``start_field`` (if sooner)."""
    return Action("shorten_sla", {"hours": hours, "field": field, "start_field": start_field})


def delayed(
    action: Action,
    *,
    days: float = 0.0,
    hours: float = 0.0,
    at_field: str | None = None,
    offset_days: float | None = None,
) -> Action:
    """Return ``action`` held by the engine instead of taken at once (a scheduled path step).

    Without ``at_field`` it runs ``days`` + ``hours`` after the rule fires; with it, at the date
    in that field plus ``offset_days`` (negative: before) plus ``days`` + ``hours``. When it comes
    due the rule's condition is checked again and the action is cancelled if it no longer holds.

    Example:
        >>> delayed(send_alert("$manager_id", "Still stalled"), days=3).delay_days
        3.0
        >>> prep = delayed(create_task("Prepare renewal"), at_field="renewal_date", offset_days=-30)
        >>> prep.at_field, prep.offset_days
        ('renewal_date', -30.0)
    """
    return attrs.evolve(
        action,
        delay_days=float(days) + float(hours) / 24.0,
        at_field=at_field,
        offset_days=None if offset_days is None else float(offset_days),
    )


def custom_action(name: str, **params: Any) -> Action:
    """A host-specific action, carried out by the handler registered under ``name``."""
    return Action("custom", {"name": name, **params})


# ------------------------------------------------------------------------------------------
# resolution helpers


def render_template(template: str, record: Mapping[str, Any], related: Any = None) -> str:
    """Fill ``{path}`` placeholders from the record (missing values become empty text).

    Example:
        >>> render_template("Call {first_name} at {account.name}", {"first_name": "Ann"},
        ...        {"account": {"name": "Acme"}})
        'Call Ann at Acme'
    """

    def sub(match: re.Match[str]) -> str:
        value = resolve_path(match.group(1), record, related)
        return "" if value is None else str(value)

    return _PLACEHOLDER.sub(sub, template)


def resolve_param(
    value: Any, record: Mapping[str, Any], related: Any, now: datetime, *, key: str = ""
) -> Any:
    """Resolve ``$path`` references, ``$now`` and templates in one param value."""
    if isinstance(value, str):
        if value.startswith("$$"):
            return value[1:]
        if value == "$now":
            return now
        if value.startswith("$") and len(value) > 1:
            return resolve_path(value[1:], record, related)
        if key in _TEMPLATED and "{" in value:
            return render_template(value, record, related)
        return value
    if isinstance(value, Mapping):
        return {k: resolve_param(v, record, related, now, key=k) for k, v in value.items()}
    if isinstance(value, tuple):
        return tuple(resolve_param(v, record, related, now) for v in value)
    return value


ParamResolver = Callable[[Mapping[str, Any], Any, datetime], Any]


def _const(value: Any) -> ParamResolver:
    return lambda record, related, now: value


def _compile_template(template: str) -> ParamResolver:
    pieces: list[str | tuple[str, ...]] = []
    pos = 0
    for match in _PLACEHOLDER.finditer(template):
        if match.start() > pos:
            pieces.append(template[pos : match.start()])
        pieces.append(tuple(match.group(1).split(".")))
        pos = match.end()
    if pos < len(template):
        pieces.append(template[pos:])

    def render_compiled(record: Mapping[str, Any], related: Any, now: datetime) -> str:
        out = []
        for piece in pieces:
            if isinstance(piece, str):
                out.append(piece)
            else:
                value = resolve_path(piece, record, related)
                out.append("" if value is None else str(value))
        return "".join(out)

    return render_compiled


def _compile_param(value: Any, key: str = "") -> tuple[bool, Any]:
    """``(True, constant)`` or ``(False, fn(record, related, now))``; same as resolve_param."""
    if isinstance(value, str):
        if value.startswith("$$"):
            return True, value[1:]
        if value == "$now":
            return False, lambda record, related, now: now
        if value.startswith("$") and len(value) > 1:
            parts = tuple(value[1:].split("."))
            return False, lambda record, related, now: resolve_path(parts, record, related)
        if key in _TEMPLATED and "{" in value:
            return False, _compile_template(value)
        return True, value
    if isinstance(value, Mapping):
        # never a shared constant: each request gets its own dict (handlers may mutate it)
        items = [(k, *_compile_param(v, k)) for k, v in value.items()]
        return False, lambda record, related, now: {
            k: v if const else v(record, related, now) for k, const, v in items
        }
    if isinstance(value, tuple):
        parts_ = [_compile_param(v) for v in value]
        if all(const for const, _ in parts_):
            return True, tuple(v for _, v in parts_)
        return False, lambda record, related, now: tuple(
            v if const else v(record, related, now) for const, v in parts_
        )
    return True, value


def compile_params(params: Mapping[str, Any]) -> list[tuple[str, bool, Any]]:
    """Compile an action's params once: ``[(key, is_constant, constant or resolver)]``."""
    return [(k, *_compile_param(v, k)) for k, v in params.items()]


# ------------------------------------------------------------------------------------------
# handlers


@attrs.frozen
class ActionRequest:
    """What a handler receives (and what a dry run returns) for one action.

    Attributes:
        type: The action type (for ``custom``, the custom ``name``).
        rule: Name of the rule that took the action.
        record_type: Type of the record the rule fired on.
        record_id: Id of that record.
        params: The params with references and templates resolved.
        updates: Field updates the engine applies to the record (record-changing actions).
        new_record: The record to create (``create_related``), else ``None``.
        key: Idempotency key (event id, rule, action index): the same key is never run twice.
        event_id: The event the rule fired on.
        now: The engine's clock when the action was planned.
        record: Snapshot of the record the rule fired on.
    """

    type: str
    rule: str
    record_type: str
    record_id: str
    params: Mapping[str, Any]
    updates: Mapping[str, Any]
    new_record: Mapping[str, Any] | None
    key: str
    event_id: str
    now: datetime
    record: Mapping[str, Any] = attrs.field(eq=False, repr=False)


@runtime_checkable
class ActionHandler(Protocol):
    """Carries out one type of action for the host."""

    def handle(self, request: ActionRequest) -> Any:
        """Carry out the action; the return value is recorded (``create_related``: new id)."""


@attrs.frozen
class FunctionHandler:
    """An :class:`ActionHandler` wrapping a plain function ``fn(request) -> Any``."""

    fn: Callable[[ActionRequest], Any]

    def handle(self, request: ActionRequest) -> Any:
        """Call the function."""
        return self.fn(request)


def function_handler(fn: Callable[[ActionRequest], Any]) -> FunctionHandler:
    """Turn a plain function ``fn(request) -> Any`` into an :class:`ActionHandler`."""
    return FunctionHandler(fn)
