"""A griffe extension for the API reference: a Google-style ``Example:`` section is an example.

griffe treats the singular ``Example:`` as an admonition (its ``>>>`` lines would render as nested
quotes) and only the plural ``Examples:`` as code; crmcore's docstrings use both.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_SINGULAR = re.compile(r"^(\s*)Example:\s*$", re.M)


class ExampleSections(griffe.Extension):
    """Rename ``Example:`` to ``Examples:`` in every docstring before it is parsed."""

    def on_instance(self, **kwargs: Any) -> None:
        obj = kwargs["obj"]
        if obj.docstring is not None:
            obj.docstring.value = _SINGULAR.sub(r"\1Examples:", obj.docstring.value)
