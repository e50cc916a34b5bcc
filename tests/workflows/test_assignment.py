"""Tests for crmcore.workflows.assignment."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from crmcore.workflows import least_loaded, round_robin, territory_owner

pools = st.lists(st.sampled_from("abcdef"), min_size=1, max_size=6, unique=True)


class TestRoundRobin:
    @settings(deadline=None)  # no timing assertion: a loaded CI box stalls
    @given(pools, st.integers(1, 30))
    def test_even_spread(self, pool, n) -> None:
        """After n picks, counts differ by at most one and follow the pool order."""
        cursor, picks = 0, []
        for _ in range(n):
            owner, cursor = round_robin(pool, cursor)
            picks.append(owner)
        assert picks == [pool[i % len(pool)] for i in range(n)]


class TestLeastLoaded:
    @settings(deadline=None)  # no timing assertion: a loaded CI box stalls
    @given(pools, st.lists(st.integers(0, 5), min_size=6, max_size=6))
    def test_matches_min(self, pool, loads) -> None:
        """Picks the first owner with the minimum load (brute force)."""
        load = dict(zip("abcdef", loads, strict=True))
        best = min(load[o] for o in pool)
        assert least_loaded(pool, load.__getitem__) == next(o for o in pool if load[o] == best)


class TestTerritoryOwner:
    def test_fields_in_order_and_fallback(self) -> None:
        """Fields are tried in order, case-folded; else the fallback."""
        terr = {"DE": "eva", "emea": "emma"}
        rec = {"region": "EMEA", "country": "DE"}
        assert territory_owner(rec, terr, ("region", "country")) == "emma"
        assert territory_owner({"country": "de"}, terr) == "eva"
        assert territory_owner({"country": "XX"}, terr, fallback="pool") == "pool"
        assert territory_owner({}, terr) is None
