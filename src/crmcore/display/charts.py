"""Charts of a matching run, drawn with plotly (``pip install 'crmcore[plot]'``).

Why plotly: one figure object shows interactively in Jupyter, VS Code and Colab, and writes to a
standalone HTML file with its JavaScript inlined (``include_plotlyjs=True``), so the same chart
works in a notebook and in the offline report (:func:`crmcore.display.write_report`) with no network
and no second rendering path; it needs no pandas. Every function returns a
``plotly.graph_objects.Figure``; ``fig.show()`` or leaving it last in a cell displays it.

Figures plot the result's own numbers (no resampling): the report's tests check they match.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np

from crmcore.errors import require

__all__ = [
    "THRESHOLDS",
    "blocking_chart",
    "cluster_graph_chart",
    "cluster_sizes_chart",
    "em_trace_chart",
    "match_weights_chart",
    "term_frequency_chart",
    "threshold_chart",
    "waterfall_chart",
]

#: Match probabilities the threshold chart evaluates.
THRESHOLDS: tuple[float, ...] = (
    0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 0.98, 0.99, 0.995, 0.999,
)

_POS, _NEG, _BLUE, _GREY = "#2da44e", "#cf222e", "#0969da", "#8c959f"


def _go() -> Any:
    return require("plotly.graph_objects", "plot", "charts")


def _layout(fig: Any, title: str, height: int = 380) -> Any:
    fig.update_layout(
        title=title, height=height, template="plotly_white",
        margin={"l": 10, "r": 10, "t": 50, "b": 40},
    )
    return fig


def match_weights_chart(model: Any) -> Any:
    """Match weight of every level of every comparison, with its m and u (hover and panel 2).

    Args:
        model: A :class:`~crmcore.matching.MatchModel`.
    """
    go = _go()
    subplots = require("plotly.subplots", "plot", "charts")
    weights = model.weights()
    labels: list[str] = []
    w: list[float] = []
    m: list[float] = []
    u: list[float] = []
    for ci, comp in enumerate(model.comparisons):
        for li in range(1, comp.n_levels):  # level 0: no evidence, weight 0 by definition
            labels.append(f"{comp.name}: {comp.labels[li]}")
            w.append(float(weights[ci][li]))
            m.append(float(model.m[ci][li]))
            u.append(float(model.u[ci][li]))
    fig = subplots.make_subplots(
        rows=1, cols=2, shared_yaxes=True, column_widths=[0.55, 0.45],
        subplot_titles=("match weight (bits)", "m and u"),
    )
    fig.add_trace(go.Bar(
        x=w, y=labels, orientation="h", name="weight",
        marker_color=[_POS if v >= 0 else _NEG for v in w],
        customdata=np.column_stack([m, u]) if labels else None,
        hovertemplate="%{y}<br>weight %{x:+.2f}<br>m %{customdata[0]:.4f}"
                      "<br>u %{customdata[1]:.6f}<extra></extra>",
    ), row=1, col=1)
    fig.add_trace(go.Bar(x=m, y=labels, orientation="h", name="m", marker_color=_BLUE),
                  row=1, col=2)
    fig.add_trace(go.Bar(x=u, y=labels, orientation="h", name="u", marker_color=_GREY),
                  row=1, col=2)
    fig.update_yaxes(autorange="reversed")
    fig.update_layout(barmode="group")
    return _layout(fig, f"Match weights (prior {model.prior_weight:+.2f} bits)",
                   height=max(300, 26 * len(labels) + 120))


def waterfall_chart(waterfall: Any) -> Any:
    """One pair's waterfall: the prior, each comparison's weight (with TF), the total.

    Args:
        waterfall: A :class:`~crmcore.matching.Waterfall`.
    """
    go = _go()
    names = [f"{s.name}: {s.level}" for s in waterfall.steps]
    values = [s.weight + s.tf_adjustment for s in waterfall.steps]
    text = [
        "" if s.name == "prior" else f"{s.left_value!s} | {s.right_value!s}"
        for s in waterfall.steps
    ]
    if waterfall.rule:  # a deterministic rule set the weight: show what it added
        names.append(f"rule: {waterfall.rule}")
        values.append(waterfall.match_weight - sum(values))
        text.append("decided by a match rule")
    names.append("total")
    values.append(waterfall.match_weight)
    text.append(f"p = {waterfall.probability:.4f}")
    fig = go.Figure(go.Waterfall(
        orientation="h", y=names, x=values,
        measure=["relative"] * (len(values) - 1) + ["total"],
        hovertext=text, hovertemplate="%{y}<br>%{x:+.2f} bits<br>%{hovertext}<extra></extra>",
        increasing={"marker": {"color": _POS}}, decreasing={"marker": {"color": _NEG}},
        totals={"marker": {"color": _BLUE}},
    ))
    fig.update_yaxes(autorange="reversed")
    fig.update_xaxes(title="match weight (bits)")
    title = (f"Rows {waterfall.left} and {waterfall.right}: "
             f"{waterfall.match_weight:+.2f} bits, p = {waterfall.probability:.4f}")
    return _layout(fig, title, height=max(260, 30 * len(names) + 110))


def threshold_figures(
    result: Any, truth: Sequence[str | None] | None = None,
    thresholds: Sequence[float] = THRESHOLDS,
) -> list[dict[str, float]]:
    """The numbers :func:`threshold_chart` plots: per threshold, matched pairs and entities,
    and (with ``truth``) cluster precision, recall and F1, clustered as the result was."""
    from crmcore.matching import cluster_scores

    rows = []
    for t in thresholds:
        labels = result.labels_at(t)
        row = {
            "threshold": float(t),
            "matched_pairs": float(int((result.pairs.probability >= t).sum())),
            "entities": float(len(np.unique(labels))),
        }
        if truth is not None:
            s = cluster_scores(labels, truth)
            row.update(precision=s.precision, recall=s.recall, f1=s.f1)
        rows.append(row)
    return rows


def threshold_chart(
    result: Any, truth: Sequence[str | None] | None = None,
    thresholds: Sequence[float] = THRESHOLDS,
) -> Any:
    """Matched pairs and entities by threshold; with ``truth`` also precision, recall, F1.

    Args:
        result: A :class:`~crmcore.matching.MatchResult`.
        truth: True entity per row, when labels are known (else the chart shows counts only).
        thresholds: Match probabilities to evaluate.
    """
    go = _go()
    subplots = require("plotly.subplots", "plot", "charts")
    rows = threshold_figures(result, truth, thresholds)
    xs = [str(r["threshold"]) for r in rows]
    labelled = truth is not None
    fig = subplots.make_subplots(
        rows=2 if labelled else 1, cols=1, shared_xaxes=True,
        subplot_titles=(("precision / recall by threshold (clusters)",) if labelled else ())
        + ("matched pairs and entities by threshold",),
        specs=([[{}]] if labelled else []) + [[{"secondary_y": True}]],
    )
    last = 2 if labelled else 1
    if labelled:
        for key, color in (("precision", _BLUE), ("recall", _POS), ("f1", "#8250df")):
            fig.add_trace(go.Scatter(x=xs, y=[r[key] for r in rows], name=key,
                                     mode="lines+markers", line={"color": color}), row=1, col=1)
    fig.add_trace(go.Bar(x=xs, y=[r["matched_pairs"] for r in rows], name="matched pairs",
                         marker_color=_GREY), row=last, col=1, secondary_y=False)
    fig.add_trace(go.Scatter(x=xs, y=[r["entities"] for r in rows], name="entities",
                             mode="lines+markers", line={"color": _NEG}),
                  row=last, col=1, secondary_y=True)
    chosen = str(float(result.threshold))
    if chosen in xs:
        fig.add_vline(x=xs.index(chosen), line_dash="dot", line_color=_GREY)
    fig.update_xaxes(title="match probability threshold", type="category", row=last, col=1)
    return _layout(fig, f"Threshold choice (this run: {result.threshold:g})",
                   height=560 if labelled else 360)


def blocking_chart(analysis: Any) -> Any:
    """Pairs each blocking rule finds, the new pairs it adds and the cumulative count.

    Args:
        analysis: A :class:`~crmcore.matching.BlockingAnalysis` (``result.analysis``).
    """
    go = _go()
    rules = list(analysis.rules)
    cumulative = np.cumsum(np.asarray(analysis.new_pairs_per_rule, dtype=np.int64)).tolist()
    fig = go.Figure()
    fig.add_trace(go.Bar(y=rules, x=list(analysis.pairs_per_rule), name="pairs of the rule",
                         orientation="h", marker_color=_GREY))
    fig.add_trace(go.Bar(y=rules, x=list(analysis.new_pairs_per_rule), name="new pairs",
                         orientation="h", marker_color=_BLUE))
    fig.add_trace(go.Scatter(y=rules, x=cumulative, name="cumulative pairs",
                             mode="lines+markers", line={"color": _NEG}))
    fig.update_layout(barmode="group", legend={"orientation": "h", "y": -0.15})
    fig.update_yaxes(autorange="reversed")
    fig.update_xaxes(title="pairs")
    return _layout(fig, f"Blocking rules in order: {analysis.union:,} candidate pairs "
                        f"(reduction ratio {analysis.reduction_ratio:.6f})",
                   height=max(300, 40 * len(rules) + 150))


def cluster_sizes_chart(result: Any) -> Any:
    """How many clusters have each size (log scale).

    Args:
        result: A :class:`~crmcore.matching.MatchResult`.
    """
    from crmcore.display._html import cluster_size_counts

    go = _go()
    counts = cluster_size_counts(result.labels)
    fig = go.Figure(go.Bar(x=[str(s) for s, _ in counts], y=[c for _, c in counts],
                           marker_color=_BLUE,
                           hovertemplate="size %{x}: %{y} clusters<extra></extra>"))
    fig.update_xaxes(title="cluster size (records)", type="category")
    fig.update_yaxes(title="clusters", type="log")
    return _layout(fig, f"Cluster sizes: {result.n_entities:,} entities "
                        f"of {result.n_records:,} records")


def cluster_graph_chart(result: Any, record_id: str) -> Any:
    """The cluster of a record as a graph: matched pairs as edges, the weakest link of its
    spanning tree (where the cluster would split first) in red.

    Args:
        result: A :class:`~crmcore.matching.MatchResult`.
        record_id: Id of any record of the cluster.
    """
    go = _go()
    explanation = result.explain_entity(record_id)
    members = list(explanation.members)
    angle = np.linspace(0, 2 * np.pi, len(members), endpoint=False)
    pos = {m: (float(np.cos(a)), float(np.sin(a))) for m, a in zip(members, angle, strict=True)}
    pairs = result.pairs
    weakest = explanation.spanning_tree[0] if explanation.spanning_tree else -1
    tree = set(explanation.spanning_tree)
    fig = go.Figure()
    for k in explanation.edges:
        a, b = int(pairs.left[k]), int(pairs.right[k])
        color = _NEG if k == weakest else (_BLUE if k in tree else _GREY)
        w = float(pairs.match_weight[k])
        fig.add_trace(go.Scatter(
            x=[pos[a][0], pos[b][0]], y=[pos[a][1], pos[b][1]], mode="lines",
            line={"color": color, "width": 4 if k == weakest else 2}, showlegend=False,
            hovertemplate=f"{result.ids[a]} -- {result.ids[b]}<br>weight {w:+.2f}<extra></extra>",
        ))
        fig.add_trace(go.Scatter(
            x=[(pos[a][0] + pos[b][0]) / 2], y=[(pos[a][1] + pos[b][1]) / 2], mode="text",
            text=[f"{w:+.1f}"], showlegend=False, hoverinfo="skip",
            textfont={"color": color},
        ))
    fig.add_trace(go.Scatter(
        x=[pos[m][0] for m in members], y=[pos[m][1] for m in members], mode="markers+text",
        text=[str(result.ids[m]) for m in members], textposition="top center",
        marker={"size": 16, "color": _BLUE}, showlegend=False,
        hovertemplate="%{text}<extra></extra>",
    ))
    fig.update_xaxes(visible=False, range=[-1.5, 1.5])
    fig.update_yaxes(visible=False, range=[-1.4, 1.4], scaleanchor="x")
    return _layout(fig, f"Cluster of {record_id}: {len(members)} records, "
                        f"{len(explanation.edges)} matched pairs, density "
                        f"{explanation.density:.2f} (red: weakest link)", height=420)


def term_frequency_chart(values: Sequence[str | None], *, top: int = 20, name: str = "") -> Any:
    """The most frequent values of a column and their share of the non-empty cells.

    Args:
        values: The column's cells (e.g. ``table.column("last_name")``).
        top: How many values to show.
        name: Column name for the title.
    """
    go = _go()
    counts = Counter(v for v in values if v is not None and v != "")
    total = sum(counts.values())
    common = counts.most_common(top)
    fig = go.Figure(go.Bar(
        x=[c for _, c in common], y=[str(v) for v, _ in common], orientation="h",
        marker_color=_BLUE, customdata=[c / total for _, c in common],
        hovertemplate="%{y}: %{x} (%{customdata:.2%})<extra></extra>",
    ))
    fig.update_yaxes(autorange="reversed")
    fig.update_xaxes(title="records")
    return _layout(fig, f"Most frequent values{' of ' + name if name else ''}: "
                        f"{len(counts):,} distinct in {total:,} non-empty cells",
                   height=max(260, 22 * len(common) + 110))


def em_trace_chart(model: Any) -> Any:
    """EM convergence: the largest parameter change and the match rate at every iteration of
    every EM session (one session per exact blocking rule).

    Args:
        model: A trained :class:`~crmcore.matching.MatchModel` (its ``report.trace``).
    """
    go = _go()
    subplots = require("plotly.subplots", "plot", "charts")
    report = model.report
    trace = list(report.trace) if report is not None else []
    fig = subplots.make_subplots(
        rows=1, cols=2, subplot_titles=("largest parameter change", "match rate in the session"),
    )
    palette = [_BLUE, _NEG, _POS, "#8250df", "#bf8700", _GREY]
    for session in sorted({row[0] for row in trace}):
        rows = [row for row in trace if row[0] == session]
        color = palette[session % len(palette)]
        xs = [row[1] for row in rows]
        fig.add_trace(go.Scatter(x=xs, y=[row[2] for row in rows], name=f"session {session}",
                                 mode="lines+markers", line={"color": color},
                                 legendgroup=str(session)), row=1, col=1)
        fig.add_trace(go.Scatter(x=xs, y=[row[3] for row in rows], name=f"session {session}",
                                 mode="lines+markers", line={"color": color},
                                 legendgroup=str(session), showlegend=False), row=1, col=2)
    fig.update_yaxes(type="log", row=1, col=1)
    fig.update_xaxes(title="EM iteration")
    status = ("not trained here (no trace)" if not trace or report is None else
              f"{report.iterations} iterations in all, "
              f"{'converged' if report.converged else 'NOT converged'}")
    return _layout(fig, f"EM convergence: {status}")
