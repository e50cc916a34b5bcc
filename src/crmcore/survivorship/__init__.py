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

from __future__ import annotations

from typing import TYPE_CHECKING

from crmcore import compat
from crmcore.survivorship._adapters import (
    UNKNOWN_SOURCE,
    AccountMerge,
    ContactMerge,
    from_golden,
    merge_accounts,
    merge_contacts,
    to_source,
)
from crmcore.survivorship._bulk import GOLDEN_COLUMNS, LINEAGE_COLUMNS, golden_records
from crmcore.survivorship._consent import (
    ConsentDecision,
    ConsentMerge,
    ConsentStatement,
    decide_merge,
    merge_consents,
)
from crmcore.survivorship._export import lineage_path, write_golden
from crmcore.survivorship._golden import (
    FINAL_TIE_BREAKERS,
    FieldLineage,
    GoldenRecord,
    RejectedValue,
    merge,
    merge_field,
)
from crmcore.survivorship._history import EventKind, GoldenStore, MergeEvent
from crmcore.survivorship._policies import (
    GROUP_SEPARATOR,
    Aggregate,
    ColumnBatch,
    Earliest,
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
    ScoringPolicy,
    SourcePriority,
    TrustDecay,
)
from crmcore.survivorship._presets import (
    ACCOUNT_RULES,
    CONTACT_RULES,
    preset_rules,
)
from crmcore.survivorship._records import (
    Candidate,
    SourceRecord,
)
from crmcore.survivorship._relationships import (
    HierarchyMerge,
    Repoint,
    Repointed,
    merge_hierarchy,
    merge_memberships,
    repoint,
)
from crmcore.survivorship._rules import FieldGroup, FieldRule, RegexValidator, SurvivorshipRules

__all__ = [
    "ACCOUNT_RULES",
    "CONTACT_RULES",
    "FINAL_TIE_BREAKERS",
    "GOLDEN_COLUMNS",
    "GROUP_SEPARATOR",
    "LINEAGE_COLUMNS",
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
    "decide_merge",
    "from_golden",
    "golden_records",
    "lineage_path",
    "merge",
    "merge_accounts",
    "merge_consents",
    "merge_contacts",
    "merge_field",
    "merge_hierarchy",
    "merge_memberships",
    "preset_rules",
    "repoint",
    "to_source",
    "write_golden",
]

compat.own(__name__, globals(), __all__)
if not TYPE_CHECKING:  # old names warn (type checkers see only the names above)
    __getattr__ = compat.door_getattr(__name__)
