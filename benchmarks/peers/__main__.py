"""Measure Splink once and save the JSON: ``python -m benchmarks.peers MODE PATH --out FILE``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from benchmarks.peers import run_splink

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    """Run one mode, print the figures and write them to ``--out``."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("mode", choices=["hist50k", "synthetic", "predict_between"])
    parser.add_argument("path")
    parser.add_argument("--out", required=True, help="JSON file to write")
    parser.add_argument("--threshold", type=float, default=None)
    parser.add_argument("--n", type=int, default=None)
    parser.add_argument("--queries", type=int, default=None)
    args = parser.parse_args(argv)
    result = run_splink(args.mode, args.path, threshold=args.threshold, n=args.n,
                        queries=args.queries)
    if result is None:
        return 1
    text = json.dumps(result, indent=2)
    print(text)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
