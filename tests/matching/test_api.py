"""The main jobs: dedupe and link never lose a row, explain themselves, accept many inputs."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crmcore.errors import MatchingConfigError, PairBudgetExceeded
from crmcore.io import Table
from crmcore.matching import (
    ClusterOptions,
    MatchSettings,
    TrainingOptions,
    block_on,
    dedupe,
    email_comparison,
    exact_match,
    given_name_comparison,
    link,
    needed_columns,
    phone_comparison,
    prepare_columns,
    prepare_frame,
    read_records,
)
from tests.matching.strategies import records

FIELDS = ["first_name", "last_name", "email", "phone", "city"]

#: A pair every generated table starts with, so blocking always has candidates to train on.
SEED_ROWS = [
    {"first_name": "Robert", "last_name": "Smith", "email": "bob@acme.io",
     "phone": "+44 20 7946 0001", "city": "London"},
    {"first_name": "Bob", "last_name": "Smith", "email": "bob@acme.io",
     "phone": "020 7946 0001", "city": "London"},
]

SETTINGS = MatchSettings(
    comparisons=(given_name_comparison(), exact_match("last_name"), email_comparison(),
                 phone_comparison(), exact_match("city")),
    blocking=(block_on("email"), block_on("last_name", "city"),
              block_on("national_number(phone)")),
    prepare={"first_name": "name", "last_name": "name", "email": "email", "phone": "phone",
             "city": "text"},
    training=TrainingOptions(u_sample_pairs=2000),
    threshold=0.9,
)

PEOPLE = [
    {"id": "1", "first_name": "Robert", "last_name": "Smith", "email": "bob@acme.io",
     "phone": "+44 20 7946 0001", "city": "London"},
    {"id": "2", "first_name": "Bob", "last_name": "Smith", "email": "bob@acme.io",
     "phone": "020 7946 0001", "city": "London"},
    {"id": "3", "first_name": "Ann", "last_name": "Lee", "email": "ann@lee.org",
     "phone": None, "city": "Leeds"},
    {"id": "4", "first_name": "Anne", "last_name": "Lee", "email": "ann@lee.org",
     "phone": "0113 496 0000", "city": "Leeds"},
    {"id": "5", "first_name": None, "last_name": None, "email": "not an email", "phone": None,
     "city": None},
] + [
    {"id": f"x{k}", "first_name": f"name{k}", "last_name": f"family{k % 7}",
     "email": f"p{k}@mail{k % 5}.io", "phone": f"0207 000 {k:04d}", "city": f"town{k % 11}"}
    for k in range(40)
]


def with_ids(rows: list[dict[str, str | None]], prefix: str = "r") -> list[dict[str, str | None]]:
    return [{"id": f"{prefix}{k}", **r} for k, r in enumerate(rows)]


class TestDedupe:
    @settings(max_examples=15, deadline=None)
    @given(records(max_size=14, columns=FIELDS), st.booleans())
    def test_never_loses_a_row(self, rows, drop_an_id) -> None:
        """Every row gets an entity; unusable rows are singletons with a reason."""
        data = with_ids(SEED_ROWS + rows)
        if drop_an_id:
            data[-1]["id"] = None
        result = dedupe(data, id_column="id", settings=SETTINGS)
        n = len(data)
        assert result.ids == [r["id"] for r in data]
        assert len(result.entity_ids) == len(result.labels) == len(result.notes) == n
        table = result.to_table()
        assert table.n_rows == n
        assert table.column("id") == result.ids
        labels = result.labels.tolist()
        entity_of = dict(zip(labels, result.entity_ids, strict=True))
        assert len(entity_of) == len(set(result.entity_ids)) == result.n_entities
        assert [entity_of[label] for label in labels] == result.entity_ids
        assert table.column("cluster_size") == [str(labels.count(label)) for label in labels]
        frame = result.frame
        for row in range(n):
            usable = any(frame.codes(c)[row] >= 0 for c in SETTINGS.columns)
            note = result.notes[row]
            assert ("no usable value" in note) == (not usable)
            assert ("missing id" in note) == (data[row]["id"] is None)
            if not usable:
                assert (result.labels == result.labels[row]).sum() == 1

    @settings(max_examples=10, deadline=None)
    @given(records(max_size=14, columns=FIELDS))
    def test_lower_threshold_never_splits_entities(self, rows) -> None:
        """With plain components, lowering the threshold only merges entities."""
        s = MatchSettings(
            comparisons=SETTINGS.comparisons, blocking=SETTINGS.blocking,
            prepare=SETTINGS.prepare, training=SETTINGS.training,
            cluster=ClusterOptions(method="components"),
        )
        data = with_ids(SEED_ROWS + rows)
        high = dedupe(data, id_column="id", settings=s, threshold=0.99)
        low = dedupe(data, id_column="id", settings=s, threshold=0.5, model=high.model)
        for i in range(len(data)):
            assert low.labels[i] == low.labels[high.labels[i]]
        assert low.n_entities <= high.n_entities

    def test_input_kinds_agree(self) -> None:
        """Rows, a column mapping, a Table, pandas and pyarrow give the same entities."""
        import pandas as pd
        import pyarrow as pa

        expected = dedupe(PEOPLE, id_column="id", settings=SETTINGS).entity_ids
        columns = {k: [r[k] for r in PEOPLE] for k in PEOPLE[0]}
        for data in (columns, Table(columns), pd.DataFrame(PEOPLE), pa.Table.from_pylist(PEOPLE)):
            assert dedupe(data, id_column="id", settings=SETTINGS).entity_ids == expected

    def test_finds_the_duplicates(self) -> None:
        """Nickname + same email + same phone match; an unusable row is reported and kept."""
        result = dedupe(PEOPLE, id_column="id", settings=SETTINGS)
        e = result.entity_ids
        assert e[0] == e[1]
        assert e[2] == e[3]
        assert e[0] != e[2]
        assert result.notes[4].startswith("no usable value in")
        assert [p.record for p in result.problems] == ["5"]
        assert result.n_records == len(PEOPLE)
        assert result.duplicate_rate == pytest.approx(1 - result.n_entities / len(PEOPLE))

    def test_result_helpers(self) -> None:
        """Pairs table, explanations, summary and timings are available on the result."""
        messages: list[str] = []
        result = dedupe(PEOPLE, id_column="id", settings=SETTINGS, progress=messages.append)
        assert any(m.startswith("blocking") for m in messages)
        assert set(result.timings) >= {"read", "prepare", "block", "compare", "train", "score",
                                       "cluster"}
        pairs = result.pairs_table()
        assert ("1", "2") in set(zip(pairs.column("left"), pairs.column("right"), strict=True))
        assert result.pairs_table(all_pairs=True).n_rows == len(result.pairs)
        waterfall = result.explain("1", "2")
        assert waterfall.probability >= result.threshold
        entity = result.explain_entity("1")
        assert set(entity.members) == {0, 1}
        summary = result.summary()
        assert f"rows in    {len(PEOPLE)}; rows out {len(PEOPLE)}" in summary
        assert "rows not usable for matching 1" in summary
        with pytest.raises(MatchingConfigError, match="no record with id 'nope'"):
            result.row_of("nope")

    def test_trained_model_can_be_reused(self) -> None:
        """A model from one run scores a second run identically; a foreign model is refused."""
        first = dedupe(PEOPLE, id_column="id", settings=SETTINGS)
        again = dedupe(PEOPLE, id_column="id", settings=SETTINGS, model=first.model)
        assert np.array_equal(again.pairs.probability, first.pairs.probability)
        assert again.entity_ids == first.entity_ids
        other = MatchSettings(comparisons=(exact_match("email"),), blocking=SETTINGS.blocking)
        with pytest.raises(MatchingConfigError, match="comparisons differ"):
            dedupe(PEOPLE, id_column="id", settings=other, model=first.model)

    def test_pair_budget(self) -> None:
        """A blocking rule over the pair budget stops the job with advice."""
        s = MatchSettings(comparisons=SETTINGS.comparisons, blocking=(block_on("last_name"),),
                          max_pairs=5)
        with pytest.raises(PairBudgetExceeded, match="'last_name'"):
            dedupe(PEOPLE, id_column="id", settings=s)

    def test_bad_threshold_and_missing_columns(self) -> None:
        """Thresholds outside [0, 1] and settings reading absent columns are refused."""
        with pytest.raises(MatchingConfigError, match="threshold must be a probability"):
            dedupe(PEOPLE, id_column="id", settings=SETTINGS, threshold=1.5)
        rows = [{k: v for k, v in r.items() if k != "city"} for r in PEOPLE]
        with pytest.raises(MatchingConfigError, match=r"columns \['city'\] which the data lacks"):
            dedupe(rows, id_column="id", settings=SETTINGS)

    def test_people_without_a_default_column_says_how_to_leave_it_out(self) -> None:
        """people() reads dob and postcode by default: a register without a postcode column
        gets an error naming it and saying how to leave it out; leaving it out works."""
        from crmcore.matching import people

        rows = [{"id": str(i), "first_name": "Ann", "last_name": "Lee", "dob": "1990-01-01"}
                for i in range(3)]
        with pytest.raises(MatchingConfigError, match=r"\['postcode'\].*postcode=None"):
            dedupe(rows, id_column="id", settings=people())
        assert dedupe(rows, id_column="id", settings=people(postcode=None)).n_records == 3

    def test_mapping_renames_source_columns(self) -> None:
        """--map style renames turn source column names into the fields the settings read."""
        rows = [{("E-mail" if k == "email" else k): v for k, v in r.items()} for r in PEOPLE]
        result = dedupe(rows, id_column="id", settings=SETTINGS, mapping={"E-mail": "email"})
        assert result.entity_ids == dedupe(PEOPLE, id_column="id", settings=SETTINGS).entity_ids

    @pytest.mark.parametrize("id_name", ["id", "Contact ID", "record_id"])
    def test_id_column_renamed_by_the_schema_mapping(self, id_name) -> None:
        """An id column the preset's schema mapping renames (to record_id) is still found."""
        rows = [{id_name: r["id"], **{k: v for k, v in r.items() if k != "id"}}
                for r in PEOPLE]
        result = dedupe(rows, id_column=id_name, preset="contacts")
        assert result.ids == [r["id"] for r in PEOPLE]
        linked = link(rows[:20], rows[20:], id_column=id_name, preset="contacts")
        assert linked.ids == [r["id"] for r in PEOPLE]

    @pytest.mark.parametrize("n_rows", [1, 2, 4])
    def test_tiny_tables_without_or_with_few_pairs(self, n_rows) -> None:
        """One row, no candidate pair, or a handful of pairs: every row gets an entity."""
        distinct = [{"id": "1", "first_name": "Ann", "last_name": "Lee", "email": "ann@acme.io"},
                    {"id": "2", "first_name": "Bob", "last_name": "Ray", "email": "bob@acme.io"}]
        rows = (distinct + [dict(r, id=f"{r['id']}b") for r in distinct])[:n_rows]
        result = dedupe(rows, id_column="id")
        assert result.ids == [r["id"] for r in rows]
        assert result.n_entities == min(n_rows, 2)
        assert len(result.pairs) == max(n_rows - 2, 0)

    def test_link_without_candidate_pairs(self) -> None:
        """Two tables with nothing in common: every row is its own entity."""
        result = link(PEOPLE[:3], PEOPLE[-3:], id_column="id", settings=SETTINGS)
        assert len(result.pairs) == 0
        assert result.n_entities == 6

    def test_row_numbers_as_ids(self) -> None:
        """Without an id column, row numbers are the ids."""
        result = dedupe(PEOPLE, settings=SETTINGS)
        assert result.ids == [str(k) for k in range(len(PEOPLE))]


class TestLink:
    @settings(max_examples=12, deadline=None)
    @given(records(max_size=10, columns=FIELDS), records(max_size=10, columns=FIELDS))
    def test_one_to_one_gives_at_most_one_partner(self, left_rows, right_rows) -> None:
        """With one_to_one_links every entity holds at most one record of each table."""
        left = with_ids(SEED_ROWS[:1] + left_rows, "L")
        right = with_ids(SEED_ROWS[1:] + right_rows + SEED_ROWS[:1], "R")
        result = link(left, right, id_column="id", settings=SETTINGS, one_to_one_links=True,
                      threshold=0.5)
        assert len(result.entity_ids) == len(left) + len(right)
        assert (result.source == 0).sum() == len(left)
        for label in set(result.labels.tolist()):
            members = np.flatnonzero(result.labels == label)
            sources = result.source[members].tolist()
            assert sources.count(0) <= 1
            assert sources.count(1) <= 1

    @settings(max_examples=12, deadline=None)
    @given(records(max_size=10, columns=FIELDS), records(max_size=10, columns=FIELDS))
    def test_only_cross_table_pairs(self, left_rows, right_rows) -> None:
        """Every candidate pair joins a left record to a right record; no row is lost."""
        left = with_ids(SEED_ROWS[:1] + left_rows, "L")
        right = with_ids(SEED_ROWS[1:] + right_rows, "R")
        result = link(left, right, id_column="id", settings=SETTINGS)
        assert result.ids == [r["id"] for r in left + right]
        assert (result.source[result.pairs.left] == 0).all()
        assert (result.source[result.pairs.right] == 1).all()
        assert result.to_table().column("source") == ["left"] * len(left) + ["right"] * len(right)

    def test_right_id_and_mapping(self) -> None:
        """The right table may have its own id column and column names."""
        right = [{("key" if k == "id" else "mail" if k == "email" else k): v
                  for k, v in r.items()} for r in PEOPLE]
        result = link(PEOPLE, right, id_column="id", right_id_column="key", settings=SETTINGS,
                      right_mapping={"mail": "email"}, one_to_one_links=True)
        ids = [r["id"] for r in PEOPLE]
        assert result.ids == ids + ids
        n = len(PEOPLE)
        assert result.entity_ids[0] == result.entity_ids[n]
        assert result.entity_ids[0] != result.entity_ids[n + 1]


class TestNeededColumns:
    def test_id_and_mapped_columns_in_source_order(self) -> None:
        """The id column and every source column mapped onto a field the settings read."""
        names = ["note", "E-mail", "first_name", "id", "last_name", "phone", "city", "extra"]
        got = needed_columns(names, id_column="id", settings=SETTINGS, mapping={"E-mail": "email"})
        assert got == ["E-mail", "first_name", "id", "last_name", "phone", "city"]


class TestReadRecords:
    @pytest.mark.parametrize("suffix", [".csv", ".parquet"])
    def test_reads_only_needed_columns(self, tmp_path, suffix) -> None:
        """CSV and Parquet give the needed columns of read_table, blanks as missing."""
        from crmcore.io import read_table, write_table

        rows = [dict(r, note="x", city=r["city"] or "  ") for r in PEOPLE[:6]]
        path = tmp_path / f"people{suffix}"
        write_table(Table({k: [r[k] for r in rows] for k in rows[0]}), path)
        got = read_records(path, id_column="id", settings=SETTINGS)
        full = read_table(path)
        assert got.column_names == ["id", *FIELDS]
        for name in got.column_names:
            assert got.column(name) == full.column(name)
        assert got.column("city")[4] is None

    def test_parquet_dictionary_columns_read_as_strings_are(self, tmp_path) -> None:
        """Text columns Parquet stores as dictionaries are read as such (not the id, not a
        column of mostly distinct values), with the values and encoding of a plain read."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        from crmcore.io._arrow import arrow_to_table
        from crmcore.matching._reader import _coded

        n = 2000
        columns = {
            "id": [f"r{i}" for i in range(n)],
            "first_name": [["Ann", " ", None, "Bob"][i % 4] for i in range(n)],
            "last_name": [f"name {i}" for i in range(n)],
            "city": [["Oslo", "Bergen", None][i % 3] for i in range(n)],
        }
        path = tmp_path / "people.parquet"
        pq.write_table(pa.table(columns), path, row_group_size=700)
        assert _coded(pq.ParquetFile(path).metadata, list(columns), "id") == ["first_name", "city"]
        got = read_records(path, id_column="id", settings=SETTINGS)
        want = arrow_to_table(pq.read_table(path), plain=["id"])
        assert got.column_names == list(columns)
        for name in columns:
            assert got.column(name) == want.column(name)
        for name in ("first_name", "city"):
            assert got.column(name).encoding.distinct == want.column(name).encoding.distinct
            assert (got.column(name).encoding.codes == want.column(name).encoding.codes).all()


class TestPrepareFrame:
    @settings(max_examples=20, deadline=None)
    @given(records(max_size=14, columns=FIELDS))
    def test_equals_prepare_columns(self, rows) -> None:
        """The frame holds what prepare_columns computes, and reports the same problems."""
        data = with_ids(rows)
        table = Table({k: [r[k] for r in data] for k in ["id", *FIELDS]})
        frame, problems = prepare_frame(table, SETTINGS, ids=table.column("id"))
        columns, expected = prepare_columns(table, SETTINGS.prepare, id_column="id")
        for name in FIELDS:
            assert frame.values(name) == columns[name]
        key = lambda p: (p.record, p.field, p.value, p.rule)  # noqa: E731
        assert sorted(map(key, problems)) == sorted(map(key, expected))

    @settings(max_examples=6, deadline=None)
    @given(st.lists(
        st.one_of(
            st.sampled_from(["J.Doe+crm@GoogleMail.com", " ann@acme.io ", "a b@acme.io",
                             "x@nodot", "@acme.io", "Bob@Acme.IO", "020 7946 0001", ""]),
            st.text(alphabet="aB1 .+@-\u00e9", max_size=10),
        ),
        min_size=1, max_size=12,
    ))
    def test_big_tables_equal_prepare_columns(self, base) -> None:
        """On 20k+ rows with 2k+ distinct values (batch paths) the frame still equals them."""
        emails = [f"{v}{k}@x{k % 3}.io" if k % 2 else f"{k}{v}"
                  for k in range(2100 // len(base) + 1) for v in base]
        emails = (emails * (20_000 // len(emails) + 1))[:20_500]
        table = Table({"id": [str(k) for k in range(len(emails))], "email": emails,
                       "phone": emails, **{c: [None] * len(emails)
                                           for c in FIELDS if c not in ("email", "phone")}})
        frame, _ = prepare_frame(table, SETTINGS, ids=table.column("id"))
        columns, _ = prepare_columns(table, SETTINGS.prepare, id_column="id")
        assert frame.values("email") == columns["email"]
        assert frame.values("phone") == columns["phone"]

    def test_problems_name_the_record(self) -> None:
        """Values a normaliser rejects become missing and are reported with the record id."""
        table = Table({k: [r[k] for r in PEOPLE] for k in PEOPLE[0]})
        frame, problems = prepare_frame(table, SETTINGS, ids=table.column("id"))
        assert frame.values("email")[4] is None
        assert [(p.record, p.field, p.value, p.rule) for p in problems] == [
            ("5", "email", "not an email", "normalize.email")]


class TestEntityIds:
    @settings(max_examples=30, deadline=None)
    @given(st.lists(st.integers(0, 40), min_size=0, max_size=60))
    def test_numbered_in_label_order(self, raw: list[int]) -> None:
        """Entity ids are format_entity_id of the rank of the label among the distinct labels."""
        from crmcore.matching._api import _entity_ids
        from crmcore.matching._stable_ids import format_entity_id

        labels = np.asarray(raw, dtype=np.int64)
        distinct = sorted(set(raw))
        assert _entity_ids(labels) == [format_entity_id(distinct.index(v) + 1) for v in raw]




EXPORT_ROWS = [
    {"Contact ID": "1", "First Name": "Robert", "Last Name": "Smith", "Phone": "+44 20 7946 0001",
     "E-mail": "bob@acme.com"},
    {"Contact ID": "2", "First Name": "Robert", "Last Name": "Smith", "Phone": "020 7946 0001",
     "E-mail": "bob@acme.com"},
    {"Contact ID": "3", "First Name": "Ann", "Last Name": "Lee", "Phone": "", "E-mail": "a@l.org"},
]


class TestOneMappingBehaviour:
    def test_headers_mapped_without_a_preset(self):
        """dedupe(rows, id_column=...) maps "First Name" / "Phone" like the command line."""
        result = dedupe(EXPORT_ROWS, id_column="Contact ID")
        assert result.entity_ids[0] == result.entity_ids[1] != result.entity_ids[2]
        assert {"first_name", "phone", "email"} <= set(result.settings.columns)

    def test_partial_mapping_keeps_the_automatic_one(self):
        """A partial mapping= adds to the schema mapping: the duplicates are still found."""
        rows = [{**r, "Mail": r.pop("E-mail")} for r in (dict(x) for x in EXPORT_ROWS)]
        result = dedupe(rows, id_column="Contact ID", mapping={"Mail": "email"})
        assert result.entity_ids[0] == result.entity_ids[1] != result.entity_ids[2]

    def test_warning_when_no_rule_can_pair(self):
        """Mapped columns that leave every blocking rule without values: a warning, not silence."""
        rows = [{"id": str(i), "email": "", "first_name": "Ann", "company": "X"} for i in range(3)]
        with pytest.warns(UserWarning, match="no blocking rule can pair any records"):
            result = dedupe(rows, id_column="id")
        assert result.warnings
        assert "warning: no blocking rule" in result.summary()

    def test_errors_give_no_command_line_advice(self):
        """A Python caller's error does not tell them to use --map."""
        with pytest.raises(MatchingConfigError) as info:
            dedupe([{"id": "1", "colour": "red"}], id_column="id")
        assert "--map" not in str(info.value)


class TestIds:
    def test_repeated_ids_refused_with_the_list(self):
        """Repeated ids raise, naming each repeated id and its count."""
        rows = [dict(r) for r in EXPORT_ROWS] + [dict(EXPORT_ROWS[0])]
        with pytest.raises(MatchingConfigError, match=r"repeats 1 record ids: '1' \(2 rows\)"):
            dedupe(rows, id_column="Contact ID")
        with pytest.raises(MatchingConfigError, match="repeats"):
            link(rows, EXPORT_ROWS, id_column="Contact ID")

    def test_repeats_renamed_behind_the_option(self):
        """on_duplicate_ids='rename' keeps every row: ID#2, ID#3 ..., skipping taken names."""
        rows = [dict(r) for r in EXPORT_ROWS] + [dict(EXPORT_ROWS[0]), {"Contact ID": "1#2"},
                                                 dict(EXPORT_ROWS[0])]
        result = dedupe(rows, id_column="Contact ID", on_duplicate_ids="rename")
        assert result.ids == ["1", "2", "3", "1#3", "1#2", "1#4"]
        assert result.notes[3] == "record id '1' repeated: renamed '1#3'"

    def test_rows_without_id_are_entities_of_their_own(self):
        """A row with no id never joins another row's entity, even when identical."""
        rows = [dict(r) for r in EXPORT_ROWS] + [{**EXPORT_ROWS[0], "Contact ID": None}]
        result = dedupe(rows, id_column="Contact ID")
        assert result.entity_ids[0] == result.entity_ids[1]
        assert result.entity_ids.count(result.entity_ids[3]) == 1
        assert "missing id" in result.notes[3]

    def test_batch_ids_have_the_index_format(self):
        """Batch entity ids are format_entity_id's (the index's) format."""
        from crmcore.matching._stable_ids import format_entity_id

        result = dedupe(EXPORT_ROWS, id_column="Contact ID")
        assert result.entity_ids == [format_entity_id(1), format_entity_id(1), format_entity_id(2)]


class TestVetoedPairsExplained:
    def test_entity_explanation_names_the_veto_behind_a_cut(self):
        """An entity split by a veto says which link was cut, which pair it keeps apart and
        which rule vetoed that pair; the entity's own links stay inside it."""
        from tests.matching.realtime.test_index import HOUSEHOLD_BATCH

        res = HOUSEHOLD_BATCH
        assert res.cut_links
        assert len(res.cut_for) == len(res.cut_links)
        (x, y), (a, b) = res.cut_links[0], res.cut_for[0]
        assert res.entity_ids[res.row_of(a)] != res.entity_ids[res.row_of(b)]
        assert res.entity_ids[res.row_of(x)] != res.entity_ids[res.row_of(y)]
        expl = res.explain_entity(x)
        line = next(t for t in expl.kept_apart if t.startswith(f"{x} -- {y} "))
        rules = [r.name for r in res.model.rules if r.outcome == "non_match"]
        assert any(f"vetoed by rule {name!r}" in line for name in rules)
        assert f"keep {a} and {b} apart" in line
        assert "links cut to keep records apart:" in expl.to_text(res.pairs, res.ids)
        members = set(expl.members)
        for k in expl.edges:
            assert {int(res.pairs.left[k]), int(res.pairs.right[k])} <= members

    def test_labels_at_the_run_threshold_are_the_run_labels(self):
        """``labels_at`` clusters as the run did, vetoes included, at any threshold."""
        from tests.matching.realtime.test_index import HOUSEHOLD_BATCH

        res = HOUSEHOLD_BATCH
        assert res.labels_at(res.threshold).tolist() == res.labels.tolist()
        lower = res.labels_at(0.5)
        hit = res.pairs.vetoed(res.model)
        assert (lower[res.pairs.left[hit]] != lower[res.pairs.right[hit]]).all()


class TestCodedApart:
    """Which expressions the phases code apart from the shared dictionary."""

    def test_contacts_preset(self) -> None:
        """Phones and addresses (read by exact, similarity and fixed-order blocking only) are
        coded apart; names read by swapped levels and any-order rules are not."""
        from crmcore.matching import contacts
        from crmcore.matching._api import _coded_apart

        apart = _coded_apart(contacts())
        assert {"email", "email_local(email)", "phone", "national_number(phone)",
                "digits(phone)", "line_number(phone)"} <= apart
        assert not {"first_name", "last_name", "canonical_given(first_name)",
                    "email_domain(email)", "company_key(company)"} & apart

    def test_dedupe_results_do_not_change(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Coding apart changes no score, pair or entity (through the pyarrow paths)."""
        from benchmarks import synth
        from crmcore.matching import _api
        from crmcore.matching import _expressions as ex

        table = synth.generate_contacts(3000, seed=3)
        data = Table({k: v for k, v in table.columns.items() if k != "entity_id"})
        monkeypatch.setattr(ex, "_ARROW_MIN_ROWS", 1000)
        monkeypatch.setattr(ex, "_ARROW_MIN_DISTINCT", 500)
        apart = dedupe(data, id_column="record_id", preset="contacts")
        monkeypatch.setattr(_api, "_coded_apart", lambda *_a: frozenset())
        shared = dedupe(data, id_column="record_id", preset="contacts")
        assert apart.entity_ids == shared.entity_ids
        for got, want in ((apart.pairs.left, shared.pairs.left),
                          (apart.pairs.right, shared.pairs.right),
                          (apart.pairs.levels, shared.pairs.levels),
                          (apart.pairs.match_weight, shared.pairs.match_weight)):
            assert np.array_equal(got, want)
        assert apart.frame.n_distinct > shared.frame.n_distinct  # some values coded twice
