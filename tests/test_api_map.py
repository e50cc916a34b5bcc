"""The API map page (``docs/api-map.md``) lists every front door's names as they are now."""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]


def api_map() -> ModuleType:
    """The page's generator, ``docs/api_map.py``."""
    spec = importlib.util.spec_from_file_location("api_map", ROOT / "docs" / "api_map.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("api_map", module)
    spec.loader.exec_module(module)
    return module


class TestApiMap:
    def test_page_is_up_to_date(self) -> None:
        """The committed page equals what the generator writes (run ``python docs/api_map.py``)."""
        generator = api_map()
        assert generator.PAGE.read_text(encoding="utf-8") == generator.render()

    def test_every_door_name_has_a_line(self) -> None:
        """Each name of each door's ``__all__`` has its own line with a description."""
        generator = api_map()
        page = generator.PAGE.read_text(encoding="utf-8")
        for door in generator.DOORS:
            section = page.split(f"## `{door}`\n", 1)[1].split("\n## ", 1)[0]
            for name in importlib.import_module(door).__all__:
                line = next(ln for ln in section.splitlines() if ln.startswith(f"| `{name}` |"))
                assert line.rstrip(" |").split("|")[-1].strip(), f"{door}.{name} has no text"

    def test_reference_renders_every_door(self) -> None:
        """The API reference page (``docs/api.md``) renders each door below the root."""
        generator = api_map()
        page = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
        rendered = {ln[4:].strip() for ln in page.splitlines() if ln.startswith("::: ")}
        assert rendered == set(generator.DOORS) - {"crmcore"}

    def test_page_is_in_the_site(self) -> None:
        """The page is in the mkdocs nav and linked from the docs index."""
        assert "api-map.md" in (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
        assert "api-map.md" in (ROOT / "docs" / "index.md").read_text(encoding="utf-8")
