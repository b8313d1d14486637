"""SAM 2.1 image engine through transformers' Sam2Model, with our own torch pre/post-processing.

Pre-processing as the reference SAM2 predictor: the image is resized (not padded) to the model's
square input size with antialiased bilinear interpolation, scaled to [0, 1] and normalised with
the ImageNet mean/std; prompt coordinates (x, y in image pixels) are scaled by size/W and size/H.
Post-processing: the low-resolution mask logits are upsampled bilinearly to the original image
size and thresholded at 0.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from model.errors import EngineError, WeightsUnavailable
from model.paths import weights_dir
from model.protocol import Embedding, FrameSource, Prediction, Prompt, VideoSession, check_image
from model.sam.catalog import CATALOG

log = logging.getLogger(__name__)

MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)


def _device(requested: str | None) -> str:
    import torch

    if requested in (None, "auto"):
        if torch.cuda.is_available():
            return "cuda"
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return "mps"
        return "cpu"
    return requested


def load_model(name: str, weights: str | None) -> Any:
    """A Sam2Model: from a transformers-format folder, the weights folder, or random ('random')."""
    from transformers import Sam2Config, Sam2Model

    if weights == "random":
        return Sam2Model(Sam2Config())  # the default config is the SAM 2.1 tiny architecture
    folder = Path(weights) if weights else weights_dir() / name
    if not (folder / "config.json").is_file():
        entry = CATALOG.get(name)
        hub = f" (hub id {entry.hub_id})" if entry else ""
        raise WeightsUnavailable(name, f"config.json and model.safetensors{hub}", str(folder), "not found")
    try:
        return Sam2Model.from_pretrained(str(folder))
    except (OSError, ValueError) as error:
        raise EngineError(f"cannot load model '{name}' from {folder}: {error}") from error


class Sam2ImageEngine:
    """embed / predict with a SAM 2.1 model (video sessions: not yet; use the classic engine)."""

    name = "sam2"

    def __init__(self, model: Any, model_id: str, device: str = "cpu") -> None:
        import torch

        self._torch = torch
        self.model = model.to(device).eval()
        self.model_id = model_id
        self.device = device
        self.size = int(model.config.prompt_encoder_config.image_size)

    def embed(self, image: np.ndarray) -> Embedding:
        """Run the image encoder once for an HxWx3 uint8 RGB image."""
        torch = self._torch
        image = check_image(image)
        tensor = torch.from_numpy(image).to(self.device).permute(2, 0, 1)[None].float() / 255.0
        tensor = torch.nn.functional.interpolate(
            tensor, size=(self.size, self.size), mode="bilinear", align_corners=False, antialias=True
        )
        mean = torch.tensor(MEAN, device=self.device).view(1, 3, 1, 1)
        std = torch.tensor(STD, device=self.device).view(1, 3, 1, 1)
        with torch.inference_mode():
            features = self.model.get_image_embeddings((tensor - mean) / std)
        data = {f"features_{i}": f.float().cpu().numpy() for i, f in enumerate(features)}
        nbytes = sum(a.nbytes for a in data.values())
        return Embedding(self.model_id, image.shape[:2], data, nbytes)

    def predict(self, embedding: Embedding, prompt: Prompt) -> Prediction:
        """Candidate masks (KxHxW bool), predicted IoUs, low-res logits for a prompt."""
        torch = self._torch
        if embedding.model_id != self.model_id:
            raise EngineError(f"embedding of model {embedding.model_id} given to {self.model_id}")
        height, width = embedding.image_size
        if prompt.is_empty or (len(prompt.points) == 0 and prompt.box is None):
            return _empty(height, width)
        scale = np.array([self.size / width, self.size / height], np.float32)
        kwargs: dict[str, Any] = {}
        if len(prompt.points):
            points = np.clip(prompt.points, 0, [width, height]) * scale
            kwargs["input_points"] = torch.from_numpy(points).to(self.device)[None, None]
            kwargs["input_labels"] = torch.from_numpy(prompt.labels.astype(np.int64)).to(self.device)[None, None]
        if prompt.box is not None:
            box = np.clip(prompt.box.reshape(2, 2), 0, [width, height]) * scale
            if (box[1] - box[0] <= 0).any() and not len(prompt.points):
                return _empty(height, width)
            kwargs["input_boxes"] = torch.from_numpy(box.reshape(1, 1, 4)).to(self.device)
        if prompt.logits is not None:
            logits = np.asarray(prompt.logits, np.float32).reshape(1, 1, *np.asarray(prompt.logits).shape[-2:])
            kwargs["input_masks"] = torch.from_numpy(logits).to(self.device)
        multimask = prompt.multimask and len(prompt.points) <= 1 and prompt.box is None
        features = [torch.from_numpy(embedding.data[f"features_{i}"]).to(self.device) for i in range(3)]
        with torch.inference_mode():
            out = self.model(image_embeddings=features, multimask_output=multimask, **kwargs)
            low = out.pred_masks[0, 0].float()  # K x h x w
            full = torch.nn.functional.interpolate(
                low[None], size=(height, width), mode="bilinear", align_corners=False
            )
        masks = (full[0] > 0).cpu().numpy()
        return Prediction(masks, out.iou_scores[0, 0].float().cpu().numpy(), low.cpu().numpy())

    def open_video(self, frames: FrameSource) -> VideoSession:
        """Not available yet for SAM 2.1 here."""
        raise EngineError("video propagation with SAM 2.1 is not implemented yet; use the classic engine")


def _empty(height: int, width: int) -> Prediction:
    return Prediction(np.zeros((1, height, width), bool), np.zeros(1, np.float32), np.zeros((1, 64, 64), np.float32))


def create_engine(model: str, weights: str | None = None, device: str | None = None) -> Sam2ImageEngine:
    """Registry factory: model name from the catalog, weights folder (or 'random'), device."""
    loaded = load_model(model, weights)
    suffix = "-random" if weights == "random" else ""
    return Sam2ImageEngine(loaded, f"{model}{suffix}", _device(device))
