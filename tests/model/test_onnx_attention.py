"""onnxruntime's fused attention at run time: the kernel against torch, in a video model, and its fallback."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from tiny_sam import tiny_sam2

from model import registry
from model.protocol import Prompt
from model.sam import onnx_attention

torch = pytest.importorskip("torch")
pytest.importorskip("onnxruntime")


@pytest.mark.parametrize(("heads", "queries", "keys"), [(1, 4096, 700), (2, 300, 4000), (4, 64, 64)])
def test_kernel_matches_torch_attention(heads: int, queries: int, keys: int) -> None:
    generator = torch.Generator().manual_seed(heads)
    q, k, v = (torch.randn(2, heads, n, 32, generator=generator) for n in (queries, keys, keys))
    expected = torch.nn.functional.scaled_dot_product_attention(q, k, v, scale=0.2)

    def flat(x: Any) -> np.ndarray:
        return x.transpose(1, 2).reshape(2, x.shape[2], -1).contiguous().numpy()

    got = onnx_attention.RuntimeKernel()(flat(q), flat(k), flat(v), heads, 0.2)
    np.testing.assert_allclose(got, flat(expected), atol=1e-5, rtol=1e-4)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_sam2(tmp_path_factory.mktemp("sam2"))


class Frames:
    """Ten frames of a texture moving right by two pixels a frame."""

    def __init__(self) -> None:
        self.base = np.random.default_rng(5).integers(0, 255, (64, 80, 3), dtype=np.uint8)

    def __len__(self) -> int:
        return 10

    def __getitem__(self, index: int) -> np.ndarray:
        return np.roll(self.base, 2 * index, axis=1)


def propagate(engine: Any) -> list[np.ndarray]:
    """What the memory attention gave on each tracked frame (the features the decoder reads; the
    random model's masks and object pointers are mostly empty, these are not)."""
    conditioned: list[np.ndarray] = []

    def keep(module: Any, args: Any, output: Any) -> None:
        conditioned.append(output.float().numpy().copy())

    hook = engine.video_model().memory_attention.register_forward_hook(keep)
    try:
        session = engine.open_video(Frames())
        session.add_prompt(0, 1, Prompt.from_clicks([(40, 30, True), (10, 10, False)]))
        assert len(list(session.propagate(0, "forward"))) == 10
    finally:
        hook.remove()
    return conditioned


def test_video_memory_attention_runs_on_the_kernel_and_tracks_as_torch(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[int, ...]] = []
    run = onnx_attention.RuntimeKernel.__call__

    def counted(self: Any, query: np.ndarray, *args: Any) -> np.ndarray:
        calls.append(query.shape)
        return run(self, query, *args)

    monkeypatch.setattr(onnx_attention.RuntimeKernel, "__call__", counted)
    monkeypatch.setattr(onnx_attention, "RUNTIME_MIN_PAIRS", 1)  # the tiny model's attentions are small
    eager = registry.create("sam2.1-tiny", weights=str(folder), device="cpu", runtime="torch")
    expected = propagate(eager)
    assert calls == []  # the torch runtime leaves attention to torch
    fused = registry.create("sam2.1-tiny", weights=str(folder), device="cpu", runtime="onnx")
    got = propagate(fused)
    assert len(calls) > 2 * len(got)  # self- and cross-attention of every tracked frame
    assert len(got) == len(expected) == 9  # frames 1..9 are conditioned on memories
    for a, b in zip(got, expected, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-4, rtol=1e-3)
    assert np.std(got[-1]) > 0.1  # the comparison means something


def test_a_failing_kernel_leaves_attention_to_torch(
    folder: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(self: Any, *args: Any) -> None:
        raise RuntimeError("no kernel here")

    monkeypatch.setattr(onnx_attention, "RUNTIME_MIN_PAIRS", 1)
    monkeypatch.setattr(onnx_attention.RuntimeKernel, "__call__", broken)
    monkeypatch.setattr(onnx_attention.KERNEL, "failed", False)
    eager = registry.create("sam2.1-tiny", weights=str(folder), device="cpu", runtime="torch")
    fused = registry.create("sam2.1-tiny", weights=str(folder), device="cpu", runtime="onnx")
    with caplog.at_level("WARNING"):
        got = propagate(fused)
    assert onnx_attention.KERNEL.failed and "no kernel here" in caplog.text
    for a, b in zip(got, propagate(eager), strict=True):
        np.testing.assert_allclose(a, b, atol=1e-4, rtol=1e-3)
