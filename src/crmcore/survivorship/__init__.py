"""Survivorship: golden records with lineage, and reversible merges.

Matching says which records are one customer; survivorship decides what that customer's record
says. Field rules (:class:`FieldRule`) built from small declarative policies (:class:`MostRecent`,
:class:`SourcePriority`, :class:`TrustDecay`, :class:`Aggregate` ...) pick each field's winner;
:func:`merge` returns the :class:`GoldenRecord` with per-field :class:`FieldLineage`;
:class:`GoldenStore` records every merge so :meth:`GoldenStore.unmerge` can undo it; consent
(:func:`merge_consents`), relationship (:func:`repoint`, :func:`merge_memberships`) and
hierarchy (:func:`merge_hierarchy`) rules keep merges safe; :func:`merge_contacts` and
:func:`merge_accounts` work on :mod:`crmcore.model` records; :func:`golden_records` does a whole
table at once (the columnar path) and :func:`write_golden` writes it with lineage.

Example:
    >>> import datetime as dt
    >>> a = SourceRecord("a", "crm", dt.datetime(2024, 1, 1), {"title": "VP Sales"})
    >>> b = SourceRecord("b", "erp", dt.datetime(2024, 6, 1), {"title": "Sales Director"})
    >>> merge([a, b], SurvivorshipRules()).values["title"]
    'Sales Director'
"""

from crmcore.survivorship.adapters import (
    UNKNOWN_SOURCE,
    AccountMerge,
    ContactMerge,
    from_golden,
    merge_accounts,
    merge_contacts,
    to_source,
)
from crmcore.survivorship.bulk import GOLDEN_COLUMNS, LINEAGE_COLUMNS, golden_records
from crmcore.survivorship.consent import (
    ConsentDecision,
    ConsentMerge,
    ConsentStatement,
    consent_key,
    consent_time,
    decide_merge,
    merge_consents,
)
from crmcore.survivorship.export import lineage_path, write_golden
from crmcore.survivorship.golden import (
    FINAL_TIE_BREAKERS,
    FieldLineage,
    GoldenRecord,
    RejectedValue,
    group_value,
    merge,
    merge_field,
    merge_group,
)
from crmcore.survivorship.history import EventKind, GoldenStore, MergeEvent
from crmcore.survivorship.policies import (
    GROUP_SEPARATOR,
    Aggregate,
    ColumnBatch,
    Earliest,
    FieldGroup,
    FieldRule,
    FirstNonNull,
    FunctionPolicy,
    Highest,
    Longest,
    Lowest,
    MostComplete,
    MostFrequent,
    MostRecent,
    Policy,
    PolicyContext,
    RegexValidator,
    ScoringPolicy,
    SourcePriority,
    SurvivorshipRules,
    TrustDecay,
    group_parts,
    join_group,
    parse_time_us,
    parse_times_us,
    source_order_key,
)
from crmcore.survivorship.presets import (
    ACCOUNT_RULES,
    CONTACT_RULES,
    EMAIL_LIKE,
    PHONE_LIKE,
    is_date_like,
    is_email_like,
    is_phone_like,
    preset_rules,
)
from crmcore.survivorship.records import (
    Candidate,
    SourceRecord,
    check_unique_ids,
    default_key,
    is_missing,
    to_microseconds,
)
from crmcore.survivorship.relationships import (
    HierarchyMerge,
    Repoint,
    Repointed,
    merge_hierarchy,
    merge_memberships,
    observed_time,
    repoint,
)

__all__ = [
    "ACCOUNT_RULES",
    "CONTACT_RULES",
    "EMAIL_LIKE",
    "FINAL_TIE_BREAKERS",
    "GOLDEN_COLUMNS",
    "GROUP_SEPARATOR",
    "LINEAGE_COLUMNS",
    "PHONE_LIKE",
    "UNKNOWN_SOURCE",
    "AccountMerge",
    "Aggregate",
    "Candidate",
    "ColumnBatch",
    "ConsentDecision",
    "ConsentMerge",
    "ConsentStatement",
    "ContactMerge",
    "Earliest",
    "EventKind",
    "FieldGroup",
    "FieldLineage",
    "FieldRule",
    "FirstNonNull",
    "FunctionPolicy",
    "GoldenRecord",
    "GoldenStore",
    "HierarchyMerge",
    "Highest",
    "Longest",
    "Lowest",
    "MergeEvent",
    "MostComplete",
    "MostFrequent",
    "MostRecent",
    "Policy",
    "PolicyContext",
    "RegexValidator",
    "RejectedValue",
    "Repoint",
    "Repointed",
    "ScoringPolicy",
    "SourcePriority",
    "SourceRecord",
    "SurvivorshipRules",
    "TrustDecay",
    "check_unique_ids",
    "consent_key",
    "consent_time",
    "decide_merge",
    "default_key",
    "from_golden",
    "golden_records",
    "group_parts",
    "group_value",
    "is_date_like",
    "is_email_like",
    "is_missing",
    "is_phone_like",
    "join_group",
    "lineage_path",
    "merge",
    "merge_accounts",
    "merge_consents",
    "merge_contacts",
    "merge_field",
    "merge_group",
    "merge_hierarchy",
    "merge_memberships",
    "observed_time",
    "parse_time_us",
    "parse_times_us",
    "preset_rules",
    "repoint",
    "source_order_key",
    "to_microseconds",
    "to_source",
    "write_golden",
]
