"""SAM 3 concepts on images: a tiny Sam3VideoModel checkpoint (detector + tracker, one ViT) with a
char-level tokenizer, saved and loaded through the registry like the facebook/sam3 weights."""

from __future__ import annotations

import gzip
import json
import threading
from pathlib import Path

import numpy as np
import pytest
from tiny_sam import char_tokenizer, tiny_sam3_concepts

from model import registry
from model.errors import Cancelled, EngineError
from model.protocol import Concept, EverythingSettings, Prompt, supports
from model.sam.engine import SAM3_VIDEO_KEYS
from model.sam.roi_align import roi_align
from model.sam.tokenizer import load_tokenizer

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.set_num_threads(1)
    return tiny_sam3_concepts(tmp_path_factory.mktemp("sam3"))


@pytest.fixture(scope="module")
def engine(folder: Path):  # type: ignore[no-untyped-def]
    return registry.create("sam3-tracker", weights=str(folder), device="cpu")


@pytest.fixture(scope="module")
def image() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 255, (120, 160, 3), dtype=np.uint8)


@pytest.fixture(scope="module")
def embedding(engine, image):  # type: ignore[no-untyped-def]
    return engine.embed(image)


def test_one_vit_serves_clicks_and_concepts(engine, folder: Path, image, embedding) -> None:  # type: ignore[no-untyped-def]
    assert supports(engine, "find") and supports(engine, "everything")
    assert engine.model_id.endswith("+concepts")
    assert engine.model.vision_encoder.backbone is engine.detector.vision_encoder.backbone
    # The tracker's levels from the shared ViT equal those of a separately loaded, untied tracker.
    tracker = transformers.Sam3TrackerModel.from_pretrained(str(folder), key_mapping=SAM3_VIDEO_KEYS).eval()
    with torch.no_grad():
        expected = tracker.get_image_embeddings(engine.preprocess(image))
    for i, level in enumerate(expected):
        assert np.allclose(embedding.data[f"features_{i}"], level.numpy(), atol=1e-5)
    clicked = engine.predict(embedding, Prompt.from_clicks([(80, 60, True)]))
    assert clicked.masks.shape == (3, 120, 160)


def direct_scores(engine, image: np.ndarray, phrase: str, boxes=None, labels=None) -> np.ndarray:  # type: ignore[no-untyped-def]
    """The detector run in one call from pixels and token ids (no caches, no split of the ViT)."""
    tokens = engine.tokenizer([phrase], padding="max_length", max_length=32, return_tensors="pt")
    kwargs = {}
    if boxes is not None:
        kwargs = {"input_boxes": torch.tensor(boxes)[None], "input_boxes_labels": torch.tensor(labels)[None]}
    with torch.no_grad():
        out = engine.detector(
            pixel_values=engine.preprocess(image),
            input_ids=tokens.input_ids,
            attention_mask=tokens.attention_mask,
            **kwargs,
        )
    return (out.pred_logits[0].sigmoid() * out.presence_logits[0].sigmoid()).numpy()


def test_a_phrase_finds_instances_as_the_model_scores_them(engine, image, embedding) -> None:  # type: ignore[no-untyped-def]
    found = engine.find(embedding, Concept("cat", min_score=0.0))
    expected = np.sort(direct_scores(engine, image, "cat"))[::-1]
    assert [round(i.score, 5) for i in found] == [round(float(s), 5) for s in expected[: len(found)]]
    assert len(found) >= 1
    for instance in found:
        assert instance.label == "cat" and instance.mask.shape == (120, 160) and instance.mask.any()
        assert (instance.box >= 0).all() and instance.box[2] <= 160 and instance.box[3] <= 120
    cut = (found[0].score + found[-1].score) / 2
    fewer = engine.find(embedding, Concept("cat", min_score=cut))
    assert 0 < len(fewer) < len(found) and all(i.score >= cut for i in fewer)
    assert engine.find(embedding, Concept("cat", min_score=1.01)) == []


def test_exemplars_alone_and_with_a_phrase(engine, image, embedding) -> None:  # type: ignore[no-untyped-def]
    box = [[20.0, 30.0, 80.0, 100.0]]
    alone = engine.find(embedding, Concept(None, boxes=box, box_labels=[1], min_score=0.0))
    # Exemplar-only uses the text "visual"; the box goes in as normalised cx, cy, w, h.
    cxcywh = [[50 / 160, 65 / 120, 60 / 160, 70 / 120]]
    expected = np.sort(direct_scores(engine, image, "visual", cxcywh, [1]))[::-1]
    assert [round(i.score, 5) for i in alone] == [round(float(s), 5) for s in expected[: len(alone)]]
    assert alone and all(i.label is None for i in alone)
    both = engine.find(embedding, Concept("cat", boxes=[*box, [90, 10, 150, 60]], box_labels=[1, 0], min_score=0.0))
    with_boxes = np.sort(
        direct_scores(engine, image, "cat", [*cxcywh, [120 / 160, 35 / 120, 60 / 160, 50 / 120]], [1, 0])
    )
    assert [round(i.score, 5) for i in both] == [round(float(s), 5) for s in with_boxes[::-1][: len(both)]]
    plain = engine.find(embedding, Concept("cat", min_score=0.0))
    assert [i.score for i in both] != [i.score for i in plain]


def test_features_are_cached_per_image_and_phrase(engine, image, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    embedding = engine.embed(image)
    calls = {"text": 0, "neck": 0}
    text, neck = engine.detector.get_text_features, engine.detector.vision_encoder.neck.forward

    def counted_text(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls["text"] += 1
        return text(*args, **kwargs)

    def counted_neck(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls["neck"] += 1
        return neck(*args, **kwargs)

    monkeypatch.setattr(engine.detector, "get_text_features", counted_text)
    monkeypatch.setattr(engine.detector.vision_encoder.neck, "forward", counted_neck)
    first = engine.find(embedding, Concept("a new phrase", min_score=0.0))
    second = engine.find(embedding, Concept("a new phrase", min_score=0.0))
    engine.find(embedding, Concept("another", min_score=0.0))
    assert calls == {"text": 2, "neck": 1}
    assert [i.score for i in first] == [i.score for i in second]


def test_bad_concepts_say_what_is_wrong(engine, embedding) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(EngineError, match="outside the 160x120 image or has no area"):
        engine.find(embedding, Concept(None, boxes=[[200, 10, 260, 50]], box_labels=[1]))
    with pytest.raises(EngineError, match="no area"):
        engine.find(embedding, Concept("cat", boxes=[[30, 30, 30, 80]], box_labels=[1]))
    with pytest.raises(ValueError, match="a phrase or at least one exemplar box"):
        Concept("   ")
    engine.warnings.clear()
    engine.find(embedding, Concept("a very long phrase " * 4))
    assert any("reads only the first 32" in w for w in engine.warnings)
    with pytest.raises(EngineError, match="embedding of model"):
        other = registry.create("classic")
        engine.find(other.embed(np.zeros((20, 20, 3), np.uint8)), Concept("cat"))


def test_everything_finds_each_label(engine, embedding) -> None:  # type: ignore[no-untyped-def]
    progress: list[tuple[int, int]] = []
    settings = EverythingSettings(concepts=("cat", "dog", "cat"), concept_min_score=0.0)
    found = engine.everything(embedding, settings, progress=lambda d, t: progress.append((d, t)))
    assert {i.label for i in found} == {"cat", "dog"} and progress == [(2, 2)]
    # Batched phrases give what one phrase at a time gives.
    single = engine.find(embedding, Concept("cat", min_score=0.0)) + engine.find(
        embedding, Concept("dog", min_score=0.0)
    )
    assert np.allclose(sorted(i.score for i in found), sorted(i.score for i in single), atol=1e-6)
    batched_area, single_area = sum(i.mask.sum() for i in found), sum(i.mask.sum() for i in single)
    assert abs(int(batched_area) - int(single_area)) <= 1e-4 * single_area  # a pixel where a logit is about 0
    many = [f"label {c}" for c in "abcdefghij"]
    calls: list[tuple[int, int]] = []
    engine.find_phrases(embedding, many, 0.0, progress=lambda d, t: calls.append((d, t)))
    assert calls == [(4, 10), (8, 10), (10, 10)]
    assert [i.score for i in found] == sorted((i.score for i in found), reverse=True)
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(Cancelled):
        engine.everything(embedding, settings, cancel=cancel)
    # Without phrases it is the tracker's point grid.
    grid = engine.everything(embedding, EverythingSettings(points_per_side=2, min_score=-1e9, min_stability=0))
    assert all(i.label is None for i in grid)


def test_tokenizer_from_vocab_and_merges_files(tmp_path: Path) -> None:
    saved = char_tokenizer()
    (tmp_path / "vocab.json").write_text(json.dumps(saved.get_vocab()))
    (tmp_path / "merges.txt").write_text("#version: 0.2\n")
    loaded = load_tokenizer(tmp_path)
    assert loaded("yellow school bus").input_ids == saved("yellow school bus").input_ids
    assert len(set(loaded("yellow school bus").input_ids)) > 3  # not the 3-token fallback vocabulary


def test_tokenizer_from_clip_bpe_file(tmp_path: Path) -> None:
    lines = ["#version: 0.2", "c a", "ca t</w>"]
    with gzip.open(tmp_path / "bpe_simple_vocab_16e6.txt.gz", "wt", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")
    tokenizer = load_tokenizer(tmp_path)
    vocab = tokenizer.get_vocab()
    assert len(vocab) == 512 + 2 + 2
    ids = tokenizer("cat").input_ids
    assert ids == [vocab["<|startoftext|>"], vocab["cat</w>"], vocab["<|endoftext|>"]]


def test_missing_tokenizer_is_a_clear_error(tmp_path: Path) -> None:
    folder = tiny_sam3_concepts(tmp_path / "w", tokenizer=False)
    with pytest.raises(EngineError, match="no text tokenizer"):
        registry.create("sam3-tracker", weights=str(folder), device="cpu")


def reference_roi_align(features: np.ndarray, box: list[float], size: int, scale: float) -> np.ndarray:
    """torchvision's CPU roi_align (aligned=False, sampling_ratio=-1) written one sample at a time."""
    channels, height, width = features.shape
    x0, y0, x1, y1 = (v * scale for v in box)
    roi_w, roi_h = max(x1 - x0, 1.0), max(y1 - y0, 1.0)
    bin_w, bin_h = roi_w / size, roi_h / size
    grid_h, grid_w = int(np.ceil(roi_h / size)), int(np.ceil(roi_w / size))
    out = np.zeros((channels, size, size))
    for ph in range(size):
        for pw in range(size):
            total = np.zeros(channels)
            for iy in range(grid_h):
                y = y0 + ph * bin_h + (iy + 0.5) * bin_h / grid_h
                for ix in range(grid_w):
                    x = x0 + pw * bin_w + (ix + 0.5) * bin_w / grid_w
                    if y < -1.0 or y > height or x < -1.0 or x > width:
                        continue
                    yy, xx = max(y, 0.0), max(x, 0.0)
                    yl, xl = int(yy), int(xx)
                    if yl >= height - 1:
                        yl = yh = height - 1
                        yy = float(yl)
                    else:
                        yh = yl + 1
                    if xl >= width - 1:
                        xl = xh = width - 1
                        xx = float(xl)
                    else:
                        xh = xl + 1
                    ly, lx = yy - yl, xx - xl
                    total += (
                        (1 - ly) * (1 - lx) * features[:, yl, xl]
                        + (1 - ly) * lx * features[:, yl, xh]
                        + ly * (1 - lx) * features[:, yh, xl]
                        + ly * lx * features[:, yh, xh]
                    )
            out[:, ph, pw] = total / (grid_h * grid_w)
    return out


@pytest.mark.parametrize("seed", range(6))
def test_roi_align_matches_the_reference(seed: int) -> None:
    rng = np.random.default_rng(seed)
    features = rng.normal(size=(2, 3, 9, 11)).astype(np.float32)
    boxes = []
    for _ in range(2):
        x0, y0 = rng.uniform(-3, 10, 2)
        boxes.append([x0, y0, x0 + rng.uniform(0.2, 14), y0 + rng.uniform(0.2, 12)])
    scale = float(rng.choice([1.0, 0.5]))
    size = int(rng.integers(2, 5))
    got = roi_align(torch.from_numpy(features), [torch.tensor(boxes[:1]), torch.tensor(boxes[1:])], size, scale)
    for index, (image, box) in enumerate(zip(features, boxes, strict=True)):
        assert np.allclose(got[index].numpy(), reference_roi_align(image, box, size, scale), atol=1e-5)
