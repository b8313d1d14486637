"""The window with real engines from the registry (classic; the SAM family when available)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox
from videos import link_first

from annotator.bridge import EngineBridge
from annotator.document import AddObject, Mask
from annotator.evaluation.metrics import iou
from annotator.io.tracks import interior_point
from annotator.views.main_window import MainWindow

pytestmark = pytest.mark.gui


@pytest.fixture
def classic_window(qtbot):  # type: ignore[no-untyped-def]
    window = MainWindow(engine_name="classic", bridge=EngineBridge())
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: window.bridge.engine is not None, timeout=30000)
    yield window
    window.close()


def test_classic_engine_click_in_the_gui(qtbot, classic_window, tmp_path: Path, shared_data: Path) -> None:  # type: ignore[no-untyped-def]
    window = classic_window
    folder = tmp_path / "images"
    folder.mkdir()
    for name in ("grabcut_flower.jpg", "grabcut_sheep.jpg"):
        (folder / name).symlink_to(shared_data / "images" / name)
    window.open_path(folder)
    qtbot.waitUntil(lambda: window.session.key in window.session.embedded_keys, timeout=30000)
    truth = np.array(Image.open(shared_data / "masks" / "grabcut_flower.png")) > 127
    x, y = interior_point(Mask.from_array(truth))
    window.session.add_point(x, y, True)
    qtbot.waitUntil(lambda: window.layers.rowCount() == 1, timeout=30000)
    obj = window.project.objects(window.session.item.id)[0]
    assert iou(window.project.mask(obj.id).to_array(), truth) > 0.6


def test_classic_propagation_through_the_gui(qtbot, classic_window, tmp_path: Path, shared_data: Path) -> None:  # type: ignore[no-untyped-def]
    window = classic_window
    sequence = sorted((shared_data / "videos").iterdir())[0]
    frames = link_first(sequence / "frames", tmp_path / "frames", 20)
    window.open_path(frames)
    item = window.project.items[0]
    assert item.kind == "video" and item.frame_count == 20
    masks = sorted((sequence / "masks").iterdir())
    first = np.array(Image.open(masks[0])) > 0
    obj = window.project.execute(AddObject(item.id, mask=Mask.from_array(first)))
    with qtbot.waitSignal(window.propagation.finished, timeout=120000):
        assert window.propagate("forward")
    assert window.project.mask_frames(obj.id) == list(range(20))
    ious = [iou(window.project.mask(obj.id, f).to_array(), np.array(Image.open(masks[f])) > 0) for f in range(1, 20)]
    assert np.mean(ious) > 0.6


def test_tiny_sam2_video_propagation_through_the_gui(qtbot, tmp_path: Path, shared_data: Path) -> None:  # type: ignore[no-untyped-def]
    from tiny_sam import tiny_sam2

    from model import registry

    weights = tiny_sam2(tmp_path / "tiny")
    bridge = EngineBridge(factory=lambda name, **kw: registry.create(name, weights=str(weights), device="cpu"))
    window = MainWindow(engine_name="sam2.1-tiny", bridge=bridge)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: window.bridge.engine is not None, timeout=60000)
    sequence = sorted((shared_data / "videos").iterdir())[-1]
    frames = link_first(sequence / "frames", tmp_path / "frames", 8)
    window.open_path(frames)
    item = window.project.items[0]
    first = np.array(Image.open(sorted((sequence / "masks").iterdir())[0])) > 0
    obj = window.project.execute(AddObject(item.id, mask=Mask.from_array(first)))
    with qtbot.waitSignal(window.propagation.finished, timeout=180000):
        assert window.propagate("forward")
    assert window.project.mask_frames(obj.id) == list(range(8))
    assert np.array_equal(window.project.mask(obj.id, 0).to_array(), first)  # the keyframe is untouched
    for frame in range(1, 8):
        assert window.project.mask(obj.id, frame).size == first.shape
    window.project.undo()  # the whole run is one step
    assert window.project.mask_frames(obj.id) == [0]
    window.close()


def test_tiny_sam2_click_and_box_in_the_gui(qtbot, tmp_path: Path, shared_data: Path) -> None:  # type: ignore[no-untyped-def]
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "model"))
    from tiny_sam import tiny_sam2

    from model import registry

    weights = tiny_sam2(tmp_path / "tiny")
    bridge = EngineBridge(factory=lambda name, **kw: registry.create(name, weights=str(weights), device="cpu"))
    window = MainWindow(engine_name="sam2.1-tiny", bridge=bridge)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: window.bridge.engine is not None, timeout=60000)
    assert window.bridge.engine.model_id.startswith("sam2.1-tiny@")
    folder = tmp_path / "images"
    folder.mkdir()
    (folder / "grabcut_flower.jpg").symlink_to(shared_data / "images" / "grabcut_flower.jpg")
    window.open_path(folder)
    qtbot.waitUntil(lambda: window.session.key in window.session.embedded_keys, timeout=60000)
    window.session.add_point(200, 150, True)
    qtbot.waitUntil(lambda: window.layers.rowCount() == 1, timeout=60000)
    obj = window.project.objects(window.session.item.id)[0]
    mask = window.project.mask(obj.id)
    assert mask is not None and mask.size == (450, 600)
    window.session.cycle_candidate()  # a single click gives three candidates
    assert window.statusBar().currentMessage().endswith("of 3")
    window.close()


def test_model_panel_download_offline_and_missing_weights_say_what_to_do(qtbot, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("ANNOTATOR_WEIGHTS_DIR", str(tmp_path / "weights"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    window = MainWindow(engine_name="classic", bridge=EngineBridge())
    qtbot.addWidget(window)
    panel = window.model_panel
    panel.engine_box.setCurrentText("sam2.1-large")
    with qtbot.waitSignal(window.bridge.errored, timeout=30000):
        panel.load_engine()
    qtbot.waitUntil(lambda: "could not load" in panel.state.text(), timeout=5000)
    assert "sam2.1-large" in panel.state.text() and str(tmp_path / "weights") in panel.state.text()
    asked: list[str] = []
    yes = QMessageBox.StandardButton.Yes
    monkeypatch.setattr(QMessageBox, "question", lambda parent, title, text, *a: asked.append(text) or yes)
    panel.start_download()
    assert "898 MB" in asked[0] and "Apache-2.0" in asked[0]
    assert panel.cancel_button.isEnabled() and not panel.progress.isHidden()
    qtbot.waitUntil(lambda: panel.download is None, timeout=30000)
    assert "not available" in panel.state.text() and panel.download_button.isEnabled()
    window.close()


def test_out_of_memory_on_the_gpu_shows_a_warning_and_the_work_goes_on(  # type: ignore[no-untyped-def]
    qtbot, tmp_path: Path, shared_data: Path, monkeypatch
) -> None:
    import torch
    from tiny_sam import tiny_sam2

    from model import registry

    monkeypatch.setenv("ANNOTATOR_CACHE_DIR", str(tmp_path / "cache"))  # no embedding from an earlier test
    weights = tiny_sam2(tmp_path / "tiny")

    def full_gpu_engine(name, **options):  # type: ignore[no-untyped-def]
        engine = registry.create(name, weights=str(weights), device="cpu", runtime="torch")
        engine.device = "cuda"  # a GPU that is full: tensors stay on the CPU, the first embed fails
        engine.preprocess = lambda image: engine.family.preprocess(image, engine.size, "cpu")
        original = engine.model.get_image_embeddings

        def embed(pixels):  # type: ignore[no-untyped-def]
            if engine.device != "cpu":
                raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
            return original(pixels)

        engine.model.get_image_embeddings = embed
        return engine

    window = MainWindow(engine_name="sam2.1-tiny", bridge=EngineBridge(factory=full_gpu_engine))
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: window.bridge.engine is not None, timeout=60000)
    folder = tmp_path / "images"
    folder.mkdir()
    (folder / "grabcut_flower.jpg").symlink_to(shared_data / "images" / "grabcut_flower.jpg")
    window.open_path(folder)
    qtbot.waitUntil(lambda: window.session.key in window.session.embedded_keys, timeout=60000)
    qtbot.waitUntil(lambda: "out of memory on cuda" in window.model_panel.state.text(), timeout=30000)
    assert "CPU" in window.model_panel.state.text() and window.bridge.engine.device == "cpu"
    window.session.add_point(200, 150, True)
    qtbot.waitUntil(lambda: window.layers.rowCount() == 1, timeout=60000)
    window.close()


def test_model_panel_loads_the_chosen_runtime_and_precision(qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from tiny_sam import tiny_sam2

    from model import registry

    weights = tiny_sam2(tmp_path / "tiny")
    asked: list[dict] = []

    def factory(name: str, **options):  # type: ignore[no-untyped-def]
        asked.append(options)
        return registry.create(name, **{"weights": str(weights), "device": "cpu", **options})

    window = MainWindow(engine_name="classic", bridge=EngineBridge(factory=factory))
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: window.bridge.engine is not None, timeout=30000)
    panel = window.model_panel
    assert not panel.runtime_box.isEnabled() and panel.options() == {}  # the classic engine has neither
    panel.engine_box.setCurrentText("sam2.1-tiny")
    assert panel.runtime_box.isEnabled() and panel.precision_box.isEnabled()
    panel.device_box.setCurrentText("cpu")
    panel.runtime_box.setCurrentIndex(panel.runtime_box.findData("onnx-int8"))
    panel.precision_box.setCurrentText("fp32")
    qtbot.mouseClick(panel.load_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "ready: sam2.1-tiny" in panel.state.text(), timeout=120000)
    assert asked[-1] == {"device": "cpu", "runtime": "onnx-int8", "precision": "fp32"}
    assert window.bridge.engine.runtime == "onnx-int8" and panel.state.text().endswith("onnx-int8")
    import torch

    if not torch.cuda.is_available():  # asking for a device that is not there: said in the panel
        panel.runtime_box.setCurrentIndex(panel.runtime_box.findData("torch"))
        panel.device_box.setCurrentText("cuda")
        qtbot.mouseClick(panel.load_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: "could not load" in panel.state.text(), timeout=60000)
        assert "cuda" in panel.state.text().lower() and window.bridge.engine.runtime == "onnx-int8"
    window.close()
