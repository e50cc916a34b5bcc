"""Optional pyarrow kernels for the bulk path: same answers as the Python code, faster.

Each kernel answers exactly as its Python counterpart. :func:`fullmatch_many` sends only *plain*
text (printable ASCII, ``" "`` to ``"~"``) through pyarrow's RE2 regular expressions: on such text
RE2 and Python's ``re`` agree (the only whitespace is the space, digits are ASCII); every other
value goes through the Python check, so the results never differ. :func:`sorted_codes` sorts by
UTF-8 bytes, which is code point order, as Python sorts text; :func:`factorize` hashes UTF-8
bytes, so equal codes mean equal text. When pyarrow is not installed, or a
pattern is not RE2 syntax, the kernels return None and callers use Python.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any

import numpy as np

__all__ = ["factorize", "fullmatch_many", "sorted_codes"]

BoolArray = np.ndarray[Any, np.dtype[np.bool_]]
IntArray = np.ndarray[Any, np.dtype[np.int64]]
_PLAIN = r"^[\x20-\x7e]*$"


@cache
def _modules() -> tuple[Any, Any] | None:
    try:
        import pyarrow as pa
        import pyarrow.compute as pc
    except ImportError:  # pragma: no cover - pyarrow is an optional extra
        return None
    return pa, pc


def _text_array(values: Sequence[Any]) -> tuple[Any, BoolArray] | None:
    """Arrow string array of the values (non-text as null) and the plain-text mask."""
    mods = _modules()
    if mods is None:
        return None
    pa, pc = mods
    is_text = np.fromiter((v.__class__ is str for v in values), dtype=bool, count=len(values))
    cells = values if is_text.all() else [v if t else None for v, t in zip(values, is_text,
                                                                            strict=True)]
    try:
        arr = pa.array(cells, type=pa.string())
    except (pa.ArrowException, UnicodeError):  # e.g. lone surrogates: leave it to Python
        return None
    plain = pc.match_substring_regex(arr, _PLAIN).fill_null(False)
    return arr, np.asarray(plain.to_numpy(zero_copy_only=False), dtype=bool)


def fullmatch_many(
    pattern: str, ignore_case: bool, values: Sequence[Any], python: Any
) -> BoolArray | None:
    """``[python(v) for v in values]`` with plain text matched by RE2 (None: not possible).

    Args:
        pattern: The regular expression (full match).
        ignore_case: Case-insensitive.
        values: The values.
        python: The per-value Python check, used for every value that is not plain text.
    """
    got = _text_array(values)
    if got is None:
        return None
    pa, pc = _modules()  # type: ignore[misc]
    arr, plain = got
    flags = "(?i)" if ignore_case else ""
    try:
        hit = pc.match_substring_regex(arr, f"{flags}^(?:{pattern})$")
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    out = np.asarray(hit.fill_null(False).to_numpy(zero_copy_only=False), dtype=bool)
    for i in np.flatnonzero(~plain).tolist():
        out[i] = bool(python(values[i]))
    return out


def sorted_codes(values: Sequence[str]) -> tuple[IntArray, list[str]] | None:
    """Codes of text values into their sorted distinct values (code point order)."""
    mods = _modules()
    if mods is None:
        return None
    pa, pc = mods
    try:
        encoded = pa.array(values, type=pa.string()).dictionary_encode()
    except (pa.ArrowException, UnicodeError):  # e.g. lone surrogates: leave it to Python
        return None
    order = np.asarray(pc.sort_indices(encoded.dictionary).to_numpy(), dtype=np.int64)
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order), dtype=np.int64)
    distinct: list[str] = encoded.dictionary.take(pa.array(order)).to_pylist()
    codes: IntArray = rank[np.asarray(encoded.indices.to_numpy(), dtype=np.int64)]
    return codes, distinct


def factorize(values: Sequence[Any]) -> tuple[IntArray, list[Any]] | None:
    """Codes of text values (None: -1) into their distinct values in first-seen order.

    Returns None when pyarrow is missing or a value is neither text nor None.
    """
    mods = _modules()
    if mods is None:
        return None
    pa, _pc = mods
    try:
        encoded = pa.array(values, type=pa.string()).dictionary_encode()
    except (pa.ArrowException, UnicodeError, TypeError):
        return None
    codes: IntArray = np.asarray(encoded.indices.fill_null(-1).to_numpy(), dtype=np.int64)
    distinct: list[Any] = encoded.dictionary.to_pylist()
    return codes, distinct
