"""Weights: list, import a local folder, and download failing clearly without a network."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from annotator.cli import main
from model import registry
from model.errors import EngineError, WeightsUnavailable
from model.sam.weights import download, import_folder, installed

sys.path.insert(0, str(Path(__file__).resolve().parent))

from tiny_sam import tiny_sam2


@pytest.fixture(autouse=True)
def _weights(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("ANNOTATOR_WEIGHTS_DIR", str(tmp_path / "weights"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return tmp_path / "weights"


def test_import_then_the_registry_loads_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tiny_sam2(tmp_path / "downloaded-by-hand")
    assert installed("sam2.1-small") is None
    assert main(["models", "import", str(source), "--name", "sam2.1-small"]) == 0
    assert installed("sam2.1-small") is not None
    engine = registry.create("sam2.1-small", device="cpu")
    assert engine.model_id.startswith("sam2.1-small@")
    assert main(["models", "list"]) == 0
    listing = capsys.readouterr().out
    assert "| sam2.1-small | facebook/sam2.1-hiera-small |" in listing and "| yes |" in listing


def test_bad_imports_are_refused(tmp_path: Path) -> None:
    with pytest.raises(EngineError, match="not a transformers-format"):
        import_folder(tmp_path, "sam2.1-tiny")
    with pytest.raises(EngineError, match="unknown model"):
        import_folder(tmp_path, "sam9")


def test_download_without_network_names_model_files_and_folder(_weights: Path) -> None:
    with pytest.raises(WeightsUnavailable) as caught:
        download("sam2.1-tiny")
    message = str(caught.value)
    assert "sam2.1-tiny" in message and "config.json" in message and str(_weights / "sam2.1-tiny") in message
    assert main(["models", "download", "sam2.1-tiny"]) == 2
