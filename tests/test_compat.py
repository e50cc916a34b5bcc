"""Old import paths (modules that became private, renamed names) still work for one release,
each with a ``DeprecationWarning``, and the CHANGELOG lists every move."""

from __future__ import annotations

import importlib
import pickle
import sys
import warnings
from pathlib import Path

import pytest

from crmcore import compat

ROOT = Path(__file__).resolve().parents[1]


def _resolve(dotted: str) -> object:
    module, _, name = dotted.rpartition(".")
    return getattr(importlib.import_module(module), name)


class TestOldNames:
    @pytest.mark.parametrize(("old", "new"), sorted(compat.NAMES.items()))
    def test_old_name_warns_and_is_the_new_object(self, old: str, new: str) -> None:
        """Getting an old name from its door warns, naming where it went, and gives the new one."""
        door, _, name = old.rpartition(".")
        module = importlib.import_module(door)
        with pytest.warns(DeprecationWarning, match=rf"{old.replace('.', '[.]')}\b") as caught:
            value = getattr(module, name)
        assert value is _resolve(new)
        assert caught[0].filename == __file__  # points at the caller, not at the shim

    @pytest.mark.parametrize("door", sorted({d for d, _ in compat.MODULES.values()}))
    def test_unknown_name_is_an_attribute_error(self, door: str) -> None:
        """A name the door never had is still an AttributeError, without a warning."""
        module = importlib.import_module(door)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            with pytest.raises(AttributeError, match="no_such_name"):
                module.no_such_name  # noqa: B018


class TestOldModules:
    @pytest.mark.parametrize("old", sorted(compat.MODULES))
    def test_old_module_imports_and_its_names_warn(self, old: str) -> None:
        """``from <old module> import X`` works, warns, and gives the door's object."""
        door, privates = compat.MODULES[old]
        module = importlib.import_module(old)
        assert sys.modules[old] is module
        exported = set(importlib.import_module(door).__all__)
        first = importlib.import_module(privates[0])
        # a public name the old module had: defined in its first private module, exported
        name = next(
            n for n, v in vars(first).items()
            if n in exported and getattr(v, "__module__", None) in {door, privates[0]}
        )
        with pytest.warns(DeprecationWarning, match=rf"import {name} from {door}$"):
            value = getattr(module, name)
        assert value is getattr(importlib.import_module(door), name)

    def test_from_import_statement(self) -> None:
        """The statement users wrote works as before, with a warning at their line."""
        with pytest.warns(DeprecationWarning, match="import ConsentLedger from crmcore.governance"):
            from crmcore.governance.consent import ConsentLedger
        from crmcore.governance import ConsentLedger as NewLedger

        assert ConsentLedger is NewLedger

    def test_renamed_name_through_old_module(self) -> None:
        """An old module's name that was renamed comes back under its new name's object."""
        with pytest.warns(DeprecationWarning, match="use|import apply_retention"):
            from crmcore.governance.retention import apply
        from crmcore.governance import apply_retention

        assert apply is apply_retention

    def test_helper_no_longer_public(self) -> None:
        """A helper the door never exported comes from its private module, flagged as such."""
        with pytest.warns(DeprecationWarning, match="no longer public"):
            from crmcore.governance.erasure import PERSON_FIELDS
        assert "person_id" in PERSON_FIELDS

    def test_missing_name_is_an_attribute_error(self) -> None:
        """A name the old module never had is an AttributeError (no warning, no guess)."""
        module = importlib.import_module("crmcore.governance.audit")
        with pytest.raises(AttributeError):
            module.no_such_name  # noqa: B018


class TestOwnership:
    def test_public_class_names_its_door(self) -> None:
        """A door's class says the door in ``__module__`` and pickles through it."""
        from crmcore.governance import Actor

        assert Actor.__module__ == "crmcore.governance"
        assert pickle.loads(pickle.dumps(Actor("u1", {"t"}))) == Actor("u1", {"t"})

    def test_type_hints_resolve_in_the_defining_module(self) -> None:
        """String annotations of an owned class resolve where the class is written."""
        from crmcore.governance import ConsentEvent

        hints = compat.type_hints(ConsentEvent)
        assert hints["person_id"] is str
        assert compat.defining_module(ConsentEvent) == "crmcore.governance._consent"


class TestChangelog:
    def test_every_move_is_listed(self) -> None:
        """CHANGELOG.md names every old module and old name, and where each name went."""
        text = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
        for old in compat.MODULES:
            assert f"`{old}`" in text, old
        for old, new in compat.NAMES.items():
            assert f"`{old}`" in text, old
            if not any(p.startswith("_") for p in new.split(".")):
                assert f"`{new}`" in text, new
