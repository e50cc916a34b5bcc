"""Field expressions and the prepared columnar frame that blocking and comparisons read.

A *field expression* is a small text formula over a prepared column: ``"last_name"``,
``"prefix(last_name, 3)"``, ``"metaphone(canonical_given(first_name))"``, ``"email_local(email)"``,
``"last_digits(phone, 7)"``. Expressions are plain strings, so blocking rules and comparisons stay
declarative and serialise to JSON as they are.

A :class:`Frame` holds the prepared columns of one table (or of two tables stacked for linkage).
Every value, of every column and expression, is coded in ONE shared dictionary of distinct strings,
so codes compare across columns (``first_name`` of one record against ``last_name`` of another)
and every function runs once per distinct value, never once per row. Expressions the engine
only compares with themselves (a phone number, an email address: equality, blocking keys, a
similarity of the same expression) may be coded *apart*: their distinct values get codes of their
own in the dictionary without a look-up (a million addresses are not hashed into it).

The functions available in expressions are listed in
:data:`~crmcore.matching._functions.EXPRESSION_FUNCTIONS` (module ``_functions``); each maps one
text value to a text value or ``None``. ``tokens(...)`` is multi-valued (used by blocking only).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from functools import cache, lru_cache
from itertools import compress, count, repeat
from typing import Any, cast

import attrs
import numpy as np
import numpy.typing as npt

from crmcore.errors import MatchingConfigError
from crmcore.io._arrow import (
    EncodedColumn,
    batch_map,
    batch_map_arrow,
    encode,
    release_arrow_memory,
    unique_sorted,
)
from crmcore.matching._functions import EXPRESSION_FUNCTIONS, MULTI_VALUED_FUNCTIONS, Value

IntArray = npt.NDArray[np.int64]

_CALL = re.compile(r"^\s*([a-z_][a-z0-9_]*)\s*\((.*)\)\s*$", re.S)
_NAME = re.compile(r"^\s*([A-Za-z_][\w .-]*?)\s*$")


@attrs.frozen
class Expression:
    """A parsed field expression: a column, or a function applied to an inner expression.

    Args:
        column: Name of the column at the bottom of the expression.
        function: Function name (``None`` for the bare column).
        argument: Integer argument of the function (``prefix(x, 3)``), if any.
        inner: The expression the function applies to (``None`` for the bare column).
    """

    column: str
    function: str | None = None
    argument: int | None = None
    inner: Expression | None = None

    @property
    def text(self) -> str:
        """The canonical text of the expression."""
        if self.function is None or self.inner is None:
            return self.column
        arg = f", {self.argument}" if self.argument is not None else ""
        return f"{self.function}({self.inner.text}{arg})"

    @property
    def multi_valued(self) -> bool:
        """Whether the outermost function yields several keys per value."""
        return self.function in MULTI_VALUED_FUNCTIONS

    def apply(self, inner: Value) -> Value:
        """The outermost function applied to a value of :attr:`inner` (``None`` stays ``None``;
        a bare column returns its value).

        Raises:
            MatchingConfigError: For a multi-valued expression (use :meth:`keys`).
        """
        if inner is None or self.function is None:
            return inner
        if self.multi_valued:
            raise MatchingConfigError(
                f"{self.text!r} is multi-valued; use it in blocking rules only"
            )
        fn, _ = EXPRESSION_FUNCTIONS[self.function]
        return fn(inner) if self.argument is None else fn(inner, self.argument)

    def evaluate(self, value: Value) -> Value:
        """The expression for one record whose :attr:`column` holds ``value``: the single-value
        form of :meth:`Frame.codes` (a function returning ``None`` makes the value missing).

        Example:
            >>> parse_expression("prefix(email_domain(email), 3)").evaluate("ann@example.com")
            'exa'
        """
        if self.inner is None:
            return value
        return self.apply(self.inner.evaluate(value))

    def keys(self, value: Value) -> tuple[str, ...]:
        """Every key of one record whose column holds ``value``: one value, none when missing,
        several for a multi-valued function (the single-record form of :meth:`Frame.exploded`).
        """
        if self.function is None or self.inner is None or not self.multi_valued:
            one = self.evaluate(value)
            return () if one is None else (one,)
        inner = self.inner.evaluate(value)
        if inner is None:
            return ()
        return tuple(v for v in MULTI_VALUED_FUNCTIONS[self.function](inner) if v is not None)


class RecordValues(dict[str, Value]):
    """One record's prepared values and the values of field expressions over them: the
    single-record form of :class:`Frame`, which the pairwise form of comparison levels reads.

    Built from the prepared columns; an expression is evaluated (with :meth:`Expression.apply`,
    from its inner expression's value) the first time it is read, then kept. ``memo``, shared by
    many records, keeps derived values per (expression, inner value): names and domains repeat.

    Args:
        columns: Column name -> prepared value (``None`` when missing).
        memo: Optional shared cache ``(expression text, inner value) -> value``.

    Raises:
        MatchingConfigError: When an expression names a column the record does not have, or is
            multi-valued.

    Example:
        >>> values = RecordValues({"email": "ann.lee+crm@example.com"})
        >>> values["email_local(email)"], values["email_domain( email )"]
        ('annlee', 'example.com')
    """

    __slots__ = ("_memo",)

    def __init__(
        self,
        columns: Mapping[str, Value],
        memo: dict[tuple[str, str], Value] | None = None,
    ) -> None:
        super().__init__(columns)
        self._memo = memo

    def __missing__(self, key: str) -> Value:
        expr = parse_expression(key)
        if expr.text != key:
            value = self[expr.text]
        elif expr.inner is None:
            raise MatchingConfigError(
                f"no column {expr.column!r} to match on; record values: {sorted(self)}"
            )
        else:
            inner = self[expr.inner.text]
            memo = self._memo
            if inner is None:
                value = None
            elif memo is None:
                value = expr.apply(inner)
            else:
                got = memo.get((key, inner), _ABSENT)
                value = expr.apply(inner) if got is _ABSENT else cast(Value, got)
                if got is _ABSENT:
                    memo[(key, inner)] = value
        self[key] = value
        return value


_ABSENT: Any = object()


@lru_cache(maxsize=4096)
def parse_expression(text: str) -> Expression:
    """Parse a field expression such as ``"prefix(last_name, 3)"``.

    Args:
        text: The expression.

    Returns:
        The parsed :class:`Expression`.

    Raises:
        MatchingConfigError: For an unknown function, a missing argument or bad syntax.

    Example:
        >>> parse_expression("metaphone( last_name )").text
        'metaphone(last_name)'
    """
    call = _CALL.match(text)
    if call is None:
        name = _NAME.match(text)
        if name is None:
            raise MatchingConfigError(f"field expression {text!r} is not a column or a call")
        return Expression(column=name.group(1))
    fn, body = call.group(1), call.group(2)
    argument: int | None = None
    head, comma, tail = body.rpartition(",")
    if comma and tail.strip().lstrip("-").isdigit() and head.count("(") == head.count(")"):
        body, argument = head, int(tail)
    if fn in MULTI_VALUED_FUNCTIONS:
        if argument is not None:
            raise MatchingConfigError(f"{fn}() takes no number in {text!r}")
    elif fn in EXPRESSION_FUNCTIONS:
        takes = EXPRESSION_FUNCTIONS[fn][1]
        if takes and argument is None:
            raise MatchingConfigError(f"{fn}() needs a number, e.g. {fn}(x, 3), in {text!r}")
        if not takes and argument is not None:
            raise MatchingConfigError(f"{fn}() takes no number in {text!r}")
    else:
        known = sorted([*EXPRESSION_FUNCTIONS, *MULTI_VALUED_FUNCTIONS])
        raise MatchingConfigError(f"unknown function {fn!r} in {text!r}; known: {known}")
    inner = parse_expression(body.strip())
    if inner.multi_valued:
        raise MatchingConfigError(f"{inner.function}() must be the outermost call in {text!r}")
    return Expression(column=inner.column, function=fn, argument=argument, inner=inner)


#: Columns at least this long are dictionary-encoded with pyarrow when it is installed.
_ARROW_MIN_ROWS = 20_000
#: Expressions over at least this many distinct values are evaluated in pyarrow.
_ARROW_MIN_DISTINCT = 2_000
#: After pyarrow work on this many distinct values, pyarrow's freed memory goes back to the OS.
_RELEASE_FROM = 100_000


@cache
def _has_arrow() -> bool:
    try:
        import pyarrow as pa  # noqa: F401
    except ImportError:  # pragma: no cover - exercised without the parquet extra
        return False
    return True


class Frame:
    """Prepared columns of a table, coded against one shared dictionary of distinct strings.

    Codes are ``int64`` with ``-1`` for a missing value. The frame is append-only and caches every
    expression it evaluates; it is an engine object, not a spec.

    Args:
        columns: Column name -> values (``str`` or ``None``), all of the same length.
        normalisers: Column -> normaliser applied once per distinct raw value.
        apart: Expressions coded apart: equal values of one such expression have equal codes,
            but a value may have another code in another expression (no dictionary look-up).
            Only for expressions no reader compares with another expression.
    """

    def __init__(
        self,
        columns: Mapping[str, Sequence[Value]],
        normalisers: Mapping[str, Callable[[str], Value]] | None = None,
        *,
        apart: Iterable[str] = (),
    ) -> None:
        lengths = {len(v) for v in columns.values()}
        if len(lengths) > 1:
            raise MatchingConfigError(f"prepared columns differ in length: {sorted(lengths)}")
        self.n_rows: int = lengths.pop() if lengths else 0
        self._lookup: dict[str, int] = {}
        self._strings: list[str | None] = []
        self._columns = dict(columns)
        self._normalisers = dict(normalisers or {})
        self._apart = frozenset(parse_expression(e).text for e in apart)
        self._codes: dict[str, IntArray] = {}
        self._multi: dict[str, tuple[IntArray, IntArray]] = {}
        self._dense: dict[str, tuple[npt.NDArray[Any], int]] = {}
        # the dictionary as an object array (code -> string), grown in place as it grows
        self._array: npt.NDArray[Any] = np.empty(0, dtype=object)
        self._array_n = 0
        self._made: npt.NDArray[np.bool_] = np.zeros(0, dtype=bool)
        # pyarrow copy of the dictionary (chunks in code order), filled as strings are added
        # from pyarrow results and caught up lazily for strings added from Python.
        self._arrow_chunks: list[Any] = []
        self._arrow_size = 0
        # codes apart whose Python strings are not made yet (None in _strings until needed):
        # (first code, pyarrow array of the strings); also in _arrow_chunks
        self._lazy: list[tuple[int, Any]] = []
        #: Column -> rows whose value the column's normaliser rejected (now missing).
        self.rejected: dict[str, IntArray] = {}

    # -- dictionary ---------------------------------------------------------------------------
    def _intern(self, value: str) -> int:
        code = self._lookup.get(value)
        if code is None:
            code = len(self._strings)
            self._lookup[value] = code
            self._strings.append(value)
        return code

    def _encode(
        self,
        values: Sequence[Value],
        normaliser: Callable[[str], Value] | None = None,
        *,
        apart: bool = False,
    ) -> IntArray:
        """Codes of values; the normaliser (if any) runs once per distinct raw value.

        Rows whose value the normaliser rejects get code ``-2`` (callers turn it into ``-1``).
        Long columns (and columns read with their encoding, :class:`EncodedColumn`) are
        encoded and normalised with pyarrow: no Python string per row is touched. ``apart``:
        new codes for the distinct values, without a dictionary look-up.
        """
        encoded = (
            encode(values)
            if isinstance(values, EncodedColumn) or len(values) >= _ARROW_MIN_ROWS
            else None
        )
        if encoded is not None:
            raw_distinct, index = encoded.dictionary, encoded.codes
            if normaliser is None:
                distinct_codes = self._intern_arrow(raw_distinct, distinct=True, apart=apart)
            else:
                distinct_codes = self._intern_arrow(
                    batch_map_arrow(normaliser, raw_distinct), apart=apart
                )
            table = np.empty(len(distinct_codes) + 1, dtype=np.int64)
            table[:-1] = distinct_codes
            table[-1] = -1  # index -1 (missing) reads the last slot
            out: IntArray = table[index]
            if len(distinct_codes) >= _RELEASE_FROM:
                release_arrow_memory()
            return out
        distinct = list(dict.fromkeys(v for v in values if v is not None))
        normalised = distinct if normaliser is None else [normaliser(v) for v in distinct]
        interned = self._intern_apart(normalised) if apart else self._intern_all(normalised)
        code_of = dict(zip(distinct, interned.tolist(), strict=True))
        get = cast(Callable[[Value, int], int], code_of.get)
        return np.fromiter(map(get, values, repeat(-1)), dtype=np.int64, count=len(values))

    def _intern_all(self, values: Sequence[Value]) -> IntArray:
        """Codes of values in the shared dictionary, adding new ones (None -> ``-2``).

        Three C-level passes (find the new values, add them, look every value up) instead of a
        Python loop per value.
        """
        lookup = self._lookup
        fresh = dict.fromkeys(v for v in values if v is not None and v not in lookup)
        if fresh:
            start = len(self._strings)
            lookup.update(zip(fresh, range(start, start + len(fresh)), strict=True))
            self._strings.extend(fresh)
        get = cast(Callable[[Value, int], int], lookup.get)
        return np.fromiter(map(get, values, repeat(-2)), dtype=np.int64, count=len(values))

    def _intern_apart(self, values: Sequence[Value]) -> IntArray:
        """Codes of values given apart from the dictionary (None -> ``-2``): each distinct value
        a new code, in order of first appearance, without a look-up."""
        fresh = dict.fromkeys(v for v in values if v is not None)
        start = len(self._strings)
        code_of = dict(zip(fresh, range(start, start + len(fresh)), strict=True))
        self._strings.extend(fresh)
        get = cast(Callable[[Value, int], int], code_of.get)
        return np.fromiter(map(get, values, repeat(-2)), dtype=np.int64, count=len(values))

    def _add_apart(self, arr: Any) -> IntArray:
        """New codes for DISTINCT values (a pyarrow string array without nulls), in order,
        without a dictionary look-up (see :meth:`_intern_apart`). Their Python strings are
        made when first read (:meth:`texts`)."""
        self._sync_arrow()
        start = len(self._strings)
        n = len(arr)
        self._strings.extend(repeat(None, n))
        self._arrow_chunks.append(arr)
        self._arrow_size += n
        self._lazy.append((start, arr))
        return np.arange(start, start + n, dtype=np.int64)

    def _sync_arrow(self) -> None:
        """Catch the pyarrow copy of the dictionary up with strings added from Python."""
        if self._arrow_size < len(self._strings):
            import pyarrow as pa

            self._arrow_chunks.append(
                pa.array(self._strings[self._arrow_size:], type=pa.string())
            )
            self._arrow_size = len(self._strings)

    def _python_strings(self) -> list[str | None]:
        """The dictionary as Python strings, every one made (code -> string)."""
        for start, arr in self._lazy:
            end = start + len(arr)
            self._strings[start:end] = arr.to_pylist()
            if self._array_n > start:
                stop = min(end, self._array_n)
                self._array[start:stop] = self._strings[start:stop]
                self._made[start:stop] = True
        self._lazy = []
        return self._strings

    def _string_array(self) -> npt.NDArray[Any]:
        """The dictionary as an object array (None for strings not made yet, see ``_made``);
        it grows in place (by half) as strings are added, so reading it copies nothing."""
        n = len(self._strings)
        if len(self._array) < n:
            size = max(n, len(self._array) * 3 // 2)
            grown = np.empty(size, dtype=object)
            grown[: self._array_n] = self._array[: self._array_n]
            made = np.zeros(size, dtype=bool)
            made[: self._array_n] = self._made[: self._array_n]
            self._array, self._made = grown, made
        old = self._array_n
        if old < n:
            self._array[old:n] = self._strings[old:n]
            self._made[old:n] = True
            for start, arr in self._lazy:
                if start + len(arr) > old:
                    self._made[max(start, old) : start + len(arr)] = False
            self._array_n = n
        return self._array[:n]

    def texts(self, codes: IntArray) -> list[str]:
        """The strings of codes (each >= 0): ``strings()[codes].tolist()``, making the Python
        strings of values coded apart for these codes only (once: they are kept)."""
        texts: list[str] = self.text_array(codes).tolist()
        return texts

    def text_array(self, codes: IntArray) -> npt.NDArray[Any]:
        """:meth:`texts` as an object array: no list of millions of strings for the garbage
        collector to walk (an object array is not one of its containers)."""
        arr = self._string_array()
        if self._lazy:
            need = codes[~self._made[codes]]
            if len(need):
                import pyarrow as pa

                mark = np.zeros(len(arr), dtype=bool)
                mark[need] = True
                need = np.flatnonzero(mark)  # distinct, sorted
                for start, chunk in self._lazy:
                    lo, hi = np.searchsorted(need, [start, start + len(chunk)])
                    if hi > lo:
                        part = need[lo:hi]
                        arr[part] = chunk.take(pa.array(part - start)).to_pylist()
                        self._made[part] = True
        return arr[codes]

    def _intern_distinct(self, values: list[str], arrow: Any = None) -> IntArray:
        """Codes of DISTINCT non-missing values, adding the new ones in order (as
        :meth:`_intern_all` does) in one dictionary pass: ``setdefault`` proposes the next free
        code to every value; the proposals that stuck are the new values, renumbered without
        gaps when some values were known. ``arrow`` is the same values as a pyarrow array."""
        lookup = self._lookup
        start = len(self._strings)
        m = len(values)
        res = np.fromiter(
            map(lookup.setdefault, values, count(start)), dtype=np.int64, count=m
        )
        fresh = res >= start  # known values have codes below start
        n_fresh = int(fresh.sum())
        if n_fresh == 0:
            return res
        new_values = values
        new_arrow = arrow
        if n_fresh < m:
            res[fresh] = np.arange(start, start + n_fresh, dtype=np.int64)
            new_values = list(compress(values, fresh.tolist()))
            lookup.update(zip(new_values, range(start, start + n_fresh), strict=True))
            if arrow is not None:
                import pyarrow as pa

                new_arrow = arrow.filter(pa.array(fresh))
        self._strings.extend(new_values)
        if new_arrow is not None and self._arrow_size == start:
            self._arrow_chunks.append(new_arrow)
            self._arrow_size += n_fresh
        return res

    def _intern_arrow(self, arr: Any, *, distinct: bool = False, apart: bool = False) -> IntArray:
        """Codes of a pyarrow string array (null -> ``-2``), adding new values in order of
        first appearance. ``distinct``: the array has no nulls and no repeats; ``apart``: new
        codes without a dictionary look-up."""
        if distinct:
            return self._add_apart(arr) if apart else self._intern_distinct(arr.to_pylist(), arr)
        encoded = arr.dictionary_encode()
        uniq = encoded.dictionary
        table = np.empty(len(uniq) + 1, dtype=np.int64)
        table[:-1] = (
            self._add_apart(uniq) if apart else self._intern_distinct(uniq.to_pylist(), uniq)
        )
        table[-1] = -2
        index = encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False)
        out: IntArray = table[index]
        return out

    def _intern_mapped(
        self, codes: IntArray, fn: Callable[[str], Value], *, apart: bool = False,
        reuse: bool = True,
    ) -> IntArray:
        """Codes of ``fn`` of the strings of SORTED codes (None -> ``-1``), in pyarrow.

        Results equal to their input (``digits`` of digits, ``lower`` of lower case text) keep
        the input's code without a dictionary look-up (when ``reuse``: the input's codes are
        the dictionary's); only the others are interned. ``apart``: the results get codes of
        their own (see :class:`Frame`).
        """
        import pyarrow as pa
        import pyarrow.compute as pc

        source = self._take_strings(codes)
        mapped = batch_map_arrow(fn, source)
        if apart or not reuse:
            out = self._intern_arrow(mapped, apart=apart)
            out[out == -2] = -1
            if len(codes) >= _RELEASE_FROM:
                release_arrow_memory()
            return out
        same = pc.equal(source, mapped).fill_null(False).to_numpy(zero_copy_only=False)
        if same.all():
            out = codes.copy()
        elif not same.any():
            out = self._intern_arrow(mapped)
        else:  # the unchanged values are known, so the new ones keep their order
            out = np.empty(len(codes), dtype=np.int64)
            out[same] = codes[same]
            out[~same] = self._intern_arrow(mapped.filter(pa.array(~same)))
        out[out == -2] = -1
        if len(codes) >= _RELEASE_FROM:
            release_arrow_memory()
        return out

    def _take_strings(self, codes: IntArray) -> Any:
        """The strings of SORTED codes as a pyarrow string array."""
        import pyarrow as pa

        self._sync_arrow()
        parts = []
        base = 0
        for chunk in self._arrow_chunks:
            lo, hi = np.searchsorted(codes, [base, base + len(chunk)])
            if hi > lo:
                parts.append(chunk.take(pa.array(codes[lo:hi] - base)))
            base += len(chunk)
        if not parts:
            return pa.array([], type=pa.string())
        return parts[0] if len(parts) == 1 else pa.concat_arrays(parts)

    @property
    def n_distinct(self) -> int:
        """Number of distinct strings in the shared dictionary."""
        return len(self._strings)

    def strings(self) -> npt.NDArray[Any]:
        """The shared dictionary as an object array (code -> string)."""
        self._python_strings()
        return self._string_array()

    def string(self, code: int) -> str | None:
        """The string of one code (``None`` for ``-1``)."""
        return None if code < 0 else self.texts(np.array([code], dtype=np.int64))[0]

    def has_column(self, name: str) -> bool:
        """Whether the frame has a prepared column of this name."""
        return name in self._columns

    @property
    def column_names(self) -> list[str]:
        """Names of the prepared columns."""
        return list(self._columns)

    # -- expressions --------------------------------------------------------------------------
    def codes(self, expression: str | Expression) -> IntArray:
        """Codes of an expression, one per row (``-1`` where the value is missing).

        Raises:
            MatchingConfigError: If the expression names a missing column or is multi-valued.
        """
        expr = parse_expression(expression) if isinstance(expression, str) else expression
        key = expr.text
        cached = self._codes.get(key)
        if cached is not None:
            return cached
        if expr.multi_valued:
            raise MatchingConfigError(f"{key!r} is multi-valued; use it in blocking rules only")
        if expr.function is None or expr.inner is None:
            if expr.column not in self._columns:
                raise MatchingConfigError(
                    f"no column {expr.column!r} to match on; prepared columns: {self.column_names}"
                )
            result = self._encode(
                self._columns[expr.column], self._normalisers.get(expr.column),
                apart=key in self._apart,
            )
            bad = result == -2
            if bad.any():
                self.rejected[expr.column] = np.flatnonzero(bad)
                result[bad] = -1
        else:
            inner = self.codes(expr.inner)
            fn, _ = EXPRESSION_FUNCTIONS[expr.function]
            distinct = unique_sorted(inner[inner >= 0])
            apart = key in self._apart
            if expr.argument is None and len(distinct) >= _ARROW_MIN_DISTINCT and _has_arrow():
                # In pyarrow from end to end: kernel, distinct results, then one dictionary pass.
                new_codes = self._intern_mapped(
                    distinct, fn, apart=apart, reuse=expr.inner.text not in self._apart
                )
            elif expr.argument is None:
                new_codes = self._encode(batch_map(fn, self.texts(distinct)), apart=apart)
            else:
                mapped = [fn(text, expr.argument) for text in self.texts(distinct)]
                new_codes = self._encode(mapped, apart=apart)
            table = np.full(len(self._strings) + 1, -1, dtype=np.int64)
            table[distinct] = new_codes
            result = table[inner]  # code -1 (missing) reads the last slot (-1)
        self._codes[key] = result
        return result

    def dense_codes(self, expression: str | Expression) -> tuple[npt.NDArray[Any], int]:
        """Codes of an expression renumbered ``0..k-1`` in code order (``-1`` where missing),
        and ``k``, the number of its distinct values: small keys to combine (blocking).
        The codes are int32 when they fit (widen before arithmetic)."""
        expr = parse_expression(expression) if isinstance(expression, str) else expression
        cached = self._dense.get(expr.text)
        if cached is not None:
            return cached
        codes = self.codes(expr)
        distinct = unique_sorted(codes[codes >= 0])
        small = np.int32 if len(distinct) < 2**31 - 1 else np.int64  # half the memory
        table = np.full(max(self.n_distinct, 1) + 1, -1, dtype=small)
        table[distinct] = np.arange(len(distinct), dtype=small)
        got = (table[codes], len(distinct))  # code -1 reads the last slot (-1)
        self._dense[expr.text] = got
        return got

    def exploded(self, expression: str | Expression) -> tuple[IntArray, IntArray]:
        """Rows and key codes of a multi-valued expression (one entry per row and key)."""
        expr = parse_expression(expression) if isinstance(expression, str) else expression
        if not expr.multi_valued or expr.inner is None or expr.function is None:
            codes = self.codes(expr)
            rows = np.flatnonzero(codes >= 0)
            return rows, codes[rows]
        key = expr.text
        cached = self._multi.get(key)
        if cached is not None:
            return cached
        inner = self.codes(expr.inner)
        fn = MULTI_VALUED_FUNCTIONS[expr.function]
        distinct = unique_sorted(inner[inner >= 0])
        per_value = [self._encode(fn(text)) for text in self.texts(distinct)]
        lengths = np.zeros(max(len(self._strings), 1), dtype=np.int64)
        lengths[distinct] = [len(p) for p in per_value]
        starts = np.zeros_like(lengths)
        flat = np.concatenate(per_value) if per_value else np.zeros(0, dtype=np.int64)
        starts[distinct] = np.cumsum([0, *[len(p) for p in per_value]])[:-1]
        present = np.flatnonzero(inner >= 0)
        counts = lengths[inner[present]]
        rows = np.repeat(present, counts)
        offsets = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
        keys = flat[np.repeat(starts[inner[present]], counts) + offsets]
        self._multi[key] = (rows, keys)
        return rows, keys

    def row_values(self, row: int) -> FrameRow:
        """One row as values by expression (read through the frame's codes)."""
        return FrameRow(self, row)

    def values(self, expression: str | Expression, rows: IntArray | None = None) -> list[Value]:
        """Values of an expression as text (optionally for some rows only)."""
        codes = self.codes(expression)
        if rows is not None:
            codes = codes[rows]
        present = codes >= 0
        out = np.full(len(codes), None, dtype=object)
        out[present] = self.texts(codes[present])
        values: list[Value] = out.tolist()
        return values


class FrameRow(Mapping[str, Value]):
    """One row of a :class:`Frame` as a read-only mapping from expression to value (the
    columnar counterpart of :class:`RecordValues`; what :meth:`Frame.row_values` returns).

    Args:
        frame: The frame.
        row: The row.
    """

    def __init__(self, frame: Frame, row: int) -> None:
        self.frame = frame
        self.row = row

    def __getitem__(self, expression: str) -> Value:
        return self.frame.string(int(self.frame.codes(expression)[self.row]))

    def __iter__(self) -> Iterator[str]:
        return iter(self.frame.column_names)

    def __len__(self) -> int:
        return len(self.frame.column_names)
