"""Match settings and models written by the release before the spec codec load unchanged."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from crmcore.matching import MatchModel, MatchSettings

GOLDEN = Path(__file__).resolve().parents[1] / "fixtures" / "codec" / "matching"
SETTINGS = sorted(GOLDEN.glob("settings_*.json"))
MODELS = sorted(GOLDEN.glob("model_*.json"))


class TestGoldenMatchFiles:
    def test_files_exist(self) -> None:
        """The golden settings and model files are there."""
        assert [p.stem for p in SETTINGS] == [
            "settings_accounts", "settings_contacts", "settings_every_part", "settings_people"
        ]
        assert [p.stem for p in MODELS] == ["model_every_part"]

    @pytest.mark.parametrize("path", SETTINGS, ids=lambda p: p.name)
    def test_settings_load_and_round_trip(self, path: Path) -> None:
        """Saved settings load and write back to the same content."""
        data = json.loads(path.read_text(encoding="utf-8"))
        settings = MatchSettings.from_dict(data)
        assert settings.to_dict() == data
        assert MatchSettings.from_dict(settings.to_dict()) == settings

    @pytest.mark.parametrize("path", MODELS, ids=lambda p: p.name)
    def test_model_loads_and_round_trips(self, path: Path) -> None:
        """A saved model loads and writes back to the same content."""
        data = json.loads(path.read_text(encoding="utf-8"))
        model = MatchModel.load(path)
        assert model.to_dict() == data
        assert MatchModel.from_dict(model.to_dict()) == model


class TestVetoesApartKey:
    def test_written_only_when_off(self) -> None:
        """``vetoes_apart`` is left out at its default (older files stay as they are) and
        written, and read back, when turned off."""
        import attrs

        from crmcore.matching import ClusterOptions

        data = json.loads((GOLDEN / "settings_contacts.json").read_text(encoding="utf-8"))
        settings = MatchSettings.from_dict(data)
        assert settings.cluster.vetoes_apart
        assert "vetoes_apart" not in settings.to_dict()["cluster"]
        off = attrs.evolve(settings, cluster=ClusterOptions(vetoes_apart=False))
        assert off.to_dict()["cluster"]["vetoes_apart"] is False
        assert MatchSettings.from_dict(off.to_dict()) == off
