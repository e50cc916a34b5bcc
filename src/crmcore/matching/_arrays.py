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
    "EncodedColumn",
    "arrow_encoding",
    "batch_map",
    "batch_map_arrow",
    "before_plus",
    "dictionary_encode",
    "kernel_digits",
    "kernel_last_digits",
    "null_if_empty",
    "register_batch",
    "release_arrow_memory",
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


def batch_map_arrow(scalar: Callable[[str], Value], arr: Any) -> Any:
    """``scalar`` over a pyarrow string array (nulls stay null), as a pyarrow string array.

    Like :func:`batch_map` without Python strings in between: the registered kernel runs on the
    printable-ASCII values and only the others go through the scalar function.
    """
    libs = _pyarrow()
    assert libs is not None  # callers hold a pyarrow array
    pa, pc = libs
    kernel = BATCH_KERNELS.get(scalar)
    if kernel is None or len(arr) < _MIN_BATCH:
        values = arr.to_pylist()
        return pa.array([None if v is None else scalar(v) for v in values], type=pa.string())
    ok = pc.and_(pc.string_is_ascii(arr), pc.ascii_is_printable(arr)).fill_null(True)
    result = kernel(pc, pc.if_else(ok, arr, pa.scalar("", pa.string())))
    if result.type != pa.string():
        result = result.cast(pa.string())
    result = pc.if_else(pc.is_null(arr), pa.scalar(None, pa.string()), result)
    others = pc.invert(ok)
    if pc.any(others).as_py():
        todo = arr.filter(others).to_pylist()
        fixed = pa.array([None if v is None else scalar(v) for v in todo], type=pa.string())
        result = pc.replace_with_mask(result, others, fixed)
    return result


class EncodedColumn(list):  # type: ignore[type-arg]
    """A column of values (a ``list``) that also carries its pyarrow dictionary encoding.

    ``arrow_distinct`` is a pyarrow string array of the distinct non-missing values in order of
    first appearance and ``arrow_index`` gives, per row, the position of its value there (-1
    when missing): exactly what ``pa.array(values).dictionary_encode()`` would give, computed
    once when the column was read, so matching need not encode a million Python strings again.
    The list must not be changed afterwards (readers build it and hand it on as is).
    """

    __slots__ = ("arrow_distinct", "arrow_index")

    def __init__(
        self, values: Sequence[Value], distinct: Any, index: npt.NDArray[Any]
    ) -> None:
        super().__init__(values)
        self.arrow_distinct = distinct
        self.arrow_index = index


def arrow_encoding(values: Sequence[Value]) -> tuple[Any, npt.NDArray[Any]] | None:
    """``(distinct, index)`` of a column as pyarrow array and integer codes (-1 when missing).

    Uses the encoding an :class:`EncodedColumn` carries, else encodes with pyarrow; None when
    pyarrow is absent.
    """
    if isinstance(values, EncodedColumn) and len(values.arrow_index) == len(values):
        return values.arrow_distinct, values.arrow_index
    libs = _pyarrow()
    if libs is None:
        return None
    pa, _ = libs
    encoded = pa.array(values, type=pa.string()).dictionary_encode()
    index = encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
    return encoded.dictionary, index


def release_arrow_memory() -> None:
    """Hand memory pyarrow's allocator keeps after big temporary arrays back to the system
    (mimalloc / jemalloc hold freed pages; after a million-row kernel that is ~200 MB)."""
    libs = _pyarrow()
    if libs is not None:
        libs[0].default_memory_pool().release_unused()


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
