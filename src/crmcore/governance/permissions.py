"""Field-level permissions: roles, grants, ownership scopes, masked views.

A :class:`Role` holds :class:`Grant` values. A grant gives some actions (``view``, ``edit``,
``export``, ``delete``) on one record type (or ``*``), for all fields or a listed set, within an
ownership scope (``own`` records, the ``team``'s records, ``all`` records); it may list fields the
role only sees *masked* and fields it never sees. A role's access to a field is the most generous
of its grants that apply, except that a field the role lists in ``Role.denied`` is never accessible.

Access levels: ``full`` (the value), ``masked`` (a masked value, for view and export only) or
``none``. Edit and delete need ``full``.

Every read through :class:`PermissionPolicy` (:meth:`~PermissionPolicy.view`,
:meth:`~PermissionPolicy.export`, :meth:`~PermissionPolicy.view_golden`) builds its output only from
fields the role may see, masked where it must: nothing else is copied, so a denied field cannot
leak through nested values, lineage or exports.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Literal

import attrs

from crmcore.errors import PermissionDenied
from crmcore.governance._identity import norm_phone
from crmcore.governance.audit import AuditLog

__all__ = [
    "ACTIONS",
    "LINEAGE_METADATA_KEYS",
    "ExportResult",
    "Grant",
    "PermissionPolicy",
    "Role",
    "User",
    "mask_email",
    "mask_phone",
    "mask_text",
    "mask_value",
]

ACTIONS: frozenset[str] = frozenset({"view", "edit", "export", "delete"})
"""The actions a grant can give."""

Level = Literal["full", "masked", "none"]
Scope = Literal["own", "team", "all"]

LINEAGE_METADATA_KEYS: frozenset[str] = frozenset(
    {
        "field",
        "source",
        "source_system",
        "source_record_id",
        "record_id",
        "record_ids",
        "policy",
        "rule",
        "tie_breaker",
        "conflict",
        "contributors",
        "observed_at",
        "updated_at",
        "created_at",
        "score",
        "confidence",
        "at",
        "kind",
        "action",
        "entity_id",
    }
)
"""Keys of lineage items that are metadata (copied as they are); every other key is a value."""


def _safe(raw: str, masked: str) -> str:
    """Never return a masked text that still contains the raw text."""
    return "***" if raw and raw in masked else masked


def mask_email(value: str) -> str:
    """Mask an email address: ``john@example.com`` -> ``j***@example.com``.

    Example:
        >>> mask_email("john@example.com")
        'j***@example.com'
    """
    local, sep, domain = value.strip().partition("@")
    if not sep or not local:
        return mask_text(value)
    return _safe(value, f"{local[0]}***@{domain}")


def mask_phone(value: str) -> str:
    """Mask a phone number, keeping the country code and the last three digits.

    Example:
        >>> mask_phone("+44 20 7946 0123")
        '+44 ***** *123'
    """
    import phonenumbers

    text = norm_phone(value) or value
    digits = "".join(c for c in text.split(";", 1)[0] if c.isdigit())
    if len(digits) <= 5:
        return "*****"
    prefix = ""
    if text.startswith("+"):
        try:
            prefix = f"+{phonenumbers.parse(text, None).country_code} "
        except phonenumbers.NumberParseException:
            prefix = "+"
    return _safe(value, f"{prefix}***** *{digits[-3:]}")


def mask_text(value: str) -> str:
    """Mask free text: first character and ``***`` (just ``***`` for short values).

    Example:
        >>> mask_text("Johnson")
        'J***'
    """
    text = value.strip()
    if len(text) <= 3:
        return "***"
    return _safe(value, f"{text[0]}***")


def mask_value(field: str, value: Any) -> Any:
    """Default masker chosen by field name: emails, phones, other text; containers per item.

    Non-text scalars (numbers, dates) become ``"***"``; None stays None.
    """
    if value is None:
        return None
    if isinstance(value, Mapping):
        return {str(k): mask_value(str(k), v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [mask_value(field, v) for v in value]
    if not isinstance(value, str):
        return "***"
    name = field.lower()
    if "email" in name:
        return mask_email(value)
    if "phone" in name or "mobile" in name or "fax" in name:
        return mask_phone(value)
    return mask_text(value)


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


@attrs.frozen
class User:
    """The person acting: id and teams (for ``own`` and ``team`` scopes).

    Args:
        id: User id, compared with a record's ``owner_id`` / ``owner``.
        teams: Team ids, compared with a record's ``team_id`` / ``team`` and the owner's teams.
    """

    id: str
    teams: frozenset[str] = attrs.field(default=frozenset(), converter=frozenset)


@attrs.frozen
class ExportResult:
    """Rows a role may export, and records left out because they are outside its scope.

    Args:
        rows: Exported rows (only fields the role may export, masked where it must).
        left_out: Ids (or row numbers) of records outside the role's scope.
    """

    rows: tuple[dict[str, Any], ...]
    left_out: tuple[str, ...]


_RANK: dict[Level, int] = {"none": 0, "masked": 1, "full": 2}
_OWNER_FIELDS = ("owner_id", "owner")
_TEAM_FIELDS = ("team_id", "team")


def _as_mapping(record: Any) -> dict[str, Any]:
    if isinstance(record, Mapping):
        return dict(record)
    to_dict = getattr(record, "to_dict", None)
    if callable(to_dict):
        data = to_dict()
        if isinstance(data, Mapping):
            return dict(data)
    if attrs.has(type(record)):
        return attrs.asdict(record, recurse=False)
    raise TypeError(f"cannot read fields of {type(record).__name__}")


def _record_type(record: Any, given: str | None) -> str:
    if given is not None:
        return given
    rt = getattr(type(record), "record_type", None) or getattr(record, "record_type", None)
    if rt is None and isinstance(record, Mapping):
        rt = record.get("record_type")
    if not isinstance(rt, str):
        raise ValueError("record_type is needed for plain mappings without a 'record_type' key")
    return rt


class PermissionPolicy:
    """Roles, the ownership directory and maskers; the checks and every read through a role.

    Args:
        roles: The roles (by name).
        owner_teams: Owner id -> team ids, for ``team`` scope on records without a team field.
        maskers: Field name -> function masking one value (default: :func:`mask_value`).

    Example:
        >>> sales = Role("sales", [Grant("contact", {"view"}, masked={"phone"})])
        >>> policy = PermissionPolicy([sales])
        >>> policy.view({"id": "c1", "phone": "+44 20 7946 0123", "dob": None}, "sales",
        ...             record_type="contact")
        {'id': 'c1', 'phone': '+44 ***** *123', 'dob': None}
    """

    def __init__(
        self,
        roles: Iterable[Role],
        *,
        owner_teams: Mapping[str, Iterable[str]] | None = None,
        maskers: Mapping[str, Callable[[Any], Any]] | None = None,
    ) -> None:
        self.roles: dict[str, Role] = {r.name: r for r in roles}
        self.owner_teams = {k: frozenset(v) for k, v in (owner_teams or {}).items()}
        self.maskers = dict(maskers or {})

    def _role(self, role: str | Role) -> Role:
        if isinstance(role, Role):
            return role
        try:
            return self.roles[role]
        except KeyError:
            raise PermissionDenied(role, "use", "role", None) from None

    def in_scope(self, scope: Scope, record: Mapping[str, Any], user: User | None) -> bool:
        """Whether a record is within an ownership scope for a user."""
        if scope == "all":
            return True
        if user is None:
            return False
        owner = next((record[f] for f in _OWNER_FIELDS if record.get(f) is not None), None)
        if owner is not None and str(owner) == user.id:
            return True
        if scope == "own":
            return False
        team = next((record[f] for f in _TEAM_FIELDS if record.get(f) is not None), None)
        if team is not None and str(team) in user.teams:
            return True
        return owner is not None and bool(
            self.owner_teams.get(str(owner), frozenset()) & user.teams
        )

    def _grants(
        self,
        role: Role,
        action: str,
        record_type: str,
        record: Mapping[str, Any] | None,
        user: User | None,
    ) -> list[Grant]:
        return [
            g
            for g in role.grants
            if action in g.actions
            and g.record_type in (record_type, "*")
            and (record is None or self.in_scope(g.scope, record, user))
        ]

    def level(
        self,
        role: str | Role,
        action: str,
        record_type: str,
        field: str,
        *,
        record: Mapping[str, Any] | None = None,
        user: User | None = None,
    ) -> Level:
        """Access level (``full``, ``masked``, ``none``) of a role to one field.

        Without ``record`` the ownership scope is not checked (the answer is then "for records in
        scope").
        """
        r = self._role(role)
        if f"{record_type}.{field}" in r.denied or f"*.{field}" in r.denied:
            return "none"
        best: Level = "none"
        for grant in self._grants(r, action, record_type, record, user):
            lvl = grant.level(field)
            if _RANK[lvl] > _RANK[best]:
                best = lvl
        if best == "masked" and action not in ("view", "export"):
            return "none"
        return best

    def check(
        self,
        role: str | Role,
        action: str,
        record_type: str,
        field: str | None = None,
        *,
        record: Mapping[str, Any] | None = None,
        user: User | None = None,
    ) -> None:
        """Raise :class:`~crmcore.errors.PermissionDenied` unless the role may do the action.

        With ``field=None`` the question is whether the role may do the action on the record (type)
        at all.

        Raises:
            PermissionDenied: Naming the role, action, record type and field.
        """
        r = self._role(role)
        if field is None:
            if not self._grants(r, action, record_type, record, user):
                raise PermissionDenied(r.name, action, record_type, None)
            return
        if self.level(r, action, record_type, field, record=record, user=user) == "none":
            raise PermissionDenied(r.name, action, record_type, field)

    def _mask(self, field: str, value: Any) -> Any:
        masker = self.maskers.get(field)
        return masker(value) if masker is not None else mask_value(field, value)

    def _project(
        self,
        data: Mapping[str, Any],
        role: Role,
        action: str,
        record_type: str,
        user: User | None,
    ) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for field, value in data.items():
            lvl = self.level(role, action, record_type, field, record=data, user=user)
            if lvl == "full":
                out[field] = value
            elif lvl == "masked":
                out[field] = self._mask(field, value)
        return out

    def view(
        self,
        record: Any,
        role: str | Role,
        user: User | None = None,
        *,
        record_type: str | None = None,
        action: str = "view",
    ) -> dict[str, Any]:
        """The fields of one record the role may see, masked where it must.

        Args:
            record: A mapping or a model record (anything with ``to_dict()``).
            role: Role (or role name).
            user: The user (for ``own`` / ``team`` scopes).
            record_type: Record type; read from the record when not given.
            action: ``view`` (default) or ``export``.

        Returns:
            A new dict holding only permitted fields.

        Raises:
            PermissionDenied: If the record is outside every grant of the role for the action.
        """
        r = self._role(role)
        rt = _record_type(record, record_type)
        data = _as_mapping(record)
        self.check(r, action, rt, None, record=data, user=user)
        return self._project(data, r, action, rt, user)

    def export(
        self,
        records: Iterable[Any],
        role: str | Role,
        user: User | None = None,
        *,
        record_type: str | None = None,
        audit: AuditLog | None = None,
        reason: str | None = None,
    ) -> ExportResult:
        """Rows for an export through a role (``export`` rights, masked where needed).

        Records outside the role's scope are left out and listed by id (or row number).
        With ``audit``, one ``export`` entry records who exported which records and fields.
        """
        r = self._role(role)
        rows: list[dict[str, Any]] = []
        left_out: list[str] = []
        exported_ids: list[str] = []
        exported_type: str | None = None
        for number, record in enumerate(records):
            rt = _record_type(record, record_type)
            data = _as_mapping(record)
            if not self._grants(r, "export", rt, data, user):
                left_out.append(str(data.get("id", data.get("record_id", number))))
                continue
            rows.append(self._project(data, r, "export", rt, user))
            exported_ids.append(str(data.get("id", data.get("record_id", number))))
            exported_type = rt
        if audit is not None:
            audit.record(
                "export",
                actor=user.id if user is not None else r.name,
                record_type=exported_type or record_type,
                reason=reason,
                details={
                    "role": r.name,
                    "rows": len(rows),
                    "left_out": len(left_out),
                    "fields": sorted({f for row in rows for f in row}),
                    "record_ids": exported_ids,
                },
            )
        return ExportResult(tuple(rows), tuple(left_out))

    def edit(
        self,
        record: Any,
        changes: Mapping[str, Any],
        role: str | Role,
        user: User | None = None,
        *,
        record_type: str | None = None,
    ) -> dict[str, Any]:
        """Apply field changes to a copy of the record after checking ``edit`` on each field.

        Raises:
            PermissionDenied: For the first field (in sorted order) the role may not edit;
                nothing is changed.
        """
        r = self._role(role)
        rt = _record_type(record, record_type)
        data = _as_mapping(record)
        for field in sorted(changes):
            self.check(r, "edit", rt, field, record=data, user=user)
        return {**data, **changes}

    def view_golden(
        self,
        golden: Any,
        lineage: Mapping[str, Any] | Sequence[Any] | None,
        role: str | Role,
        user: User | None = None,
        *,
        record_type: str = "contact",
        action: str = "view",
    ) -> tuple[dict[str, Any], dict[str, list[Any]]]:
        """A golden record and its per-field lineage as the role may see them.

        Lineage of a field the role may not see is left out entirely; lineage of a masked field
        has every value masked (only :data:`LINEAGE_METADATA_KEYS` are copied as they are).

        Args:
            golden: The golden record (mapping or object with ``to_dict()``).
            lineage: Field -> lineage items, or a sequence of items each with a ``field`` key.
            role: Role (or role name).
            user: The user.
            record_type: Record type of the golden record.
            action: ``view`` or ``export``.

        Returns:
            ``(golden fields, lineage by field)``.
        """
        r = self._role(role)
        if not isinstance(golden, Mapping) and isinstance(getattr(golden, "values", None), Mapping):
            data = dict(golden.values)
            if lineage is None:
                lineage = getattr(golden, "lineage", None)
        else:
            data = _as_mapping(golden)
        self.check(r, action, record_type, None, record=data, user=user)
        view = self._project(data, r, action, record_type, user)
        by_field: dict[str, list[Any]] = {}
        if isinstance(lineage, Mapping):
            for field, items in lineage.items():
                seq = items if isinstance(items, (list, tuple)) else [items]
                by_field[str(field)] = list(seq)
        elif lineage is not None:
            for item in lineage:
                m = _as_mapping(item)
                by_field.setdefault(str(m.get("field")), []).append(m)
        out: dict[str, list[Any]] = {}
        for field, items in by_field.items():
            lvl = self.level(r, action, record_type, field, record=data, user=user)
            if lvl == "none":
                continue
            out[field] = [self._lineage_item(field, item, lvl) for item in items]
        return view, out

    def _lineage_item(self, field: str, item: Any, lvl: Level) -> Any:
        if isinstance(item, Mapping) or hasattr(item, "to_dict") or attrs.has(type(item)):
            item = _as_mapping(item)
        return item if lvl == "full" else self._mask_tree(field, item)

    def _mask_tree(self, field: str, value: Any) -> Any:
        if isinstance(value, Mapping):
            return {
                str(k): (v if k in LINEAGE_METADATA_KEYS else self._mask_tree(field, v))
                for k, v in value.items()
            }
        if isinstance(value, (list, tuple)):
            return [self._mask_tree(field, v) for v in value]
        if hasattr(value, "to_dict") or attrs.has(type(value)):
            return self._mask_tree(field, _as_mapping(value))
        return self._mask(field, value)
