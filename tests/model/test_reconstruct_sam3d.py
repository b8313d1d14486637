"""The SAM 3D Objects client: when it says it can run, and its two out-of-process protocols, against a
fake command and a fake server that the tests write (no GPU here: Meta's model itself is not run)."""

from __future__ import annotations

import base64
import io
import json
import os
import stat
import sys
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import ClassVar

import cv2
import numpy as np
import pytest
import trimesh

from model.errors import Cancelled, EngineError
from model.reconstruct import Progress, Reconstruction, create, reconstruct
from model.reconstruct.files import splat_bytes
from model.reconstruct.sam3d import WEIGHT_FILES, Gpu, Sam3dObjects, cuda_gpus, mask_polygons


def inputs() -> tuple[np.ndarray, np.ndarray]:
    image = np.full((120, 160, 3), 40, np.uint8)
    image[30:90, 50:110] = (200, 60, 30)
    mask = np.zeros((120, 160), bool)
    mask[30:90, 50:110] = True
    return image, mask


def box_glb() -> bytes:
    return bytes(trimesh.creation.box((1, 2, 3)).export(file_type="glb"))


def weights(folder: Path) -> Path:
    folder.mkdir(exist_ok=True)
    for name in WEIGHT_FILES:
        (folder / name).write_bytes(b"x")
    return folder


def big_gpu() -> list[Gpu]:
    return [Gpu("Test GPU", 80.0)]


def test_nothing_configured_names_everything_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    state = create("sam3d-objects").availability()
    assert not state.available
    for words in ("ANNOTATOR_SAM3D_COMMAND", "ANNOTATOR_SAM3D_URL", "ANNOTATOR_SAM3D_WEIGHTS", "no CUDA GPU"):
        assert words in state.reason
    image, mask = inputs()
    with pytest.raises(EngineError, match="cannot run here: no way to run it"):
        reconstruct(image, mask, backend="sam3d-objects")


def test_gpu_memory_and_weight_files_are_checked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A fake nvidia-smi on PATH: the real probe reads its answer.
    tools = tmp_path / "bin"
    tools.mkdir()
    smi = tools / "nvidia-smi"
    smi.write_text("#!/bin/sh\necho 'NVIDIA GeForce RTX 4090, 24564'\n")
    smi.chmod(smi.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{tools}{os.pathsep}{os.environ['PATH']}")
    assert cuda_gpus() == [Gpu("NVIDIA GeForce RTX 4090", pytest.approx(23.99, abs=0.01))]
    folder = tmp_path / "hf"
    folder.mkdir()
    (folder / "pipeline.yaml").write_text("x")
    backend = Sam3dObjects(command="run-it", weights=str(folder))
    state = backend.availability()
    assert not state.available
    assert "RTX 4090, 24 GB) has less than the 32 GB" in state.reason
    assert "lacks ss_generator.ckpt" in state.reason and "pipeline.yaml" not in state.reason.split("lacks")[1]
    # Enough memory (the limit is a setting) and every file: available.
    for name in WEIGHT_FILES:
        (folder / name).write_text("x")
    assert Sam3dObjects(command="run-it", weights=str(folder), min_gpu_gb=20).availability().available


def test_settings_file_and_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from model.paths import config_dir

    (config_dir() / "sam3d.json").write_text(json.dumps({"url": "http://file.example:9001", "api_key": "k1"}))
    backend = create("sam3d-objects")
    assert backend.url == "http://file.example:9001" and backend.availability().available  # type: ignore[attr-defined]
    monkeypatch.setenv("ANNOTATOR_SAM3D_URL", "http://env.example:9001/")
    assert create("sam3d-objects").url == "http://env.example:9001"  # type: ignore[attr-defined]
    (config_dir() / "sam3d.json").write_text("{not json")
    with pytest.raises(EngineError, match=r"sam3d\.json: cannot be read"):
        create("sam3d-objects")


FAKE_COMMAND = """
import json, sys
from pathlib import Path
import cv2, trimesh
folder = Path(sys.argv[-1])
request = json.loads((folder / "request.json").read_text())
image = cv2.imread(str(folder / "image.png"))
mask = cv2.imread(str(folder / "mask.png"), cv2.IMREAD_GRAYSCALE)
if request["weights"] != sys.argv[1] or image.shape[:2] != mask.shape or int((mask > 127).sum()) != 3600:
    print("bad request", request, image.shape, mask.shape, file=sys.stderr)
    sys.exit(3)
if sys.argv[2] == "fail":
    print("CUDA out of memory", file=sys.stderr)
    sys.exit(1)
if sys.argv[2] == "hang":
    import time
    print("progress 0.1 loading", flush=True)
    time.sleep(60)
print("progress 0.3 stage 1", flush=True)
print("not a progress line", flush=True)
print("progress 0.8 stage 2", flush=True)
trimesh.creation.box((1, 2, 3)).export(str(folder / "mesh.glb"))
(folder / "splat.ply").write_bytes(Path(sys.argv[3]).read_bytes())
layout = {"rotation": [0, 0, 0, 1], "translation": [1, 2, -3], "scale": [2, 2, 2]}
(folder / "result.json").write_text(json.dumps(layout))
"""


def command_backend(tmp_path: Path, mode: str) -> Sam3dObjects:
    script = tmp_path / "fake_sam3d.py"
    script.write_text(FAKE_COMMAND)
    ply = tmp_path / "splat.ply"
    ply.write_bytes(splat_bytes(np.zeros((4, 3)), np.full((4, 3), 0.5), np.full((4, 3), 0.01)))
    folder = weights(tmp_path / "hf")
    command = f"{sys.executable} {script} {folder} {mode} {ply}"
    return Sam3dObjects(command=command, weights=str(folder), gpus=big_gpu)


def test_command_protocol(tmp_path: Path) -> None:
    backend = command_backend(tmp_path, "ok")
    image, mask = inputs()
    steps: list[Progress] = []
    result = reconstruct(image, mask, backend=backend, progress=steps.append)
    assert isinstance(result, Reconstruction) and result.kind == "full shape"
    assert [s.stage for s in steps if s.stage.startswith("stage")] == ["stage 1", "stage 2"]
    mesh = trimesh.load(io.BytesIO(result.glb), file_type="glb", force="mesh")
    assert np.allclose(mesh.extents, (1, 2, 3))
    # Rotation w=0, z=1: half a turn about z; scale 2; translation as given.
    assert np.allclose(result.pose, [[-2, 0, 0, 1], [0, -2, 0, 2], [0, 0, 2, -3], [0, 0, 0, 1]])
    assert result.ply.startswith(b"ply")


def test_command_failure_and_cancel(tmp_path: Path) -> None:
    image, mask = inputs()
    with pytest.raises(EngineError, match=r"exit status 1\): CUDA out of memory"):
        reconstruct(image, mask, backend=command_backend(tmp_path, "fail"))
    cancel = threading.Event()
    run = command_backend(tmp_path, "hang").run(image, mask, cancel=cancel)
    with pytest.raises(Cancelled):
        for step in run:
            if isinstance(step, Progress) and step.stage == "loading":
                cancel.set()
    stopped = Sam3dObjects(command=f"{sys.executable} -c 'import time; time.sleep(60)'", weights=str(tmp_path / "hf"))
    stopped.gpus, stopped.timeout_s = big_gpu, 0.5
    with pytest.raises(EngineError, match=r"longer than [01] s and was stopped"):
        reconstruct(image, mask, backend=stopped)


class FakeServer(BaseHTTPRequestHandler):
    """Answers POST /sam3_3d/infer like Roboflow's server; keeps what it was sent."""

    received: ClassVar[list[tuple[str, dict]]] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        FakeServer.received.append((self.path, body))
        if "refuse" in self.path:
            self.send_response(500)
            self.end_headers()
            self.wfile.write(b"model not enabled")
            return
        ply = splat_bytes(np.zeros((3, 3)), np.full((3, 3), 0.5), np.full((3, 3), 0.01))
        answer = {
            "mesh_glb": base64.b64encode(box_glb()).decode(),
            "gaussian_ply": base64.b64encode(ply).decode(),
            "objects": [{"metadata": {"rotation": [1, 0, 0, 0], "translation": [0, 0, -2], "scale": [1, 1, 1]}}],
        }
        data = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> str:
    httpd = HTTPServer(("127.0.0.1", 0), FakeServer)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    FakeServer.received.clear()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()


def test_server_protocol(server: str) -> None:
    image, mask = inputs()
    backend = Sam3dObjects(url=server, api_key="secret key", gpus=list)  # no GPU here: the server has it
    assert backend.availability().available
    result = reconstruct(image, mask, backend=backend)
    assert result.kind == "full shape" and np.allclose(result.pose[:3, 3], (0, 0, -2))
    path, body = FakeServer.received[0]
    assert path == "/sam3_3d/infer?api_key=secret%20key"
    sent = cv2.imdecode(np.frombuffer(base64.b64decode(body["image"]["value"]), np.uint8), cv2.IMREAD_COLOR)
    assert np.array_equal(cv2.cvtColor(sent, cv2.COLOR_BGR2RGB), image)
    polygon = np.array(body["mask_input"][0]).reshape(-1, 2).astype(np.int32)
    drawn = cv2.fillPoly(np.zeros(mask.shape, np.uint8), [polygon], 1).astype(bool)
    assert (drawn & mask).sum() / (drawn | mask).sum() > 0.95


def test_server_errors(server: str) -> None:
    image, mask = inputs()
    with pytest.raises(EngineError, match="answered 500: model not enabled"):
        reconstruct(image, mask, backend=Sam3dObjects(url=server + "/refuse"))
    with pytest.raises(EngineError, match="cannot be reached"):
        reconstruct(image, mask, backend=Sam3dObjects(url="http://127.0.0.1:9", timeout_s=5))


def test_polygons_of_a_mask_with_two_parts() -> None:
    mask = np.zeros((50, 50), bool)
    mask[5:15, 5:15] = True
    mask[20:45, 20:45] = True
    polygons = mask_polygons(mask)
    assert len(polygons) == 2 and len(polygons[0]) >= 8  # the larger first
    assert min(polygons[0][0::2]) == 20
