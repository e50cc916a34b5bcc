"""The HTML report: one self-contained file whose figures are the run's, checked in a real
headless Chromium (Debian's ``chromium``; CI installs it, and its absence FAILS these tests)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from crmcore.display import report_figures
from crmcore.matching import MatchResult

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--virtual-time-budget=15000", "--enable-logging=stderr", "--v=0",
]
FIGURES = re.compile(
    r'<script id="crmcore-figures" type="application/json">(.*?)</script>', re.S
)
# Appended to a copy of the page: writes the position of every chart into the DOM.
PROBE = """<script>window.addEventListener('load', () => {
  const out = [...document.querySelectorAll('[data-chart]')].map(el => {
    const r = el.getBoundingClientRect();
    return {name: el.dataset.chart, x: r.x, y: r.y + window.scrollY, w: r.width, h: r.height,
            svg: el.querySelectorAll('svg.main-svg').length};
  });
  const pre = document.createElement('pre'); pre.id = 'probe';
  pre.textContent = JSON.stringify({height: document.documentElement.scrollHeight, charts: out});
  document.body.appendChild(pre);
});</script>"""


def chromium(url: str, *args: str, height: int = 2000) -> subprocess.CompletedProcess[str]:
    """Run headless Chromium with a new empty profile; fail (not skip) when it is missing."""
    assert CHROMIUM, "chromium is not installed: apt-get install -y chromium (.ci/run does)"
    with tempfile.TemporaryDirectory() as profile:
        return subprocess.run(
            [CHROMIUM, *FLAGS, f"--window-size=1280,{height}", f"--user-data-dir={profile}",
             *args, url],
            capture_output=True, text=True, timeout=180, check=True,
            env={**os.environ, "HOME": profile},
        )


@pytest.fixture(scope="module")
def page(result: MatchResult, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return result.report(tmp_path_factory.mktemp("report") / "out" / "report.html")


class TestReportFile:
    def test_self_contained(self, page: Path) -> None:
        """One file: no script, style or image is loaded from elsewhere."""
        text = page.read_text(encoding="utf-8")
        assert not re.search(r'<(script|link|img)[^>]+(src|href)=["\']?(https?:)?//', text)
        assert "Plotly" in text  # the library is inlined

    def test_figures_are_the_results(self, page: Path, result: MatchResult) -> None:
        """The embedded figures equal the result's."""
        data = json.loads(FIGURES.search(page.read_text(encoding="utf-8")).group(1))
        assert data == json.loads(json.dumps(report_figures(result)))
        assert data["entities"] == result.n_entities == len(set(result.entity_ids))
        assert data["matched_pairs"] == len(result.matches)
        assert sum(data["cluster_sizes"].values()) == result.n_entities

    def test_sections(self, page: Path, result: MatchResult) -> None:
        """Every section is there, with a waterfall per sampled pair and the rows with notes."""
        text = page.read_text(encoding="utf-8")
        for key in ("summary", "charts", "model", "patterns", "clusters", "notes"):
            assert f'<section id="{key}">' in text
        assert text.count("<summary>waterfall of") >= 3
        for i, note in enumerate(result.notes):
            if note:
                assert str(result.ids[i]) in text

    def test_write_is_whole_or_nothing(self, result: MatchResult, tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
        """A failure while writing leaves the previous file as it was and no temporary file."""
        import crmcore.display._report as module

        target = tmp_path / "report.html"
        target.write_text("previous", encoding="utf-8")

        def broken(*_a: object, **_k: object) -> str:
            raise RuntimeError("disk full")

        monkeypatch.setattr(module, "report_html", broken)
        with pytest.raises(RuntimeError):
            result.report(target)
        assert target.read_text(encoding="utf-8") == "previous"
        assert [p.name for p in tmp_path.iterdir()] == ["report.html"]


class TestInBrowser:
    def test_loads_without_console_messages(self, page: Path) -> None:
        """The page loads in Chromium and logs nothing to the console (no script error)."""
        run = chromium(page.as_uri(), "--dump-dom")
        console = [line for line in run.stderr.splitlines() if ":CONSOLE" in line]
        assert console == []
        assert 'id="crmcore-figures"' in run.stdout

    def test_charts_render(self, page: Path, result: MatchResult, tmp_path: Path) -> None:
        """Every chart draws: plotly's SVG is in the DOM and its screen area is not blank."""
        probe = tmp_path / "probe.html"
        probe.write_text(page.read_text(encoding="utf-8").replace("</body>", PROBE + "</body>"),
                         encoding="utf-8")
        dom = chromium(probe.as_uri(), "--dump-dom").stdout
        found = json.loads(re.search(r'<pre id="probe">(.*?)</pre>', dom, re.S).group(1)
                           .replace("&quot;", '"'))
        boxes = found["charts"]
        names = {b["name"] for b in boxes}
        assert {"cluster-sizes", "thresholds", "blocking", "match-weights", "em-trace"} <= names
        shot = tmp_path / "shot.png"
        chromium(probe.as_uri(), f"--screenshot={shot}", height=int(found["height"]))
        pixels = np.asarray(Image.open(shot).convert("RGB"), dtype=np.int16)
        for box in boxes:
            assert box["svg"] >= 1, f"chart {box['name']} has no plotly SVG"
            x0, y0 = int(box["x"]), int(box["y"])
            area = pixels[y0: y0 + int(box["h"]), x0: x0 + int(box["w"])]
            assert area.size, f"chart {box['name']} is outside the screenshot"
            coloured = (np.abs(area - 255).sum(axis=2) > 60).mean()
            assert coloured > 0.01, f"chart {box['name']} is blank ({coloured:.4f} coloured)"
        # the page's figures, read back from the rendered DOM, are the result's
        data = json.loads(FIGURES.search(dom).group(1))
        assert data["records"] == result.n_records
        assert data["entities"] == result.n_entities
