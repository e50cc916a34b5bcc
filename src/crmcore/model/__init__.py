"""The CRM domain model: frozen, validated record types with exact dict / JSON round trips.

Records (:class:`Contact`, :class:`Account`, ...) are ``attrs`` frozen classes checked on
construction and changed through :func:`attrs.evolve`. Every record has ``id``, ``record_type``,
timezone-aware ``created_at`` / ``updated_at`` and provenance; :func:`to_dict` /
:func:`from_dict` (and the JSON pair) round-trip every type without loss.

This package imports nothing from other crmcore subpackages except :mod:`crmcore.errors`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from crmcore import compat
from crmcore.model._account import Account
from crmcore.model._activity import Activity
from crmcore.model._base import Value
from crmcore.model._codec import DecodeContext, SpecCodec, SpecField
from crmcore.model._codes import COUNTRY_CODES, CURRENCY_CODES, is_country_code, is_currency_code
from crmcore.model._consent import Consent
from crmcore.model._contact import Contact
from crmcore.model._deal import Deal
from crmcore.model._enums import (
    ActivityType,
    ConsentChannel,
    ConsentPurpose,
    ConsentStatus,
    LawfulBasis,
    LifecycleStage,
    StageKind,
    TicketPriority,
)
from crmcore.model._frozen_map import CustomValue, FrozenMap
from crmcore.model._ownership import Team, User
from crmcore.model._pipeline import (
    DEFAULT_PIPELINES,
    DEFAULT_SALES_PIPELINE,
    DEFAULT_TICKET_PIPELINE,
    Pipeline,
    Stage,
    StageTransitionError,
    transition,
)
from crmcore.model._record import Record
from crmcore.model._registry import record_class, record_types, register
from crmcore.model._relationships import (
    AccountHierarchy,
    HierarchyCycleError,
    find_cycles,
    hierarchy_problems,
    members_by_account,
)
from crmcore.model._serialize import from_dict, from_dicts, from_json, to_dict, to_json
from crmcore.model._ticket import Ticket
from crmcore.model._timestamps import format_datetime, parse_datetime
from crmcore.model._validation import (
    DEFAULT_RULES,
    AllowedValues,
    CountryCode,
    CurrencyCode,
    DomainFormat,
    EmailFormat,
    FunctionRule,
    MatchesPattern,
    MaxLength,
    NonNegative,
    PhoneFormat,
    RequireAny,
    Required,
    RuleConfigError,
    StageRequirements,
    ValidationRule,
    ValidationRuleSet,
    check,
    validate,
    validate_many,
    validation_rule_from_dict,
    validation_rule_to_dict,
)
from crmcore.model._values import AccountMembership, Address, Provenance, RecordRef

__all__ = [
    "COUNTRY_CODES",
    "CURRENCY_CODES",
    "DEFAULT_PIPELINES",
    "DEFAULT_RULES",
    "DEFAULT_SALES_PIPELINE",
    "DEFAULT_TICKET_PIPELINE",
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
    "MatchesPattern",
    "MaxLength",
    "NonNegative",
    "PhoneFormat",
    "Pipeline",
    "Provenance",
    "Record",
    "RecordRef",
    "RequireAny",
    "Required",
    "RuleConfigError",
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
    "ValidationRule",
    "ValidationRuleSet",
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
    "members_by_account",
    "parse_datetime",
    "record_class",
    "record_types",
    "register",
    "to_dict",
    "to_json",
    "transition",
    "validate",
    "validate_many",
    "validation_rule_from_dict",
    "validation_rule_to_dict",
]

compat.own(__name__, globals(), __all__)
if not TYPE_CHECKING:  # old names warn (type checkers see only the names above)
    __getattr__ = compat.door_getattr(__name__)
