"""Deprecated: the real-time match index moved to :mod:`crmcore.matching.realtime`.

``from crmcore.matching.index import MatchIndex`` still works but warns
(:class:`DeprecationWarning`); import :class:`MatchIndex` and :class:`MatchCandidate` from
``crmcore.matching.realtime`` (or ``crmcore.matching``) instead.
"""

from __future__ import annotations

import warnings
from typing import Any

__all__: list[str] = []  # nothing new lives here; the old names below warn
_MOVED = ("MatchCandidate", "MatchIndex")


def __getattr__(name: str) -> Any:
    if name in _MOVED:
        warnings.warn(
            f"crmcore.matching.index is deprecated; import {name} from crmcore.matching.realtime "
            "(or crmcore.matching)",
            DeprecationWarning,
            stacklevel=2,
        )
        from crmcore.matching import realtime

        return getattr(realtime, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
