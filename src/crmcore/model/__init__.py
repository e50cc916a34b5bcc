"""The CRM domain model: frozen, validated record types with exact dict / JSON round trips.

Records (:class:`Contact`, :class:`Account`, ...) are ``attrs`` frozen classes checked on
construction and changed through :func:`attrs.evolve`. Every record has ``id``, ``record_type``,
timezone-aware ``created_at`` / ``updated_at`` and provenance; :func:`to_dict` /
:func:`from_dict` (and the JSON pair) round-trip every type without loss.

This package imports nothing from other crmcore subpackages except :mod:`crmcore.errors`.
"""

from __future__ import annotations

from crmcore.model._base import (
    EMPTY_MAP,
    CustomValue,
    FrozenMap,
    Value,
    record_class,
    record_types,
    register,
)
from crmcore.model._codec import DecodeContext, SpecCodec, SpecField
from crmcore.model._record import Record, utc_now
from crmcore.model.account import Account
from crmcore.model.activity import Activity
from crmcore.model.codes import COUNTRY_CODES, CURRENCY_CODES, is_country_code, is_currency_code
from crmcore.model.consent import Consent
from crmcore.model.contact import Contact
from crmcore.model.deal import Deal
from crmcore.model.enums import (
    ActivityType,
    ConsentChannel,
    ConsentPurpose,
    ConsentStatus,
    LawfulBasis,
    LifecycleStage,
    StageKind,
    TicketPriority,
)
from crmcore.model.ownership import Team, User
from crmcore.model.pipeline import (
    DEFAULT_PIPELINES,
    DEFAULT_SALES_PIPELINE,
    DEFAULT_TICKET_PIPELINE,
    Pipeline,
    Stage,
    StageTransitionError,
    is_filled,
    transition,
)
from crmcore.model.relationships import (
    AccountHierarchy,
    HierarchyCycleError,
    find_cycles,
    hierarchy_problems,
    members_by_account,
)
from crmcore.model.serialize import from_dict, from_dicts, from_json, to_dict, to_json
from crmcore.model.ticket import Ticket
from crmcore.model.timestamps import format_datetime, parse_datetime, zone_name
from crmcore.model.validation import (
    DEFAULT_RULES,
    AllowedValues,
    CountryCode,
    CurrencyCode,
    DomainFormat,
    EmailFormat,
    FunctionRule,
    Matches,
    MaxLength,
    NonNegative,
    PhoneFormat,
    RequireAny,
    Required,
    Rule,
    RuleConfigError,
    RuleSet,
    StageRequirements,
    check,
    rule_from_dict,
    rule_to_dict,
    validate,
    validate_many,
)
from crmcore.model.values import AccountMembership, Address, Provenance, RecordRef

__all__ = [
    "COUNTRY_CODES",
    "CURRENCY_CODES",
    "DEFAULT_PIPELINES",
    "DEFAULT_RULES",
    "DEFAULT_SALES_PIPELINE",
    "DEFAULT_TICKET_PIPELINE",
    "EMPTY_MAP",
    "Account",
    "AccountHierarchy",
    "AccountMembership",
    "Activity",
    "ActivityType",
    "Address",
    "AllowedValues",
    "Consent",
    "ConsentChannel",
    "ConsentPurpose",
    "ConsentStatus",
    "Contact",
    "CountryCode",
    "CurrencyCode",
    "CustomValue",
    "Deal",
    "DecodeContext",
    "DomainFormat",
    "EmailFormat",
    "FrozenMap",
    "FunctionRule",
    "HierarchyCycleError",
    "LawfulBasis",
    "LifecycleStage",
    "Matches",
    "MaxLength",
    "NonNegative",
    "PhoneFormat",
    "Pipeline",
    "Provenance",
    "Record",
    "RecordRef",
    "RequireAny",
    "Required",
    "Rule",
    "RuleConfigError",
    "RuleSet",
    "SpecCodec",
    "SpecField",
    "Stage",
    "StageKind",
    "StageRequirements",
    "StageTransitionError",
    "Team",
    "Ticket",
    "TicketPriority",
    "User",
    "Value",
    "check",
    "find_cycles",
    "format_datetime",
    "from_dict",
    "from_dicts",
    "from_json",
    "hierarchy_problems",
    "is_country_code",
    "is_currency_code",
    "is_filled",
    "members_by_account",
    "parse_datetime",
    "record_class",
    "record_types",
    "register",
    "rule_from_dict",
    "rule_to_dict",
    "to_dict",
    "to_json",
    "transition",
    "utc_now",
    "validate",
    "validate_many",
    "zone_name",
]
