"""onnxruntime's fused MultiHeadAttention for SAM attention, in the ONNX exports and at run time.

Exported as plain ONNX ops, every attention of the SAM image encoders materialises its score
matrix (for SAM 2.1's global blocks 4 heads x 4096 x 4096 floats, 256 MB) and moves q, k and v
through Transpose nodes. onnxruntime's contrib op `com.microsoft.MultiHeadAttention` runs the same
softmax(q k^T * scale) v in fp32 with a flash-attention kernel on the CPU, on (batch, tokens,
heads * head size) inputs, so no score matrix and no head transposes are left in the graph.

- `fused_attention(module)`: while active, every transformers attention inside `module` that goes
  through `AttentionInterface` (the Hiera blocks of SAM 2.1, the ViT of SAM 3) exports as that op.
  The arithmetic in torch stays the same, so exporters that do not know the op (torch.export)
  trace plain scaled_dot_product_attention instead.
- `use_fused_attention(module)`: from then on, large attentions that `module` runs in torch on the
  CPU in fp32 (the memory attention of the video models: 4096 queries over up to 7 x 4096 memory
  tokens) are computed by that kernel, about twice as fast as torch's here (347 against 648 ms).

Attention with a mask, causal attention, grouped heads and dropout keep the standard path.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import Any

log = logging.getLogger(__name__)

IMPLEMENTATION = "annotator_fused_mha"
DOMAIN = "com.microsoft"
# Below this many query x key pairs torch's own attention is as fast (onnxruntime has a fixed cost).
RUNTIME_MIN_PAIRS = 1 << 20
_registered = False


class RuntimeKernel:
    """MultiHeadAttention run by onnxruntime on numpy arrays, one tiny in-memory graph per (heads, scale)."""

    def __init__(self) -> None:
        self._sessions: dict[tuple[int, float], Any] = {}
        self.failed = False

    def session(self, heads: int, scale: float) -> Any:
        """The session for this head count and scale, built on first use."""
        key = (heads, scale)
        if key not in self._sessions:
            import onnx
            from onnx import TensorProto, helper

            from model.sam.onnx_decoder import session_for

            node = helper.make_node(
                "MultiHeadAttention", ["q", "k", "v"], ["o"], domain=DOMAIN, num_heads=heads, scale=scale
            )
            dims = {"q": ["B", "S", "D"], "k": ["B", "L", "D"], "v": ["B", "L", "E"], "o": ["B", "S", "E"]}
            values = {
                name: helper.make_tensor_value_info(name, TensorProto.FLOAT, shape) for name, shape in dims.items()
            }
            graph = helper.make_graph([node], "attention", [values["q"], values["k"], values["v"]], [values["o"]])
            opsets = [helper.make_opsetid("", 17), helper.make_opsetid(DOMAIN, 1)]
            model = helper.make_model(graph, opset_imports=opsets)
            onnx.checker.check_model(model)
            self._sessions[key] = session_for(model.SerializeToString())
        return self._sessions[key]

    def __call__(self, query: Any, key: Any, value: Any, heads: int, scale: float) -> Any:
        """(B, S, heads * d) float32 query, (B, L, heads * d) key and value -> (B, S, heads * d_v)."""
        feeds = {"q": query, "k": key, "v": value}
        return self.session(heads, scale).run(["o"], feeds)[0]


KERNEL = RuntimeKernel()


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

    def runtime(query: Any, key: Any, value: Any, heads: int, scale: float) -> Any | None:
        """The kernel's result as a tensor, or None where torch should compute it."""
        eager = not torch.jit.is_tracing() and query.device.type == "cpu" and query.dtype == torch.float32
        if KERNEL.failed or not eager or query.shape[1] * key.shape[1] < RUNTIME_MIN_PAIRS:
            return None
        arrays = [x.detach().contiguous().numpy() for x in (query, key, value)]
        try:
            return torch.from_numpy(KERNEL(*arrays, heads, scale))
        except Exception as error:  # onnxruntime missing or refusing: torch computes it from now on
            KERNEL.failed = True
            log.warning("onnxruntime attention failed (%s); attention runs in torch", error)
            return None

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

        q, k, v = flat(query), flat(key), flat(value)
        out = runtime(q, k, v, heads, scale)
        if out is None:
            out = MultiHeadAttention.apply(q, k, v, heads, scale)
        return out.reshape(out.shape[0], out.shape[1], heads, -1), None

    AttentionInterface.register(IMPLEMENTATION, attention)
    _registered = True


def _configs(module: Any) -> dict[int, Any]:
    """The transformers configs that the layers of `module` read their attention implementation from."""
    return {id(m.config): m.config for m in module.modules() if hasattr(getattr(m, "config", None), "to_dict")}


@contextlib.contextmanager
def fused_attention(module: Any) -> Iterator[dict[str, int]]:
    """While active, the attention layers of `module` (a torch module) export as MultiHeadAttention;
    yields the custom opsets that torch.onnx.export needs for it."""
    _register()
    configs = _configs(module)
    previous = {key: config._attn_implementation for key, config in configs.items()}
    try:
        for config in configs.values():
            config._attn_implementation = IMPLEMENTATION
        yield {DOMAIN: 1}
    finally:
        for key, config in configs.items():
            config._attn_implementation = previous[key]


def use_fused_attention(module: Any) -> None:
    """From now on, large CPU fp32 attentions of `module` run on onnxruntime's kernel."""
    _register()
    for config in _configs(module).values():
        config._attn_implementation = IMPLEMENTATION
