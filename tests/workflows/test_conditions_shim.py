"""``crmcore.workflows.conditions`` still works for one release, with a DeprecationWarning."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

import crmcore.conditions


def test_old_module_warns_and_re_exports() -> None:
    """Importing the old module warns and gives the very same names as crmcore.conditions."""
    sys.modules.pop("crmcore.workflows.conditions", None)
    with pytest.warns(DeprecationWarning, match="crmcore.conditions"):
        old = importlib.import_module("crmcore.workflows.conditions")
    assert list(old.__all__) == list(crmcore.conditions.__all__)
    for name in crmcore.conditions.__all__:
        assert getattr(old, name) is getattr(crmcore.conditions, name)


def test_workflows_and_governance_do_not_load_the_old_module() -> None:
    """The packages import crmcore.conditions: using them never warns, never loads the shim."""
    code = (
        "import sys, crmcore.workflows, crmcore.governance;"
        "assert 'crmcore.workflows.conditions' not in sys.modules"
    )
    done = subprocess.run(
        [sys.executable, "-W", "error::DeprecationWarning", "-c", code],
        capture_output=True, text=True, check=False,
    )
    assert done.returncode == 0, done.stderr
