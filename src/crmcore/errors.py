"""The one error tree of crmcore.

Every error raised on purpose by the library derives from :class:`CrmcoreError`. Concrete errors
also subclass the fitting built-in, so ``except ValueError`` keeps working for callers who do not
know crmcore::

    CrmcoreError
    ├── ValidationError (ValueError)          a record broke one or more validation rules
    ├── TransitionError (ValueError)          an illegal pipeline stage / status transition
    ├── RelationshipError (ValueError)        a relationship would break an invariant (cycles ...)
    ├── SerializationError (ValueError)       a dict / JSON payload cannot become a record
    ├── NormalizationError (ValueError)       strict normalisation rejected a value
    ├── SchemaMappingError (ValueError)       source columns cannot be mapped onto the schema
    ├── DataInputError (ValueError)           a file or table cannot be read
    ├── MissingDependencyError (ImportError)  an optional extra is not installed
    ├── MatchingConfigError (ValueError)      a blocking rule / comparison / model is inconsistent
    │   └── PairBudgetExceeded                blocking would produce more pairs than allowed
    ├── ModelError (ValueError)               a match model cannot be trained, loaded or used
    ├── IndexStateError (RuntimeError)        the real-time index was asked something impossible
    ├── SurvivorshipError (ValueError)        a policy or merge request is inconsistent
    ├── GovernanceError
    │   ├── PermissionDenied (PermissionError)  a role may not do an action on a field
    │   ├── ConsentError (ValueError)           consent data is inconsistent or a contact is barred
    │   ├── AuditIntegrityError                 the audit chain was changed or cut
    │   ├── SuppressedRecordError (ValueError)  an import would re-create an erased person
    │   └── PolicyConfigError (ValueError)      a governance policy set (file) is invalid
    └── WorkflowError
        ├── RuleValidationError (ValueError)    a rule file or rule value is invalid
        ├── WorkflowLoopError (RuntimeError)    chained rules exceeded the depth or cycle limit
        └── ActionError (RuntimeError)          a handler failed while taking an action

Warnings (not errors: the work goes on) derive from :class:`CrmcoreWarning` (``UserWarning``)::

    CrmcoreWarning (UserWarning)
    ├── TrainingWarning                     a trained match model is doubtful or can never match
    └── MissingHandlerWarning               a workflow action ran with no handler registered

Every problem about a value names the record, the field, the value and the rule it broke, through
:class:`FieldProblem`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Self

import attrs

__all__ = [
    "ActionError",
    "AuditIntegrityError",
    "ConsentError",
    "CrmcoreError",
    "CrmcoreWarning",
    "DataInputError",
    "FieldProblem",
    "GovernanceError",
    "IndexStateError",
    "MatchingConfigError",
    "MissingDependencyError",
    "MissingHandlerWarning",
    "ModelError",
    "NormalizationError",
    "PairBudgetExceeded",
    "PermissionDenied",
    "PolicyConfigError",
    "RelationshipError",
    "RuleValidationError",
    "SchemaMappingError",
    "SerializationError",
    "SuppressedRecordError",
    "SurvivorshipError",
    "TrainingWarning",
    "TransitionError",
    "ValidationError",
    "WorkflowError",
    "WorkflowLoopError",
    "require",
]


def _short(value: object, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


@attrs.frozen
class FieldProblem:
    """One problem with one value: which record, which field, what value, which rule, why.

    Args:
        field: Name of the field (or column) that holds the value.
        value: The offending value, as given.
        rule: Short machine-readable name of the rule that was broken (``"required"``,
            ``"email.format"``, ``"currency.iso4217"`` ...).
        message: Human-readable explanation.
        record: Identifier of the record (id, row number or source key), when known.
    """

    field: str
    value: Any
    rule: str
    message: str
    record: str | None = None

    def __str__(self) -> str:
        where = f"record {self.record!s}: " if self.record is not None else ""
        return (
            f"{where}field {self.field!r} value {_short(self.value)} "
            f"broke rule {self.rule!r}: {self.message}"
        )

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-friendly dict (the value is kept as ``repr`` when not a plain scalar)."""
        value = self.value
        if not (value is None or isinstance(value, (str, int, float, bool))):
            value = repr(value)
        return {
            "record": self.record,
            "field": self.field,
            "value": value,
            "rule": self.rule,
            "message": self.message,
        }


class CrmcoreError(Exception):
    """Root of every error crmcore raises on purpose."""


class _ProblemsError(CrmcoreError):
    """An error carrying one or more :class:`FieldProblem` values."""

    def __init__(self, problems: FieldProblem | Iterable[FieldProblem], summary: str = "") -> None:
        if isinstance(problems, FieldProblem):
            problems = [problems]
        self.problems: tuple[FieldProblem, ...] = tuple(problems)
        lines = [summary] if summary else []
        lines.extend(str(p) for p in self.problems)
        super().__init__("\n".join(lines) if lines else type(self).__name__)


class _MayListProblems(CrmcoreError):
    """For errors that list ``problems`` when raised from reading a file (else none)."""

    problems: tuple[FieldProblem, ...] = ()

    @classmethod
    def from_problems(cls, problems: Iterable[FieldProblem], summary: str = "") -> Self:
        """The error listing ``problems`` (the summary, then one line per problem)."""
        found = tuple(problems)
        err = cls("\n".join([*([summary] if summary else []), *map(str, found)]))
        err.problems = found
        return err


class ValidationError(_ProblemsError, ValueError):
    """A record broke one or more validation rules; ``problems`` lists them all."""


class TransitionError(CrmcoreError, ValueError):
    """An illegal pipeline stage or status transition; nothing was changed."""


class RelationshipError(CrmcoreError, ValueError):
    """A relationship would break an invariant (a cycle in a hierarchy, two primaries ...)."""


class SerializationError(_ProblemsError, ValueError):
    """A plain-dict or JSON payload cannot be turned into a record."""


class NormalizationError(_ProblemsError, ValueError):
    """Strict normalisation rejected a value (field, value, rule and reason in ``problems``)."""


class SchemaMappingError(CrmcoreError, ValueError):
    """Source columns cannot be mapped onto the canonical schema."""


class DataInputError(CrmcoreError, ValueError):
    """A file, table or iterable of records cannot be read."""


class MissingDependencyError(CrmcoreError, ImportError):
    """An optional extra is needed; the message says which ``pip install`` fixes it."""

    def __init__(self, module: str, extra: str, purpose: str = "") -> None:
        why = f" for {purpose}" if purpose else ""
        super().__init__(
            f"the optional dependency {module!r} is needed{why}; "
            f"install it with: pip install 'crmcore[{extra}]'"
        )
        self.module = module
        self.extra = extra


class MatchingConfigError(_MayListProblems, ValueError):
    """A blocking rule, comparison or model settings are inconsistent.

    Read from a settings or model file, it lists every problem in ``problems`` (each a
    :class:`FieldProblem` naming the path in the file, the value and the rule); else that is
    empty.
    """



class PairBudgetExceeded(MatchingConfigError):
    """Blocking would generate more candidate pairs than the pair budget allows."""


class ModelError(CrmcoreError, ValueError):
    """A match model cannot be trained, loaded or applied."""


class IndexStateError(CrmcoreError, RuntimeError):
    """The real-time match index was asked something its state does not allow."""


class SurvivorshipError(_MayListProblems, ValueError):
    """A survivorship policy or merge / unmerge request is inconsistent.

    Read from a rules file (``SurvivorshipRules.from_dict``), it lists every problem in
    ``problems`` (each a :class:`FieldProblem` naming the path in the file, the value and the
    rule); else that is empty.
    """



class GovernanceError(CrmcoreError):
    """Family of consent, permission, audit and erasure errors."""


class PermissionDenied(GovernanceError, PermissionError):
    """A role may not perform an action on a record type or field."""

    def __init__(self, role: str, action: str, record_type: str, field: str | None = None) -> None:
        target = f"{record_type}.{field}" if field else record_type
        super().__init__(f"role {role!r} may not {action} {target}")
        self.role = role
        self.action = action
        self.record_type = record_type
        self.field = field


class ConsentError(GovernanceError, ValueError):
    """Consent data is inconsistent, or a contact is not allowed for a purpose and channel."""


class AuditIntegrityError(GovernanceError):
    """The audit chain does not verify: an entry was changed, inserted or removed."""


class SuppressedRecordError(GovernanceError, ValueError):
    """An import would re-create a person who was erased (their identifiers are suppressed)."""


class PolicyConfigError(_MayListProblems, GovernanceError, ValueError):
    """A governance policy set (roles, consent policy, retention policies, segments) or its
    file form is invalid; ``problems`` lists every problem (path in the file, value, rule)."""



class WorkflowError(CrmcoreError):
    """Family of rule engine errors."""


class RuleValidationError(_ProblemsError, WorkflowError, ValueError):
    """A workflow rule (or rule file) is invalid; each problem names the rule and the field."""


class WorkflowLoopError(WorkflowError, RuntimeError):
    """Chained rules went past the depth limit or re-triggered themselves."""

    def __init__(self, message: str, chain: Sequence[str] = (), result: Any = None) -> None:
        super().__init__(message + (f" (chain: {' -> '.join(chain)})" if chain else ""))
        self.chain = tuple(chain)
        #: The partial ``RunResult`` of the stopped run (actions taken, updates, audit entries),
        #: set by the workflow engine so the host can save, audit or compensate what happened.
        self.result: Any = result


class ActionError(WorkflowError, RuntimeError):
    """A host handler failed while the engine took an action."""


class CrmcoreWarning(UserWarning):
    """Base of the warnings crmcore issues (filter them with ``warnings.filterwarnings``)."""


class MissingHandlerWarning(CrmcoreWarning):
    """A workflow rule's action had no handler: it was not taken (outcome ``no_handler``)."""


def require(module: str, extra: str, purpose: str = "") -> Any:
    """Import an optional dependency, or raise :class:`MissingDependencyError` with a hint.

    Args:
        module: Module to import, e.g. ``"pandas"``.
        extra: crmcore extra that installs it, e.g. ``"pandas"``.
        purpose: What it is needed for, quoted in the error.

    Returns:
        The imported module.

    Raises:
        MissingDependencyError: If the module cannot be imported.

    Example:
        >>> require("json", "none").dumps([1])
        '[1]'
    """
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingDependencyError(module, extra, purpose) from exc


class TrainingWarning(CrmcoreWarning):
    """A trained match model is doubtful: EM did not converge, the prior fell to its floor, a
    comparison could not be estimated, or no pair can ever reach the threshold. The same text is
    in the model's ``report.warnings``."""
