"""Pipelines: deal stages and ticket statuses as ordered stages plus a transition table.

A :class:`Pipeline` is a declarative value: ordered :class:`Stage` values (each open, won or
lost) and a table ``from stage -> allowed target stages``. The engine is one function,
:meth:`Pipeline.transition`, which checks the move against the table and returns a *new* record;
an illegal move raises :class:`StageTransitionError` (a
:class:`~crmcore.errors.TransitionError`) and, records being immutable, changes nothing.

Rules of a transition, checked in this order:

1. the record's type is the pipeline's ``record_type`` and its ``pipeline`` field (when it has
   one) names this pipeline;
2. the current and the target stage are stages of the pipeline;
3. the table allows ``current -> target`` (moving to the same stage is never allowed);
4. a *lost* target needs a non-empty ``reason`` (stored in ``reason_field``); any other target
   takes no reason, and the reason field is cleared;
5. the target's ``required_fields`` are all filled on the record (e.g. the default sales
   pipeline wants an ``amount`` once a deal leaves its first stage);
6. ``now`` (default: current UTC time) must be timezone-aware; it becomes ``updated_at``.

Example:
    >>> from crmcore.model import Deal
    >>> deal = Deal(id="d-1", amount="1000", currency="EUR")
    >>> DEFAULT_SALES_PIPELINE.transition(deal, "proposal").stage
    'proposal'
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

import attrs

from crmcore.errors import FieldProblem, TransitionError, ValidationError
from crmcore.model._base import Value
from crmcore.model._enums import StageKind
from crmcore.model._field_codecs import Id
from crmcore.model._frozen_map import EMPTY_MAP, FrozenMap
from crmcore.model._record import FieldName, utc_now


class StageTransitionError(TransitionError):
    """An illegal stage move; names the record, both stages and the broken rule.

    Attributes:
        record: Id of the record.
        from_stage: Its current stage.
        to_stage: The requested stage.
        rule: Machine-readable rule name (``"transition.not_allowed"``, ``"transition.reason"``,
            ``"transition.required_fields"`` ...).
    """

    def __init__(
        self, message: str, *, record: str | None, from_stage: Any, to_stage: Any, rule: str
    ) -> None:
        where = f"record {record}: " if record else ""
        super().__init__(f"{where}{message}")
        self.record = record
        self.from_stage = from_stage
        self.to_stage = to_stage
        self.rule = rule


def is_filled(value: Any) -> bool:
    """Whether a field value counts as filled: not ``None``, not blank, not an empty collection."""
    if value is None:
        return False
    if isinstance(value, str):
        return bool(value.strip())
    if isinstance(value, (tuple, list, frozenset, set, Mapping)):
        return len(value) > 0
    return True


@attrs.frozen
class Stage(Value):
    """One stage of a pipeline.

    Args:
        id: Stage id stored on the record (``"proposal"``).
        label: Display label.
        kind: Open, or terminal won / lost.
        probability: Win probability between 0 and 1 (forecasting), when used.
        required_fields: Record fields that must be filled for a record to be in this stage.
    """

    id: Id
    label: str | None = None
    kind: StageKind = StageKind.OPEN
    probability: Decimal | None = None
    required_fields: tuple[FieldName, ...] = ()

    def _invariants(self) -> Iterable[tuple[str, Any, str, str]]:
        if self.probability is not None and not 0 <= self.probability <= 1:
            yield (
                "probability",
                self.probability,
                "probability.range",
                "a probability is between 0 and 1",
            )

    @property
    def is_terminal(self) -> bool:
        """Whether the stage is won or lost."""
        return self.kind is not StageKind.OPEN


@attrs.frozen(kw_only=True)
class Pipeline(Value):
    """Ordered stages and the table of allowed moves between them.

    Build one with :meth:`linear` (table generated from the stage order) or give ``transitions``
    explicitly. Stages without an entry in ``transitions`` have no way out.

    Args:
        id: Pipeline id, stored on records in their ``pipeline`` field.
        record_type: Record type the pipeline applies to (``"deal"``, ``"ticket"``).
        stages: The stages, in order; the first must be open.
        transitions: For each stage id, the stage ids it may move to.
        stage_field: Record field holding the stage (``"stage"`` on deals, ``"status"`` on tickets).
        reason_field: Record field that stores the reason of a lost stage (``None``: no reason
            field, yet lost stages still demand a reason argument).
        label: Display label.
    """

    id: Id
    record_type: Id
    stages: tuple[Stage, ...]
    transitions: FrozenMap[Id, frozenset[Id]] = EMPTY_MAP
    stage_field: FieldName = "stage"
    reason_field: FieldName | None = "loss_reason"
    label: str | None = None

    def _invariants(self) -> Iterable[tuple[str, Any, str, str]]:
        if not self.stages:
            yield ("stages", (), "stages.required", "a pipeline needs at least one stage")
            return
        ids: set[str] = set()
        for i, stage in enumerate(self.stages):
            if stage.id in ids:
                yield (f"stages[{i}].id", stage.id, "stages.duplicate", "stage ids must be unique")
            ids.add(stage.id)
        if self.stages[0].kind is not StageKind.OPEN:
            yield (
                "stages[0].kind",
                self.stages[0].kind.value,
                "stages.first_open",
                "the first stage must be an open stage",
            )
        for source, targets in self.transitions.items():
            if source not in ids:
                yield (
                    f"transitions[{source!r}]",
                    source,
                    "transitions.unknown_stage",
                    f"{source!r} is not a stage of the pipeline",
                )
            for target in sorted(targets):
                if target not in ids:
                    yield (
                        f"transitions[{source!r}]",
                        target,
                        "transitions.unknown_stage",
                        f"{target!r} is not a stage of the pipeline",
                    )
                elif target == source:
                    yield (
                        f"transitions[{source!r}]",
                        target,
                        "transitions.self_loop",
                        "a stage cannot move to itself",
                    )

    @classmethod
    def linear(
        cls,
        pipeline_id: str,
        record_type: str,
        stages: Sequence[Stage],
        *,
        allow_backward: bool = True,
        allow_skip: bool = True,
        reopen_to: str | None = None,
        stage_field: str = "stage",
        reason_field: str | None = "loss_reason",
        label: str | None = None,
    ) -> Pipeline:
        """Build a pipeline whose table follows the stage order.

        Open stages move forward (to the next one, or to any later one when ``allow_skip``) and
        back (when ``allow_backward``); every open stage may move to every won or lost stage;
        terminal stages move nowhere, except to ``reopen_to`` when given.

        Args:
            pipeline_id: Pipeline id.
            record_type: Record type it applies to.
            stages: Stages in order.
            allow_backward: Whether open stages may move back to earlier open stages.
            allow_skip: Whether open stages may jump over later open stages.
            reopen_to: An open stage that won / lost records may be reopened to.
            stage_field: See the class.
            reason_field: See the class.
            label: See the class.

        Returns:
            The pipeline.

        Raises:
            ValidationError: If the stages are inconsistent (duplicates, a terminal first
                stage, ``reopen_to`` not an open stage).
        """
        stages = tuple(stages)
        open_ids = [s.id for s in stages if s.kind is StageKind.OPEN]
        terminal_ids = [s.id for s in stages if s.kind is not StageKind.OPEN]
        table: dict[str, frozenset[str]] = {}
        for i, source in enumerate(open_ids):
            targets = set(terminal_ids)
            for j, target in enumerate(open_ids):
                if (j > i and (allow_skip or j == i + 1)) or (j < i and allow_backward):
                    targets.add(target)
            table[source] = frozenset(targets)
        if reopen_to is not None:
            if reopen_to not in open_ids:
                raise ValidationError(
                    FieldProblem(
                        field="reopen_to",
                        value=reopen_to,
                        rule="reopen_to.open",
                        message="reopen_to must be an open stage of the pipeline",
                        record=pipeline_id,
                    ),
                    "invalid Pipeline",
                )
            for source in terminal_ids:
                table[source] = frozenset({reopen_to})
        return cls(
            id=pipeline_id,
            record_type=record_type,
            stages=stages,
            transitions=FrozenMap(table),
            stage_field=stage_field,
            reason_field=reason_field,
            label=label,
        )

    # ---- look-ups ---------------------------------------------------------------------------

    @property
    def stage_ids(self) -> tuple[str, ...]:
        """Stage ids in order."""
        return tuple(s.id for s in self.stages)

    @property
    def first_stage(self) -> Stage:
        """The first (entry) stage."""
        return self.stages[0]

    def stage(self, stage_id: str) -> Stage:
        """Return the stage with id ``stage_id``.

        Raises:
            KeyError: If the pipeline has no such stage.
        """
        for s in self.stages:
            if s.id == stage_id:
                return s
        raise KeyError(stage_id)

    def has_stage(self, stage_id: object) -> bool:
        """Whether ``stage_id`` is a stage of this pipeline."""
        return any(s.id == stage_id for s in self.stages)

    def allowed_from(self, stage_id: str) -> tuple[str, ...]:
        """Return the stages ``stage_id`` may move to, in stage order."""
        targets = self.transitions.get(stage_id, frozenset())
        return tuple(s for s in self.stage_ids if s in targets)

    def can_move(self, from_stage: str, to_stage: str) -> bool:
        """Whether the table allows ``from_stage -> to_stage``."""
        return to_stage in self.transitions.get(from_stage, frozenset())

    def missing_fields(self, record: Any, stage_id: str | None = None) -> tuple[str, ...]:
        """Return the required fields of a stage that ``record`` leaves empty.

        Args:
            record: The record.
            stage_id: The stage to check (default: the record's current stage).
        """
        sid = getattr(record, self.stage_field) if stage_id is None else stage_id
        if not self.has_stage(sid):
            return ()
        return tuple(
            f for f in self.stage(sid).required_fields if not is_filled(getattr(record, f, None))
        )

    # ---- the engine -------------------------------------------------------------------------

    def transition(
        self,
        record: Any,
        to_stage: str,
        *,
        reason: str | None = None,
        now: datetime | None = None,
    ) -> Any:
        """Return a copy of ``record`` moved to ``to_stage`` (see the module rules).

        Args:
            record: A record of this pipeline's type (a :class:`~crmcore.model.Deal`,
                :class:`~crmcore.model.Ticket` ...).
            to_stage: Target stage id.
            reason: Why the record was lost; required for lost stages, refused otherwise.
            now: Time of the move (timezone-aware); becomes ``updated_at``. Default: now (UTC).

        Returns:
            The new record; the given one is unchanged.

        Raises:
            StageTransitionError: If any rule is broken.
        """
        record_id = getattr(record, "id", None)
        current: Any = getattr(record, self.stage_field, None)

        def fail(rule: str, message: str) -> StageTransitionError:
            return StageTransitionError(
                message, record=record_id, from_stage=current, to_stage=to_stage, rule=rule
            )

        record_type = getattr(record, "record_type", None)
        if record_type != self.record_type:
            raise fail(
                "transition.record_type",
                f"pipeline {self.id!r} moves {self.record_type} records, not {record_type!r}",
            )
        record_pipeline = getattr(record, "pipeline", self.id)
        if record_pipeline != self.id:
            raise fail(
                "transition.pipeline",
                f"the record is in pipeline {record_pipeline!r}, not {self.id!r}",
            )
        if not self.has_stage(current):
            raise fail(
                "transition.unknown_stage",
                f"the current {self.stage_field} {current!r} is not a stage of pipeline "
                f"{self.id!r}",
            )
        if not self.has_stage(to_stage):
            raise fail(
                "transition.unknown_stage",
                f"{to_stage!r} is not a stage of pipeline {self.id!r}; stages: "
                + ", ".join(self.stage_ids),
            )
        if not self.can_move(current, to_stage):
            allowed = ", ".join(self.allowed_from(current)) or "none (terminal stage)"
            raise fail(
                "transition.not_allowed",
                f"cannot move from {current!r} to {to_stage!r} in pipeline {self.id!r}; "
                f"allowed: {allowed}",
            )
        target = self.stage(to_stage)
        if target.kind is StageKind.LOST:
            if not isinstance(reason, str) or not reason.strip():
                raise fail("transition.reason", f"moving to lost stage {to_stage!r} needs a reason")
        elif reason is not None:
            raise fail(
                "transition.reason",
                f"a reason is only taken by lost stages, and {to_stage!r} is {target.kind.value}",
            )
        missing = self.missing_fields(record, to_stage)
        if missing:
            raise fail(
                "transition.required_fields",
                f"stage {to_stage!r} needs " + ", ".join(repr(f) for f in missing),
            )
        if now is None:
            now = utc_now()
        elif not isinstance(now, datetime) or now.utcoffset() is None:
            raise fail("transition.now", "now must be a timezone-aware datetime")
        changes: dict[str, Any] = {self.stage_field: to_stage}
        if hasattr(record, "updated_at"):
            changes["updated_at"] = now
        if self.reason_field is not None and hasattr(record, self.reason_field):
            changes[self.reason_field] = reason
        try:
            return attrs.evolve(record, **changes)
        except ValidationError as exc:
            raise fail("transition.invalid_result", str(exc)) from exc


DEFAULT_SALES_PIPELINE: Pipeline = Pipeline.linear(
    "sales",
    "deal",
    [
        Stage("qualification", "Qualification", probability=Decimal("0.1")),
        Stage(
            "needs_analysis",
            "Needs analysis",
            probability=Decimal("0.25"),
            required_fields=("amount",),
        ),
        Stage("proposal", "Proposal", probability=Decimal("0.5"), required_fields=("amount",)),
        Stage(
            "negotiation", "Negotiation", probability=Decimal("0.8"), required_fields=("amount",)
        ),
        Stage("won", "Closed won", StageKind.WON, Decimal(1), required_fields=("amount",)),
        Stage("lost", "Closed lost", StageKind.LOST, Decimal(0)),
    ],
    label="Sales",
)
"""The default deal pipeline: a deal needs an amount once it leaves ``qualification``."""

DEFAULT_TICKET_PIPELINE: Pipeline = Pipeline.linear(
    "support",
    "ticket",
    [
        Stage("new", "New"),
        Stage("open", "Open"),
        Stage("waiting_on_customer", "Waiting on customer"),
        Stage("resolved", "Resolved", StageKind.WON),
        Stage("cancelled", "Cancelled", StageKind.LOST),
    ],
    reopen_to="open",
    stage_field="status",
    reason_field="close_reason",
    label="Support",
)
"""The default ticket status flow; resolved or cancelled tickets may be reopened to ``open``."""

DEFAULT_PIPELINES: FrozenMap[str, Pipeline] = FrozenMap(
    {p.id: p for p in (DEFAULT_SALES_PIPELINE, DEFAULT_TICKET_PIPELINE)}
)
"""The default pipelines by id."""


def transition(
    record: Any,
    to_stage: str,
    *,
    reason: str | None = None,
    now: datetime | None = None,
    pipelines: Mapping[str, Pipeline] = DEFAULT_PIPELINES,
) -> Any:
    """Move ``record`` to ``to_stage`` in the pipeline named by its ``pipeline`` field.

    Args:
        record: A deal, ticket or other record with a ``pipeline`` field.
        to_stage: Target stage id.
        reason: Reason for lost stages.
        now: Time of the move (timezone-aware).
        pipelines: Pipelines by id (default: :data:`DEFAULT_PIPELINES`).

    Returns:
        The moved copy.

    Raises:
        StageTransitionError: If the pipeline is unknown or the move is illegal.
    """
    pipeline_id = getattr(record, "pipeline", None)
    pipeline = pipelines.get(pipeline_id) if isinstance(pipeline_id, str) else None
    if pipeline is None:
        raise StageTransitionError(
            f"unknown pipeline {pipeline_id!r}; known: " + ", ".join(sorted(pipelines)),
            record=getattr(record, "id", None),
            from_stage=None,
            to_stage=to_stage,
            rule="transition.pipeline",
        )
    return pipeline.transition(record, to_stage, reason=reason, now=now)
