"""HTML and short text renderings of crmcore's results, for notebooks and reports.

Every function takes the object it renders and returns a string; nothing here imports the
packages whose objects it renders (they call in, through small ``_repr_html_`` methods), so the
display sits below matching, survivorship and workflows and can be used by all of them.
Plain HTML and inline CSS only: the output shows the same in Jupyter, VS Code, GitHub's notebook
viewer and a static report, with no script.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

CSS = """
.crmcore {font-family: -apple-system, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif;
  font-size: 13px; color: #1f2328; max-width: 100%; overflow-x: auto;}
.crmcore h3 {font-size: 15px; margin: 4px 0 6px 0;}
.crmcore h4 {font-size: 13px; margin: 10px 0 4px 0;}
.crmcore table {border-collapse: collapse; margin: 2px 0 8px 0;}
.crmcore th, .crmcore td {border-bottom: 1px solid #d0d7de; padding: 2px 8px; text-align: left;
  vertical-align: top; white-space: nowrap;}
.crmcore td.num, .crmcore th.num {text-align: right; font-variant-numeric: tabular-nums;}
.crmcore th {background: #f6f8fa;}
.crmcore .none {color: #8c959f; font-style: italic;}
.crmcore .caption {color: #57606a; margin: 2px 0 6px 0;}
.crmcore .bar {display: inline-block; height: 10px; vertical-align: middle;}
.crmcore .pos {background: #2da44e;}
.crmcore .neg {background: #cf222e;}
.crmcore .neutral {background: #0969da;}
.crmcore .bad {color: #cf222e;}
"""

#: Rows shown of a long table (head and tail).
MAX_ROWS = 10


def esc(value: object) -> str:
    """HTML-escaped text of a value (``None`` shown as a grey *none*)."""
    if value is None:
        return '<span class="none">none</span>'
    if isinstance(value, float):
        return html.escape(f"{value:.6g}")
    return html.escape(str(value))


def wrap(body: str, title: str | None = None) -> str:
    """Wrap HTML in the crmcore block with its style (one ``<style>`` per block, scoped)."""
    head = f"<h3>{html.escape(title)}</h3>" if title else ""
    return f'<div class="crmcore"><style>{CSS}</style>{head}{body}</div>'


def caption(text: str) -> str:
    """A grey line of text."""
    return f'<div class="caption">{html.escape(text)}</div>'


def _is_num(value: object) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


def rows_html(
    header: Sequence[str], rows: Sequence[Sequence[object]], *, raw: Sequence[int] = ()
) -> str:
    """An HTML table; numbers are right-aligned, columns in ``raw`` are inserted unescaped."""
    num = [bool(rows) and all(_is_num(r[i]) for r in rows) for i in range(len(header))]
    th = "".join(
        f'<th class="num">{esc(h)}</th>' if num[i] else f"<th>{esc(h)}</th>"
        for i, h in enumerate(header)
    )
    body = []
    for r in rows:
        cells = []
        for i, v in enumerate(r):
            text = str(v) if i in raw else esc(f"{v:,}" if isinstance(v, (int, np.integer))
                                               and not isinstance(v, bool) else v)
            cells.append(f'<td class="num">{text}</td>' if num[i] else f"<td>{text}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{th}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def bar(value: float, scale: float, *, width: int = 120, kind: str | None = None) -> str:
    """A horizontal CSS bar of ``|value| / scale`` of ``width`` pixels."""
    px = 0 if scale <= 0 else round(min(abs(value) / scale, 1.0) * width)
    cls = kind or ("pos" if value >= 0 else "neg")
    return f'<span class="bar {cls}" style="width:{px}px"></span>'


# -- tables -----------------------------------------------------------------------------------
def table_text(columns: Mapping[str, Sequence[object]], n_rows: int, name: str = "Table") -> str:
    """A one-line description: rows, columns and their names."""
    names = list(columns)
    shown = ", ".join(names[:8]) + (", ..." if len(names) > 8 else "")
    return f"{name}({n_rows:,} rows x {len(names)} columns: {shown})"


def table_html(
    columns: Mapping[str, Sequence[object]],
    n_rows: int,
    *,
    title: str | None = None,
    max_rows: int = MAX_ROWS,
) -> str:
    """The first and last rows of a columnar table, with its size."""
    names = list(columns)
    if n_rows <= max_rows:
        shown = list(range(n_rows))
    else:
        half = max_rows // 2
        shown = [*range(half), -1, *range(n_rows - half, n_rows)]
    rows: list[list[object]] = []
    for i in shown:
        if i < 0:
            rows.append(["...", *("" for _ in names)])
        else:
            rows.append([i, *(columns[c][i] for c in names)])
    body = rows_html(["", *names], rows)
    return wrap(caption(f"{n_rows:,} rows x {len(names)} columns") + body, title)


# -- matching ---------------------------------------------------------------------------------
def cluster_size_counts(labels: Any) -> list[tuple[int, int]]:
    """``(cluster size, number of clusters of that size)`` for every size present."""
    labels = np.asarray(labels, dtype=np.int64)
    if not len(labels):
        return []
    sizes = np.bincount(labels)
    sizes = sizes[sizes > 0]
    counts = np.bincount(sizes)
    return [(int(s), int(counts[s])) for s in np.flatnonzero(counts)]


def result_text(result: Any) -> str:
    """One line: records, entities, matched pairs, threshold."""
    return (
        f"MatchResult({result.n_records:,} records -> {result.n_entities:,} entities, "
        f"{len(result.matches):,} matched pairs of {len(result.pairs):,} candidates "
        f"at threshold {result.threshold:g})"
    )


def result_html(result: Any, *, sample: int = 5) -> str:
    """Summary figures, the cluster-size histogram and a sample of matched pairs."""
    unused = sum(1 for n in result.notes if n)
    facts = [
        ["records", result.n_records],
        ["entities", result.n_entities],
        ["duplicate rate", f"{result.duplicate_rate:.1%}"],
        ["candidate pairs", len(result.pairs)],
        ["reduction ratio", f"{result.analysis.reduction_ratio:.6f}"],
        ["matched pairs", len(result.matches)],
        ["threshold (probability)", f"{result.threshold:g}"],
        ["rows not usable (own entity)", unused],
        ["time", " ".join(f"{k} {v:.2f}s" for k, v in result.timings.items())],
    ]
    body = rows_html(["", ""], facts)
    sizes = cluster_size_counts(result.labels)
    top = max((c for _, c in sizes), default=1)
    hist = rows_html(
        ["cluster size", "clusters", ""],
        [[s, c, bar(np.log1p(c), np.log1p(top), kind="neutral")] for s, c in sizes],
        raw=(2,),
    )
    body += "<h4>Cluster sizes</h4>" + hist
    pairs = result.matches
    if len(pairs):
        order = np.argsort(pairs.match_weight, kind="stable")
        pick = sorted({*order[:sample].tolist(), *order[-sample:].tolist()})
        body += "<h4>Matched pairs: the weakest and the strongest</h4>" + pairs_html(
            pairs.select(np.asarray(pick, dtype=np.int64)), result.model, result.ids
        )
    return wrap(body, "Match result")


def pairs_html(pairs: Any, model: Any, ids: Sequence[str | None]) -> str:
    """Scored pairs with ids, weight, probability and the level of every comparison."""
    rows = []
    for k in range(len(pairs)):
        levels = [
            comp.labels[int(pairs.levels[k, ci])] for ci, comp in enumerate(model.comparisons)
        ]
        rule = model.rules[int(pairs.rule[k])].name if int(pairs.rule[k]) >= 0 else ""
        rows.append([
            ids[int(pairs.left[k])], ids[int(pairs.right[k])],
            round(float(pairs.match_weight[k]), 2), f"{float(pairs.probability[k]):.4f}",
            *levels, rule,
        ])
    header = ["left", "right", "weight", "probability",
              *(c.name for c in model.comparisons), "rule"]
    return rows_html(header, rows)


def model_text(model: Any) -> str:
    """One line: comparisons, levels, prior, rules."""
    levels = sum(c.n_levels for c in model.comparisons)
    return (
        f"MatchModel({len(model.comparisons)} comparisons, {levels} levels, "
        f"prior {model.prior:.3g}, {len(model.rules)} rules)"
    )


def model_html(model: Any) -> str:
    """m, u and match weight of every level, with bars, the training report and the rules."""
    weights = model.weights()
    scale = max((abs(float(w)) for ws in weights for w in ws), default=1.0) or 1.0
    rows = []
    for ci, comp in enumerate(model.comparisons):
        for li, label in enumerate(comp.labels):
            w = float(weights[ci][li])
            rows.append([
                comp.name if li == 0 else "", label,
                f"{model.m[ci][li]:.4f}" if li else "",
                f"{model.u[ci][li]:.6f}" if li else "",
                f"{w:+.2f}" if li else "no evidence", bar(w, scale),
                "yes" if (ci, li) in model.tf else "",
            ])
    body = caption(
        f"prior {model.prior:.6g} (weight {model.prior_weight:+.2f} bits); "
        f"{len(model.comparisons)} comparisons"
    )
    report = model.report
    if report is not None:
        body += caption(
            f"trained by EM on {report.patterns:,} distinct patterns of "
            f"{report.candidate_pairs:,} candidate pairs: {report.iterations} iterations, "
            f"{'converged' if report.converged else 'NOT converged'}; u from "
            f"{report.u_sample_pairs:,} random pairs"
        )
    body += rows_html(["comparison", "level", "m", "u", "weight", "", "TF"], rows, raw=(5,))
    if model.rules:
        body += "<h4>Rules</h4>" + rows_html(
            ["rule", "when", "outcome"],
            [[r.name, ", ".join(f"{k} in {list(v)}" for k, v in r.when.items()), r.outcome]
             for r in model.rules],
        )
    return wrap(body, "Match model")


def waterfall_text(waterfall: Any) -> str:
    """One line: rows, total weight, probability."""
    return (
        f"Waterfall(rows {waterfall.left} and {waterfall.right}: weight "
        f"{waterfall.match_weight:+.2f}, probability {waterfall.probability:.4f})"
    )


def waterfall_html(waterfall: Any) -> str:
    """Each step's level, values and weight, the running total, the probability."""
    steps = waterfall.steps
    scale = max((abs(s.weight + s.tf_adjustment) for s in steps), default=1.0) or 1.0
    rows = []
    running = 0.0
    for s in steps:
        w = s.weight + s.tf_adjustment
        running += w
        rows.append([
            s.name, s.level,
            "" if s.name == "prior" else s.left_value,
            "" if s.name == "prior" else s.right_value,
            f"{w:+.2f}", f"{s.tf_adjustment:+.2f}" if s.tf_adjustment else "",
            bar(w, scale), f"{running:+.2f}",
        ])
    body = rows_html(
        ["comparison", "level", "left", "right", "weight", "TF", "", "running"], rows, raw=(6,)
    )
    body += caption(
        f"total {waterfall.match_weight:+.2f} bits, probability {waterfall.probability:.6f}"
        + (f"; decided by rule {waterfall.rule!r}" if waterfall.rule else "")
    )
    return wrap(body, f"Why rows {waterfall.left} and {waterfall.right} scored as they did")


def cluster_html(
    explanation: Any,
    pairs: Any = None,
    ids: Sequence[str | None] | None = None,
    values: Mapping[str, Sequence[object]] | None = None,
) -> str:
    """Members (with ``values``: column -> value per member), density and the links of the
    spanning tree, weakest first."""
    def name(i: int) -> object:
        return ids[i] if ids is not None else i

    body = caption(
        f"{len(explanation.members)} records, {len(explanation.edges)} matched pairs, "
        f"density {explanation.density:.2f}"
    )
    cols = dict(values or {})
    body += "<h4>Members</h4>" + rows_html(
        ["row", "id", *cols],
        [[m, name(m), *(cols[c][k] for c in cols)] for k, m in enumerate(explanation.members)],
    )
    if pairs is not None and explanation.spanning_tree:
        body += "<h4>Links holding it together, weakest first</h4>" + rows_html(
            ["left", "right", "weight", "probability"],
            [[name(int(pairs.left[k])), name(int(pairs.right[k])),
              round(float(pairs.match_weight[k]), 2), f"{float(pairs.probability[k]):.4f}"]
             for k in explanation.spanning_tree],
        )
    elif explanation.spanning_tree:
        body += caption(f"spanning-tree pair indexes, weakest first: {explanation.spanning_tree}")
    return wrap(body, "Cluster")


def blocking_text(analysis: Any) -> str:
    """One line: rules, candidate pairs, reduction ratio."""
    return (
        f"BlockingAnalysis({len(analysis.rules)} rules, {analysis.union:,} candidate pairs of "
        f"{analysis.total_pairs:,}, reduction ratio {analysis.reduction_ratio:.6f})"
    )


def blocking_html(analysis: Any) -> str:
    """Pairs per rule, new pairs each rule adds, the running total and skipped rules."""
    running = 0
    rows = []
    top = max(analysis.pairs_per_rule, default=1) or 1
    for rule, pairs, new in zip(
        analysis.rules, analysis.pairs_per_rule, analysis.new_pairs_per_rule, strict=True
    ):
        running += new
        skipped = "skipped" if rule in analysis.skipped else ""
        rows.append([rule, pairs, new, running, bar(pairs, top, kind="neutral"), skipped])
    body = rows_html(
        ["rule", "pairs", "new pairs", "cumulative", "", ""], rows, raw=(4,)
    )
    body += caption(
        f"{analysis.union:,} candidate pairs of {analysis.total_pairs:,} possible "
        f"(reduction ratio {analysis.reduction_ratio:.6f})"
    )
    return wrap(body, "Blocking")


def scores_html(scores: Any) -> str:
    """Precision, recall, F1 and the counts behind them."""
    rows = [
        ["precision", f"{scores.precision:.4f}"],
        ["recall", f"{scores.recall:.4f}"],
        ["F1", f"{scores.f1:.4f}"],
        ["true positives", scores.true_positives],
        ["predicted", scores.predicted],
        ["actual", scores.actual],
    ]
    return wrap(rows_html(["", ""], rows), "Scores")


def golden_html(record: Any) -> str:
    """Every field's winning value with its lineage: source record, system, policy, losers."""
    rows = []
    for field, value in record.values.items():
        lin = record.lineage.get(field)
        if lin is None:
            rows.append([field, value, "", "", "", "", ""])
            continue
        losers = [c.value for c in lin.candidates if c.value != lin.value]
        rows.append([
            field, value, lin.record_id, lin.source_system, lin.policy,
            "; ".join(str(v) for v in losers[:5]) + (" ..." if len(losers) > 5 else ""),
            "conflict" if lin.conflict else "",
        ])
    body = caption(f"entity {record.entity_id}; records {', '.join(record.record_ids)}")
    body += rows_html(
        ["field", "value", "from record", "source", "policy", "other values", ""], rows
    )
    return wrap(body, "Golden record")


def run_html(run: Any) -> str:
    """Rules fired, actions with their status, updates and errors of a workflow run."""
    body = caption(
        "duplicate event: ignored" if run.duplicate
        else f"rules fired: {', '.join(run.fired()) or 'none'}"
    )
    if run.actions:
        body += "<h4>Actions</h4>" + rows_html(
            ["rule", "action", "record", "status"],
            [[a.rule, a.type, a.request.record_id, a.status] for a in run.actions],
        )
    if run.updates:
        body += "<h4>Updates</h4>" + rows_html(
            ["record", "field", "value"],
            [[rid, f, v] for rid, fields in run.updates.items() for f, v in fields.items()],
        )
    if run.errors:
        body += "<h4>Errors</h4>" + rows_html(["error"], [[str(e)] for e in run.errors])
    return wrap(body, "Workflow run")
