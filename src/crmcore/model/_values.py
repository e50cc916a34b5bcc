"""Small nested values of the model: provenance, postal address, typed references, memberships.

Example:
    >>> from datetime import datetime, timezone
    >>> p = Provenance("hubspot", "4711", datetime(2024, 5, 1, tzinfo=timezone.utc))
    >>> Provenance.from_dict(p.to_dict()) == p
    True
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import attrs

from crmcore.model._base import Value
from crmcore.model._field_codecs import Id, NonEmpty, Pattern

#: A country code shape checked on construction: two upper-case letters. Whether the code is
#: assigned (ISO 3166-1 alpha-2) is a validation rule (:class:`crmcore.model.CountryCode`).
CountryShape = Annotated[
    str, Pattern("[A-Z]{2}", "country.shape", "a country is two upper-case letters (ISO 3166-1)")
]
#: A currency code shape checked on construction: three upper-case letters. Whether the code is
#: in ISO 4217 is a validation rule (:class:`crmcore.model.CurrencyCode`).
CurrencyShape = Annotated[
    str, Pattern("[A-Z]{3}", "currency.shape", "a currency is three upper-case letters (ISO 4217)")
]
_RecordTypeName = Annotated[
    str,
    Pattern(
        "[a-z][a-z0-9_]*",
        "record_type.shape",
        "a record type is a lower-case name such as 'contact' or 'deal'",
    ),
]
_SourceSystem = Annotated[str, NonEmpty("source_system.required")]


@attrs.frozen
class Provenance(Value):
    """Where a value or a record came from.

    Args:
        source_system: Name of the system the value was read from (``"hubspot"``, ``"web_form"``).
        source_record_id: Identifier of the record in that system, when known.
        observed_at: When the value was observed there (timezone-aware).
    """

    source_system: _SourceSystem
    source_record_id: str | None = None
    observed_at: datetime | None = None


@attrs.frozen(kw_only=True)
class Address(Value):
    """A postal address; every part is optional.

    Args:
        street: Street and number (may span lines).
        city: City or locality.
        region: State, province, county.
        postcode: Postal code as written.
        country: ISO 3166-1 alpha-2 code (two upper-case letters).
    """

    street: str | None = None
    city: str | None = None
    region: str | None = None
    postcode: str | None = None
    country: CountryShape | None = None

    @property
    def is_empty(self) -> bool:
        """Whether no part of the address is set."""
        return not any((self.street, self.city, self.region, self.postcode, self.country))


@attrs.frozen
class RecordRef(Value):
    """A typed reference to a record of any type: ``RecordRef("deal", "d-1")``.

    Args:
        record_type: The referenced record's type (``"contact"``, ``"deal"`` ...).
        id: The referenced record's id.
    """

    record_type: _RecordTypeName
    id: Id

    @classmethod
    def to(cls, record: Any) -> RecordRef:
        """Return a reference to ``record`` (anything with ``record_type`` and ``id``)."""
        return cls(record.record_type, record.id)

    def __str__(self) -> str:
        return f"{self.record_type}:{self.id}"


@attrs.frozen
class AccountMembership(Value):
    """A contact's membership in an account (stored on :attr:`Contact.memberships`).

    Args:
        account_id: Id of the account.
        role: The contact's role there (``"buyer"``, ``"billing"``, ``"champion"`` ...).
        primary: Whether this is the contact's primary account; a contact has at most one.
    """

    account_id: Id
    role: str | None = None
    primary: bool = False
