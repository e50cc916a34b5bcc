"""The immutable, hashable mapping of the domain model (custom fields, per-field provenance)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any, TypeAlias, TypeVar

K = TypeVar("K")
V = TypeVar("V")

#: A custom-field value: a JSON scalar (floats must be finite), so it round-trips exactly.
CustomValue: TypeAlias = str | int | float | bool | None


class FrozenMap(Mapping[K, V]):
    """An immutable, hashable mapping (used for custom fields and per-field provenance).

    Args:
        data: A mapping or an iterable of ``(key, value)`` pairs.

    Example:
        >>> m = FrozenMap({"tier": "gold"})
        >>> m["tier"], len(m), m == {"tier": "gold"}
        ('gold', 1, True)
    """

    __slots__ = ("_data", "_hash")

    def __init__(self, data: Mapping[K, V] | Iterable[tuple[K, V]] = ()) -> None:
        self._data: dict[K, V] = dict(data)
        self._hash: int | None = None

    def __getitem__(self, key: K) -> V:
        return self._data[key]

    def __iter__(self) -> Iterator[K]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def __eq__(self, other: object) -> bool:
        if isinstance(other, FrozenMap):
            return self._data == other._data
        if isinstance(other, Mapping):
            return self._data == dict(other.items())
        return NotImplemented

    def __hash__(self) -> int:
        if self._hash is None:
            self._hash = hash(frozenset(self._data.items()))
        return self._hash

    def __repr__(self) -> str:
        return f"FrozenMap({self._data!r})"

    def set(self, key: K, value: V) -> FrozenMap[K, V]:
        """Return a copy with ``key`` set to ``value``."""
        data = dict(self._data)
        data[key] = value
        return FrozenMap(data)

    def delete(self, key: K) -> FrozenMap[K, V]:
        """Return a copy without ``key`` (no error when it is absent)."""
        return FrozenMap({k: v for k, v in self._data.items() if k != key})


#: The shared empty mapping, used as the default of mapping fields.
EMPTY_MAP: FrozenMap[Any, Any] = FrozenMap()

