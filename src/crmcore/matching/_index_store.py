"""SQLite persistence of a real-time match index (no pickle; inspect it with any SQLite tool).

Tables (format ``crmcore.matching.index/2``):

``meta(key TEXT PRIMARY KEY, value TEXT)``
    JSON values: ``format``, ``model`` (the model's JSON), ``settings``, ``columns`` (the stored
    value columns), ``rules`` (blocking rule names), ``threshold``, ``next_sequence``, the
    pending review items and any other setting the index keeps.
``lists(name TEXT PRIMARY KEY, value_json TEXT)``
    ``record_ids`` and ``entity_ids``: JSON arrays aligned by position (one ``json.loads`` each,
    so a million records load in a fraction of a second).
``records`` (a view)
    ``pos, record_id, entity_id`` per record, read out of ``lists`` with ``json_each``:
    ``SELECT * FROM records WHERE entity_id = 'E000000000042'``.
``strings(k INTEGER PRIMARY KEY, text BLOB, offsets BLOB)`` (one row)
    The shared dictionary of normalised values: all values concatenated as UTF-8, and the
    little-endian int64 byte offsets (value ``i`` is ``text[offsets[i]:offsets[i+1]]``). Only
    values a stored record uses are written (``MatchIndex.save`` rebuilds the dictionary), so a
    removed or purged record's values are not in the file.
``columns(k INTEGER PRIMARY KEY, name TEXT, codes BLOB)``
    Per value column, the dictionary code of every record's value as little-endian int64 bytes
    (-1 when missing), in position order.
``blocks(rule INTEGER PRIMARY KEY, name TEXT, hashes BLOB, offsets BLOB, positions BLOB)``
    The inverted index of each blocking rule in compressed-sparse-row form: sorted 64-bit
    BLAKE2b hashes of the block keys, and the positions of key ``i``'s records are
    ``positions[offsets[i]:offsets[i+1]]`` (little-endian int64 bytes).
``edges(a BLOB, b BLOB, weight BLOB)`` (one row)
    Stored match links between record positions (int64 / float64 little-endian arrays), from
    which clusters are rebuilt.
``decisions(seq INTEGER PRIMARY KEY, left_id, right_id, decision, reviewer, decided_at, note)``
    Review decisions, oldest first.

Everything is written in one transaction to a temporary file that then replaces the target, and
read back with a handful of bulk reads.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import numpy.typing as npt

from crmcore.errors import IndexStateError
from crmcore.matching.review import ReviewDecision

__all__ = ["FORMAT", "IndexSnapshot", "load_snapshot", "save_snapshot"]

FORMAT = "crmcore.matching.index/2"
IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
_CHUNK = 100_000


@attrs.frozen(eq=False)
class IndexSnapshot:
    """Everything a match index needs to come back in a new process.

    Attributes:
        meta: JSON-friendly metadata (model dict, settings, next sequence ...).
        columns: Names of the stored value columns.
        strings: Shared value dictionary as (UTF-8 text, int64 offsets).
        codes: Per column, the value code of every record (-1 for missing).
        record_ids: Record id per position.
        entity_ids: Entity id per position.
        blocks: Per blocking rule, ``(key hashes, offsets, positions)`` in CSR form.
        edge_a: First position of every stored link.
        edge_b: Second position of every stored link.
        edge_w: Match weight of every stored link.
        decisions: Review decisions, oldest first.
    """

    meta: dict[str, Any]
    columns: tuple[str, ...]
    strings: tuple[bytes, IntArray]
    codes: dict[str, IntArray]
    record_ids: list[str]
    entity_ids: list[str]
    blocks: list[tuple[IntArray, IntArray, IntArray]]
    edge_a: IntArray
    edge_b: IntArray
    edge_w: FloatArray
    decisions: Sequence[ReviewDecision] = ()


def _blob(values: IntArray) -> bytes:
    return np.ascontiguousarray(values, dtype="<i8").tobytes()


def _array(blob: bytes) -> IntArray:
    return np.frombuffer(blob, dtype="<i8").astype(np.int64)


def save_snapshot(path: str | os.PathLike[str], snap: IndexSnapshot) -> None:
    """Write a snapshot to a new SQLite file (an existing file is replaced).

    Raises:
        IndexStateError: If the snapshot's arrays disagree in length.
    """
    n = len(snap.record_ids)
    if len(snap.entity_ids) != n or any(len(c) != n for c in snap.codes.values()):
        raise IndexStateError("snapshot columns differ in length")
    target = Path(path)
    tmp = target.with_name(target.name + ".tmp")
    if tmp.exists():
        tmp.unlink()
    con = sqlite3.connect(tmp)
    try:
        con.execute("PRAGMA journal_mode=OFF")
        con.execute("PRAGMA synchronous=OFF")
        con.executescript(
            """
            CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
            CREATE TABLE lists(name TEXT PRIMARY KEY, value_json TEXT NOT NULL);
            CREATE VIEW records(pos, record_id, entity_id) AS
                SELECT r.key, r.value, e.value
                FROM json_each((SELECT value_json FROM lists WHERE name = 'record_ids')) AS r
                JOIN json_each((SELECT value_json FROM lists WHERE name = 'entity_ids')) AS e
                ON e.key = r.key;
            CREATE TABLE strings(k INTEGER PRIMARY KEY, text BLOB NOT NULL,
                                 offsets BLOB NOT NULL);
            CREATE TABLE columns(k INTEGER PRIMARY KEY, name TEXT NOT NULL, codes BLOB NOT NULL);
            CREATE TABLE blocks(rule INTEGER PRIMARY KEY, name TEXT NOT NULL, hashes BLOB NOT NULL,
                                offsets BLOB NOT NULL, positions BLOB NOT NULL);
            CREATE TABLE edges(a BLOB NOT NULL, b BLOB NOT NULL, weight BLOB NOT NULL);
            CREATE TABLE decisions(seq INTEGER PRIMARY KEY, left_id TEXT, right_id TEXT,
                                   decision TEXT, reviewer TEXT, decided_at TEXT, note TEXT);
            """
        )
        meta = {**snap.meta, "format": FORMAT, "columns": list(snap.columns)}
        con.executemany(
            "INSERT INTO meta VALUES (?, ?)", [(k, json.dumps(v)) for k, v in meta.items()]
        )
        con.executemany(
            "INSERT INTO lists VALUES (?, ?)",
            [("record_ids", json.dumps(snap.record_ids)),
             ("entity_ids", json.dumps(snap.entity_ids))],
        )
        text, offsets = snap.strings
        con.execute("INSERT INTO strings VALUES (0, ?, ?)", (text, _blob(offsets)))
        con.executemany(
            "INSERT INTO columns VALUES (?, ?, ?)",
            [
                (k, name, _blob(snap.codes[name]))
                for k, name in enumerate(snap.columns)
            ],
        )
        names = list(snap.meta.get("rules", []))
        con.executemany(
            "INSERT INTO blocks VALUES (?, ?, ?, ?, ?)",
            [
                (r, names[r] if r < len(names) else str(r), _blob(hashes), _blob(offsets),
                 _blob(positions))
                for r, (hashes, offsets, positions) in enumerate(snap.blocks)
            ],
        )
        con.execute(
            "INSERT INTO edges VALUES (?, ?, ?)",
            (
                _blob(snap.edge_a),
                _blob(snap.edge_b),
                np.ascontiguousarray(snap.edge_w, dtype="<f8").tobytes(),
            ),
        )
        con.executemany(
            "INSERT INTO decisions(left_id, right_id, decision, reviewer, decided_at, note) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [
                (d.left_id, d.right_id, d.decision, d.reviewer, d.decided_at.isoformat(), d.note)
                for d in snap.decisions
            ],
        )
        con.commit()
    finally:
        con.close()
    os.replace(tmp, target)


def load_snapshot(path: str | os.PathLike[str]) -> IndexSnapshot:
    """Read a snapshot written by :func:`save_snapshot`.

    Raises:
        IndexStateError: If the file is missing or is not a saved match index.
    """
    source = Path(path)
    if not source.exists():
        raise IndexStateError(f"no saved match index at {source}")
    con = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    try:
        try:
            meta = {k: json.loads(v) for k, v in con.execute("SELECT key, value FROM meta")}
        except sqlite3.DatabaseError as exc:
            raise IndexStateError(f"{source} is not a saved match index: {exc}") from exc
        if meta.get("format") != FORMAT:
            raise IndexStateError(
                f"{source} is not a saved match index (format {meta.get('format')!r})"
            )
        columns = tuple(str(c) for c in meta.pop("columns"))
        meta.pop("format")
        lists = dict(con.execute("SELECT name, value_json FROM lists").fetchall())
        record_ids: list[str] = json.loads(lists["record_ids"])
        entity_ids: list[str] = json.loads(lists["entity_ids"])
        text, offsets = con.execute("SELECT text, offsets FROM strings").fetchone()
        strings = (bytes(text), _array(offsets))
        codes = {
            str(name): _array(blob)
            for name, blob in con.execute("SELECT name, codes FROM columns ORDER BY k")
        }
        if tuple(codes) != columns:
            raise IndexStateError(f"{source}: value columns {list(codes)} != {list(columns)}")
        blocks = [
            (_array(hashes), _array(offsets), _array(positions))
            for hashes, offsets, positions in con.execute(
                "SELECT hashes, offsets, positions FROM blocks ORDER BY rule"
            )
        ]
        ea, eb, ew = con.execute("SELECT a, b, weight FROM edges").fetchone()
        edge_a, edge_b = _array(ea), _array(eb)
        edge_w = np.frombuffer(ew, dtype="<f8").astype(np.float64)
        decisions = [
            ReviewDecision.from_dict(
                {"left_id": a, "right_id": b, "decision": d, "reviewer": r, "decided_at": t,
                 "note": note}
            )
            for a, b, d, r, t, note in con.execute(
                "SELECT left_id, right_id, decision, reviewer, decided_at, note "
                "FROM decisions ORDER BY seq"
            )
        ]
    finally:
        con.close()
    return IndexSnapshot(
        meta=meta,
        columns=columns,
        strings=strings,
        codes=codes,
        record_ids=record_ids,
        entity_ids=entity_ids,
        blocks=blocks,
        edge_a=edge_a,
        edge_b=edge_b,
        edge_w=edge_w,
        decisions=decisions,
    )
