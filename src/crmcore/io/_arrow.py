"""Columnar kernels over pyarrow and numpy: the one Arrow helper module of crmcore.

pyarrow is optional (the ``parquet`` extra): every function here either answers exactly as the
Python code it stands in for, or returns None / falls back to Python when pyarrow is absent or
a value cannot go through it. Kernels on text handle *plain* values only (printable ASCII, ``" "``
to ``"~"``), where pyarrow's RE2 / UTF-8 semantics and Python's ``str`` semantics coincide; every
other value goes through the Python function, so results never differ.

One encoded-column type serves every package: :class:`Encoded` is a column's dictionary encoding
(per-row codes into the distinct non-missing values, first-seen order, plus their pyarrow array),
and :class:`EncodedColumn` is a ``list`` of values that carries its :class:`Encoded`, built once
when a file is read (:func:`arrow_to_table`) so later steps need not encode a million Python
strings again. :func:`encode` returns a column's encoding, reusing the carried one.

Example:
    >>> enc = encode(["b", None, "a", "b"])
    >>> None if enc is None else (enc.codes.tolist(), enc.distinct)
    ([0, -1, 1, 0], ['b', 'a'])
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cache
from typing import Any

import attrs
import numpy as np
import numpy.typing as npt

from crmcore.io._table import Table, to_table

__all__ = [
    "BATCH_KERNELS",
    "PARTIAL_KERNELS",
    "Encoded",
    "EncodedColumn",
    "all_fullmatch",
    "arrow_to_table",
    "batch_map",
    "batch_map_arrow",
    "before_plus",
    "blank",
    "digits_only",
    "encode",
    "factorize",
    "fold_key_codes",
    "fullmatch_many",
    "group_order",
    "join_groups",
    "kernel_digits",
    "kernel_last_digits",
    "modules",
    "null_if_empty",
    "register_batch",
    "release_arrow_memory",
    "sorted_codes",
    "sorted_codes_filled",
    "split_email",
    "unique_sorted",
]

Value = str | None
BoolArray = np.ndarray[Any, np.dtype[np.bool_]]
IntArray = npt.NDArray[np.int64]

#: Scalar function -> pyarrow kernel ``(pc, array) -> array`` valid for printable-ASCII input.
BATCH_KERNELS: dict[Callable[..., Any], Callable[[Any, Any], Any]] = {}
PARTIAL_KERNELS: set[Callable[..., Any]] = set()

_MIN_BATCH = 2_000
_PLAIN = r"^[\x20-\x7e]*$"


@cache
def modules() -> tuple[Any, Any] | None:
    """``(pyarrow, pyarrow.compute)``, or None when pyarrow is not installed."""
    try:
        import pyarrow as pa
        import pyarrow.compute as pc
    except ImportError:  # pragma: no cover - pyarrow is an optional extra
        return None
    return pa, pc


def _libs() -> tuple[Any, Any]:
    """``modules()`` for code that only runs when the caller already holds pyarrow data."""
    libs = modules()
    assert libs is not None  # callers hold a pyarrow array
    return libs


# -- numpy --------------------------------------------------------------------------------------


def unique_sorted(values: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """Sorted distinct values of an integer array.

    Values within a range not much wider than their count (codes of a dictionary) are marked
    in a boolean array of the range and read back in order; others are sorted (numpy 2.x's
    hash-based ``np.unique`` is many times slower on large int arrays).
    """
    if len(values) == 0:
        return np.asarray(values, dtype=np.int64)
    lo, hi = int(values.min()), int(values.max())
    if hi - lo < 4 * len(values) + 4096:  # one pass over the range instead of a sort
        seen = np.zeros(hi - lo + 1, dtype=bool)
        seen[values - lo if lo else values] = True
        found: npt.NDArray[np.int64] = np.flatnonzero(seen)
        if lo:
            found += lo
        return found.astype(values.dtype, copy=False)
    s = np.sort(values)
    out: npt.NDArray[np.int64] = s[np.concatenate(([True], s[1:] != s[:-1]))]
    return out


# -- the encoded column -------------------------------------------------------------------------


@attrs.define
class Encoded:
    """A text column dictionary-encoded by pyarrow.

    Attributes:
        codes: Per row, the position of its value in ``dictionary`` (-1 when missing); int32 or
            int64.
        dictionary: pyarrow string array of the distinct non-missing values, first-seen order.
    """

    codes: npt.NDArray[np.signedinteger[Any]]
    dictionary: Any
    _distinct: list[str] | None = None
    _plain: BoolArray | None = None

    @property
    def distinct(self) -> list[str]:
        """The distinct values as Python strings (converted once, on first use)."""
        if self._distinct is None:
            self._distinct = self.dictionary.to_pylist()
        return self._distinct

    @property
    def plain(self) -> BoolArray:
        """Per distinct value: only printable ASCII (``" "`` to ``"~"``)."""
        if self._plain is None:
            _pa, pc = _libs()
            hit = pc.match_substring_regex(self.dictionary, _PLAIN)
            self._plain = np.asarray(hit.to_numpy(zero_copy_only=False), dtype=bool)
        return self._plain


class EncodedColumn(list):  # type: ignore[type-arg]
    """A column of values (a ``list``) that also carries its :class:`Encoded`.

    The encoding is exactly what :func:`encode` would compute from the values, computed once
    when the column was read. The list must not be changed afterwards (readers build it and
    hand it on as is).
    """

    __slots__ = ("encoding",)

    def __init__(self, values: Sequence[Value], encoding: Encoded) -> None:
        super().__init__(values)
        self.encoding = encoding


def encode(values: Sequence[Any]) -> Encoded | None:
    """The dictionary encoding of a column of text (None as missing).

    Reuses the encoding an :class:`EncodedColumn` carries. Returns None when pyarrow is absent
    or a value is neither text nor None (or is text pyarrow cannot hold, e.g. lone surrogates).
    """
    if isinstance(values, EncodedColumn) and len(values.encoding.codes) == len(values):
        return values.encoding
    mods = modules()
    if mods is None:
        return None
    pa, _pc = mods
    try:
        encoded = pa.array(values, type=pa.string()).dictionary_encode()
    except (pa.ArrowException, UnicodeError, TypeError):
        return None
    codes: IntArray = np.asarray(encoded.indices.fill_null(-1).to_numpy(), dtype=np.int64)
    return Encoded(codes, encoded.dictionary)


def factorize(values: Sequence[Any]) -> tuple[IntArray, list[Any]] | None:
    """Codes of text values (None: -1) into their distinct values in first-seen order.

    Returns None when pyarrow is missing or a value is neither text nor None.
    """
    enc = encode(values)
    return None if enc is None else (enc.codes.astype(np.int64, copy=False), enc.distinct)


def arrow_to_table(arrow: Any, *, plain: Sequence[str] = ()) -> Table:
    """Text columns of a pyarrow table, blank (whitespace-only) values as missing.

    ``plain`` columns (ids: nearly all distinct) are converted row by row; other text columns go
    through their dictionary (one Python string per DISTINCT value, shared by the rows that
    repeat it) and come out as :class:`EncodedColumn`; non-text columns as
    :func:`crmcore.io.to_table` converts them. Dictionary columns of text (Parquet read with
    ``read_dictionary``) are text columns whose strings need not be hashed again.
    """
    pa, pc = _libs()
    columns: dict[str, list[str | None]] = {}
    for name in arrow.column_names:
        col = arrow.column(name)
        coded = pa.types.is_dictionary(col.type) and _is_text(pa, col.type.value_type)
        if coded and name in plain:
            col = col.cast(col.type.value_type)
            coded = False
        text = coded or _is_text(pa, col.type)
        if text and name in plain:
            values = col.to_pylist()
            # A value with a printable ASCII character other than space is not blank; only the
            # others are checked in Python.
            maybe_blank = pc.invert(pc.match_substring_regex(col, "[!-~]")).fill_null(False)
            for i in np.flatnonzero(maybe_blank.to_numpy()).tolist():
                if not values[i].strip():
                    values[i] = None
            columns[str(name)] = values
        elif text:
            if coded:  # read as a dictionary (Parquet): re-encode its integer indices only
                combined = col.combine_chunks()  # the chunks' dictionaries unified
                # The values in order of first appearance, as dictionary_encode gives them
                # (unused ones dropped): a hash of the int indices, not of the strings.
                order = pc.dictionary_encode(combined.indices)
                encoded = pa.DictionaryArray.from_arrays(
                    order.indices, combined.dictionary.take(order.dictionary)
                )
                if len(pc.unique(encoded.dictionary)) != len(encoded.dictionary):
                    # a dictionary repeating a value (writers do not, the format allows it)
                    # would give one string two codes: hash the strings after all
                    encoded = combined.cast(col.type.value_type).dictionary_encode()
            else:
                encoded = col.combine_chunks().dictionary_encode()
            dictionary = encoded.dictionary.cast(pa.string())
            distinct = dictionary.to_pylist()
            blank_ = ~pc.match_substring_regex(dictionary, "[!-~]").to_numpy(zero_copy_only=False)
            for i in np.flatnonzero(blank_).tolist():
                blank_[i] = not distinct[i].strip()
                if blank_[i]:
                    distinct[i] = None
            lookup = np.empty(len(distinct) + 1, dtype=object)
            lookup[:-1] = distinct
            lookup[-1] = None
            index = encoded.indices.fill_null(len(distinct)).to_numpy(zero_copy_only=False)
            # Positions among the non-blank distinct values (still in order of appearance).
            small = np.int32 if len(distinct) < 2**31 - 1 else np.int64  # half the memory
            kept = np.full(len(distinct) + 1, -1, dtype=small)
            kept[:-1][~blank_] = np.arange(int((~blank_).sum()), dtype=small)
            columns[str(name)] = EncodedColumn(
                lookup[index].tolist(),
                Encoded(
                    kept[index],
                    dictionary.filter(pa.array(~blank_)) if blank_.any() else dictionary,
                ),
            )
        else:  # numbers, lists, structs (one column per field): as crmcore.io reads them
            columns.update(to_table(arrow.select([name])).columns)
    return Table(columns)


def _is_text(pa: Any, kind: Any) -> bool:
    return bool(pa.types.is_string(kind) or pa.types.is_large_string(kind))


def release_arrow_memory() -> None:
    """Hand memory pyarrow's allocator keeps after big temporary arrays back to the system
    (mimalloc / jemalloc hold freed pages; after a million-row kernel that is ~200 MB)."""
    libs = modules()
    if libs is not None:
        libs[0].default_memory_pool().release_unused()


# -- batch string kernels -----------------------------------------------------------------------


def register_batch(
    scalar: Callable[..., Any],
    kernel: Callable[[Any, Any], Any],
    *,
    partial: bool = False,
) -> Callable[..., Any]:
    """Register a pyarrow kernel for a scalar string function; returns the scalar function.

    Args:
        scalar: The reference function (one value).
        kernel: ``kernel(pc, arr)``: the same over a printable-ASCII string array.
        partial: The kernel returns ``(values, leave)``: ``leave`` is a boolean array of the
            rows it does not decide, which the scalar function computes (one call per value).
    """
    BATCH_KERNELS[scalar] = kernel
    if partial:
        PARTIAL_KERNELS.add(scalar)
    return scalar


def _run_kernel(scalar: Callable[..., Any], pa: Any, pc: Any, arr: Any) -> tuple[Any, Any]:
    """The registered kernel over the printable-ASCII rows of ``arr``: ``(values, others)``,
    ``others`` the rows the scalar function must compute."""
    ok = pc.and_(pc.string_is_ascii(arr), pc.ascii_is_printable(arr)).fill_null(True)
    result = BATCH_KERNELS[scalar](pc, pc.if_else(ok, arr, pa.scalar("", pa.string())))
    others = pc.invert(ok)
    if scalar in PARTIAL_KERNELS:
        result, leave = result
        others = pc.or_(others, pc.fill_null(leave, False))
    return result, others


def batch_map(scalar: Callable[[str], Value], values: Sequence[str]) -> list[Value]:
    """``[scalar(v) for v in values]``, computed by the registered pyarrow kernel when possible."""
    kernel = BATCH_KERNELS.get(scalar)
    libs = modules() if kernel is not None and len(values) >= _MIN_BATCH else None
    if kernel is None or libs is None:
        return [scalar(v) for v in values]
    pa, pc = libs
    result, others = _run_kernel(scalar, pa, pc, pa.array(values, type=pa.string()))
    out: list[Value] = result.to_pylist()
    for i in np.flatnonzero(others.to_numpy(zero_copy_only=False)).tolist():
        out[i] = scalar(values[i])
    return out


def batch_map_arrow(scalar: Callable[[str], Value], arr: Any) -> Any:
    """``scalar`` over a pyarrow string array (nulls stay null), as a pyarrow string array.

    Like :func:`batch_map` without Python strings in between: the registered kernel runs on the
    printable-ASCII values and only the others go through the scalar function.
    """
    pa, pc = _libs()
    kernel = BATCH_KERNELS.get(scalar)
    if kernel is None or len(arr) < _MIN_BATCH:
        values = arr.to_pylist()
        return pa.array([None if v is None else scalar(v) for v in values], type=pa.string())
    result, others = _run_kernel(scalar, pa, pc, arr)
    if result.type != pa.string():
        result = result.cast(pa.string())
    result = pc.if_else(pc.is_null(arr), pa.scalar(None, pa.string()), result)
    others = pc.and_(others, pc.is_valid(arr))
    if pc.any(others).as_py():
        todo = arr.filter(others).to_pylist()
        fixed = pa.array([scalar(v) for v in todo], type=pa.string())
        result = pc.replace_with_mask(result, others, fixed)
    return result


def null_if_empty(pc: Any, arr: Any) -> Any:
    """Empty strings become nulls."""
    return pc.if_else(pc.equal(pc.utf8_length(arr), 0), None, arr)


def digits_only(pc: Any, arr: Any) -> Any:
    """The ASCII digits of each string (``re.sub(r"[^0-9]+", "", v)``; nulls stay null).

    Done on the UTF-8 bytes in numpy (a byte of a multi-byte character is never an ASCII
    digit), four times faster than the regular expression, which it stands in for on other
    array types.
    """
    pa, _pc = _libs()
    width = {pa.string(): np.int32, pa.large_string(): np.int64}.get(arr.type)
    if width is None or not isinstance(arr, pa.Array):
        return pc.replace_substring_regex(arr, r"[^0-9]+", "")
    n = len(arr)
    _validity, offsets_buffer, data_buffer = arr.buffers()
    item = np.dtype(width).itemsize
    offsets = np.frombuffer(offsets_buffer, dtype=width, count=n + 1, offset=arr.offset * item)
    start, end = int(offsets[0]), int(offsets[-1])
    data = (
        np.frombuffer(data_buffer, dtype=np.uint8, count=end - start, offset=start)
        if end > start
        else np.zeros(0, dtype=np.uint8)
    )
    keep = (data >= 48) & (data <= 57)
    kept = np.zeros(len(keep) + 1, dtype=np.int64)
    kept[1:] = keep
    np.cumsum(kept, out=kept)  # in int64 throughout: a cast inside cumsum is ~8x slower
    new_offsets = kept[offsets - start].astype(width)
    mask = None if arr.null_count == 0 else pc.is_valid(arr).buffers()[1]
    return pa.Array.from_buffers(
        arr.type, n, [mask, pa.py_buffer(new_offsets), pa.py_buffer(data[keep])],
        null_count=arr.null_count,
    )


def kernel_digits(pc: Any, arr: Any) -> Any:
    """Digits only (``re.sub(r"\\D+", "", v) or None``)."""
    return null_if_empty(pc, digits_only(pc, arr))


def kernel_last_digits(pc: Any, arr: Any, n: int, minimum: int) -> Any:
    """Last ``n`` digits when there are at least ``minimum`` digits, else null."""
    digits = digits_only(pc, arr)
    length = pc.utf8_length(digits)
    tail = pc.utf8_slice_codeunits(digits, start=-n)
    return pc.if_else(pc.greater_equal(length, minimum), tail, None)


def split_email(pc: Any, arr: Any) -> tuple[Any, Any, Any]:
    """``strip().lower().rpartition("@")`` of printable-ASCII text: (text, local, domain).

    ``local`` and ``domain`` are null where the text has no ``@``.
    """
    pa, _pc = _libs()
    text = pc.ascii_lower(pc.utf8_trim(arr, " "))
    parts = pc.split_pattern(text, "@", max_splits=1, reverse=True)
    has_at = pc.equal(pc.list_value_length(parts), 2)
    padded = pc.if_else(has_at, parts, pa.scalar(["", ""], type=parts.type))
    local = pc.if_else(has_at, pc.list_element(padded, 0), None)
    domain = pc.if_else(has_at, pc.list_element(padded, 1), None)
    return text, local, domain


def before_plus(pc: Any, arr: Any) -> Any:
    """The text before the first ``+`` (``v.split("+", 1)[0]``)."""
    return pc.list_element(pc.split_pattern(arr, "+", max_splits=1), 0)


# -- per-distinct-value kernels -----------------------------------------------------------------


def _text_array(values: Sequence[Any]) -> tuple[Any, BoolArray] | None:
    """Arrow string array of the values (non-text as null) and the plain-text mask."""
    mods = modules()
    if mods is None:
        return None
    pa, pc = mods
    is_text = np.fromiter((v.__class__ is str for v in values), dtype=bool, count=len(values))
    cells = values if is_text.all() else [
        v if t else None for v, t in zip(values, is_text, strict=True)
    ]
    try:
        arr = pa.array(cells, type=pa.string())
    except (pa.ArrowException, UnicodeError):  # e.g. lone surrogates: leave it to Python
        return None
    plain = pc.match_substring_regex(arr, _PLAIN).fill_null(False)
    return arr, np.asarray(plain.to_numpy(zero_copy_only=False), dtype=bool)


def fullmatch_many(
    pattern: str, ignore_case: bool, values: Sequence[Any], python: Any,
    encoded: Encoded | None = None,
) -> BoolArray | None:
    """``[python(v) for v in values]`` with plain text matched by RE2 (None: not possible).

    Args:
        pattern: The regular expression (full match).
        ignore_case: Case-insensitive.
        values: The values.
        python: The per-value Python check, used for every value that is not plain text.
        encoded: The values already in pyarrow (``encoded.distinct`` is ``values``).
    """
    got = _text_array(values) if encoded is None else (encoded.dictionary, encoded.plain)
    if got is None:
        return None
    pa, pc = _libs()
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
    mods = modules()
    if mods is None:
        return None
    pa, _pc = mods
    try:
        arr = pa.array(values, type=pa.string())
    except (pa.ArrowException, UnicodeError):  # e.g. lone surrogates: leave it to Python
        return None
    return _sorted_codes_of(arr)


def sorted_codes_filled(
    values: Sequence[Any], fill: Sequence[Any]
) -> tuple[IntArray, list[str]] | None:
    """:func:`sorted_codes` of ``[v if v is not None else f for v, f in zip(values, fill)]``.

    None when pyarrow is missing or a value (or a needed fill) is not text.
    """
    mods = modules()
    if mods is None:
        return None
    pa, pc = mods
    try:
        arr = pa.array(values, type=pa.string())
        if arr.null_count:
            arr = pc.coalesce(arr, pa.array(fill, type=pa.string()))
    except (pa.ArrowException, UnicodeError, TypeError):
        return None
    if arr.null_count:
        return None
    return _sorted_codes_of(arr)


def _sorted_codes_of(arr: Any) -> tuple[IntArray, list[str]]:
    pa, pc = _libs()
    encoded = arr.dictionary_encode()
    order = np.asarray(pc.sort_indices(encoded.dictionary).to_numpy(), dtype=np.int64)
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order), dtype=np.int64)
    distinct: list[str] = encoded.dictionary.take(pa.array(order)).to_pylist()
    codes: IntArray = rank[np.asarray(encoded.indices.to_numpy(), dtype=np.int64)]
    return codes, distinct


def blank(enc: Encoded) -> BoolArray:
    """Per distinct value: blank text (``not value.strip()``, as Python strips).

    Text holding a visible ASCII character is never blank; only the rest is checked in Python.
    """
    _pa, pc = _libs()
    visible = pc.match_substring_regex(enc.dictionary, "[!-~]")
    sure = np.asarray(visible.to_numpy(zero_copy_only=False), dtype=bool)
    out = np.zeros(len(sure), dtype=bool)
    if not sure.all():
        distinct = enc.distinct
        for i in np.flatnonzero(~sure).tolist():
            out[i] = not distinct[i].strip()
    return out


def fold_key_codes(enc: Encoded, key: Callable[[str], str]) -> IntArray | None:
    """Per distinct value, a code of its folded key: equal keys, equal codes.

    ``key`` must be ``" ".join(v.split()).casefold()`` (whitespace collapsed, case folded) or
    agree with it on printable ASCII; it is called for the other values only. None when the
    keys cannot go through pyarrow.

    On plain text (printable ASCII) the only whitespace is the space and case folding is
    lowering, so pyarrow computes those keys.
    """
    pa, pc = _libs()
    d = enc.dictionary
    n = len(d)
    # lower-case plain text with single inner spaces is its own key: distinct values, distinct
    # keys, as long as no other value has such a key (checked below when some are not)
    own = np.asarray(
        pc.match_substring_regex(d, r"^[!-@\[-~]+(?: [!-@\[-~]+)*$").to_numpy(
            zero_copy_only=False
        ),
        dtype=bool,
    )
    if own.all():
        return np.arange(n, dtype=np.int64)
    # tidy plain text without lower-case letters: lowering is one-to-one on such values (e.g.
    # ISO times with their "T"), so their keys are distinct too
    upper = pc.match_substring_regex(d, r"^[!-`{-~]+(?: [!-`{-~]+)*$")
    if pc.all(upper).as_py():
        return np.arange(n, dtype=np.int64)
    keys = pc.utf8_trim(pc.replace_substring_regex(pc.utf8_lower(d), " {2,}", " "), " ")
    other = np.flatnonzero(~enc.plain)
    if len(other):
        distinct = enc.distinct
        try:
            python_keys = pa.array([key(distinct[i]) for i in other.tolist()], type=pa.string())
        except (pa.ArrowException, UnicodeError):  # e.g. lone surrogates
            return None
        keys = pc.replace_with_mask(keys, pa.array(~enc.plain), python_keys)
    out: IntArray = np.asarray(keys.dictionary_encode().indices.to_numpy(), dtype=np.int64)
    return out


def join_groups(values: Any, take: IntArray, starts: IntArray, sep: str) -> list[str]:
    """``sep.join`` of consecutive runs of ``values.take(take)`` starting at ``starts``."""
    pa, pc = _libs()
    offsets = pa.array(np.append(starts, len(take)), type=pa.int64())
    lists = pa.LargeListArray.from_arrays(offsets, values.take(pa.array(take)))
    out: list[str] = pc.binary_join(lists, pa.scalar(sep, values.type)).to_pylist()
    return out


def all_fullmatch(values: Sequence[Any], pattern: str) -> bool:
    """True when every value is text fully matching ``pattern`` (RE2 syntax, ASCII classes:
    ``\\d`` is ``[0-9]``); False when one is not, is None, or pyarrow is missing."""
    mods = modules()
    if mods is None:
        return False
    pa, pc = mods
    try:
        arr = pa.array(values, type=pa.string())
    except (pa.ArrowException, UnicodeError, TypeError):
        return False
    if arr.null_count:
        return False
    return bool(pc.all(pc.match_substring_regex(arr, f"^(?:{pattern})$")).as_py())


def group_order(codes: IntArray, ids: Sequence[Any]) -> tuple[IntArray, Any, bool] | None:
    """Row order by group code, then by id (code point order) inside each group; the ids as a
    pyarrow array; and True when the ids are known to be unique (False: not known).
    None when pyarrow is missing or an id is None or not text.

    Ids are compared only inside their group: by their UTF-8 bytes, 8 at a time as big-endian
    integers (byte order is code point order), then by length; only rows still tied go on to
    the next 8 bytes. Equal ids in one group stay tied (callers check that ids are unique).
    """
    mods = modules()
    if mods is None:
        return None
    pa, _pc = mods
    try:
        arr = pa.array(ids, type=pa.large_string())
    except (pa.ArrowException, UnicodeError, TypeError):
        return None
    n = len(arr)
    if arr.null_count or not n:
        return None
    bufs = arr.buffers()
    offsets = np.frombuffer(bufs[1], dtype=np.int64)[arr.offset : arr.offset + n + 1]
    data = np.frombuffer(bufs[2], dtype=np.uint8) if bufs[2] is not None else np.zeros(0, np.uint8)
    data = np.append(data, np.uint8(0))  # a zero byte to pad with
    lengths = np.diff(offsets)
    max_len = int(lengths.max())

    def chunk(k: int, rows: IntArray | None = None) -> Any:
        lo = offsets[:-1] if rows is None else offsets[rows]
        hi = offsets[1:] if rows is None else offsets[rows + 1]
        pos = lo[:, None] + (8 * k + np.arange(8, dtype=np.int64))
        pos = np.where(pos < hi[:, None], pos, len(data) - 1)
        return np.ascontiguousarray(data[pos]).view(">u8").ravel().astype(np.uint64)

    key = chunk(0)
    by_key = np.argsort(key)  # ties in any order: the loop below orders them
    sorted_key = key[by_key]
    unique = not bool((sorted_key[1:] == sorted_key[:-1]).any())  # distinct keys, distinct ids
    order: IntArray = by_key[np.argsort(codes[by_key], kind="stable")]
    g, kk = codes[order], key[order]
    tie = (g[1:] == g[:-1]) & (kk[1:] == kk[:-1])  # row at position i tied with i + 1
    k = 1
    while tie.any():
        last = 8 * k >= max_len
        involved = np.zeros(n, dtype=bool)
        involved[:-1] |= tie
        involved[1:] |= tie
        pos = np.flatnonzero(involved)
        run = np.cumsum(np.concatenate(([True], ~tie[pos[1:] - 1])))
        rows = order[pos]
        sub = lengths[rows] if last else chunk(k, rows)
        perm = np.lexsort((sub, run))
        order[pos] = rows[perm]
        sk, rk = sub[perm], run[perm]
        tie = np.zeros(n - 1, dtype=bool)
        tie[pos[:-1]] = (rk[1:] == rk[:-1]) & (sk[1:] == sk[:-1])
        if last:
            break
        k += 1
    return order, arr, unique
