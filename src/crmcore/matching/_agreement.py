"""Whether candidate pairs agree on a blocking rule: the per-pair test the EM sessions use
(a session counts the pairs a rule would have blocked), batch and Spark alike.

Blocking itself (:mod:`crmcore.matching._blocking`) generates pairs from keys; this module asks
the converse for pairs that are already there.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from crmcore.errors import MatchingConfigError
from crmcore.io._arrow import unique_sorted
from crmcore.matching._blocking import BlockingRule, BlockOn, combined_key, value_keys
from crmcore.matching._expressions import Expression, Frame, parse_expression

IntArray = npt.NDArray[np.int64]


def rule_agrees(
    rule: BlockingRule,
    frame: Frame,
    left: IntArray,
    right: IntArray,
    *,
    equal: dict[str, npt.NDArray[np.bool_]] | None = None,
) -> npt.NDArray[np.bool_]:
    """Whether each pair agrees on an exact-key rule (multi-valued rules: any shared key), in
    a block the rule pairs (``max_block_size``: blocks over the cap do not count).

    ``equal``: a cache of the pairs' equality per single-valued expression, shared by calls
    over the same pairs (rules share expressions); read and filled.

    Raises:
        MatchingConfigError: For sorted-neighbourhood rules, which have no per-pair key test.
    """
    if not isinstance(rule, BlockOn):
        raise MatchingConfigError(f"rule {rule.name!r} has no per-pair agreement test")
    if rule.max_block_size is not None:
        # only the blocks the rule pairs (its keys after the cap, as blocking and the Spark
        # runner use them): sharing a key held by too many records is no agreement
        rows, keys = rule.keys(frame)
        return _shares_key(rows, keys, left, right)
    if rule.any_order:  # one key per row (the cap aside): the same key is the same parts
        rows, parts = rule.key_parts(frame)
        key = np.full(frame.n_rows, -1, dtype=np.int64)
        if len(rows):
            key[rows] = combined_key(parts)
        on_left = key[left]
        same: npt.NDArray[np.bool_] = (on_left == key[right]) & (on_left >= 0)
        return same
    ok = np.ones(len(left), dtype=bool)
    multi = None
    for expr in rule.expressions:
        parsed = parse_expression(expr)
        if parsed.multi_valued:
            multi = parsed
        else:
            ok &= _pairs_equal(frame, parsed, left, right, equal)
    if multi is not None:
        # only the pairs the single-valued expressions left, and each two distinct values
        # once: records with one value share its keys (when it has any)
        vk = value_keys(frame, multi)
        ok &= (vk.value_of[left] >= 0) & (vk.value_of[right] >= 0)
        todo = np.flatnonzero(ok)
        va, vb = vk.value_of[left[todo]], vk.value_of[right[todo]]
        n_values = max(len(vk.key_count), 1)
        codes, inverse = np.unique(np.minimum(va, vb) * n_values + np.maximum(va, vb),
                                   return_inverse=True)
        ua, ub = codes // n_values, codes % n_values
        owner = np.repeat(np.arange(len(vk.key_count), dtype=np.int64), vk.key_count)
        share = np.where(ua == ub, vk.key_count[ua] > 0, _shares_key(owner, vk.keys, ua, ub))
        ok[todo] = share[inverse.reshape(-1)]
    return ok


def _pairs_equal(
    frame: Frame, expr: Expression, left: IntArray, right: IntArray,
    cache: dict[str, npt.NDArray[np.bool_]] | None,
) -> npt.NDArray[np.bool_]:
    """Whether each pair's values of an expression are equal (and present), from ``cache``
    when it holds them (then kept there)."""
    got = None if cache is None else cache.get(expr.text)
    if got is None:
        codes = frame.codes(expr)
        if frame.n_distinct < 2**31 - 1:  # half the memory read per pair
            codes = codes.astype(np.int32)
        on_left = codes[left]
        got = (on_left == codes[right]) & (on_left >= 0)
        if cache is not None:
            cache[expr.text] = got
    return got


def _shares_key(
    rows: IntArray, keys: IntArray, left: IntArray, right: IntArray
) -> npt.NDArray[np.bool_]:
    """For multi-valued keys: whether the two rows of each pair share at least one key."""
    pair_id = np.arange(len(left), dtype=np.int64)
    # explode left keys per pair
    order = np.argsort(rows, kind="stable")
    srows, skeys = rows[order], keys[order]
    first = np.searchsorted(srows, left, side="left")
    last = np.searchsorted(srows, left, side="right")
    counts = last - first
    pid = np.repeat(pair_id, counts)
    offsets = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
    pos = np.repeat(first, counts) + offsets
    lkeys = skeys[pos]
    # candidate (right row, key) membership via sorted codes
    nk = int(keys.max(initial=0)) + 1
    have = unique_sorted(rows * nk + keys)
    probe = right[pid] * nk + lkeys
    idx = np.searchsorted(have, probe)
    idx = np.minimum(idx, len(have) - 1)
    hit = have[idx] == probe if len(have) else np.zeros(len(probe), dtype=bool)
    out = np.zeros(len(left), dtype=bool)
    out[pid[hit]] = True
    return out
