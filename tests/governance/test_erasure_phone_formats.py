"""Erasure finds a person by their E.164 number whatever way each store wrote the number.

For every writing the phone normaliser accepts (international with ``+`` or ``00``, with a
``(0)`` trunk prefix, spaced, dotted, dashed, bracketed, or national in the store's region),
every store that holds the number finds the person from ``Identifiers(phones={e164})`` and the
erasure removes them. The stores that hold records take the region of national writings from the
record's ``country`` or their ``region``; the audit trail holds free text with no region, so it
is checked on the international writings only.
"""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from crmcore.governance import (
    AuditLog,
    AuditTrailStore,
    ConsentLedger,
    ConsentStore,
    GoldenRecordStore,
    Identifiers,
    MemoryRecordStore,
)
from crmcore.normalize import normalize_phone
from crmcore.survivorship import SourceRecord, SurvivorshipRules, merge

T0 = datetime(2024, 1, 1, tzinfo=UTC)

#: region -> (country code, national prefix, groups of a national significant number)
NUMBERS = {
    "GB": ("44", "0", [("20", "7946", "0{:03d}"), ("161", "496", "0{:03d}")]),
    "DE": ("49", "0", [("30", "901820", "{:02d}")]),
    "US": ("1", "1", [("415", "555", "01{:02d}")]),
    "FR": ("33", "0", [("1", "23", "45", "67", "{:02d}")]),
}


@st.composite
def writings(draw: st.DrawFn) -> tuple[str, str, str, bool]:
    """(region, E.164 number, one way of writing it, national?) for a number the normaliser
    accepts."""
    region = draw(st.sampled_from(sorted(NUMBERS)))
    code, trunk, shapes = NUMBERS[region]
    shape = draw(st.sampled_from(shapes))
    n = draw(st.integers(0, 99))
    groups = [g.format(n) if "{" in g else g for g in shape]
    sep = draw(st.sampled_from([" ", ".", "-", "", " - "]))
    style = draw(st.sampled_from(["plus", "00", "trunk", "bracket", "national", "national_br"]))
    body = sep.join(groups)
    if style == "plus":
        text = f"+{code}{sep or ' '}{body}"
    elif style == "00":
        text = f"00{code} {body}"
    elif style == "trunk":
        text = f"+{code} ({trunk}){groups[0]}{sep}{sep.join(groups[1:])}"
    elif style == "bracket":
        text = f"(+{code}) {body}"
    elif style == "national":
        text = f"{trunk}{groups[0]}{sep}{sep.join(groups[1:])}"
    else:
        text = f"({trunk}{groups[0]}) {sep.join(groups[1:])}"
    e164 = normalize_phone(text, region)
    assume(e164 is not None)  # only writings the phone normaliser accepts
    assert e164 is not None
    return region, e164, text, style.startswith("national")


def _stores(region: str, text: str) -> dict[str, object]:
    """Every kind of store, each holding person p1 with the phone written as ``text``."""
    crm = MemoryRecordStore(
        "crm",
        [{"id": "r1", "person_id": "p1", "phone": text, "country": region},
         {"id": "r2", "person_id": "p2", "phone": "+81 3 1234 5678", "country": "JP"}],
    )
    activities = MemoryRecordStore(
        "activities", [{"id": "a1", "body": f"Rang back on {text} today."}], region=region
    )
    golden = GoldenRecordStore(
        [merge([SourceRecord("r1", "crm", T0, {"phone": text, "full_name": "Ann Lee"})],
               SurvivorshipRules(), entity_id="E1")],
        region=region,
    )
    ledger = ConsentLedger(region=region)
    ledger.record("p1", "sms", "marketing", "opted_in", captured_at=T0, contact_point=text)
    log = AuditLog()
    log.record_change("contact", "r1", {"phone": None}, {"phone": text}, actor="u", at=T0)
    return {
        "crm": crm,
        "activities": activities,
        "golden": golden,
        "consent": ConsentStore(ledger),
        "audit": AuditTrailStore(log),
    }


class TestErasureByPhoneFormat:
    @settings(max_examples=120, deadline=None)
    @given(writings())
    def test_every_store_finds_and_erases(self, case: tuple[str, str, str, bool]) -> None:
        """Each store finds p1 by the E.164 number (and nothing else), then erases it."""
        region, e164, text, national = case
        ids = Identifiers(phones={e164})
        expected = {"crm": ["r1"], "activities": ["a1"], "golden": ["E1"], "consent": ["p1"]}
        for name, store in _stores(region, text).items():
            if name == "audit" and national:
                continue
            found = store.find(ids)  # type: ignore[attr-defined]
            if name == "audit":
                assert found, (name, text)
            else:
                assert found == expected[name], (name, text)
            store.erase(ids)  # type: ignore[attr-defined]
            assert store.find(ids) == [], (name, text)  # type: ignore[attr-defined]

    def test_the_writings_cover_every_style(self) -> None:
        """The strategy's styles are all accepted for some number (the test is not vacuous)."""
        accepted = {
            normalize_phone(t, "GB")
            for t in ["+44 20 7946 0123", "0044 20 7946 0123", "+44 (0)20.7946.0123",
                      "(+44) 20-7946-0123", "020 7946 0123", "(020) 7946 0123"]
        }
        assert accepted == {"+442079460123"}
