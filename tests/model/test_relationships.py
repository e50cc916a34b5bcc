"""Tests for crmcore.model.relationships: hierarchy cycles and memberships."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crmcore.errors import RelationshipError
from crmcore.model import (
    Account,
    AccountHierarchy,
    AccountMembership,
    Contact,
    HierarchyCycleError,
    find_cycles,
    hierarchy_problems,
    members_by_account,
)

NODES = list("abcdefg")
parent_maps = st.dictionaries(st.sampled_from(NODES), st.none() | st.sampled_from(NODES))


def brute_force_cyclic_nodes(parents: dict[str, str | None]) -> set[str]:
    """Nodes that come back to themselves by following parent links at most len(NODES) times."""
    out = set()
    for start in parents:
        node = parents.get(start)
        for _ in range(len(NODES)):
            if node is None:
                break
            if node == start:
                out.add(start)
                break
            node = parents.get(node)
    return out


def brute_force_ancestors(parents: dict[str, str | None], node: str) -> list[str]:
    out = []
    while parents.get(node) is not None:
        node = parents[node]  # type: ignore[assignment]
        out.append(node)
    return out


class TestFindCycles:
    """find_cycles against brute force."""

    @settings(max_examples=300, deadline=None)
    @given(parent_maps)
    def test_matches_brute_force(self, parents) -> None:
        """The nodes on reported cycles are exactly the nodes that reach themselves."""
        cycles = find_cycles(parents)
        on_cycles = [n for c in cycles for n in c]
        assert len(on_cycles) == len(set(on_cycles))
        assert set(on_cycles) == brute_force_cyclic_nodes(parents)
        for cycle in cycles:
            assert cycle[0] == min(cycle)
            for i, node in enumerate(cycle):
                assert parents[node] == cycle[(i + 1) % len(cycle)]

    def test_examples(self) -> None:
        """A self-parent is a cycle of one; forests have none."""
        assert find_cycles({"a": "a"}) == [("a",)]
        assert find_cycles({"a": "b", "b": None, "c": "b"}) == []
        assert find_cycles({"b": "c", "c": "a", "a": "b", "x": "y", "y": "x"}) == [
            ("a", "b", "c"),
            ("x", "y"),
        ]


class TestAccountHierarchy:
    """AccountHierarchy: cycle-free by construction."""

    @settings(max_examples=300, deadline=None)
    @given(parent_maps)
    def test_construction_rejects_cycles(self, parents) -> None:
        """Building raises exactly when brute force finds a cycle."""
        cyclic = brute_force_cyclic_nodes(parents)
        if cyclic:
            with pytest.raises(HierarchyCycleError) as info:
                AccountHierarchy.from_parents(parents)
            assert {n for c in info.value.cycles for n in c} == cyclic
            assert isinstance(info.value, RelationshipError)
        else:
            h = AccountHierarchy.from_parents(parents)
            for node in NODES:
                assert list(h.ancestors(node)) == brute_force_ancestors(parents, node)
                assert h.depth(node) == len(h.ancestors(node))
                expected_children = sorted(c for c, p in parents.items() if p == node)
                assert list(h.children_of(node)) == expected_children
                assert set(h.descendants(node)) == {
                    c for c in NODES if node in brute_force_ancestors(parents, c)
                }

    @settings(max_examples=300, deadline=None)
    @given(parent_maps, st.sampled_from(NODES), st.none() | st.sampled_from(NODES))
    def test_with_parent(self, parents, child, parent) -> None:
        """with_parent raises iff the new link closes a cycle, and the original is unchanged."""
        if brute_force_cyclic_nodes(parents):
            return
        h = AccountHierarchy.from_parents(parents)
        updated = {**parents, child: parent}
        closes = bool(brute_force_cyclic_nodes(updated))
        assert h.would_create_cycle(child, parent) == closes
        if closes:
            with pytest.raises(HierarchyCycleError) as info:
                h.with_parent(child, parent)
            assert child in info.value.cycles[0]
        else:
            assert h.with_parent(child, parent) == AccountHierarchy.from_parents(updated)
        assert h == AccountHierarchy.from_parents(parents)

    def test_from_accounts_and_roots(self) -> None:
        """Built from accounts; roots are parents without parents; root_of climbs."""
        accounts = [
            Account(id="de", parent_id="emea"),
            Account(id="fr", parent_id="emea"),
            Account(id="emea", parent_id="group"),
            Account(id="solo"),
        ]
        h = AccountHierarchy.from_accounts(accounts)
        assert h.roots() == ("group",)
        assert h.root_of("de") == "group"
        assert h.root_of("solo") == "solo"
        assert h.children_of("emea") == ("de", "fr")
        assert h.descendants("group") == ("emea", "de", "fr")
        assert h.parent_of("de") == "emea"
        assert h.with_parent("de", None).parent_of("de") is None

    def test_from_accounts_rejects_cycles_and_duplicates(self) -> None:
        """Cyclic accounts and repeated ids raise RelationshipError."""
        with pytest.raises(HierarchyCycleError, match="a -> b -> a"):
            AccountHierarchy.from_accounts(
                [Account(id="a", parent_id="b"), Account(id="b", parent_id="a")]
            )
        with pytest.raises(RelationshipError, match="more than once"):
            AccountHierarchy.from_accounts([Account(id="a"), Account(id="a")])


class TestHierarchyProblems:
    """hierarchy_problems: batch reporting."""

    def test_reports_each_account_on_a_cycle(self) -> None:
        """Every account on a cycle gets a hierarchy.cycle problem on parent_id; others none."""
        accounts = [
            Account(id="a", parent_id="b"),
            Account(id="b", parent_id="a"),
            Account(id="c", parent_id="a"),
        ]
        problems = hierarchy_problems(accounts)
        assert [(p.record, p.field, p.rule) for p in problems] == [
            ("a", "parent_id", "hierarchy.cycle"),
            ("b", "parent_id", "hierarchy.cycle"),
        ]
        assert "a -> b -> a" in problems[0].message
        assert hierarchy_problems([Account(id="x")]) == []


class TestMembersByAccount:
    """members_by_account inverts memberships."""

    def test_inverts(self) -> None:
        """Each account lists its members in input order."""
        c1 = Contact(id="c1", memberships=[AccountMembership("a", "buyer", True)])
        c2 = Contact(id="c2", memberships=[AccountMembership("b"), AccountMembership("a")])
        out = members_by_account([c1, c2])
        assert [cid for cid, _ in out["a"]] == ["c1", "c2"]
        assert out["a"][0][1].primary is True
        assert [cid for cid, _ in out["b"]] == ["c2"]
