"""Survivorship: golden records with lineage, and reversible merges.

Matching says which records are one customer; survivorship decides what that customer's record
says. Field rules (:class:`FieldRule`) built from small declarative policies (:class:`MostRecent`,
:class:`SourcePriority`, :class:`TrustDecay`, :class:`Aggregate` ...) pick each field's winner;
:func:`merge` returns the :class:`GoldenRecord` with per-field :class:`FieldLineage`;
:class:`GoldenStore` records every merge so :meth:`GoldenStore.unmerge` can undo it; consent,
relationship and hierarchy rules keep merges safe; :func:`golden_records` does a whole table at
once (the columnar path).

Example:
    >>> import datetime as dt
    >>> a = SourceRecord("a", "crm", dt.datetime(2024, 1, 1), {"title": "VP Sales"})
    >>> b = SourceRecord("b", "erp", dt.datetime(2024, 6, 1), {"title": "Sales Director"})
    >>> merge([a, b], SurvivorshipRules()).values["title"]
    'Sales Director'
"""

from crmcore.survivorship.bulk import GOLDEN_COLUMNS, LINEAGE_COLUMNS, golden_records
from crmcore.survivorship.golden import (
    FINAL_TIE_BREAKERS,
    FieldLineage,
    GoldenRecord,
    RejectedValue,
    merge,
    merge_field,
)
from crmcore.survivorship.policies import (
    Aggregate,
    ColumnBatch,
    Earliest,
    FieldRule,
    FirstNonNull,
    FunctionPolicy,
    Highest,
    Longest,
    Lowest,
    MostFrequent,
    MostRecent,
    Policy,
    PolicyContext,
    RegexValidator,
    ScoringPolicy,
    SourcePriority,
    SurvivorshipRules,
    TrustDecay,
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

__all__ = [
    "ACCOUNT_RULES",
    "CONTACT_RULES",
    "EMAIL_LIKE",
    "FINAL_TIE_BREAKERS",
    "GOLDEN_COLUMNS",
    "LINEAGE_COLUMNS",
    "PHONE_LIKE",
    "Aggregate",
    "Candidate",
    "ColumnBatch",
    "Earliest",
    "FieldLineage",
    "FieldRule",
    "FirstNonNull",
    "FunctionPolicy",
    "GoldenRecord",
    "Highest",
    "Longest",
    "Lowest",
    "MostFrequent",
    "MostRecent",
    "Policy",
    "PolicyContext",
    "RegexValidator",
    "RejectedValue",
    "ScoringPolicy",
    "SourcePriority",
    "SourceRecord",
    "SurvivorshipRules",
    "TrustDecay",
    "check_unique_ids",
    "default_key",
    "golden_records",
    "is_date_like",
    "is_email_like",
    "is_missing",
    "is_phone_like",
    "merge",
    "merge_field",
    "parse_time_us",
    "parse_times_us",
    "preset_rules",
    "source_order_key",
    "to_microseconds",
]
