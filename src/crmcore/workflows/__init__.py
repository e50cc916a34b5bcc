"""Workflows: an embeddable trigger-action rule engine for CRM automation.

"When X happens, do Y": events (a record created or updated, time passing) meet rules (trigger,
condition, actions); the engine decides, audits every decision, and the host's handlers act.
Rules are declarative values that serialise to JSON / YAML; seven standard CRM workflows ship in
:mod:`crmcore.workflows.examples`. See ``docs/workflows.md``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from crmcore import compat
from crmcore.workflows._actions import (
    ACTION_TYPES,
    RECORD_CHANGING,
    Action,
    ActionHandler,
    ActionRequest,
    FunctionHandler,
    action_from_dict,
    add_tag,
    assign_owner,
    create_related,
    create_task,
    custom_action,
    delayed,
    function_handler,
    remove_tag,
    render_template,
    send_alert,
    send_email,
    shorten_sla,
    update_field,
)
from crmcore.workflows._assignment import (
    least_loaded,
    round_robin,
    territory_owner,
)
from crmcore.workflows._engine import Engine
from crmcore.workflows._events import (
    EVENT_KINDS,
    Event,
    FieldChange,
    as_record,
    diff_records,
)
from crmcore.workflows._executor import ActionOutcome
from crmcore.workflows._index import Decision
from crmcore.workflows._rules import (
    PHASES,
    Rule,
    RuleSet,
    rules_from_dict,
)
from crmcore.workflows._runner import EngineAuditEntry, RunResult
from crmcore.workflows._sla import (
    BusinessCalendar,
    always_open,
)
from crmcore.workflows._store import (
    MemoryScheduleStore,
    PendingAction,
    ScheduleStore,
    SQLiteScheduleStore,
)
from crmcore.workflows._triggers import (
    DateOffset,
    NoActivity,
    OnEvent,
    OnStageChange,
    TimeTrigger,
    Trigger,
    Unchanged,
    on_created,
    on_created_or_updated,
    on_updated,
    trigger_from_dict,
)

__all__ = [
    "ACTION_TYPES",
    "EVENT_KINDS",
    "PHASES",
    "RECORD_CHANGING",
    "Action",
    "ActionHandler",
    "ActionOutcome",
    "ActionRequest",
    "BusinessCalendar",
    "DateOffset",
    "Decision",
    "Engine",
    "EngineAuditEntry",
    "Event",
    "FieldChange",
    "FunctionHandler",
    "MemoryScheduleStore",
    "NoActivity",
    "OnEvent",
    "OnStageChange",
    "PendingAction",
    "Rule",
    "RuleSet",
    "RunResult",
    "SQLiteScheduleStore",
    "ScheduleStore",
    "TimeTrigger",
    "Trigger",
    "Unchanged",
    "action_from_dict",
    "add_tag",
    "always_open",
    "as_record",
    "assign_owner",
    "create_related",
    "create_task",
    "custom_action",
    "delayed",
    "diff_records",
    "function_handler",
    "least_loaded",
    "on_created",
    "on_created_or_updated",
    "on_updated",
    "remove_tag",
    "render_template",
    "round_robin",
    "rules_from_dict",
    "send_alert",
    "send_email",
    "shorten_sla",
    "territory_owner",
    "trigger_from_dict",
    "update_field",
]

compat.own(__name__, globals(), __all__)
if not TYPE_CHECKING:  # old names warn (type checkers see only the names above)
    __getattr__ = compat.door_getattr(__name__)
