"""Governance: consent, field permissions, audit trail, erasure, retention, data quality.

* :class:`ConsentLedger` — append-only consent history and a fast
  :meth:`~ConsentLedger.may_contact` check (with the reason), merges and unmerges that never turn
  an opt-out into an opt-in, and the US "do not sell or share" flag.
* :func:`build_segment` — rule-based audiences (workflow conditions) that leave out, by
  construction, everyone without valid consent (and, for third-party audiences, everyone who
  may not be shared), and say who was left out and why.
* :class:`PermissionPolicy` — roles with view / edit / export / delete grants per record type and
  field, ownership scopes, masked views; reads (records, exports, golden records and lineage,
  the audit trail) never leak a field the role may not see.
* :class:`AuditLog` — hash-chained, append-only audit trail with erasable payloads whose
  erasure is itself recorded (tombstone entries).
* :class:`Eraser` — erasure and export of a person across registered :class:`Store` values
  (record stores, :class:`GoldenRecordStore`, :class:`MatchIndexStore`, consent, audit,
  segments), with a :class:`SuppressionList` of salted identifier hashes checked on import.
* :class:`PrivacyRequestLog` — records of privacy requests (what was asked, when, what was done,
  by whom) without personal data, kept 24 months by default, surviving the erasure they describe.
* :func:`plan_retention` / :func:`apply_retention` — retention policies with a dry run first.
* :func:`quality_report` — completeness, validity, duplicate rate and freshness.
* :class:`PolicySet` — roles, owner teams, consent policy, retention policies and segments as
  one value with a versioned JSON / YAML form (through the spec codec).

See ``docs/governance.md``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from crmcore import compat
from crmcore.governance._audit import AuditLog
from crmcore.governance._audit_entries import GENESIS_HASH, AuditEntry, AuditReport, Checkpoint
from crmcore.governance._audit_stores import AuditStore, MemoryAuditStore, SQLiteAuditStore
from crmcore.governance._consent import (
    ANY_CHANNEL,
    CHANNELS,
    DATA_SHARING,
    LAWFUL_BASES,
    PURPOSES,
    STATUSES,
    ConsentEvent,
    ConsentPolicy,
    ConsentVerdict,
    DecisionBatch,
    DecisionReason,
    DoNotSellEvent,
    GroupChange,
)
from crmcore.governance._erasure import Eraser, ErasureReport
from crmcore.governance._grants import ACTIONS, Actor, ExportResult, Grant, Role
from crmcore.governance._identifiers import Identifiers
from crmcore.governance._ledger import ConsentLedger
from crmcore.governance._masking import mask_email, mask_phone, mask_text, mask_value
from crmcore.governance._permissions import LINEAGE_METADATA_KEYS, PermissionPolicy
from crmcore.governance._policy_set import PolicySet
from crmcore.governance._quality import (
    DEFAULT_VALIDATORS,
    FieldQuality,
    Freshness,
    QualityReport,
    Validator,
    format_quality_report,
    quality_report,
)
from crmcore.governance._requests import (
    REQUEST_KINDS,
    REQUEST_STATUSES,
    PrivacyRequest,
    PrivacyRequestLog,
)
from crmcore.governance._retention import (
    DEFAULT_PERSONAL_FIELDS,
    RecordTable,
    RetentionAction,
    RetentionPlan,
    RetentionPolicy,
    RetentionReport,
    anonymise,
    apply_retention,
    plan_retention,
)
from crmcore.governance._segments import (
    NO_CONTACT_POINT,
    SUPPRESSED,
    Exclusion,
    Segment,
    SegmentMember,
    SegmentRegistry,
    SegmentResult,
    build_segment,
)
from crmcore.governance._stores import (
    AuditTrailStore,
    ConsentStore,
    FunctionStore,
    GoldenRecordStore,
    MatchIndexStore,
    MemoryRecordStore,
    Store,
    StoreErasure,
)
from crmcore.governance._suppression import SuppressionList, SuppressionReport

__all__ = [
    "ACTIONS",
    "ANY_CHANNEL",
    "CHANNELS",
    "DATA_SHARING",
    "DEFAULT_PERSONAL_FIELDS",
    "DEFAULT_VALIDATORS",
    "GENESIS_HASH",
    "LAWFUL_BASES",
    "LINEAGE_METADATA_KEYS",
    "NO_CONTACT_POINT",
    "PURPOSES",
    "REQUEST_KINDS",
    "REQUEST_STATUSES",
    "STATUSES",
    "SUPPRESSED",
    "Actor",
    "AuditEntry",
    "AuditLog",
    "AuditReport",
    "AuditStore",
    "AuditTrailStore",
    "Checkpoint",
    "ConsentEvent",
    "ConsentLedger",
    "ConsentPolicy",
    "ConsentStore",
    "ConsentVerdict",
    "DecisionBatch",
    "DecisionReason",
    "DoNotSellEvent",
    "Eraser",
    "ErasureReport",
    "Exclusion",
    "ExportResult",
    "FieldQuality",
    "Freshness",
    "FunctionStore",
    "GoldenRecordStore",
    "Grant",
    "GroupChange",
    "Identifiers",
    "MatchIndexStore",
    "MemoryAuditStore",
    "MemoryRecordStore",
    "PermissionPolicy",
    "PolicySet",
    "PrivacyRequest",
    "PrivacyRequestLog",
    "QualityReport",
    "RecordTable",
    "RetentionAction",
    "RetentionPlan",
    "RetentionPolicy",
    "RetentionReport",
    "Role",
    "SQLiteAuditStore",
    "Segment",
    "SegmentMember",
    "SegmentRegistry",
    "SegmentResult",
    "Store",
    "StoreErasure",
    "SuppressionList",
    "SuppressionReport",
    "Validator",
    "anonymise",
    "apply_retention",
    "build_segment",
    "format_quality_report",
    "mask_email",
    "mask_phone",
    "mask_text",
    "mask_value",
    "plan_retention",
    "quality_report",
]

compat.own(__name__, globals(), __all__)
if not TYPE_CHECKING:  # old names warn (type checkers see only the names above)
    __getattr__ = compat.door_getattr(__name__)
