"""Tests for crmcore.workflows.events and crmcore.workflows.triggers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crmcore.errors import RuleValidationError, ValidationError
from crmcore.workflows import (
    Engine,
    Event,
    FieldChange,
    Rule,
    Unchanged,
    as_record,
    create_task,
    diff_records,
    trigger_from_dict,
)

small = st.dictionaries(st.sampled_from("abcde"), st.none() | st.integers(0, 3), max_size=5)


class TestDiffRecords:
    @settings(deadline=None)  # no timing assertion: a loaded CI box stalls
    @given(small, small)
    def test_matches_brute_force(self, before, after) -> None:
        """The diff holds exactly the keys whose values differ (missing counts as None)."""
        diff = diff_records(before, after)
        for key in set(before) | set(after):
            if before.get(key) != after.get(key):
                assert diff[key] == FieldChange(before.get(key), after.get(key))
            else:
                assert key not in diff


class TestEvent:
    def test_updated_before(self) -> None:
        """An update event knows the record before the change."""
        ev = Event.updated({"id": 1, "stage": "a", "x": 1}, {"id": 1, "stage": "b", "x": 1})
        assert ev.before() == {"id": "1", "stage": "a", "x": 1}
        assert ev.change_map() == {"stage": ("a", "b")}

    def test_derived_ids_stable(self) -> None:
        """Without an id, the same change gives the same event id (duplicates are caught)."""
        a = Event.updated({"id": "1", "s": 1}, {"id": "1", "s": 2})
        b = Event.updated({"id": "1", "s": 1}, {"id": "1", "s": 2})
        c = Event.updated({"id": "1", "s": 1}, {"id": "1", "s": 3})
        assert a.id == b.id != c.id

    def test_derived_ids_tell_repeated_changes_apart(self) -> None:
        """The same change made again later (new occurred_at) is a new event, not a duplicate."""
        t0 = datetime(2024, 1, 1, tzinfo=UTC)
        first = Event.updated({"id": "1", "s": 1}, {"id": "1", "s": 2}, occurred_at=t0)
        again = Event.updated({"id": "1", "s": 1}, {"id": "1", "s": 2}, occurred_at=t0)
        later = Event.updated({"id": "1", "s": 1}, {"id": "1", "s": 2},
                              occurred_at=t0 + timedelta(days=1))  # fmt: skip
        assert first.id == again.id != later.id

    def test_bad_kind_and_missing_id(self) -> None:
        """An unknown kind or a record without id is refused."""
        with pytest.raises(ValidationError):
            Event("deleted", {"id": "1"})
        with pytest.raises(ValidationError):
            as_record({"name": "x"})

    def test_model_record(self) -> None:
        """A model record becomes a plain dict with its record type, enums as values."""
        from crmcore.model import Contact, LifecycleStage

        rec = as_record(Contact(id="c1", first_name="Ann", lifecycle_stage=LifecycleStage.LEAD))
        assert rec["record_type"] == "contact"
        assert rec["lifecycle_stage"] == "lead"


class TestTriggerFromDict:
    @pytest.mark.parametrize(
        ("data", "field"),
        [
            ({"type": "nope"}, "trigger.type"),
            ({"type": "date_offset", "field": "d"}, "trigger.days"),
            ({"type": "unchanged", "field": "s", "days": 3, "colour": 1}, "trigger.colour"),
            ({"type": "no_activity", "days": -1}, "trigger.days"),
            ({"type": "event", "on": ["deleted"]}, "trigger.on"),
        ],
    )
    def test_errors_name_field(self, data, field) -> None:
        """Each invalid trigger names the rule and the offending field."""
        with pytest.raises(RuleValidationError) as info:
            trigger_from_dict(data, rule="r")
        assert info.value.problems[0].field == field
        assert info.value.problems[0].record == "r"


class TestUnchangedStamp:
    def test_update_without_stamp_keeps_clock(self) -> None:
        """An update that does not touch the field keeps its unchanged-since clock."""
        t0 = datetime(2024, 1, 1, tzinfo=UTC)
        eng = Engine([Rule("s", "deal", Unchanged("stage", 10), (create_task("t"),))],
                     handlers={"create_task": lambda r: None})  # fmt: skip
        rec = {"id": "d1", "record_type": "deal", "stage": "a", "updated_at": t0}
        eng.record_created(rec, now=t0)
        later = {**rec, "amount": 5, "updated_at": t0 + timedelta(days=5)}
        eng.record_updated(rec, later, now=t0 + timedelta(days=5))
        assert eng.tick(t0 + timedelta(days=11)).fired() == ["s"]
