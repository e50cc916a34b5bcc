"""Reference runs of peer libraries, side by side with crmcore's benchmarks.

Peers are never crmcore dependencies: each runs as a subprocess under its own interpreter.
Splink (DuckDB backend) is looked for at ``/work/splink-venv/bin/python`` unless the environment
variable ``CRMCORE_SPLINK_PYTHON`` names another interpreter.

Example (from the repository root)::

    from benchmarks.peers import run_splink
    result = run_splink("hist50k", path="../shared/data/historical_50k.parquet")
    if result is not None:
        print(result["f1"], result["time_s"]["total"])
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

__all__ = ["RUNNER", "SPLINK_PYTHON", "run_splink", "splink_python"]

SPLINK_PYTHON = "/work/splink-venv/bin/python"
"""Default interpreter of the scratch virtual environment with Splink 5 and DuckDB."""

RUNNER = Path(__file__).resolve().parent / "splink_runner.py"
"""The script run under that interpreter (modes: hist50k, synthetic, predict_between)."""


def splink_python() -> Path | None:
    """The interpreter to run Splink with, or None when it is not installed."""
    path = Path(os.environ.get("CRMCORE_SPLINK_PYTHON", SPLINK_PYTHON))
    return path if path.exists() else None


def run_splink(
    mode: str,
    path: str | os.PathLike[str] | None = None,
    *,
    timeout: float = 1800.0,
    **options: Any,
) -> dict[str, Any] | None:
    """Run one Splink measurement in a subprocess and return its JSON figures.

    Args:
        mode: ``"hist50k"``, ``"synthetic"`` or ``"predict_between"``.
        path: Input file: historical_50k.parquet for ``hist50k``; a CSV / Parquet written by
            ``benchmarks/synth.py`` for the other modes.
        timeout: Seconds before the run is abandoned.
        **options: Runner options: ``threshold`` (cluster threshold, or match threshold for
            ``predict_between``), ``n`` and ``queries`` (``predict_between``).

    Returns:
        The runner's JSON as a dict (phase times in ``time_s``, ``peak_rss_mb``, ``precision``,
        ``recall``, ``f1`` ...; ``latency_ms`` for ``predict_between``), or None, with the reason
        printed, when Splink's environment is missing or the run fails.
    """
    if path is None:
        path = options.pop("input", None)
    if path is None:
        raise TypeError("run_splink() needs the input path")
    python = splink_python()
    if python is None:
        print(f"splink: skipped, no interpreter at {SPLINK_PYTHON} (set CRMCORE_SPLINK_PYTHON)")
        return None
    cmd = [str(python), str(RUNNER), mode, str(path)]
    for key, value in options.items():
        if value is not None:
            cmd += [f"--{key.replace('_', '-')}", str(value)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        print(f"splink: {mode} gave up after {timeout:.0f}s")
        return None
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        tail = "\n".join(proc.stderr.strip().splitlines()[-5:])
        print(f"splink: {mode} failed (exit {proc.returncode}):\n{tail}", file=sys.stderr)
        return None
    result: dict[str, Any] = json.loads(lines[-1])
    return result
