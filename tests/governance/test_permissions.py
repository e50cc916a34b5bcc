"""Field-level permissions: checks, scopes, masks, and no leak through any read."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crmcore.errors import ConsentError, PermissionDenied
from crmcore.governance import (
    Actor,
    AuditLog,
    ConsentLedger,
    Grant,
    PermissionPolicy,
    Role,
    mask_email,
    mask_phone,
    mask_text,
)
from crmcore.survivorship import SourceRecord, SurvivorshipRules, merge

CONTACT = {
    "id": "c1",
    "owner_id": "u1",
    "team_id": "emea",
    "first_name": "Johanna",
    "email": "johanna@example.com",
    "phone": "+44 20 7946 0123",
    "dob": "1990-02-03",
}


def policy() -> PermissionPolicy:
    return PermissionPolicy(
        [
            Role("admin", [Grant("*", {"view", "edit", "export", "delete"})]),
            Role(
                "rep",
                [
                    Grant("contact", {"view", "edit"}, scope="own"),
                    Grant(
                        "contact", {"view"}, masked={"phone", "email"}, hidden={"dob"}, scope="team"
                    ),
                ],
            ),
            Role(
                "analyst",
                [Grant("contact", {"view", "export"}, masked={"email", "phone"})],
                denied={"contact.dob"},
            ),
        ],
        owner_teams={"u2": {"emea"}},
    )


class TestMasks:
    def test_email(self) -> None:
        """Emails keep the first letter and the domain."""
        assert mask_email("john@example.com") == "j***@example.com"

    def test_phone(self) -> None:
        """Phones keep the country code and the last three digits."""
        assert mask_phone("+44 20 7946 0123") == "+44 ***** *123"
        assert mask_phone("0123") == "*****"

    def test_text_never_contains_raw(self) -> None:
        """Short values are fully masked."""
        assert mask_text("Al") == "***"
        assert mask_text("Johanna") == "J***"


class TestCheck:
    def test_denied_names_role_action_type_field(self) -> None:
        """PermissionDenied names role, action, record type and field."""
        with pytest.raises(PermissionDenied) as info:
            policy().check("analyst", "edit", "contact", "email")
        err = info.value
        assert (err.role, err.action, err.record_type, err.field) == (
            "analyst",
            "edit",
            "contact",
            "email",
        )

    def test_role_denied_overrides_grants(self) -> None:
        """A field in Role.denied is never accessible."""
        assert policy().level("analyst", "view", "contact", "dob") == "none"

    def test_masked_is_not_editable(self) -> None:
        """Masked access allows viewing, not editing."""
        p = policy()
        assert p.level("analyst", "view", "contact", "email") == "masked"
        with pytest.raises(PermissionDenied):
            p.check("analyst", "edit", "contact", "email")

    def test_unknown_role(self) -> None:
        """An unknown role is denied."""
        with pytest.raises(PermissionDenied):
            policy().check("nobody", "view", "contact")


class TestScopes:
    def test_own_team_and_outside(self) -> None:
        """Own records in full, team records masked, others denied."""
        p = policy()
        own = p.view(CONTACT, "rep", Actor("u1"), record_type="contact")
        assert own["email"] == "johanna@example.com"
        assert own["dob"] == "1990-02-03"
        team = p.view(CONTACT, "rep", Actor("u9", {"emea"}), record_type="contact")
        assert team["email"] == "j***@example.com"
        assert "dob" not in team
        with pytest.raises(PermissionDenied):
            p.view(CONTACT, "rep", Actor("u9", {"apac"}), record_type="contact")

    def test_team_through_owner_directory(self) -> None:
        """A record without a team field is in scope through its owner's teams."""
        p = policy()
        record = {"id": "c2", "owner_id": "u2", "email": "x@y.com"}
        assert p.in_scope("team", record, Actor("u9", {"emea"}))
        assert not p.in_scope("own", record, Actor("u9", {"emea"}))


class TestEdit:
    def test_edit_checks_every_field(self) -> None:
        """Edits outside the rights are refused and nothing changes."""
        p = policy()
        assert (
            p.edit(CONTACT, {"first_name": "Jo"}, "rep", Actor("u1"), record_type="contact")[
                "first_name"
            ]
            == "Jo"
        )
        with pytest.raises(PermissionDenied, match=r"contact\.first_name"):
            p.edit(
                CONTACT, {"first_name": "Jo"}, "rep", Actor("u9", {"emea"}), record_type="contact"
            )


class TestExport:
    def test_export_masks_and_lists_left_out(self) -> None:
        """Exports apply export rights and masks; out-of-scope records are listed."""
        p = PermissionPolicy(
            [Role("r", [Grant("contact", {"export"}, masked={"email"}, scope="own")])]
        )
        rows = [CONTACT, {**CONTACT, "id": "c9", "owner_id": "u7"}]
        out = p.export(rows, "r", Actor("u1"), record_type="contact")
        assert out.left_out == ("c9",)
        assert out.rows[0]["email"] == "j***@example.com"


class TestViewGolden:
    def test_real_golden_record(self) -> None:
        """A survivorship GoldenRecord: hidden lineage dropped, masked lineage masked."""
        t = datetime(2024, 1, 1, tzinfo=UTC)
        a = SourceRecord("a", "crm", t, {"email": "ann@x.com", "dob": "1990-01-01"})
        b = SourceRecord("b", "web", t, {"email": "ann.b@y.org", "dob": "1991-01-01"})
        golden = merge([a, b], SurvivorshipRules())
        view, lineage = policy().view_golden(golden, None, "analyst")
        text = json.dumps([view, lineage], default=str)
        for raw in ("ann@x.com", "ann.b@y.org", "1990-01-01", "1991-01-01"):
            assert raw not in text
        assert "dob" not in lineage
        assert lineage["email"][0]["source_system"] == "crm"


T = datetime(2024, 1, 1, tzinfo=UTC)
FIELDS = ["email", "phone", "first_name", "notes", "dob"]
_LEVEL = st.sampled_from(["full", "masked", "none"])


def raw_value(field: str, n: int) -> str:
    if field == "email":
        return f"secret{n}person@example.com"
    if field == "phone":
        return f"+4420794{n:05d}"
    return f"Secret{field}Value{n}"


def grants_for(levels: dict[str, str], split: bool) -> list[Grant]:
    masked = {f for f, lvl in levels.items() if lvl == "masked"}
    hidden = {f for f, lvl in levels.items() if lvl == "none"}
    audit = Grant("audit", {"view"})  # may read the trail: values still follow field access
    if not split:
        return [Grant("contact", {"view", "export"}, masked=masked, hidden=hidden), audit]
    full = {f for f, lvl in levels.items() if lvl == "full"}
    return [
        Grant("contact", {"view", "export"}, fields=full | {"id", "custom_fields", "history"}),
        Grant("contact", {"view", "export"}, fields=masked, masked=masked),
        Grant("deal", {"view", "export"}),  # another type: must not widen contact access
        audit,
    ]


class TestNoLeakProperty:
    @settings(max_examples=80, deadline=None)
    @given(
        st.fixed_dictionaries(dict.fromkeys(FIELDS, _LEVEL)),
        st.booleans(),
        st.sets(st.sampled_from(FIELDS)),
    )
    def test_masked_or_denied_never_in_output(self, levels, split, denied) -> None:
        """No raw value of a masked or denied field appears in view, export or golden views."""
        role = Role("r", grants_for(levels, split), denied={f"contact.{f}" for f in denied})
        expected = {f: ("none" if f in denied else lvl) for f, lvl in levels.items()}
        p = PermissionPolicy([role])
        assert {f: p.level("r", "view", "contact", f) for f in FIELDS} == expected
        records = [{"id": f"c{n}", **{f: raw_value(f, n) for f in FIELDS}} for n in range(2)]
        t = datetime(2024, 1, 1, tzinfo=UTC)
        golden = merge(
            [SourceRecord(r["id"], "crm", t, {f: r[f] for f in FIELDS}) for r in records],
            SurvivorshipRules(),
        )
        # the same values again, nested: custom fields, a change history, a golden copy
        nested = {
            **records[0],
            "custom_fields": {f: raw_value(f, 1) for f in FIELDS},
            "history": [{"field": f, "value": raw_value(f, 1)} for f in FIELDS],
        }
        log = AuditLog()
        for n, r in enumerate(records):
            log.record_change(
                "contact",
                r["id"],
                {},
                {f: r[f] for f in FIELDS},
                actor="u",
                at=t,
                reason=f"typed in by hand: {r['email']}",
            )
            log.record("note", actor="u", reason=f"called {raw_value('phone', n)}", at=t)
        outputs = [
            p.view(records[0], "r", record_type="contact"),
            p.export(records, "r", record_type="contact").rows,
            p.view_golden(golden, None, "r"),
            p.view_golden(
                golden.to_dict()["values"], golden.to_dict()["lineage"], "r", action="export"
            ),
            p.view(golden, "r"),
            p.view(golden.to_dict(), "r"),
            p.export([golden, golden.to_dict()], "r").rows,
            p.view(nested, "r", record_type="contact"),
            p.export([nested], "r", record_type="contact").rows,
            p.view_audit(log.entries(), "r"),
        ]
        text = json.dumps(outputs, default=str)
        for f in FIELDS:
            for n in range(2):
                if expected[f] != "full":
                    assert raw_value(f, n) not in text, (f, expected[f])
        view = outputs[0]
        for f in FIELDS:
            assert (f in view) == (expected[f] != "none")
            if expected[f] == "full":
                assert view[f] == raw_value(f, 0)
                assert p.view(golden, "r")[f] in (raw_value(f, 0), raw_value(f, 1))


class TestGuard:
    def test_golden_record_object_through_view(self) -> None:
        """view() of a GoldenRecord reads values + lineage, never the raw hidden value."""
        role = Role("sales", [Grant("contact", {"view"}, hidden={"email"}, masked={"phone"})])
        a = SourceRecord("a", "crm", T, {"email": "ann@acme.io", "phone": "+44 20 7946 0123"})
        b = SourceRecord("b", "web", T, {"email": "ann.b@acme.io", "first_name": "Ann"})
        golden = merge([a, b], SurvivorshipRules(), entity_id="E1")
        out = PermissionPolicy([role]).view(golden, "sales")
        text = json.dumps(out, default=str)
        assert "acme.io" not in text
        assert "7946 0123" not in text
        assert "79460123" not in text
        assert out["phone"] == "+44 ***** *123"
        assert out["first_name"] == "Ann"
        assert set(out["lineage"]) == {"first_name", "phone"}

    def test_nested_and_quoted_values(self) -> None:
        """Hidden names inside nested values are dropped; text quoting a hidden value is masked."""
        role = Role("r", [Grant("contact", {"view"}, hidden={"email"})])
        record = {
            "id": "c1",
            "email": "ann@acme.io",
            "custom_fields": {"email": "ann@acme.io", "tier": "gold"},
            "notes": "prefers ann@acme.io over phone",
            "history": [{"field": "email", "value": "old@acme.io"}, {"field": "tier"}],
        }
        out = PermissionPolicy([role]).view(record, "r", record_type="contact")
        assert out == {
            "id": "c1",
            "custom_fields": {"tier": "gold"},
            "notes": "***",
            "history": [{"field": "tier"}],
        }

    def test_audit_read_follows_field_access(self) -> None:
        """Old / new values in the trail are shown as the role may see the field."""
        role = Role("r", [Grant("contact", {"view"}, masked={"email"}), Grant("audit", {"view"})])
        log = AuditLog()
        log.record_change(
            "contact",
            "c1",
            {"email": "a@acme.io"},
            {"email": "b@acme.io"},
            actor="u",
            reason="user asked",
            at=T,
        )
        rows = PermissionPolicy([role]).view_audit(log.entries(), "r")
        assert rows[0]["payload"] == {
            "old": "a***@acme.io",
            "new": "b***@acme.io",
            "reason": "user asked",
            "details": None,
        }
        narrow = Role(
            "n", [Grant("contact", {"view"}), Grant("audit", {"view"}, hidden={"reason"})]
        )
        rows = PermissionPolicy([narrow]).view_audit(log.entries(), "n")
        assert rows[0]["payload"] == {"old": "a@acme.io", "new": "b@acme.io", "details": None}
        with pytest.raises(PermissionDenied, match="audit"):
            PermissionPolicy([Role("x", [Grant("contact", {"view"})])]).view_audit([], "x")


class TestThirdPartyExport:
    def test_do_not_sell_and_sharing_consent_honoured(self) -> None:
        """A third-party export leaves out do-not-sell persons and those without sharing consent."""
        ledger = ConsentLedger()
        for pid in ("p1", "p2", "p3"):
            ledger.record(pid, "any", "data_sharing", "opted_in", captured_at=T)
        ledger.set_do_not_sell("p2", captured_at=T)
        rows = [{"id": p, "email": f"{p}@acme.io"} for p in ("p1", "p2", "p3", "p4")]
        role = Role("ops", [Grant("contact", {"export"})])
        policy = PermissionPolicy([role])
        log = AuditLog()
        result = policy.export(
            rows, "ops", record_type="contact", third_party=True, ledger=ledger, now=T, audit=log
        )
        assert [r["id"] for r in result.rows] == ["p1", "p3"]
        assert result.reasons == {"p2": "do_not_sell", "p4": "no_consent"}
        assert log.entries()[0].details["third_party"] is True
        internal = policy.export(rows, "ops", record_type="contact")
        assert len(internal.rows) == 4  # an internal export is not a sale
        with pytest.raises(ConsentError, match="ledger"):
            policy.export(rows, "ops", record_type="contact", third_party=True)


class TestAuditedWrites:
    def test_edit_and_delete_recorded(self) -> None:
        """Edits record old and new value per field; deletes are checked per field and recorded."""
        policy = PermissionPolicy(
            [
                Role("admin", [Grant("*", {"view", "edit", "delete"})]),
                Role("rep", [Grant("contact", {"view", "edit", "delete"}, hidden={"dob"})]),
            ]
        )
        log = AuditLog()
        changed = policy.edit(
            CONTACT,
            {"first_name": "Jo"},
            "admin",
            Actor("u9"),
            record_type="contact",
            audit=log,
            source="ui",
            reason="nickname",
            subjects=["c1"],
        )
        assert changed["first_name"] == "Jo"
        entry = log.entries()[0]
        assert (entry.actor, entry.field, entry.old_value, entry.new_value, entry.source) == (
            "u9",
            "first_name",
            "Johanna",
            "Jo",
            "ui",
        )
        with pytest.raises(PermissionDenied) as err:
            policy.delete(CONTACT, "rep", record_type="contact", audit=log)
        assert (err.value.action, err.value.field) == ("delete", "dob")
        policy.delete(CONTACT, "admin", Actor("u9"), record_type="contact", audit=log)
        assert [e.action for e in log.entries()] == ["change", "delete"]
        assert log.verify().ok
