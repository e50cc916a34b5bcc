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

import attrs
import numpy as np

__all__ = [
    "Encoded",
    "bare_text",
    "blank",
    "default_key_codes",
    "encode",
    "factorize",
    "fullmatch_many",
    "group_order",
    "iso_extended_text",
    "join_groups",
    "sorted_codes",
    "sorted_codes_filled",
]

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
    mods = _modules()
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
    pa, pc = _modules()  # type: ignore[misc]
    encoded = arr.dictionary_encode()
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
    enc = encode(values)
    return None if enc is None else (enc.codes, enc.distinct)


@attrs.define
class Encoded:
    """A text column dictionary-encoded by pyarrow: row codes, distinct values, their array."""

    codes: IntArray  # per row, -1 for None
    distinct: list[str]
    dictionary: Any  # pyarrow string array of ``distinct``
    _plain: BoolArray | None = None

    @property
    def plain(self) -> BoolArray:
        """Per distinct value: only printable ASCII (``" "`` to ``"~"``)."""
        if self._plain is None:
            _pa, pc = _modules()  # type: ignore[misc]
            hit = pc.match_substring_regex(self.dictionary, _PLAIN)
            self._plain = np.asarray(hit.to_numpy(zero_copy_only=False), dtype=bool)
        return self._plain


def encode(values: Sequence[Any]) -> Encoded | None:
    """:func:`factorize`, keeping the pyarrow array of the distinct values (None: no pyarrow,
    or a value neither text nor None)."""
    mods = _modules()
    if mods is None:
        return None
    pa, _pc = mods
    try:
        encoded = pa.array(values, type=pa.string()).dictionary_encode()
    except (pa.ArrowException, UnicodeError, TypeError):
        return None
    codes: IntArray = np.asarray(encoded.indices.fill_null(-1).to_numpy(), dtype=np.int64)
    return Encoded(codes, encoded.dictionary.to_pylist(), encoded.dictionary)


def blank(enc: Encoded) -> BoolArray:
    """Per distinct value: blank text (``not value.strip()``, as Python strips).

    Text holding a visible ASCII character is never blank; only the rest is checked in Python.
    """
    _pa, pc = _modules()  # type: ignore[misc]
    visible = pc.match_substring_regex(enc.dictionary, "[!-~]")
    sure = np.asarray(visible.to_numpy(zero_copy_only=False), dtype=bool)
    out = np.zeros(len(enc.distinct), dtype=bool)
    for i in np.flatnonzero(~sure).tolist():
        out[i] = not enc.distinct[i].strip()
    return out


def default_key_codes(enc: Encoded) -> IntArray | None:
    """Per distinct value, a code of its default key (``" ".join(v.split()).casefold()``):
    equal keys, equal codes. None when the keys cannot go through pyarrow.

    On plain text (printable ASCII) the only whitespace is the space and case folding is
    lowering, so pyarrow computes those keys; other values get their key from Python.
    """
    pa, pc = _modules()  # type: ignore[misc]
    d = enc.dictionary
    # lower-case plain text with single inner spaces is its own key: distinct values, distinct
    # keys, as long as no other value has such a key (checked below when some are not)
    own = np.asarray(
        pc.match_substring_regex(d, r"^[!-@\[-~]+(?: [!-@\[-~]+)*$").to_numpy(
            zero_copy_only=False
        ),
        dtype=bool,
    )
    if own.all():
        return np.arange(len(enc.distinct), dtype=np.int64)
    # tidy plain text without lower-case letters: lowering is one-to-one on such values (e.g.
    # ISO times with their "T"), so their keys are distinct too
    upper = pc.match_substring_regex(d, r"^[!-`{-~]+(?: [!-`{-~]+)*$")
    if pc.all(upper).as_py():
        return np.arange(len(enc.distinct), dtype=np.int64)
    keys = pc.utf8_trim(pc.replace_substring_regex(pc.utf8_lower(d), " {2,}", " "), " ")
    other = np.flatnonzero(~enc.plain)
    if len(other):
        from crmcore.survivorship.records import default_key

        try:
            python_keys = pa.array(
                [default_key(enc.distinct[i]) for i in other.tolist()], type=pa.string()
            )
        except (pa.ArrowException, UnicodeError):  # e.g. lone surrogates
            return None
        keys = pc.replace_with_mask(keys, pa.array(~enc.plain), python_keys)
    out: IntArray = np.asarray(keys.dictionary_encode().indices.to_numpy(), dtype=np.int64)
    return out


def join_groups(values: Any, take: IntArray, starts: IntArray, sep: str) -> list[str]:
    """``sep.join`` of consecutive runs of ``values.take(take)`` starting at ``starts``."""
    pa, pc = _modules()  # type: ignore[misc]
    offsets = pa.array(np.append(starts, len(take)), type=pa.int64())
    lists = pa.LargeListArray.from_arrays(offsets, values.take(pa.array(take)))
    out: list[str] = pc.binary_join(lists, pa.scalar(sep, values.type)).to_pylist()
    return out


def bare_text(values: Sequence[Any]) -> bool:
    """True when every value is text starting with a visible ASCII character and ending with
    one other than ``"Z"`` (so ``v.strip()`` is ``v``, and it has no ``"Z"`` suffix)."""
    mods = _modules()
    if mods is None:
        return False
    pa, pc = mods
    try:
        arr = pa.array(values, type=pa.string())
    except (pa.ArrowException, UnicodeError, TypeError):
        return False
    if arr.null_count:
        return False
    ok = pc.and_(
        pc.match_substring_regex(arr, "^[!-~]"), pc.match_substring_regex(arr, "[!-Y\\[-~]$")
    )
    return bool(pc.all(ok).as_py())


#: ISO 8601 extended dates and times that numpy's ``datetime64`` reads as ``datetime`` does.
ISO_EXTENDED = (
    r"\d{4}-\d{2}-\d{2}(?:[T ](?:[01]\d|2[0-3]):[0-5]\d(?::[0-5]\d(?:\.\d{1,6})?)?)?"
)


def iso_extended_text(values: Sequence[Any]) -> bool:
    """True when every value is text fully matching :data:`ISO_EXTENDED` (no zone, no blank):
    the only form the numpy fast path of ``parse_times_us`` may read (numpy also reads
    ``"20210612"`` as a year, ``"now"`` as the clock)."""
    mods = _modules()
    if mods is None:
        return False
    pa, pc = mods
    try:
        arr = pa.array(values, type=pa.string())
    except (pa.ArrowException, UnicodeError, TypeError):
        return False
    if arr.null_count:
        return False
    return bool(pc.all(pc.match_substring_regex(arr, f"^{ISO_EXTENDED}$")).as_py())


def group_order(codes: IntArray, ids: Sequence[Any]) -> tuple[IntArray, Any, bool] | None:
    """Row order by group code, then by id (code point order) inside each group; the ids as a
    pyarrow array; and True when the ids are known to be unique (False: not known).
    None when pyarrow is missing or an id is None or not text.

    Ids are compared only inside their group: by their UTF-8 bytes, 8 at a time as big-endian
    integers (byte order is code point order), then by length; only rows still tied go on to
    the next 8 bytes. Equal ids in one group stay tied (callers check that ids are unique).
    """
    mods = _modules()
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
