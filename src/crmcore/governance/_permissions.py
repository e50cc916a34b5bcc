"""Field-level permissions: roles, grants, ownership scopes, masked views.

A :class:`Role` holds :class:`Grant` values. A grant gives some actions (``view``, ``edit``,
``export``, ``delete``) on one record type (or ``*``), for all fields or a listed set, within an
ownership scope (``own`` records, the ``team``'s records, ``all`` records); it may list fields the
role only sees *masked* and fields it never sees. A role's access to a field is the most generous
of its grants that apply, except that a field the role lists in ``Role.denied`` is never accessible.

Access levels: ``full`` (the value), ``masked`` (a masked value, for view and export only) or
``none``. Edit and delete need ``full``.

Every read through :class:`PermissionPolicy` (:meth:`~PermissionPolicy.view`,
:meth:`~PermissionPolicy.export`, :meth:`~PermissionPolicy.view_golden`,
:meth:`~PermissionPolicy.view_audit`) builds its output only from fields the role may see, masked
where it must, and then guards it:

* golden records (``crmcore.survivorship.GoldenRecord`` or its ``to_dict()`` form) are read as
  their values plus lineage, lineage of a field following that field's access;
* inside nested values (a ``custom_fields`` mapping, a lineage item, an activity ``related``
  list), a key naming a field the role may not see is dropped, a masked one is masked;
* last, any text in the output that contains the raw value of a field the role may not see (or
  sees masked) is masked, so a denied value cannot ride along in another field (a golden
  ``lineage`` copy, a note quoting it).

Third-party exports (``third_party=True``) also honour the US "do not sell or share" flag and the
``data_sharing`` consent: rows of persons the :class:`~crmcore.governance.ConsentLedger` does not
allow to share are left out with the reason.
"""


from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import attrs

from crmcore.errors import PermissionDenied
from crmcore.governance._audit import AuditLog
from crmcore.governance._audit_entries import AuditEntry

if TYPE_CHECKING:
    from crmcore.governance._ledger import ConsentLedger
from crmcore.governance._grants import Actor, ExportResult, Grant, Level, Role, Scope
from crmcore.governance._masking import mask_value

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


_RANK: dict[Level, int] = {"none": 0, "masked": 1, "full": 2}
_OWNER_FIELDS = ("owner_id", "owner")
_TEAM_FIELDS = ("team_id", "team")


def _golden_parts(record: Any) -> tuple[dict[str, Any], Any, dict[str, Any]] | None:
    """``(values, lineage, other keys)`` of a golden record (object or dict form), else None."""
    if isinstance(record, Mapping):
        values, lineage = record.get("values"), record.get("lineage")
        if isinstance(values, Mapping) and "lineage" in record:
            other = {k: v for k, v in record.items() if k not in ("values", "lineage")}
            return dict(values), lineage, other
        return None
    values = getattr(record, "values", None)
    if isinstance(values, Mapping) and hasattr(record, "lineage"):
        other = {
            k: getattr(record, k)
            for k in ("entity_id", "record_ids")
            if getattr(record, k, None) is not None
        }
        return dict(values), record.lineage, other
    return None


_GOLDEN_META = frozenset({"entity_id", "record_ids", "observed_at", "id", "record_type"})


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

    def in_scope(self, scope: Scope, record: Mapping[str, Any], user: Actor | None) -> bool:
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
        user: Actor | None,
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
        user: Actor | None = None,
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
        user: Actor | None = None,
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
        user: Actor | None,
    ) -> dict[str, Any]:
        out: dict[str, Any] = {}
        secret: dict[str, Level] = {}
        secrets: list[Any] = []
        for field, value in data.items():
            lvl = self.level(role, action, record_type, field, record=data, user=user)
            if lvl == "full":
                out[field] = value
            else:
                secret[field] = lvl
                secrets.append(value)
                if lvl == "masked":
                    out[field] = self._mask(field, value)
        secret.update(self._named_secrets(role, record_type))
        return self._guard(out, secret, secrets)

    def _named_secrets(self, role: Role, record_type: str) -> dict[str, Level]:
        """Fields the role names as denied, hidden or masked for a record type."""
        out: dict[str, Level] = {}
        for name in role.denied:
            rt, _dot, field = name.partition(".")
            if rt in (record_type, "*"):
                out[field] = "none"
        for grant in role.grants:
            if grant.record_type in (record_type, "*"):
                for field in grant.hidden:
                    out.setdefault(field, "none")
                for field in grant.masked:
                    out.setdefault(field, "masked")
        return out

    def _guard(
        self, out: dict[str, Any], secret: Mapping[str, Level], secrets: Sequence[Any]
    ) -> dict[str, Any]:
        """Drop / mask secret field names inside nested values; mask text quoting a secret."""
        raw: set[str] = set()
        for value in secrets:
            _texts(value, raw)
        needles = sorted({t for t in raw if len(t.strip()) >= 3}, key=len, reverse=True)
        exact = {t for t in raw if t.strip()}
        guarded: dict[str, Any] = {}
        for field, value in out.items():
            if field in secret and secret[field] == "masked":
                guarded[field] = _scrub(value, needles, exact)
            else:
                guarded[field] = _scrub(self._nested(value, secret), needles, exact)
        return guarded

    def _nested(self, value: Any, secret: Mapping[str, Level]) -> Any:
        if isinstance(value, Mapping):
            field = value.get("field")
            if isinstance(field, str) and field in secret:
                if secret[field] == "none":
                    return None
                return self._mask_tree(field, dict(value))
            result: dict[str, Any] = {}
            for k, v in value.items():
                key = str(k)
                if key in secret:
                    if secret[key] == "masked":
                        result[key] = self._mask_tree(key, v)
                    continue
                result[key] = self._nested(v, secret)
            return result
        if isinstance(value, (list, tuple)):
            items = [self._nested(v, secret) for v in value]
            pairs = zip(items, value, strict=True)
            return [v for v, orig in pairs if v is not None or orig is None]
        if (
            not isinstance(value, (str, int, float, bool))
            and value is not None
            and (hasattr(value, "to_dict") or attrs.has(type(value)))
        ):
            return self._nested(_as_mapping(value), secret)
        return value

    def view(
        self,
        record: Any,
        role: str | Role,
        user: Actor | None = None,
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
        parts = _golden_parts(record)
        if parts is not None:
            values, lineage, other = parts
            rt = record_type or str(other.get("record_type") or "contact")
            view, lin = self.view_golden(
                {**other, **values}, lineage, r, user, record_type=rt, action=action
            )
            return {**view, "lineage": lin}
        rt = _record_type(record, record_type)
        data = _as_mapping(record)
        self.check(r, action, rt, None, record=data, user=user)
        return self._project(data, r, action, rt, user)

    def export(
        self,
        records: Iterable[Any],
        role: str | Role,
        user: Actor | None = None,
        *,
        record_type: str | None = None,
        audit: AuditLog | None = None,
        reason: str | None = None,
        third_party: bool = False,
        ledger: ConsentLedger | None = None,
        now: datetime | None = None,
        person_field: str = "id",
    ) -> ExportResult:
        """Rows for an export through a role (``export`` rights, masked where needed).

        Records outside the role's scope are left out and listed by id (or row number).
        With ``audit``, one ``export`` entry records who exported which records and fields.

        Args:
            records: Records (mappings, model records, golden records).
            role: Role (or role name).
            user: The user (for ``own`` / ``team`` scopes).
            record_type: Record type; read from each record when not given.
            audit: Audit log for the ``export`` entry.
            reason: Why (kept in the audit entry).
            third_party: The export goes to a third party (a sale or a share): every row's
                person must pass :meth:`ConsentLedger.may_share` (the "do not sell or share"
                flag and the ``data_sharing`` consent); others are left out with the reason.
            ledger: The consent ledger (required with ``third_party``).
            now: Time of the export for the consent check (default: now).
            person_field: Field holding the person id the ledger knows.

        Raises:
            ConsentError: If ``third_party`` is set without a ledger.
        """
        if third_party and ledger is None:
            from crmcore.errors import ConsentError

            raise ConsentError(
                "a third-party export needs the consent ledger (do-not-sell / data_sharing check)"
            )
        r = self._role(role)
        rows: list[dict[str, Any]] = []
        left_out: list[str] = []
        reasons: dict[str, str] = {}
        exported_ids: list[str] = []
        exported_type: str | None = None
        when = now if now is not None else datetime.now().astimezone()
        for number, record in enumerate(records):
            parts = _golden_parts(record)
            if parts is not None:
                values, _lineage, other = parts
                rt = record_type or str(other.get("record_type") or "contact")
                data = {**other, **values}
                rid = str(other.get("entity_id", number))
            else:
                rt = _record_type(record, record_type)
                data = _as_mapping(record)
                rid = str(data.get("id", data.get("record_id", number)))
            if not self._grants(r, "export", rt, data, user):
                left_out.append(rid)
                reasons[rid] = "out_of_scope"
                continue
            if third_party and ledger is not None:
                pid = data.get(person_field, data.get("entity_id"))
                decision = ledger.may_share(str(pid), now=when)
                if pid is None or not decision.allowed:
                    left_out.append(rid)
                    reasons[rid] = "no_person_id" if pid is None else str(decision.reason)
                    continue
            if parts is not None:
                rows.append(self.view(record, r, user, record_type=rt, action="export"))
            else:
                rows.append(self._project(data, r, "export", rt, user))
            exported_ids.append(rid)
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
                    "third_party": third_party,
                    "fields": sorted({f for row in rows for f in row}),
                    "record_ids": exported_ids,
                },
            )
        return ExportResult(tuple(rows), tuple(left_out), reasons)

    def edit(
        self,
        record: Any,
        changes: Mapping[str, Any],
        role: str | Role,
        user: Actor | None = None,
        *,
        record_type: str | None = None,
        audit: AuditLog | None = None,
        source: str | None = None,
        reason: str | None = None,
        subjects: Iterable[str] = (),
    ) -> dict[str, Any]:
        """Apply field changes to a copy of the record after checking ``edit`` on each field.

        With ``audit``, one ``change`` entry per changed field records who (the user, else the
        role), the record, the field, the old and new value, the source and the reason.

        Raises:
            PermissionDenied: For the first field (in sorted order) the role may not edit;
                nothing is changed and nothing is recorded.
        """
        r = self._role(role)
        rt = _record_type(record, record_type)
        data = _as_mapping(record)
        for field in sorted(changes):
            self.check(r, "edit", rt, field, record=data, user=user)
        new = {**data, **changes}
        if audit is not None:
            audit.record_change(
                rt,
                str(data.get("id", data.get("record_id"))),
                {f: data.get(f) for f in changes},
                dict(changes),
                actor=user.id if user is not None else r.name,
                source=source,
                reason=reason,
                subjects=subjects,
            )
        return new

    def delete(
        self,
        record: Any,
        role: str | Role,
        user: Actor | None = None,
        *,
        record_type: str | None = None,
        audit: AuditLog | None = None,
        reason: str | None = None,
        subjects: Iterable[str] = (),
    ) -> None:
        """Check that the role may delete the record (``delete`` on it and on every field it holds).

        The caller deletes; with ``audit`` a ``delete`` entry is recorded (no values in it).

        Raises:
            PermissionDenied: Naming the role, ``delete``, the record type and the first field
                (in sorted order) the role may not delete.
        """
        r = self._role(role)
        rt = _record_type(record, record_type)
        data = _as_mapping(record)
        self.check(r, "delete", rt, None, record=data, user=user)
        for field in sorted(data):
            self.check(r, "delete", rt, field, record=data, user=user)
        if audit is not None:
            audit.record(
                "delete",
                actor=user.id if user is not None else r.name,
                record_type=rt,
                record_id=str(data.get("id", data.get("record_id"))),
                reason=reason,
                subjects=subjects,
            )

    def view_golden(
        self,
        golden: Any,
        lineage: Mapping[str, Any] | Sequence[Any] | None,
        role: str | Role,
        user: Actor | None = None,
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
        parts = _golden_parts(golden)
        if parts is not None:
            values, own_lineage, other = parts
            data = {**other, **values}
            if lineage is None:
                lineage = own_lineage
        else:
            data = _as_mapping(golden)
        self.check(r, action, record_type, None, record=data, user=user)
        secret: dict[str, Level] = {}
        secrets: list[Any] = []
        for field, value in data.items():
            lvl = self.level(r, action, record_type, field, record=data, user=user)
            if lvl != "full":
                secret[field] = lvl
                secrets.append(value)
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
        for field, items in by_field.items():
            lvl = self.level(r, action, record_type, field, record=data, user=user)
            if lvl != "full":
                secret.setdefault(field, lvl)
                secrets.extend(_lineage_values(item) for item in items)
        secret.update(self._named_secrets(r, record_type))
        # lineage is keyed by field: masked fields' items are masked already (scrubbed only),
        # visible fields' items are guarded like nested values
        return view, self._guard(out, secret, secrets)

    def view_audit(
        self,
        entries: Iterable[AuditEntry],
        role: str | Role,
        user: Actor | None = None,
    ) -> list[dict[str, Any]]:
        """Audit entries as a role may read them (``view`` on record type ``audit`` needed).

        The old / new value of an entry about a field are shown only as far as the role may
        view that field of that record type (masked when masked); reasons and details (which
        may quote personal data) only when the role may view the ``audit`` fields ``reason`` /
        ``details``.

        Raises:
            PermissionDenied: If the role may not view the audit trail.
        """
        r = self._role(role)
        self.check(r, "view", "audit", None, user=user)
        rows: list[dict[str, Any]] = []
        secrets: list[Any] = []
        for entry in entries:
            row = entry.to_dict()
            payload = row.pop("payload")
            shown: dict[str, Any] = {}
            if payload is not None:
                rt, field = entry.record_type, entry.field
                lvl: Level = "none"
                if rt is not None and field is not None:
                    lvl = self.level(r, "view", rt, field)
                for key in ("old", "new"):
                    if lvl == "full":
                        shown[key] = payload.get(key)
                    else:
                        secrets.append(payload.get(key))
                        if lvl == "masked":
                            shown[key] = self._mask(field or key, payload.get(key))
                for key in ("reason", "details"):
                    if self.level(r, "view", "audit", key) == "full":
                        shown[key] = payload.get(key)
            row["payload"] = shown if payload is not None else None
            rows.append(row)
        # a reason or details quoting a value the role may not see is masked too
        return [self._guard(row, {}, secrets) for row in rows]

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


def _lineage_values(item: Any) -> list[Any]:
    """The values held in one lineage item (metadata keys left out)."""
    if not isinstance(item, Mapping):
        if hasattr(item, "to_dict") or attrs.has(type(item)):
            item = _as_mapping(item)
        else:
            return [item]
    out: list[Any] = []
    for k, v in item.items():
        if k in LINEAGE_METADATA_KEYS:
            continue
        if isinstance(v, (list, tuple)):
            for x in v:
                out.extend(_lineage_values(x) if isinstance(x, Mapping) else [x])
        elif isinstance(v, Mapping):
            out.extend(_lineage_values(v))
        else:
            out.append(v)
    return out


def _texts(value: Any, into: set[str]) -> None:
    """Collect every text inside a value (nested containers and records included)."""
    if isinstance(value, str):
        into.add(value)
    elif isinstance(value, Mapping):
        for v in value.values():
            _texts(v, into)
    elif isinstance(value, (list, tuple, set, frozenset)):
        for v in value:
            _texts(v, into)
    elif value is not None and (hasattr(value, "to_dict") or attrs.has(type(value))):
        try:
            _texts(_as_mapping(value), into)
        except TypeError:
            return


def _scrub(value: Any, needles: Sequence[str], exact: set[str]) -> Any:
    """Mask texts that are, or contain, a secret text (``needles`` sorted longest first)."""
    if not needles and not exact:
        return value
    if isinstance(value, str):
        if value in exact:
            return "***"
        folded = value.casefold()
        for needle in needles:
            if needle.casefold() in folded:
                return "***"
        return value
    if isinstance(value, Mapping):
        return {k: _scrub(v, needles, exact) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_scrub(v, needles, exact) for v in value]
    if isinstance(value, (set, frozenset)):
        return [_scrub(v, needles, exact) for v in sorted(value, key=repr)]
    return value
