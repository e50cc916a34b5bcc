"""Audit trail: recording, hash chain verification, tamper detection, erasure, SQLite."""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crmcore.errors import AuditIntegrityError
from crmcore.governance import GENESIS_HASH, AuditLog, MemoryAuditStore, SQLiteAuditStore
from crmcore.governance import _audit_search as audit_search
from tests.governance.scan import holds

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def filled(log: AuditLog, n: int) -> AuditLog:
    for i in range(n):
        log.record(
            "change",
            actor=f"u{i % 3}",
            record_type="contact",
            record_id=f"c{i}",
            field="email",
            old=f"old{i}@x.com",
            new=f"new{i}@x.com",
            source="crm",
            reason="fix",
            subjects=[f"p{i % 4}"],
            at=T0 + timedelta(minutes=i),
        )
    return log


class TestRecord:
    def test_chain_links(self) -> None:
        """Each entry links to the previous hash; the first to the genesis hash."""
        log = filled(AuditLog(), 3)
        entries = log.entries()
        assert entries[0].prev_hash == GENESIS_HASH
        assert [e.prev_hash for e in entries[1:]] == [e.hash for e in entries[:-1]]
        assert [e.seq for e in entries] == [1, 2, 3]

    def test_values_kept(self) -> None:
        """Who, what, old and new value, source and reason are kept."""
        e = filled(AuditLog(), 1).entries()[0]
        assert (e.actor, e.field, e.old_value, e.new_value, e.source, e.reason) == (
            "u0",
            "email",
            "old0@x.com",
            "new0@x.com",
            "crm",
            "fix",
        )

    def test_record_change_one_entry_per_changed_field(self) -> None:
        """record_change writes one entry per field that differs."""
        log = AuditLog()
        out = log.record_change(
            "contact", "c1", {"a": 1, "b": 2}, {"a": 1, "b": 3, "c": 4}, actor="u"
        )
        assert [(e.field, e.old_value, e.new_value) for e in out] == [("b", 2, 3), ("c", None, 4)]

    def test_filters(self) -> None:
        """Entries can be read by subject or record."""
        log = filled(AuditLog(), 8)
        assert [e.seq for e in log.entries(subject="p1")] == [2, 6]
        assert [e.seq for e in log.entries(record_id="c3")] == [4]


def tamper(log: AuditLog, index: int, kind: str) -> None:
    store = log.store
    assert isinstance(store, MemoryAuditStore)
    entries = store._entries
    e = entries[index]
    if kind == "payload":
        entries[index] = attrs.evolve(e, payload={**e.payload, "new": "evil@x.com"})
    elif kind == "actor":
        entries[index] = attrs.evolve(e, actor="mallory")
    elif kind == "time":
        entries[index] = attrs.evolve(e, at=e.at + timedelta(seconds=1))
    elif kind == "remove":
        del entries[index]
    elif kind == "insert":
        entries.insert(index, attrs.evolve(e, actor="mallory"))
    elif kind == "swap":
        entries[index], entries[index - 1] = entries[index - 1], entries[index]
    elif kind == "erase_and_rehash":
        entries[index] = attrs.evolve(e, payload_digest="0" * 64)
    elif kind == "quiet_tombstone":  # payload dropped without a tombstone entry
        entries[index] = attrs.evolve(e, payload=None)
    elif kind == "subjects":
        entries[index] = attrs.evolve(e, subjects=("someone-else",))


class TestVerify:
    def test_clean_chain_verifies(self) -> None:
        """An untouched chain verifies."""
        report = filled(AuditLog(), 5).verify()
        assert report.ok
        assert report.checked == 5

    @settings(max_examples=60, deadline=None)
    @given(
        st.integers(2, 12),
        st.data(),
        st.sampled_from(
            [
                "payload",
                "actor",
                "time",
                "remove",
                "insert",
                "swap",
                "erase_and_rehash",
                "quiet_tombstone",
                "subjects",
            ]
        ),
    )
    def test_any_tampering_detected(self, n, data, kind) -> None:
        """Changing, inserting, removing or reordering any entry is found, at that entry."""
        log = filled(AuditLog(), n)
        head = log.head()
        index = data.draw(st.integers(1 if kind == "swap" else 0, n - 1))
        tamper(log, index, kind)
        report = log.verify(expected_head=head)
        assert not report.ok
        first = index - 1 if kind == "swap" else index
        assert report.first_bad_seq == first + 1
        with pytest.raises(AuditIntegrityError, match=f"entry {first + 1}"):
            log.verify(expected_head=head, raise_on_error=True)
        if not (kind == "remove" and index == n - 1):
            assert not log.verify().ok  # inside the chain no head is needed

    @settings(max_examples=25, deadline=None)
    @given(
        st.integers(2, 8),
        st.data(),
        st.sampled_from(["old", "actor", "field", "delete", "reorder", "null_payload", "erases"]),
    )
    def test_tampering_with_the_sqlite_table_detected(self, n, data, kind) -> None:
        """Editing, deleting, reordering or emptying rows of the SQLite table is detected."""
        with tempfile.TemporaryDirectory() as tmp:
            store = SQLiteAuditStore(Path(tmp) / "audit.db")
            store.connection.execute("PRAGMA synchronous = OFF")  # a scratch file: no fsync
            log = filled(AuditLog(store), n)
            log.erase(subjects=["p0"])  # a legitimate tombstone (and its tombstone entry)
            assert log.verify().ok
            head = log.head()
            seq = data.draw(st.integers(2 if kind == "reorder" else 1, n))
            conn = store.connection
            if kind == "old":
                row = conn.execute("SELECT payload FROM audit_log WHERE seq = ?", (seq,)).fetchone()
                if row[0] is None:  # a tombstone: forge a payload for it
                    conn.execute(
                        "UPDATE audit_log SET payload = ? WHERE seq = ?",
                        ('{"old":"x","new":"y","reason":null,"details":null,"salt":"0"}', seq),
                    )
                else:
                    conn.execute(
                        "UPDATE audit_log SET payload = replace(payload, 'old', 'odd') "
                        "WHERE seq = ?",
                        (seq,),
                    )
            elif kind == "actor":
                conn.execute("UPDATE audit_log SET actor = 'mallory' WHERE seq = ?", (seq,))
            elif kind == "field":
                conn.execute("UPDATE audit_log SET field = 'phone' WHERE seq = ?", (seq,))
            elif kind == "delete":
                conn.execute("DELETE FROM audit_log WHERE seq = ?", (seq,))
            elif kind == "reorder":  # swap two neighbours' contents, keeping the seq column
                conn.execute("UPDATE audit_log SET seq = -1 WHERE seq = ?", (seq,))
                conn.execute("UPDATE audit_log SET seq = ? WHERE seq = ?", (seq, seq - 1))
                conn.execute("UPDATE audit_log SET seq = ? WHERE seq = -1", (seq - 1,))
            elif kind == "null_payload":
                conn.execute("UPDATE audit_log SET payload = NULL WHERE seq = ?", (seq,))
            else:  # drop the record of which entries the tombstone entry emptied
                conn.execute("UPDATE audit_log SET erases = NULL")
            conn.commit()
            report = log.verify(expected_head=head)
            store.close()
        # the entries about p0 (seq 1, 5) already are tombstones: emptying them changes nothing
        unchanged = kind == "null_payload" and (seq - 1) % 4 == 0
        assert report.ok == unchanged, (kind, seq, report)

    def test_cut_tail_found_with_head(self) -> None:
        """Removing the last entries is caught against a head kept elsewhere."""
        log = filled(AuditLog(), 5)
        head = log.head()
        del log.store._entries[-2:]  # type: ignore[attr-defined]
        assert log.verify().ok  # a shorter chain is self-consistent ...
        report = log.verify(expected_head=head)  # ... but not against the head
        assert not report.ok
        assert report.first_bad_seq == 4


class TestErase:
    def test_tombstones_keep_chain_valid(self) -> None:
        """Erasing payloads by subject leaves a chain that still verifies."""
        log = filled(AuditLog(), 8)
        head = log.head()
        assert log.erase(subjects=["p1"]) == 2
        report = log.verify(expected_head=head)
        assert report.ok
        assert report.erased == 2
        assert "old1@x.com" not in repr(log.store._entries)  # type: ignore[attr-defined]
        assert log.entries()[1].erased
        assert log.entries()[1].actor == "u1"

    def test_erase_by_value(self) -> None:
        """Entries mentioning an erased value are tombstoned whoever they are about."""
        log = filled(AuditLog(), 4)
        assert log.erase(values=["NEW2@x.com"]) == 1
        assert log.entries()[2].erased

    @pytest.mark.parametrize("fold", [1, 3, 4096])
    def test_erased_payload_leaves_search_index(self, fold: int) -> None:
        """After erasure no erased payload text is left anywhere in the log's memory."""
        saved = audit_search._FOLD
        audit_search._FOLD = fold  # erased entries folded into the joined text and still pending
        try:
            log = filled(AuditLog(), 6)
            log.record("note", actor="u", reason="called Ann on +44 20 7946 0958", subjects=["p9"])
            assert log.find(values=["old1@x.com"]) == [2]  # builds the index
            assert log.erase(subjects=["p1", "p9"]) == 3
            for gone in ("old1@x.com", "new1@x.com", "7946 0958", "called ann"):
                assert not holds(gone, log), gone
            assert holds("old2@x.com", log)
            assert log.find(values=["old2@x.com"]) == [3]
        finally:
            audit_search._FOLD = saved

    def test_phone_written_another_way_found(self) -> None:
        """A phone written with spaces in a note is found (and erased) by its E.164 form."""
        log = AuditLog()
        log.record("note", actor="u", reason="Ann asked to be called on +44 20 7946 0958")
        log.record("note", actor="u", details={"text": "reach her at 0044 (20) 7946-0958"})
        log.record("note", actor="u", reason="someone else: +44 20 7946 0000")
        assert log.find(values=["+442079460958"]) == [1, 2]
        assert log.erase(values=["+442079460958"]) == 2
        assert not holds("7946 0958", log)
        assert not holds("7946-0958", log)

    def test_tampered_tombstone_detected(self) -> None:
        """A tombstone's metadata is still protected by the chain."""
        log = filled(AuditLog(), 3)
        log.erase(record_ids=["c1"])
        tamper(log, 1, "actor")
        assert log.verify().first_bad_seq == 2


class TestMergeEntries:
    def test_merge_and_unmerge_recorded(self) -> None:
        """Golden-record merges and unmerges are audited with the entity and records as subjects."""
        log = AuditLog()
        log.record_merge("E1", ["r2", "r1"], actor="steward", source="survivorship", at=T0)
        log.record_merge("E1", ["r2"], actor="steward", unmerge=True, reason="wrong match", at=T0)
        merged, unmerged = log.entries()
        assert (merged.action, merged.record_id, merged.subjects) == (
            "merge",
            "E1",
            ("E1", "r1", "r2"),
        )
        assert merged.details == {"record_ids": ["r1", "r2"], "details": None}
        assert (unmerged.action, unmerged.reason) == ("unmerge", "wrong match")
        assert [e.seq for e in log.entries(subject="r2")] == [1, 2]


class TestSQLiteStore:
    def test_round_trip_verify_erase(self, tmp_path: Path) -> None:
        """The SQLite store persists, verifies, erases and detects tampering."""
        path = tmp_path / "audit.db"
        store = SQLiteAuditStore(path)
        log = filled(AuditLog(store), 5)
        head = log.head()
        store.close()
        again = AuditLog(SQLiteAuditStore(path))
        assert again.verify(expected_head=head).ok
        assert len(again) == 5
        assert again.entries()[0].new_value == "new0@x.com"
        again.erase(subjects=["p0"])
        assert again.verify(expected_head=head).ok
        conn = again.store.connection  # type: ignore[attr-defined]
        conn.execute("UPDATE audit_log SET actor = 'mallory' WHERE seq = 3")
        assert again.verify().first_bad_seq == 3
        conn.execute("DELETE FROM audit_log WHERE seq = 2")
        assert again.verify().first_bad_seq == 2

    def test_bad_table_name(self, tmp_path: Path) -> None:
        """Only identifier table names are accepted."""
        with pytest.raises(ValueError, match="identifier"):
            SQLiteAuditStore(tmp_path / "a.db", table="x; drop")


class TestFind:
    @settings(max_examples=40, deadline=None)
    @given(
        st.lists(st.tuples(st.sampled_from(["p1", "p2", "p3"]), st.integers(0, 5)), max_size=30),
        st.sampled_from(["p1", "p2", "p3"]),
        st.integers(0, 5),
        st.integers(1, 7),
    )
    def test_matches_a_linear_scan(self, rows, subject, value, fold) -> None:
        """The indexed search finds exactly what a scan of every payload finds (any fold size)."""
        saved = audit_search._FOLD
        audit_search._FOLD = fold  # exercise both the joined text and the pending tail
        try:
            log = AuditLog()
            for n, (who, v) in enumerate(rows):
                log.record(
                    "change",
                    actor="u",
                    record_type="contact",
                    record_id=f"c{n}",
                    field="email",
                    new=f"Mail{v}@Acme.io",
                    subjects=[who],
                    at=T0,
                )
                if n == len(rows) // 2:
                    log.erase(record_ids=["c0"])  # tombstones in the middle of the appends
            needle = f"mail{value}@acme.io"
            expected = [
                e.seq
                for e in log.entries()
                if e.payload is not None
                and (subject in e.subjects or needle in repr(e.payload).lower())
            ]
            assert log.find(subjects=[subject], values=[needle.upper()]) == expected
        finally:
            audit_search._FOLD = saved
