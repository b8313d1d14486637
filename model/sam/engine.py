"""SAM, SAM 2.1 and SAM 3 tracker image engines through transformers, with our own pre/post-processing.

The transformers model does the network; everything around it (resize, normalise, coordinate
transforms, logits to masks at the original size) is in `model.sam.families`. Video sessions are
in `model.sam.video`; their model (with the memory modules) is loaded on first use.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from model.device import autocast, is_out_of_memory, move, pick_device, pick_precision, release
from model.errors import EngineError, WeightsUnavailable
from model.paths import weights_dir
from model.protocol import (
    Embedding,
    EverythingSettings,
    FrameSource,
    Instance,
    Prediction,
    Progress,
    Prompt,
    VideoSession,
    check_image,
)
from model.sam.catalog import CATALOG
from model.sam.families import FAMILIES, Family

log = logging.getLogger(__name__)

T = TypeVar("T")
META_SUFFIXES = (".pt", ".pth")
# What `everything` uses when given no settings.
DEFAULT_EVERYTHING = EverythingSettings()


def model_class(family: Family, video: bool) -> Any:
    """The transformers class for the family's image (or video) model."""
    import transformers

    name = family.video_model if video else family.image_model
    if name is None:
        raise EngineError(f"{family.architecture} has no video model; use SAM 2.1, SAM 3 or the classic engine")
    return getattr(transformers, name)


def load_model(name: str, family: Family, weights: str | None, video: bool = False) -> Any:
    """A transformers model: from a folder in transformers format, a Meta checkpoint file (.pt/.pth),
    the installed weights folder (weights=None), or random weights of the full architecture ('random')."""
    import transformers

    cls = model_class(family, video)
    if weights == "random":  # seeded: the same random model every time, as its model id says
        import torch

        config_name = family.video_config if video else family.image_config
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            return cls(getattr(transformers, str(config_name))())
    path = Path(weights) if weights else weights_dir() / name
    if path.is_file() and path.suffix in META_SUFFIXES:
        from model.sam.convert import load_meta_checkpoint

        loaded = load_meta_checkpoint(path, video=video)
        if not isinstance(loaded, cls):
            raise EngineError(
                f"{path}: holds a {type(loaded).__name__} checkpoint, not one for {name} ({cls.__name__})"
            )
        return loaded
    if not (path / "config.json").is_file():
        entry = CATALOG.get(name)
        hub = f" (hub id {entry.hub_id})" if entry else ""
        raise WeightsUnavailable(name, f"config.json and model.safetensors{hub}", str(path), "not found")
    # The hub checkpoints hold the video model; the image model loads its shared part, which
    # transformers would warn about on every load.
    verbosity = transformers.logging.get_verbosity()
    transformers.logging.set_verbosity_error()
    try:
        loaded, info = cls.from_pretrained(str(path), output_loading_info=True)
        if info.get("missing_keys") and family.architecture == "sam3" and config_type(path) == "sam3_video":
            loaded, info = cls.from_pretrained(str(path), output_loading_info=True, key_mapping=SAM3_VIDEO_KEYS)
    except (OSError, ValueError, RuntimeError, KeyError) as error:
        raise EngineError(f"cannot load model '{name}' from {path}: {error}") from error
    finally:
        transformers.logging.set_verbosity(verbosity)
    missing = list(info.get("missing_keys") or [])
    if missing:
        part = "video (memory) weights" if video else "weights"
        raise EngineError(
            f"cannot load model '{name}' from {path}: the checkpoint lacks {len(missing)} {part}, "
            f"e.g. {', '.join(sorted(missing)[:3])}"
        )
    return loaded


def config_type(path: Path) -> str | None:
    """The model_type of a transformers weights folder's config.json (None when unreadable)."""
    import json

    try:
        return json.loads((path / "config.json").read_text(encoding="utf-8")).get("model_type")
    except (OSError, ValueError, AttributeError):
        return None


def weights_fingerprint(path: Path) -> str:
    """A short hash of the weight files' names, sizes and modification times: embeddings cached on
    disk belong to one set of weights, not just to a model name."""
    import hashlib

    files = [path] if path.is_file() else sorted(p for p in path.iterdir() if p.is_file())
    digest = hashlib.sha1()
    for file in files:
        stat = file.stat()
        digest.update(f"{file.name}:{stat.st_size}:{stat.st_mtime_ns};".encode())
    return digest.hexdigest()[:8]


def feature_arrays(embedding: Embedding) -> list[np.ndarray]:
    """The image-feature levels of an embedding (features_0, features_1, ...), in order."""
    count = sum(1 for key in embedding.data if key.startswith("features_"))
    return [embedding.data[f"features_{i}"] for i in range(count)]


# transformers' renaming of a SAM 3 video checkpoint (detector + tracker) for the tracker classes,
# given explicitly when the built-in mapping leaves weights missing.
SAM3_VIDEO_KEYS = {
    r"^tracker_model\.(.+)": r"\1",
    r"^detector_model\.vision_encoder\.backbone\.": "vision_encoder.backbone.",
    r"^tracker_neck\.": "vision_encoder.neck.",
}


@dataclass(frozen=True)
class ModelPrompt:
    """A prompt in model-input pixels: points Nx2 float32 with labels N int64, box (4,) float32,
    previous low-res logits; each None when absent."""

    points: np.ndarray | None
    labels: np.ndarray | None
    box: np.ndarray | None
    logits: np.ndarray | None


class SamEngine:
    """embed / predict / open_video for one SAM-family model on one device."""

    def __init__(
        self,
        family: Family,
        model: Any,
        model_id: str,
        device: str = "cpu",
        precision: str | None = None,
        video_loader: Callable[[], Any] | None = None,
        runtime: str | None = None,
    ) -> None:
        import torch

        self._torch = torch
        self.family = family
        self.name = family.architecture
        self.device = pick_device(device)
        self.precision = pick_precision(self.device, precision)
        self.model = move(model, self.device)
        self.model_id = model_id
        self.size = int(model.config.prompt_encoder_config.image_size)
        sizes = getattr(model.config.vision_config, "backbone_feature_sizes", None)
        self.low_size = int(sizes[0][0]) if sizes else self.size // 4
        self.warnings: list[str] = []
        self._video_loader = video_loader
        self._video_model: Any = None
        self.runtime = pick_runtime(runtime, self.device, self.precision)
        self._onnx_encoder: Any = None
        self._onnx_decoder: Any = None

    # -- running on the device, with the CPU as the fallback when the accelerator runs out of memory

    def run(self, work: Callable[[], T]) -> T:
        """Run `work` in inference mode at the engine's precision; OOM on an accelerator moves to the CPU."""
        torch = self._torch
        try:
            with torch.inference_mode(), autocast(self.device, self.precision):
                return work()
        except Exception as error:
            if self.device == "cpu" or not is_out_of_memory(error):
                raise
            self.fall_back_to_cpu(error)
        with torch.inference_mode():
            return work()

    def warn(self, message: str) -> None:
        """Log a warning and keep it in `warnings` (the bridge passes those on to the window)."""
        log.warning(message)
        self.warnings.append(message)

    def fall_back_to_cpu(self, error: BaseException) -> None:
        """Move the models to the CPU after `error` (out of memory), with a warning."""
        previous = self.device
        self.device, self.precision = "cpu", "fp32"
        self.model = move(self.model, "cpu")
        if self._video_model is not None:
            self._video_model = move(self._video_model, "cpu")
        release(previous)
        self.warn(f"{self.model_id}: out of memory on {previous} ({error}); now running on the CPU")

    # -- ONNX Runtime (CPU): the encoder and the prompt encoder + mask decoder, exported on first use

    def onnx_failed(self, error: BaseException) -> None:
        """Go back to torch for good after an ONNX export or run failure, with a warning."""
        self.runtime = "torch"
        self._onnx_encoder = self._onnx_decoder = None
        self.warn(f"{self.model_id}: ONNX Runtime failed ({error}); running with torch")

    def onnx_parts(self) -> tuple[Any, Any]:
        """(encoder, decoder) run by onnxruntime, created on first use (graphs cached under the cache dir)."""
        if self._onnx_decoder is None:
            from model.paths import cache_dir
            from model.sam.onnx_decoder import OnnxDecoder, OnnxEncoder

            folder = cache_dir() / "onnx"
            self._onnx_encoder = OnnxEncoder(self.model, folder, int8=self.runtime == "onnx-int8")
            self._onnx_decoder = OnnxDecoder(self.model, folder)
            # Export (or load) every graph now, so that no click waits for an export.
            self._onnx_encoder.session()
            for multimask in (True, False):
                self._onnx_decoder.session(multimask)
        return self._onnx_encoder, self._onnx_decoder

    # -- images

    def preprocess(self, image: np.ndarray) -> Any:
        """HxWx3 uint8 RGB -> the 1x3xSxS input tensor on the engine's device."""
        return self.family.preprocess(image, self.size, self.device)

    def embed(self, image: np.ndarray) -> Embedding:
        """Run the image encoder once for an HxWx3 uint8 RGB image."""
        image = check_image(image)
        data = {f"features_{i}": f for i, f in enumerate(self._encode(image))}
        return Embedding(self.model_id, image.shape[:2], data, sum(a.nbytes for a in data.values()))

    def _encode(self, image: np.ndarray) -> list[np.ndarray]:
        """The image features, level by level: from ONNX Runtime when it is in use, else torch."""
        if self.runtime.startswith("onnx"):
            try:
                encoder, _ = self.onnx_parts()
                return encoder(self.preprocess(image).cpu().numpy())
            except EngineError as error:
                self.onnx_failed(error)

        def work() -> list[np.ndarray]:
            features = self.model.get_image_embeddings(self.preprocess(image))
            if not isinstance(features, list | tuple):
                features = [features]
            return [f.float().cpu().numpy() for f in features]

        return self.run(work)

    def features(self, embedding: Embedding) -> Any:
        """The embedding's features as the model's forward wants them."""
        torch = self._torch
        levels = [torch.from_numpy(a).to(self.device) for a in feature_arrays(embedding)]
        return levels[0] if self.family.longest_side else levels

    def model_prompt(self, prompt: Prompt, image_size: tuple[int, int]) -> ModelPrompt | None:
        """The prompt in model-input pixels; None when it cannot give a mask (no points, empty box).
        A previous mask (a user's edit) is given to the decoder as its mask input when there are no
        previous logits."""
        if len(prompt.points) == 0 and prompt.box is None:
            return None
        scaled, corners = self.family.to_model_space(prompt.points, prompt.box, image_size, self.size)
        points = labels = box = logits = None
        if len(prompt.points):
            points, labels = scaled, prompt.labels.astype(np.int64)
        if corners is not None:
            if (corners[1] - corners[0] <= 0).any() and points is None:
                return None
            box = corners.reshape(4)
        if prompt.logits is not None and np.asarray(prompt.logits).shape[-2:] == (self.low_size, self.low_size):
            logits = np.asarray(prompt.logits, np.float32)
        elif prompt.mask is not None and prompt.mask.shape == tuple(image_size) and prompt.mask.any():
            logits = self.family.mask_to_logits(prompt.mask, self.size, self.low_size)
        return ModelPrompt(points, labels, box, logits)

    def predict(self, embedding: Embedding, prompt: Prompt) -> Prediction:
        """Candidate masks (KxHxW bool), predicted IoUs, low-res logits for a prompt."""
        if embedding.model_id != self.model_id:
            raise EngineError(f"embedding of model {embedding.model_id} given to {self.model_id}")
        inputs = self.model_prompt(prompt, embedding.image_size)
        if inputs is None:
            return self.empty(embedding.image_size)
        multimask = prompt.multimask and len(prompt.points) <= 1 and prompt.box is None
        low, scores = self._decode(embedding, inputs, multimask)
        masks = self.family.masks_to_image(low, embedding.image_size, self.size)
        return Prediction(masks, scores.cpu().numpy(), low.cpu().numpy())

    def _decode(self, embedding: Embedding, inputs: ModelPrompt, multimask: bool) -> tuple[Any, Any]:
        """(K x h x w low-res logits, K scores) as tensors: from ONNX Runtime when it is in use, else torch."""
        torch = self._torch
        if self.runtime.startswith("onnx"):
            try:
                _, decoder = self.onnx_parts()
                features = feature_arrays(embedding)
                low, scores = decoder(features, inputs.points, inputs.labels, inputs.box, inputs.logits, multimask)
                return torch.from_numpy(low), torch.from_numpy(scores)
            except EngineError as error:
                self.onnx_failed(error)

        def tensor(array: np.ndarray, shape: tuple[int, ...]) -> Any:
            return torch.from_numpy(array.reshape(shape)).to(self.device)

        kwargs: dict[str, Any] = {}
        if inputs.points is not None and inputs.labels is not None:
            kwargs["input_points"] = tensor(inputs.points, (1, 1, -1, 2))
            kwargs["input_labels"] = tensor(inputs.labels, (1, 1, -1))
        if inputs.box is not None:
            kwargs["input_boxes"] = tensor(inputs.box, (1, 1, 4))
        if inputs.logits is not None:
            kwargs["input_masks"] = tensor(inputs.logits, (1, 1, *inputs.logits.shape[-2:]))

        def work() -> tuple[Any, Any]:
            out = self.model(image_embeddings=self.features(embedding), multimask_output=multimask, **kwargs)
            return out.pred_masks[0, 0].float(), out.iou_scores[0, 0].float()

        return self.run(work)

    def everything(
        self,
        embedding: Embedding,
        settings: EverythingSettings = DEFAULT_EVERYTHING,
        cancel: threading.Event | None = None,
        progress: Progress | None = None,
    ) -> list[Instance]:
        """Segment everything: a point grid decoded in batches, filtered and deduplicated (see model.sam.everything)."""
        from model.sam.everything import everything

        if embedding.model_id != self.model_id:
            raise EngineError(f"embedding of model {embedding.model_id} given to {self.model_id}")
        return everything(self, embedding, settings, cancel, progress)

    def empty(self, image_size: tuple[int, int]) -> Prediction:
        """No mask: what an empty prompt gives."""
        low = np.zeros((1, self.low_size, self.low_size), np.float32)
        return Prediction(np.zeros((1, *image_size), bool), np.zeros(1, np.float32), low)

    # -- video

    def video_model(self) -> Any:
        """The family's video model (memory modules included), loaded on first use."""
        if self._video_model is None:
            if self._video_loader is None:
                raise EngineError(f"{self.model_id}: no video model for this engine")
            self._video_model = move(self._video_loader(), self.device)
            if self.runtime.startswith("onnx"):  # the memory attention's large attentions on onnxruntime
                from model.sam.onnx_attention import use_fused_attention

                use_fused_attention(self._video_model)
        return self._video_model

    def open_video(self, frames: FrameSource) -> VideoSession:
        """A tracking session that streams frames from `frames` (never the whole video at once)."""
        from model.sam.video import SamVideoSession

        model_class(self.family, video=True)  # SAM (v1) has none: say so before loading anything
        return SamVideoSession(self, frames)


RUNTIMES = ("auto", "torch", "onnx", "onnx-int8")


def pick_runtime(requested: str | None, device: str, precision: str) -> str:
    """'auto': ONNX Runtime for fp32 on the CPU when onnxruntime is installed, else torch.
    'onnx-int8' (opt-in) also quantises the image encoder to int8: faster, slightly different masks."""
    if requested not in (None, "", *RUNTIMES):
        raise EngineError(f"unknown runtime '{requested}'; use {', '.join(RUNTIMES)}")
    if requested == "torch":
        return "torch"
    usable = device == "cpu" and precision == "fp32"
    if requested in ("onnx", "onnx-int8") and not usable:
        raise EngineError(f"the ONNX runtime runs fp32 on the CPU only (asked: {precision} on {device})")
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        if requested in ("onnx", "onnx-int8"):
            raise EngineError("the ONNX runtime was asked for but onnxruntime is not installed") from None
        return "torch"
    if not usable:
        return "torch"
    return "onnx-int8" if requested == "onnx-int8" else "onnx"


def create_engine(
    model: str,
    weights: str | None = None,
    device: str | None = None,
    precision: str | None = None,
    runtime: str | None = None,
) -> SamEngine:
    """Registry factory: model name from the catalog, weights (folder, .pt/.pth file or 'random'), device,
    precision (auto, fp32, bf16, fp16) and runtime (auto, torch, onnx)."""
    if model not in CATALOG:
        raise EngineError(f"unknown model '{model}'; known: {', '.join(CATALOG)}")
    family = FAMILIES[CATALOG[model].architecture]
    loaded = load_model(model, family, weights)
    if weights == "random":
        model_id = f"{model}-random"
    else:
        model_id = f"{model}@{weights_fingerprint(Path(weights) if weights else weights_dir() / model)}"
    video_loader = None
    if family.video_model is not None:

        def video_loader() -> Any:
            video = load_model(model, family, weights, video=True)
            if weights == "random":  # the image model's random weights, so that both agree
                video.load_state_dict(loaded.state_dict(), strict=False)
            return video

    folder = Path(weights) if weights else weights_dir() / model
    if family.architecture == "sam3" and weights != "random" and config_type(folder) in ("sam3_video", "sam3"):
        from model.sam.concepts import load_detector

        detector, tokenizer = load_detector(model, folder)
        from model.sam.concepts import Sam3ConceptEngine

        return Sam3ConceptEngine(
            family,
            loaded,
            f"{model_id}+concepts",
            device or "auto",
            precision,
            video_loader,
            runtime,
            detector=detector,
            tokenizer=tokenizer,
        )
    return SamEngine(family, loaded, model_id, device or "auto", precision, video_loader, runtime)
