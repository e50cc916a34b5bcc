"""Erasure harness: a generated person seeded across every store, access first, then erasure,
then every byte of every file and every object the stores hold scanned for every format of
each identifier the normalisers accept.

Stores: source records (two systems, in different spellings), activities with free text (one
that only mentions the person's number in national form), golden records with lineage, the
match index in memory and its SQLite file with a review decision, the consent ledger, segments,
a keyed SQLite audit trail (with free-text notes naming no subject), the workflow engine and its
SQLite store (a held action carries the old and new values), the privacy request log and the
suppression list. The person is erased by one spelling of one identifier; the access request
before it must return every seeded item; afterwards no spelling of any identifier may remain,
while another person's identifiers must still be found (so the scan is known to work).
"""

from __future__ import annotations

import json
import tempfile
import unicodedata
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crmcore.conditions import all_
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
    PrivacyRequestLog,
    Segment,
    SegmentRegistry,
    SQLiteAuditStore,
    Store,
    StoreErasure,
    SuppressionList,
    build_segment,
)
from crmcore.survivorship import SourceRecord, SurvivorshipRules, merge
from crmcore.workflows import Engine, Rule, SQLiteScheduleStore, create_task, on_updated
from tests.governance.scan import reachable_text
from tests.governance.test_erasure import trained

T0 = datetime(2025, 2, 3, 10, tzinfo=UTC)
KEY = b"harness-audit-key-0123456789abcd"

_FIRST = ("José", "Zoë", "Renée", "Søren", "Anaïs", "Łukasz", "Ingrid", "Chloé")
_LAST = ("Álvarez", "Müller", "Ó Briain", "Nuñez", "Dvořák", "Lefèvre", "Kowalczyk")
_TAGS = ("qx", "vz", "kj", "wq", "zx", "jv")


def _fold(text: str) -> str:
    return "".join(
        c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c)
    )


@st.composite
def people(draw: st.DrawFn) -> list[dict[str, Any]]:
    """Two or three people, every identifier unique to its owner (names, numbers, mailboxes)."""
    n = draw(st.integers(2, 3))
    numbers = draw(st.lists(st.integers(1000, 9999), min_size=n, max_size=n, unique=True))
    tags = draw(st.permutations(_TAGS))
    out = []
    for i in range(n):
        first = draw(st.sampled_from(_FIRST)) + tags[i]
        last = draw(st.sampled_from(_LAST)) + tags[i] + "o"
        local = f"{_fold(first).lower()}.{_fold(last).lower().replace(' ', '')}"
        domain = draw(st.sampled_from(["acme.io", "gmail.com", "example.co.uk"]))
        out.append({
            "person_id": f"p{i}",
            "first_name": first,
            "last_name": last,
            "email": f"{local}@{domain}",
            "digits": f"20 7946 {numbers[i]}",
            "dob": f"19{70 + i}-0{1 + i}-1{i}",
        })  # fmt: skip
    return out


def phone_forms(p: dict[str, Any]) -> dict[str, str]:
    """Every spelling of the person's number that the phone normaliser accepts."""
    area, mid, end = p["digits"].split()
    return {
        "e164": f"+44{area}{mid}{end}",
        "international": f"+44 {area} {mid} {end}",
        "national": f"0{area} {mid} {end}",
        "dotted": f"0{area}.{mid}.{end}",
        "intl_dotted": f"+44.{area}.{mid}.{end}",
        "zero_zero": f"0044 {area} {mid} {end}",
        "trunk": f"+44 (0){area} {mid}-{end}",
        "brackets": f"(0{area}) {mid} {end}",
    }


def email_forms(p: dict[str, Any]) -> dict[str, str]:
    """Every spelling of the person's address that the e-mail normaliser keys the same."""
    local, domain = p["email"].split("@")
    forms = {
        "as_given": p["email"],
        "upper": p["email"].upper(),
        "tagged": f"{local}+crm@{domain}",
        "mailto": f"mailto:{local.title()}@{domain.upper()}",
    }
    if domain == "gmail.com":
        forms["dotless"] = f"{local.replace('.', '')}@googlemail.com"
    return forms


def needles(p: dict[str, Any]) -> set[str]:
    """What must not remain anywhere: every spelling, case-folded, names with and without
    accents, the digits of the number however it is punctuated."""
    out = {v.casefold() for v in email_forms(p).values()}
    out |= {v.casefold() for v in phone_forms(p).values()}
    out.add(p["digits"].replace(" ", ""))  # the national significant number, unpunctuated
    out.add(p["email"].split("@")[0].casefold())
    for name in (p["first_name"], p["last_name"]):
        out |= {name.casefold(), _fold(name).casefold()}
    return out


class World:
    """Every store, seeded for the people, persisted under ``root``."""

    def __init__(self, persons: list[dict[str, Any]], root: Path) -> None:
        from crmcore.matching.realtime import MatchIndex

        self.root = root
        self.persons = persons
        self.audit_store = SQLiteAuditStore(root / "audit.db")
        self.log = AuditLog(self.audit_store, key=KEY, region="GB")
        self.ledger = ConsentLedger(audit=self.log)
        self.crm = MemoryRecordStore("crm", id_field="record_id", region="GB")
        self.web = MemoryRecordStore("web", id_field="record_id", region="GB")
        self.activities = MemoryRecordStore("activities", region="GB")
        self.segments = SegmentRegistry()
        self.wf_store = SQLiteScheduleStore(root / "workflows.db")
        rule = Rule("follow-up", "contact", on_updated("email"),
                    (create_task("Call {first_name}", delay_days=2),))  # fmt: skip
        self.engine = Engine([rule], handlers={"create_task": lambda r: None}, store=self.wf_store)
        self.requests = PrivacyRequestLog(secret=b"request-secret", path=root / "requests.jsonl")
        self.suppression = SuppressionList("salt", region="GB")
        self.seeded: dict[str, dict[str, list[str]]] = {}
        rows, goldens = [], []
        for p in persons:
            pid, emails, phones = p["person_id"], email_forms(p), phone_forms(p)
            crm = {"record_id": f"crm-{pid}", "source": "crm", "person_id": pid,
                   "first_name": p["first_name"], "last_name": p["last_name"],
                   "email": emails["upper"], "phone": phones["national"], "country": "GB",
                   "dob": p["dob"]}  # fmt: skip
            web = {"record_id": f"web-{pid}", "source": "web",
                   "first_name": _fold(p["first_name"]), "last_name": _fold(p["last_name"]),
                   "email": emails["tagged"], "phone": phones["dotted"]}  # fmt: skip
            self.crm.add(crm)
            self.web.add(web)
            rows += [crm, web]
            self.activities.add({"id": f"call-{pid}", "activity_type": "call",
                                 "related": [{"id": pid, "record_type": "contact"}],
                                 "body": f"Rang {p['first_name']} on {phones['international']}"})
            self.activities.add({"id": f"note-{pid}", "activity_type": "note",
                                 "body": f"Voicemail said call back on {phones['national']}"})
            self.ledger.record(pid, "email", "marketing", "opted_in", captured_at=T0,
                               contact_point=emails["mailto"], evidence=f"form by {p['last_name']}")
            self.ledger.record(pid, "sms", "marketing", "opted_out", captured_at=T0,
                               contact_point=phones["zero_zero"])  # fmt: skip
            self.log.record_change("contact", f"crm-{pid}", {"email": None},
                                   {"email": emails["as_given"]}, actor="u1", subjects=[pid], at=T0)
            self.log.record("note", actor="agent", at=T0,
                            reason=f"{p['first_name']} asked for a call on {phones['trunk']}")
            self.log.record("note", actor="agent", at=T0,
                            details={"text": f"bounce from {emails['tagged'].upper()}"})
            self.engine.record_created({"id": pid, "record_type": "contact",
                                        "first_name": p["first_name"], "email": emails["upper"]},
                                       now=T0)  # fmt: skip
            before = {"id": pid, "record_type": "contact", "first_name": p["first_name"],
                      "email": emails["upper"]}  # fmt: skip
            self.engine.record_updated(before, {**before, "email": emails["as_given"]}, now=T0)
            sources = [
                SourceRecord(r["record_id"], r["source"], T0,
                             {k: v for k, v in r.items() if k not in ("record_id", "source")})
                for r in (crm, web)
            ]  # fmt: skip
            goldens.append(merge(sources, SurvivorshipRules(), entity_id=f"E-{pid}"))
            self.seeded[pid] = {
                "crm": [crm["record_id"]], "web": [web["record_id"]],
                "activities": [f"call-{pid}", f"note-{pid}"], "golden": [f"E-{pid}"],
                "match_index": [crm["record_id"], web["record_id"]], "consent": [pid],
                "workflows": [pid], "segments": ["all"],
            }  # fmt: skip
        self.golden = GoldenRecordStore(goldens)
        self.index = MatchIndex.build(trained().model, trained().settings, rows)
        for p in persons:  # a reviewer's note naming the person, on their pair
            pid = p["person_id"]
            self.index.review.decide(f"crm-{pid}", f"web-{pid}", "same", reviewer="steward",
                                     at=T0, note=f"same {p['first_name']}")  # fmt: skip
        self.index.save(root / "index.sqlite")
        self.segments.put(build_segment(
            Segment("all", "marketing", "email", all_()),
            [{"id": p["person_id"], "email": p["email"]} for p in persons], self.ledger, now=T0,
        ))  # fmt: skip
        workflows = FunctionStore("workflows", self._wf_find, self._wf_erase, self._wf_export)
        self.stores: list[Store] = [
            self.crm, self.web, self.activities, self.golden,
            MatchIndexStore(self.index, path=root / "index.sqlite"), ConsentStore(self.ledger),
            self.segments, workflows, AuditTrailStore(self.log),
        ]  # fmt: skip
        self.eraser = Eraser(self.stores, suppression=self.suppression, audit=self.log,
                             requests=self.requests)  # fmt: skip

    def _wf_find(self, ids: Identifiers) -> list[str]:
        return [p for p in ids.person_ids if self.engine.get_record("contact", p) is not None]

    def _wf_erase(self, ids: Identifiers) -> StoreErasure:
        found = self._wf_find(ids)
        for pid in found:
            self.engine.erase("contact", pid)
        return StoreErasure("workflows", len(found), tuple(found))

    def _wf_export(self, ids: Identifiers) -> list[dict[str, Any]]:
        found = (self.engine.get_record("contact", p) for p in self._wf_find(ids))
        return [r for r in found if r is not None]

    def memory(self) -> str:
        """Every text every store object holds, case-folded."""
        roots = [self.crm, self.web, self.activities, self.golden, self.index, self.ledger,
                 self.segments, self.engine, self.wf_store, self.log, self.requests,
                 self.suppression, self.eraser]  # fmt: skip
        return "\n".join(reachable_text(*roots)).casefold()

    def files(self) -> str:
        """Every byte of every file under the root (WAL and journal files too), case-folded."""
        return "\n".join(
            p.read_bytes().decode("utf-8", "replace").casefold()
            for p in sorted(self.root.iterdir())
            if p.is_file()
        )

    def close(self) -> None:
        self.audit_store.close()
        self.wf_store.close()


def _request(p: dict[str, Any], kind: str, form: str) -> Identifiers:
    if kind == "email":
        return Identifiers(emails=[email_forms(p)[form]])
    if kind == "phone":
        return Identifiers(phones=[phone_forms(p)[form]])
    return Identifiers(name_dobs=[(f"{_fold(p['first_name'])} {p['last_name'].upper()}", p["dob"])])


_EMAIL_FORMS = ("as_given", "upper", "tagged", "mailto")
_PHONE_FORMS = ("e164", "international", "intl_dotted", "zero_zero", "trunk")


class TestErasureHarness:
    @settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(
        people(),
        st.data(),
        st.sampled_from(["email", "phone", "name_dob"]),
    )
    def test_access_then_erase_leaves_no_spelling_anywhere(self, persons, data, kind) -> None:
        """Export returns every seeded item; after erasure no byte or object holds any
        spelling of any identifier of the person, and the other people are intact."""
        target = persons[data.draw(st.integers(0, len(persons) - 1))]
        other = next(p for p in persons if p is not target)
        form = data.draw(st.sampled_from(
            _EMAIL_FORMS if kind == "email" else _PHONE_FORMS if kind == "phone" else ("-",)
        ))  # fmt: skip
        who = _request(target, kind, form)
        with tempfile.TemporaryDirectory() as tmp:
            world = World(persons, Path(tmp))
            try:
                held = json.loads(world.eraser.export_person(who, actor="dpo", at=T0))
                pid = target["person_id"]
                ids = {
                    "crm": [r["record_id"] for r in held["crm"]],
                    "web": [r["record_id"] for r in held["web"]],
                    "activities": sorted(r["id"] for r in held["activities"]),
                    "golden": [r["entity_id"] for r in held["golden"]],
                    "match_index": sorted(r["record_id"] for r in held["match_index"]),
                    "consent": [r["person_id"] for r in held["consent"]],
                    "workflows": [r["id"] for r in held["workflows"]],
                    "segments": [r["segment"] for r in held["segments"] if r["member"]],
                }  # fmt: skip
                want = {k: sorted(v) for k, v in world.seeded[pid].items()}
                assert ids == want, (kind, form)
                audit_text = json.dumps(held["audit"], ensure_ascii=False).casefold()
                assert phone_forms(target)["trunk"].casefold() in audit_text  # the free-text note
                assert email_forms(target)["tagged"].casefold() in audit_text

                report = world.eraser.erase_person(who, actor="dpo", at=T0 + timedelta(days=1))
                assert world.log.verify().ok
                memory, files = world.memory(), world.files()
                for needle in needles(target):
                    assert needle not in memory, ("memory", needle, kind, form)
                    assert needle not in files, ("files", needle, kind, form)
                for needle in (other["email"], phone_forms(other)["national"],
                               other["first_name"].casefold()):  # fmt: skip
                    assert needle.casefold() in memory + files, needle
                assert report.to_dict()["stores"]["workflows"] == 1
                assert world.suppression.matches({"email": email_forms(target)["upper"]})
                (erasure,) = [r for r in world.requests if r.kind == "erasure"]
                assert erasure.outcome["crm"] == 1
            finally:
                world.close()
