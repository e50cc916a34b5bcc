"""Charts plot the run's own numbers: each figure's data equals the result, model or analysis."""

from __future__ import annotations

import numpy as np
import pytest

from crmcore.display import charts
from crmcore.matching import MatchResult, cluster_pairs, cluster_scores


class TestCharts:
    def test_match_weights(self, result: MatchResult) -> None:
        """One bar per level with evidence; bar lengths are the model's weights, m and u."""
        fig = charts.match_weights_chart(result.model)
        weights, m, u = fig.data
        model = result.model
        expected = [float(w[li]) for ci, w in enumerate(model.weights())
                    for li in range(1, model.comparisons[ci].n_levels)]
        assert list(weights.x) == pytest.approx(expected)
        assert list(m.x) == pytest.approx([model.m[ci][li] for ci, c in
                                           enumerate(model.comparisons)
                                           for li in range(1, c.n_levels)])
        assert len(u.x) == len(expected)

    def test_waterfall(self, result: MatchResult) -> None:
        """The steps add up to the match weight, for a scored pair and a rule-decided one."""
        m = result.matches
        scored = int(np.flatnonzero(m.rule < 0)[0])
        ruled = int(np.flatnonzero(m.rule >= 0)[0])
        for k in (scored, ruled):
            wf = result.explain(str(result.ids[int(m.left[k])]), str(result.ids[int(m.right[k])]))
            (trace,) = charts.waterfall_chart(wf).data
            assert sum(trace.x[:-1]) == pytest.approx(wf.match_weight)
            assert trace.x[-1] == pytest.approx(wf.match_weight)
            assert (wf.rule is not None) == (k == ruled)

    def test_thresholds_without_labels(self, result: MatchResult) -> None:
        """Matched pairs and entities per threshold equal a direct count and the result's
        clustering at that threshold (vetoed pairs kept apart as in the run)."""
        rows = charts.threshold_figures(result, thresholds=(0.5, 0.95))
        for row in rows:
            t = row["threshold"]
            assert row["matched_pairs"] == int((result.pairs.probability >= t).sum())
            assert row["entities"] == len(set(result.labels_at(t).tolist()))
            plain = cluster_pairs(result.n_records, result.pairs, threshold=t,
                                  options=result.settings.cluster)
            assert row["entities"] >= len(set(plain.tolist()))  # cuts only split
        at_run = charts.threshold_figures(result, thresholds=(result.threshold,))[0]
        assert at_run["entities"] == result.n_entities
        fig = charts.threshold_chart(result)
        assert [t.name for t in fig.data] == ["matched pairs", "entities"]

    def test_thresholds_with_labels(self, result: MatchResult) -> None:
        """With labels, precision and recall are evaluate's scores of the result's clusters at
        each threshold (vetoed pairs kept apart, as in the run)."""
        truth = [e if i % 7 else None for i, e in enumerate(result.entity_ids)]
        rows = charts.threshold_figures(result, truth, thresholds=(0.5, 0.99))
        for row in rows:
            ref = cluster_scores(result.labels_at(row["threshold"]), truth)
            assert row["precision"] == pytest.approx(ref.precision)
            assert row["recall"] == pytest.approx(ref.recall)
        fig = charts.threshold_chart(result, truth)
        assert {"precision", "recall", "f1"} <= {t.name for t in fig.data}

    def test_blocking(self, result: MatchResult) -> None:
        """Cumulative pairs end at the union of the rules' pairs."""
        fig = charts.blocking_chart(result.analysis)
        cumulative = fig.data[2]
        assert cumulative.x[-1] == result.analysis.union == len(result.pairs)

    def test_cluster_sizes_and_graph(self, result: MatchResult) -> None:
        """Cluster sizes add up to the entities; the graph has every member and matched pair."""
        fig = charts.cluster_sizes_chart(result)
        assert sum(fig.data[0].y) == result.n_entities
        big = max(set(result.entity_ids), key=result.entity_ids.count)
        member = str(result.ids[result.entity_ids.index(big)])
        graph = charts.cluster_graph_chart(result, member)
        nodes = graph.data[-1]
        assert sorted(nodes.text) == sorted(
            str(i) for i, e in zip(result.ids, result.entity_ids, strict=True) if e == big
        )
        expl = result.explain_entity(member)
        assert len(graph.data) == 2 * len(expl.edges) + 1

    def test_term_frequency(self) -> None:
        """The most frequent values come first with their counts; empty cells are left out."""
        fig = charts.term_frequency_chart(["a", "b", "a", None, "", "a", "b", "c"], top=2)
        assert list(fig.data[0].y) == ["a", "b"]
        assert list(fig.data[0].x) == [3, 2]

    def test_em_trace(self, result: MatchResult) -> None:
        """The trace has every EM iteration of every session, and the last change is tiny."""
        report = result.model.report
        assert report is not None
        assert report.trace
        assert len(report.trace) == report.iterations
        fig = charts.em_trace_chart(result.model)
        points = sum(len(t.x) for t in fig.data)
        assert points == 2 * report.iterations
        if report.converged:
            last = {session: change for session, _, change, _ in report.trace}
            assert max(last.values()) < 1e-3
