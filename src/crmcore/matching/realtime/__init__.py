"""Real-time matching: a thread-safe in-memory index that matches one record in milliseconds
with the batch levels, weights and explanations, and gives every record a stable entity id.

The front door of ``crmcore.matching.realtime``: :class:`MatchIndex` (with
:class:`MatchCandidate`), and the index file's own functions (:func:`scrub_index_file` for
erasure, :func:`load_snapshot` / :func:`save_snapshot`). See ``docs/realtime.md``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from crmcore import compat
from crmcore.matching.realtime._index import MatchCandidate, MatchIndex
from crmcore.matching.realtime._store import (
    IndexSnapshot,
    load_snapshot,
    save_snapshot,
    scrub_index_file,
)

__all__ = [
    "IndexSnapshot",
    "MatchCandidate",
    "MatchIndex",
    "load_snapshot",
    "save_snapshot",
    "scrub_index_file",
]

compat.own(__name__, globals(), __all__)
if not TYPE_CHECKING:  # old names warn (type checkers see only the names above)
    __getattr__ = compat.door_getattr(__name__)
