"""Relationships on merge: re-point references, union memberships, keep hierarchies acyclic.

When contacts (accounts) merge, every record that pointed at a merged one must point at the
survivor, so that nothing is orphaned and nothing is lost:

* :func:`repoint` rewrites activities (``related``), deals (``contact_ids`` / ``account_id``),
  tickets (``contact_id`` / ``account_id``) and, for accounts, contact memberships; it returns
  every record it was given (changed or not, in input order) and the list of changes, so that a
  merge can be undone.
* :func:`merge_memberships` unions the account memberships of merged contacts (one primary at
  most).
* :func:`merge_hierarchy` collapses merged accounts into the survivor in an
  :class:`~crmcore.model.AccountHierarchy`: children move to the survivor, and a parent that would
  close a cycle (a merged account or a descendant of one) is refused.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any, Literal

import attrs

from crmcore.errors import SurvivorshipError
from crmcore.model import (
    AccountHierarchy,
    AccountMembership,
    Activity,
    Contact,
    Deal,
    RecordRef,
    Ticket,
)

_MIN = dt.datetime.min.replace(tzinfo=dt.UTC)


def observed_time(record: Any) -> dt.datetime | None:
    """When a domain record was last observed: provenance time, else updated_at, else created_at.

    Example:
        >>> observed_time(Contact(id="c1")) is None
        True
    """
    prov = getattr(record, "provenance", None)
    return (
        (prov.observed_at if prov is not None else None)
        or getattr(record, "updated_at", None)
        or getattr(record, "created_at", None)
    )


def _by_recency(records: Iterable[Any]) -> list[Any]:
    """Most recently observed first; unknown times last; equal times: smallest id first."""
    recs = sorted(records, key=lambda r: r.id)
    return sorted(recs, key=lambda r: observed_time(r) or _MIN, reverse=True)


def merge_memberships(
    contacts: Iterable[Contact], *, primary: str | None = None
) -> tuple[AccountMembership, ...]:
    """Union of the account memberships of contacts being merged.

    One membership per account; its role comes from the most recently observed contact that
    gives one. The primary account is ``primary`` when it is in the union, else the primary of
    the most recently observed contact that has one; no other membership is primary.

    Returns:
        The memberships, the primary one first, then by account id.

    Example:
        >>> from crmcore.model import AccountMembership, Contact
        >>> from crmcore.survivorship import merge_memberships
        >>> a = Contact(id="c1", memberships=[AccountMembership("acme", "buyer", primary=True)])
        >>> b = Contact(id="c2", memberships=[AccountMembership("globex")])
        >>> [(m.account_id, m.role, m.primary) for m in merge_memberships([a, b])]
        [('acme', 'buyer', True), ('globex', None, False)]
    """
    ordered = _by_recency(contacts)
    roles: dict[str, str | None] = {}
    for c in ordered:
        for m in c.memberships:
            if roles.get(m.account_id) is None:
                roles[m.account_id] = m.role
    chosen = primary if primary in roles else None
    if chosen is None:
        chosen = next((c.primary_account_id for c in ordered if c.primary_account_id), None)
    out = [
        AccountMembership(account, roles[account], account == chosen)
        for account in sorted(roles)
    ]
    out.sort(key=lambda m: not m.primary)
    return tuple(out)


@attrs.frozen
class HierarchyMerge:
    """An account hierarchy after merging accounts into a survivor.

    Args:
        hierarchy: The new hierarchy (acyclic by construction).
        survivor: The surviving account id.
        parent: The survivor's parent (None: a root).
        refused_parent: A requested parent that would have closed a cycle, if any.
        moved_children: Children of merged accounts now under the survivor (sorted).
    """

    hierarchy: AccountHierarchy
    survivor: str
    parent: str | None
    refused_parent: str | None = None
    moved_children: tuple[str, ...] = ()


def merge_hierarchy(
    hierarchy: AccountHierarchy,
    survivor: str,
    merged: Iterable[str],
    *,
    parent: str | None,
) -> HierarchyMerge:
    """Collapse merged accounts into ``survivor`` in a hierarchy.

    Merged accounts leave the hierarchy; their children (and the survivor's) hang under the
    survivor. The survivor's parent becomes ``parent`` unless that would close a cycle (a merged
    account, or a descendant of the survivor after the move): then the survivor becomes a root
    and the refusal is reported.

    Args:
        hierarchy: The current hierarchy.
        survivor: The surviving account id.
        merged: Ids merged into it (the survivor may be listed too).
        parent: The parent the survivor should have (e.g. the golden ``parent_id``).

    Returns:
        The :class:`HierarchyMerge`.

    Example:
        >>> from crmcore.model import AccountHierarchy
        >>> from crmcore.survivorship import merge_hierarchy
        >>> h = AccountHierarchy.from_parents({"a2": "a1", "a3": "a2"})
        >>> m = merge_hierarchy(h, "a1", ["a2"], parent="a3")
        >>> dict(m.hierarchy.parents), m.refused_parent
        ({'a3': 'a1'}, 'a3')
    """
    group = frozenset(merged) | {survivor}
    parents: dict[str, str] = {}
    moved: list[str] = []
    for child, up in hierarchy.parents.items():
        if child in group:
            continue
        if up in group:
            parents[child] = survivor
            if up != survivor:
                moved.append(child)
        else:
            parents[child] = up
    tree = AccountHierarchy.from_parents(parents)
    refused: str | None = None
    if parent is not None and (parent in group or tree.would_create_cycle(survivor, parent)):
        refused, parent = parent, None
    if parent is not None:
        tree = tree.with_parent(survivor, parent)
    return HierarchyMerge(tree, survivor, parent, refused, tuple(sorted(moved)))


@attrs.frozen
class Repoint:
    """One reference rewritten by :func:`repoint`.

    Args:
        record: The record that changed.
        field: Its field (``related``, ``contact_ids``, ``contact_id``, ``account_id``,
            ``memberships``).
        old: The id it pointed at.
        new: The survivor's id.
    """

    record: RecordRef
    field: str
    old: str
    new: str


@attrs.frozen
class Repointed:
    """The records given to :func:`repoint`, re-pointed, in input order, and the changes."""

    activities: tuple[Activity, ...] = ()
    deals: tuple[Deal, ...] = ()
    tickets: tuple[Ticket, ...] = ()
    contacts: tuple[Contact, ...] = ()
    changes: tuple[Repoint, ...] = ()


def _dedupe(items: Sequence[Any]) -> tuple[Any, ...]:
    return tuple(dict.fromkeys(items))


def _merge_account_memberships(
    memberships: Sequence[AccountMembership], survivor: str, gone: frozenset[str]
) -> tuple[AccountMembership, ...]:
    out: dict[str, AccountMembership] = {}
    # the survivor's own membership first, so its role wins; then the merged ones in order
    ordered = sorted(memberships, key=lambda m: m.account_id != survivor)
    for m in ordered:
        account = survivor if m.account_id in gone else m.account_id
        cur = out.get(account)
        if cur is None:
            out[account] = attrs.evolve(m, account_id=account)
        else:
            out[account] = attrs.evolve(
                cur, role=cur.role if cur.role is not None else m.role,
                primary=cur.primary or m.primary,
            )
    # keep the original order of first appearance
    order = _dedupe([survivor if m.account_id in gone else m.account_id for m in memberships])
    return tuple(out[a] for a in order)


def repoint(
    record_type: Literal["contact", "account"],
    survivor: str,
    merged: Iterable[str],
    *,
    activities: Iterable[Activity] = (),
    deals: Iterable[Deal] = (),
    tickets: Iterable[Ticket] = (),
    contacts: Iterable[Contact] = (),
) -> Repointed:
    """Point every reference to a merged contact (account) at the survivor.

    Contacts: activity ``related`` contact refs, deal ``contact_ids``, ticket ``contact_id``.
    Accounts: activity ``related`` account refs, deal and ticket ``account_id``, contact
    ``memberships`` (a contact member of several merged accounts keeps one membership: the
    survivor's role when it had one, primary when any was). Duplicates created by the rewrite
    are removed (first occurrence kept). Every record given comes back, in input order.

    Args:
        record_type: ``"contact"`` or ``"account"``: what was merged.
        survivor: The survivor's id.
        merged: Ids merged into it (the survivor may be listed too).
        activities: Activities to re-point.
        deals: Deals to re-point.
        tickets: Tickets to re-point.
        contacts: Contacts whose memberships to re-point (accounts only).

    Returns:
        The :class:`Repointed` records and the list of changes.

    Raises:
        SurvivorshipError: For an unknown ``record_type``.

    Example:
        >>> from crmcore.model import Deal
        >>> from crmcore.survivorship import repoint
        >>> d = Deal(id="d1", contact_ids=["c2", "c1"])
        >>> r = repoint("contact", "c1", ["c2"], deals=[d])
        >>> r.deals[0].contact_ids, [(c.old, c.new) for c in r.changes]
        (('c1',), [('c2', 'c1')])
    """
    if record_type not in ("contact", "account"):
        raise SurvivorshipError(
            f"repoint: record_type must be 'contact' or 'account', not {record_type!r}"
        )
    gone = frozenset(merged) - {survivor}
    changes: list[Repoint] = []

    def note(record: Any, field: str, old: str) -> None:
        changes.append(Repoint(record.ref, field, old, survivor))

    new_acts: list[Activity] = []
    for a in activities:
        hits = [r for r in a.related if r.record_type == record_type and r.id in gone]
        if not hits:
            new_acts.append(a)
            continue
        for r in hits:
            note(a, "related", r.id)
        related = _dedupe(
            [
                RecordRef(record_type, survivor) if r in hits else r
                for r in a.related
            ]
        )
        new_acts.append(attrs.evolve(a, related=related))
    new_deals: list[Deal] = []
    for d in deals:
        if record_type == "contact":
            hits_ids = [i for i in d.contact_ids if i in gone]
            for i in hits_ids:
                note(d, "contact_ids", i)
            if hits_ids:
                d = attrs.evolve(
                    d, contact_ids=_dedupe([survivor if i in gone else i for i in d.contact_ids])
                )
        elif d.account_id in gone:
            note(d, "account_id", d.account_id)
            d = attrs.evolve(d, account_id=survivor)
        new_deals.append(d)
    new_tickets: list[Ticket] = []
    field = "contact_id" if record_type == "contact" else "account_id"
    for t in tickets:
        old = getattr(t, field)
        if old in gone:
            note(t, field, old)
            t = (
                attrs.evolve(t, contact_id=survivor)
                if record_type == "contact"
                else attrs.evolve(t, account_id=survivor)
            )
        new_tickets.append(t)
    new_contacts: list[Contact] = []
    for c in contacts:
        if record_type == "account" and any(m.account_id in gone for m in c.memberships):
            for m in c.memberships:
                if m.account_id in gone:
                    note(c, "memberships", m.account_id)
            c = attrs.evolve(
                c, memberships=_merge_account_memberships(c.memberships, survivor, gone)
            )
        new_contacts.append(c)
    return Repointed(
        tuple(new_acts), tuple(new_deals), tuple(new_tickets), tuple(new_contacts),
        tuple(changes),
    )
