"""Tests for crmcore.workflows.store: the memory and SQLite stores behave the same."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crmcore.errors import SerializationError
from crmcore.workflows import MemoryScheduleStore, PendingAction, SQLiteScheduleStore

T0 = datetime(2024, 1, 1, tzinfo=UTC)


@pytest.fixture(params=["memory", "sqlite"])
def store(request, tmp_path):
    if request.param == "memory":
        yield MemoryScheduleStore()
    else:
        s = SQLiteScheduleStore(tmp_path / "s.db")
        yield s
        s.close()


def item(key: str, days: int) -> PendingAction:
    return PendingAction(key, "r", 0, "deal", "d1", T0 + timedelta(days=days), "e1",
                         {"stage": ("open", date(2024, 1, 1))}, 3.0)  # fmt: skip


class TestStores:
    def test_pending(self, store) -> None:
        """Held actions come back due in order, once removed they are gone."""
        store.add_pending(item("b", 2))
        store.add_pending(item("a", 1))
        store.add_pending(item("c", 9))
        assert [p.key for p in store.due_pending(T0 + timedelta(days=3))] == ["a", "b"]
        assert store.due_pending(T0 + timedelta(days=3))[0] == item("a", 1)
        store.remove_pending("a")
        assert [p.key for p in store.pending()] == ["b", "c"]

    def test_events_fired_periods(self, store) -> None:
        """Event ids, fired marks and periods are remembered."""
        assert store.remember_event("e1")
        assert not store.remember_event("e1")
        store.set_fired("r", "d1", True)
        assert store.has_fired("r", "d1")
        store.set_fired("r", "d1", False)
        assert not store.has_fired("r", "d1")
        store.set_period("r", "d1", 5.0)
        assert store.periods("r") == {"d1": 5.0}

    def test_copy(self, store) -> None:
        """A copy is an independent memory store with the same content."""
        store.add_pending(item("a", 1))
        store.set_period("r", "d1", 5.0)
        other = store.copy()
        other.remove_pending("a")
        assert [p.key for p in store.pending()] == ["a"]
        assert other.periods("r") == {"d1": 5.0}


class TestMemoryStoreCopy:
    def test_forget_events_on_a_copy(self) -> None:
        """A copy can forget the events seen; the original still remembers them."""
        store = MemoryScheduleStore()
        store.remember_event("e1")
        other = store.copy()
        other.forget_events()
        assert other.remember_event("e1")
        assert not store.remember_event("e1")


class TestSqliteBatch:
    def test_batch_commits_once_at_the_end(self, tmp_path) -> None:
        """Writes in a batch are seen by another connection only when the batch ends."""
        path = tmp_path / "s.db"
        writer, reader = SQLiteScheduleStore(path), SQLiteScheduleStore(path)
        writer.set_period("r", "d0", 1.0)
        assert reader.periods("r") == {"d0": 1.0}  # outside a batch: committed at once
        with writer.batch():
            with writer.batch():
                writer.set_period("r", "d1", 2.0)
                writer.add_pending(item("a", 1))
            assert writer.periods("r") == {"d0": 1.0, "d1": 2.0}
            assert reader.periods("r") == {"d0": 1.0}
            assert reader.pending() == []
        assert reader.periods("r") == {"d0": 1.0, "d1": 2.0}
        assert [p.key for p in reader.pending()] == ["a"]
        writer.close()
        reader.close()

    def test_memory_batch_is_transparent(self) -> None:
        """The memory store's batch changes nothing about what is stored."""
        store = MemoryScheduleStore()
        with store.batch():
            store.set_fired("r", "d1", True)
        assert store.has_fired("r", "d1")


class TestPendingActionDictForm:
    """Held actions' bodies go through the spec codec; bodies written before still load."""

    GOLDEN = (Path(__file__).parents[1] / "fixtures" / "codec" / "workflows_store"
              / "pending_actions.json")

    def test_bodies_written_before_load_and_write_back_unchanged(self) -> None:
        """Bodies the hand-written serialiser wrote (a zoned due time, dates and lists in the
        change, a time-trigger period) read back and write the same document."""
        bodies = json.loads(self.GOLDEN.read_text())
        assert [PendingAction.from_dict(b).to_dict() for b in bodies] == bodies

    @settings(deadline=None)
    @given(st.dictionaries(st.sampled_from(["stage", "amount", "closed_on"]),
                           st.tuples(st.one_of(st.none(), st.integers(), st.text(max_size=5)),
                                     st.one_of(st.none(), st.dates(), st.booleans()))),
           st.one_of(st.none(), st.floats(0, 2e9)))
    def test_round_trip(self, change, period) -> None:
        """A held action survives its dict form (as a SQLite store keeps it)."""
        p = PendingAction("k", "r", 3, "deal", "d1", T0, "e1", change, period)
        assert PendingAction.from_dict(json.loads(json.dumps(p.to_dict()))) == p

    def test_every_problem_named(self) -> None:
        """A damaged body names every bad key."""
        bad = {"key": "k", "rule": 7, "action_index": "0", "record_type": "deal",
               "record_id": "d1", "due_at": "2026-01-01T00:00:00Z", "event_id": "e1",
               "change": {"stage": ["a"]}, "colour": 1}
        with pytest.raises(SerializationError) as exc:
            PendingAction.from_dict(bad)
        assert {p.field for p in exc.value.problems} == {
            "pending.rule", "pending.action_index", "pending.change.stage", "pending.colour"}

    def test_decimal_in_a_change_survives_a_restart(self, tmp_path) -> None:
        """A deal amount held as a Decimal comes back as the same Decimal from a SQLite store
        (it used to come back as text: "10.50"), and a condition on it still compares."""
        from decimal import Decimal

        from crmcore.conditions import evaluate, gt

        p = PendingAction("k", "r", 0, "deal", "d1", T0, "e1",
                          {"amount": (Decimal("10.50"), Decimal("1200.00"))})
        s = SQLiteScheduleStore(tmp_path / "s.db")
        s.add_pending(p)
        s.close()
        again = SQLiteScheduleStore(tmp_path / "s.db")
        (back,) = again.due_pending(T0 + timedelta(days=1))
        again.close()
        assert back.change["amount"] == (Decimal("10.50"), Decimal("1200.00"))
        assert isinstance(back.change["amount"][1], Decimal)
        assert evaluate(gt("amount", 1000), {"amount": back.change["amount"][1]})
