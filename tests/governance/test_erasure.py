"""Erasure, portability and the suppression list."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crmcore.errors import SuppressedRecordError
from crmcore.governance import (
    AuditLog,
    AuditTrailStore,
    ConsentLedger,
    ConsentStore,
    Eraser,
    FunctionStore,
    Identifiers,
    InMemoryRecordStore,
    MatchIndexStore,
    Segment,
    SegmentRegistry,
    Store,
    SuppressionList,
    build_segment,
)
from crmcore.workflows.conditions import all_

T0 = datetime(2024, 1, 1, tzinfo=UTC)


class TestIdentifiers:
    def test_normalised(self) -> None:
        """Emails and phones are normalised on construction."""
        ids = Identifiers(emails=[" Ann@X.com "], phones=["+44 (20) 7946-0123"])
        assert ids.emails == {"ann@x.com"}
        assert ids.phones == {"+442079460123"}

    def test_from_record(self) -> None:
        """A record's emails, phones, name + dob and ids are found."""
        ids = Identifiers.from_record(
            {
                "id": "r1",
                "person_id": "p1",
                "emails": ("a@x.com",),
                "mobile": "07700 900123",
                "first_name": "Ann",
                "last_name": "Lee",
                "dob": "1990-01-02",
            }
        )
        assert ids.keys() == {
            "id:r1",
            "person:p1",
            "email:a@x.com",
            "phone:07700900123",
            "name_dob:ann lee|1990-01-02",
        }


class TestInMemoryRecordStore:
    def test_find_and_erase(self) -> None:
        """Records are found by any identifier and erased with their index entries."""
        store = InMemoryRecordStore(
            "crm", [{"id": "1", "email": "a@x.com"}, {"id": "2", "phone": "+441234567"}]
        )
        assert isinstance(store, Store)
        assert store.find(Identifiers(emails=["A@x.com"])) == ["1"]
        report = store.erase(Identifiers(phones=["+44 1234 567"]))
        assert report.record_ids == ("2",)
        assert len(store) == 1
        assert store.find(Identifiers(phones=["+441234567"])) == []

    def test_replace_reindexes(self) -> None:
        """Replacing a record drops its old identifiers from the index."""
        store = InMemoryRecordStore("crm", [{"id": "1", "email": "a@x.com"}])
        store.add({"id": "1", "email": "b@x.com"})
        assert store.find(Identifiers(emails=["a@x.com"])) == []
        assert store.find(Identifiers(emails=["b@x.com"])) == ["1"]


class TestSuppressionList:
    def test_blocks_reimport(self) -> None:
        """A suppressed email blocks an import, names the rule, and keeps only hashes."""
        sup = SuppressionList("pepper")
        sup.add(Identifiers(emails=["ann@x.com"]))
        assert "ann@x.com" not in sup.to_json()
        with pytest.raises(SuppressedRecordError, match=r"governance\.suppressed"):
            sup.check({"id": "9", "email": "ANN@x.com"})
        report = sup.filter([{"id": "9", "email": "ann@x.com"}, {"id": "8", "email": "b@x"}])
        assert report.suppressed == ((0, "9", ("email",)),)
        assert len(report.kept) == 1

    def test_salt_matters_and_round_trip(self) -> None:
        """Hashes only match with the same salt; the list survives JSON."""
        sup = SuppressionList("a")
        sup.add({"phone": "+44 20 7946 0123", "full_name": "Ann Lee", "dob": "1990-01-01"})
        again = SuppressionList.from_json(sup.to_json(), "a")
        assert again.matches({"phone": "+442079460123"}) == ("phone",)
        assert again.matches({"first_name": "ann", "last_name": "LEE", "dob": "1990-01-01"}) == (
            "name_dob",
        )
        assert (
            SuppressionList.from_json(sup.to_json(), "b").matches({"phone": "+442079460123"}) == ()
        )


class TestSuppressionRegion:
    def test_national_numbers_with_region(self) -> None:
        """With a region, a national number matches its suppressed E.164 form."""
        sup = SuppressionList("s", region="GB")
        sup.add(Identifiers(phones=["+44 20 7946 0123"]))
        assert sup.matches({"phone": "020 7946 0123"}) == ("phone",)
        assert (
            SuppressionList.from_json(sup.to_json(), "s").matches({"phone": "020 7946 0123"}) == ()
        )


class FakeIndex:
    """Stands in for crmcore.matching.MatchIndex (record ids grouped by entity)."""

    def __init__(self) -> None:
        self.entities = {"E1": ["r1", "r2"], "E2": ["r3"]}

    def __contains__(self, record_id: object) -> bool:
        return any(record_id in m for m in self.entities.values())

    def remove(self, record_id: str) -> None:
        for members in self.entities.values():
            if record_id in members:
                members.remove(record_id)

    def members(self, entity_id: str) -> list[str]:
        return list(self.entities[entity_id])


class TestMatchIndexStore:
    def test_find_and_erase_by_record_and_entity(self) -> None:
        """Records are found by record id or entity id and removed from the index."""
        index = FakeIndex()
        store = MatchIndexStore(index)
        assert store.find(Identifiers(record_ids=["r3", "zz"], person_ids=["E1", "E9"])) == [
            "r1",
            "r2",
            "r3",
        ]
        assert store.erase(Identifiers(person_ids=["E1"])).erased == 2
        assert index.entities == {"E1": [], "E2": ["r3"]}


def person(n: int) -> dict[str, str]:
    return {
        "person_id": f"p{n}",
        "email": f"person{n}.secret@example.com",
        "phone": f"+4420794{n:05d}",
        "first_name": f"Firstname{n}x",
        "last_name": f"Lastname{n}y",
        "dob": f"19{50 + n % 40}-01-01",
    }


def world(n_people: int):
    crm = InMemoryRecordStore("crm")
    web = InMemoryRecordStore("web")
    golden = InMemoryRecordStore("golden")
    activities = InMemoryRecordStore("activities")
    ledger = ConsentLedger()
    log = AuditLog()
    segments = SegmentRegistry()
    match_index: dict[str, str] = {}
    for n in range(n_people):
        p = person(n)
        crm.add({"id": f"crm{n}", **p})
        web.add({"id": f"web{n}", "email": p["email"].upper(), "phone": p["phone"]})
        golden.add(
            {
                "id": f"g{n}",
                "person_id": p["person_id"],
                "email": p["email"],
                "lineage": {"email": [{"value": p["email"], "record_id": f"crm{n}"}]},
            }
        )
        activities.add({"id": f"a{n}", "contact_id": p["person_id"], "subject": "call"})
        ledger.record(
            p["person_id"],
            "email",
            "marketing",
            "opted_in",
            captured_at=T0,
            contact_point=p["email"],
        )
        log.record(
            "change",
            actor="u",
            record_type="contact",
            record_id=f"crm{n}",
            field="email",
            new=p["email"],
            subjects=[p["person_id"]],
            at=T0,
        )
        match_index[f"crm{n}"] = p["phone"]
    segments.put(
        build_segment(
            Segment("all", "marketing", "email", all_()),
            [{"id": f"p{n}", "email": person(n)["email"]} for n in range(n_people)],
            ledger,
            now=T0,
        )
    )
    index_store = FunctionStore(
        "match_index",
        find=lambda ids: [k for k, v in match_index.items() if v in ids.phones],
        erase=lambda ids: len(
            [
                match_index.pop(k)
                for k, v in list(match_index.items())
                if v in ids.phones or k in ids.record_ids
            ]
        ),
    )
    stores = [
        crm,
        web,
        golden,
        activities,
        ConsentStore(ledger),
        AuditTrailStore(log),
        segments,
        index_store,
    ]
    return stores, ledger, log, match_index


class TestEraser:
    def test_export_then_erase(self) -> None:
        """Export gathers everything; erasure reaches every store and audits itself."""
        stores, _ledger, log, _index = world(3)
        sup = SuppressionList("s")
        eraser = Eraser(stores, suppression=sup, audit=log)
        exported = json.loads(eraser.export_person(Identifiers(emails=[person(1)["email"]])))
        assert [r["id"] for r in exported["crm"]] == ["crm1"]
        assert exported["web"][0]["id"] == "web1"
        assert exported["consent"][0]["person_id"] == "p1"
        report = eraser.erase_person(Identifiers(emails=[person(1)["email"]]), actor="dpo")
        assert {s.store: s.erased for s in report.stores}["crm"] == 1
        assert report.total >= 7
        assert log.verify().ok
        assert log.entries()[-1].action == "erasure"
        assert sup.matches({"email": person(1)["email"]}) == ("email",)


class TestErasureProperty:
    @settings(max_examples=25, deadline=None)
    @given(st.integers(2, 6), st.data(), st.sampled_from(["email", "phone", "person_id"]))
    def test_no_trace_left_anywhere(self, n_people, data, by) -> None:
        """After erasure, no store holds any of the person's identifiers; others are untouched."""
        target = data.draw(st.integers(0, n_people - 1))
        stores, ledger, log, index = world(n_people)
        p = person(target)
        ids = {
            "email": Identifiers(emails=[p["email"]]),
            "phone": Identifiers(phones=[p["phone"]]),
            "person_id": Identifiers(person_ids=[p["person_id"]]),
        }[by]
        Eraser(stores, suppression=SuppressionList("s"), audit=log).erase_person(ids, actor="d")
        needles = [p["email"], p["email"].upper(), p["phone"], p["first_name"], p["last_name"]]
        everything = repr([vars(s) for s in stores]) + repr(vars(ledger)) + repr(index)
        everything += repr(log.entries())
        for needle in needles:
            assert needle not in everything, needle
        assert log.verify().ok
        other = person((target + 1) % n_people)
        assert other["email"] in everything
        assert other["phone"] in everything
        assert ledger.may_contact(
            other["person_id"], "email", "marketing", contact_point=other["email"], now=T0
        )
