"""Term-frequency tables: sharing a rare value weighs more than sharing a common one.

The adjustment is ``log2(s / p_v)``, where ``p_v`` is the share of records with value ``v`` and
``s = sum(p_v**2)`` the chance two random records share a value. Tables are built for exact
levels flagged ``tf=True`` when a model is trained, and every scoring path (batch, real time,
Spark) uses :meth:`TermFrequencies.adjustments`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import repeat
from typing import Any, cast

import attrs
import numpy as np
import numpy.typing as npt

from crmcore.errors import MatchingConfigError
from crmcore.io._arrow import unique_sorted
from crmcore.matching._expressions import Frame
from crmcore.model import SpecCodec

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

@attrs.frozen
class TermFrequencies:
    """Value frequencies of one expression, for term-frequency adjustment.

    Args:
        expression: The field expression counted.
        counts: Value -> number of records with it (values seen once may be left out).
        total: Records with a value.
        agreement: Chance two random records share a value (``sum(p_v ** 2)``).
    """

    expression: str
    counts: Mapping[str, int]
    total: int
    agreement: float

    @classmethod
    def from_frame(cls, frame: Frame, expression: str) -> TermFrequencies:
        """Count the values of an expression in a frame."""
        codes = frame.codes(expression)
        per_code = np.bincount(codes[codes >= 0], minlength=1)  # no sort: codes are small
        uniq = np.flatnonzero(per_code)
        counts = per_code[uniq]
        total = int(counts.sum())
        agreement = float(((counts / total) ** 2).sum()) if total else 0.0
        keep = counts >= 2
        table = dict(zip(frame.texts(uniq[keep]), counts[keep].tolist(), strict=True))
        return cls(expression, table, total, agreement)

    def adjustments(self, values: Sequence[str | None]) -> FloatArray:
        """Weight adjustment (bits) for sharing each value: ``log2(agreement * total / count)``,
        a value not in the table counting once; 0 for ``None`` (the one formula every scoring
        path uses, so a pair gets the same bits in batch and in real time)."""
        out = np.zeros(len(values))
        if self.total == 0 or self.agreement <= 0:
            return out
        get = self.counts.get
        if None not in values:  # one C-level scan; then the counts in one C-level pass
            text = cast(Sequence[str], values)
            counts = np.fromiter(map(get, text, repeat(1)), dtype=np.float64, count=len(text))
            out[:] = self._bits(counts)
            return out
        present = [i for i, v in enumerate(values) if v is not None]
        counts = np.array([get(v, 1) for v in values if v is not None], dtype=np.float64)
        out[present] = self._bits(counts)
        return out

    def _bits(self, counts: FloatArray) -> FloatArray:
        """``log2(agreement * total / count)`` per count: the formula, in one place."""
        bits: FloatArray = np.log2(self.agreement * self.total / counts)
        return bits

    def adjustment_per_code(self, frame: Frame, codes: IntArray | None = None) -> FloatArray:
        """Weight adjustment (bits) for each code of the frame's shared dictionary: for the
        distinct ``codes`` given (e.g. those of the pairs that share a value), else for every
        code the expression takes; 0 for the others."""
        if codes is None:
            codes = self.frame_codes(frame)
        out = np.zeros(max(frame.n_distinct, 1))
        out[codes] = self.adjustments(frame.texts(codes))
        return out

    def frame_codes(self, frame: Frame) -> IntArray:
        """Distinct codes the expression takes in the frame."""
        codes = frame.codes(self.expression)
        return unique_sorted(codes[codes >= 0])

    def adjustment(self, value: str | None) -> float:
        """Weight adjustment (bits) for sharing one value (see :meth:`adjustments`)."""
        if value is None or self.total == 0 or self.agreement <= 0:
            return 0.0
        count = np.array([self.counts.get(value, 1)], dtype=np.float64)
        return float(self._bits(count)[0])

    def without(self, taken: Mapping[str, int]) -> TermFrequencies:
        """The table without some records' values (``taken``: value -> records left out).

        Counts drop by the records taken (never below zero), ``total`` by their number, and the
        agreement ``sum(p_v ** 2)`` is updated exactly from ``sum(count ** 2)``; a value left
        with a count under 2 leaves the table (values seen once are not kept, as in
        :meth:`from_frame`). A value absent from the table counts as seen once (or as often as
        it is taken, if more).

        Example:
            >>> t = TermFrequencies("city", {"paris": 3, "oslo": 2}, total=6, agreement=14 / 36)
            >>> t.without({"paris": 1}).counts, t.without({"paris": 1}).total
            ({'paris': 2, 'oslo': 2}, 5)
        """
        if not taken:
            return self
        counts = dict(self.counts)
        squares = self.agreement * self.total**2
        removed = 0
        for value, k in taken.items():
            had = max(int(counts.get(value, 1)), k)
            removed += k
            squares -= had**2 - (had - k) ** 2
            if had - k >= 2:
                counts[value] = had - k
            else:
                counts.pop(value, None)
        total = max(self.total - removed, 0)
        agreement = max(squares, 0.0) / total**2 if total else 0.0
        return attrs.evolve(self, counts=counts, total=total, agreement=agreement)

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        return TERM_FREQUENCIES.to_dict(self)


def tf_bonus(tf: Mapping[tuple[int, int], TermFrequencies]) -> dict[tuple[int, int], float]:
    """Largest term-frequency adjustment (bits) of every TF level: a value seen once."""
    return {k: t.adjustment("\x00no such value\x00") for k, t in tf.items()}


#: The dict form of a term-frequency table.
TERM_FREQUENCIES = SpecCodec("tf", key=None, error=MatchingConfigError.from_problems)
TERM_FREQUENCIES.register(TermFrequencies)
