"""Notebook displays: short text reprs and HTML of every result type show the object's numbers."""

from __future__ import annotations

import datetime as dt
import html
import re

from hypothesis import given
from hypothesis import strategies as st

from crmcore.display import cluster_size_counts, table_html
from crmcore.io import Table
from crmcore.matching import MatchResult, cluster_scores
from crmcore.survivorship import SourceRecord, SurvivorshipRules, merge


def cells(text: str) -> list[str]:
    """The text of every table cell of an HTML fragment."""
    return [html.unescape(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", text, re.S)]


class TestTable:
    def test_repr_is_one_line(self) -> None:
        """A table's repr names its size and columns, not its values."""
        t = Table.from_columns({"id": [str(i) for i in range(1000)], "email": ["x"] * 1000})
        assert repr(t) == "Table(1,000 rows x 2 columns: id, email)"

    def test_html_shows_head_and_tail(self) -> None:
        """A long table shows its first and last rows and its size."""
        t = Table.from_columns({"id": [f"r{i}" for i in range(100)]})
        out = t._repr_html_()
        assert "100 rows x 1 columns" in out
        shown = cells(out)
        assert "r0" in shown
        assert "r99" in shown
        assert "r50" not in shown

    @given(st.lists(st.text(max_size=20), min_size=1, max_size=8))
    def test_values_are_escaped(self, values: list[str]) -> None:
        """Any cell text shows as itself: markup in the data never becomes markup."""
        out = table_html({"v": values}, len(values), max_rows=len(values))
        shown = cells(out)
        raw = re.findall(r"<td[^>]*>(.*?)</td>", out, re.S)
        for v in values:
            assert v in shown or v == ""  # empty cells show as "none"
            if v:
                # the cell that shows v holds no markup of its own: every "<" arrives escaped
                assert any(html.unescape(r) == v and "<" not in r for r in raw)

    def test_frames(self) -> None:
        """to_pandas / to_arrow / to_polars keep the columns and the missing cells."""
        t = Table.from_records([{"id": "1", "email": "a@x.com"}, {"id": "2", "email": ""}])
        df = t.to_pandas()
        assert list(df.columns) == ["id", "email"]
        assert df["email"].tolist() == ["a@x.com", None]
        assert t.to_arrow().column("email").to_pylist() == ["a@x.com", None]
        assert t.to_polars().get_column("email").to_list() == ["a@x.com", None]


class TestMatchResult:
    def test_repr(self, result: MatchResult) -> None:
        """The repr gives records, entities, matched pairs and the threshold."""
        assert repr(result) == (
            f"MatchResult({result.n_records:,} records -> {result.n_entities:,} entities, "
            f"{len(result.matches):,} matched pairs of {len(result.pairs):,} candidates "
            f"at threshold {result.threshold:g})"
        )

    def test_histogram_counts_clusters(self, result: MatchResult) -> None:
        """The cluster-size histogram counts every entity once, by its number of records."""
        counts = cluster_size_counts(result.labels)
        by_entity: dict[str, int] = {}
        for e in result.entity_ids:
            by_entity[e] = by_entity.get(e, 0) + 1
        expected: dict[int, int] = {}
        for size in by_entity.values():
            expected[size] = expected.get(size, 0) + 1
        assert dict(counts) == expected
        shown = cells(result._repr_html_())
        for _size, n in counts:
            assert str(n) in shown

    def test_html_summary(self, result: MatchResult) -> None:
        """The HTML shows records, entities and a sample of matched pairs with their ids."""
        shown = cells(result._repr_html_())
        assert f"{result.n_records:,}" in shown
        assert f"{result.n_entities:,}" in shown
        weakest = int(result.matches.match_weight.argmin())
        assert result.ids[int(result.matches.left[weakest])] in shown

    def test_frames(self, result: MatchResult) -> None:
        """The result's frames are its entity table."""
        assert result.to_pandas()["entity_id"].tolist() == result.entity_ids
        assert result.to_polars().height == result.n_records


class TestModelAndExplanations:
    def test_model_levels(self, result: MatchResult) -> None:
        """The model's HTML lists every level with its m, u and weight."""
        model = result.model
        shown = cells(model._repr_html_())
        weights = model.weights()
        for ci, comp in enumerate(model.comparisons):
            for li in range(1, comp.n_levels):
                assert comp.labels[li] in shown
                assert f"{model.m[ci][li]:.4f}" in shown
                assert f"{weights[ci][li]:+.2f}" in shown
        assert repr(model).startswith(f"MatchModel({len(model.comparisons)} comparisons")

    def test_waterfall(self, result: MatchResult) -> None:
        """A waterfall's HTML has every step and its running total ends at the match weight."""
        k = int(result.matches.match_weight.argmin())
        left = result.ids[int(result.matches.left[k])]
        right = result.ids[int(result.matches.right[k])]
        wf = result.explain(str(left), str(right))
        shown = cells(wf._repr_html_())
        assert all(s.name in shown for s in wf.steps)
        assert f"{wf.match_weight:+.2f}" in shown
        assert repr(wf).endswith(f"probability {wf.probability:.4f})")

    def test_cluster_and_blocking(self, result: MatchResult) -> None:
        """Cluster and blocking displays list members and every rule's pair counts."""
        big = max(set(result.entity_ids), key=result.entity_ids.count)
        member = result.ids[result.entity_ids.index(big)]
        expl = result.explain_entity(str(member))
        assert str(expl.members[0]) in cells(expl._repr_html_())
        shown = cells(result.analysis._repr_html_())
        for rule, n in zip(result.analysis.rules, result.analysis.pairs_per_rule, strict=True):
            assert rule in shown
            assert f"{n:,}" in shown
        assert f"{result.analysis.union:,} candidate pairs" in repr(result.analysis)

    def test_scores(self, result: MatchResult) -> None:
        """Scores show precision, recall and F1 to four places."""
        s = cluster_scores(result.labels, result.entity_ids)
        shown = cells(s._repr_html_())
        assert f"{s.precision:.4f}" in shown
        assert f"{s.f1:.4f}" in shown


class TestGoldenAndWorkflows:
    def test_golden_record(self) -> None:
        """A golden record shows each value with the record and source it came from."""
        t0 = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
        golden = merge(
            [SourceRecord("r1", "crm", t0, {"email": "a@x.com", "city": "Oslo"}),
             SourceRecord("r2", "web", t0 + dt.timedelta(days=1), {"city": "Bergen"})],
            SurvivorshipRules(), entity_id="e1",
        )
        shown = cells(golden._repr_html_())
        for field, value in golden.values.items():
            lin = golden.lineage[field]
            assert field in shown
            assert str(value) in shown
            assert lin.record_id is None or lin.record_id in shown
        assert "Oslo" in repr(golden) or "Bergen" in repr(golden)  # full repr: values show

    def test_run_result(self) -> None:
        """A workflow run shows the rules that fired and each action's status."""
        from crmcore.conditions import eq
        from crmcore.workflows import Engine, Rule, create_task, on_created

        rule = Rule("chase", "deal", on_created(), (create_task("Chase {name}"),),
                    condition=eq("stage", "open"))
        engine = Engine([rule], handlers={"create_task": lambda r: None})
        run = engine.record_created({"id": "d1", "record_type": "deal", "name": "A",
                                     "stage": "open"})
        shown = cells(run._repr_html_())
        assert "chase" in shown
        assert run.actions[0].status in shown
