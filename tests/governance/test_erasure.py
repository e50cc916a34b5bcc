"""Erasure, portability and the suppression list."""

from __future__ import annotations

import functools
import json
import sqlite3
import tempfile
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crmcore.conditions import all_
from crmcore.errors import IndexStateError, SuppressedRecordError
from crmcore.governance import (
    AuditLog,
    AuditTrailStore,
    ConsentLedger,
    ConsentStore,
    Eraser,
    FunctionStore,
    GoldenRecordStore,
    Identifiers,
    MatchIndexStore,
    MemoryRecordStore,
    Segment,
    SegmentRegistry,
    SQLiteAuditStore,
    Store,
    SuppressionList,
    build_segment,
)
from crmcore.matching import MatchResult, dedupe
from crmcore.matching.realtime import MatchIndex, scrub_index_file
from crmcore.model import Activity, Contact, RecordRef
from crmcore.survivorship import SourceRecord, SurvivorshipRules, merge

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
        store = MemoryRecordStore(
            "crm", [{"id": "1", "email": "a@x.com"}, {"id": "2", "phone": "+441234567"}]
        )
        assert isinstance(store, Store)
        assert store.find(Identifiers(emails=["A@x.com"])) == ["1"]
        report = store.erase(Identifiers(phones=["+44 1234 567"]))
        assert report.record_ids == ("2",)
        assert len(store) == 1
        assert store.find(Identifiers(phones=["+441234567"])) == []

    def test_find_by_e164_a_number_stored_with_trunk_prefix(self) -> None:
        """A number stored as ``+44 (0)20 7946-0000`` is found by its E.164 form and back."""
        store = MemoryRecordStore("crm", [{"id": "1", "phone": "+44 (0)20 7946-0000"}])
        assert store.find(Identifiers(phones={"+442079460000"})) == ["1"]
        assert store.find(Identifiers(phones={"0044 20 7946 0000"})) == ["1"]
        other = MemoryRecordStore("crm", [{"id": "2", "phone": "+442079460000"}])
        assert other.find(Identifiers(phones={"+44 (0)20 7946-0000"})) == ["2"]

    def test_replace_reindexes(self) -> None:
        """Replacing a record drops its old identifiers from the index."""
        store = MemoryRecordStore("crm", [{"id": "1", "email": "a@x.com"}])
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
    crm = MemoryRecordStore("crm")
    web = MemoryRecordStore("web")
    golden = MemoryRecordStore("golden")
    activities = MemoryRecordStore("activities")
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


# ---------------------------------------------------------------------------------------------
# Real stores: survivorship golden records, the matching index and its SQLite file, activities,
# an SQLite audit trail, segments and the consent ledger.
# ---------------------------------------------------------------------------------------------


def human(n: int) -> dict[str, str]:
    """A person whose every identifier is unique to them (so a scan can look for it)."""
    return {
        "person_id": f"p{n}",
        "first_name": f"Quenby{n}x",
        "last_name": f"Zarkowitz{n}y",
        "email": f"quenby{n}.zarkowitz@acme.io",
        "phone": f"+4420794{n:05d}",
        "dob": f"19{60 + n}-0{1 + n % 9}-{10 + n}",
    }


def source_rows(n: int) -> list[dict[str, str]]:
    """The person's records in two sources (the web form has the email in upper case)."""
    h = human(n)
    crm = {k: v for k, v in h.items() if k != "person_id"}
    return [
        {"record_id": f"crm{n}", "source": "crm", **crm},
        {
            "record_id": f"web{n}",
            "source": "web",
            "first_name": h["first_name"],
            "last_name": h["last_name"],
            "email": h["email"].upper(),
            "phone": h["phone"],
        },
    ]


def golden_of(n: int, entity: str):
    sources = [
        SourceRecord(
            r["record_id"],
            r["source"],
            T0,
            {k: v for k, v in r.items() if k not in ("record_id", "source")},
        )
        for r in source_rows(n)
    ]
    return merge(sources, SurvivorshipRules(), entity_id=entity)


@functools.cache
def trained() -> MatchResult:
    """A model and settings trained by matching itself on four people with two records each.

    Its term-frequency tables name values seen twice: every person's names and address.
    """
    return dedupe([row for i in range(4) for row in source_rows(i)], id_column="record_id")


def build_index(rows: list[dict[str, str]]) -> MatchIndex:
    return MatchIndex.build(trained().model, trained().settings, rows)


class RealWorld:
    """Every store the library offers, filled for ``n`` people, persisted under ``root``."""

    def __init__(self, n: int, root: Path) -> None:
        self.index_path = root / "index.sqlite"
        self.audit_path = root / "audit.sqlite"
        self.audit_store = SQLiteAuditStore(self.audit_path)
        self.audit_store.connection.execute("PRAGMA synchronous = OFF")  # a scratch file
        self.log = AuditLog(self.audit_store)
        self.ledger = ConsentLedger(audit=self.log)
        self.crm = MemoryRecordStore("crm", id_field="record_id")
        self.web = MemoryRecordStore("web", id_field="record_id")
        self.activities = MemoryRecordStore("activities")
        self.contacts = MemoryRecordStore("contacts")
        self.segments = SegmentRegistry()
        rows = [row for i in range(n) for row in source_rows(i)]
        self.index = build_index(rows)
        self.index.save(self.index_path)
        goldens = []
        for i in range(n):
            h = human(i)
            crm, web = source_rows(i)
            self.crm.add({**crm, "person_id": h["person_id"]})
            self.web.add(web)
            entity = self.index.entity_of(f"crm{i}")
            goldens.append(golden_of(i, entity))
            self.log.record_merge(entity, [f"crm{i}", f"web{i}"], actor="steward", at=T0)
            self.log.record_change(
                "contact",
                f"crm{i}",
                {"email": None},
                {"email": h["email"]},
                actor="u",
                subjects=[h["person_id"]],
                at=T0,
            )
            self.contacts.add(
                Contact(
                    id=h["person_id"],
                    first_name=h["first_name"],
                    last_name=h["last_name"],
                    emails=(h["email"],),
                    phones=(h["phone"],),
                    birth_date=date.fromisoformat(h["dob"]),
                ).to_dict()
            )
            self.activities.add(
                Activity(
                    id=f"a{i}",
                    activity_type="call",
                    subject="intro call",
                    body=f"Called back on {h['phone']}; will write to {h['email']}",
                    related=(RecordRef("contact", h["person_id"]),),
                ).to_dict()
            )
            self.ledger.record(
                h["person_id"],
                "email",
                "marketing",
                "opted_in",
                captured_at=T0,
                contact_point=h["email"],
                evidence=f"form signed by {h['first_name']}",
            )
            if i % 2:
                self.ledger.set_do_not_sell(h["person_id"], captured_at=T0)
        self.golden = GoldenRecordStore(goldens)
        self.segments.put(
            build_segment(
                Segment("all", "marketing", "email", all_()),
                [{"id": human(i)["person_id"], "email": human(i)["email"]} for i in range(n)],
                self.ledger,
                now=T0,
            )
        )
        self.suppression = SuppressionList("salt")
        self.stores: list[Store] = [
            self.crm,
            self.web,
            self.contacts,
            self.activities,
            self.golden,
            MatchIndexStore(self.index, path=self.index_path),
            ConsentStore(self.ledger),
            AuditTrailStore(self.log),
            self.segments,
        ]
        self.eraser = Eraser(self.stores, suppression=self.suppression, audit=self.log)

    def everything(self) -> str:
        """Every store's content as one lower-case text: memory, golden lineage, both files."""
        parts = [
            repr(vars(self.crm)),
            repr(vars(self.web)),
            repr(vars(self.contacts)),
            repr(vars(self.activities)),
            json.dumps([g.to_dict() for g in self.golden.goldens()], default=str),
            repr(vars(self.golden)),
            repr(vars(self.ledger)),
            repr(self.segments.results()),
            json.dumps([r.to_dict() for r in self.segments.results()]),
            repr(self.log.entries()),
            self.suppression.to_json(),
            repr(self.index.entities()),
            self.audit_path.read_bytes().decode("latin-1"),
            self.index_path.read_bytes().decode("latin-1"),
            repr(MatchIndex.load(self.index_path).entities()),
        ]
        return "\n".join(parts).lower()


def needles(n: int) -> list[str]:
    """The person's identifiers as any store might hold them."""
    h = human(n)
    local = h["email"].split("@")[0]
    return [
        h["email"],
        local,  # as typed
        local.replace(".", ""),  # as matching keeps an email's local part
        h["phone"],
        h["phone"][3:],
        h["first_name"],
        h["last_name"],
        h["dob"],
    ]


class TestRealStores:
    def test_golden_store_finds_by_entity_member_and_lineage(self) -> None:
        """A golden record is found by entity id, member record id and any lineage value."""
        a = SourceRecord("a", "crm", T0, {"email": "ann@acme.io", "phone": "+442079460001"})
        b = SourceRecord("b", "web", T0, {"email": "ann.old@acme.io"})
        store = GoldenRecordStore([merge([a, b], SurvivorshipRules(), entity_id="E1")])
        golden = store.get("E1")
        assert golden is not None
        won = golden.values["email"]
        lost = ({"ann@acme.io", "ann.old@acme.io"} - {won}).pop()
        assert store.find(Identifiers(person_ids=["E1"])) == ["E1"]
        assert store.find(Identifiers(record_ids=["b"])) == ["E1"]
        assert store.find(Identifiers(emails=[lost.upper()])) == ["E1"]  # only in the lineage
        assert store.export(Identifiers(phones=["+44 20 7946 0001"]))[0]["entity_id"] == "E1"
        assert store.erase(Identifiers(emails=[lost])).erased == 1
        assert len(store) == 0
        assert store.find(Identifiers(person_ids=["E1"])) == []

    def test_activity_found_through_related_and_text(self) -> None:
        """Activities are found by their contact references and by addresses in the body."""
        acts = MemoryRecordStore(
            "activities",
            [
                Activity(
                    id="a1", activity_type="call", related=(RecordRef("contact", "c1"),)
                ).to_dict(),
                Activity(
                    id="a2", activity_type="note", body="Ping Ann.Lee@acme.io or +44 20 7946 0123"
                ).to_dict(),
                Activity(id="a3", activity_type="note", body="nothing personal").to_dict(),
            ],
        )
        assert acts.find(Identifiers(person_ids=["c1"])) == ["a1"]
        assert acts.find(Identifiers(emails=["ann.lee@acme.io"])) == ["a2"]
        assert acts.find(Identifiers(phones=["+442079460123"])) == ["a2"]

    def test_national_number_in_free_text_found_with_region(self) -> None:
        """With a region, a national number written in a note is found by its E.164 form."""
        note = {"id": "n1", "activity_type": "note", "body": "call back on 020 7946 0958"}
        assert MemoryRecordStore("a", [note], region="GB").find(
            Identifiers(phones=["+44 20 7946 0958"])
        ) == ["n1"]
        assert MemoryRecordStore("a", [note]).find(Identifiers(phones=["+442079460958"])) == []

    def test_match_index_file_scrubbed(self, tmp_path: Path) -> None:
        """Erasing from the match index leaves none of the record's values in its saved file."""
        index = build_index(source_rows(1) + source_rows(2))
        path = tmp_path / "index.sqlite"
        index.save(path)
        assert b"zarkowitz1y" in path.read_bytes()
        store = MatchIndexStore(index, path=path)
        entity = index.entity_of("crm1")
        assert store.find(Identifiers(person_ids=[entity])) == ["crm1", "web1"]
        assert store.erase(Identifiers(person_ids=[entity])).erased == 2
        data = path.read_bytes().lower()
        for needle in needles(1):
            assert needle.lower().encode() not in data, needle
        assert b"zarkowitz2y" in data
        again = MatchIndex.load(path)
        assert sorted(again.entities()) == ["crm2", "web2"]
        probe = {**source_rows(2)[0], "record_id": "new"}
        assert [c.record_id for c in again.match(probe)] == ["crm2", "web2"]

    def test_unknown_index_layout_refused(self, tmp_path: Path) -> None:
        """A file in a layout the scrub does not know is an error, never a silent pass."""
        path = tmp_path / "other.sqlite"
        con = sqlite3.connect(path)
        con.execute("CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT)")
        con.execute("INSERT INTO meta VALUES ('format', '\"crmcore.matching.index/99\"')")
        con.commit()
        con.close()
        with pytest.raises(IndexStateError, match="index/99"):
            scrub_index_file(path, ["r1"])

    def test_preview_changes_nothing(self, tmp_path: Path) -> None:
        """The dry run lists what would be erased in each store and erases nothing."""
        world = RealWorld(3, tmp_path)
        before = world.everything()
        found = world.eraser.preview(Identifiers(emails=[human(1)["email"]]))
        assert found["crm"] == ["crm1"]
        assert found["web"] == ["web1"]
        assert found["contacts"] == ["p1"]
        assert found["activities"] == ["a1"]
        assert found["match_index"] == ["crm1", "web1"]
        assert len(found["golden"]) == 1
        assert world.everything() == before
        world.audit_store.close()

    def test_export_is_json_and_audited(self, tmp_path: Path) -> None:
        """Portability export: everything held, as JSON, by store; the export is audited."""
        world = RealWorld(2, tmp_path)
        data = json.loads(
            world.eraser.export_person(Identifiers(phones=[human(0)["phone"]]), actor="dpo")
        )
        assert [r["record_id"] for r in data["crm"]] == ["crm0"]
        assert data["contacts"][0]["emails"] == [human(0)["email"]]
        assert data["golden"][0]["values"]["email"].lower() == human(0)["email"]
        assert data["consent"][0]["consent_events"][0]["contact_point"] == human(0)["email"]
        assert data["activities"][0]["id"] == "a0"
        last = world.log.entries()[-1]
        assert (last.action, last.actor) == ("export", "dpo")
        assert "p0" in last.subjects
        assert world.log.verify().ok
        world.audit_store.close()


_BY = st.sampled_from(["email", "phone", "person_id", "name_dob"])


class TestErasureEverywhereProperty:
    @settings(max_examples=12, deadline=None)
    @given(st.integers(2, 4), st.data(), _BY)
    def test_no_trace_of_identifiers_in_any_store(self, n_people, data, by) -> None:
        """After erasure no store, file or lineage holds the person's identifiers; others stay."""
        target = data.draw(st.integers(0, n_people - 1))
        h = human(target)
        ids = {
            "email": Identifiers(emails=[h["email"].upper()]),
            "phone": Identifiers(phones=[h["phone"]]),
            "person_id": Identifiers(person_ids=[h["person_id"]]),
            "name_dob": Identifiers(name_dobs=[(f"{h['first_name']} {h['last_name']}", h["dob"])]),
        }[by]
        other = (target + 1) % n_people
        with tempfile.TemporaryDirectory() as tmp:
            world = RealWorld(n_people, Path(tmp))
            head = world.log.head()
            report = world.eraser.erase_person(ids, actor="dpo")
            text = world.everything()
            for needle in needles(target):
                assert needle.lower() not in text, needle
            assert world.log.verify(expected_head=head).ok
            assert report.to_dict()["stores"]["golden"] == 1
            for needle in needles(other):
                assert needle.lower() in text, needle
            o = human(other)
            assert world.ledger.may_contact(
                o["person_id"], "email", "marketing", contact_point=o["email"], now=T0
            )
            # the next import does not silently re-create the person
            assert all(world.suppression.matches(row) for row in source_rows(target))
            assert not any(world.suppression.matches(row) for row in source_rows(other))
            world.audit_store.close()


class TestWidening:
    def test_consent_contact_point_leads_to_the_person(self) -> None:
        """An email known only to the consent ledger still reaches the person's other records."""
        ledger = ConsentLedger()
        ledger.record(
            "p7",
            "email",
            "marketing",
            "opted_in",
            captured_at=T0,
            contact_point="old.address@acme.io",
        )
        crm = MemoryRecordStore(
            "crm",
            [
                {"id": "r7", "person_id": "p7", "email": "new.address@acme.io"},
                {"id": "r8", "person_id": "p8", "email": "someone@acme.io"},
            ],
        )
        eraser = Eraser([crm, ConsentStore(ledger)])
        found = eraser.preview(Identifiers(emails=["old.address@acme.io"]))
        assert found == {"crm": ["r7"], "consent": ["p7"]}
        eraser.erase_person(Identifiers(emails=["old.address@acme.io"]), actor="dpo")
        assert [r["id"] for r in crm.records()] == ["r8"]
        assert ledger.history() == []
