"""Every ```python block of every page in docs/ runs, in order, as the page's reader would."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = sorted((ROOT / "docs").glob("**/*.md"))
FENCE = re.compile(r"^```python[^\n]*\n(.*?)^```", re.S | re.M)


def blocks(page: Path) -> list[str]:
    return FENCE.findall(page.read_text(encoding="utf-8"))


def test_docs_exist() -> None:
    """The docs folder has pages, and the index links each one."""
    assert DOCS, "docs/ has no pages"
    index = (ROOT / "docs" / "index.md").read_text(encoding="utf-8")
    for page in DOCS:
        if page.name != "index.md":
            assert page.name in index, f"docs/index.md does not link {page.name}"


@pytest.mark.parametrize("page", DOCS, ids=[p.relative_to(ROOT / "docs").as_posix() for p in DOCS])
def test_page_examples_run(page: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The page's python examples run top to bottom in one namespace from the repository root.

    Nothing is injected: an example that writes files makes its own temporary folder (here
    ``tempfile`` hands out folders under pytest's ``tmp_path``, so the run leaves nothing behind),
    and the repository's top level is the same before and after.
    """
    monkeypatch.chdir(ROOT)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    before = sorted(p.name for p in ROOT.iterdir())
    namespace: dict[str, object] = {"__name__": f"docs_{page.stem}"}
    for number, code in enumerate(blocks(page), start=1):
        try:
            exec(compile(code, f"{page.name}[block {number}]", "exec"), namespace)
        except Exception as exc:
            raise AssertionError(f"{page.name} block {number} failed: {exc!r}\n{code}") from exc
    after = sorted(p.name for p in ROOT.iterdir())
    assert after == before, f"{page.name} wrote into the repository"
