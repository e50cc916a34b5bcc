"""The :class:`Consent` record: the shape of a consent decision (its rules live in governance)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, ClassVar

import attrs

from crmcore.model._enums import ConsentChannel, ConsentPurpose, ConsentStatus, LawfulBasis
from crmcore.model._field_codecs import Id
from crmcore.model._record import Record
from crmcore.model._registry import register
from crmcore.model._timestamps import utc_instant


@register
@attrs.frozen(kw_only=True)
class Consent(Record):
    """One consent decision of one person, for one purpose over one channel.

    Only the shape is defined here; which consent wins on merge and who may be contacted is
    decided by governance.

    Args:
        id: Record id.
        person_id: Id of the contact the consent belongs to.
        channel: Channel covered (email, phone, sms, post ...).
        purpose: Purpose covered (marketing, sales outreach ...).
        status: Opted in, opted out or pending (double opt-in not confirmed yet).
        contact_point: The email address or phone number the consent is about, when specific.
        lawful_basis: GDPR Art. 6 lawful basis.
        source: Where the consent was captured (form name, import, call ...).
        evidence: Pointer to the evidence (form submission id, recording, document).
        captured_at: When it was captured (timezone-aware).
        effective_from: When it takes effect.
        expires_at: When it lapses; must be after ``effective_from`` when both are set.
        created_at: See :class:`Record`.
        updated_at: See :class:`Record`.
        provenance: See :class:`Record`.
        field_provenance: See :class:`Record`.

    Example:
        >>> c = Consent(id="k-1", person_id="c-1", channel="email", purpose="marketing",
        ...             status="opted_in", contact_point="ada@example.com")
        >>> c.status
        <ConsentStatus.OPTED_IN: 'opted_in'>
    """

    record_type: ClassVar[str] = "consent"

    person_id: Id
    channel: ConsentChannel
    purpose: ConsentPurpose
    status: ConsentStatus
    contact_point: str | None = None
    lawful_basis: LawfulBasis | None = None
    source: str | None = None
    evidence: str | None = None
    captured_at: datetime | None = None
    effective_from: datetime | None = None
    expires_at: datetime | None = None

    def _invariants(self) -> Iterable[tuple[str, Any, str, str]]:
        yield from super()._invariants()
        if (
            self.expires_at is not None
            and self.effective_from is not None
            # instants, not wall times
            and utc_instant(self.expires_at) <= utc_instant(self.effective_from)
        ):
            yield (
                "expires_at",
                self.expires_at,
                "consent.expiry_order",
                "expires_at must be after effective_from",
            )
