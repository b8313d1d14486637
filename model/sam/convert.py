"""Meta's original SAM and SAM 2.1 checkpoints (.pth/.pt) as transformers models, through our own key mapping.

- SAM (v1): `sam_vit_{b,l,h}_*.pth` from the segment-anything package hold a flat state dict.
- SAM 2.1: `sam2.1_hiera_{tiny,small,base_plus,large}.pt` hold {"model": state dict}; one file
  serves both the image model and the video model (whose memory modules the image model lacks).

The architecture is read from the tensor shapes, the keys are renamed by the rules below (no
tensor is reshaped except SAM 2's four point embeddings, which transformers keeps as one 4x256
table), and the model is loaded strictly: a key left over or missing is an EngineError naming the
file. No attention projection needs splitting: transformers keeps Meta's fused qkv in both encoders.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from model.errors import EngineError

Tensors = dict[str, Any]  # key -> torch.Tensor
Rule = tuple[str, str | Callable[[re.Match[str]], str]]  # regex, replacement

# SAM 2.1 Hiera variants: (embed dim, blocks per stage) -> heads, global attention blocks, window per
# stage (from sam2==1.1.0 configs/sam2.1/*.yaml and the Hiera defaults that base_plus leaves in place).
HIERA_VARIANTS: dict[tuple[int, tuple[int, ...]], tuple[str, int, list[int], list[int]]] = {
    (96, (1, 2, 7, 2)): ("tiny", 1, [5, 7, 9], [8, 4, 14, 7]),
    (96, (1, 2, 11, 2)): ("small", 1, [7, 10, 13], [8, 4, 14, 7]),
    (112, (2, 3, 16, 3)): ("base_plus", 2, [12, 16, 20], [8, 4, 14, 7]),
    (144, (2, 6, 36, 4)): ("large", 2, [23, 33, 43], [8, 4, 16, 8]),
}
# The modules that Meta builds with its MLP class (a `layers` list); transformers names the first
# and last linear proj_in / proj_out and keeps the middle ones in `layers`.
MLP_MODULE = r"(?:\.mlp|output_hypernetworks_mlps\.\d+|iou_prediction_head|pred_obj_score_head|obj_ptr_proj)"
MLP_KEY = re.compile(rf"^(?P<module>.*{MLP_MODULE})\.layers\.(?P<index>\d+)\.(?P<param>weight|bias)$")
POINT_EMBEDDING = re.compile(r"^prompt_encoder\.point_embed\.(\d+)\.weight$")


def indexed(mapping: dict[str, str]) -> Callable[[re.Match[str]], str]:
    """A replacement that swaps group 2 (a Sequential index) for a name, keeping group 1 (the prefix)."""

    def replace(match: re.Match[str]) -> str:
        # An index with no name stays as it is, so the strict load reports the key.
        return f"{match.group(1)}.{mapping.get(match.group(2), match.group(2))}."

    return replace


# Prompt encoder and mask decoder: the same modules in SAM and SAM 2 (after SAM 2's prefixes are dropped).
DECODER_RULES: list[Rule] = [
    (r"^prompt_encoder\.pe_layer\.positional_encoding_gaussian_matrix$", "shared_image_embedding.positional_embedding"),
    (r"^prompt_encoder\.point_embeddings\.", "prompt_encoder.point_embed."),
    (r"^prompt_encoder\.mask_downscaling\.", "prompt_encoder.mask_embed."),
    (
        r"^(prompt_encoder\.mask_embed)\.(\d+)\.",
        indexed({"0": "conv1", "1": "layer_norm1", "3": "conv2", "4": "layer_norm2", "6": "conv3"}),
    ),
    (r"^(mask_decoder\.transformer\.layers\.\d+)\.norm(\d)\.", r"\1.layer_norm\2."),
    (r"^mask_decoder\.transformer\.norm_final_attn\.", "mask_decoder.transformer.layer_norm_final_attn."),
    (
        r"^(mask_decoder)\.output_upscaling\.(\d+)\.",
        indexed({"0": "upscale_conv1", "1": "upscale_layer_norm", "3": "upscale_conv2"}),
    ),
]

SAM1_RULES: list[Rule] = [
    (r"^image_encoder\.", "vision_encoder."),
    (r"^vision_encoder\.patch_embed\.proj\.", "vision_encoder.patch_embed.projection."),
    (r"^vision_encoder\.blocks\.(\d+)\.norm(\d)\.", r"vision_encoder.layers.\1.layer_norm\2."),
    (r"^vision_encoder\.blocks\.", "vision_encoder.layers."),
    (
        r"^(vision_encoder\.neck)\.(\d+)\.",
        indexed({"0": "conv1", "1": "layer_norm1", "2": "conv2", "3": "layer_norm2"}),
    ),
    *DECODER_RULES,
]

SAM2_RULES: list[Rule] = [
    (r"^image_encoder\.trunk\.", "vision_encoder.backbone."),
    (r"^vision_encoder\.backbone\.patch_embed\.proj\.", "vision_encoder.backbone.patch_embed.projection."),
    (r"^(vision_encoder\.backbone\.blocks\.\d+)\.norm(\d)\.", r"\1.layer_norm\2."),
    (r"^image_encoder\.neck\.convs\.(\d+)\.conv\.", r"vision_encoder.neck.convs.\1."),
    (r"^sam_prompt_encoder\.", "prompt_encoder."),
    (r"^sam_mask_decoder\.", "mask_decoder."),
    *DECODER_RULES,
    (r"^(mask_decoder\.transformer\..*|memory_attention\..*)\.out_proj\.", r"\1.o_proj."),
    # The memory modules, which only the video model has.
    (r"^no_mem_embed$", "no_memory_embedding"),
    (r"^no_mem_pos_enc$", "no_memory_positional_encoding"),
    (r"^maskmem_tpos_enc$", "memory_temporal_positional_encoding"),
    (r"^no_obj_ptr$", "no_object_pointer"),
    (r"^no_obj_embed_spatial$", "occlusion_spatial_embedding_parameter"),
    (r"^obj_ptr_proj\.", "object_pointer_proj."),
    (r"^obj_ptr_tpos_proj\.", "temporal_positional_encoding_projection_layer."),
    (r"^(memory_attention\.layers\.\d+)\.norm(\d)\.", r"\1.layer_norm\2."),
    (r"^memory_attention\.norm\.", "memory_attention.layer_norm."),
    (r"^memory_encoder\.pix_feat_proj\.", "memory_encoder.feature_projection."),
    (r"^memory_encoder\.out_proj\.", "memory_encoder.projection."),
    (r"^memory_encoder\.fuser\.", "memory_encoder.memory_fuser."),
    (r"^(memory_encoder\.memory_fuser\.layers\.\d+)\.gamma$", r"\1.scale"),
    (r"^(memory_encoder\.memory_fuser\.layers\.\d+)\.dwconv\.", r"\1.depthwise_conv."),
    (r"^(memory_encoder\.memory_fuser\.layers\.\d+)\.norm\.", r"\1.layer_norm."),
    (r"^(memory_encoder\.memory_fuser\.layers\.\d+)\.pwconv(\d)\.", r"\1.pointwise_conv\2."),
]


def rename(key: str, rules: list[Rule]) -> str:
    """Apply every rule in order, each once (a rule's output is not fed back to itself)."""
    for pattern, replacement in rules:
        key = re.sub(pattern, replacement, key, count=1)
    return key


def rename_mlps(state: Tensors) -> Tensors:
    """Meta's MLP `layers.i` -> proj_in (first), layers.{i-1} (middle), proj_out (last)."""
    depth: dict[str, int] = {}
    for key in state:
        match = MLP_KEY.match(key)
        if match:
            module = match["module"]
            depth[module] = max(depth.get(module, 0), int(match["index"]) + 1)
    renamed = {}
    for key, value in state.items():
        match = MLP_KEY.match(key)
        if match:
            index, last = int(match["index"]), depth[match["module"]] - 1
            name = "proj_in" if index == 0 else "proj_out" if index == last else f"layers.{index - 1}"
            key = f"{match['module']}.{name}.{match['param']}"
        renamed[key] = value
    return renamed


def rename_mask_downsampler(state: Tensors) -> Tensors:
    """Meta's Sequential (conv, norm, activation) x n + final conv -> layers.i.conv/.layer_norm, final_conv."""
    pattern = re.compile(r"^memory_encoder\.mask_downsampler\.encoder\.(\d+)\.(weight|bias)$")
    indexes = [int(m[1]) for m in map(pattern.match, state) if m]
    final = max(indexes, default=-1)
    renamed = {}
    for key, value in state.items():
        match = pattern.match(key)
        if match:
            index = int(match[1])
            part = (
                "final_conv" if index == final else f"layers.{index // 3}." + ("conv", "layer_norm", "act")[index % 3]
            )
            key = f"memory_encoder.mask_downsampler.{part}.{match[2]}"
        renamed[key] = value
    return renamed


def floats(state: Tensors) -> Tensors:
    """Every floating tensor as float32 (the engine moves the model to its own precision later)."""
    return {key: value.float() if value.is_floating_point() else value for key, value in state.items()}


def require(state: Tensors, key: str, what: str) -> Any:
    """state[key], or an EngineError saying the checkpoint is not what it seemed."""
    if key not in state:
        raise EngineError(f"not a {what} checkpoint: no '{key}'")
    return state[key]


# -- SAM (v1)


def sam1_vision_config(meta: Tensors) -> dict[str, Any]:
    """SamVisionConfig arguments read from the image encoder's shapes.

    The heads follow from the relative position tables (one row of head_dim per offset); a block with
    a table of 2 * 64 - 1 rows attends globally, the others within windows of (rows + 1) / 2.
    """
    patch = require(meta, "image_encoder.patch_embed.proj.weight", "SAM")
    hidden, patch_size = int(patch.shape[0]), int(patch.shape[-1])
    grid = int(require(meta, "image_encoder.pos_embed", "SAM").shape[1])
    depth = len([k for k in meta if re.fullmatch(r"image_encoder\.blocks\.\d+\.norm1\.weight", k)])
    tables = [require(meta, f"image_encoder.blocks.{i}.attn.rel_pos_h", "SAM").shape for i in range(depth)]
    global_blocks = [i for i, shape in enumerate(tables) if shape[0] == 2 * grid - 1]
    windowed = [shape[0] for shape in tables if shape[0] != 2 * grid - 1]
    return {
        "hidden_size": hidden,
        "num_hidden_layers": depth,
        "num_attention_heads": hidden // int(tables[0][1]),
        "global_attn_indexes": global_blocks,
        "window_size": (windowed[0] + 1) // 2 if windowed else 14,
        "mlp_dim": int(require(meta, "image_encoder.blocks.0.mlp.lin1.weight", "SAM").shape[0]),
        "output_channels": int(require(meta, "image_encoder.neck.0.weight", "SAM").shape[0]),
        "patch_size": patch_size,
        "image_size": grid * patch_size,
    }


def convert_sam1_state_dict(meta: Tensors) -> tuple[Any, Tensors]:
    """A segment-anything state dict (sam_vit_b/l/h) -> (SamConfig, SamModel state dict)."""
    import transformers

    config = transformers.SamConfig(vision_config=sam1_vision_config(meta))
    state = {rename(key, SAM1_RULES): value for key, value in rename_mlps(meta).items()}
    shared = state.get("shared_image_embedding.positional_embedding")
    if shared is not None:  # tied in transformers: the prompt encoder holds the same table
        state["prompt_encoder.shared_embedding.positional_embedding"] = shared
    return config, floats(state)


# -- SAM 2.1


def sam2_vision_config(meta: Tensors) -> Any:
    """Sam2VisionConfig for the Hiera variant the shapes show (the stage starts are the blocks with a `proj`)."""
    import transformers

    patch = require(meta, "image_encoder.trunk.patch_embed.proj.weight", "SAM 2")
    embed = int(patch.shape[0])
    depth = len([k for k in meta if re.fullmatch(r"image_encoder\.trunk\.blocks\.\d+\.norm1\.weight", k)])
    starts = [i for i in range(depth) if f"image_encoder.trunk.blocks.{i}.proj.weight" in meta]
    bounds = [0, *starts, depth]
    stages = tuple(bounds[i + 1] - bounds[i] for i in range(len(bounds) - 1))
    if (embed, stages) not in HIERA_VARIANTS:
        raise EngineError(f"unknown SAM 2 Hiera variant: embed dim {embed}, blocks per stage {list(stages)}")
    _name, heads, global_blocks, windows = HIERA_VARIANTS[(embed, stages)]
    background = list(require(meta, "image_encoder.trunk.pos_embed", "SAM 2").shape[-2:])
    backbone = transformers.Sam2HieraDetConfig(
        hidden_size=embed,
        num_attention_heads=heads,
        blocks_per_stage=list(stages),
        embed_dim_per_stage=[embed * 2**i for i in range(len(stages))],
        num_attention_heads_per_stage=[heads * 2**i for i in range(len(stages))],
        window_size_per_stage=windows,
        global_attention_blocks=global_blocks,
        window_positional_embedding_background_size=background,
    )
    channels = [embed * 2**i for i in reversed(range(len(stages)))]
    return transformers.Sam2VisionConfig(backbone_config=backbone, backbone_channel_list=channels)


def sam2_state(meta: Tensors) -> Tensors:
    """The model state dict of a SAM 2 checkpoint, unwrapped from {"model": ...} when wrapped."""
    inner = meta.get("model")
    return inner if isinstance(inner, dict) else meta


def rename_sam2(meta: Tensors) -> Tensors:
    """Every key of a SAM 2 state dict renamed for transformers (memory modules included)."""
    state = {rename(key, SAM2_RULES): value for key, value in rename_mlps(rename_mask_downsampler(meta)).items()}
    points = sorted((int(m[1]), k) for k in state if (m := POINT_EMBEDDING.match(k)))
    if points:  # four 1x256 embeddings in Meta's model, one 4x256 table in transformers'
        import torch

        state["prompt_encoder.point_embed.weight"] = torch.cat([state.pop(key) for _, key in points])
    shared = state.get("shared_image_embedding.positional_embedding")
    if shared is not None:
        state["prompt_encoder.shared_embedding.positional_embedding"] = shared
    return floats(state)


def convert_sam2_state_dict(meta: Tensors) -> tuple[Any, Tensors]:
    """A SAM 2.1 checkpoint ({"model": state dict} or the state dict) -> (Sam2Config, Sam2Model state dict).

    The memory modules, which the image model does not have, are left out.
    """
    import transformers

    meta = sam2_state(meta)
    config = transformers.Sam2Config(vision_config=sam2_vision_config(meta))
    ignored = [re.compile(p) for p in transformers.Sam2Model._keys_to_ignore_on_load_unexpected or []]
    state = {k: v for k, v in rename_sam2(meta).items() if not any(p.search(k) for p in ignored)}
    return config, state


def convert_sam2_video_state_dict(meta: Tensors) -> tuple[Any, Tensors]:
    """A SAM 2.1 checkpoint -> (Sam2VideoConfig, Sam2VideoModel state dict), memory modules included."""
    import transformers

    meta = sam2_state(meta)
    config = transformers.Sam2VideoConfig(vision_config=sam2_vision_config(meta))
    return config, rename_sam2(meta)


# -- loading


def read_checkpoint(path: Path) -> Tensors:
    """torch.load the file (weights only); a file torch cannot read is an EngineError naming it."""
    import torch

    try:
        loaded = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # truncated zip, pickle errors, I/O: all mean "not a usable checkpoint"
        raise EngineError(f"cannot read checkpoint {path}: {error}") from error
    if not isinstance(loaded, dict):
        raise EngineError(f"{path}: not a SAM or SAM 2 checkpoint (holds a {type(loaded).__name__}, not a state dict)")
    return loaded


def convert(path: Path, checkpoint: Tensors, video: bool) -> tuple[Any, Any, Tensors]:
    """(model class, config, state dict) for a SAM or SAM 2 checkpoint read from `path`."""
    import transformers

    state = sam2_state(checkpoint)
    try:
        if "image_encoder.trunk.patch_embed.proj.weight" in state:
            if video:
                return transformers.Sam2VideoModel, *convert_sam2_video_state_dict(state)
            return transformers.Sam2Model, *convert_sam2_state_dict(state)
        if "image_encoder.patch_embed.proj.weight" in state:
            if video:
                raise EngineError(f"{path}: a SAM (v1) checkpoint has no video model; use SAM 2.1")
            return transformers.SamModel, *convert_sam1_state_dict(state)
    except EngineError as error:
        if str(path) in str(error):
            raise
        raise EngineError(f"{path}: {error}") from error
    keys = ", ".join(sorted(state)[:5]) or "none"
    raise EngineError(f"{path}: not a SAM or SAM 2 checkpoint (no image encoder patch embedding; keys: {keys})")


def listing(keys: list[str], limit: int = 10) -> str:
    """Up to `limit` keys, and how many more."""
    more = f" and {len(keys) - limit} more" if len(keys) > limit else ""
    return ", ".join(sorted(keys)[:limit]) + more


def load_meta_checkpoint(path: Path, video: bool = False) -> Any:
    """A Meta SAM (.pth) or SAM 2.1 (.pt) checkpoint as a transformers model, in eval mode, float32.

    SAM vs SAM 2 is told by the keys; `video` asks for SAM 2's video model (memory modules included).
    Every key must map onto a parameter and every parameter must be given, or EngineError lists them.
    """
    path = Path(path)
    model_class, config, state = convert(path, read_checkpoint(path), video)
    model = model_class(config)
    try:
        result = model.load_state_dict(state, strict=False)
    except RuntimeError as error:  # shapes that do not fit the architecture read from the file
        raise EngineError(f"{path}: the checkpoint does not fit {model_class.__name__}: {error}") from error
    problems = []
    if result.unexpected_keys:
        problems.append(f"{len(result.unexpected_keys)} unmapped keys: {listing(result.unexpected_keys)}")
    if result.missing_keys:
        problems.append(f"{len(result.missing_keys)} missing keys: {listing(result.missing_keys)}")
    if problems:
        raise EngineError(f"{path}: not a complete {model_class.__name__} checkpoint; " + "; ".join(problems))
    return model.float().eval()
