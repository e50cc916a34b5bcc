"""Field-level permissions: checks, scopes, masks, and no leak through any read."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crmcore.errors import PermissionDenied
from crmcore.governance import (
    Grant,
    PermissionPolicy,
    Role,
    User,
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
        own = p.view(CONTACT, "rep", User("u1"), record_type="contact")
        assert own["email"] == "johanna@example.com"
        assert own["dob"] == "1990-02-03"
        team = p.view(CONTACT, "rep", User("u9", {"emea"}), record_type="contact")
        assert team["email"] == "j***@example.com"
        assert "dob" not in team
        with pytest.raises(PermissionDenied):
            p.view(CONTACT, "rep", User("u9", {"apac"}), record_type="contact")

    def test_team_through_owner_directory(self) -> None:
        """A record without a team field is in scope through its owner's teams."""
        p = policy()
        record = {"id": "c2", "owner_id": "u2", "email": "x@y.com"}
        assert p.in_scope("team", record, User("u9", {"emea"}))
        assert not p.in_scope("own", record, User("u9", {"emea"}))


class TestEdit:
    def test_edit_checks_every_field(self) -> None:
        """Edits outside the rights are refused and nothing changes."""
        p = policy()
        assert (
            p.edit(CONTACT, {"first_name": "Jo"}, "rep", User("u1"), record_type="contact")[
                "first_name"
            ]
            == "Jo"
        )
        with pytest.raises(PermissionDenied, match=r"contact\.first_name"):
            p.edit(
                CONTACT, {"first_name": "Jo"}, "rep", User("u9", {"emea"}), record_type="contact"
            )


class TestExport:
    def test_export_masks_and_lists_left_out(self) -> None:
        """Exports apply export rights and masks; out-of-scope records are listed."""
        p = PermissionPolicy(
            [Role("r", [Grant("contact", {"export"}, masked={"email"}, scope="own")])]
        )
        rows = [CONTACT, {**CONTACT, "id": "c9", "owner_id": "u7"}]
        out = p.export(rows, "r", User("u1"), record_type="contact")
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
    if not split:
        return [Grant("contact", {"view", "export"}, masked=masked, hidden=hidden)]
    full = {f for f, lvl in levels.items() if lvl == "full"}
    return [
        Grant("contact", {"view", "export"}, fields=full | {"id"}),
        Grant("contact", {"view", "export"}, fields=masked, masked=masked),
        Grant("deal", {"view", "export"}),  # another type: must not widen contact access
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
        outputs = [
            p.view(records[0], "r", record_type="contact"),
            p.export(records, "r", record_type="contact").rows,
            p.view_golden(golden, None, "r"),
            p.view_golden(
                golden.to_dict()["values"], golden.to_dict()["lineage"], "r", action="export"
            ),
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
