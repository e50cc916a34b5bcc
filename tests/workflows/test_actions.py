"""Tests for crmcore.workflows.actions."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crmcore.errors import RuleValidationError
from crmcore.workflows import Action, action_from_dict, create_task, render_template
from crmcore.workflows._actions import compile_params, resolve_param

NOW = datetime(2024, 1, 1, tzinfo=UTC)


class TestRender:
    def test_placeholders(self) -> None:
        """Placeholders read record fields and related records; missing ones are empty."""
        rec = {"name": "Acme"}
        related = {"account": {"name": "A"}}
        assert render_template("{name} / {account.name} / {nope}", rec, related) == "Acme / A / "

    def test_no_attribute_access(self) -> None:
        """Only dotted field paths are placeholders; format tricks stay literal text."""
        assert render_template("{name.__class__}", {"name": "x"}) == ""
        assert render_template("{0} {name!r}", {"name": "x"}) == "{0} {name!r}"


class TestResolveParam:
    def test_references(self) -> None:
        """$path reads a field, $now is the clock, $$ escapes."""
        rec = {"owner_id": "ann"}
        assert resolve_param("$owner_id", rec, None, NOW) == "ann"
        assert resolve_param("$now", rec, None, NOW) == NOW
        assert resolve_param("$$owner_id", rec, None, NOW) == "$owner_id"


class TestActionValidation:
    def test_missing_and_unknown_params(self) -> None:
        """Missing required params and unknown params are both reported."""
        with pytest.raises(RuleValidationError) as info:
            Action("create_task", {"colour": "red"})
        assert {p.field for p in info.value.problems} == {"params.title", "params.colour"}

    def test_bad_strategy(self) -> None:
        """An unknown assignment strategy is refused."""
        with pytest.raises(RuleValidationError, match="strategy"):
            Action("assign_owner", {"strategy": "dice", "pool": ("a",)})

    def test_from_dict_names_rule(self) -> None:
        """Errors from the dict form name the rule and the path."""
        with pytest.raises(RuleValidationError) as info:
            action_from_dict({"type": "send_alert", "params": {"to": "x"}}, rule="r1",
                             path="actions[2]")  # fmt: skip
        assert (info.value.problems[0].record, info.value.problems[0].field) == (
            "r1", "actions[2].params.message",
        )  # fmt: skip

    def test_round_trip(self) -> None:
        """An action survives its dict form."""
        a = create_task("Call {name}", delay_days=2, priority="high")
        assert action_from_dict(a.to_dict()) == a


_leaf_params = st.one_of(
    st.sampled_from(["$stage", "$account.country", "$now", "$$stage", "$", "plain {x",
                     "Hi {stage} of {account.country}!", "{stage}", "{missing.path}"]),
    st.integers(-3, 3), st.none(), st.booleans(),
)  # fmt: skip
_params = st.dictionaries(
    st.sampled_from(["title", "message", "to", "context", "fields", "x"]),
    st.recursive(
        _leaf_params,
        lambda inner: st.one_of(
            st.lists(inner, max_size=3).map(tuple),
            st.dictionaries(st.sampled_from(["title", "to", "y"]), inner, max_size=3),
        ),
        max_leaves=6,
    ),
    max_size=4,
)
_param_records = st.fixed_dictionaries(
    {}, optional={"stage": st.sampled_from(["won", "open", ""]), "x": st.integers(0, 3)}
)


class TestCompiledParams:
    @settings(max_examples=150, deadline=None)
    @given(_params, _param_records, st.sampled_from([None, {"account": {"country": "DE"}}]))
    def test_same_as_resolve_param(self, params, record, related) -> None:
        """Params compiled once resolve exactly as resolve_param does, value by value."""
        now = datetime(2024, 1, 2, tzinfo=UTC)
        compiled = compile_params(params)
        got = {k: v if const else v(record, related, now) for k, const, v in compiled}
        want = {k: resolve_param(v, record, related, now, key=k) for k, v in params.items()}
        assert got == want
