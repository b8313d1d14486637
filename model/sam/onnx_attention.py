"""Fused attention for the ONNX exports: onnxruntime's MultiHeadAttention instead of MatMul/Softmax/MatMul.

Exported as plain ONNX ops, every attention of the SAM image encoders materialises its score
matrix (for SAM 2.1's global blocks 4 heads x 4096 x 4096 floats, 256 MB) and moves q, k and v
through Transpose nodes. onnxruntime's contrib op `com.microsoft.MultiHeadAttention` runs the same
softmax(q k^T * scale) v in fp32 with a flash-attention kernel on the CPU, on (batch, tokens,
heads * head size) inputs, so no score matrix and no head transposes are left in the graph.

`fused_attention(module)` makes every transformers attention inside `module` that goes through
`AttentionInterface` (the Hiera blocks of SAM 2.1, the ViT of SAM 3) use that op while the module
is traced for export; the arithmetic in torch stays the same, so the exporters that do not know
the op (torch.export) trace plain scaled_dot_product_attention instead. Attention with a mask,
causal attention or grouped heads keep the standard path.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

IMPLEMENTATION = "annotator_onnx_mha"
DOMAIN = "com.microsoft"
_registered = False


def _register() -> None:
    """Register the attention function with transformers once (torch is imported lazily)."""
    global _registered
    if _registered:
        return
    import torch
    from transformers import AttentionInterface
    from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS

    class MultiHeadAttention(torch.autograd.Function):
        """softmax(q k^T * scale) v on (B, S, heads * head size) tensors; exported as the contrib op."""

        @staticmethod
        def forward(ctx: Any, query: Any, key: Any, value: Any, heads: int, scale: float) -> Any:
            def split(x: Any) -> Any:
                return x.reshape(x.shape[0], x.shape[1], heads, -1).transpose(1, 2)

            out = torch.nn.functional.scaled_dot_product_attention(split(query), split(key), split(value), scale=scale)
            return out.transpose(1, 2).reshape(query.shape[0], query.shape[1], -1)

        @staticmethod
        def symbolic(g: Any, query: Any, key: Any, value: Any, heads: int, scale: float) -> Any:
            return g.op(f"{DOMAIN}::MultiHeadAttention", query, key, value, num_heads_i=heads, scale_f=scale)

    def attention(
        module: Any,
        query: Any,
        key: Any,
        value: Any,
        attention_mask: Any,
        dropout: float = 0.0,
        scaling: float | None = None,
        is_causal: bool | None = None,
        **kwargs: Any,
    ) -> tuple[Any, None]:
        """An AttentionInterface function: q, k, v (B, heads, S, head size) -> (B, S, heads, head size)."""
        heads = getattr(module, "num_attention_heads", None)
        plain = attention_mask is not None or is_causal or dropout or kwargs.get("position_bias") is not None
        if plain or not isinstance(heads, int) or key.shape[1] != heads or query.shape[1] != heads:
            sdpa = ALL_ATTENTION_FUNCTIONS["sdpa"]
            return sdpa(
                module,
                query,
                key,
                value,
                attention_mask,
                dropout=dropout,
                scaling=scaling,
                is_causal=is_causal,
                **kwargs,
            )
        scale = float(scaling) if scaling is not None else float(query.shape[-1]) ** -0.5

        def flat(x: Any) -> Any:
            return x.transpose(1, 2).reshape(x.shape[0], x.shape[2], -1)

        out = MultiHeadAttention.apply(flat(query), flat(key), flat(value), heads, scale)
        return out.reshape(out.shape[0], out.shape[1], heads, -1), None

    AttentionInterface.register(IMPLEMENTATION, attention)
    _registered = True


@contextlib.contextmanager
def fused_attention(module: Any) -> Iterator[dict[str, int]]:
    """While active, the attention layers of `module` (a torch module) export as MultiHeadAttention;
    yields the custom opsets that torch.onnx.export needs for it."""
    _register()
    configs = {id(m.config): m.config for m in module.modules() if hasattr(getattr(m, "config", None), "to_dict")}
    previous = {key: config._attn_implementation for key, config in configs.items()}
    try:
        for config in configs.values():
            config._attn_implementation = IMPLEMENTATION
        yield {DOMAIN: 1}
    finally:
        for key, config in configs.items():
            config._attn_implementation = previous[key]
