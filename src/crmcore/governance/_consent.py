"""Consent values: events, the do-not-sell flag, group changes, the policy and decisions.

The ledger that keeps them and decides over them is in ``_ledger.py``.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal

import attrs
import numpy as np
import numpy.typing as npt

from crmcore.errors import ConsentError, FieldProblem
from crmcore.model import ConsentChannel, ConsentPurpose, ConsentStatus, LawfulBasis

PURPOSES: frozenset[str] = frozenset(p.value for p in ConsentPurpose)
"""Consent purposes (the values of :class:`crmcore.model.ConsentPurpose`)."""
STATUSES: frozenset[str] = frozenset(s.value for s in ConsentStatus)
"""Consent statuses: opted in, opted out, pending double opt-in confirmation."""
LAWFUL_BASES: frozenset[str] = frozenset(b.value for b in LawfulBasis)
"""The six GDPR Article 6(1) lawful bases (the values of :class:`crmcore.model.LawfulBasis`)."""
DATA_SHARING = "data_sharing"
"""The purpose blocked by the US "do not sell or share" flag."""
ANY_CHANNEL = "any"
"""Channel under which ``data_sharing`` events are kept and checked (sharing has no channel)."""
CHANNELS: frozenset[str] = frozenset(c.value for c in ConsentChannel) | {ANY_CHANNEL}
"""The channels a ledger accepts by default (:class:`crmcore.model.ConsentChannel` and ``any``);
a :class:`ConsentPolicy` may allow more (``channels=CHANNELS | {"whatsapp"}``)."""


class DecisionReason(enum.StrEnum):
    """Why a contact check was allowed or denied."""

    OPTED_IN = "opted_in"
    LEGITIMATE_INTEREST = "legitimate_interest"
    OPTED_OUT = "opted_out"
    PENDING = "pending_double_opt_in"
    EXPIRED = "expired"
    NO_CONSENT = "no_consent"
    BASIS_NOT_PERMITTED = "basis_not_permitted"
    DO_NOT_SELL = "do_not_sell"
    ERASED = "erased"


@attrs.frozen
class ConsentVerdict:
    """The answer to "may we contact this person on this channel for this purpose, now?".

    Truthy when allowed. ``record_id`` names the consent event that decided, when one did.

    Args:
        allowed: Whether the contact is allowed.
        reason: Why.
        record_id: Id of the deciding :class:`ConsentEvent`, if any.
    """

    allowed: bool
    reason: DecisionReason
    record_id: str | None = None

    def __bool__(self) -> bool:
        return self.allowed


def text_value(value: object) -> object:
    """Enum members become their value; everything else is kept."""
    return value.value if isinstance(value, enum.Enum) else value


def string_value(value: object) -> str:
    return str(text_value(value))


def optional_text(value: object) -> str | None:
    value = text_value(value)
    return None if value is None or value == "" else str(value)


def reject(field: str, value: object, rule: str, message: str, record: str | None) -> None:
    raise ConsentError(str(FieldProblem(field, value, rule, message, record)))


def _aware(inst: Any, attribute: attrs.Attribute[Any], value: datetime | None) -> None:
    if value is not None and (not isinstance(value, datetime) or value.tzinfo is None):
        reject(attribute.name, value, "datetime.tz_aware", "needs a tz-aware datetime", inst.id)


def _required_aware(inst: Any, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is None:
        reject(attribute.name, value, "required", "a capture time is needed", inst.id)
    _aware(inst, attribute, value)  # type: ignore[arg-type]


@attrs.frozen
class ConsentEvent:
    """One consent statement, as kept in the ledger (never changed once appended).

    Args:
        id: Event id (unique in the ledger).
        person_id: The person the statement is about.
        channel: ``email``, ``phone``, ``sms``, ``post`` ...
        purpose: One of :data:`PURPOSES`.
        status: One of :data:`STATUSES`.
        captured_at: When the statement was captured (tz-aware).
        contact_point: The email address / phone number it covers; None for every contact
            point of the channel.
        lawful_basis: One of :data:`LAWFUL_BASES` (default ``consent``).
        effective_from: When it takes effect (default: ``captured_at``).
        expires_at: When an opt-in lapses (None: never).
        source: Where it came from (form, import, API ...).
        evidence: Proof (form id, IP address, double opt-in token ...).
        seq: Append order, set by the ledger.
    """

    id: str = attrs.field(converter=str)
    person_id: str = attrs.field(converter=str)
    channel: str = attrs.field(converter=string_value)
    purpose: str = attrs.field(converter=string_value)
    status: str = attrs.field(converter=string_value)
    captured_at: datetime = attrs.field(validator=_required_aware)
    contact_point: str | None = attrs.field(default=None, converter=optional_text)
    lawful_basis: str = attrs.field(default="consent", converter=string_value)
    effective_from: datetime | None = attrs.field(default=None, validator=_aware)
    expires_at: datetime | None = attrs.field(default=None, validator=_aware)
    source: str | None = attrs.field(default=None, converter=optional_text)
    evidence: str | None = attrs.field(default=None, converter=optional_text)
    seq: int = 0

    def __attrs_post_init__(self) -> None:
        if not self.person_id:
            reject("person_id", self.person_id, "required", "a person id is needed", self.id)
        if not self.channel:
            reject("channel", self.channel, "required", "a channel is needed", self.id)
        if self.purpose not in PURPOSES:
            reject(
                "purpose", self.purpose, "consent.purpose", f"not in {sorted(PURPOSES)}", self.id
            )
        if self.status not in STATUSES:
            reject("status", self.status, "consent.status", f"not in {sorted(STATUSES)}", self.id)
        if self.lawful_basis not in LAWFUL_BASES:
            reject(
                "lawful_basis",
                self.lawful_basis,
                "consent.lawful_basis",
                f"not in {sorted(LAWFUL_BASES)}",
                self.id,
            )
        start = self.effective_from or self.captured_at
        if self.expires_at is not None and self.expires_at <= start:
            reject(
                "expires_at",
                self.expires_at,
                "consent.expiry_after_start",
                "expiry must be after effective_from",
                self.id,
            )

    @property
    def effective(self) -> datetime:
        """``effective_from``, or ``captured_at`` when not given."""
        return self.effective_from or self.captured_at

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (datetimes as ISO text)."""
        out = attrs.asdict(self)
        for key in ("captured_at", "effective_from", "expires_at"):
            if out[key] is not None:
                out[key] = out[key].isoformat()
        return out


@attrs.frozen
class DoNotSellEvent:
    """A US "do not sell or share my personal information" flag set or cleared.

    Args:
        person_id: The person.
        flag: True sets the flag, False clears it.
        captured_at: When (tz-aware).
        source: Where it came from.
        seq: Append order, set by the ledger.
    """

    person_id: str = attrs.field(converter=str)
    flag: bool
    captured_at: datetime
    source: str | None = None
    seq: int = 0

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (datetimes as ISO text)."""
        out = attrs.asdict(self)
        out["captured_at"] = self.captured_at.isoformat()
        return out


@attrs.frozen
class GroupChange:
    """A merge or unmerge of persons as seen by the ledger.

    Args:
        action: ``merge`` or ``unmerge``.
        person_ids: For a merge, the survivor then the other; for an unmerge, the person leaving.
        at: When.
    """

    action: Literal["merge", "unmerge"]
    person_ids: tuple[str, ...]
    at: datetime


def _default_bases() -> dict[str, frozenset[str]]:
    return {
        "marketing": frozenset({"consent"}),
        "sales_outreach": frozenset({"consent", "legitimate_interests"}),
        "product_updates": frozenset({"consent", "contract", "legitimate_interests"}),
        "data_sharing": frozenset({"consent"}),
    }


def _check_bases(_inst: object, _attr: object, value: Mapping[str, frozenset[str]]) -> None:
    for purpose, bases in value.items():
        if purpose not in PURPOSES:
            raise ConsentError(f"ConsentPolicy: unknown purpose {purpose!r}")
        unknown = set(bases) - LAWFUL_BASES
        if unknown:
            raise ConsentError(f"ConsentPolicy: unknown lawful bases {sorted(unknown)}")


@attrs.frozen
class ConsentPolicy:
    """What counts as consent: lawful bases per purpose, legitimate interest, the merge rule.

    Args:
        allowed_bases: Purpose -> lawful bases under which an opt-in counts. By default
            marketing and data sharing need ``consent``; sales outreach also accepts
            ``legitimate_interests``; product updates accept ``consent``, ``contract`` and
            ``legitimate_interests``.
        legitimate_interest: ``(purpose, channel)`` pairs where a person with *no* event may be
            contacted on legitimate interest (B2B sales outreach by email, say). Empty by
            default. An opt-out still wins.
        merge_rule: ``most_restrictive`` (default: an opt-out current on either side of a merge
            is re-stated at the merge time) or ``newest_wins`` (plain union of the histories).
        channels: The channels events and checks may name (default :data:`CHANNELS`); any other
            channel (a typo such as ``"emial"``) is refused with a :class:`ConsentError`.
    """

    allowed_bases: Mapping[str, frozenset[str]] = attrs.field(
        factory=_default_bases, validator=_check_bases
    )
    legitimate_interest: frozenset[tuple[str, str]] = frozenset()
    merge_rule: Literal["most_restrictive", "newest_wins"] = attrs.field(
        default="most_restrictive",
        validator=attrs.validators.in_(("most_restrictive", "newest_wins")),
    )
    channels: frozenset[str] = attrs.field(default=CHANNELS, converter=frozenset)

    def to_dict(self) -> dict[str, Any]:
        """The JSON / YAML-friendly form (:mod:`crmcore.governance` policy files)."""
        from crmcore.governance._policy_set import CONSENT_POLICIES

        return CONSENT_POLICIES.to_dict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ConsentPolicy:
        """Read :meth:`to_dict`'s form.

        Raises:
            PolicyConfigError: Listing every problem (path, value, rule) in ``problems``.
        """
        from crmcore.governance._policy_set import CONSENT_POLICIES

        value: ConsentPolicy = CONSENT_POLICIES.from_dict(data)
        return value


@attrs.frozen
class DecisionBatch:
    """Decisions for many persons at once (columnar).

    Args:
        person_ids: The persons asked about, in order.
        allowed: Boolean array, one per person.
        reasons: Reason codes (``DecisionReason`` values), one per person.
        decisions: The :class:`ConsentVerdict` values, one per person.
    """

    person_ids: tuple[str, ...]
    allowed: npt.NDArray[np.bool_]
    reasons: tuple[str, ...]
    decisions: tuple[ConsentVerdict, ...]

    def __len__(self) -> int:
        return len(self.person_ids)

    def denied(self) -> dict[str, str]:
        """Person id -> reason for everyone denied."""
        return {
            p: r
            for p, r, ok in zip(self.person_ids, self.reasons, self.allowed.tolist(), strict=True)
            if not ok
        }
