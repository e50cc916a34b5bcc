"""Tests for crmcore.model.deal."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from crmcore.errors import ValidationError
from crmcore.model import (
    Deal,
)


def rules_of(exc: pytest.ExceptionInfo[ValidationError]) -> list[tuple[str, str]]:
    return [(p.field, p.rule) for p in exc.value.problems]


class TestDeal:
    """Deal construction."""

    def test_defaults(self) -> None:
        """A new deal sits in the first stage of the default sales pipeline."""
        d = Deal(id="d")
        assert (d.pipeline, d.stage, d.amount) == ("sales", "qualification", None)

    def test_amount_needs_currency(self) -> None:
        """An amount without a currency is refused."""
        with pytest.raises(ValidationError) as info:
            Deal(id="d", amount=Decimal(10))
        assert rules_of(info) == [("currency", "amount.currency_required")]

    def test_currency_shape(self) -> None:
        """A currency is three upper-case letters on construction (the ISO table is a rule)."""
        with pytest.raises(ValidationError) as info:
            Deal(id="d", amount=1, currency="eur")
        assert rules_of(info) == [("currency", "currency.shape")]
        assert Deal(id="d", amount=1, currency="ZZZ").currency == "ZZZ"

    def test_duplicate_contacts(self) -> None:
        """A contact id may appear once."""
        with pytest.raises(ValidationError) as info:
            Deal(id="d", contact_ids=["c", "c"])
        assert rules_of(info) == [("contact_ids[1]", "contact_ids.duplicate")]

    def test_dates(self) -> None:
        """Close and next-step dates are dates."""
        d = Deal(
            id="d", close_date=date(2024, 6, 1), next_step="demo", next_step_date=date(2024, 5, 1)
        )
        assert d.next_step_date == date(2024, 5, 1)
