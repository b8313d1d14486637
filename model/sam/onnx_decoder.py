"""ONNX Runtime for the SAM prompt encoder + mask decoder (and the image encoder) on CPU.

One graph per multimask setting is exported from a loaded transformers model (Sam2Model,
Sam3TrackerModel or SamModel) and cached on disk under a content key (model class, config, a
fingerprint of the weights, torch/transformers versions), so different weights never share a
graph. The decoder graph takes the image features as `get_image_embeddings` returns them, a
dynamic number of prompt points and a dense mask prompt gated by a `has_mask` flag:

- point_coords (1, N, 2) float32, (x, y) in model-input pixels (0..image_size);
- point_labels (1, N) int64: 1 positive, 0 negative, 2/3 box top-left/bottom-right corners,
  -1 padding ("not a point");
- mask_input (1, 1, 4E, 4E) float32 low-res logits of a previous prediction (E: embedding size),
  used only when has_mask (a float32 scalar) is 1.

A box is fed as two corner points labelled 2 and 3 after the clicks, followed (for the SAM 2
family always, for SAM 1 only without a box) by one padding point: this is exactly the token
sequence transformers builds from `input_boxes`, so the outputs match the torch path.
Failures raise `OnnxError`; the engine is expected to fall back to torch.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from model.errors import EngineError

log = logging.getLogger(__name__)

OPSET = 17
FORMAT = 2  # bump when the exported graphs change (2: fused attention), so old cached files are not reused


class OnnxError(EngineError):
    """An ONNX graph could not be exported, loaded or run (callers fall back to torch)."""


def cpu_count() -> int:
    """CPU cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _is_sam1(model: Any) -> bool:
    return type(model).__name__ == "SamModel"


def model_fingerprint(model: Any, modules: Sequence[Any], samples: int = 4096) -> str:
    """Content key of `modules`' weights plus the model class, config and library versions."""
    import torch
    import transformers

    digest = hashlib.blake2b(digest_size=16)
    header = [type(model).__name__, model.config.to_json_string(use_diff=False), torch.__version__]
    digest.update(json.dumps([*header, transformers.__version__, OPSET, FORMAT]).encode())
    for module in modules:
        for name, tensor in module.state_dict().items():
            flat = tensor.detach().reshape(-1).float().cpu()
            stride = max(1, flat.numel() // samples)
            digest.update(f"{name}{tuple(tensor.shape)}{float(flat.double().sum())!r}".encode())
            digest.update(flat[::stride].contiguous().numpy().tobytes())
    return digest.hexdigest()


def _decoder_graph(model: Any, multimask: bool) -> Any:
    """The torch module that is exported (built here: torch is imported lazily)."""
    import torch

    prompt_encoder, mask_decoder = model.prompt_encoder, model.mask_decoder
    sam1 = _is_sam1(model)
    if sam1:
        table = torch.cat([embedding.weight for embedding in prompt_encoder.point_embed], dim=0)
    else:
        table = prompt_encoder.point_embed.weight

    class DecoderGraph(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.prompt_encoder = prompt_encoder
            self.mask_decoder = mask_decoder
            self.size = float(prompt_encoder.input_image_size)
            self.register_buffer("image_pe", model.get_image_wide_positional_embeddings().detach().clone())
            self.register_buffer("label_table", table.detach().clone())

        def decode(
            self,
            features: list[torch.Tensor],
            coords: torch.Tensor,
            labels: torch.Tensor,
            mask_input: torch.Tensor,
            has_mask: torch.Tensor,
        ) -> tuple[torch.Tensor, torch.Tensor]:
            encoder = self.prompt_encoder
            # as Sam2PromptEncoder._embed_points, with a label table that also covers box corners
            sparse = encoder.shared_embedding(((coords + 0.5) / self.size)[None])
            labels = labels[None, :, :, None]
            sparse = torch.where(labels == -1, encoder.not_a_point_embed.weight, sparse)
            sparse = sparse + self.label_table[labels[..., 0].clamp(min=0)] * (labels >= 0).to(sparse.dtype)
            no_mask = encoder.no_mask_embed.weight.reshape(1, -1, 1, 1)
            dense = torch.where(has_mask > 0.5, encoder.mask_embed(mask_input), no_mask)
            extra = {} if sam1 else {"high_resolution_features": features[:-1]}
            out = self.mask_decoder(
                image_embeddings=features[-1],
                image_positional_embeddings=self.image_pe,
                sparse_prompt_embeddings=sparse,
                dense_prompt_embeddings=dense,
                multimask_output=multimask,
                **extra,
            )
            return out[0][0, 0], out[1][0, 0]

    # explicit signatures, one per number of feature levels: the exporters name inputs after them
    class Sam1Graph(DecoderGraph):
        def forward(
            self,
            features_0: torch.Tensor,
            point_coords: torch.Tensor,
            point_labels: torch.Tensor,
            mask_input: torch.Tensor,
            has_mask: torch.Tensor,
        ) -> tuple[torch.Tensor, torch.Tensor]:
            return self.decode([features_0], point_coords, point_labels, mask_input, has_mask)

    class Sam2Graph(DecoderGraph):
        def forward(
            self,
            features_0: torch.Tensor,
            features_1: torch.Tensor,
            features_2: torch.Tensor,
            point_coords: torch.Tensor,
            point_labels: torch.Tensor,
            mask_input: torch.Tensor,
            has_mask: torch.Tensor,
        ) -> tuple[torch.Tensor, torch.Tensor]:
            features = [features_0, features_1, features_2]
            return self.decode(features, point_coords, point_labels, mask_input, has_mask)

    return (Sam1Graph if sam1 else Sam2Graph)().eval()


def _write_atomically(path: Path, write: Callable[[Path], None]) -> None:
    """Run `write(temporary path)`, then rename onto `path`: an interrupted export leaves no file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        write(temporary)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


EXPORTERS = ("torchscript", "dynamo")


def _export(
    module: Any,
    args: tuple[Any, ...],
    path: Path,
    names: list[str],
    outputs: list[str],
    axes: dict,
    exporter: str = "",
    fused: bool = False,
) -> None:
    """Export `module` to `path` atomically with the first exporter that works (or `exporter`).

    The TorchScript exporter comes first: it needs no onnxscript and takes < 1 s for the decoder
    (the torch.export-based one ~5 s); it is deprecated, so the dynamo exporter is the fallback.
    `fused`: attention exports as onnxruntime's fused MultiHeadAttention (TorchScript exporter only;
    it pays in the image encoders, not in the decoder, whose attention is over a few tokens).
    """
    import torch

    from model.sam.onnx_attention import fused_attention

    def write(target: Path, dynamo: bool) -> None:
        with torch.no_grad(), warnings.catch_warnings():
            # TracerWarnings here are about Python bools that are constant for SAM (an empty-prompt
            # check, sdpa's is_causal); the TorchScript exporter's deprecation is handled above.
            warnings.simplefilter("ignore", torch.jit.TracerWarning)
            warnings.simplefilter("ignore", DeprecationWarning)
            options: dict[str, Any] = {"dynamo": dynamo, "opset_version": OPSET}
            if dynamo:  # dynamic shapes keyed by the forward's parameter names, which are `names`
                dims = {axis: torch.export.Dim(axis, min=1) for spec in axes.values() for axis in spec.values()}
                shapes = {name: {i: dims[axis] for i, axis in axes.get(name, {}).items()} or None for name in names}
                options |= {"dynamic_shapes": shapes, "verbose": False, "external_data": False}
            else:
                options |= {"dynamic_axes": axes}
            with fused_attention(module) if fused and not dynamo else contextlib.nullcontext({}) as opsets:
                if opsets:
                    options["custom_opsets"] = opsets
                torch.onnx.export(module, args, str(target), input_names=names, output_names=outputs, **options)

    errors = []
    for name in (exporter,) if exporter else EXPORTERS:
        try:
            _write_atomically(path, lambda target, name=name: write(target, name == "dynamo"))
            return
        except Exception as error:  # the exporters raise many kinds of errors
            errors.append(f"{name}: {type(error).__name__}: {error}")
            log.debug("%s export of %s failed", name, path.name, exc_info=True)
    raise OnnxError(f"ONNX export of {path.name} failed ({'; '.join(errors)})")


def _feature_shapes(model: Any) -> list[tuple[int, ...]]:
    """Shapes of `get_image_embeddings` outputs for one image (from the config, no forward pass)."""
    if _is_sam1(model):
        size = model.config.prompt_encoder_config.image_embedding_size
        return [(1, model.config.vision_config.output_channels, size, size)]
    hidden = model.mask_decoder.hidden_size
    channels = [hidden // 8, hidden // 4, model.config.vision_config.fpn_hidden_size]
    sizes = model.config.vision_config.backbone_feature_sizes
    return [(1, c, *size) for c, size in zip(channels, sizes, strict=True)]


def export_decoder(model: Any, folder: Path, multimask: bool, key: str | None = None, exporter: str = "") -> Path:
    """Export the prompt encoder + mask decoder of `model` to `folder`; the .onnx path.

    Inputs: features_0..features_{L-1} (as get_image_embeddings), point_coords (1,N,2) float32,
    point_labels (1,N) int64, mask_input (1,1,4E,4E) float32, has_mask () float32.
    Outputs: logits (K,4E,4E) float32 and scores (K,) float32; K = 3 if multimask else 1.
    """
    import torch

    model = model.eval()
    key = key or model_fingerprint(model, [model.prompt_encoder, model.mask_decoder, model.shared_image_embedding])
    path = Path(folder) / f"decoder-{key}-{'multi' if multimask else 'single'}.onnx"
    shapes = _feature_shapes(model)
    low = 4 * shapes[-1][-1]
    features = tuple(torch.randn(shape) for shape in shapes)
    args = (
        *features,
        torch.tensor([[[100.0, 120.0], [40.0, 30.0]]]) * low / 256,
        torch.tensor([[1, 0]], dtype=torch.int64),
        torch.zeros(1, 1, low, low),
        torch.tensor(1.0),
    )
    names = [f"features_{i}" for i in range(len(features))] + ["point_coords", "point_labels", "mask_input"]
    axes = {"point_coords": {1: "points"}, "point_labels": {1: "points"}}
    graph = _decoder_graph(model, multimask)
    _export(graph, args, path, [*names, "has_mask"], ["logits", "scores"], axes, exporter)
    return path


def session_for(graph: Path | bytes, threads: int | None = None) -> Any:
    """An onnxruntime CPU session for a graph file (or serialised graph), set up for this app."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads or cpu_count()
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # No busy-waiting: it would take the cores from the GUI thread (measured: not faster in the app,
    # where torch's and OpenCV's pools share the two cores).
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    # The memory pattern re-plans (and page-faults in) a second set of buffers on the second run:
    # without it the encoder's first runs are faster and it keeps 0.4 GB less; steady runs are alike.
    options.enable_mem_pattern = False
    options.log_severity_level = 3  # the encoder graph's lenient shape merges are logged as warnings
    source = graph if isinstance(graph, bytes) else str(graph)
    return ort.InferenceSession(source, options, providers=["CPUExecutionProvider"])


def load_or_export(path: Path, export: Callable[[], Path], threads: int | None = None) -> Any:
    """An InferenceSession for `path`, exporting first if missing; a broken file is re-exported once."""
    if path.is_file():
        try:
            return session_for(path, threads)
        except Exception as error:  # onnxruntime raises its own exception types
            log.warning("cached ONNX graph %s is unreadable (%s); exporting it again", path.name, error)
            path.unlink(missing_ok=True)
    export()
    try:
        return session_for(path, threads)
    except Exception as error:
        raise OnnxError(f"onnxruntime cannot load {path.name}: {error}") from error


class OnnxDecoder:
    """Prompt encoder + mask decoder of a SAM model run by onnxruntime on CPU, graphs cached on disk."""

    def __init__(self, model: Any, folder: Path, threads: int | None = None, exporter: str = "") -> None:
        model = model.eval()
        self.exporter = exporter
        self.model = model
        self.folder = Path(folder)
        self.threads = threads
        self.sam1 = _is_sam1(model)
        self.size = float(model.prompt_encoder.input_image_size)
        self.levels = len(_feature_shapes(model))
        self.mask_size = 4 * _feature_shapes(model)[-1][-1]
        modules = [model.prompt_encoder, model.mask_decoder, model.shared_image_embedding]
        self.key = model_fingerprint(model, modules)
        self._sessions: dict[bool, Any] = {}
        self.exports = 0  # graphs exported by this object (the rest came from the disk cache)

    def path(self, multimask: bool) -> Path:
        """Where the graph for this multimask setting is cached."""
        return self.folder / f"decoder-{self.key}-{'multi' if multimask else 'single'}.onnx"

    def session(self, multimask: bool) -> Any:
        """The onnxruntime session for this multimask setting (exported on first use)."""
        if multimask not in self._sessions:

            def export() -> Path:
                self.exports += 1
                log.info("exporting the SAM decoder to ONNX (%s)", self.path(multimask).name)
                return export_decoder(self.model, self.folder, multimask, self.key, self.exporter)

            self._sessions[multimask] = load_or_export(self.path(multimask), export, self.threads)
        return self._sessions[multimask]

    def __call__(
        self,
        features: Sequence[np.ndarray],
        points: np.ndarray | None,
        labels: np.ndarray | None,
        box: np.ndarray | None,
        mask_logits: np.ndarray | None,
        multimask: bool,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Low-res logits (K x 4E x 4E float32) and predicted IoUs (K float32) for one prompt.

        features: the arrays of get_image_embeddings (1xCxhxw each); points: Nx2 (x, y) and box:
        xyxy, both float in model-input pixels; labels: N ints (1 positive, 0 negative);
        mask_logits: hxw (or 1x1xhxw) low-res logits of a previous prediction, or None.
        """
        if len(features) != self.levels:
            raise OnnxError(f"expected {self.levels} feature arrays, got {len(features)}")
        coords, codes = _prompt_tokens(points, labels, box, sam1=self.sam1)
        mask, has_mask = self._mask_input(mask_logits)
        feeds = {f"features_{i}": np.ascontiguousarray(f, np.float32) for i, f in enumerate(features)}
        feeds |= {"point_coords": coords[None], "point_labels": codes[None], "mask_input": mask, "has_mask": has_mask}
        try:
            logits, scores = self.session(bool(multimask)).run(["logits", "scores"], feeds)
        except OnnxError:
            raise
        except Exception as error:
            raise OnnxError(f"onnxruntime decoder failed: {type(error).__name__}: {error}") from error
        return logits, scores

    def _mask_input(self, mask_logits: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        size = self.mask_size
        if mask_logits is None:
            return np.zeros((1, 1, size, size), np.float32), np.array(0.0, np.float32)
        mask = np.asarray(mask_logits, np.float32)
        mask = mask.reshape(1, 1, *mask.shape[-2:])
        if mask.shape[-2:] != (size, size):  # as Sam2Model.forward: antialiased bilinear resize
            import torch

            resized = torch.nn.functional.interpolate(
                torch.from_numpy(mask), size=(size, size), mode="bilinear", align_corners=False, antialias=True
            )
            mask = resized.numpy()
        return np.ascontiguousarray(mask), np.array(1.0, np.float32)


def _prompt_tokens(
    points: np.ndarray | None, labels: np.ndarray | None, box: np.ndarray | None, sam1: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Point coordinates (Mx2 float32) and labels (M int64) in the order transformers embeds them."""
    coords = np.zeros((0, 2), np.float32)
    codes = np.zeros(0, np.int64)
    if points is not None and len(points):
        coords = np.asarray(points, np.float32).reshape(-1, 2)
        codes = np.asarray(labels, np.int64).reshape(-1)
        if len(codes) != len(coords):
            raise OnnxError(f"{len(coords)} points but {len(codes)} labels")
    if box is not None:
        coords = np.concatenate([coords, np.asarray(box, np.float32).reshape(2, 2)])
        codes = np.concatenate([codes, np.array([2, 3], np.int64)])
    elif not len(coords):  # no prompt at all: transformers feeds one "not a point" point
        coords, codes = np.zeros((1, 2), np.float32), np.array([-1], np.int64)
    if box is None or not sam1:  # the padding point
        coords = np.concatenate([coords, np.zeros((1, 2), np.float32)])
        codes = np.concatenate([codes, np.array([-1], np.int64)])
    return np.ascontiguousarray(coords), np.ascontiguousarray(codes)


def export_encoder(model: Any, folder: Path, key: str | None = None, exporter: str = "") -> Path:
    """Export `model.get_image_embeddings` for one 1x3xSxS image to `folder`; the .onnx path.

    Input: pixel_values (1,3,S,S) float32, normalised. Outputs: features_0..features_{L-1}.
    """
    import torch

    model = model.eval()
    key = key or model_fingerprint(model, [model])
    path = Path(folder) / f"encoder-{key}.onnx"
    size = int(model.prompt_encoder.input_image_size)
    levels = len(_feature_shapes(model))

    class EncoderGraph(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, pixel_values: torch.Tensor) -> tuple[torch.Tensor, ...]:
            out = self.model.get_image_embeddings(pixel_values)
            return (out,) if torch.is_tensor(out) else tuple(out)

    names = [f"features_{i}" for i in range(levels)]
    pixels = torch.randn(1, 3, size, size)
    _export(EncoderGraph().eval(), (pixels,), path, ["pixel_values"], names, {}, exporter, fused=True)
    return path


def quantize_encoder(source: Path, target: Path) -> Path:
    """Dynamic int8 quantisation of the encoder's matrix products (weights int8, activations
    quantised per call): about 1.6x faster on the CPU, at the price of features that differ by a
    few percent. Opt-in only (runtime 'onnx-int8')."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    def write(temporary: Path) -> None:
        quantize_dynamic(str(source), str(temporary), weight_type=QuantType.QInt8, op_types_to_quantize=["MatMul"])

    try:
        _write_atomically(target, write)
    except Exception as error:
        raise OnnxError(f"int8 quantisation of {source.name} failed: {type(error).__name__}: {error}") from error
    return target


class OnnxEncoder:
    """The image encoder of a SAM model run by onnxruntime on CPU, the graph cached on disk."""

    def __init__(
        self, model: Any, folder: Path, threads: int | None = None, exporter: str = "", int8: bool = False
    ) -> None:
        self.model = model.eval()
        self.exporter = exporter
        self.folder = Path(folder)
        self.threads = threads
        self.int8 = int8
        self.key = model_fingerprint(model, [model])
        self.float_path = self.folder / f"encoder-{self.key}.onnx"
        self.path = self.folder / f"encoder-{self.key}-int8.onnx" if int8 else self.float_path
        self._session: Any = None
        self.exports = 0

    def session(self) -> Any:
        """The onnxruntime session (exported on first use)."""
        if self._session is None:

            def export() -> Path:
                self.exports += 1
                if not self.float_path.is_file():
                    log.info("exporting the SAM image encoder to ONNX (%s)", self.float_path.name)
                    export_encoder(self.model, self.folder, self.key, self.exporter)
                if self.int8:
                    quantize_encoder(self.float_path, self.path)
                return self.path

            self._session = load_or_export(self.path, export, self.threads)
        return self._session

    def __call__(self, pixel_values: np.ndarray) -> list[np.ndarray]:
        """Features as `get_image_embeddings` for a 1x3xSxS float32 normalised image."""
        feeds = {"pixel_values": np.ascontiguousarray(pixel_values, np.float32)}
        try:
            return list(self.session().run(None, feeds))
        except OnnxError:
            raise
        except Exception as error:
            raise OnnxError(f"onnxruntime encoder failed: {type(error).__name__}: {error}") from error
