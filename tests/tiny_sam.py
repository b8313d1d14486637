"""Tiny SAM-family models with random weights, saved in transformers format like real weights.

Each builder saves the video model where the family has one: the image engine loads the same
folder (transformers loads the shared part), as it does with the real hub checkpoints.
Video configs keep memory channels at 64 and hidden sizes at 128 (smaller ones break the model).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

MEMORY = {
    "memory_attention_hidden_size": 128,
    "memory_attention_num_layers": 1,
    "memory_attention_feed_forward_hidden_size": 256,
    "memory_attention_rope_feat_sizes": [16, 16],
    "memory_encoder_hidden_size": 128,
    "memory_encoder_output_channels": 64,
    "mask_downsampler_embed_dim": 128,
    "memory_fuser_embed_dim": 128,
    "memory_fuser_intermediate_dim": 256,
    "memory_fuser_num_layers": 1,
}
DECODER = {"hidden_size": 128, "mlp_dim": 256, "num_attention_heads": 2, "iou_head_hidden_dim": 128}


def tiny_hiera():  # type: ignore[no-untyped-def]
    """A small Hiera backbone config at 256 px (feature maps 64, 32, 16)."""
    from transformers.models.sam2.configuration_sam2 import Sam2HieraDetConfig

    return Sam2HieraDetConfig(
        hidden_size=32,
        image_size=[256, 256],
        blocks_per_stage=[1, 2, 2, 1],
        embed_dim_per_stage=[32, 64, 128, 256],
        num_attention_heads_per_stage=[1, 1, 2, 2],
        window_size_per_stage=[8, 4, 8, 4],
        global_attention_blocks=[4],  # a global block must not open a stage
    )


def tiny_sam2(folder: Path, seed: int = 0) -> Path:
    """A small SAM 2.1 (Hiera) video model at 256 px, saved to `folder`."""
    import torch
    from transformers import Sam2VideoConfig, Sam2VideoModel
    from transformers.models.sam2.configuration_sam2 import Sam2VisionConfig

    torch.manual_seed(seed)
    vision = Sam2VisionConfig(
        backbone_config=tiny_hiera(),
        fpn_hidden_size=128,
        backbone_channel_list=[256, 128, 64, 32],
        backbone_feature_sizes=[[64, 64], [32, 32], [16, 16]],
    )
    config = Sam2VideoConfig(
        vision_config=vision,
        image_size=256,
        prompt_encoder_config={"hidden_size": 128, "image_size": 256, "patch_size": 16},
        mask_decoder_config=DECODER,
        **MEMORY,
    )
    Sam2VideoModel(config).save_pretrained(folder)
    return folder


def tiny_sam3(folder: Path, seed: int = 0) -> Path:
    """A small SAM 3 tracker (ViT backbone) video model at 224 px, saved to `folder`."""
    import torch
    from transformers import Sam3TrackerVideoConfig, Sam3TrackerVideoModel
    from transformers.models.sam3.configuration_sam3 import Sam3VisionConfig, Sam3ViTConfig

    torch.manual_seed(seed)
    vit = Sam3ViTConfig(
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=2,
        image_size=224,
        patch_size=14,
        window_size=8,
        global_attn_indexes=[1],
        pretrain_image_size=224,
    )
    vision = Sam3VisionConfig(
        backbone_config=vit, fpn_hidden_size=128, backbone_feature_sizes=[[64, 64], [32, 32], [16, 16]]
    )
    config = Sam3TrackerVideoConfig(
        vision_config=vision,
        image_size=224,
        prompt_encoder_config={"hidden_size": 128, "image_size": 224, "patch_size": 14},
        mask_decoder_config=DECODER,
        **MEMORY,
    )
    Sam3TrackerVideoModel(config).save_pretrained(folder)
    return folder


def tiny_sam(folder: Path, seed: int = 0) -> Path:
    """A small SAM (v1, ViT) image model at 256 px, saved to `folder`."""
    import torch
    from transformers import SamConfig, SamModel
    from transformers.models.sam.configuration_sam import SamMaskDecoderConfig, SamPromptEncoderConfig, SamVisionConfig

    torch.manual_seed(seed)
    vision = SamVisionConfig(
        hidden_size=64,
        output_channels=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        image_size=256,
        patch_size=16,
        window_size=4,
        global_attn_indexes=[1],
        num_pos_feats=32,
        mlp_dim=128,
    )
    config = SamConfig(
        vision_config=vision,
        prompt_encoder_config=SamPromptEncoderConfig(hidden_size=64, image_size=256, patch_size=16),
        mask_decoder_config=SamMaskDecoderConfig(
            hidden_size=64, mlp_dim=128, num_attention_heads=2, iou_head_hidden_dim=64
        ),
    )
    SamModel(config).save_pretrained(folder)
    return folder


def graph_ops(path: Path) -> Counter[str]:
    """How many nodes of each type the ONNX graph at `path` has."""
    import onnx

    return Counter(node.op_type for node in onnx.load(str(path)).graph.node)


def char_tokenizer():  # type: ignore[no-untyped-def]
    """A char-level CLIP tokenizer (a-z, 0-9, space; no merges): what a test needs of SAM 3's BPE."""
    from transformers import CLIPTokenizer

    chars = [chr(c) for c in range(ord("a"), ord("z") + 1)] + list("0123456789 ")
    words = chars + [c + "</w>" for c in chars] + ["<|startoftext|>", "<|endoftext|>"]
    return CLIPTokenizer(vocab={w: i for i, w in enumerate(words)}, merges=[], model_max_length=32)


def tiny_sam3_concepts(folder: Path, seed: int = 0, tokenizer: bool = True) -> Path:
    """A small SAM 3 video model (detector with text encoder + tracker, one ViT) at 224 px, saved to
    `folder` with a char-level tokenizer, laid out like the facebook/sam3 checkpoint."""
    import torch
    from transformers import CLIPTextConfig, Sam3TrackerVideoConfig, Sam3VideoConfig, Sam3VideoModel
    from transformers.models.sam3 import configuration_sam3 as c

    torch.manual_seed(seed)
    tok = char_tokenizer()
    n = len(tok)
    vit = c.Sam3ViTConfig(
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=2,
        image_size=224,
        patch_size=14,
        window_size=8,
        global_attn_indexes=[1],
        pretrain_image_size=224,
    )
    vision = c.Sam3VisionConfig(
        backbone_config=vit, fpn_hidden_size=128, backbone_feature_sizes=[[64, 64], [32, 32], [16, 16]]
    )
    text = CLIPTextConfig(
        vocab_size=n,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=1,
        num_attention_heads=2,
        max_position_embeddings=32,
        projection_dim=32,
        bos_token_id=n - 2,
        eos_token_id=n - 1,
        pad_token_id=n - 1,
    )
    small = {"hidden_size": 128, "num_attention_heads": 2, "intermediate_size": 256}
    detector = c.Sam3Config(
        vision_config=vision,
        text_config=text,
        geometry_encoder_config=c.Sam3GeometryEncoderConfig(num_layers=1, **small),
        detr_encoder_config=c.Sam3DETREncoderConfig(num_layers=1, **small),
        detr_decoder_config=c.Sam3DETRDecoderConfig(num_layers=2, num_queries=20, **small),
        mask_decoder_config=c.Sam3MaskDecoderConfig(hidden_size=128, num_attention_heads=2),
    )
    tracker = Sam3TrackerVideoConfig(
        vision_config=vision,
        image_size=224,
        prompt_encoder_config={"hidden_size": 128, "image_size": 224, "patch_size": 14},
        mask_decoder_config=DECODER,
        **MEMORY,
    )
    Sam3VideoModel(Sam3VideoConfig(detector_config=detector, tracker_config=tracker)).save_pretrained(folder)
    if tokenizer:
        tok.save_pretrained(folder)
    return folder
