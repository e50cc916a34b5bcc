"""The package's deprecation table: who owns a public name, and where old import paths now lead.

An internal module of crmcore (no user API: nothing here is documented for use outside the
package, and it is no front door); every door imports it, so it has a public module name.

Every package has one front door (its ``__init__``) over private modules (``_consent.py`` ...).
The door lists its names in ``__all__`` and calls :func:`own`, which sets each public class's and
function's ``__module__`` to the door, so ``repr``, pickles and docs show the one way in.

Old import paths keep working for one release with a :class:`DeprecationWarning`:

* :data:`MODULES` — a module that became private (``crmcore.governance.consent``): importing it
  still works (a finder on ``sys.meta_path`` hands out a stand-in), and every name got from it
  warns and comes from the door (or, for a helper that is no longer public, its private module).
* :data:`NAMES` — a name that was renamed or left its door (``crmcore.governance.apply``): the
  door's module ``__getattr__`` (from :func:`door_getattr`) warns and returns the new object.

The tables are the record of every move; ``tests/test_compat.py`` checks each entry resolves and
warns, and that ``CHANGELOG.md`` lists it.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
import types
import typing
import warnings
from collections.abc import Callable, Iterable, Mapping, MutableMapping, Sequence
from typing import Any

__all__ = [
    "DEFINED_IN",
    "MODULES",
    "NAMES",
    "defining_module",
    "door_getattr",
    "own",
    "type_hints",
    "where_now",
]

#: Old public module -> (its door, the private modules that now hold its code). Names got from the
#: old module come from the door when the door exports them (after :data:`NAMES` renames), else
#: from the first private module that has them.
MODULES: dict[str, tuple[str, tuple[str, ...]]] = {}

#: Old dotted name (``door.name``) -> new dotted name (``module.name``). A new name in a door is a
#: rename or a move to another door; a new name in a private module is a helper that is no longer
#: public (it goes away with the shims).
NAMES: dict[str, str] = {}


def _moved(door: str, modules: dict[str, tuple[str, ...]], names: dict[str, str]) -> None:
    """Record one door's moves: old module -> private modules, old name -> new dotted name."""
    for old, privates in modules.items():
        MODULES[f"{door}.{old}"] = (door, tuple(f"{door}.{p}" for p in privates))
    for old, new in names.items():
        NAMES[f"{door}.{old}"] = new if "." in new else f"{door}.{new}"


_moved(
    "crmcore.governance",
    {
        "audit": ("_audit", "_audit_entries", "_audit_stores", "_audit_search"),
        "consent": ("_consent", "_ledger"),
        "erasure": ("_erasure", "_identifiers", "_stores", "_suppression"),
        "permissions": ("_permissions", "_grants", "_masking"),
        "quality": ("_quality",),
        "requests": ("_requests",),
        "retention": ("_retention",),
        "segments": ("_segments",),
    },
    {
        "Decision": "ConsentVerdict",
        "User": "Actor",
        "InMemoryRecordStore": "MemoryRecordStore",
        "apply": "apply_retention",
        "plan": "plan_retention",
        "scrub_index_file": "crmcore.matching.realtime.scrub_index_file",
    },
)

_moved(
    "crmcore.survivorship",
    {
        **{
            m: (f"_{m}",)
            for m in (
                "adapters", "bulk", "consent", "export", "golden", "history", "presets",
                "records", "relationships",
            )
        },
        "policies": ("_policies", "_rules"),
    },
    {
        "EMAIL_LIKE": "crmcore.survivorship._presets.EMAIL_LIKE",
        "PHONE_LIKE": "crmcore.survivorship._presets.PHONE_LIKE",
        "check_unique_ids": "crmcore.survivorship._records.check_unique_ids",
        "consent_key": "crmcore.survivorship._consent.consent_key",
        "consent_time": "crmcore.survivorship._consent.consent_time",
        "default_key": "crmcore.survivorship._records.default_key",
        "group_parts": "crmcore.survivorship._policies.group_parts",
        "group_value": "crmcore.survivorship._golden.group_value",
        "is_date_like": "crmcore.survivorship._presets.is_date_like",
        "is_email_like": "crmcore.survivorship._presets.is_email_like",
        "is_missing": "crmcore.survivorship._records.is_missing",
        "is_phone_like": "crmcore.survivorship._presets.is_phone_like",
        "join_group": "crmcore.survivorship._policies.join_group",
        "merge_group": "crmcore.survivorship._golden.merge_group",
        "observed_time": "crmcore.survivorship._relationships.observed_time",
        "parse_time_us": "crmcore.survivorship._policies.parse_time_us",
        "parse_times_us": "crmcore.survivorship._policies.parse_times_us",
        "source_order_key": "crmcore.survivorship._policies.source_order_key",
        "to_microseconds": "crmcore.survivorship._records.to_microseconds",
    },
)

_moved(
    "crmcore.workflows",
    {
        m: (f"_{m}",)
        for m in ("actions", "assignment", "engine", "events", "rules", "sla", "store", "triggers")
    },
    {
        "AllOf": "crmcore.conditions._language.AllOf",
        "AnyOf": "crmcore.conditions._language.AnyOf",
        "AuditEntry": "EngineAuditEntry",
        "COMPARISON_OPS": "crmcore.conditions._language.COMPARISON_OPS",
        "Changed": "crmcore.conditions._language.Changed",
        "ChangedFrom": "crmcore.conditions._language.ChangedFrom",
        "ChangedTo": "crmcore.conditions._language.ChangedTo",
        "Compare": "crmcore.conditions._language.Compare",
        "Condition": "crmcore.conditions.Condition",
        "Contains": "crmcore.conditions._language.Contains",
        "Empty": "crmcore.conditions._language.Empty",
        "EvalContext": "crmcore.conditions.EvalContext",
        "FORMAT": "crmcore.workflows._rules.FORMAT",
        "In": "crmcore.conditions._language.In",
        "MemoryStore": "MemoryScheduleStore",
        "Not": "crmcore.conditions._language.Not",
        "OlderThan": "crmcore.conditions._language.OlderThan",
        "Predicate": "crmcore.conditions._language.Predicate",
        "SCHEMA_VERSION": "crmcore.workflows._rules.SCHEMA_VERSION",
        "SqliteStore": "SQLiteScheduleStore",
        "all_": "crmcore.conditions.all_",
        "any_": "crmcore.conditions.any_",
        "as_condition": "crmcore.conditions.as_condition",
        "changed": "crmcore.conditions.changed",
        "changed_from": "crmcore.conditions.changed_from",
        "changed_to": "crmcore.conditions.changed_to",
        "condition_from_dict": "crmcore.conditions.condition_from_dict",
        "contains": "crmcore.conditions.contains",
        "custom": "custom_action",
        "decode_value": "crmcore.conditions.decode_value",
        "empty": "crmcore.conditions.empty",
        "encode_value": "crmcore.conditions.encode_value",
        "eq": "crmcore.conditions.eq",
        "evaluate": "crmcore.conditions.evaluate",
        "evaluate_many": "crmcore.conditions.evaluate_many",
        "ge": "crmcore.conditions.ge",
        "gt": "crmcore.conditions.gt",
        "handler": "function_handler",
        "in_": "crmcore.conditions.in_",
        "le": "crmcore.conditions.le",
        "lt": "crmcore.conditions.lt",
        "ne": "crmcore.conditions.ne",
        "newer_than": "crmcore.conditions.newer_than",
        "not_": "crmcore.conditions.not_",
        "not_empty": "crmcore.conditions.not_empty",
        "not_in": "crmcore.conditions.not_in",
        "older_than": "crmcore.conditions.older_than",
        "predicate": "crmcore.conditions.predicate",
        "referenced_fields": "crmcore.conditions.referenced_fields",
        "render": "render_template",
        "resolve_path": "crmcore.conditions.resolve_path",
        "to_datetime": "crmcore.conditions.to_datetime",
    },
)

# The engine's module became private too (``_engine``, above); its audit entry was renamed so
# that ``AuditEntry`` is only the governance audit log's entry.
_moved("crmcore.workflows.engine", {}, {"AuditEntry": "crmcore.workflows.EngineAuditEntry"})

_moved(
    "crmcore.model",
    {
        m: (f"_{m}",)
        for m in (
            "account", "activity", "codes", "consent", "contact", "deal", "enums", "ownership",
            "pipeline", "relationships", "serialize", "ticket", "timestamps", "validation",
            "values",
        )
    },
    {
        "EMPTY_MAP": "crmcore.model._frozen_map.EMPTY_MAP",
        "Matches": "MatchesPattern",
        "Rule": "ValidationRule",
        "RuleSet": "ValidationRuleSet",
        "is_filled": "crmcore.model._pipeline.is_filled",
        "rule_from_dict": "validation_rule_from_dict",
        "rule_to_dict": "validation_rule_to_dict",
        "utc_now": "crmcore.model._record.utc_now",
        "zone_name": "crmcore.model._timestamps.zone_name",
    },
)

_moved(
    "crmcore",
    {},
    {
        "AccountHierarchy": "crmcore.model.AccountHierarchy",
        "AccountMembership": "crmcore.model.AccountMembership",
        "ActivityType": "crmcore.model.ActivityType",
        "AllowedValues": "crmcore.model.AllowedValues",
        "COUNTRY_CODES": "crmcore.model.COUNTRY_CODES",
        "CURRENCY_CODES": "crmcore.model.CURRENCY_CODES",
        "ConsentChannel": "crmcore.model.ConsentChannel",
        "ConsentPurpose": "crmcore.model.ConsentPurpose",
        "ConsentStatus": "crmcore.model.ConsentStatus",
        "CountryCode": "crmcore.model.CountryCode",
        "CurrencyCode": "crmcore.model.CurrencyCode",
        "CustomValue": "crmcore.model.CustomValue",
        "DEFAULT_PIPELINES": "crmcore.model.DEFAULT_PIPELINES",
        "DEFAULT_RULES": "crmcore.model.DEFAULT_RULES",
        "DEFAULT_SALES_PIPELINE": "crmcore.model.DEFAULT_SALES_PIPELINE",
        "DEFAULT_TICKET_PIPELINE": "crmcore.model.DEFAULT_TICKET_PIPELINE",
        "DomainFormat": "crmcore.model.DomainFormat",
        "EMPTY_MAP": "crmcore.model._frozen_map.EMPTY_MAP",
        "EmailFormat": "crmcore.model.EmailFormat",
        "FrozenMap": "crmcore.model.FrozenMap",
        "FunctionRule": "crmcore.model.FunctionRule",
        "HierarchyCycleError": "crmcore.model.HierarchyCycleError",
        "LawfulBasis": "crmcore.model.LawfulBasis",
        "LifecycleStage": "crmcore.model.LifecycleStage",
        "Matches": "crmcore.model.MatchesPattern",
        "MaxLength": "crmcore.model.MaxLength",
        "NonNegative": "crmcore.model.NonNegative",
        "PhoneFormat": "crmcore.model.PhoneFormat",
        "Pipeline": "crmcore.model.Pipeline",
        "RequireAny": "crmcore.model.RequireAny",
        "Required": "crmcore.model.Required",
        "Rule": "crmcore.model.ValidationRule",
        "RuleConfigError": "crmcore.model.RuleConfigError",
        "RuleSet": "crmcore.model.ValidationRuleSet",
        "Stage": "crmcore.model.Stage",
        "StageKind": "crmcore.model.StageKind",
        "StageRequirements": "crmcore.model.StageRequirements",
        "StageTransitionError": "crmcore.model.StageTransitionError",
        "TicketPriority": "crmcore.model.TicketPriority",
        "Value": "crmcore.model.Value",
        "check": "crmcore.model.check",
        "find_cycles": "crmcore.model.find_cycles",
        "format_datetime": "crmcore.model.format_datetime",
        "from_dict": "crmcore.model.from_dict",
        "from_dicts": "crmcore.model.from_dicts",
        "from_json": "crmcore.model.from_json",
        "hierarchy_problems": "crmcore.model.hierarchy_problems",
        "is_country_code": "crmcore.model.is_country_code",
        "is_currency_code": "crmcore.model.is_currency_code",
        "is_filled": "crmcore.model._pipeline.is_filled",
        "members_by_account": "crmcore.model.members_by_account",
        "parse_datetime": "crmcore.model.parse_datetime",
        "record_class": "crmcore.model.record_class",
        "record_types": "crmcore.model.record_types",
        "register": "crmcore.model.register",
        "rule_from_dict": "crmcore.model.validation_rule_from_dict",
        "rule_to_dict": "crmcore.model.validation_rule_to_dict",
        "to_dict": "crmcore.model.to_dict",
        "to_json": "crmcore.model.to_json",
        "transition": "crmcore.model.transition",
        "utc_now": "crmcore.model._record.utc_now",
        "validate": "crmcore.model.validate",
        "validate_many": "crmcore.model.validate_many",
        "zone_name": "crmcore.model._timestamps.zone_name",
    },
)

_moved(
    "crmcore.normalize",
    {
        m: (f"_{m}",)
        for m in (
            "address", "company", "country", "dates", "email", "identity", "names", "phone",
            "registry", "schema", "table",
        )
    },
    {
        "PRESETS": "SCHEMA_PRESETS",
        "clean_text": "crmcore.normalize._core.clean_text",
        "column_key": "crmcore.normalize._schema.column_key",
        "fold_accents": "crmcore.normalize._core.fold_accents",
        "is_null_token": "crmcore.normalize._core.is_null_token",
    },
)

_moved(
    "crmcore.conditions",
    {},
    {  # node classes: users build conditions with the factories (eq, all_, ...)
        "AllOf": "crmcore.conditions._language.AllOf",
        "AnyOf": "crmcore.conditions._language.AnyOf",
        "COMPARISON_OPS": "crmcore.conditions._language.COMPARISON_OPS",
        "Changed": "crmcore.conditions._language.Changed",
        "ChangedFrom": "crmcore.conditions._language.ChangedFrom",
        "ChangedTo": "crmcore.conditions._language.ChangedTo",
        "Compare": "crmcore.conditions._language.Compare",
        "Contains": "crmcore.conditions._language.Contains",
        "Empty": "crmcore.conditions._language.Empty",
        "In": "crmcore.conditions._language.In",
        "Not": "crmcore.conditions._language.Not",
        "OlderThan": "crmcore.conditions._language.OlderThan",
        "Predicate": "crmcore.conditions._language.Predicate",
    },
)

_moved("crmcore.io", {"arrow": ("_arrow",)}, {})

_moved("crmcore.display", {"progress": ("_progress",), "report": ("_report",)}, {})

_moved(
    "crmcore.matching",
    {
        **{
            m: (f"_{m}",)
            for m in (
                "active", "blocking", "cluster", "compare", "evaluate", "explain",
                "predict", "prepare", "presets", "review", "settings", "stable_ids",
            )
        },
        "expressions": ("_expressions", "_functions"),
        "comparisons": ("_comparisons", "_levels", "_pairs"),
        "model": ("_model", "_training", "_em", "_u_sampling", "_anchors", "_tf"),
        "api": ("_api", "_result", "_reader"),
    },
    {
        "LEVEL_KINDS": "crmcore.matching._levels.LEVEL_KINDS",
        "MULTI_VALUED_FUNCTIONS": "crmcore.matching._functions.MULTI_VALUED_FUNCTIONS",
        "MatchCandidate": "crmcore.matching.realtime.MatchCandidate",
        "MatchIndex": "crmcore.matching.realtime.MatchIndex",
        "PairContext": "crmcore.matching._pairs.PairContext",
        "format_entity_id": "crmcore.matching._stable_ids.format_entity_id",
        "has_pairwise_form": "crmcore.matching._levels.has_pairwise_form",
        "pattern_counts": "crmcore.matching._em.pattern_counts",
        "rule_agrees": "crmcore.matching._agreement.rule_agrees",
        "stack_frames": "crmcore.matching._predict.stack_frames",
        "truth_codes": "crmcore.matching._evaluate.truth_codes",
    },
)
_moved(
    "crmcore.matching.realtime",
    {"store": ("_store",)},
    {
        "FORMAT": "crmcore.matching.realtime._store.FORMAT",
        "LAYOUTS": "crmcore.matching.realtime._store.LAYOUTS",
    },
)
# The index module of the first release (its own shim until the doors came): one table for all.
MODULES["crmcore.matching.index"] = (
    "crmcore.matching.realtime", ("crmcore.matching.realtime._index",),
)

_moved(
    "crmcore.matching.spark",
    {m: (f"_{m}",) for m in ("components", "golden", "runner", "stable_ids")},
    {
        "connected_components": "spark_connected_components",
        "golden_records_spark": "spark_golden_records",
    },
)

#: Class -> the module that defines it, for classes whose ``__module__`` :func:`own` changed
#: (annotations resolve against the defining module, see :func:`type_hints`).
DEFINED_IN: dict[type, str] = {}


def own(door: str, namespace: MutableMapping[str, Any], names: Iterable[str]) -> None:
    """Make ``door`` the home of its public classes and functions (``__module__`` set to it).

    Only objects defined inside the door's package are touched (a name the door re-exports from
    another package keeps its home).
    """
    for name in names:
        value = namespace[name]
        wrapped = callable(value) and isinstance(getattr(value, "__wrapped__", None),
                                                 types.FunctionType)  # functools.lru_cache ...
        if not isinstance(value, (type, types.FunctionType)) and not wrapped:
            continue
        module = getattr(value, "__module__", "")
        if module == door or not module.startswith(door + "."):
            continue
        if isinstance(value, type):
            DEFINED_IN.setdefault(value, module)
        value.__module__ = door


def defining_module(cls: type) -> str:
    """The module whose source defines ``cls`` (``__module__`` unless :func:`own` moved it)."""
    return DEFINED_IN.get(cls, cls.__module__)


def type_hints(cls: type, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """``typing.get_type_hints(cls)`` with string annotations resolved in the defining modules.

    ``extra`` adds names (for classes defined where no module holds their names).
    """
    namespace: dict[str, Any] = {}
    for base in reversed(cls.__mro__):
        module = sys.modules.get(defining_module(base))
        if module is not None:
            namespace.update(vars(module))
    if extra:
        namespace.update(extra)
    return typing.get_type_hints(cls, globalns=namespace, include_extras=True)


def _warn(old: str, new: str, stacklevel: int) -> None:
    module, _, name = new.rpartition(".")
    private = any(p.startswith("_") for p in module.split("."))
    if private:
        message = (
            f"{old} is no longer public (an internal helper) and goes away in the next release"
        )
    else:
        message = f"{old} is deprecated; import {name} from {module}"
    warnings.warn(message, DeprecationWarning, stacklevel=stacklevel + 1)


def _resolve(new: str) -> Any:
    module, _, name = new.rpartition(".")
    return getattr(importlib.import_module(module), name)


def door_getattr(door: str, wrapped: int = 0) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``door`` that serves its old names (see :data:`NAMES`).

    ``wrapped``: how many frames of the door's own ``__getattr__`` call this one (the warning
    points at the user's line).
    """

    def __getattr__(name: str) -> Any:  # noqa: N807  (a module __getattr__)
        new = NAMES.get(f"{door}.{name}")
        if new is None:
            raise AttributeError(f"module {door!r} has no attribute {name!r}")
        _warn(f"{door}.{name}", new, stacklevel=2 + wrapped)
        return _resolve(new)

    return __getattr__


def where_now(old_module: str, name: str) -> str:
    """The dotted path that now holds ``name`` of the old module ``old_module``."""
    door, privates = MODULES[old_module]
    moved = NAMES.get(f"{door}.{name}")
    if moved is not None:
        return moved
    if name in getattr(importlib.import_module(door), "__all__", ()):
        return f"{door}.{name}"
    for private in privates:
        if hasattr(importlib.import_module(private), name):
            return f"{private}.{name}"
    raise AttributeError(f"module {old_module!r} has no attribute {name!r}")


class _OldModule(types.ModuleType):
    """The stand-in for a module that became private: every name got from it warns."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        new = where_now(self.__name__, name)
        _warn(f"{self.__name__}.{name}", new, stacklevel=2)
        return _resolve(new)

    def __dir__(self) -> list[str]:
        door, _ = MODULES[self.__name__]
        return sorted(getattr(importlib.import_module(door), "__all__", ()))


class _OldModuleFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds the modules of :data:`MODULES` (no file holds them any more)."""

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: types.ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname not in MODULES:
            return None
        return importlib.util.spec_from_loader(fullname, self)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        module = _OldModule(spec.name)
        module.__doc__ = f"Deprecated: use {MODULES[spec.name][0]}."
        return module

    def exec_module(self, module: types.ModuleType) -> None:
        """Nothing to run: names are looked up when asked for."""


_FINDER = _OldModuleFinder()
if not any(isinstance(f, _OldModuleFinder) for f in sys.meta_path):
    sys.meta_path.insert(0, _FINDER)
