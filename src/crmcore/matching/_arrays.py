"""Small numpy helpers used on hot paths."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["unique_sorted"]


def unique_sorted(values: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """Sorted distinct values of an integer array.

    Sort-based: numpy 2.x's hash-based ``np.unique`` is many times slower on large int arrays.
    """
    if len(values) == 0:
        return np.asarray(values, dtype=np.int64)
    s = np.sort(values)
    out: npt.NDArray[np.int64] = s[np.concatenate(([True], s[1:] != s[:-1]))]
    return out
