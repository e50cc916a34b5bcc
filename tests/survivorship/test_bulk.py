"""golden_records (columnar) equals merge entity by entity, lineage included."""

from __future__ import annotations

import datetime as dt
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crmcore.errors import SurvivorshipError
from crmcore.io import Table
from crmcore.survivorship import (
    GOLDEN_COLUMNS,
    LINEAGE_COLUMNS,
    Aggregate,
    FieldGroup,
    FieldRule,
    MostFrequent,
    SourceRecord,
    SurvivorshipRules,
    golden_records,
    merge,
    preset_rules,
)
from tests.survivorship.strategies import FIELDS, rule_sets, source_records

PROPS = settings(max_examples=40, deadline=None)


@st.composite
def clustered(draw: st.DrawFn) -> tuple[list[SourceRecord], list[str | None]]:
    """Records without per-field times, and an entity per record (None: its own entity)."""
    n = draw(st.integers(1, 14))
    recs = draw(source_records([f"r{i:02d}" for i in range(n)]))
    recs = [SourceRecord(r.record_id, r.source_system, r.observed_at, r.values) for r in recs]
    ents = draw(st.lists(st.none() | st.sampled_from(["e1", "e2", "e3", "e4"]), min_size=n,
                         max_size=n))
    return recs, ents


def to_table(recs: list[SourceRecord]) -> Table:
    def cell(v: Any) -> str | None:
        return v if isinstance(v, str) and v.strip() else None

    cols: dict[str, list[str | None]] = {
        "record_id": [r.record_id for r in recs],
        "source_system": [r.source_system for r in recs],
        "updated_at": [None if r.observed_at is None else r.observed_at.isoformat()[:19]
                       for r in recs],
    }
    for f in FIELDS:
        cols[f] = [cell(r.values.get(f)) for r in recs]
    return Table(cols)


def reference(recs, ents, rules):
    """Per entity: merge of its records as the table holds them (updated_at a field too)."""
    table = to_table(recs)
    rows = list(table.rows())
    groups: dict[str, list[SourceRecord]] = {}
    for row, e in zip(rows, ents, strict=True):
        when = row["updated_at"]
        values = {k: v for k, v in row.items() if k not in ("record_id", "source_system")}
        groups.setdefault(e or str(row["record_id"]), []).append(SourceRecord(
            str(row["record_id"]), str(row["source_system"]),
            None if when is None else dt.datetime.fromisoformat(when), values,
        ))
    return {e: merge(g, rules, entity_id=e) for e, g in groups.items()}


#: Families of values sharing a default key in several spellings (case, runs of spaces, tab,
#: NBSP, non-ASCII case folding), plus an invalid one: what the pyarrow kernels must get right.
FAMILIES = (
    ("Ann", "ann", " ANN ", "a  nn", "a\u00a0nn", "Bob"),
    ("Stra\u00dfe", "STRASSE", "strasse", "x-bad"),
    ("\u212aelvin", "kelvin", "KELVIN"),
    ("VP Sales", "vp\tsales", "VP  SALES", "CEO"),
    ("2024-01-02T10:00:00", "2024-01-02t10:00:00", "2024-01-03T10:00:00"),
    ("caf\u00e9", "CAF\u00c9", "10", "9"),
)


@st.composite
def wide_tables(draw: st.DrawFn) -> tuple[Table, list[str | None]]:
    """A table of about 2,100 rows: a drawn block of rows repeated with fresh ids/entities."""
    n = draw(st.integers(2, 12))
    fields = ("title", "city", "when")
    family = {f: st.sampled_from(draw(st.sampled_from(FAMILIES))) for f in fields}
    block = [
        {
            "source_system": draw(st.sampled_from(["crm", "erp", "web", "", "unknown"])),
            "updated_at": draw(st.none() | st.sampled_from(
                ["2024-01-01T00:00:00", "2024-01-02T00:00:00", "2024-01-02T00:00:00"])),
            **{f: draw(st.none() | family[f]) for f in ("title", "city", "when")},
        }
        for _ in range(n)
    ]
    ents_block = draw(st.lists(st.none() | st.sampled_from(["e1", "e2", "e3"]), min_size=n,
                               max_size=n))
    k = 2100 // n + 1
    order = draw(st.permutations(range(n)))
    cols: dict[str, list[str | None]] = {
        c: [] for c in ("record_id", "source_system", "updated_at", "title", "city", "when")
    }
    ents: list[str | None] = []
    for i in range(k):
        for j in order:
            # ids share a 12-character prefix; inside an entity their order is not row order
            cols["record_id"].append(f"salesforce-{(j * 7919 + i) % 100_000:09d}-{i}")
            for c, cells in cols.items():
                if c != "record_id":
                    cells.append(block[j][c] or None)
            ents.append(None if ents_block[j] is None else f"{ents_block[j]}-{i:04d}")
    return Table(cols), ents


def reference_of_table(table: Table, ents: list[str | None], rules: SurvivorshipRules) -> dict:
    """Per entity: merge() of its rows (updated_at a field too; blank source: unknown)."""
    groups: dict[str, list[SourceRecord]] = {}
    for row, e in zip(table.rows(), ents, strict=True):
        when = row["updated_at"]
        src = row["source_system"]
        values = {k: v for k, v in row.items() if k not in ("record_id", "source_system")}
        groups.setdefault(e or str(row["record_id"]), []).append(SourceRecord(
            str(row["record_id"]), src if src and src.strip() else "unknown",
            None if when is None else dt.datetime.fromisoformat(when), values,
        ))
    return {e: merge(g, rules, entity_id=e) for e, g in groups.items()}


def cell_of(rules: SurvivorshipRules, field: str, value: Any) -> str | None:
    rule = rules.rule_for(field)
    if value is not None and isinstance(rule.policy, Aggregate):
        return rule.policy.join(value)
    return value


class TestGoldenRecords:
    @PROPS
    @given(data=clustered(), rules=rule_sets())
    def test_equals_merge_per_entity(self, data, rules):
        """Golden table and lineage equal the per-entity merge reference."""
        recs, ents = data
        golden, lineage = golden_records(to_table(recs), ents, rules)
        ref = reference(recs, ents, rules)
        assert golden.column("entity_id") == sorted(ref)
        fields = [c for c in golden.column_names if c not in GOLDEN_COLUMNS]
        want_lineage = set()
        for row in golden.rows():
            g = ref[str(row["entity_id"])]
            assert row["record_ids"] == "; ".join(g.record_ids)
            assert row["n_records"] == str(len(g.record_ids))
            for f in fields:
                assert row[f] == cell_of(rules, f, g.values.get(f)), f
                lin = g.lineage.get(f)
                if len(g.record_ids) > 1 and lin is not None and (
                    lin.n_candidates or lin.rejected
                ):
                    want_lineage.add((
                        g.entity_id, f, cell_of(rules, f, lin.value), lin.record_id,
                        lin.source_system, lin.policy, lin.tie_breaker, str(lin.n_candidates),
                        str(len(lin.rejected)), "true" if lin.conflict else "false",
                    ))
        got_lineage = set(zip(*(lineage.column(c) for c in LINEAGE_COLUMNS), strict=True))
        assert got_lineage == want_lineage

    @settings(max_examples=5, deadline=None)
    @given(data=clustered(), rules=rule_sets(custom=False))
    def test_large_tables_take_the_same_decisions(self, data, rules):
        """Past the size where the pyarrow kernels run, results still equal the reference."""
        recs, ents = data
        k = 2100 // len(recs) + 1
        big = [SourceRecord(f"{r.record_id}-{i:03d}", r.source_system, r.observed_at, r.values)
               for i in range(k) for r in recs]
        big_ents = [None if e is None else f"{e}-{i:03d}" for i in range(k) for e in ents]
        golden, _ = golden_records(to_table(big), big_ents, rules)
        ref = reference(big, big_ents, rules)
        assert golden.column("entity_id") == sorted(ref)
        fields = [c for c in golden.column_names if c not in GOLDEN_COLUMNS]
        for row in golden.rows():
            g = ref[str(row["entity_id"])]
            assert [row[f] for f in fields] == [cell_of(rules, f, g.values.get(f)) for f in fields]

    @settings(max_examples=10, deadline=None)
    @given(data=wide_tables(), rules=rule_sets(custom=False))
    def test_large_rich_tables_equal_merge_with_lineage(self, data, rules):
        """Past the pyarrow size, with case / space / non-ASCII variants, ids sharing long
        prefixes and many entities: golden values and lineage equal merge() per entity."""
        table, ents = data
        golden, lineage = golden_records(table, ents, rules)
        ref = reference_of_table(table, ents, rules)
        assert golden.column("entity_id") == sorted(ref)
        fields = [c for c in golden.column_names if c not in GOLDEN_COLUMNS]
        want_lineage = set()
        for row in golden.rows():
            g = ref[str(row["entity_id"])]
            assert row["record_ids"] == "; ".join(g.record_ids)
            assert [row[f] for f in fields] == [cell_of(rules, f, g.values.get(f)) for f in fields]
            for f in fields:
                lin = g.lineage.get(f)
                if len(g.record_ids) > 1 and lin is not None and (
                    lin.n_candidates or lin.rejected
                ):
                    want_lineage.add((
                        g.entity_id, f, cell_of(rules, f, lin.value), lin.record_id,
                        lin.source_system, lin.policy, lin.tie_breaker, str(lin.n_candidates),
                        str(len(lin.rejected)), "true" if lin.conflict else "false",
                    ))
        got_lineage = set(zip(*(lineage.column(c) for c in LINEAGE_COLUMNS), strict=True))
        assert got_lineage == want_lineage

    @PROPS
    @given(data=clustered(), rules=rule_sets())
    def test_every_record_accounted_for(self, data, rules):
        """Each input record is in exactly one golden record."""
        recs, ents = data
        golden, _ = golden_records(to_table(recs), ents, rules, singleton_lineage=True)
        members = [m for cell in golden.column("record_ids") for m in str(cell).split("; ")]
        assert sorted(members) == sorted(r.record_id for r in recs)

    def test_singleton_lineage(self):
        """With singleton_lineage, a one-record entity's values are attributed to it."""
        t = Table({"record_id": ["1"], "source_system": ["crm"], "city": ["Paris"]})
        _, lineage = golden_records(t, [None], SurvivorshipRules(), singleton_lineage=True)
        assert next(iter(lineage.rows()))["record_id"] == "1"
        assert next(iter(lineage.rows()))["policy"] == "singleton"

    def test_preset_rules_run(self):
        """The contacts preset runs on canonical columns; invalid emails never win."""
        t = Table({
            "record_id": ["1", "2"], "source_system": ["crm", "web"],
            "updated_at": ["2024-01-01", "2024-02-01"], "email": ["ann@acme.io", "n/a"],
        })
        golden, _ = golden_records(t, ["e", "e"], preset_rules("contacts"))
        assert golden.column("email") == ["ann@acme.io"]

    @pytest.mark.parametrize(
        ("ids", "ents", "match"),
        [(["1", "1"], ["e", "e"], "share"), (["1", None], ["e", "e"], "no record id"),
         (["1", "2"], ["e"], "entity ids")],
    )
    def test_bad_input(self, ids, ents, match):
        """Repeated / missing ids and a wrong number of entity ids are refused."""
        with pytest.raises(SurvivorshipError, match=match):
            golden_records(Table({"record_id": ids}), ents, SurvivorshipRules())


GROUPS = (FieldGroup("place", ("title", "city")),)


def group_cell(rules: SurvivorshipRules, field: str, value: Any) -> str | None:
    """A golden cell: group members hold their record's value as is (no union)."""
    grouped = {f for g in rules.groups for f in g.fields}
    return value if field in grouped else cell_of(rules, field, value)


class TestFieldGroups:
    @PROPS
    @given(data=clustered(), rules=rule_sets(custom=False))
    def test_bulk_equals_merge_with_a_group(self, data, rules):
        """With a field group, golden_records equals merge() per entity, lineage included,
        and the group's fields come from one record."""
        recs, ents = data
        rules = attrs.evolve(rules, groups=GROUPS)
        golden, lineage = golden_records(to_table(recs), ents, rules)
        ref = reference(recs, ents, rules)
        fields = [c for c in golden.column_names if c not in GOLDEN_COLUMNS]
        want_lineage = set()
        for row in golden.rows():
            g = ref[str(row["entity_id"])]
            assert [row[f] for f in fields] == [group_cell(rules, f, g.values.get(f))
                                                for f in fields]
            assert g.lineage["title"].record_id == g.lineage["city"].record_id
            for f in fields:
                lin = g.lineage.get(f)
                if len(g.record_ids) > 1 and lin is not None and (
                    lin.n_candidates or lin.rejected
                ):
                    want_lineage.add((
                        g.entity_id, f, group_cell(rules, f, lin.value), lin.record_id,
                        lin.source_system, lin.policy, lin.tie_breaker, str(lin.n_candidates),
                        str(len(lin.rejected)), "true" if lin.conflict else "false",
                    ))
        got_lineage = set(zip(*(lineage.column(c) for c in LINEAGE_COLUMNS), strict=True))
        assert got_lineage == want_lineage

    def test_address_never_mixes_sources(self):
        """A street from one record never meets a postcode from another."""
        t = Table.from_records([
            {"record_id": "a", "updated_at": "2024-05-01", "street": "1 New Rd", "city": "York",
             "postcode": None},
            {"record_id": "b", "updated_at": "2023-01-01", "street": "9 Old St", "city": "Leeds",
             "postcode": "LS1 4AP"},
        ])
        rules = preset_rules("contacts")
        golden, lineage = golden_records(t, ["e", "e"], rules)
        row = next(golden.rows())
        assert (row["street"], row["city"], row["postcode"]) == ("9 Old St", "Leeds", "LS1 4AP")
        policies = {r["field"]: r["policy"] for r in lineage.rows()}
        assert policies["street"] == "address:most_complete"


    def test_group_values_differing_after_a_blank_part_conflict(self):
        """Group values equal up to a blank part are still different values (a conflict), as in
        merge(): the bulk path once coded group keys with a NUL and pandas cut them there."""
        t = Table.from_records([
            {"record_id": "r1", "source_system": "crm", "title": "VP Sales", "city": None},
            {"record_id": "r2", "source_system": "crm", "title": "VP Sales", "city": "Paris"},
        ])
        rules = SurvivorshipRules(groups=GROUPS)
        _golden, lineage = golden_records(t, ["e", "e"], rules)
        bulk = {r["field"]: r["conflict"] for r in lineage.rows()}
        recs = [SourceRecord(r["record_id"], "crm", None, r) for r in t.rows()]
        ref = merge(recs, rules, entity_id="e")
        assert bulk == {"title": "true", "city": "true"}
        assert ref.lineage["city"].conflict
        assert ref.lineage["title"].conflict


class TestNulInValues:
    def test_values_with_a_nul_keep_their_identity(self):
        """Text holding a NUL character is not cut there: a, a<NUL>b and a<NUL>c are three
        values, so the most frequent is the one held twice, as merge() finds."""
        values = ["a\x00b", "a", "a\x00c", "a\x00c"]
        t = Table.from_records([
            {"record_id": f"r{i}", "source_system": "crm", "note": v} for i, v in enumerate(values)
        ])
        rules = SurvivorshipRules(default=FieldRule(MostFrequent()))
        golden, _lineage = golden_records(t, ["e"] * 4, rules)
        recs = [SourceRecord(r["record_id"], "crm", None, {"note": r["note"]}) for r in t.rows()]
        assert next(golden.rows())["note"] == merge(recs, rules).values["note"] == "a\x00c"


class TestIsoBasicDates:
    @pytest.mark.parametrize("copies", [1, 1_100])
    def test_bulk_equals_merge_on_basic_dates(self, copies):
        """created_at / updated_at written 20210612 decide as 2021-06-12 in bulk and merge()."""
        rows = []
        for i in range(copies):
            rows += [
                {"record_id": f"a{i}", "updated_at": "20210612", "created_at": "2021-02-09",
                 "title": "new"},
                {"record_id": f"b{i}", "updated_at": "2021-02-09", "created_at": "20210612",
                 "title": "old"},
            ]
        table = Table.from_records(rows)
        ents = [f"e{i}" for i in range(copies) for _ in range(2)]
        rules = preset_rules("contacts")
        golden, _ = golden_records(table, ents, rules)
        ref = reference_of_table(
            Table({"source_system": [None] * len(rows), **table.columns}), ents, rules
        )
        first = next(golden.rows())
        assert (first["title"], first["created_at"]) == ("new", "2021-02-09")
        assert first["title"] == ref["e0"].values["title"]
        assert first["created_at"] == ref["e0"].values["created_at"]
