"""Tests for crmcore.model.account."""

from __future__ import annotations

import pytest

from crmcore.errors import ValidationError
from crmcore.model import (
    Account,
)


def rules_of(exc: pytest.ExceptionInfo[ValidationError]) -> list[tuple[str, str]]:
    return [(p.field, p.rule) for p in exc.value.problems]


class TestAccount:
    """Account construction."""

    def test_self_parent(self) -> None:
        """An account cannot be its own parent."""
        with pytest.raises(ValidationError) as info:
            Account(id="a", parent_id="a")
        assert rules_of(info) == [("parent_id", "parent.self")]
        assert Account(id="a", parent_id="b").parent_id == "b"
