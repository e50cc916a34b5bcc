"""Tests for crmcore.model.activity."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from crmcore.errors import ValidationError
from crmcore.model import (
    Activity,
    ActivityType,
    RecordRef,
)

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def rules_of(exc: pytest.ExceptionInfo[ValidationError]) -> list[tuple[str, str]]:
    return [(p.field, p.rule) for p in exc.value.problems]


class TestActivity:
    """Activity construction."""

    def test_due_date_only_for_tasks(self) -> None:
        """Only tasks take a due date."""
        assert Activity(id="a", activity_type="task", due_date=date(2024, 1, 1)).due_date
        with pytest.raises(ValidationError) as info:
            Activity(id="a", activity_type="call", due_date=date(2024, 1, 1))
        assert rules_of(info) == [("due_date", "due_date.task_only")]
        assert "only tasks have a due date" in info.value.problems[0].message

    def test_related_records(self) -> None:
        """Related records are typed references; duplicates are refused."""
        a = Activity(
            id="a",
            activity_type=ActivityType.MEETING,
            related=[RecordRef("contact", "c"), RecordRef("deal", "d"), RecordRef("contact", "e")],
            occurred_at=T0,
            outcome="held",
        )
        assert a.related_ids("contact") == ("c", "e")
        with pytest.raises(ValidationError) as info:
            Activity(id="a", activity_type="note", related=[RecordRef("deal", "d")] * 2)
        assert rules_of(info) == [("related[1]", "related.duplicate")]

    def test_type_required(self) -> None:
        """The activity type is required and must be known."""
        with pytest.raises(ValidationError) as info:
            Activity(id="a", activity_type="fax")
        assert rules_of(info) == [("activity_type", "enum")]
