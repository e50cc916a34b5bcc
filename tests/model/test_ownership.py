"""Tests for crmcore.model.ownership."""

from __future__ import annotations

import pytest

from crmcore.errors import ValidationError
from crmcore.model import (
    Team,
    User,
)


def rules_of(exc: pytest.ExceptionInfo[ValidationError]) -> list[tuple[str, str]]:
    return [(p.field, p.rule) for p in exc.value.problems]


class TestOwnership:
    """User and Team construction."""

    def test_user(self) -> None:
        """Users are active by default; active must be a bool."""
        assert User(id="u").active is True
        with pytest.raises(ValidationError):
            User(id="u", active="no")  # type: ignore[arg-type]

    def test_team(self) -> None:
        """Teams refuse duplicate members and being their own parent."""
        assert Team(id="t", member_ids=["u1", "u2"]).member_ids == ("u1", "u2")
        with pytest.raises(ValidationError) as info:
            Team(id="t", member_ids=["u1", "u1"], parent_id="t")
        assert rules_of(info) == [
            ("member_ids[1]", "member_ids.duplicate"),
            ("parent_id", "parent.self"),
        ]
