"""The record registry: record classes by ``record_type``, for dispatch (``from_dict``)."""

from __future__ import annotations

import sys
from typing import TypeVar

from crmcore.model._base import RecordLike

_REGISTRY: dict[str, type[RecordLike]] = {}

R = TypeVar("R", bound=type["RecordLike"])


def register(cls: R) -> R:
    """Class decorator: register a record class under its ``record_type`` for dispatch."""
    if not cls.record_type:
        raise TypeError(f"{cls.__name__} has no record_type")
    # keep the defining namespace, for annotations that no module can resolve (exec-ed code)
    type.__setattr__(cls, "_hint_namespace", sys._getframe(1).f_globals)
    _REGISTRY[cls.record_type] = cls
    return cls


def record_class(record_type: str) -> type[RecordLike]:
    """Return the record class registered for ``record_type``.

    Raises:
        KeyError: If no class is registered under that name.
    """
    return _REGISTRY[record_type]


def record_types() -> tuple[str, ...]:
    """Return the registered record type names, in registration order."""
    return tuple(_REGISTRY)
