"""Domain records in and out of survivorship: :func:`to_source`, :func:`merge_contacts`,
:func:`merge_accounts`.

:func:`to_source` turns any :mod:`crmcore.model` record into a :class:`SourceRecord`: its data
fields become values (custom fields as ``custom_fields.<name>``, a contact's memberships as
``account_ids`` plus ``primary_account_id``, its first email / phone as the preferred ``email`` /
``phone``), its provenance gives the source system and observation times. :func:`merge_contacts`
and :func:`merge_accounts` merge records of one person (company) into a golden
:class:`~crmcore.model.Contact` (:class:`~crmcore.model.Account`) with lineage, memberships as a
union, and (for accounts) a hierarchy that stays acyclic.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import attrs

from crmcore.errors import SurvivorshipError
from crmcore.model import Account, AccountHierarchy, Contact
from crmcore.survivorship._golden import GoldenRecord, merge
from crmcore.survivorship._presets import ACCOUNT_RULES, CONTACT_RULES
from crmcore.survivorship._records import SourceRecord, default_key
from crmcore.survivorship._relationships import HierarchyMerge, merge_hierarchy, merge_memberships
from crmcore.survivorship._rules import SurvivorshipRules

#: Source system of records without provenance.
UNKNOWN_SOURCE = "unknown"
_SKIP = frozenset({"id", "provenance", "field_provenance", "custom_fields", "memberships"})
_CUSTOM = "custom_fields."


def _data_fields(cls: type) -> list[str]:
    return [f.name for f in attrs.fields(cls) if f.name not in _SKIP]


def _plain(value: Any) -> Any:
    if isinstance(value, frozenset):
        return tuple(sorted(value, key=str))
    return value


def to_source(record: Any) -> SourceRecord:
    """Return a :class:`SourceRecord` of a domain record (``Contact``, ``Account``, ``Deal`` ...).

    The source system is the record's provenance's (``"unknown"`` without one); the observation
    time is the provenance's ``observed_at``, else ``updated_at``, else ``created_at``; per-field
    provenance with a time gives per-field observation times.

    Example:
        >>> from crmcore.model import Contact
        >>> from crmcore.survivorship import to_source
        >>> src = to_source(Contact(id="c-1", emails=["ann@acme.io"], tags={"vip"}))
        >>> src.source_system, src.values["email"], src.values["tags"]
        ('unknown', 'ann@acme.io', ('vip',))
    """
    values: dict[str, Any] = {
        name: _plain(getattr(record, name)) for name in _data_fields(type(record))
    }
    for key, custom in getattr(record, "custom_fields", {}).items():
        values[_CUSTOM + key] = custom
    if isinstance(record, Contact):
        values["email"] = record.email
        values["phone"] = record.phone
        values["account_ids"] = record.account_ids
        values["primary_account_id"] = record.primary_account_id
    prov = record.provenance
    observed = (prov.observed_at if prov is not None else None) or record.updated_at
    field_times = {
        name: p.observed_at for name, p in record.field_provenance.items() if p.observed_at
    }
    return SourceRecord(
        record.id,
        prov.source_system if prov is not None else UNKNOWN_SOURCE,
        observed or record.created_at,
        values,
        field_times or None,
    )


def from_golden(cls: type[Any], golden: GoldenRecord, **extra: Any) -> Any:
    """Build a domain record of type ``cls`` from a golden record's values.

    Sets fields ``cls`` has (collections as tuples / frozensets, custom fields gathered back);
    ``extra`` keyword arguments win (id, memberships ...).

    Raises:
        SurvivorshipError: If the values do not make a valid record (the error names it).
    """
    kwargs: dict[str, Any] = {}
    custom: dict[str, Any] = {}
    names = {f.name: f for f in attrs.fields(cls)}
    for field, value in golden.values.items():
        if field.startswith(_CUSTOM):
            if value is not None:
                custom[field[len(_CUSTOM) :]] = value
            continue
        if field not in names or field in _SKIP or value is None:
            continue
        kwargs[field] = value
    if custom and "custom_fields" in names:
        kwargs["custom_fields"] = custom
    for name in ("tags",):
        if name in kwargs and name in names:
            kwargs[name] = frozenset(kwargs[name])
    kwargs.update(extra)
    try:
        return cls(**kwargs)
    except (ValueError, TypeError) as exc:
        raise SurvivorshipError(
            f"golden record of entity {golden.entity_id!r} is not a valid {cls.__name__}: {exc}"
        ) from exc


def _preferred_first(preferred: Any, items: Any) -> tuple[Any, ...]:
    rest = tuple(items or ())
    if preferred is None:
        return rest
    key = default_key(preferred)
    return (preferred, *(i for i in rest if default_key(i) != key))


def _pick_survivor(ids: Sequence[str], survivor: str | None) -> str:
    if survivor is None:
        return min(ids)
    if survivor not in ids:
        raise SurvivorshipError(
            f"survivor {survivor!r} is not one of the merged records {sorted(ids)}"
        )
    return survivor


@attrs.frozen(unsafe_hash=False)
class ContactMerge:
    """A merged contact: the golden :class:`~crmcore.model.Contact` and its lineage.

    Args:
        contact: The golden contact (id of the survivor).
        golden: The golden record with per-field lineage.
        merged_ids: Ids of the records merged into the survivor (survivor excluded, sorted).
    """

    contact: Contact
    golden: GoldenRecord
    merged_ids: tuple[str, ...]

    __hash__ = None  # type: ignore[assignment]


def merge_contacts(
    contacts: Iterable[Contact],
    rules: SurvivorshipRules = CONTACT_RULES,
    *,
    survivor: str | None = None,
) -> ContactMerge:
    """Merge contacts of one person into a golden contact with lineage.

    Every field follows ``rules``; ``emails`` / ``phones`` are unions with the preferred value
    (the winner of ``email`` / ``phone``) first; memberships are a union
    (:func:`~crmcore.survivorship.merge_memberships`) with one primary account at most.

    Args:
        contacts: The contacts (at least one; distinct ids).
        rules: Survivorship rules (default: the ``contacts`` preset).
        survivor: Id the golden contact keeps (default: the smallest id).

    Returns:
        The :class:`ContactMerge`.

    Example:
        >>> from crmcore.model import Contact
        >>> from crmcore.survivorship import merge_contacts
        >>> import datetime as dt
        >>> t = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
        >>> a = Contact(id="c1", title="VP Sales", emails=["ann@acme.io"], updated_at=t)
        >>> b = Contact(id="c2", title="Sales Director", emails=["ann.lee@acme.io"],
        ...             updated_at=t.replace(year=2025))
        >>> m = merge_contacts([a, b])
        >>> m.contact.id, m.contact.title, m.contact.emails
        ('c1', 'Sales Director', ('ann.lee@acme.io', 'ann@acme.io'))
    """
    recs = tuple(contacts)
    if not recs:
        raise SurvivorshipError("merge_contacts needs at least one contact")
    ids = [c.id for c in recs]
    keep = _pick_survivor(ids, survivor)
    golden = merge([to_source(c) for c in recs], rules, entity_id=keep)
    values = golden.values
    memberships = merge_memberships(recs, primary=values.get("primary_account_id"))
    contact = from_golden(
        Contact,
        golden,
        id=keep,
        emails=_preferred_first(values.get("email"), values.get("emails")),
        phones=_preferred_first(values.get("phone"), values.get("phones")),
        memberships=memberships,
    )
    return ContactMerge(contact, golden, tuple(sorted(i for i in ids if i != keep)))


@attrs.frozen(unsafe_hash=False)
class AccountMerge:
    """A merged account: the golden :class:`~crmcore.model.Account`, lineage and hierarchy.

    Args:
        account: The golden account (id of the survivor; ``parent_id`` never closes a cycle).
        golden: The golden record with per-field lineage (rejected parents listed there).
        merged_ids: Ids merged into the survivor (survivor excluded, sorted).
        hierarchy: The hierarchy after the merge (see :func:`merge_hierarchy`).
    """

    account: Account
    golden: GoldenRecord
    merged_ids: tuple[str, ...]
    hierarchy: HierarchyMerge

    __hash__ = None  # type: ignore[assignment]


def _parent_check(
    base: Callable[[Any], str | None], forbidden: frozenset[str]
) -> Callable[[Any], bool]:
    def acyclic_parent(value: Any) -> bool:
        return base(value) is None and value not in forbidden

    return acyclic_parent


def merge_accounts(
    accounts: Iterable[Account],
    rules: SurvivorshipRules = ACCOUNT_RULES,
    *,
    hierarchy: AccountHierarchy | Mapping[str, str | None] | None = None,
    survivor: str | None = None,
) -> AccountMerge:
    """Merge accounts of one company into a golden account, keeping the hierarchy acyclic.

    The golden ``parent_id`` follows ``rules`` among the parents that keep the hierarchy
    acyclic: a merged account or a descendant of one can never become the parent (such
    candidates are listed as rejected in lineage). Children of the merged accounts move to the
    survivor.

    Args:
        accounts: The accounts (at least one; distinct ids).
        rules: Survivorship rules (default: the ``accounts`` preset).
        hierarchy: The current hierarchy (default: built from the accounts' ``parent_id``).
        survivor: Id the golden account keeps (default: the smallest id).

    Returns:
        The :class:`AccountMerge`.

    Example:
        >>> from crmcore.model import Account
        >>> from crmcore.survivorship import merge_accounts
        >>> a = Account(id="a1", name="Acme", parent_id="a2")
        >>> b = Account(id="a2", name="ACME Group", parent_id="a1")
        >>> m = merge_accounts([a, b])
        >>> m.account.parent_id is None, m.hierarchy.hierarchy.parents == {}
        (True, True)
    """
    recs = tuple(accounts)
    if not recs:
        raise SurvivorshipError("merge_accounts needs at least one account")
    ids = [a.id for a in recs]
    keep = _pick_survivor(ids, survivor)
    if hierarchy is None:
        parents = {a.id: a.parent_id for a in recs if a.id in ids}
        parents = {c: p for c, p in parents.items() if p not in ids}
        tree = AccountHierarchy.from_parents(parents)
    elif isinstance(hierarchy, AccountHierarchy):
        tree = hierarchy
    else:
        tree = AccountHierarchy.from_parents(hierarchy)
    group = frozenset(ids)
    moved = merge_hierarchy(tree, keep, group, parent=None)
    forbidden = group | frozenset(moved.hierarchy.descendants(keep))
    rule = rules.rule_for("parent_id")
    rule = attrs.evolve(rule, validate=_parent_check(rule.validator(), forbidden))
    golden = merge([to_source(a) for a in recs], rules.with_fields(parent_id=rule), entity_id=keep)
    parent = golden.values.get("parent_id")
    final = merge_hierarchy(tree, keep, group, parent=parent)
    account = from_golden(Account, golden, id=keep, parent_id=final.parent)
    return AccountMerge(account, golden, tuple(sorted(i for i in ids if i != keep)), final)

