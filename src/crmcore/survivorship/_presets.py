"""Default survivorship rules for the ``contacts`` and ``accounts`` presets.

Field names are the canonical flat fields of schema mapping (``email``, ``phone``, ``company``,
``updated_at`` ...) plus the multi-valued fields of the domain model (``emails``, ``phones``,
``tags``, ``account_ids``), which are unions.

The validators here are cheap shape checks so that bulk runs stay fast; for strict checks use a
normalizer name instead, e.g.
``rules.with_fields(phone=FieldRule(MostRecent(), validate="phone"))``.
"""

from __future__ import annotations

from typing import Any

from crmcore.errors import SurvivorshipError
from crmcore.survivorship._policies import (
    Aggregate,
    Earliest,
    Highest,
    Longest,
    Lowest,
    MostComplete,
    MostFrequent,
    MostRecent,
    parse_time_us,
)
from crmcore.survivorship._rules import (
    FieldGroup,
    FieldRule,
    RegexValidator,
    SurvivorshipRules,
    group_key,
)

#: E-mail shape: ``local@domain.tld``.
EMAIL_LIKE = RegexValidator(r"\s*[^@\s]+@[^@\s]+\.[^@\s.]+\s*")
#: Phone shape: 7 to 15 digits with phone punctuation, an optional extension.
PHONE_LIKE = RegexValidator(
    r"\s*\+?(?:[\s().\-/]*\d){7,15}[\s().\-/]*(?:(?:;ext=|ext\.?|x)\s*\d+)?\s*",
    ignore_case=True,
)


def is_email_like(value: Any) -> bool:
    """True for text shaped like an e-mail address (``local@domain.tld``).

    Example:
        >>> is_email_like("ann@example.com"), is_email_like("ann(at)example")
        (True, False)
    """
    return EMAIL_LIKE(value)


def is_phone_like(value: Any) -> bool:
    """True for text with 7 to 15 digits and only phone punctuation (extensions allowed).

    Example:
        >>> is_phone_like("+33 1 23 45 67 89"), is_phone_like("n/a")
        (True, False)
    """
    return PHONE_LIKE(value)


def is_date_like(value: Any) -> bool:
    """True for a date / datetime, or text that parses as one.

    Example:
        >>> is_date_like("2024-02-29"), is_date_like("someday")
        (True, False)
    """
    return parse_time_us(value) is not None


#: An address survives whole: street, city, postcode, region and country of one record.
ADDRESS = FieldGroup("address", ("street", "city", "postcode", "region", "country"))
#: A phone number keeps its extension.
PHONE = FieldGroup("phone", ("phone", "phone_extension"))
#: A person's name parts come from one record (the spelling most records agree on).
NAME = FieldGroup(
    "name", ("salutation", "first_name", "middle_name", "last_name", "name_suffix"),
    rule=FieldRule(
        MostFrequent(), tie_breakers=(MostComplete(), MostRecent()), key=group_key
    ),
)
#: Field groups of the contacts preset.
CONTACT_GROUPS = (ADDRESS, PHONE, NAME)
#: Field groups of the accounts preset.
ACCOUNT_GROUPS = (ADDRESS, PHONE)

_RECENT = FieldRule(MostRecent(), tie_breakers=(MostFrequent(), Longest()))
_AGREED = FieldRule(MostFrequent(), tie_breakers=(MostRecent(), Longest()))
_SET = FieldRule(Aggregate())

#: Contacts: most recent value by default; identifiers validated; sets unioned.
CONTACT_RULES = SurvivorshipRules(
    {
        "first_name": _AGREED,
        "last_name": _AGREED,
        "full_name": _AGREED,
        "email": FieldRule(
            MostRecent(), tie_breakers=(MostFrequent(),), validate=EMAIL_LIKE
        ),
        "phone": FieldRule(MostRecent(), tie_breakers=(MostFrequent(),), validate=PHONE_LIKE),
        "mobile": FieldRule(
            MostRecent(), tie_breakers=(MostFrequent(),), validate=PHONE_LIKE
        ),
        "title": _RECENT,
        "company": _RECENT,
        "website": _RECENT,
        "country": _AGREED,
        "dob": FieldRule(MostFrequent(), tie_breakers=(MostRecent(),), validate=is_date_like),
        "lead_source": FieldRule(Earliest(), tie_breakers=(MostFrequent(),)),  # first touch
        "created_at": FieldRule(Lowest(kind="date")),
        "updated_at": FieldRule(Highest(kind="date")),
        "emails": FieldRule(Aggregate(), validate=EMAIL_LIKE),
        "phones": FieldRule(Aggregate(), validate=PHONE_LIKE),
        "tags": _SET,
        "account_ids": _SET,
        # domain model names (crmcore.model.Contact, see crmcore.survivorship.merge_contacts)
        "birth_date": FieldRule(
            MostFrequent(), tie_breakers=(MostRecent(),), validate=is_date_like
        ),
        "primary_account_id": FieldRule(MostRecent(), tie_breakers=(MostFrequent(),)),
        "lifecycle_stage": FieldRule(MostRecent(), tie_breakers=(MostFrequent(),)),
    },
    default=_RECENT,
    groups=CONTACT_GROUPS,
)

#: Accounts: the name most sources agree on, the most recent of the rest; sets unioned.
ACCOUNT_RULES = SurvivorshipRules(
    {
        "company": _AGREED,
        "domain": FieldRule(MostFrequent(), tie_breakers=(MostRecent(),)),
        "phone": FieldRule(MostRecent(), tie_breakers=(MostFrequent(),), validate=PHONE_LIKE),
        "country": _AGREED,
        "size": _RECENT,
        "industry": _RECENT,
        "parent": FieldRule(MostRecent(), tie_breakers=(MostFrequent(),)),
        "created_at": FieldRule(Lowest(kind="date")),
        "updated_at": FieldRule(Highest(kind="date")),
        "phones": FieldRule(Aggregate(), validate=PHONE_LIKE),
        "tags": _SET,
        # domain model names (crmcore.model.Account, see crmcore.survivorship.merge_accounts)
        "name": _AGREED,
        "parent_id": FieldRule(MostRecent(), tie_breakers=(MostFrequent(),)),
    },
    default=_RECENT,
    groups=ACCOUNT_GROUPS,
)

_PRESETS = {"contacts": CONTACT_RULES, "accounts": ACCOUNT_RULES}


def preset_rules(name: str) -> SurvivorshipRules:
    """Return the default rules of a preset (``"contacts"`` or ``"accounts"``).

    Raises:
        SurvivorshipError: For an unknown preset.

    Example:
        >>> preset_rules("contacts").rule_for("emails").policy.name
        'aggregate'
    """
    try:
        return _PRESETS[name]
    except KeyError:
        raise SurvivorshipError(
            f"unknown survivorship preset {name!r}; choose from {sorted(_PRESETS)}"
        ) from None
