"""Rebuild examples/contacts.csv and examples/contacts_truth.csv (deterministic).

The example export is the synthetic generator's output at a fixed seed, renamed to look like
five real source systems, then roughened by hand-written rules the way real CRM exports are:
placeholder values ("n/a", "-", "unknown"), padded and mis-cased cells, "Last, First" names in
one column, per-system date formats, postcodes that lost their leading zero in a spreadsheet,
a few invalid emails and impossible phone numbers, and a few rows with next to nothing in them.

Run from the repository root:  python examples/make_contacts.py
"""

from __future__ import annotations

import csv
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.synth import TRUTH_COLUMN, generate_contacts  # noqa: E402

__all__ = ["build", "main"]

SEED = 2024
ROWS = 330
COLUMNS = [
    "record_id", "source_system", "first_name", "last_name", "email", "phone", "company",
    "title", "city", "postcode", "country", "created_at",
]
# generator source -> (system name in the export, record id prefix)
SYSTEMS = {
    "web_form": ("hubspot_forms", "HS"),
    "billing": ("stripe_billing", "STR"),
    "support": ("zendesk", "ZD"),
    "import": ("tradeshow_import", "TS"),
    "api": ("partner_api", "API"),
}
PLACEHOLDERS = ["n/a", "N/A", "-", "unknown", "none", "NULL", "?"]
BAD_EMAILS = [
    "jsmith(at)example-corp.com", "mary.jones@", "@gmail.com", "tom..baker@@outlook.com",
    "no email", "anna.k@localhost", "peter.schmidt@web", "info at bluebird dot com",
]
BAD_PHONES = ["123", "000-000-0000", "+1 555", "99999999999999999", "call after 5pm",
              "+44 (0) 0000 000000", "1-800-FLOWERS-NOW"]
# Rows an export really contains that describe nobody in particular (their own entities).
JUNK_ROWS: list[dict[str, str]] = [
    {"source_system": "hubspot_forms", "email": "test@test.com", "first_name": "test",
     "last_name": "test"},
    {"source_system": "partner_api"},
    {"source_system": "tradeshow_import", "company": "Acme", "city": "London"},
    {"source_system": "zendesk", "phone": "+49 30 9876543"},
    {"source_system": "stripe_billing", "last_name": "Ng", "country": "AU"},
    {"source_system": "tradeshow_import", "first_name": "asdf", "last_name": "asdf",
     "email": "asdf@asdf"},
    {"source_system": "hubspot_forms", "email": "noreply@mailer-daemon.net"},
    {"source_system": "zendesk", "first_name": "Chris"},
]


def _date(value: str, system: str) -> str:
    """Each system writes dates its own way (ISO, US, European, date only)."""
    date, _, clock = value.rstrip("Z").partition("T")
    y, m, d = date.split("-")
    if system == "stripe_billing":
        return f"{m}/{d}/{y}"
    if system == "zendesk":
        return f"{date} {clock}"
    if system == "tradeshow_import":
        return f"{d}.{m}.{y}"
    return value


def build() -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """Return (rows of contacts.csv, rows of contacts_truth.csv)."""
    table = generate_contacts(ROWS, SEED, dup_rate=0.35, namesake_rate=0.04,
                              household_rate=0.04)
    r = random.Random(SEED)
    rows: list[dict[str, str]] = []
    truth: list[dict[str, str]] = []
    for i, rec in enumerate(table.rows(), start=1):
        system, prefix = SYSTEMS[rec["source_system"] or "api"]
        row = {c: rec.get(c) or "" for c in COLUMNS}
        row["source_system"] = system
        row["record_id"] = f"{prefix}-{1000 + i}"
        row["created_at"] = _date(row["created_at"], system)
        rows.append(row)
        truth.append({"record_id": row["record_id"], "entity_id": str(rec[TRUTH_COLUMN])})

    def pick(k: int) -> list[dict[str, str]]:
        return r.sample(rows, k)

    for row in pick(14):  # placeholders where a value is missing
        empty = [c for c in ("email", "phone", "company", "title", "city", "postcode") if not
                 row[c]]
        if empty:
            row[r.choice(empty)] = r.choice(PLACEHOLDERS)
    for row in pick(6):  # "Last, First" in the last-name column, first name empty
        if row["first_name"] and row["last_name"]:
            row["last_name"] = f"{row['last_name']}, {row['first_name']}"
            row["first_name"] = ""
    for row in pick(10):  # padding and shouting
        col = r.choice(["first_name", "last_name", "company", "city"])
        if row[col]:
            row[col] = f"  {row[col]} " if r.random() < 0.5 else row[col].upper()
    for row in pick(8):  # mixed-case emails
        if row["email"] and "@" in row["email"]:
            local, _, domain = row["email"].partition("@")
            row["email"] = f"{local.title()}@{domain.upper()}"
    for row, bad in zip(pick(len(BAD_EMAILS)), BAD_EMAILS, strict=True):
        row["email"] = bad
    for row, bad in zip(pick(len(BAD_PHONES)), BAD_PHONES, strict=True):
        row["phone"] = bad
    for row in rows:  # spreadsheet ate leading zeros of some US / ES / IT postcodes
        pc = row["postcode"]
        if pc[:1] == "0" and pc.isdigit() and r.random() < 0.5:
            row["postcode"] = pc.lstrip("0")
    for j, junk in enumerate(JUNK_ROWS, start=1):
        prefix = next(p for s, p in SYSTEMS.values() if s == junk["source_system"])
        row = dict.fromkeys(COLUMNS, "")
        row.update(junk)
        row["record_id"] = f"{prefix}-{9000 + j}"
        rows.insert(r.randrange(len(rows)), row)
        truth.append({"record_id": row["record_id"], "entity_id": f"J{j:03d}"})
    order = {row["record_id"]: k for k, row in enumerate(rows)}
    truth.sort(key=lambda t: order[t["record_id"]])
    return rows, truth


def _write(path: Path, rows: list[dict[str, str]], columns: list[str]) -> None:
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)


def main() -> int:
    """Write both files next to this script."""
    rows, truth = build()
    here = Path(__file__).resolve().parent
    _write(here / "contacts.csv", rows, COLUMNS)
    _write(here / "contacts_truth.csv", truth, ["record_id", "entity_id"])
    print(f"{len(rows)} rows, {len({t['entity_id'] for t in truth})} entities")
    return 0


if __name__ == "__main__":
    sys.exit(main())
