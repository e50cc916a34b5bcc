"""What a condition sees (:class:`EvalContext`): dotted paths into the record, its related
records and the change being processed."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from crmcore.conditions._values import MISSING, plain_value, to_datetime, values_equal

__all__ = ["EvalContext", "Related", "change_pair", "resolve_path", "split_path"]


def split_path(path: str) -> tuple[str, ...]:
    return tuple(path.split("."))


Related = Mapping[str, Any] | Callable[[str], Any]


def resolve_path(
    parts: tuple[str, ...] | str, record: Mapping[str, Any], related: Related | None = None
) -> Any:
    """Return the value at a dotted path, or ``None`` when any step is missing.

    The first step is looked up in the record; when the record has no such field it is looked up
    in ``related`` (a mapping ``name -> related record`` or a callable ``name -> record``). Later
    steps descend into mappings (or public attributes of objects: never ``_private`` or
    ``__dunder__`` ones).

    Args:
        parts: The path, dotted string or tuple of steps.
        record: The record.
        related: Related records by name.

    Returns:
        The value found, or ``None``.
    """
    if isinstance(parts, str):
        parts = split_path(parts)
    head = parts[0]
    value = record.get(head, MISSING)
    if value is MISSING:
        if related is None:
            return None
        value = related(head) if callable(related) else related.get(head)
    for step in parts[1:]:
        if value is None or value is MISSING:
            return None
        if isinstance(value, Mapping):
            value = value.get(step)
        elif step.startswith("_"):  # objects expose public attributes only
            return None
        else:
            value = getattr(value, step, None)
    return None if value is MISSING else value


def change_pair(change: Mapping[str, Any] | None, path: str) -> tuple[Any, Any] | None:
    """Return ``(before, after)`` of a changed path, or ``None`` when it did not change."""
    if not change:
        return None
    entry = change.get(path, MISSING)
    if entry is MISSING:
        parts = split_path(path)
        if len(parts) == 1:
            return None
        entry = change.get(parts[0], MISSING)
        if entry is MISSING:
            return None
        before, after = _pair(entry)
        rest = parts[1:]
        before = resolve_path(rest, before) if isinstance(before, Mapping) else None
        after = resolve_path(rest, after) if isinstance(after, Mapping) else None
    else:
        before, after = _pair(entry)
    if values_equal(after, plain_value(before)) and values_equal(before, plain_value(after)):
        return None
    return before, after


def _pair(entry: Any) -> tuple[Any, Any]:
    if isinstance(entry, tuple) and len(entry) == 2:
        return entry[0], entry[1]
    if hasattr(entry, "before") and hasattr(entry, "after"):
        return entry.before, entry.after
    if isinstance(entry, Mapping) and "before" in entry and "after" in entry:
        return entry["before"], entry["after"]
    raise TypeError(f"a change entry must be (before, after), got {entry!r}")


class EvalContext:
    """What a condition sees: the record, the change, related records and the clock.

    Attributes:
        record: The record (field -> value).
        change: ``field -> (before, after)`` of the change being processed, or ``None``.
        related: Related records by name (mapping or callable), or ``None``.
        now: The host's clock (aware datetime).
    """

    __slots__ = ("change", "now", "record", "related")

    def __init__(
        self,
        record: Mapping[str, Any],
        change: Mapping[str, Any] | None = None,
        related: Related | None = None,
        now: datetime | None = None,
    ) -> None:
        self.record = record
        self.change = change
        self.related = related
        if type(now) is datetime and now.tzinfo is not None:
            self.now: datetime = now
        else:
            self.now = to_datetime(now) or datetime.now(UTC)

    def get(self, path: str) -> Any:
        """Return the value at a dotted path (``None`` when missing)."""
        return resolve_path(path, self.record, self.related)

    def changed(self, path: str) -> bool:
        """Return whether the change altered the path."""
        return change_pair(self.change, path) is not None

    def before(self, path: str) -> Any:
        """Return the value before the change (the current value when it did not change)."""
        pair = change_pair(self.change, path)
        return self.get(path) if pair is None else pair[0]

