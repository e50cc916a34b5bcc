"""Enumerations of the domain model.

All are :class:`enum.StrEnum`, so members compare equal to their plain string values
(``LifecycleStage.LEAD == "lead"``) and serialise as those values. Record constructors accept
either the member or its value.
"""

from __future__ import annotations

from enum import StrEnum


class LifecycleStage(StrEnum):
    """Where a contact (or account) stands in the marketing and sales funnel, in funnel order."""

    SUBSCRIBER = "subscriber"
    LEAD = "lead"
    MQL = "mql"
    """Marketing-qualified lead."""
    SQL = "sql"
    """Sales-qualified lead."""
    OPPORTUNITY = "opportunity"
    CUSTOMER = "customer"
    EVANGELIST = "evangelist"
    OTHER = "other"


class ActivityType(StrEnum):
    """Kind of an :class:`~crmcore.model.Activity`."""

    CALL = "call"
    EMAIL = "email"
    MEETING = "meeting"
    TASK = "task"
    NOTE = "note"


class TicketPriority(StrEnum):
    """Priority of a support ticket, lowest first."""

    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"


class StageKind(StrEnum):
    """Kind of a pipeline stage: still open, or terminal won / lost."""

    OPEN = "open"
    WON = "won"
    LOST = "lost"


class ConsentChannel(StrEnum):
    """The channel a consent covers."""

    EMAIL = "email"
    PHONE = "phone"
    SMS = "sms"
    POST = "post"
    MESSAGING = "messaging"
    """Chat apps (WhatsApp, Messenger ...)."""
    PUSH = "push"
    IN_PERSON = "in_person"
    OTHER = "other"


class ConsentPurpose(StrEnum):
    """What the person's data may be used for."""

    MARKETING = "marketing"
    SALES_OUTREACH = "sales_outreach"
    PRODUCT_UPDATES = "product_updates"
    DATA_SHARING = "data_sharing"


class ConsentStatus(StrEnum):
    """State of a consent."""

    OPTED_IN = "opted_in"
    OPTED_OUT = "opted_out"
    PENDING = "pending"


class LawfulBasis(StrEnum):
    """The lawful bases for processing of GDPR Article 6(1)(a)-(f)."""

    CONSENT = "consent"
    CONTRACT = "contract"
    LEGAL_OBLIGATION = "legal_obligation"
    VITAL_INTERESTS = "vital_interests"
    PUBLIC_TASK = "public_task"
    LEGITIMATE_INTERESTS = "legitimate_interests"
