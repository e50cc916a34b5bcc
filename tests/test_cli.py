"""The command line front door."""

from __future__ import annotations

import pytest

from crmcore.cli import build_parser, main


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    """``--version`` prints the package version."""
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert "crmcore 0.1.0" in capsys.readouterr().out


def test_no_command_prints_help(capsys: pytest.CaptureFixture[str]) -> None:
    """No sub-command prints the help and exits 2."""
    assert main([]) == 2
    assert "usage: crmcore" in capsys.readouterr().out


def test_parser_builds() -> None:
    """The parser builds with every registered sub-command."""
    assert build_parser().prog == "crmcore"
