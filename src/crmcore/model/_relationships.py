"""Relationships by id: the account parent/child hierarchy and contact memberships.

Records point at each other by id only (``Account.parent_id``, ``Contact.memberships``,
``Deal.account_id`` ...). Invariants that span several records are checked here:

* :class:`AccountHierarchy` is an immutable child -> parent map that never holds a cycle;
  building one from cyclic data, or a :meth:`~AccountHierarchy.with_parent` that would close a
  cycle, raises :class:`HierarchyCycleError` (a :class:`~crmcore.errors.RelationshipError`).
* :func:`hierarchy_problems` reports every account on a cycle as a
  :class:`~crmcore.errors.FieldProblem` instead of raising (batch use).
* :func:`members_by_account` inverts contact memberships.

Example:
    >>> h = AccountHierarchy.from_parents({"emea": "group", "de": "emea"})
    >>> h.ancestors("de"), h.root_of("de")
    (('emea', 'group'), 'group')
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from crmcore.errors import FieldProblem, RelationshipError
from crmcore.model._frozen_map import FrozenMap
from crmcore.model._values import AccountMembership


class HierarchyCycleError(RelationshipError):
    """Parent links would form a cycle; ``cycles`` lists each cycle (child -> parent order)."""

    def __init__(self, cycles: Iterable[tuple[str, ...]]) -> None:
        self.cycles = tuple(cycles)
        shown = "; ".join(" -> ".join((*c, c[0])) for c in self.cycles)
        super().__init__(f"account hierarchy has a cycle: {shown}")


def find_cycles(parents: Mapping[str, str | None]) -> list[tuple[str, ...]]:
    """Return every cycle of a child -> parent map, each once.

    Each cycle is a tuple in child -> parent order starting at its smallest id; the list is
    sorted. A self-parent is a cycle of one. Runs in linear time.

    Args:
        parents: Child id -> parent id (``None`` or absent: no parent).

    Returns:
        The cycles; empty when the map is a forest.

    Example:
        >>> find_cycles({"a": "b", "b": "c", "c": "a", "d": "a"})
        [('a', 'b', 'c')]
    """
    done: set[str] = set()
    cycles: list[tuple[str, ...]] = []
    for start in parents:
        if start in done:
            continue
        path: list[str] = []
        position: dict[str, int] = {}
        node: str | None = start
        while node is not None and node not in done and node not in position:
            position[node] = len(path)
            path.append(node)
            node = parents.get(node)
        if node is not None and node in position:
            cycle = path[position[node] :]
            k = cycle.index(min(cycle))
            cycles.append(tuple(cycle[k:] + cycle[:k]))
        done.update(path)
    cycles.sort()
    return cycles


def _parent_map(accounts: Iterable[Any]) -> dict[str, str | None]:
    parents: dict[str, str | None] = {}
    for account in accounts:
        if account.id in parents:
            raise RelationshipError(f"account id {account.id!r} occurs more than once")
        parents[account.id] = account.parent_id
    return parents


def hierarchy_problems(accounts: Iterable[Any]) -> list[FieldProblem]:
    """Return one problem per account whose ``parent_id`` lies on a cycle (batch check).

    Args:
        accounts: Records with ``id`` and ``parent_id`` (e.g. :class:`~crmcore.model.Account`).

    Returns:
        Problems with rule ``"hierarchy.cycle"``, one per account on a cycle, in cycle order.
    """
    parents: dict[str, str | None] = {}
    for account in accounts:
        parents.setdefault(account.id, account.parent_id)
    problems: list[FieldProblem] = []
    for cycle in find_cycles(parents):
        text = " -> ".join((*cycle, cycle[0]))
        problems.extend(
            FieldProblem(
                field="parent_id",
                value=parents[account_id],
                rule="hierarchy.cycle",
                message=f"parent links form a cycle: {text}",
                record=account_id,
            )
            for account_id in cycle
        )
    return problems


def _frozen_parents(parents: Mapping[str, str]) -> FrozenMap[str, str]:
    return parents if isinstance(parents, FrozenMap) else FrozenMap(parents)


def _index_children(parents: Mapping[str, str]) -> dict[str, tuple[str, ...]]:
    children: dict[str, list[str]] = {}
    for child, parent in parents.items():
        children.setdefault(parent, []).append(child)
    return {k: tuple(sorted(v)) for k, v in children.items()}


@attrs.frozen
class AccountHierarchy:
    """An immutable, cycle-free account hierarchy (child id -> parent id).

    Parents need not be known accounts themselves (they may live in another system);
    :meth:`roots` lists every id that has no parent.

    Args:
        parents: Child id -> parent id, for the accounts that have a parent.

    Raises:
        HierarchyCycleError: If the links form a cycle.
    """

    parents: FrozenMap[str, str] = attrs.field(converter=_frozen_parents)
    _children: dict[str, tuple[str, ...]] = attrs.field(
        init=False, eq=False, repr=False, hash=False
    )

    def __attrs_post_init__(self) -> None:
        cycles = find_cycles(self.parents)
        if cycles:
            raise HierarchyCycleError(cycles)
        object.__setattr__(self, "_children", _index_children(self.parents))

    @classmethod
    def from_parents(cls, parents: Mapping[str, str | None]) -> AccountHierarchy:
        """Build from a child -> parent map (``None`` parents are dropped)."""
        return cls(FrozenMap({c: p for c, p in parents.items() if p is not None}))

    @classmethod
    def from_accounts(cls, accounts: Iterable[Any]) -> AccountHierarchy:
        """Build from records with ``id`` and ``parent_id``.

        Raises:
            RelationshipError: If an id occurs twice.
            HierarchyCycleError: If the parent links form a cycle.
        """
        return cls.from_parents(_parent_map(accounts))

    def parent_of(self, account_id: str) -> str | None:
        """Return the parent id, or ``None``."""
        return self.parents.get(account_id)

    def children_of(self, account_id: str) -> tuple[str, ...]:
        """Return the direct children, sorted by id."""
        return self._children.get(account_id, ())

    def ancestors(self, account_id: str) -> tuple[str, ...]:
        """Return the ancestors, nearest first."""
        out = []
        node = self.parents.get(account_id)
        while node is not None:
            out.append(node)
            node = self.parents.get(node)
        return tuple(out)

    def descendants(self, account_id: str) -> tuple[str, ...]:
        """Return every descendant, level by level (each level sorted by id)."""
        out: list[str] = []
        level = list(self.children_of(account_id))
        while level:
            out.extend(level)
            level = [c for node in level for c in self.children_of(node)]
        return tuple(out)

    def root_of(self, account_id: str) -> str:
        """Return the top-most ancestor (the id itself when it has no parent)."""
        ancestors = self.ancestors(account_id)
        return ancestors[-1] if ancestors else account_id

    def depth(self, account_id: str) -> int:
        """Return the number of ancestors."""
        return len(self.ancestors(account_id))

    def roots(self) -> tuple[str, ...]:
        """Return the ids that are parents but have no parent themselves, sorted."""
        return tuple(sorted(p for p in self._children if p not in self.parents))

    def would_create_cycle(self, child: str, parent: str | None) -> bool:
        """Whether setting ``child``'s parent to ``parent`` would close a cycle."""
        if parent is None:
            return False
        return parent == child or child in self.ancestors(parent)

    def with_parent(self, child: str, parent: str | None) -> AccountHierarchy:
        """Return a copy where ``child``'s parent is ``parent`` (``None``: detach).

        Raises:
            HierarchyCycleError: If the link would close a cycle; ``self`` is unchanged.
        """
        if self.would_create_cycle(child, parent):
            assert parent is not None
            path = (child, parent, *self.ancestors(parent))
            cycle = path[: path.index(child, 1)] if child in path[1:] else (child,)
            raise HierarchyCycleError([cycle])
        if parent is None:
            return AccountHierarchy(self.parents.delete(child))
        return AccountHierarchy(self.parents.set(child, parent))


def members_by_account(
    contacts: Iterable[Any],
) -> dict[str, tuple[tuple[str, AccountMembership], ...]]:
    """Invert contact memberships: account id -> ``(contact id, membership)`` pairs.

    Args:
        contacts: Records with ``id`` and ``memberships`` (e.g. :class:`~crmcore.model.Contact`).

    Returns:
        For each account id, its members in input order.
    """
    out: dict[str, list[tuple[str, AccountMembership]]] = {}
    for contact in contacts:
        for membership in contact.memberships:
            out.setdefault(membership.account_id, []).append((contact.id, membership))
    return {k: tuple(v) for k, v in out.items()}
