"""SAM 3 concepts on images: a phrase and/or exemplar boxes find every instance (transformers' `Sam3Model`).

One engine serves the tracker's clicks and the detector's concepts over one image embedding:
the checkpoint stores one ViT, so the tracker's backbone module is replaced by the detector's
(tied, loaded once in memory) and `embed` runs it once. The embedding holds the tracker's three
feature levels (clicks work as with the plain SAM 3 tracker) and the ViT output; the detector's
FPN features are computed from it on the first `find` on an image and kept for the last few
images, text features are kept per phrase. Pre- and post-processing are ours: the image is
prepared as for the tracker (1008 px square, mean = std = 0.5), exemplar boxes go in as
normalised cx, cy, w, h, a query's score is sigmoid(logit) x sigmoid(presence), masks are its
logits > 0 brought to the image size. An exemplar-only concept uses the text "visual", as
transformers' and Meta's processors do.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from typing import Any

import numpy as np

from model.errors import Cancelled, EngineError
from model.protocol import Concept, Embedding, EverythingSettings, Instance, Progress, check_image
from model.sam.engine import DEFAULT_EVERYTHING, SamEngine
from model.sam.tokenizer import CONTEXT

log = logging.getLogger(__name__)

EXEMPLAR_TEXT = "visual"
# Images whose detector features are kept, and phrases whose text features are kept.
IMAGES_KEPT = 2
PHRASES_KEPT = 64
# Phrases sent through the detector in one batch (each one's masks are 200 x 288 x 288 logits).
PHRASES_PER_CALL = 4


class Sam3ConceptEngine(SamEngine):
    """The SAM 3 tracker (clicks, boxes, video) plus `find` over the detector, one ViT for both."""

    def __init__(self, *args: Any, detector: Any, tokenizer: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        from model.device import move
        from model.sam.roi_align import install

        install()
        self.detector = move(detector, self.device)
        # One ViT: the tracker uses the detector's backbone (the checkpoint stores a single copy).
        self.model.vision_encoder.backbone = self.detector.vision_encoder.backbone
        self.tokenizer = tokenizer
        self.runtime = "torch"  # the shared ViT runs in torch (the ONNX encoder would give the tracker's levels only)
        self._vision: OrderedDict[int, tuple[Embedding, Any]] = OrderedDict()
        self._text: OrderedDict[str, tuple[Any, Any]] = OrderedDict()

    def video_model(self) -> Any:
        """The tracker's video model, its ViT tied to the detector's as well."""
        video = super().video_model()
        video.vision_encoder.backbone = self.detector.vision_encoder.backbone
        return video

    def track_concept(self, frames: Any, every: int = 10, new_score: float = 0.5) -> Any:
        """A ConceptTracker over `frames`: detect, track every instance, re-detect every `every` frames."""
        from model.sam.concept_video import ConceptTracker

        return ConceptTracker(self, frames, every=every, new_score=new_score)

    # -- one embedding for clicks and concepts

    def embed(self, image: np.ndarray) -> Embedding:
        """Run the shared ViT once: the tracker's feature levels (for clicks) and the ViT output (for concepts)."""
        image = check_image(image)

        def work() -> dict[str, np.ndarray]:
            pixels = self.preprocess(image)
            vit = self.detector.vision_encoder.backbone(pixels).last_hidden_state
            levels = self.tracker_levels(vit, pixels.shape[-2:])
            data = {f"features_{i}": level.float().cpu().numpy() for i, level in enumerate(levels)}
            data["vit"] = vit.float().cpu().numpy()
            return data

        data = self.run(work)
        return Embedding(self.model_id, image.shape[:2], data, sum(a.nbytes for a in data.values()))

    def tracker_levels(self, vit: Any, size: tuple[int, int]) -> list[Any]:
        """The tracker's image embeddings (as `get_image_embeddings`) from the shared ViT's output."""
        patch = self.detector.config.vision_config.backbone_config.patch_size
        spatial = self._spatial(vit, size, patch)
        fpn, _ = self.model.vision_encoder.neck(spatial)
        levels = list(fpn)[: len(self.model.backbone_feature_sizes)]
        levels[0] = self.model.mask_decoder.conv_s0(levels[0])
        levels[1] = self.model.mask_decoder.conv_s1(levels[1])
        levels[-1] = levels[-1] + self.model.no_memory_embedding.view(1, -1, 1, 1)
        return levels

    @staticmethod
    def _spatial(vit: Any, size: tuple[int, int], patch: int) -> Any:
        """B x (h*w) x C ViT tokens -> B x C x h x w."""
        height, width = int(size[0]) // patch, int(size[1]) // patch
        return vit.view(vit.shape[0], height, width, -1).permute(0, 3, 1, 2)

    def vision_embeds(self, embedding: Embedding) -> Any:
        """The detector's vision features of an embedded image, computed once per image (the last few kept)."""
        key = id(embedding)
        if key in self._vision and self._vision[key][0] is embedding:
            self._vision.move_to_end(key)
            return self._vision[key][1]
        from transformers.models.sam3.modeling_sam3 import Sam3VisionEncoderOutput

        torch = self._torch
        vit = torch.from_numpy(embedding.data["vit"]).to(self.device)
        patch = self.detector.config.vision_config.backbone_config.patch_size
        fpn, positions = self.detector.vision_encoder.neck(self._spatial(vit, (self.size, self.size), patch))
        embeds = Sam3VisionEncoderOutput(last_hidden_state=vit, fpn_hidden_states=fpn, fpn_position_encoding=positions)
        self._vision[key] = (embedding, embeds)
        while len(self._vision) > IMAGES_KEPT:
            self._vision.popitem(last=False)
        return embeds

    def text_embeds(self, phrase: str) -> tuple[Any, Any]:
        """(text features, attention mask) of a phrase, cut to the encoder's 32 tokens (with a warning)."""
        if phrase in self._text:
            self._text.move_to_end(phrase)
            return self._text[phrase]
        full = self.tokenizer(phrase).input_ids
        if len(full) > CONTEXT:
            self.warn(f"the phrase '{phrase[:40]}...' has {len(full)} tokens; SAM 3 reads only the first {CONTEXT}")
        tokens = self.tokenizer(
            [phrase], padding="max_length", max_length=CONTEXT, truncation=True, return_tensors="pt"
        )
        ids = tokens.input_ids.to(self.device)
        mask = tokens.attention_mask.to(self.device)
        features = self.detector.get_text_features(input_ids=ids, attention_mask=mask, return_dict=True)
        self._text[phrase] = (features, mask)
        while len(self._text) > PHRASES_KEPT:
            self._text.popitem(last=False)
        return features, mask

    # -- concepts

    def find(self, embedding: Embedding, concept: Concept) -> list[Instance]:
        """Every instance of `concept` on an embedded image, best score first (scores >= concept.min_score)."""
        if embedding.model_id != self.model_id:
            raise EngineError(f"embedding of model {embedding.model_id} given to {self.model_id}")
        if "vit" not in embedding.data:
            raise EngineError(f"embedding of {embedding.model_id} holds no concept features; embed the image again")
        boxes = exemplar_boxes(concept, embedding.image_size)
        phrase = concept.text or EXEMPLAR_TEXT
        return self.run(lambda: self._find(embedding, phrase, boxes, concept))

    def _find(self, embedding: Embedding, phrase: str, boxes: np.ndarray | None, concept: Concept) -> list[Instance]:
        torch = self._torch
        text, mask = self.text_embeds(phrase)
        kwargs: dict[str, Any] = {}
        if boxes is not None:
            kwargs["input_boxes"] = torch.from_numpy(boxes[None]).to(self.device)
            kwargs["input_boxes_labels"] = torch.from_numpy(concept.box_labels.astype(np.int64)[None]).to(self.device)
        out = self.detector(
            vision_embeds=self.vision_embeds(embedding), text_embeds=text, attention_mask=mask, **kwargs
        )
        return self._instances(out, 0, embedding.image_size, concept.min_score, concept.text)

    def _instances(
        self, out: Any, index: int, image_size: tuple[int, int], min_score: float, label: str | None
    ) -> list[Instance]:
        """The instances of batch element `index` of a detector output, scoring >= min_score, best first."""
        torch = self._torch
        scores = (out.pred_logits[index].float().sigmoid() * out.presence_logits[index].float().sigmoid()).cpu()
        keep = torch.nonzero(scores >= min_score).flatten()
        keep = keep[torch.argsort(scores[keep], descending=True)]
        if len(keep) == 0:
            return []
        height, width = image_size
        masks = self.family.masks_to_image(out.pred_masks[index][keep].float(), (height, width), self.size)
        scale = np.array([width, height, width, height], np.float32)
        pred_boxes = out.pred_boxes[index][keep].float().cpu().numpy() * scale
        instances = []
        for mask, box, score in zip(masks, pred_boxes, scores[keep].tolist(), strict=True):
            if mask.any():
                instances.append(Instance(mask, np.clip(box, 0, scale).astype(np.float32), float(score), label))
        return instances

    def find_phrases(
        self,
        embedding: Embedding,
        phrases: list[str],
        min_score: float,
        cancel: threading.Event | None = None,
        progress: Progress | None = None,
    ) -> list[Instance]:
        """Every instance of each phrase (labelled with it), PHRASES_PER_CALL phrases per detector call; best first."""
        if embedding.model_id != self.model_id or "vit" not in embedding.data:
            raise EngineError(f"embedding of model {embedding.model_id} given to {self.model_id}")
        from transformers.modeling_outputs import BaseModelOutputWithPooling
        from transformers.models.sam3.modeling_sam3 import Sam3VisionEncoderOutput

        torch = self._torch
        found: list[Instance] = []
        for start in range(0, len(phrases), PHRASES_PER_CALL):
            if cancel is not None and cancel.is_set():
                raise Cancelled("finding the project's labels was cancelled")
            chunk = phrases[start : start + PHRASES_PER_CALL]

            def work(chunk: list[str] = chunk) -> list[Instance]:
                texts = [self.text_embeds(p) for p in chunk]
                pooled = torch.cat([t.pooler_output for t, _ in texts])
                mask = torch.cat([m for _, m in texts])
                vision = self.vision_embeds(embedding)
                count = len(chunk)
                batched = Sam3VisionEncoderOutput(
                    last_hidden_state=vision.last_hidden_state.expand(count, -1, -1),
                    fpn_hidden_states=tuple(f.expand(count, -1, -1, -1) for f in vision.fpn_hidden_states),
                    fpn_position_encoding=tuple(p.expand(count, -1, -1, -1) for p in vision.fpn_position_encoding),
                )
                out = self.detector(
                    vision_embeds=batched,
                    text_embeds=BaseModelOutputWithPooling(pooler_output=pooled),
                    attention_mask=mask,
                )
                return [
                    i
                    for b, phrase in enumerate(chunk)
                    for i in self._instances(out, b, embedding.image_size, min_score, phrase)
                ]

            found += self.run(work)
            if progress is not None:
                progress(min(start + PHRASES_PER_CALL, len(phrases)), len(phrases))
        return sorted(found, key=lambda i: -i.score)

    def everything(
        self,
        embedding: Embedding,
        settings: EverythingSettings = DEFAULT_EVERYTHING,
        cancel: threading.Event | None = None,
        progress: Progress | None = None,
    ) -> list[Instance]:
        """With `settings.concepts`: every instance of each phrase, labelled with it; else the tracker's point grid."""
        if not settings.concepts:
            return super().everything(embedding, settings, cancel, progress)
        phrases = list(dict.fromkeys(p.strip() for p in settings.concepts if p.strip()))
        return self.find_phrases(embedding, phrases, settings.concept_min_score, cancel, progress)


def exemplar_boxes(concept: Concept, image_size: tuple[int, int]) -> np.ndarray | None:
    """The concept's xyxy pixel boxes as K x 4 normalised cx, cy, w, h float32; None without boxes.

    A box outside the image or without area raises EngineError naming it.
    """
    if not len(concept.boxes):
        return None
    height, width = image_size
    out = []
    for box in concept.boxes:
        x0, y0, x1, y1 = (float(v) for v in box)
        if not np.isfinite(box).all():
            raise EngineError(f"exemplar box {box.tolist()} is not a number")
        cx0, cy0, cx1, cy1 = max(x0, 0.0), max(y0, 0.0), min(x1, float(width)), min(y1, float(height))
        if cx1 - cx0 < 1 or cy1 - cy0 < 1:
            raise EngineError(
                f"exemplar box {[round(v, 1) for v in box.tolist()]} is outside the {width}x{height} image "
                "or has no area"
            )
        out.append([(cx0 + cx1) / 2 / width, (cy0 + cy1) / 2 / height, (cx1 - cx0) / width, (cy1 - cy0) / height])
    return np.array(out, np.float32)


def load_detector(name: str, folder: Any) -> tuple[Any, Any]:
    """(Sam3Model, tokenizer) from a SAM 3 weights folder (transformers format, detector weights included)."""
    import transformers

    from model.sam.tokenizer import load_tokenizer

    tokenizer = load_tokenizer(folder)
    verbosity = transformers.logging.get_verbosity()
    transformers.logging.set_verbosity_error()
    try:
        detector, info = transformers.Sam3Model.from_pretrained(str(folder), output_loading_info=True)
    except (OSError, ValueError, RuntimeError, KeyError) as error:
        raise EngineError(f"cannot load the SAM 3 detector of '{name}' from {folder}: {error}") from error
    finally:
        transformers.logging.set_verbosity(verbosity)
    missing = sorted(info.get("missing_keys") or [])
    if missing:
        raise EngineError(
            f"cannot load the SAM 3 detector of '{name}' from {folder}: the checkpoint lacks {len(missing)} "
            f"weights, e.g. {', '.join(missing[:3])}"
        )
    if len(tokenizer) != detector.config.text_config.vocab_size:
        raise EngineError(
            f"the tokenizer in {folder} has {len(tokenizer)} tokens but the SAM 3 text encoder "
            f"expects {detector.config.text_config.vocab_size}"
        )
    return detector.eval(), tokenizer
