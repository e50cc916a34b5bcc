"""Keyed audit chains: HMAC entries, signed checkpoints, key rotation, legacy unkeyed logs."""

from __future__ import annotations

import hashlib
import hmac
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crmcore.errors import AuditIntegrityError
from crmcore.governance import AuditEntry, AuditLog, Checkpoint, MemoryAuditStore, SQLiteAuditStore
from crmcore.governance._identity import canonical_json, sha256_hex

T0 = datetime(2024, 1, 1, tzinfo=UTC)
KEY = b"host-secret-key-0123456789abcdef"
NEW_KEY = b"host-secret-key-rotated-abcdefgh"


def filled(log: AuditLog, n: int, start: int = 0) -> AuditLog:
    for i in range(start, start + n):
        log.record(
            "change",
            actor=f"u{i % 3}",
            record_type="contact",
            record_id=f"c{i}",
            field="email",
            old=f"old{i}@x.com",
            new=f"new{i}@x.com",
            subjects=[f"p{i % 4}"],
            at=T0 + timedelta(minutes=i),
        )
    return log


def forge(entry: AuditEntry, prev: str, key: bytes | None) -> AuditEntry:
    """What a writer can do without the host key: recompute the hash with what it has."""
    text = canonical_json({"meta": entry.metadata(), "payload": entry.payload_digest, "prev": prev})
    digest = (
        sha256_hex(text)
        if key is None
        else hmac.new(key, text.encode("utf-8"), hashlib.sha256).hexdigest()
    )
    return attrs.evolve(entry, prev_hash=prev, hash=digest)


def rechain(entries: list[AuditEntry], key: bytes | None, key_id: str | None) -> list[AuditEntry]:
    """Recompute every link and hash (the attacker's full rewrite)."""
    out: list[AuditEntry] = []
    prev = entries[0].prev_hash
    for e in entries:
        e = forge(attrs.evolve(e, key_id=key_id), prev, key)
        out.append(e)
        prev = e.hash
    return out


class TestKeyedChain:
    def test_keyed_entries_verify(self) -> None:
        """Entries signed with the host key verify and are counted as keyed."""
        log = filled(AuditLog(key=KEY), 4)
        report = log.verify()
        assert (report.ok, report.keyed, report.unkeyed) == (True, 4, 0)
        assert all(e.key_id == "k1" for e in log.entries())

    @settings(max_examples=40, deadline=None)
    @given(
        st.integers(2, 8),
        st.data(),
        st.sampled_from(["edit_sha", "edit_wrong_key", "append_sha", "append_wrong_key",
                         "rewrite_all_sha", "rewrite_all_wrong_key", "drop_and_rechain"]),
    )  # fmt: skip
    def test_writer_without_key_detected(self, n, data, attack) -> None:
        """Whatever a writer without the key recomputes, verify() names the first bad entry."""
        log = filled(AuditLog(key=KEY), n)
        entries = list(log.store._entries)  # type: ignore[attr-defined]
        i = data.draw(st.integers(0, n - 1))
        wrong = b"attacker-guess-000000000000000000"
        key, key_id = (wrong, "k1") if attack.endswith("wrong_key") else (None, None)
        if attack.startswith("edit"):
            changed = attrs.evolve(entries[i], actor="mallory")
            entries[i:] = rechain([changed, *entries[i + 1 :]], key, key_id)
            first = i + 1
        elif attack.startswith("append"):
            last = entries[-1]
            extra = attrs.evolve(last, seq=last.seq + 1, actor="mallory", key_id=key_id)
            entries.append(forge(extra, last.hash, key))
            first = n + 1
        elif attack.startswith("rewrite_all"):
            entries = rechain(entries, key, key_id)
            first = 1
        else:  # drop entry i, renumber and re-chain the rest
            rest = [attrs.evolve(e, seq=e.seq - 1) for e in entries[i + 1 :]]
            entries = entries[:i] + (rechain(rest, None, None) if rest else [])
            first = i + 1 if rest else None
        log.store._entries[:] = entries  # type: ignore[attr-defined]
        log._search = None
        report = log.verify()
        if first is None:  # the last entry dropped: only a checkpoint can tell
            assert report.ok
            assert "no checkpoint" in (report.note or "")
            return
        assert not report.ok, attack
        assert report.first_bad_seq == first, (attack, report)
        if attack == "rewrite_all_sha" or (attack == "edit_sha" and i == 0):
            # every entry is a self-consistent unkeyed entry: none can be trusted
            assert "written (or rewritten) without the key" in (report.problem or "")

    def test_checkpoint_catches_cut_tail(self) -> None:
        """A checkpoint published elsewhere catches entries cut from the end."""
        log = filled(AuditLog(key=KEY), 5)
        cp = log.checkpoint(at=T0)
        assert log.verify(checkpoint=cp).ok
        del log.store._entries[-2:]  # type: ignore[attr-defined]
        assert log.verify().ok  # self-consistent ...
        report = log.verify(checkpoint=Checkpoint.from_dict(cp.to_dict()))
        assert not report.ok
        assert report.first_bad_seq == 4
        assert "before the expected head" in (report.problem or "")

    def test_forged_checkpoint_rejected(self) -> None:
        """A checkpoint whose head or signature was changed is refused."""
        log = filled(AuditLog(key=KEY), 3)
        cp = log.checkpoint(at=T0)
        forged = attrs.evolve(cp, seq=2, hash=log.entries()[1].hash)
        report = log.verify(checkpoint=forged)
        assert not report.ok
        assert "signature does not match" in (report.problem or "")
        with pytest.raises(AuditIntegrityError, match="checkpoint"):
            log.verify(checkpoint=forged, raise_on_error=True)

    def test_checkpoint_needs_key(self) -> None:
        """An unkeyed log cannot sign checkpoints."""
        with pytest.raises(AuditIntegrityError, match="needs a key"):
            AuditLog().checkpoint()

    def test_key_never_stored(self, tmp_path: Path) -> None:
        """The key is not written to the store: only its id is."""
        path = tmp_path / "audit.db"
        store = SQLiteAuditStore(path)
        filled(AuditLog(store, key=KEY, key_id="2026-q1"), 3)
        store.close()
        data = path.read_bytes()
        assert KEY not in data
        assert b"2026-q1" in data
        again = AuditLog(SQLiteAuditStore(path), key=KEY, key_id="2026-q1")
        assert again.verify().keyed == 3
        again.store.close()  # type: ignore[attr-defined]

    def test_short_key_refused(self) -> None:
        """A key under 16 bytes is refused with a hint."""
        with pytest.raises(AuditIntegrityError, match="too short"):
            AuditLog(key="secret")

    def test_keyed_log_without_key(self) -> None:
        """A keyed log opened without its key cannot be verified or extended, with a clear why."""
        keyed = filled(AuditLog(key=KEY), 2)
        reader = AuditLog(keyed.store)
        report = reader.verify()
        assert not report.ok
        assert report.problem == "entry signed with key 'k1', which was not supplied"
        with pytest.raises(AuditIntegrityError, match="open it with that key"):
            reader.record("export", actor="x")


class TestRotation:
    def test_rotate_and_verify_with_old_keys(self) -> None:
        """After a rotation both keys' entries verify when the old key is kept for checking."""
        log = filled(AuditLog(key=KEY, key_id="k1"), 3)
        rotation = log.rotate_key(NEW_KEY, "k2", actor="security", at=T0)
        assert (rotation.key_id, rotation.record_id) == ("k1", "k2")
        filled(log, 2, start=3)
        assert log.verify().keyed == 6
        later = AuditLog(log.store, key=NEW_KEY, key_id="k2", old_keys={"k1": KEY})
        assert later.verify().ok
        filled(later, 1, start=5)
        assert later.verify().keyed == 7
        without_old = AuditLog(log.store, key=NEW_KEY, key_id="k2").verify()
        assert not without_old.ok
        assert without_old.first_bad_seq == 1

    def test_switch_without_rotation_refused(self) -> None:
        """Writing with another key without rotate_key() is refused, and detected if forced."""
        log = filled(AuditLog(key=KEY, key_id="k1"), 2)
        other = AuditLog(log.store, key=NEW_KEY, key_id="k2", old_keys={"k1": KEY})
        with pytest.raises(AuditIntegrityError, match="rotate_key"):
            other.record("export", actor="x")
        entries = log.store._entries  # type: ignore[attr-defined]
        last = entries[-1]
        sneaky = attrs.evolve(last, seq=3, key_id="k2")
        entries.append(forge(sneaky, last.hash, NEW_KEY))
        report = other.verify()
        assert report.first_bad_seq == 3
        assert "without a key_rotation entry" in (report.problem or "")

    def test_rotation_id_reuse_refused(self) -> None:
        """A key id cannot be given to a different key."""
        log = AuditLog(key=KEY, key_id="k1")
        with pytest.raises(AuditIntegrityError, match="already used"):
            log.rotate_key(NEW_KEY, "k1")


class TestLegacyUnkeyed:
    def test_old_unkeyed_log_verifies_as_such(self) -> None:
        """A log written before keys verifies, and says it is unkeyed."""
        report = filled(AuditLog(), 3).verify()
        assert (report.ok, report.keyed, report.unkeyed) == (True, 0, 3)
        assert "3 unkeyed entries" in (report.note or "")

    def test_old_log_opened_with_key_says_what_to_do(self) -> None:
        """An old unkeyed log opened with a key explains itself; require_keyed=False verifies."""
        store = filled(AuditLog(), 2).store
        report = AuditLog(store, key=KEY).verify()
        assert not report.ok
        assert "require_keyed=False" in (report.problem or "")
        assert AuditLog(store, key=KEY).verify(require_keyed=False).unkeyed == 2

    def test_old_sqlite_table_gains_key_column(self, tmp_path: Path) -> None:
        """A table written before keyed chains opens, verifies and continues keyed."""
        import sqlite3

        path = tmp_path / "old.db"
        con = sqlite3.connect(path)
        con.execute(
            "CREATE TABLE audit_log (seq INTEGER PRIMARY KEY, at TEXT NOT NULL, actor TEXT NOT "
            "NULL, action TEXT NOT NULL, record_type TEXT, record_id TEXT, field TEXT, source "
            "TEXT, subjects TEXT NOT NULL, payload TEXT, payload_digest TEXT NOT NULL, "
            "prev_hash TEXT NOT NULL, hash TEXT NOT NULL, erases TEXT)"
        )
        con.commit()
        con.close()
        store = SQLiteAuditStore(path)
        plain = filled(AuditLog(store), 2)
        assert plain.verify().unkeyed == 2
        keyed = filled(AuditLog(store, key=KEY), 2, start=2)
        report = keyed.verify()
        assert (report.ok, report.keyed, report.unkeyed) == (True, 2, 2)
        assert "pinned by the keyed entries" in (report.note or "")
        store.close()

    def test_keyed_entries_pin_the_legacy_prefix(self) -> None:
        """Rewriting the unkeyed prefix (hashes recomputed) breaks the first keyed link."""
        store = MemoryAuditStore()
        filled(AuditLog(store), 3)
        log = filled(AuditLog(store, key=KEY), 2, start=3)
        entries = store._entries  # type: ignore[attr-defined]
        edited = [attrs.evolve(entries[0], actor="mallory"), *entries[1:3]]
        entries[:3] = rechain(edited, None, None)
        report = log.verify()
        assert report.first_bad_seq == 4
        assert "previous-hash link" in (report.problem or "")

    def test_sqlite_round_trip_after_tamper(self) -> None:
        """A keyed SQLite trail edited in place is caught at the edited row."""
        with tempfile.TemporaryDirectory() as tmp:
            store = SQLiteAuditStore(Path(tmp) / "a.db")
            log = filled(AuditLog(store, key=KEY), 4)
            store.connection.execute("UPDATE audit_log SET actor = 'mallory' WHERE seq = 2")
            report = log.verify()
            store.close()
        assert report.first_bad_seq == 2
        assert "HMAC under key 'k1'" in (report.problem or "")
