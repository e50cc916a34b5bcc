"""Deprecated: the condition language moved to :mod:`crmcore.conditions`.

This module re-exports it for one release and warns on import; import from
``crmcore.conditions`` instead.
"""

from __future__ import annotations

import warnings

from crmcore import conditions as _conditions
from crmcore.conditions import *  # noqa: F403

__all__ = list(_conditions.__all__)

warnings.warn(
    "crmcore.workflows.conditions is deprecated; import from crmcore.conditions instead "
    "(the condition language is shared by workflows and governance)",
    DeprecationWarning,
    stacklevel=2,
)
