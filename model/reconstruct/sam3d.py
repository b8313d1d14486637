"""The `sam3d-objects` backend: Meta's SAM 3D Objects, run out of process.

Two ways to reach it, configured in `config_dir()/sam3d.json` or by environment variables (which
win): a command in SAM 3D's own environment (`command`, `weights`), or a Roboflow inference server
(`url`, `api_key`). We never import SAM 3D: it needs CUDA-only packages and its own environment.

The command protocol (ours; model/reconstruct/sam3d_runner.py speaks it): the command gets one
more argument, a folder holding `image.png` (RGB), `mask.png` (0/255) and `request.json`
({"weights": folder, "seed": int}); it writes `mesh.glb`, `splat.ply` and `result.json`
({"rotation": [w, x, y, z], "translation": [x, y, z], "scale": [sx, sy, sz]}) there, may print
lines `progress FRACTION TEXT`, and exits 0. The server protocol is Roboflow's `POST /sam3_3d/infer`.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import shlex
import shutil
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from model.errors import Cancelled, EngineError
from model.paths import config_dir
from model.reconstruct.protocol import Availability, Progress, Reconstruction, check_cancel, check_inputs

log = logging.getLogger(__name__)

CONFIG_FILE = "sam3d.json"
ENV = {
    "command": "ANNOTATOR_SAM3D_COMMAND",
    "weights": "ANNOTATOR_SAM3D_WEIGHTS",
    "url": "ANNOTATOR_SAM3D_URL",
    "api_key": "ANNOTATOR_SAM3D_API_KEY",
    "min_gpu_gb": "ANNOTATOR_SAM3D_MIN_GPU_GB",
}
# Files of the gated checkpoint folder (checkpoints/hf in Meta's layout) that the pipeline loads.
WEIGHT_FILES = (
    "pipeline.yaml",
    "ss_generator.ckpt",
    "slat_generator.ckpt",
    "slat_decoder_gs.ckpt",
    "slat_decoder_mesh.pt",
)
MIN_GPU_GB = 32.0  # what Meta asks for (some runs fit 24 GB stage by stage)
TIMEOUT_S = 900.0


@dataclass(frozen=True)
class Gpu:
    """A CUDA device and its memory."""

    name: str
    memory_gb: float


def cuda_gpus() -> list[Gpu]:
    """The CUDA GPUs of this machine: from nvidia-smi (SAM 3D's environment has its own torch), else torch."""
    smi = shutil.which("nvidia-smi")
    if smi is not None:
        try:
            out = subprocess.run(
                [smi, "--query-gpu=name,memory.total", "--format=csv,noheader,nounits"],
                capture_output=True,
                text=True,
                timeout=10,
                check=True,
            ).stdout
            gpus = []
            for line in out.splitlines():
                name, _, memory = line.rpartition(",")
                if name.strip() and memory.strip():
                    gpus.append(Gpu(name.strip(), float(memory) / 1024.0))
            return gpus
        except (OSError, subprocess.SubprocessError, ValueError) as error:
            log.warning("nvidia-smi failed: %s", error)
    try:
        import torch

        if torch.cuda.is_available():
            return [
                Gpu(torch.cuda.get_device_name(i), torch.cuda.get_device_properties(i).total_memory / 2**30)
                for i in range(torch.cuda.device_count())
            ]
    except Exception as error:  # a broken CUDA install must not break the check
        log.warning("torch could not list CUDA devices: %s", error)
    return []


class Sam3dObjects:
    """Full shape (the hidden side too) from SAM 3D Objects, through a command or a server."""

    name = "sam3d-objects"
    description = "SAM 3D Objects: full shape, out of process (CUDA GPU with 32 GB and the gated weights)"

    def __init__(
        self,
        command: str | None = None,
        weights: str | None = None,
        url: str | None = None,
        api_key: str | None = None,
        min_gpu_gb: float = MIN_GPU_GB,
        gpus: Callable[[], list[Gpu]] = cuda_gpus,
        timeout_s: float = TIMEOUT_S,
    ) -> None:
        self.command = command or None
        self.weights = Path(weights).expanduser() if weights else None
        self.url = url.rstrip("/") if url else None
        self.api_key = api_key or None
        self.min_gpu_gb = float(min_gpu_gb)
        self.gpus = gpus
        self.timeout_s = timeout_s

    @classmethod
    def from_config(cls, **overrides: object) -> Sam3dObjects:
        """Settings from config_dir()/sam3d.json, then the ANNOTATOR_SAM3D_* variables, then `overrides`."""
        settings: dict[str, object] = {}
        path = config_dir() / CONFIG_FILE
        if path.is_file():
            try:
                settings.update(json.loads(path.read_text(encoding="utf-8")))
            except (OSError, ValueError) as error:
                raise EngineError(f"{path}: cannot be read as JSON settings: {error}") from error
        for key, variable in ENV.items():
            if os.environ.get(variable):
                settings[key] = os.environ[variable]
        settings.update(overrides)
        known = {k: v for k, v in settings.items() if k in (*ENV, "gpus", "timeout_s")}
        return cls(**known)  # type: ignore[arg-type]

    def availability(self) -> Availability:
        """Available with a server URL, or with a command, the weights and a big enough CUDA GPU."""
        if self.url:
            return Availability(True, f"SAM 3D Objects on the inference server {self.url}")
        missing = []
        if not self.command:
            missing.append(
                f"no way to run it is configured: set {ENV['command']} (a command in SAM 3D Objects' own "
                f"environment, e.g. one running model/reconstruct/sam3d_runner.py) or {ENV['url']} "
                f"(a Roboflow inference server), or write them in {config_dir() / CONFIG_FILE}"
            )
        if self.weights is None:
            missing.append(f"no weights folder: set {ENV['weights']} to SAM 3D Objects' checkpoints/hf folder")
        else:
            absent = [name for name in WEIGHT_FILES if not (self.weights / name).is_file()]
            if absent:
                missing.append(
                    f"the weights folder {self.weights} lacks {', '.join(absent)} (gated on Hugging Face: "
                    "facebook/sam-3d-objects, approved access needed)"
                )
        gpus = self.gpus()
        if not gpus:
            missing.append(f"no CUDA GPU found (SAM 3D Objects needs one with at least {self.min_gpu_gb:g} GB)")
        elif max(g.memory_gb for g in gpus) < self.min_gpu_gb:
            best = max(gpus, key=lambda g: g.memory_gb)
            missing.append(
                f"the largest CUDA GPU ({best.name}, {best.memory_gb:.0f} GB) has less than the "
                f"{self.min_gpu_gb:g} GB SAM 3D Objects needs"
            )
        if missing:
            return Availability(False, "; ".join(missing))
        best = max(gpus, key=lambda g: g.memory_gb)
        return Availability(True, f"SAM 3D Objects by command on {best.name} ({best.memory_gb:.0f} GB)")

    def run(
        self,
        image: np.ndarray,
        mask: np.ndarray,
        depth: np.ndarray | None = None,
        cancel: threading.Event | None = None,
    ) -> Iterator[Progress | Reconstruction]:
        """Yield progress, then the reconstruction; `depth` is not used (SAM 3D makes its own pointmap)."""
        image, mask, _ = check_inputs(image, mask, None)
        state = self.availability()
        if not state.available:
            raise EngineError(f"SAM 3D Objects cannot run here: {state.reason}")
        if self.url:
            yield Progress(0.05, f"sending the object to {self.url}")
            yield self._ask_server(image, mask, cancel)
        else:
            yield from self._run_command(image, mask, cancel)

    # -- the command ----------------------------------------------------------------------------------
    def _run_command(
        self, image: np.ndarray, mask: np.ndarray, cancel: threading.Event | None
    ) -> Iterator[Progress | Reconstruction]:
        with tempfile.TemporaryDirectory(prefix="annotator-sam3d-") as folder:
            work = Path(folder)
            cv2.imwrite(str(work / "image.png"), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
            cv2.imwrite(str(work / "mask.png"), mask.astype(np.uint8) * 255)
            request = {"weights": str(self.weights), "seed": 42}
            (work / "request.json").write_text(json.dumps(request), encoding="utf-8")
            argv = [*shlex.split(self.command or ""), str(work)]
            yield Progress(0.02, "starting SAM 3D Objects")
            try:
                process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1)
            except OSError as error:
                raise EngineError(f"cannot start the SAM 3D command {argv[0]!r}: {error}") from error
            yield from self._follow(process, cancel)
            result = self._collect(work, process)
        yield Progress(1.0, "done")
        yield result

    def _follow(self, process: subprocess.Popen[str], cancel: threading.Event | None) -> Iterator[Progress]:
        """Progress lines from the command until it exits; cancel or the time limit stops it."""
        lines: list[str] = []
        reader = threading.Thread(target=lambda: lines.extend(iter(process.stdout.readline, "")), daemon=True)  # type: ignore[union-attr]
        reader.start()
        started, seen = time.monotonic(), 0
        while process.poll() is None or reader.is_alive():
            if cancel is not None and cancel.is_set():
                process.kill()
                process.wait()
                raise Cancelled("SAM 3D Objects cancelled")
            if time.monotonic() - started > self.timeout_s:
                process.kill()
                process.wait()
                raise EngineError(f"SAM 3D Objects took longer than {self.timeout_s:.0f} s and was stopped")
            for line in lines[seen:]:
                step = _progress_line(line)
                if step is not None:
                    yield step
            seen = len(lines)
            reader.join(0.05)

    def _collect(self, work: Path, process: subprocess.Popen[str]) -> Reconstruction:
        errors = (process.stderr.read() if process.stderr else "")[-2000:]
        if process.returncode != 0:
            raise EngineError(f"the SAM 3D command failed (exit status {process.returncode}): {errors.strip()}")
        missing = [name for name in ("mesh.glb", "splat.ply", "result.json") if not (work / name).is_file()]
        if missing:
            raise EngineError(f"the SAM 3D command exited without writing {', '.join(missing)}")
        try:
            layout = json.loads((work / "result.json").read_text(encoding="utf-8"))
        except ValueError as error:
            raise EngineError(f"the SAM 3D command wrote an unreadable result.json: {error}") from error
        return self._result((work / "mesh.glb").read_bytes(), (work / "splat.ply").read_bytes(), layout, "command")

    # -- the server -----------------------------------------------------------------------------------
    def _ask_server(self, image: np.ndarray, mask: np.ndarray, cancel: threading.Event | None) -> Reconstruction:
        ok, png = cv2.imencode(".png", cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
        if not ok:
            raise EngineError("the image could not be encoded for the SAM 3D server")
        polygons = mask_polygons(mask)
        if not polygons:
            raise EngineError("the object mask has no outline of three or more points to send to the SAM 3D server")
        body = {
            "model_id": "sam3-3d-objects",
            "image": {"type": "base64", "value": base64.b64encode(png.tobytes()).decode("ascii")},
            "mask_input": polygons,
            "output_meshes": True,
            "output_scene": False,
            "with_mesh_postprocess": True,
            "with_texture_baking": True,
            "use_distillations": False,
        }
        url = f"{self.url}/sam3_3d/infer"
        if self.api_key:
            url += f"?api_key={urllib.parse.quote(self.api_key)}"
        request = urllib.request.Request(
            url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}, method="POST"
        )
        check_cancel(cancel, "SAM 3D Objects")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                answer = json.loads(response.read())
        except urllib.error.HTTPError as error:
            detail = error.read()[:500].decode("utf-8", "replace")
            raise EngineError(f"the SAM 3D server {self.url} answered {error.code}: {detail}") from error
        except (urllib.error.URLError, OSError) as error:
            raise EngineError(f"the SAM 3D server {self.url} cannot be reached: {error}") from error
        except ValueError as error:
            raise EngineError(f"the SAM 3D server {self.url} sent an answer that is not JSON: {error}") from error
        check_cancel(cancel, "SAM 3D Objects")
        objects = answer.get("objects") or [{}]
        try:
            glb = base64.b64decode(objects[0].get("mesh_glb") or answer["mesh_glb"])
            ply = base64.b64decode(objects[0].get("gaussian_ply") or answer["gaussian_ply"])
        except (KeyError, TypeError, ValueError) as error:
            raise EngineError(f"the SAM 3D server's answer lacks the mesh or the splat: {error}") from error
        return self._result(glb, ply, objects[0].get("metadata") or {}, "server")

    def _result(self, glb: bytes, ply: bytes, layout: dict, how: str) -> Reconstruction:
        if glb[:4] != b"glTF":
            raise EngineError(f"SAM 3D Objects ({how}) returned a mesh that is not a GLB file")
        if not ply.startswith(b"ply"):
            raise EngineError(f"SAM 3D Objects ({how}) returned a splat that is not a PLY file")
        return Reconstruction(
            glb, ply, layout_pose(layout), "full shape", self.name, notes=f"SAM 3D Objects ({how}); pose in its frame"
        )


def _progress_line(line: str) -> Progress | None:
    """A `progress FRACTION TEXT` line as Progress (capped below 1: the result is not read yet), else None."""
    parts = line.split(maxsplit=2)
    if len(parts) < 2 or parts[0] != "progress":
        return None
    try:
        fraction = min(max(float(parts[1]), 0.0), 0.99)
    except ValueError:
        return None
    return Progress(fraction, parts[2].strip() if len(parts) > 2 else "")


def layout_pose(layout: dict) -> np.ndarray:
    """4x4 from SAM 3D's layout: translation * rotation (quaternion w, x, y, z) * scale; identity parts when absent."""
    pose = np.eye(4)
    w, x, y, z = (float(v) for v in np.ravel(layout.get("rotation", (1, 0, 0, 0)))[:4])
    norm = max((w * w + x * x + y * y + z * z) ** 0.5, 1e-12)
    w, x, y, z = w / norm, x / norm, y / norm, z / norm
    rotation = np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
            [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
            [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
        ]
    )
    scale = np.ravel(layout.get("scale", (1, 1, 1))).astype(float)
    scale = np.resize(scale, 3) if scale.size else np.ones(3)
    pose[:3, :3] = rotation * scale[None, :]
    pose[:3, 3] = np.resize(np.ravel(layout.get("translation", (0, 0, 0))).astype(float), 3)
    return pose


def mask_polygons(mask: np.ndarray) -> list[list[float]]:
    """The mask's outer outlines as COCO polygons (flat x, y lists in pixels), largest first."""
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    contours = sorted((c for c in contours if len(c) >= 3), key=cv2.contourArea, reverse=True)
    return [c.reshape(-1).astype(float).tolist() for c in contours]
