"""A self-contained HTML report of a matching run: one file, opens with no network.

:func:`write_report` (also ``result.report(path)`` and ``crmcore dedupe ... --report FILE``)
writes the summary, the charts of :mod:`crmcore.display.charts` (plotly's JavaScript inlined
once), the model, samples of pairs for every common comparison pattern with their waterfalls,
the largest and the weakest clusters, and the rows that carry notes. The headline figures are
also embedded as JSON (``<script id="crmcore-figures" type="application/json">``) so tools and
tests can read exactly what the page shows.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from crmcore.display import charts
from crmcore.display._html import (
    blocking_html,
    caption,
    cluster_html,
    cluster_size_counts,
    model_html,
    pairs_html,
    result_html,
    rows_html,
    waterfall_html,
    wrap,
)
from crmcore.errors import require
from crmcore.io import atomic_output

#: Patterns shown, pairs sampled per pattern, clusters shown per list, note rows shown.
PATTERNS, PER_PATTERN, CLUSTERS, NOTES = 12, 3, 5, 50

_PAGE_CSS = """
body {margin: 0; background: #f6f8fa;}
main {max-width: 1200px; margin: 0 auto; padding: 16px 24px; background: #fff;}
h1 {font-family: -apple-system, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif; font-size: 22px;}
h2 {font-family: -apple-system, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif; font-size: 18px;
    border-bottom: 1px solid #d0d7de; padding-bottom: 4px; margin-top: 28px;}
nav a {margin-right: 12px; font-family: sans-serif; font-size: 13px;}
.chart {min-height: 260px; margin: 8px 0 16px 0;}
"""


def report_figures(result: Any) -> dict[str, Any]:
    """The headline figures the report shows (and embeds as JSON)."""
    return {
        "records": result.n_records,
        "entities": result.n_entities,
        "duplicate_rate": result.duplicate_rate,
        "candidate_pairs": len(result.pairs),
        "matched_pairs": len(result.matches),
        "threshold": result.threshold,
        "rows_with_notes": sum(1 for n in result.notes if n),
        "cluster_sizes": {str(s): c for s, c in cluster_size_counts(result.labels)},
    }


def _chart(fig: Any, name: str) -> str:
    body = fig.to_html(full_html=False, include_plotlyjs=False, div_id=f"chart-{name}",
                       config={"displaylogo": False, "responsive": True})
    return f'<div class="chart" data-chart="{name}">{body}</div>'


def _patterns(result: Any) -> str:
    from crmcore.matching import explain_pair

    pairs = result.pairs
    if not len(pairs):
        return caption("no candidate pairs")
    distinct, inverse, counts = np.unique(
        pairs.levels, axis=0, return_inverse=True, return_counts=True
    )
    inverse = inverse.reshape(-1)
    order = np.argsort(-counts, kind="stable")[:PATTERNS]
    out = [caption(
        f"{len(distinct):,} distinct comparison patterns among {len(pairs):,} candidate pairs; "
        f"the {len(order)} most common, with {PER_PATTERN} pairs of each and their waterfalls"
    )]
    rng = np.random.default_rng(0)
    for p in order.tolist():
        members = np.flatnonzero(inverse == p)
        pick = np.sort(rng.choice(members, size=min(PER_PATTERN, len(members)), replace=False))
        label = ", ".join(
            f"{comp.name}: {comp.labels[int(distinct[p, ci])]}"
            for ci, comp in enumerate(result.model.comparisons)
        )
        matched = int((pairs.probability[members] >= result.threshold).sum())
        out.append(f"<h3>{html.escape(label)}</h3>")
        out.append(caption(f"{int(counts[p]):,} pairs, {matched:,} matched"))
        out.append(pairs_html(pairs.select(pick), result.model, result.ids))
        for k in pick.tolist():
            wf = explain_pair(result.model, result.frame, int(pairs.left[k]),
                              int(pairs.right[k]))
            out.append(f"<details><summary>waterfall of {html.escape(str(result.ids[wf.left]))}"
                       f" and {html.escape(str(result.ids[wf.right]))}</summary>"
                       f"{waterfall_html(wf)}</details>")
    return "".join(out)


def _clusters(result: Any) -> tuple[str, list[Any]]:
    """The largest and the weakest clusters, and the figures of one of each for graphs."""
    from crmcore.matching import explain_cluster

    labels = result.labels
    sizes = np.bincount(labels, minlength=len(labels))
    multi = np.flatnonzero(sizes > 1)
    if not len(multi):
        return caption("every record is its own entity"), []
    largest = multi[np.argsort(-sizes[multi], kind="stable")][:CLUSTERS]
    # weakest: among the clusters whose lowest matched pair is lowest, the weakest spanning link
    m = result.matches
    inside = labels[m.left] == labels[m.right]
    low = np.full(len(labels), np.inf)
    np.minimum.at(low, labels[m.left[inside]], m.match_weight[inside])
    candidates = multi[np.argsort(low[multi], kind="stable")][: 4 * CLUSTERS]
    explained = {
        int(c): explain_cluster(result.pairs, labels, int(c), threshold=result.threshold)
        for c in {*largest.tolist(), *candidates.tolist()}
    }

    def weakest_link(c: int) -> float:
        tree = explained[c].spanning_tree
        return float(result.pairs.match_weight[tree[0]]) if tree else np.inf

    weakest = sorted(candidates.tolist(), key=weakest_link)[:CLUSTERS]
    def show(c: int) -> str:
        members = np.asarray(explained[c].members, dtype=np.int64)
        values = {comp.name: result.frame.values(comp.missing[0], members)
                  for comp in result.model.comparisons}
        return cluster_html(explained[c], result.pairs, result.ids, values)

    out = ["<h3>Largest clusters</h3>"]
    out += [show(int(c)) for c in largest]
    out.append("<h3>Weakest clusters (lowest link that holds them together)</h3>")
    out += [show(int(c)) for c in weakest]
    figs = [charts.cluster_graph_chart(result, str(result.ids[int(largest[0])]))]
    if weakest and int(weakest[0]) != int(largest[0]):
        figs.append(charts.cluster_graph_chart(result, str(result.ids[int(weakest[0])])))
    return "".join(out), figs


def _notes(result: Any) -> str:
    rows = [[result.ids[i], n] for i, n in enumerate(result.notes) if n]
    if not rows:
        return caption("every row was usable for matching")
    shown = f"; the first {NOTES} shown" if len(rows) > NOTES else ""
    head = caption(
        f"{len(rows):,} rows could not be used for matching (each is its own entity){shown}"
    )
    return head + rows_html(["id", "note"], rows[:NOTES])


def report_html(
    result: Any, *, title: str = "crmcore matching report",
    truth: Sequence[str | None] | None = None,
) -> str:
    """The report as one HTML string (see :func:`write_report`)."""
    plotly = require("plotly.offline", "plot", "the HTML report")
    figures = report_figures(result)
    cluster_body, graphs = _clusters(result)
    sections: list[tuple[str, str, str]] = [
        ("summary", "Summary", result_html(result)),
        ("charts", "Charts", "".join([
            _chart(charts.cluster_sizes_chart(result), "cluster-sizes"),
            _chart(charts.threshold_chart(result, truth), "thresholds"),
            _chart(charts.blocking_chart(result.analysis), "blocking"),
            _chart(charts.match_weights_chart(result.model), "match-weights"),
            _chart(charts.em_trace_chart(result.model), "em-trace"),
        ])),
        ("model", "Model", model_html(result.model)),
        ("blocking", "Blocking", blocking_html(result.analysis)),
        ("patterns", "Pairs by comparison pattern", wrap(_patterns(result))),
        ("clusters", "Clusters", wrap(cluster_body) + "".join(
            _chart(fig, f"cluster-graph-{k}") for k, fig in enumerate(graphs)
        )),
        ("notes", "Rows with notes", wrap(_notes(result))),
    ]
    nav = "".join(f'<a href="#{key}">{html.escape(name)}</a>' for key, name, _ in sections)
    body = "".join(
        f'<section id="{key}"><h2>{html.escape(name)}</h2>{content}</section>'
        for key, name, content in sections
    )
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    data = json.dumps(figures).replace("</", "<\\/")
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>{html.escape(title)}</title><style>{_PAGE_CSS}</style>"
        f"<script>{plotly.get_plotlyjs()}</script></head><body><main>"
        f"<h1>{html.escape(title)}</h1>{caption('written ' + stamp)}<nav>{nav}</nav>{body}"
        f'<script id="crmcore-figures" type="application/json">{data}</script>'
        "</main></body></html>\n"
    )


def write_report(
    result: Any, path: str | os.PathLike[str], *, title: str = "crmcore matching report",
    truth: Sequence[str | None] | None = None,
) -> Path:
    """Write the report of a matching run to one HTML file (whole or not at all).

    Args:
        result: A :class:`~crmcore.matching.MatchResult`.
        path: The HTML file to write (its folder is created; an existing file is replaced only
            once the new one is complete, by :func:`crmcore.io.atomic_output`).
        title: The page title.
        truth: True entity per row, when known: the threshold chart then shows precision and
            recall.

    Returns:
        The path written.
    """
    target = Path(path)
    text = report_html(result, title=title, truth=truth)
    with atomic_output(target) as out:
        out.write(text)
    return target
