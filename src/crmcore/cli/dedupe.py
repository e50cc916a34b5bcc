"""``crmcore dedupe`` and ``crmcore link``: the main jobs from the command line.

``crmcore dedupe INPUT --id COLUMN --out OUTPUT [--preset contacts|accounts]
[--map SOURCE=FIELD ...] [--threshold P] [--pairs PAIRS_OUT] [--golden OUT]`` reads CSV or Parquet,
writes every input row's id with its ``entity_id`` (rows that could not be used carry a note),
optionally the matched pairs and the golden records with lineage, and prints a summary.
``crmcore link LEFT RIGHT --id COLUMN --out OUTPUT ...`` does the same across two files.
Progress of each phase goes to stderr.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from crmcore.errors import MatchingConfigError

__all__ = ["register"]


def _mapping(items: list[str] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items or []:
        source, eq, field = item.partition("=")
        if not eq or not source.strip() or not field.strip():
            raise MatchingConfigError(f"--map expects SOURCE=FIELD, got {item!r}")
        out[source.strip()] = field.strip()
    return out


def _progress(quiet: bool) -> Any:
    """Progress of each phase on stderr: tqdm bars on a terminal, timestamped lines otherwise
    (logs and pipes), nothing with ``--quiet``."""
    if not quiet and sys.stderr.isatty():
        from crmcore.display import ProgressBars

        return ProgressBars(file=sys.stderr)
    start = time.perf_counter()

    def say(message: str) -> None:
        if not quiet:
            print(f"[{time.perf_counter() - start:7.2f}s] {message}", file=sys.stderr, flush=True)

    return say


def _done(say: Any) -> None:
    """End the last progress bar, if bars are drawn."""
    close = getattr(say, "close", None)
    if close is not None:
        close()


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--id", dest="id_column", required=True, help="column of record ids")
    parser.add_argument("--out", required=True, help="output file (.csv or .parquet)")
    parser.add_argument("--preset", choices=["contacts", "accounts"], default="contacts")
    parser.add_argument(
        "--map", action="append", metavar="SOURCE=FIELD",
        help="map a source column to a canonical field (repeatable)",
    )
    parser.add_argument("--threshold", type=float, default=None, help="match probability")
    parser.add_argument("--pairs", default=None, help="also write the matched pairs here")
    parser.add_argument("--model-out", default=None, help="save the trained model (JSON)")
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")
    parser.add_argument(
        "--report", metavar="HTML", default=None,
        help="also write a self-contained HTML report of the run (needs crmcore[plot])",
    )


def _check_report(args: argparse.Namespace, inputs: list[str]) -> None:
    """Before any work: the report can be written (plotly installed; the path is no input nor
    another output)."""
    if not args.report:
        return
    from crmcore.errors import require
    from crmcore.io import check_outputs

    require("plotly", "plot", "--report")
    outputs = [("--out", args.out), ("--pairs", args.pairs), ("--model-out", args.model_out),
               ("--golden", getattr(args, "golden", None)), ("--report", args.report)]
    check_outputs(outputs, inputs=inputs)


def _finish(result: Any, args: argparse.Namespace, read_seconds: float) -> int:
    from crmcore.io import write_table

    t = time.perf_counter()
    write_table(result.to_table(), args.out)
    if args.pairs:
        write_table(result.pairs_table(), args.pairs)
    if args.model_out:
        result.model.save(args.model_out)
    if args.report:
        result.report(args.report)
    result.timings["read"] = result.timings.get("read", 0.0) + read_seconds
    result.timings["write"] = time.perf_counter() - t
    print(result.summary())
    print(f"wrote {args.out}" + (f" and {args.pairs}" if args.pairs else "")
          + (f"; report {args.report}" if args.report else ""))
    return 0


def _dedupe(args: argparse.Namespace) -> int:
    from crmcore.io import read_table
    from crmcore.matching import dedupe
    from crmcore.matching.api import read_records

    _check_report(args, [args.input])
    say = _progress(args.quiet)
    t = time.perf_counter()
    say(f"reading {args.input}")
    if args.golden:  # survivorship reads every column
        table = read_table(args.input)
    else:  # only the id and the columns the preset reads (Parquet: column-selective)
        table = read_records(
            args.input, id_column=args.id_column, preset=args.preset, mapping=_mapping(args.map)
        )
    read_seconds = time.perf_counter() - t
    result = dedupe(
        table, id_column=args.id_column, preset=args.preset, mapping=_mapping(args.map),
        threshold=args.threshold, progress=say,
    )
    _done(say)
    code = _finish(result, args, read_seconds)
    if args.golden:
        from crmcore.survivorship import write_golden

        say(f"writing golden records to {args.golden}")
        print(write_golden(
            table, result.ids, result.entity_ids, args.golden, preset=args.preset,
            mapping=_mapping(args.map), id_column=args.id_column,
        ))
    return code


def _link(args: argparse.Namespace) -> int:
    from crmcore.io import read_table
    from crmcore.matching import link

    _check_report(args, [args.left, args.right])
    say = _progress(args.quiet)
    t = time.perf_counter()
    say(f"reading {args.left} and {args.right}")
    left, right = read_table(args.left), read_table(args.right)
    read_seconds = time.perf_counter() - t
    result = link(
        left, right, id_column=args.id_column, right_id_column=args.right_id,
        preset=args.preset, mapping=_mapping(args.map), threshold=args.threshold,
        one_to_one_links=args.one_to_one, progress=say,
    )
    _done(say)
    return _finish(result, args, read_seconds)


def register(subparsers: Any) -> None:
    """Add the ``dedupe`` and ``link`` sub-commands."""
    p = subparsers.add_parser(
        "dedupe", help="find duplicate records in one CSV / Parquet file",
        description="Give every row an entity_id: rows of the same person or company share one.",
    )
    p.add_argument("input", help="input file (.csv or .parquet)")
    _common(p)
    p.add_argument(
        "--golden", metavar="OUT", default=None,
        help="also write golden records (.csv / .parquet) and their lineage (OUT.lineage.*)",
    )
    p.set_defaults(handler=_dedupe)

    q = subparsers.add_parser(
        "link", help="link the records of two files",
        description="Give rows of two files entity ids; only pairs across the files are compared.",
    )
    q.add_argument("left", help="first file")
    q.add_argument("right", help="second file")
    _common(q)
    q.add_argument("--right-id", default=None, help="id column of the right file (default --id)")
    q.add_argument("--one-to-one", action="store_true", help="at most one link per record")
    q.set_defaults(handler=_link)
