"""Storage structures of a match index: growable arrays, the value dictionary, the inverted index
of each blocking rule and the match links, all held as numpy arrays (compressed-sparse-row where
built in bulk) with small overlays for later writes.

Memory: block keys are kept as 64-bit BLAKE2b hashes in sorted CSR arrays, and the dictionary of
normalised values as one UTF-8 buffer with offsets, decoded only for the candidates a look-up
scores. Record and entity ids live in numpy object arrays, which Python's cycle collector does not
walk. A hash collision between two different keys (about 1 in 10^12 per look-up at a million
records) can only add a candidate, scored as usual.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from crmcore.matching._blocking import BlockOn
from crmcore.matching._expressions import Frame

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
#: Separator of the expression values of a multi-expression block key.
SEP = "\x1f"


class Growable:
    """An int64 (or object) array with amortised O(1) append."""

    def __init__(self, values: npt.NDArray[Any]) -> None:
        self._data = values
        self.n = len(values)

    def view(self) -> npt.NDArray[Any]:
        return self._data[: self.n]

    def append(self, value: Any) -> None:
        if self.n == len(self._data):
            grown = np.empty(max(16, 2 * len(self._data)), dtype=self._data.dtype)
            grown[: self.n] = self._data[: self.n]
            self._data = grown
        self._data[self.n] = value
        self.n += 1


class Texts(Growable):
    """A growable list of texts held in a numpy object array.

    Python's cycle collector walks every element of a list on each full collection (a million
    record ids and a million entity ids cost tens of milliseconds, paid by whichever ``match``
    call triggers it); it does not walk numpy arrays.
    """

    def __init__(self, values: Iterable[str] = ()) -> None:
        items = list(values)
        data = np.empty(len(items), dtype=object)
        data[:] = items
        super().__init__(data)

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> str:
        if not 0 <= i < self.n:
            raise IndexError(i)
        text: str = self._data[i]
        return text

    def __setitem__(self, i: int, value: str) -> None:
        if not 0 <= i < self.n:
            raise IndexError(i)
        self._data[i] = value

    def __iter__(self) -> Iterator[str]:
        return iter(self._data[: self.n].tolist())


def hash_key(key: str) -> int:
    """Stable signed 64-bit hash of a block key (BLAKE2b; the same in every process)."""
    return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "little",
                          signed=True)


def group_csr(hashes: IntArray, positions: IntArray) -> tuple[IntArray, IntArray, IntArray]:
    """CSR form of (hash, position) entries: sorted distinct hashes, offsets, sorted positions."""
    if len(hashes) == 0:
        return (np.zeros(0, dtype=np.int64), np.zeros(1, dtype=np.int64),
                np.zeros(0, dtype=np.int64))
    order = np.lexsort((positions, hashes))
    h, pos = hashes[order], positions[order]
    keep = np.ones(len(h), dtype=bool)
    keep[1:] = (h[1:] != h[:-1]) | (pos[1:] != pos[:-1])
    h, pos = h[keep], pos[keep]
    starts = np.flatnonzero(np.concatenate(([True], h[1:] != h[:-1])))
    offsets = np.concatenate((starts, [len(h)])).astype(np.int64)
    return h[starts].astype(np.int64), offsets, pos.astype(np.int64)


class Blocks:
    """Inverted index of one rule: key hash -> positions.

    The part built or loaded in bulk is CSR arrays (sorted hashes, offsets, positions: no Python
    object per key, so a million records cost a few arrays); later adds and removals are small
    dict overlays, folded back into arrays by :meth:`csr` when the index is saved.
    """

    def __init__(self, hashes: IntArray, offsets: IntArray, positions: IntArray) -> None:
        self.hashes = hashes
        self.offsets = offsets
        self.positions = positions
        self.extra: dict[int, list[int]] = {}
        self.removed: dict[int, set[int]] = {}

    def _slot(self, h: int) -> int:
        i = int(np.searchsorted(self.hashes, h))
        return i if i < len(self.hashes) and int(self.hashes[i]) == h else -1

    def lookup(self, h: int) -> IntArray | None:
        i = self._slot(h)
        more = self.extra.get(h)
        if i < 0 and not more:
            return None
        pos = (self.positions[self.offsets[i] : self.offsets[i + 1]] if i >= 0
               else np.zeros(0, dtype=np.int64))
        if more:
            pos = np.concatenate((pos, np.asarray(more, dtype=np.int64)))
        gone = self.removed.get(h)
        if gone:
            pos = pos[~np.isin(pos, np.fromiter(gone, dtype=np.int64, count=len(gone)))]
        return pos

    def add(self, h: int, pos: int) -> None:
        gone = self.removed.get(h)
        if gone is not None and pos in gone:
            gone.discard(pos)
        else:
            self.extra.setdefault(h, []).append(pos)

    def discard(self, h: int, pos: int) -> None:
        more = self.extra.get(h)
        if more is not None and pos in more:
            more.remove(pos)
        elif self._slot(h) >= 0:
            self.removed.setdefault(h, set()).add(pos)

    def csr(self, keep: npt.NDArray[np.bool_], new_pos: IntArray) -> tuple[IntArray, IntArray,
                                                                              IntArray]:
        """Compacted CSR form: positions of live records renumbered by ``new_pos``."""
        sizes = np.diff(self.offsets)
        h = np.repeat(self.hashes, sizes)
        pos = self.positions
        if self.removed:
            slot = np.repeat(np.arange(len(self.hashes), dtype=np.int64), sizes)
            n = max(len(keep), 1)
            gone = np.array([self._slot(k) * n + p for k, ps in self.removed.items() for p in ps],
                            dtype=np.int64)
            live = ~np.isin(slot * n + pos, gone)
            h, pos = h[live], pos[live]
        if self.extra:
            eh = [k for k, ps in self.extra.items() for _ in ps]
            ep = [p for ps in self.extra.values() for p in ps]
            h = np.concatenate((h, np.array(eh, dtype=np.int64)))
            pos = np.concatenate((pos, np.array(ep, dtype=np.int64)))
        ok = keep[pos] if len(pos) else np.zeros(0, dtype=bool)
        return group_csr(h[ok], new_pos[pos[ok]])


class Links:
    """Match links between record positions (undirected, with a weight).

    Links built or loaded in bulk stay in CSR arrays; a record's links become a small dict the
    first time a write touches them (from then on the dict is authoritative for that record).
    Loading a million records thus costs a few array operations, not a dict per record.
    """

    def __init__(self, n: int, a: IntArray, b: IntArray, w: FloatArray) -> None:
        src = np.concatenate((a, b)).astype(np.int64)
        dst = np.concatenate((b, a)).astype(np.int64)
        wt = np.concatenate((w, w)).astype(np.float64)
        order = np.argsort(src, kind="stable")
        self.n = n
        self.dst = dst[order]
        self.w = wt[order]
        self.offsets = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(np.bincount(src, minlength=n)[:n], out=self.offsets[1:])
        self.touched: dict[int, dict[int, float]] = {}

    def of(self, p: int) -> Mapping[int, float]:
        """Links of a record (read only)."""
        got = self.touched.get(p)
        if got is not None:
            return got
        if p >= self.n or self.offsets[p] == self.offsets[p + 1]:
            return {}
        lo, hi = int(self.offsets[p]), int(self.offsets[p + 1])
        return dict(zip(self.dst[lo:hi].tolist(), self.w[lo:hi].tolist(), strict=True))

    def mut(self, p: int) -> dict[int, float]:
        """Links of a record, as a dict the caller may change."""
        got = self.touched.get(p)
        if got is None:
            got = dict(self.of(p))
            self.touched[p] = got
        return got

    def link(self, a: int, b: int, weight: float) -> None:
        self.mut(a)[b] = weight
        self.mut(b)[a] = weight

    def unlink(self, a: int, b: int) -> None:
        self.mut(a).pop(b, None)
        self.mut(b).pop(a, None)

    def edges(self) -> tuple[IntArray, IntArray, FloatArray]:
        """Every link once, as (a, b, weight) with a < b."""
        src = np.repeat(np.arange(self.n, dtype=np.int64), np.diff(self.offsets))
        keep = src < self.dst
        if self.touched:
            t = np.fromiter(self.touched, dtype=np.int64, count=len(self.touched))
            keep &= ~np.isin(src, t) & ~np.isin(self.dst, t)
        ea, eb, ew = [src[keep]], [self.dst[keep]], [self.w[keep]]
        xa: list[int] = []
        xb: list[int] = []
        xw: list[float] = []
        for p, nb in self.touched.items():
            for q, wt in nb.items():
                if p < q or q not in self.touched:
                    xa.append(min(p, q))
                    xb.append(max(p, q))
                    xw.append(wt)
        ea.append(np.array(xa, dtype=np.int64))
        eb.append(np.array(xb, dtype=np.int64))
        ew.append(np.array(xw, dtype=np.float64))
        return np.concatenate(ea), np.concatenate(eb), np.concatenate(ew)


def no_links() -> Links:
    empty = np.zeros(0, dtype=np.int64)
    return Links(0, empty, empty, np.zeros(0, dtype=np.float64))


class Strings:
    """The shared value dictionary: code -> text.

    The bulk part is one UTF-8 buffer with offsets (decoded on demand: a lookup reads only the
    few candidates' values, and a million records cost two arrays rather than millions of Python
    strings); values added later are a plain list after it. Values are not de-duplicated.
    """

    def __init__(self, blob: bytes, offsets: IntArray) -> None:
        self.blob = blob
        self.offsets = offsets
        self.n_bulk = len(offsets) - 1
        self.extra: list[str] = []

    @classmethod
    def from_list(cls, values: Sequence[str]) -> Strings:
        encoded = [v.encode() for v in values]
        offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
        np.cumsum([len(e) for e in encoded], out=offsets[1:])
        return cls(b"".join(encoded), offsets)

    def __len__(self) -> int:
        return self.n_bulk + len(self.extra)

    def get(self, code: int) -> str | None:
        if code < 0:
            return None
        if code < self.n_bulk:
            return self.blob[self.offsets[code] : self.offsets[code + 1]].decode()
        return self.extra[code - self.n_bulk]

    def append(self, value: str) -> int:
        self.extra.append(value)
        return len(self) - 1

    def subset(self, codes: IntArray) -> tuple[bytes, IntArray]:
        """The values of sorted distinct codes as (UTF-8 buffer, offsets): new code ``i`` is old
        code ``codes[i]``. Bulk values are copied as bytes with one numpy gather."""
        bulk = codes[codes < self.n_bulk]
        starts = self.offsets[bulk]
        lengths = self.offsets[bulk + 1] - starts
        offsets = np.zeros(len(bulk) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        gather = np.arange(int(offsets[-1]), dtype=np.int64) + np.repeat(starts - offsets[:-1],
                                                                         lengths)
        blob = np.frombuffer(self.blob, dtype=np.uint8)[gather].tobytes()
        later = codes[codes >= self.n_bulk] - self.n_bulk
        if len(later):
            more = Strings.from_list([self.extra[c] for c in later.tolist()])
            offsets = np.concatenate((offsets, offsets[-1] + more.offsets[1:])).astype(np.int64)
            blob += more.blob
        return blob, offsets

    def compact(self) -> tuple[bytes, IntArray]:
        """All values as (UTF-8 buffer, offsets)."""
        if not self.extra:
            return self.blob, self.offsets
        more = Strings.from_list(self.extra)
        offsets = np.concatenate((self.offsets, self.offsets[-1] + more.offsets[1:]))
        return self.blob + more.blob, offsets.astype(np.int64)


def rule_csr(rule: BlockOn, frame: Frame) -> tuple[IntArray, IntArray, IntArray]:
    """Inverted index of one rule over a whole frame: (sorted key hashes, offsets, positions)."""
    rows, parts = rule.key_parts(frame)
    if len(rows) == 0:
        return group_csr(rows, rows)
    combined = np.zeros(len(rows), dtype=np.int64)
    for codes in parts:
        _, inv = np.unique(codes, return_inverse=True)
        inv = inv.reshape(-1).astype(np.int64)
        combined = np.unique(combined * (int(inv.max()) + 1) + inv, return_inverse=True)[1]
        combined = combined.reshape(-1).astype(np.int64)
    n_keys = int(combined.max()) + 1
    first = np.full(n_keys, len(rows), dtype=np.int64)
    np.minimum.at(first, combined, np.arange(len(rows), dtype=np.int64))
    strings = frame.strings()
    texts = [strings[p[first]].tolist() for p in parts]
    keys = (texts[0] if len(texts) == 1
            else [SEP.join(rule.arrange(t)) for t in zip(*texts, strict=True)])
    key_hash = np.fromiter((hash_key(k) for k in keys), dtype=np.int64, count=n_keys)
    return group_csr(key_hash[combined], rows)
