"""crmcore: identity resolution and CRM modelling.

Model CRM records, normalise their values, resolve who is who, build golden records with lineage,
govern consent and access, and automate work with rules. The root holds the main jobs and the
record types; every package is a front door with the rest: ``crmcore.io``, ``crmcore.model``,
``crmcore.conditions``, ``crmcore.normalize``, ``crmcore.matching``, ``crmcore.survivorship``,
``crmcore.governance``, ``crmcore.workflows``, ``crmcore.display`` (see ``docs/api-map.md``).
Packages, and the matching and survivorship names here, are imported on first use.

Example:
    >>> import crmcore
    >>> ann = {"first_name": "Ann", "last_name": "Lee", "email": "ann@x.com"}
    >>> rows = [{"id": "1", **ann}, {"id": "2", **ann}]
    >>> crmcore.dedupe(rows, id_column="id").n_entities
    1
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from crmcore import compat, errors
from crmcore.errors import CrmcoreError, DataInputError, FieldProblem, ValidationError
from crmcore.model import (
    Account,
    Activity,
    Address,
    Consent,
    Contact,
    Deal,
    Provenance,
    Record,
    RecordRef,
    Team,
    Ticket,
    User,
)

if TYPE_CHECKING:
    from crmcore.matching import MatchResult, dedupe, link
    from crmcore.matching.realtime import MatchIndex
    from crmcore.survivorship import golden_records

__version__ = "0.1.0"

_SUBPACKAGES = frozenset(
    {
        "conditions",
        "display",
        "governance",
        "io",
        "matching",
        "model",
        "normalize",
        "survivorship",
        "workflows",
        "cli",
    }
)
#: Names served from their door on first use (so ``import crmcore`` stays light).
_LAZY = {
    "MatchIndex": "crmcore.matching.realtime",
    "MatchResult": "crmcore.matching",
    "dedupe": "crmcore.matching",
    "link": "crmcore.matching",
    "golden_records": "crmcore.survivorship",
}

__all__ = [
    "Account",
    "Activity",
    "Address",
    "Consent",
    "Contact",
    "CrmcoreError",
    "DataInputError",
    "Deal",
    "FieldProblem",
    "MatchIndex",
    "MatchResult",
    "Provenance",
    "Record",
    "RecordRef",
    "Team",
    "Ticket",
    "User",
    "ValidationError",
    "__version__",
    "dedupe",
    "errors",
    "golden_records",
    "link",
]

_old_name = compat.door_getattr(__name__, wrapped=1)


def __getattr__(name: str) -> Any:
    if name in _SUBPACKAGES:
        return importlib.import_module(f"crmcore.{name}")
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    return _old_name(name)
