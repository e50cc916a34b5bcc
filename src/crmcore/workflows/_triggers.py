"""Triggers: what makes a rule look at a record.

Event triggers react to host events; time triggers are evaluated by ``Engine.tick(now)``:

* :class:`OnEvent` — a record was created and/or updated (optionally only when given fields
  changed);
* :class:`OnStageChange` — a stage or status field changed (optionally from / to given values);
* :class:`DateOffset` — N days before (negative) or after a date field (renewal in 60 days);
* :class:`Unchanged` — a field has not changed for N days (deal stage unchanged for 14 days);
* :class:`NoActivity` — no activity for N days (``last_activity_at``, else ``created_at``).

A time trigger's *period* is the instant it comes due for one record; it fires at most once per
record and period, however often ``tick`` runs. When the base date moves (a renewal date is pushed
back, the stage changes, an activity is logged) a new period starts.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import attrs

from crmcore.errors import FieldProblem, RuleValidationError
from crmcore.model import SpecCodec


def _bad(field: str, value: Any, rule: str, message: str) -> RuleValidationError:
    return RuleValidationError(FieldProblem(f"trigger.{field}", value, rule, message))


def _names(values: Any) -> tuple[str, ...]:
    if isinstance(values, str):
        values = (values,)
    out = tuple(values)
    for v in out:
        if not isinstance(v, str) or not v:
            raise _bad("fields", v, "trigger.field", "field names must be non-empty strings")
    return out


def _kinds(values: Any) -> tuple[str, ...]:
    out = tuple(values) if not isinstance(values, str) else (values,)
    if not out or any(k not in ("created", "updated") for k in out):
        raise _bad("on", values, "trigger.on", "expected a list of 'created' / 'updated'")
    return out


def _field(instance: Any, attribute: Any, value: Any) -> None:
    if not isinstance(value, str) or not value:
        raise _bad(attribute.name, value, "trigger.field", "a field name is required")


def _days(instance: Any, attribute: Any, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise _bad(attribute.name, value, "trigger.days", "days must be a finite number")
    if attribute.name != "days" and value < 0:
        raise _bad(attribute.name, value, "trigger.days", "must be >= 0")


def _opt_days(instance: Any, attribute: Any, value: Any) -> None:
    if value is not None:
        _days(instance, attribute, value)
        if value < 0:
            raise _bad(attribute.name, value, "trigger.days", "must be >= 0")


def _consts(values: Any) -> tuple[Any, ...]:
    if isinstance(values, str):
        return (values,)
    return tuple(values)


@attrs.frozen
class OnEvent:
    """Fire on record events.

    Attributes:
        on: Which events: ``("created",)``, ``("updated",)`` or both.
        fields: For updates, fire only when one of these fields changed (empty: any update).
    """

    on: tuple[str, ...] = attrs.field(default=("created", "updated"), converter=_kinds)
    fields: tuple[str, ...] = attrs.field(default=(), converter=_names)
    type: ClassVar[str] = "event"
    is_time: ClassVar[bool] = False

    def to_dict(self) -> dict[str, Any]:
        """Return the dict form."""
        return TRIGGERS.to_dict(self)


@attrs.frozen
class OnStageChange:
    """Fire when a stage / status field changes, optionally only to or from given values.

    Attributes:
        field: The stage or status field (``"stage"``, ``"status"``).
        to: Fire only when the new value is one of these (empty: any).
        from_: Fire only when the old value is one of these (empty: any).
    """

    field: str = attrs.field(default="stage", validator=_field)
    to: tuple[Any, ...] = attrs.field(default=(), converter=_consts)
    from_: tuple[Any, ...] = attrs.field(default=(), converter=_consts)
    type: ClassVar[str] = "stage_changed"
    is_time: ClassVar[bool] = False

    @property
    def on(self) -> tuple[str, ...]:
        """Stage changes are updates."""
        return ("updated",)

    @property
    def fields(self) -> tuple[str, ...]:
        """The watched field."""
        return (self.field,)

    def to_dict(self) -> dict[str, Any]:
        """Return the dict form."""
        return TRIGGERS.to_dict(self)


@attrs.frozen
class DateOffset:
    """Fire ``days`` after the date in ``field`` (negative: before it).

    Attributes:
        field: The date field (``"renewal_date"``).
        days: Offset in days; ``-60`` is "60 days before".
        max_late_days: Skip periods that came due more than this many days before ``now``
            (``None``: fire however late, e.g. on the first tick after loading old records).
    """

    field: str = attrs.field(validator=_field)
    days: float = attrs.field(validator=_days)
    max_late_days: float | None = attrs.field(default=None, validator=_opt_days)
    type: ClassVar[str] = "date_offset"
    is_time: ClassVar[bool] = True

    @property
    def base_field(self) -> str:
        """The field whose date the period is measured from."""
        return self.field

    @property
    def fallback_field(self) -> str | None:
        """No fallback date."""
        return None

    @property
    def date_fields(self) -> tuple[str, ...]:
        """Fields read, in order, for the date a period is measured from: only ``field``.

        A record without the date never comes due (no ``created_at`` fallback: an SLA rule
        must not fire for a ticket without an SLA).
        """
        return (self.field,)

    def to_dict(self) -> dict[str, Any]:
        """Return the dict form."""
        return TRIGGERS.to_dict(self)


@attrs.frozen
class Unchanged:
    """Fire when ``field`` has not changed for ``days`` days.

    The clock starts when the record is created or the field last changed, as seen by the
    engine; ``since_field`` names a record field holding that time instead (for records loaded
    in bulk, ``"<field>_changed_at"`` is used when present, else ``updated_at``, else
    ``created_at``).
    """

    field: str = attrs.field(validator=_field)
    days: float = attrs.field(validator=_opt_days)
    since_field: str | None = None
    max_late_days: float | None = attrs.field(default=None, validator=_opt_days)
    type: ClassVar[str] = "unchanged"
    is_time: ClassVar[bool] = True

    @property
    def base_field(self) -> str:
        """The field holding the time of the last change."""
        return self.since_field or f"{self.field}_changed_at"

    @property
    def fallback_field(self) -> str | None:
        """Used when the base field is empty."""
        return "updated_at"

    @property
    def date_fields(self) -> tuple[str, ...]:
        """Fields read, in order: the change time, ``updated_at``, ``created_at``."""
        return (self.base_field, "updated_at", "created_at")

    def to_dict(self) -> dict[str, Any]:
        """Return the dict form."""
        return TRIGGERS.to_dict(self)


@attrs.frozen
class NoActivity:
    """Fire when there was no activity for ``days`` days.

    Attributes:
        days: Days without activity.
        field: Field holding the last activity time (the engine also moves it forward through
            ``Engine.note_activity``).
        fallback: Field used when there was never any activity.
    """

    days: float = attrs.field(validator=_opt_days)
    field: str = attrs.field(default="last_activity_at", validator=_field)
    fallback: str = attrs.field(default="created_at", validator=_field)
    max_late_days: float | None = attrs.field(default=None, validator=_opt_days)
    type: ClassVar[str] = "no_activity"
    is_time: ClassVar[bool] = True

    @property
    def base_field(self) -> str:
        """The last-activity field."""
        return self.field

    @property
    def fallback_field(self) -> str | None:
        """Used when there was never any activity."""
        return self.fallback

    @property
    def date_fields(self) -> tuple[str, ...]:
        """Fields read, in order: the last activity, then ``fallback``, then ``created_at``."""
        return tuple(dict.fromkeys((self.field, self.fallback, "created_at")))

    def to_dict(self) -> dict[str, Any]:
        """Return the dict form."""
        return TRIGGERS.to_dict(self)


TimeTrigger = DateOffset | Unchanged | NoActivity
Trigger = OnEvent | OnStageChange | DateOffset | Unchanged | NoActivity


def on_created() -> OnEvent:
    """Fire when a record is created."""
    return OnEvent(("created",))


def on_updated(*fields: str) -> OnEvent:
    """Fire when a record is updated (only when one of ``fields`` changed, if given)."""
    return OnEvent(("updated",), fields)


def on_created_or_updated(*fields: str) -> OnEvent:
    """Fire on creation, and on updates (of ``fields``, if given)."""
    return OnEvent(("created", "updated"), fields)


#: The dict form of every trigger, dispatched by ``"type"``.
TRIGGERS = SpecCodec("trigger", key="type", error=RuleValidationError)
for _cls in (OnEvent, OnStageChange, DateOffset, Unchanged, NoActivity):
    TRIGGERS.register(_cls, _cls.type)


def trigger_from_dict(data: Any, *, rule: str | None = None) -> Trigger:
    """Build a trigger from its dict form.

    Args:
        data: The dict form.
        rule: The rule's name, quoted in errors.

    Returns:
        The trigger.

    Raises:
        RuleValidationError: Naming the rule and the trigger field.
    """
    trigger: Trigger = TRIGGERS.from_dict(data, record=rule, path="trigger")
    return trigger
