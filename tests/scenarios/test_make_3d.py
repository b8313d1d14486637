"""Journey: click an object on the canvas, Edit ▸ Make 3D Asset, look at the 3D panel, save the GLB and the PLY."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import trimesh
from plyfile import PlyData
from PySide6.QtWidgets import QFileDialog
from scenario_driver import shape_centre, write_images

from annotator.views.preview3d import NO_OPENGL, opengl_available

pytestmark = pytest.mark.gui


def test_make_3d_of_a_clicked_object_then_save_it(launch, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "photos"
    write_images(folder, 1)
    user = launch(folder)
    user.wait_ready()
    # Nothing selected yet: the action says what to do.
    user.choose_menu("Edit", "Make 3D Asset")
    assert "select an object first" in user.status()
    user.click(*shape_centre(0))
    user.wait(lambda: len(user.object_rows()) == 1)
    user.wait_idle()
    user.choose_menu("Edit", "Make 3D Asset")
    preview = user.window.reconstruction.preview
    user.wait(lambda: preview.result is not None, timeout=30000)
    assert user.window.reconstruction.dock.isVisible()
    assert "inflated silhouette" in preview.summary.text()
    if opengl_available():
        assert preview.view is not None and preview.view.isVisible()
    else:  # offscreen: the panel says why there is no view, and saving still works
        assert preview.message.isVisible() and preview.message.text() == NO_OPENGL
    target = tmp_path / "shape"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *args, **kwargs: (str(target), ""))
    user.press("Save as GLB…", preview)
    user.wait(lambda: (tmp_path / "shape.glb").is_file())
    assert "3D asset saved" in user.status()
    mesh = trimesh.load(tmp_path / "shape.glb", force="mesh")
    assert mesh.is_watertight and len(mesh.faces) > 100
    # The shape seen from the front is the object's: its extent matches the mask's proportions.
    project = user.window.project
    [obj] = project.objects(project.items[0].id)
    mask = project.mask(obj.id).to_array()
    ys, xs = np.nonzero(mask)
    ratio = (xs.max() - xs.min() + 1) / (ys.max() - ys.min() + 1)
    assert mesh.extents[0] / mesh.extents[1] == pytest.approx(ratio, rel=0.1)
    user.press("Save as PLY…", preview)
    user.wait(lambda: (tmp_path / "shape.ply").is_file())
    assert PlyData.read(str(tmp_path / "shape.ply"))["vertex"].count == len(mesh.vertices)
