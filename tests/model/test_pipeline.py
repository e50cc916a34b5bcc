"""Tests for crmcore.model.pipeline: transition tables and the transition engine."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crmcore.errors import TransitionError, ValidationError
from crmcore.model import (
    DEFAULT_PIPELINES,
    DEFAULT_SALES_PIPELINE,
    DEFAULT_TICKET_PIPELINE,
    Contact,
    Deal,
    FrozenMap,
    Pipeline,
    Stage,
    StageKind,
    StageTransitionError,
    Ticket,
    transition,
)
from crmcore.model._pipeline import is_filled

from .strategies import pipelines

NOW = datetime(2024, 3, 1, 12, tzinfo=UTC)


def reference_allowed(pipeline: Pipeline, options: dict, src: str, dst: str) -> bool:
    """Brute-force legality of a move in a linear pipeline, straight from the documented rules."""
    kinds = {s.id: s.kind for s in pipeline.stages}
    if src not in kinds or dst not in kinds or src == dst:
        return False
    if kinds[src] is not StageKind.OPEN:
        return dst == options["reopen_to"]
    if kinds[dst] is not StageKind.OPEN:
        return True
    opens = [s.id for s in pipeline.stages if s.kind is StageKind.OPEN]
    i, j = opens.index(src), opens.index(dst)
    if j > i:
        return options["allow_skip"] or j == i + 1
    return options["allow_backward"]


@st.composite
def pipeline_with_options(draw: st.DrawFn) -> tuple[Pipeline, dict]:
    """A linear pipeline plus the options that built it."""
    base = draw(pipelines())
    options = {
        "allow_backward": draw(st.booleans()),
        "allow_skip": draw(st.booleans()),
        "reopen_to": draw(
            st.none() | st.sampled_from([s.id for s in base.stages if s.kind is StageKind.OPEN])
        ),
    }
    return Pipeline.linear(base.id, "deal", base.stages, **options), options


class TestLinear:
    """Pipeline.linear builds the table from the stage order."""

    @settings(max_examples=200, deadline=None)
    @given(pipeline_with_options())
    def test_table_matches_reference(self, built) -> None:
        """can_move agrees with the brute-force rules for every pair of stages."""
        pipeline, options = built
        for src in pipeline.stage_ids:
            for dst in pipeline.stage_ids:
                assert pipeline.can_move(src, dst) == reference_allowed(pipeline, options, src, dst)

    def test_reopen_must_be_open(self) -> None:
        """reopen_to must name an open stage."""
        stages = [Stage("a"), Stage("won", kind=StageKind.WON)]
        with pytest.raises(ValidationError) as info:
            Pipeline.linear("p", "deal", stages, reopen_to="won")
        assert info.value.problems[0].rule == "reopen_to.open"

    def test_allowed_from_in_stage_order(self) -> None:
        """allowed_from lists targets in stage order; terminal stages have none by default."""
        assert DEFAULT_SALES_PIPELINE.allowed_from("proposal") == (
            "qualification",
            "needs_analysis",
            "negotiation",
            "won",
            "lost",
        )
        assert DEFAULT_SALES_PIPELINE.allowed_from("won") == ()
        assert DEFAULT_TICKET_PIPELINE.allowed_from("resolved") == ("open",)


class TestPipelineInvariants:
    """Pipeline construction checks."""

    @pytest.mark.parametrize(
        ("kwargs", "rule"),
        [
            ({"stages": []}, "stages.required"),
            ({"stages": [Stage("a"), Stage("a")]}, "stages.duplicate"),
            ({"stages": [Stage("w", kind=StageKind.WON)]}, "stages.first_open"),
            (
                {"stages": [Stage("a")], "transitions": {"a": frozenset({"zz"})}},
                "transitions.unknown_stage",
            ),
            (
                {"stages": [Stage("a")], "transitions": {"zz": frozenset()}},
                "transitions.unknown_stage",
            ),
            (
                {"stages": [Stage("a")], "transitions": {"a": frozenset({"a"})}},
                "transitions.self_loop",
            ),
        ],
    )
    def test_rejects(self, kwargs, rule) -> None:
        """Each inconsistency is reported with its rule."""
        with pytest.raises(ValidationError) as info:
            Pipeline(id="p", record_type="deal", **kwargs)
        assert rule in {p.rule for p in info.value.problems}

    def test_probability_range(self) -> None:
        """Stage probabilities lie between 0 and 1."""
        with pytest.raises(ValidationError) as info:
            Stage("a", probability=Decimal("1.5"))
        assert info.value.problems[0].rule == "probability.range"

    def test_explicit_table(self) -> None:
        """An explicit table is used as given."""
        p = Pipeline(
            id="p",
            record_type="deal",
            stages=[Stage("a"), Stage("b"), Stage("x", kind=StageKind.LOST)],
            transitions={"a": {"b"}, "b": {"x"}},
        )
        assert isinstance(p.transitions, FrozenMap)
        assert p.can_move("a", "b")
        assert not p.can_move("a", "x")
        assert not p.can_move("b", "a")


class TestTransition:
    """Pipeline.transition: legal moves give a new record; illegal ones raise, change nothing."""

    @settings(max_examples=300, deadline=None)
    @given(pipeline_with_options(), st.data())
    def test_property_against_reference(self, built, data) -> None:
        """A move succeeds iff the reference allows it and the reason fits; else nothing changes."""
        pipeline, options = built
        src = data.draw(st.sampled_from(pipeline.stage_ids))
        dst = data.draw(st.sampled_from([*pipeline.stage_ids, "no-such-stage"]))
        reason = data.draw(st.none() | st.sampled_from(["price", "  ", "timing"]))
        deal = Deal(id="d", pipeline=pipeline.id, stage=src, loss_reason="old", created_at=NOW)
        before = deal.to_dict()
        lost = pipeline.has_stage(dst) and pipeline.stage(dst).kind is StageKind.LOST
        reason_ok = (reason is not None and reason.strip() != "") if lost else reason is None
        expected = reference_allowed(pipeline, options, src, dst) and reason_ok
        if not expected:
            with pytest.raises(TransitionError) as info:
                pipeline.transition(deal, dst, reason=reason, now=NOW)
            assert isinstance(info.value, StageTransitionError)
            assert (info.value.from_stage, info.value.to_stage, info.value.record) == (
                src,
                dst,
                "d",
            )
            assert deal.to_dict() == before
        else:
            moved = pipeline.transition(deal, dst, reason=reason, now=NOW)
            assert moved.stage == dst
            assert moved.updated_at == NOW
            assert moved.loss_reason == (reason if lost else None)
            assert attrs.evolve(moved, stage=src, updated_at=None, loss_reason="old") == deal
            assert deal.to_dict() == before

    def test_amount_before_leaving_first_stage(self) -> None:
        """The default sales pipeline wants an amount once a deal leaves qualification."""
        deal = Deal(id="d")
        with pytest.raises(StageTransitionError) as info:
            DEFAULT_SALES_PIPELINE.transition(deal, "needs_analysis")
        assert info.value.rule == "transition.required_fields"
        assert "'amount'" in str(info.value)
        lost = DEFAULT_SALES_PIPELINE.transition(deal, "lost", reason="no budget", now=NOW)
        assert (lost.stage, lost.loss_reason) == ("lost", "no budget")
        priced = attrs.evolve(deal, amount=Decimal("10"), currency="USD")
        won = DEFAULT_SALES_PIPELINE.transition(priced, "won", now=NOW)
        assert won.stage == "won"

    def test_terminal_is_terminal(self) -> None:
        """Won and lost deals cannot move in the default sales pipeline."""
        lost = Deal(id="d", stage="lost", loss_reason="x")
        with pytest.raises(StageTransitionError, match="terminal stage") as info:
            DEFAULT_SALES_PIPELINE.transition(lost, "qualification")
        assert info.value.rule == "transition.not_allowed"

    def test_ticket_flow_and_reopen(self) -> None:
        """Tickets resolve, reopen, and need a reason to be cancelled (stored in close_reason)."""
        t = Ticket(id="t")
        t = transition(t, "open", now=NOW)
        t = transition(t, "resolved", now=NOW)
        t = transition(t, "open", now=NOW)
        with pytest.raises(StageTransitionError) as info:
            transition(t, "cancelled", now=NOW)
        assert info.value.rule == "transition.reason"
        t = transition(t, "cancelled", reason="duplicate", now=NOW)
        assert (t.status, t.close_reason) == ("cancelled", "duplicate")
        t = transition(t, "open", now=NOW)
        assert t.close_reason is None

    @pytest.mark.parametrize(
        ("record", "to", "kwargs", "rule"),
        [
            (Contact(id="c"), "won", {}, "transition.record_type"),
            (Deal(id="d", pipeline="other"), "proposal", {}, "transition.pipeline"),
            (Deal(id="d", stage="limbo"), "proposal", {}, "transition.unknown_stage"),
            (Deal(id="d"), "limbo", {}, "transition.unknown_stage"),
            (Deal(id="d"), "qualification", {}, "transition.not_allowed"),
            (Deal(id="d"), "lost", {"reason": ""}, "transition.reason"),
            (Deal(id="d", amount=1, currency="EUR"), "won", {"reason": "why"}, "transition.reason"),
            (
                Deal(id="d", amount=1, currency="EUR"),
                "won",
                {"now": datetime(2024, 1, 1)},
                "transition.now",
            ),
            (
                Deal(id="d", amount=1, currency="EUR", created_at=NOW),
                "won",
                {"now": datetime(2000, 1, 1, tzinfo=UTC)},
                "transition.invalid_result",
            ),
        ],
    )
    def test_illegal(self, record, to, kwargs, rule) -> None:
        """Each broken rule raises with its rule name and leaves the record unchanged."""
        before = record.to_dict()
        with pytest.raises(StageTransitionError) as info:
            DEFAULT_SALES_PIPELINE.transition(record, to, **kwargs)
        assert info.value.rule == rule
        assert record.to_dict() == before

    def test_default_now_is_aware_utc(self) -> None:
        """Without now the move is stamped with the current UTC time."""
        moved = DEFAULT_SALES_PIPELINE.transition(Deal(id="d"), "lost", reason="x")
        assert moved.updated_at is not None
        assert moved.updated_at.utcoffset() is not None


class TestModuleTransition:
    """crmcore.model.transition picks the pipeline by the record's pipeline id."""

    def test_unknown_pipeline(self) -> None:
        """A record in an unknown pipeline raises."""
        with pytest.raises(StageTransitionError) as info:
            transition(Deal(id="d", pipeline="enterprise"), "proposal")
        assert info.value.rule == "transition.pipeline"

    def test_custom_pipelines(self) -> None:
        """Hosts pass their own pipelines."""
        custom = Pipeline.linear(
            "enterprise",
            "deal",
            [Stage("intro"), Stage("pilot"), Stage("signed", kind=StageKind.WON)],
        )
        pipelines = {**DEFAULT_PIPELINES, "enterprise": custom}
        moved = transition(
            Deal(id="d", pipeline="enterprise", stage="intro"), "pilot", pipelines=pipelines
        )
        assert moved.stage == "pilot"


class TestMissingFields:
    """Pipeline.missing_fields and is_filled."""

    def test_missing(self) -> None:
        """Required fields of the current (or given) stage that are empty are listed."""
        deal = Deal(id="d", stage="proposal")
        assert DEFAULT_SALES_PIPELINE.missing_fields(deal) == ("amount",)
        assert DEFAULT_SALES_PIPELINE.missing_fields(deal, "qualification") == ()
        assert DEFAULT_SALES_PIPELINE.missing_fields(Deal(id="d", stage="zz")) == ()

    @pytest.mark.parametrize(
        ("value", "filled"),
        [
            (None, False),
            ("", False),
            ("  ", False),
            ((), False),
            (frozenset(), False),
            ({}, False),
            ("x", True),
            (0, True),
            (Decimal(0), True),
            (False, True),
            (("a",), True),
        ],
    )
    def test_is_filled(self, value, filled) -> None:
        """None, blanks and empty collections are not filled; zero and False are."""
        assert is_filled(value) is filled
