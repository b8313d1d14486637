"""SAM 2.1 / SAM 3 tracker video sessions that stream frames from a FrameSource.

transformers' inference session keeps every preprocessed frame (and every tracked frame's
outputs) in memory. Here the session reads a frame from the FrameSource when the model asks for
it (with read-ahead in a thread while propagating), and forgets tracked outputs that the memory
bank can no longer use, so memory stays flat however long the video.

Semantics follow the reference SAM 2.1 video predictor: a prompted frame becomes a conditioning
frame (corrections on tracked frames too); a click on a frame that already has a result refines
it from its previous logits; a mask prompt is taken as the object's mask on that frame.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

from model.errors import EngineError
from model.frames import read_ahead
from model.protocol import Direction, FrameSource, Prompt, check_image

if TYPE_CHECKING:
    from model.sam.engine import SamEngine

log = logging.getLogger(__name__)

BOX_LABELS = (2, 3)  # the prompt encoder's labels for a box's top-left and bottom-right corners
LOGIT_LIMIT = 32.0  # previous logits fed back are clamped like the reference does


def streaming_session_class(base: type) -> type:
    """A subclass of transformers' inference session that reads frames on demand."""

    class StreamingSession(base):  # type: ignore[misc, valid-type]
        def __init__(self, session: SamVideoSession, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self._owner = session

        @property
        def num_frames(self) -> int:
            return len(self._owner.frames)

        def get_frame(self, frame_idx: int) -> Any:
            return self._owner.pixels(frame_idx)

    return StreamingSession


class SamVideoSession:
    """A VideoSession over a SAM 2.1 / SAM 3 tracker video model; object ids are the caller's."""

    def __init__(self, engine: SamEngine, frames: FrameSource) -> None:
        import torch

        if len(frames) == 0:
            raise EngineError("the video has no frames")
        self._torch = torch
        self.engine = engine
        self.frames = frames
        self.model = engine.video_model()
        self.image_size: tuple[int, int] = tuple(check_image(frames[0]).shape[:2])  # type: ignore[assignment]
        self._prefetched: dict[int, np.ndarray] = {}
        self.scores: dict[int, float] = {}  # confidence per object on the frame yielded last
        self._logits: dict[int, float] = {}  # object score logit per object index, last inference
        module = __import__(type(self.model).__module__, fromlist=["_"])
        base = getattr(module, str(engine.family.video_session))
        self.state = streaming_session_class(base)(
            self,
            video_height=self.image_size[0],
            video_width=self.image_size[1],
            inference_device=engine.device,
            inference_state_device=engine.device,
            video_storage_device=engine.device,
            dtype=torch.float32,
            max_vision_features_cache_size=1,
        )
        config = self.model.config
        # Tracked frames further than this from where tracking is (and from every prompted frame)
        # can no longer be read by the memory bank: their outputs are dropped.
        self.window = max(int(config.num_maskmem), int(config.max_object_pointers_in_encoder)) + 1
        self._active: set[int] = set()  # object indices with a prompt
        # With the ONNX runtime, frames go through the (faster) ONNX image encoder; its output is
        # checked once against the video model's own encoder before it is trusted.
        self._onnx = engine.runtime == "onnx"  # int8 features fail the check below: frames use torch
        self._positions: list[Any] | None = None

    # -- frames

    def pixels(self, index: int) -> Any:
        """The model input for frame `index` (from the read-ahead when propagating)."""
        if not 0 <= index < len(self.frames):
            raise EngineError(f"frame {index} is outside the video (0..{len(self.frames) - 1})")
        image = self._prefetched.get(index)
        if image is None:
            image = self.frames[index]
        image = check_image(image)
        if image.shape[:2] != self.image_size:
            raise EngineError(
                f"frame {index} is {image.shape[1]}x{image.shape[0]}, the video's first frame is "
                f"{self.image_size[1]}x{self.image_size[0]}"
            )
        return self.engine.family.preprocess(image, self.engine.size, self.engine.device, frame=True)[0]

    def _ensure_features(self, frame: int) -> None:
        """Put frame's image features in the session's cache, from ONNX Runtime when it is usable."""
        state = self.state
        if not self._onnx or state.cache.get_vision_features(frame) is not None:
            return
        torch = self._torch
        pixels = self.pixels(frame)[None]
        try:
            encoder, _ = self.engine.onnx_parts()
            levels = encoder(pixels.cpu().numpy())
        except EngineError as error:
            self.engine.onnx_failed(error)
            self._onnx = False
            return
        no_memory = self.model.no_memory_embedding.detach().reshape(1, 1, -1).cpu()
        feats = [torch.from_numpy(level).flatten(2).permute(2, 0, 1) for level in levels]
        feats[-1] = feats[-1] - no_memory  # the image model adds it for single images
        if self._positions is None:  # the first frame: the video model's own encoder, once
            own = self.model.get_image_features(pixels, return_dict=True)
            agree = len(own.fpn_hidden_states) == len(feats) and all(
                a.shape == b.shape and torch.allclose(a.cpu(), b, rtol=1e-3, atol=1e-3)
                for a, b in zip(own.fpn_hidden_states, feats, strict=False)
            )
            if not agree:
                log.info("ONNX image features differ from the video model's; frames use torch")
                self._onnx = False
                return
            self._positions = list(own.fpn_position_encoding)
        device = self.engine.device
        state.cache.cache_vision_features(
            frame, {"vision_feats": [f.to(device) for f in feats], "vision_pos_embeds": self._positions}
        )

    # -- prompts

    def add_prompt(self, frame: int, obj_id: int, prompt: Prompt) -> np.ndarray:
        """Prompt one object on one frame; returns its HxW bool mask on that frame."""
        if not 0 <= frame < len(self.frames):
            raise EngineError(f"frame {frame} is outside the video (0..{len(self.frames) - 1})")
        state = self.state
        obj_idx = state.obj_id_to_idx(obj_id)
        if len(prompt.points) or prompt.box is not None:
            state.add_point_inputs(obj_idx, frame, self._point_inputs(prompt))
            state.remove_mask_inputs(obj_idx, frame)
        elif prompt.mask is not None:
            state.add_mask_inputs(obj_idx, frame, self._mask_input(prompt.mask))
            state.remove_point_inputs(obj_idx, frame)
        else:
            raise EngineError("the prompt has no points, box or mask")
        self._active.add(obj_idx)
        masks = self.engine.run(lambda: self._infer(frame, [obj_idx], reverse=False, prompted={obj_idx}))
        return masks[obj_id]

    def _point_inputs(self, prompt: Prompt) -> dict[str, Any]:
        torch = self._torch
        engine = self.engine
        points, corners = engine.family.to_model_space(prompt.points, prompt.box, self.image_size, engine.size)
        labels = prompt.labels.astype(np.int32)
        if corners is not None:
            points = np.concatenate([corners, points])
            labels = np.concatenate([np.array(BOX_LABELS, np.int32), labels])
        return {
            "point_coords": torch.from_numpy(points.astype(np.float32))[None, None],
            "point_labels": torch.from_numpy(labels)[None, None],
        }

    def _mask_input(self, mask: np.ndarray) -> Any:
        torch = self._torch
        import torch.nn.functional as F

        mask = np.asarray(mask, bool)
        if mask.shape != self.image_size:
            raise EngineError(f"prompt mask of shape {mask.shape} on a video of size {self.image_size}")
        size = self.engine.size
        tensor = torch.from_numpy(mask).to(self.engine.device).float()[None, None]
        resized = F.interpolate(tensor, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
        return (resized >= 0.5).float()

    def remove_object(self, obj_id: int) -> None:
        """Forget one object and all its prompts (the id may be prompted again later)."""
        state = self.state
        obj_idx = state._obj_id_to_idx.get(obj_id)
        if obj_idx is None:
            return
        self._active.discard(obj_idx)
        state.point_inputs_per_obj[obj_idx].clear()
        state.mask_inputs_per_obj[obj_idx].clear()
        for outputs in state.output_dict_per_obj[obj_idx].values():
            outputs.clear()
        state.frames_tracked_per_obj[obj_idx].clear()

    # -- propagation

    def propagate(
        self, start: int, direction: Direction = "forward", cancel: threading.Event | None = None
    ) -> Iterator[tuple[int, dict[int, np.ndarray]]]:
        """Stream (frame, {obj_id: HxW bool mask}) from `start` (included once), stopping when `cancel` is set."""
        if direction not in ("forward", "backward", "both"):
            raise EngineError(f"unknown direction '{direction}'")
        if not 0 <= start < len(self.frames):
            raise EngineError(f"frame {start} is outside the video (0..{len(self.frames) - 1})")
        if not self._active:
            raise EngineError("no object has a prompt in this video session")
        runs: list[tuple[range, bool]] = []
        if direction in ("forward", "both"):
            runs.append((range(start, len(self.frames)), False))
        if direction in ("backward", "both"):
            runs.append((range(start, -1, -1), True))
        for number, (order, reverse) in enumerate(runs):
            frames = read_ahead(self.frames, order)
            try:
                for index, image in frames:
                    if cancel is not None and cancel.is_set():
                        return
                    self._prefetched = {index: image}
                    objects = sorted(self._active)
                    masks = self.engine.run(lambda: self._infer(index, objects, reverse, prompted=set()))  # noqa: B023
                    self.scores = {
                        self.state.obj_idx_to_id(i): _sigmoid(self._logits[i]) for i in objects if i in self._logits
                    }
                    for obj_idx in objects:
                        self.state.frames_tracked_per_obj[obj_idx][index] = {"reverse": reverse}
                    self._forget_far(index)
                    if number > 0 and index == start:
                        continue
                    yield index, masks
                    if cancel is not None and cancel.is_set():
                        return
            finally:
                self._prefetched = {}
                frames.close()

    def _infer(self, frame: int, objects: list[int], reverse: bool, prompted: set[int]) -> dict[int, np.ndarray]:
        """One tracking step on `frame` for the given objects; their masks at the video's size."""
        torch = self._torch
        state, model = self.state, self.model
        self._ensure_features(frame)
        results: dict[int, Any] = {}
        encode: dict[bool, list[tuple[int, Any, Any]]] = {True: [], False: []}
        for obj_idx in objects:
            outputs = state.output_dict_per_obj[obj_idx]
            if obj_idx not in prompted and frame in outputs["cond_frame_outputs"]:
                results[obj_idx] = outputs["cond_frame_outputs"][frame]["pred_masks"]
                self._logits[obj_idx] = float("inf")  # the user's own prompt: sure
                continue
            points = state.point_inputs_per_obj[obj_idx].get(frame) if obj_idx in prompted else None
            mask = state.mask_inputs_per_obj[obj_idx].get(frame) if obj_idx in prompted else None
            previous = None
            if points is not None:
                before = outputs["cond_frame_outputs"].get(frame) or outputs["non_cond_frame_outputs"].get(frame)
                if before is not None:
                    previous = torch.clamp(before["pred_masks"].to(self.engine.device), -LOGIT_LIMIT, LOGIT_LIMIT)
            tracked = state.frames_tracked_per_obj[obj_idx].get(frame)
            current = model._run_single_frame_inference(
                inference_session=state,
                frame_idx=frame,
                obj_idx=obj_idx,
                batch_size=1,
                is_init_cond_frame=obj_idx in prompted and tracked is None,
                point_inputs=points,
                mask_inputs=mask,
                reverse=tracked["reverse"] if tracked is not None else reverse,
                prev_sam_mask_logits=previous,
                streaming=False,
            )
            high_res = current.pop("high_res_masks")
            conditioning = obj_idx in prompted
            if conditioning:
                outputs["non_cond_frame_outputs"].pop(frame, None)
            state.store_output(obj_idx, frame, output_value=current, is_conditioning_frame=conditioning)
            encode[points is not None].append((obj_idx, high_res, current["object_score_logits"]))
            self._logits[obj_idx] = float(current["object_score_logits"].float().reshape(-1)[0])
            results[obj_idx] = current["pred_masks"]
        for from_points, group in encode.items():
            if group:
                model._batch_encode_memories(
                    inference_session=state,
                    frame_idx=frame,
                    objects_needing_memory_encoding=[g[0] for g in group],
                    high_res_masks_for_memory=[g[1] for g in group],
                    object_score_logits_for_memory=[g[2] for g in group],
                    is_mask_from_pts_per_obj=[from_points] * len(group),
                )
        if not objects:
            return {}
        low = torch.cat([results[i].reshape(1, *results[i].shape[-2:]) for i in objects]).float()
        masks = self.engine.family.masks_to_image(low, self.image_size, self.engine.size)
        return {state.obj_idx_to_id(i): masks[n] for n, i in enumerate(objects)}

    def _forget_far(self, frame: int) -> None:
        """Drop tracked (non-prompted) outputs that the memory bank can no longer read."""
        for obj_idx in self._active:
            outputs = self.state.output_dict_per_obj[obj_idx]
            anchors = [frame, *outputs["cond_frame_outputs"]]
            for old in list(outputs["non_cond_frame_outputs"]):
                if all(abs(old - anchor) > self.window for anchor in anchors):
                    del outputs["non_cond_frame_outputs"][old]

    def close(self) -> None:
        """Release what the session holds."""
        self._active.clear()
        self.state.reset_inference_session()
        self._prefetched = {}


def _sigmoid(logit: float) -> float:
    """The probability of a logit, safe at +-inf."""
    if logit >= 0:
        return 1.0 / (1.0 + math.exp(-min(logit, 700.0)))
    return math.exp(max(logit, -700.0)) / (1.0 + math.exp(max(logit, -700.0)))
