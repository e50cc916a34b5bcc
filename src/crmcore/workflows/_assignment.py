"""Owner assignment strategies: round robin, load-balanced by open work, territory.

Strategies are pure functions of their inputs plus a small state the engine keeps (the round
robin cursor per rule, the open-work count per owner), so a dry run on a copy of that state
chooses exactly what a real run would.

Tie-breaks: load balancing picks the owner with the least open work, ties broken by the order of
the pool; territory routing tries each ``by`` field in order (e.g. ``("region", "country")``),
matching the value exactly, then case-folded, then falls back to ``fallback`` (or no change).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any


def round_robin(pool: Sequence[str], cursor: int) -> tuple[str, int]:
    """Return the next owner in the pool and the new cursor.

    Example:
        >>> round_robin(["ann", "bob"], 0), round_robin(["ann", "bob"], 1)
        (('ann', 1), ('bob', 2))
    """
    return pool[cursor % len(pool)], cursor + 1


def least_loaded(pool: Sequence[str], load: Callable[[str], int]) -> str:
    """Return the owner with the least open work (first in pool order on ties).

    Example:
        >>> least_loaded(["ann", "bob"], {"ann": 3, "bob": 1}.get)
        'bob'
    """
    best, best_load = pool[0], load(pool[0])
    for owner in pool[1:]:
        value = load(owner)
        if value < best_load:
            best, best_load = owner, value
    return best


def territory_owner(
    record: Mapping[str, Any],
    territories: Mapping[str, str],
    by: str | Sequence[str] = "country",
    fallback: str | None = None,
) -> str | None:
    """Return the territory owner for a record, or ``fallback``.

    Example:
        >>> territory_owner({"country": "de"}, {"DE": "berlin-team"})
        'berlin-team'
    """
    fields = (by,) if isinstance(by, str) else tuple(by)
    folded = {str(k).casefold(): v for k, v in territories.items()}
    for field in fields:
        value = record.get(field)
        if value is None or value == "":
            continue
        key = str(getattr(value, "value", value))
        if key in territories:
            return territories[key]
        if key.casefold() in folded:
            return folded[key.casefold()]
    return fallback
