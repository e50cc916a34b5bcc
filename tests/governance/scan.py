"""Test helper: every piece of text an object graph holds, for erasure checks.

Walks attributes (``__dict__`` and ``__slots__``), containers, attrs values, numpy arrays and
bytes-like buffers reachable from the roots, and yields the text found (strings as they are;
bytes, bytearrays, memoryviews and numpy byte / unicode arrays decoded leniently), so a test can
assert that no spelling of an erased identifier is left anywhere in memory.
"""

from __future__ import annotations

import enum
import sqlite3
import types
from collections.abc import Iterator
from typing import Any

import numpy as np

_SKIP_TYPES = (
    type,
    types.ModuleType,
    types.FunctionType,
    types.BuiltinFunctionType,
    types.MethodType,
    sqlite3.Connection,
    sqlite3.Cursor,
    enum.Enum,
)


def reachable_text(*roots: Any, limit: int = 2_000_000) -> Iterator[str]:
    """Yield every string (and decoded byte buffer) reachable from ``roots``."""
    seen: set[int] = set()
    stack: list[Any] = list(roots)
    steps = 0
    while stack:
        obj = stack.pop()
        steps += 1
        if steps > limit:
            raise AssertionError("object graph too large to scan")
        if obj is None or isinstance(obj, (bool, int, float, complex)):
            continue
        if isinstance(obj, str):
            yield obj
            continue
        if isinstance(obj, (bytes, bytearray, memoryview)):
            yield bytes(obj).decode("utf-8", "replace")
            continue
        key = id(obj)
        if key in seen:
            continue
        seen.add(key)
        if isinstance(obj, _SKIP_TYPES):
            continue
        if isinstance(obj, np.ndarray):
            if obj.dtype.kind in "USO":
                stack.extend(obj.ravel().tolist())
            else:
                yield obj.tobytes().decode("latin-1")
            continue
        if isinstance(obj, dict):
            stack.extend(obj.keys())
            stack.extend(obj.values())
            continue
        if isinstance(obj, (list, tuple, set, frozenset)) or type(obj).__name__ == "deque":
            stack.extend(obj)
            continue
        if hasattr(obj, "__dict__"):
            stack.extend(vars(obj).values())
        for klass in type(obj).__mro__:
            slots = getattr(klass, "__slots__", ())
            stack.extend(
                getattr(obj, slot) for slot in slots if isinstance(slot, str) and hasattr(obj, slot)
            )
        if isinstance(obj, types.SimpleNamespace):
            stack.extend(vars(obj).values())


def holds(needle: str, *roots: Any) -> bool:
    """Whether any text reachable from ``roots`` contains ``needle`` (case-insensitive)."""
    folded = needle.casefold()
    return any(folded in text.casefold() for text in reachable_text(*roots))
