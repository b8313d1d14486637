"""The `annotator` command: --version, --help, and the GUI as the default."""

from __future__ import annotations

import subprocess
import sys

from annotator import __version__
from annotator.cli import main


def test_version_and_help_in_a_real_process() -> None:
    out = subprocess.run([sys.executable, "-m", "annotator", "--version"], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == f"annotator {__version__}"
    out = subprocess.run([sys.executable, "-m", "annotator", "--help"], capture_output=True, text=True, check=True)
    assert "usage: annotator" in out.stdout and "GUI" in out.stdout


def test_no_subcommand_means_the_gui(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    seen = {}

    def fake_gui(args):  # type: ignore[no-untyped-def]
        seen["path"] = args.path
        return 0

    monkeypatch.setattr("annotator.app.run_gui", fake_gui)
    assert main(["some/folder"]) == 0
    assert seen["path"] == "some/folder"
    assert main([]) == 0 and seen["path"] is None
