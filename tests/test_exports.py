"""Each package's ``__all__`` is exactly its public surface, and every name in it exists."""

from __future__ import annotations

import importlib
import pkgutil
import types

import pytest

import crmcore

#: Deprecated re-export shims (they warn on import; each has its own test).
DEPRECATED = {"crmcore.workflows.conditions"}


def public_modules() -> list[str]:
    names = ["crmcore"]
    for info in pkgutil.walk_packages(crmcore.__path__, "crmcore."):
        if any(part.startswith("_") for part in info.name.split(".")):
            continue
        if info.name.startswith("crmcore.cli.") or info.name == "crmcore.__main__":
            continue
        if info.name in DEPRECATED:
            continue
        names.append(info.name)
    return names


@pytest.mark.parametrize("name", public_modules())
def test_all_names_exist(name: str) -> None:
    """Every name listed in ``__all__`` can be got from the module."""
    module = importlib.import_module(name)
    assert hasattr(module, "__all__"), f"{name} has no __all__"
    for attr in module.__all__:
        assert hasattr(module, attr), f"{name}.__all__ lists {attr!r} which does not exist"


@pytest.mark.parametrize("name", public_modules())
def test_all_is_the_public_surface(name: str) -> None:
    """Public names a package front door takes from its own modules are all in ``__all__``."""
    module = importlib.import_module(name)
    if not hasattr(module, "__path__"):
        return  # plain modules may keep public helpers out of __all__
    public = {
        attr
        for attr, value in vars(module).items()
        if not attr.startswith("_")
        and not isinstance(value, types.ModuleType)
        and str(getattr(value, "__module__", "")).startswith(name)
    }
    missing = public - set(module.__all__)
    assert not missing, f"{name} exposes {sorted(missing)} without listing them in __all__"
