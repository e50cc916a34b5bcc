"""Tests for crmcore.model.ticket."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from crmcore.errors import ValidationError
from crmcore.model import (
    Ticket,
    TicketPriority,
)

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def rules_of(exc: pytest.ExceptionInfo[ValidationError]) -> list[tuple[str, str]]:
    return [(p.field, p.rule) for p in exc.value.problems]


class TestTicket:
    """Ticket construction."""

    def test_defaults_and_priority(self) -> None:
        """New tickets are 'new' in 'support' with normal priority; strings become enums."""
        t = Ticket(id="t", priority="urgent", sla_due=T0)
        assert (t.pipeline, t.status) == ("support", "new")
        assert t.priority is TicketPriority.URGENT
        assert Ticket(id="t").priority is TicketPriority.NORMAL

    def test_sla_due_aware(self) -> None:
        """sla_due must be timezone-aware."""
        with pytest.raises(ValidationError) as info:
            Ticket(id="t", sla_due=datetime(2024, 1, 1))
        assert rules_of(info) == [("sla_due", "datetime.naive")]
