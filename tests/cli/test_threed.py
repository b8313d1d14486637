"""`annotator 3d`: a project's object to a GLB or PLY file, in a real process; bad input writes nothing."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import trimesh
from assets3d import assert_valid
from plyfile import PlyData

from annotator.document import AddItem, AddObject, Mask, Project, SetMask
from annotator.io.object_view import object_view


def make_project(tmp_path: Path) -> tuple[Path, int, int]:
    """A project with one image, an object with a disc mask and an object with no mask."""
    image = np.zeros((90, 120, 3), np.uint8)
    image[:, :, 0] = np.arange(120, dtype=np.uint8)[None, :] * 2
    cv2.imwrite(str(tmp_path / "a.png"), image)
    mask = np.zeros((90, 120), bool)
    cv2.circle(mask.view(np.uint8), (60, 45), 30, 1, -1)
    path = tmp_path / "p.annot"
    project = Project.create(path)
    item = project.execute(AddItem("a.png", "image", 120, 90))
    disc = project.execute(AddObject(item.id, mask=Mask.from_array(mask)))
    bare = project.execute(AddObject(item.id))
    project.close()
    return path, disc.id, bare.id


def annotator(*args: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "annotator", *map(str, args)], capture_output=True, text=True, timeout=300
    )


def test_glb_and_ply_in_a_real_process(tmp_path: Path) -> None:
    path, disc, _ = make_project(tmp_path)
    out = annotator("3d", path, "--object", disc, "-o", tmp_path / "out" / "disc.glb")
    assert out.returncode == 0, out.stderr
    assert "inflated silhouette of object" in out.stdout
    mesh = trimesh.load(tmp_path / "out" / "disc.glb", force="mesh")
    assert mesh.is_watertight
    assert_valid([tmp_path / "out" / "disc.glb"])
    out = annotator("3d", path, "--object", disc, "-o", tmp_path / "disc.ply")
    assert out.returncode == 0, out.stderr
    assert PlyData.read(str(tmp_path / "disc.ply"))["vertex"].count == len(mesh.vertices)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--object", "999"], "999"),
        (["--object", "{bare}"], "has no mask"),
        (["--object", "{disc}", "--frame", "3"], "no mask on frame 3; it has masks on frames 0"),
        (["--object", "{disc}", "--backend", "sam3d-objects"], "cannot run here"),
    ],
    ids=["unknown object", "no mask", "wrong frame", "no GPU backend"],
)
def test_failures_say_why_and_write_nothing(tmp_path: Path, extra: list[str], message: str) -> None:
    path, disc, bare = make_project(tmp_path)
    target = tmp_path / "never.glb"
    out = annotator("3d", path, *(a.format(disc=disc, bare=bare) for a in extra), "-o", target)
    assert out.returncode == 2 and message in out.stderr, out.stderr
    assert not target.exists() and not list(tmp_path.glob("*.partial"))


def test_wrong_output_suffix_and_missing_project(tmp_path: Path) -> None:
    path, disc, _ = make_project(tmp_path)
    out = annotator("3d", path, "--object", disc, "-o", tmp_path / "x.obj")
    assert out.returncode == 2 and "must end in .glb" in out.stderr
    out = annotator("3d", tmp_path / "none.annot", "--object", disc, "-o", tmp_path / "x.glb")
    assert out.returncode == 2 and "no such project file" in out.stderr


def test_video_object_uses_its_keyframe(tmp_path: Path) -> None:
    frames = tmp_path / "clip"
    frames.mkdir()
    for i in range(4):
        frame = np.full((40, 60, 3), 60 * i, np.uint8)
        cv2.imwrite(str(frames / f"{i:05d}.png"), frame)
    project = Project.create(tmp_path / "v.annot")
    item = project.execute(AddItem("clip", "video", 60, 40, frame_count=4))
    mask = np.zeros((40, 60), bool)
    mask[10:30, 20:40] = True
    obj = project.execute(AddObject(item.id))
    project.execute(SetMask(obj.id, 1, Mask.from_array(np.roll(mask, 3, axis=1)), "propagated"))
    project.execute(SetMask(obj.id, 2, Mask.from_array(mask)))
    view = object_view(project, obj.id)
    assert view.frame == 2 and view.image[0, 0, 0] == 120 and np.array_equal(view.mask, mask)
    # On the frame shown, when it has a mask; otherwise (not strict) the keyframe.
    assert object_view(project, obj.id, 1, strict=False).frame == 1
    assert object_view(project, obj.id, 3, strict=False).frame == 2
    project.close()
    out = annotator("3d", tmp_path / "v.annot", "--object", obj.id, "--frame", 1, "-o", tmp_path / "v.glb")
    assert out.returncode == 0 and "(frame 1)" in out.stdout, out.stderr
    scene = trimesh.load(io.BytesIO((tmp_path / "v.glb").read_bytes()), file_type="glb", force="mesh")
    assert scene.is_watertight
