"""Tests for crmcore.model.consent."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from crmcore.errors import ValidationError
from crmcore.model import (
    Consent,
    ConsentStatus,
)

T0 = datetime(2024, 1, 1, tzinfo=UTC)
T1 = datetime(2025, 1, 1, tzinfo=UTC)


def rules_of(exc: pytest.ExceptionInfo[ValidationError]) -> list[tuple[str, str]]:
    return [(p.field, p.rule) for p in exc.value.problems]


class TestConsent:
    """Consent construction (shape only)."""

    def test_shape(self) -> None:
        """Strings become the consent enums."""
        k = Consent(id="k", person_id="c", channel="sms", purpose="marketing", status="opted_out")
        assert k.status is ConsentStatus.OPTED_OUT
        assert k.status == "opted_out"

    def test_expiry_order(self) -> None:
        """expires_at must come after effective_from."""
        with pytest.raises(ValidationError) as info:
            Consent(
                id="k",
                person_id="c",
                channel="email",
                purpose="marketing",
                status="opted_in",
                effective_from=T1,
                expires_at=T0,
            )
        assert rules_of(info) == [("expires_at", "consent.expiry_order")]
