"""Small numpy helpers used on hot paths, and optional pyarrow batch string kernels.

The batch kernels (:func:`batch_map`) run a string function over many distinct values at once
with ``pyarrow.compute`` when pyarrow is installed. They handle printable-ASCII values only —
where pyarrow's and Python's string semantics coincide exactly — and hand every other value to
the scalar Python function, so the result is always the scalar function's result.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = [
    "BATCH_KERNELS",
    "batch_map",
    "before_plus",
    "dictionary_encode",
    "kernel_digits",
    "kernel_last_digits",
    "null_if_empty",
    "register_batch",
    "split_email",
    "unique_sorted",
]

Value = str | None
IntArray = npt.NDArray[np.int64]

#: Scalar function -> pyarrow kernel ``(pc, array) -> array`` valid for printable-ASCII input.
BATCH_KERNELS: dict[Callable[..., Any], Callable[[Any, Any], Any]] = {}

_MIN_BATCH = 2_000


def unique_sorted(values: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """Sorted distinct values of an integer array.

    Sort-based: numpy 2.x's hash-based ``np.unique`` is many times slower on large int arrays.
    """
    if len(values) == 0:
        return np.asarray(values, dtype=np.int64)
    s = np.sort(values)
    out: npt.NDArray[np.int64] = s[np.concatenate(([True], s[1:] != s[:-1]))]
    return out


def _pyarrow() -> tuple[Any, Any] | None:
    try:
        import pyarrow as pa
        import pyarrow.compute as pc
    except ImportError:  # pragma: no cover - exercised without the parquet extra
        return None
    return pa, pc


def register_batch(
    scalar: Callable[..., Any], kernel: Callable[[Any, Any], Any]
) -> Callable[..., Any]:
    """Register a pyarrow kernel for a scalar string function; returns the scalar function."""
    BATCH_KERNELS[scalar] = kernel
    return scalar


def batch_map(scalar: Callable[[str], Value], values: Sequence[str]) -> list[Value]:
    """``[scalar(v) for v in values]``, computed by the registered pyarrow kernel when possible."""
    kernel = BATCH_KERNELS.get(scalar)
    libs = _pyarrow() if kernel is not None and len(values) >= _MIN_BATCH else None
    if kernel is None or libs is None:
        return [scalar(v) for v in values]
    pa, pc = libs
    arr = pa.array(values, type=pa.string())
    ok = pc.and_(pc.string_is_ascii(arr), pc.ascii_is_printable(arr))
    result = kernel(pc, pc.if_else(ok, arr, pa.scalar("", pa.string())))
    out: list[Value] = result.to_pylist()
    others = np.flatnonzero(~ok.to_numpy(zero_copy_only=False))
    for i in others.tolist():
        out[i] = scalar(values[i])
    return out


def dictionary_encode(values: Sequence[Value]) -> tuple[list[str], IntArray] | None:
    """Distinct non-missing values and, per row, the index of its value (-1 when missing).

    Uses pyarrow's hash-based dictionary encoding; returns None when pyarrow is absent.
    """
    libs = _pyarrow()
    if libs is None:
        return None
    pa, _ = libs
    encoded = pa.array(values, type=pa.string()).dictionary_encode()
    index = encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
    distinct: list[str] = encoded.dictionary.to_pylist()
    return distinct, index


# -- kernels for printable-ASCII input ---------------------------------------------------------


def null_if_empty(pc: Any, arr: Any) -> Any:
    """Empty strings become nulls."""
    return pc.if_else(pc.equal(pc.utf8_length(arr), 0), None, arr)


def kernel_digits(pc: Any, arr: Any) -> Any:
    """Digits only (``re.sub(r"\\D+", "", v) or None``)."""
    return null_if_empty(pc, pc.replace_substring_regex(arr, r"[^0-9]+", ""))


def kernel_last_digits(pc: Any, arr: Any, n: int, minimum: int) -> Any:
    """Last ``n`` digits when there are at least ``minimum`` digits, else null."""
    digits = pc.replace_substring_regex(arr, r"[^0-9]+", "")
    length = pc.utf8_length(digits)
    tail = pc.utf8_slice_codeunits(digits, start=-n)
    return pc.if_else(pc.greater_equal(length, minimum), tail, None)


def split_email(pc: Any, arr: Any) -> tuple[Any, Any, Any]:
    """``strip().lower().rpartition("@")`` of printable-ASCII text: (text, local, domain).

    ``local`` and ``domain`` are null where the text has no ``@``.
    """
    text = pc.ascii_lower(pc.utf8_trim(arr, " "))
    parts = pc.split_pattern(text, "@", max_splits=1, reverse=True)
    has_at = pc.equal(pc.list_value_length(parts), 2)
    import pyarrow as pa

    padded = pc.if_else(has_at, parts, pa.scalar(["", ""], type=parts.type))
    local = pc.if_else(has_at, pc.list_element(padded, 0), None)
    domain = pc.if_else(has_at, pc.list_element(padded, 1), None)
    return text, local, domain


def before_plus(pc: Any, arr: Any) -> Any:
    """The text before the first ``+`` (``v.split("+", 1)[0]``)."""
    return pc.list_element(pc.split_pattern(arr, "+", max_splits=1), 0)
