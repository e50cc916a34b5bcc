"""Progress bars: one per phase with its counts, quiet off a terminal or when asked."""

from __future__ import annotations

import io

from crmcore.display import ProgressBars
from crmcore.io import read_table
from crmcore.matching import dedupe
from tests.display.conftest import ROOT


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


class TestProgressBars:
    def test_phases_of_a_job(self) -> None:
        """A dedupe run gives one bar per phase, titled with the phase's counts."""
        out = Terminal()
        bars = ProgressBars(file=out)
        table = read_table(ROOT / "examples" / "contacts.csv")
        result = dedupe(table, id_column="record_id", progress=bars)
        bars.close()
        assert bars.phases[0] == f"preparing {table.n_rows:,} records"
        assert any(p.startswith("comparing ") and "candidate pairs" in p for p in bars.phases)
        assert bars.phases[-1] == "clustering"
        assert len(bars.seconds) == len(bars.phases)
        text = out.getvalue()
        for phase in bars.phases:
            assert phase in text
        n = len(result.model.comparisons)
        assert f"{n}/{n}" in text  # the comparison steps moved the compare bar to its end

    def test_quiet_off_a_terminal(self) -> None:
        """Nothing is drawn into a pipe or a log file, or when asked to be quiet."""
        for bars, out in ((ProgressBars(file=(pipe := io.StringIO())), pipe),
                          (ProgressBars(file=(tty := Terminal()), quiet=True), tty)):
            bars("preparing 3 records")
            bars("  comparison 1/2: email")
            bars.close()
            assert out.getvalue() == ""
            assert bars.phases == ["preparing 3 records"]

    def test_progress_true(self, monkeypatch) -> None:
        """``progress=True`` draws the bars on a terminal's stderr and closes the last one."""
        import sys

        err = Terminal()
        monkeypatch.setattr(sys, "stderr", err)
        table = read_table(ROOT / "examples" / "contacts.csv")
        dedupe(table, id_column="record_id", progress=True)
        text = err.getvalue()
        assert f"preparing {table.n_rows:,} records" in text
        assert text.rstrip().splitlines()[-1].startswith("clustering")
