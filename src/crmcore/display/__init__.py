"""Results you can look at: notebook displays, charts, a self-contained HTML report, progress.

Tables, match results, models, waterfalls, cluster explanations, blocking analyses, scores,
golden records and workflow runs show as HTML in a notebook (their ``_repr_html_`` calls the
renderers here). The big ones (tables, match results, models, waterfalls, blocking analyses)
also have a one-line text ``repr``; golden records and workflow runs keep their full field
``repr`` (small, and what leak checks of erasure read). Charts (:mod:`crmcore.display.charts`,
plotly, the ``plot`` extra) and the report (:func:`write_report`) build on the same renderers.

Example:
    >>> from crmcore.io import Table
    >>> t = Table.from_records([{"id": "1", "email": "a@x.com"}])
    >>> repr(t)
    'Table(1 rows x 2 columns: id, email)'
    >>> "a@x.com" in t._repr_html_()
    True
"""

from __future__ import annotations

from crmcore import compat
from crmcore.display._html import (
    blocking_html,
    blocking_text,
    cluster_html,
    cluster_size_counts,
    golden_html,
    model_html,
    model_text,
    result_html,
    result_text,
    run_html,
    scores_html,
    table_html,
    table_text,
    waterfall_html,
    waterfall_text,
)
from crmcore.display._progress import ProgressBars
from crmcore.display._report import report_figures, report_html, write_report

__all__ = [
    "ProgressBars",
    "blocking_html",
    "blocking_text",
    "cluster_html",
    "cluster_size_counts",
    "golden_html",
    "model_html",
    "model_text",
    "report_figures",
    "report_html",
    "result_html",
    "result_text",
    "run_html",
    "scores_html",
    "table_html",
    "table_text",
    "waterfall_html",
    "waterfall_text",
    "write_report",
]

compat.own(__name__, globals(), __all__)
