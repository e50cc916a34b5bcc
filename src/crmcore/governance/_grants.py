"""Access specs: a :class:`Grant` of actions on a record type's fields, a :class:`Role` of grants,
the :class:`Actor` who acts, and the :class:`ExportResult` of an export.
"""


from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, Literal

import attrs

if TYPE_CHECKING:
    pass


ACTIONS: frozenset[str] = frozenset({"view", "edit", "export", "delete"})
"""The actions a grant can give."""

Level = Literal["full", "masked", "none"]
Scope = Literal["own", "team", "all"]


def _frozen(value: Iterable[str] | None) -> frozenset[str] | None:
    return None if value is None else frozenset(value)


def _check_actions(_inst: object, _attr: object, value: frozenset[str]) -> None:
    unknown = value - ACTIONS
    if unknown:
        raise ValueError(f"Grant: unknown actions {sorted(unknown)}; use {sorted(ACTIONS)}")


@attrs.frozen
class Grant:
    """Some actions on one record type, some fields, within an ownership scope.

    Args:
        record_type: Record type (``contact``, ``deal`` ...) or ``*`` for every type.
        actions: Subset of :data:`ACTIONS`.
        fields: Fields covered; None covers every field.
        masked: Fields the grant shows only masked (view and export).
        hidden: Fields the grant does not cover even when ``fields`` is None.
        scope: ``own`` (records the user owns), ``team`` (owned by the user's teams) or ``all``.
    """

    record_type: str
    actions: frozenset[str] = attrs.field(converter=frozenset, validator=_check_actions)
    fields: frozenset[str] | None = attrs.field(default=None, converter=_frozen)
    masked: frozenset[str] = attrs.field(default=frozenset(), converter=frozenset)
    hidden: frozenset[str] = attrs.field(default=frozenset(), converter=frozenset)
    scope: Scope = attrs.field(
        default="all", validator=attrs.validators.in_(("own", "team", "all"))
    )

    def level(self, field: str) -> Level:
        """Access level this grant gives to a field (scope and action not considered)."""
        if field in self.hidden or (self.fields is not None and field not in self.fields):
            return "none"
        return "masked" if field in self.masked else "full"

    def to_dict(self) -> dict[str, Any]:
        """The JSON / YAML-friendly form (:mod:`crmcore.governance` policy files)."""
        from crmcore.governance._policy_set import GRANTS

        return GRANTS.to_dict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Grant:
        """Read :meth:`to_dict`'s form.

        Raises:
            PolicyConfigError: Listing every problem (path, value, rule) in ``problems``.
        """
        from crmcore.governance._policy_set import GRANTS

        value: Grant = GRANTS.from_dict(data)
        return value


@attrs.frozen
class Role:
    """A named set of grants, plus ``record_type.field`` names it may never access.

    Args:
        name: Role name.
        grants: The grants.
        denied: ``"record_type.field"`` (or ``"*.field"``) names denied whatever the grants say.
    """

    name: str
    grants: tuple[Grant, ...] = attrs.field(converter=tuple, default=())
    denied: frozenset[str] = attrs.field(default=frozenset(), converter=frozenset)

    def to_dict(self) -> dict[str, Any]:
        """The JSON / YAML-friendly form (:mod:`crmcore.governance` policy files)."""
        from crmcore.governance._policy_set import ROLES

        return ROLES.to_dict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Role:
        """Read :meth:`to_dict`'s form.

        Raises:
            PolicyConfigError: Listing every problem (path, value, rule) in ``problems``.
        """
        from crmcore.governance._policy_set import ROLES

        value: Role = ROLES.from_dict(data)
        return value


@attrs.frozen
class Actor:
    """The person acting: id and teams (for ``own`` and ``team`` scopes).

    Args:
        id: Actor id, compared with a record's ``owner_id`` / ``owner``.
        teams: Team ids, compared with a record's ``team_id`` / ``team`` and the owner's teams.
    """

    id: str
    teams: frozenset[str] = attrs.field(default=frozenset(), converter=frozenset)


@attrs.frozen
class ExportResult:
    """Rows a role may export, and records left out because they are outside its scope.

    Args:
        rows: Exported rows (only fields the role may export, masked where it must).
        left_out: Ids (or row numbers) of records outside the role's scope, or refused for a
            third-party export.
        reasons: Id -> why it was left out (``out_of_scope`` or a consent
            :class:`~crmcore.governance.DecisionReason` value such as ``do_not_sell``).
    """

    rows: tuple[dict[str, Any], ...]
    left_out: tuple[str, ...]
    reasons: Mapping[str, str] = attrs.field(factory=dict)
