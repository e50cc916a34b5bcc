"""The match index file: SQLite persistence (no pickle; inspect it with any SQLite tool), and its
scrub for erasure. This module owns the layout; nothing else reads or rewrites it
(:func:`crmcore.governance.scrub_index_file` calls :func:`scrub_index_file` here).

Tables (format ``crmcore.matching.index/6``):

``meta(key TEXT PRIMARY KEY, value TEXT)``
    JSON values: ``format``, ``model`` (the model's JSON), ``settings``, ``columns`` (the stored
    value columns), ``rules`` (blocking rule names), ``threshold``, ``next_sequence``, the
    pending review items (``pending_review``), the decisions sent back to review as stale
    (``reopened_review``: left id, right id, decided at; files without it reopen on load what
    is stale then) and any other setting the index keeps.
``records(pos INTEGER PRIMARY KEY, record_id TEXT, entity_id TEXT)``
    One row per record, by position: ``SELECT * FROM records WHERE entity_id = 'E000000000042'``
    reads each row once (layout 2 kept two JSON arrays and a view joining them with
    ``json_each``, which SQLite ran as a nested loop: hours at a million records).
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
    which clusters are rebuilt: every scored pair at or above the link floor with its match
    weight, pairs reviewers decided either way included, and no link for a "same" decision
    (those come from ``decisions``): the guarded method's split reads the scored links, as
    batch does (what layout 6 changes: layouts up to 5 dropped the link of a pair decided
    "different" and stored a "same" decision as a link of weight ``+inf``). A weight of
    ``-inf`` marks a cannot-link pair (vetoed by a ``"non_match"`` rule), not a link; it is
    what layout 4 adds to layout 3.
``decisions(seq INTEGER PRIMARY KEY, left_id, right_id, decision, reviewer, decided_at, note,
left_fingerprint, right_fingerprint)``
    Review decisions, oldest first, with the fingerprints of the two records' compared values
    when decided (what layout 5 adds: a "different" decision is reopened once a record changes).

Everything is written in one transaction to a temporary file that then replaces the target, and
read back with a handful of bulk reads. Files of layouts ``crmcore.matching.index/2`` to ``/5``
still load (and scrub; layouts 2 and 3 hold no cannot-link pairs: vetoes of their records are
known again once a record is updated, or the index is rebuilt; decisions of layouts 2-4 carry no
fingerprints, so they do not go stale; the ``+inf`` links of layouts up to 5 stay links, and
with the guarded cluster method the index is re-clustered once on load, as those layouts kept
its plain components); saving writes layout 6.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import numpy.typing as npt

from crmcore.errors import IndexStateError
from crmcore.matching._review import ReviewDecision

#: The layout :func:`save_snapshot` writes.
FORMAT = "crmcore.matching.index/6"
_FORMAT_5 = "crmcore.matching.index/5"
_FORMAT_2 = "crmcore.matching.index/2"
_FORMAT_3 = "crmcore.matching.index/3"
_FORMAT_4 = "crmcore.matching.index/4"
#: Layouts :func:`load_snapshot` reads and :func:`scrub_index_file` scrubs.
LAYOUTS = frozenset({FORMAT, _FORMAT_5, _FORMAT_4, _FORMAT_3, _FORMAT_2})
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
        edge_w: Match weight of every stored link (``-inf``: a cannot-link pair, not a link).
        decisions: Review decisions, oldest first.
        layout: The file layout it was read from (:data:`FORMAT` when written now).
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
    layout: str = FORMAT


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
            CREATE TABLE records(pos INTEGER PRIMARY KEY, record_id TEXT NOT NULL,
                                 entity_id TEXT NOT NULL);
            CREATE TABLE strings(k INTEGER PRIMARY KEY, text BLOB NOT NULL,
                                 offsets BLOB NOT NULL);
            CREATE TABLE columns(k INTEGER PRIMARY KEY, name TEXT NOT NULL, codes BLOB NOT NULL);
            CREATE TABLE blocks(rule INTEGER PRIMARY KEY, name TEXT NOT NULL, hashes BLOB NOT NULL,
                                offsets BLOB NOT NULL, positions BLOB NOT NULL);
            CREATE TABLE edges(a BLOB NOT NULL, b BLOB NOT NULL, weight BLOB NOT NULL);
            CREATE TABLE decisions(seq INTEGER PRIMARY KEY, left_id TEXT, right_id TEXT,
                                   decision TEXT, reviewer TEXT, decided_at TEXT, note TEXT,
                                   left_fingerprint TEXT, right_fingerprint TEXT);
            """
        )
        meta = {**snap.meta, "format": FORMAT, "columns": list(snap.columns)}
        con.executemany(
            "INSERT INTO meta VALUES (?, ?)", [(k, json.dumps(v)) for k, v in meta.items()]
        )
        con.executemany(
            "INSERT INTO records VALUES (?, ?, ?)",
            zip(range(n), snap.record_ids, snap.entity_ids, strict=True),
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
            "INSERT INTO decisions(left_id, right_id, decision, reviewer, decided_at, note, "
            "left_fingerprint, right_fingerprint) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (d.left_id, d.right_id, d.decision, d.reviewer, d.decided_at.isoformat(), d.note,
                 d.left_fingerprint, d.right_fingerprint)
                for d in snap.decisions
            ],
        )
        con.commit()
    finally:
        con.close()
    os.replace(tmp, target)


def _read_ids(con: sqlite3.Connection, layout: str) -> tuple[list[str], list[str]]:
    """Record and entity ids by position."""
    if layout == _FORMAT_2:
        lists = dict(con.execute("SELECT name, value_json FROM lists").fetchall())
        return json.loads(lists["record_ids"]), json.loads(lists["entity_ids"])
    # two flat JSON arrays built by SQLite: one json.loads each instead of a tuple per row
    ids = [
        json.loads(con.execute(
            f"SELECT json_group_array({name}) FROM (SELECT {name} FROM records ORDER BY pos)"
        ).fetchone()[0])
        for name in ("record_id", "entity_id")
    ]
    return ids[0], ids[1]


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
        layout = meta.get("format")
        if layout not in LAYOUTS:
            raise IndexStateError(
                f"{source} is not a saved match index this version reads (format {layout!r}; "
                f"known: {sorted(LAYOUTS)})"
            )
        columns = tuple(str(c) for c in meta.pop("columns"))
        meta.pop("format")
        record_ids, entity_ids = _read_ids(con, str(layout))
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
        prints = ("left_fingerprint, right_fingerprint" if layout in (FORMAT, _FORMAT_5)
                  else "'' AS left_fingerprint, '' AS right_fingerprint")
        decisions = [
            ReviewDecision.from_dict(
                {"left_id": a, "right_id": b, "decision": d, "reviewer": r, "decided_at": t,
                 "note": note, "left_fingerprint": fa, "right_fingerprint": fb}
            )
            for a, b, d, r, t, note, fa, fb in con.execute(
                "SELECT left_id, right_id, decision, reviewer, decided_at, note, "
                f"{prints} FROM decisions ORDER BY seq"
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
        layout=str(layout),
    )


def scrub_index_file(path: str | os.PathLike[str], record_ids: Iterable[str] = ()) -> int:
    """Remove what erased records leave in a saved match index file; returns values scrubbed.

    Values of the ``strings`` dictionary that no stored record's code points to are blanked
    (codes stay valid) and dropped from the model's term-frequency tables (which name values
    seen twice, a person's duplicate records for one); review decisions, pending review items
    and reopened-decision markers naming one of ``record_ids`` are dropped; the file is
    vacuumed with ``secure_delete`` on.
    Knows the layouts in :data:`LAYOUTS` (this module's).

    Raises:
        IndexStateError: For a file in a layout it does not know (nothing is changed), so an
            erasure never silently leaves values behind.
    """
    gone = {str(r) for r in record_ids}
    con = sqlite3.connect(os.fspath(path))
    try:
        row = con.execute("SELECT value FROM meta WHERE key = 'format'").fetchone()
        layout = None if row is None else json.loads(row[0])
        if layout not in LAYOUTS:
            raise IndexStateError(
                f"{os.fspath(path)}: match index layout {layout!r} is not one erasure can scrub "
                f"({sorted(LAYOUTS)}); the erased values may remain in the file"
            )
        con.execute("PRAGMA secure_delete = ON")
        used: set[int] = set()
        for (blob,) in con.execute("SELECT codes FROM columns"):
            used.update(np.unique(np.frombuffer(blob, dtype="<i8")).tolist())
        scrubbed, dropped, live = _scrub_strings(con, used)
        if dropped:
            _scrub_model_tf(con, dropped, live)
        if gone:
            marks = ",".join("?" * len(gone))
            args = sorted(gone)
            con.execute(
                f"DELETE FROM decisions WHERE left_id IN ({marks}) OR right_id IN ({marks})",
                args + args,
            )
            for key in ("pending_review", "reopened_review"):  # review items, reopened pairs
                row = con.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
                if row is not None:
                    kept = [
                        p
                        for p in json.loads(row[0])
                        if str(p.get("left_id")) not in gone and str(p.get("right_id")) not in gone
                    ]
                    con.execute("UPDATE meta SET value = ? WHERE key = ?", (json.dumps(kept), key))
        con.commit()
        con.execute("VACUUM")
    finally:
        con.close()
    return scrubbed


def _alnum(text: str) -> str:
    return "".join(c for c in text.casefold() if c.isalnum())


def _scrub_model_tf(con: sqlite3.Connection, dropped: set[str], live: list[str]) -> None:
    """Drop the erased values from the model's term-frequency tables (they name values).

    A table key goes when it is a blanked value, or derived from one (an email's local part or
    domain: its letters and digits appear in a blanked value) and in no remaining value.
    """
    row = con.execute("SELECT value FROM meta WHERE key = 'model'").fetchone()
    if row is None:
        return
    model = json.loads(row[0])
    gone_text = [_alnum(d) for d in dropped]
    live_text: str | None = None
    changed = False
    for table in model.get("tf", ()) if isinstance(model, dict) else ():
        counts = table.get("counts") if isinstance(table, dict) else None
        if not isinstance(counts, dict):
            continue
        gone: set[str] = set()
        for key in counts:
            if key in dropped:
                gone.add(key)
                continue
            folded = _alnum(str(key))
            if folded and any(folded in d for d in gone_text):
                if live_text is None:
                    live_text = "\n".join(_alnum(v) for v in live)
                if folded not in live_text:
                    gone.add(key)
        if gone:
            table["counts"] = {k: v for k, v in counts.items() if k not in gone}
            changed = True
    if changed:
        con.execute("UPDATE meta SET value = ? WHERE key = 'model'", (json.dumps(model),))


def _scrub_strings(con: sqlite3.Connection, used: set[int]) -> tuple[int, set[str], list[str]]:
    """Layouts 2 and 3: ``strings(k, text, offsets)``, one UTF-8 buffer and int64 offsets.

    Returns the number of values blanked, the blanked values and the values kept.
    """
    row = con.execute("SELECT k, text, offsets FROM strings").fetchone()
    if row is None:
        return 0, set(), []
    k, text, raw_offsets = row
    offsets = np.frombuffer(raw_offsets, dtype="<i8").astype(np.int64)
    lengths = np.diff(offsets)
    n = len(lengths)
    keep = np.zeros(n, dtype=bool)
    codes = np.fromiter((c for c in used if 0 <= c < n), dtype=np.int64)
    keep[codes] = True
    dropped = ~keep & (lengths > 0)
    scrubbed = int(dropped.sum())
    values: set[str] = set()
    blob = bytes(text)
    if scrubbed:
        for code in np.flatnonzero(dropped).tolist():
            values.add(blob[int(offsets[code]) : int(offsets[code + 1])].decode("utf-8"))
        data = np.frombuffer(blob, dtype=np.uint8)
        kept = data[np.repeat(~dropped, lengths)]
        new = np.zeros(n + 1, dtype="<i8")
        np.cumsum(np.where(dropped, 0, lengths), out=new[1:])
        con.execute(
            "UPDATE strings SET text = ?, offsets = ? WHERE k = ?",
            (kept.tobytes(), new.tobytes(), k),
        )
    live = [
        blob[int(offsets[c]) : int(offsets[c + 1])].decode("utf-8")
        for c in np.flatnonzero(keep & (lengths > 0)).tolist()
    ]
    return scrubbed, values, live
