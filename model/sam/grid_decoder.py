"""The SAM 2 mask decoder rewritten for many single positive clicks on one image (segment everything).

Same weights, same mathematics as `Sam2MaskDecoder.forward` with `multimask_output=True` and no mask
input, reordered so that much less is computed per click:

- what does not depend on the click is computed once per image: the image embedding plus the
  "no mask" dense embedding, the positional encodings, the first layer's key / value projections
  (tokens -> image) and query projection (image -> tokens), the high-resolution features in the
  upscaling's layout;
- the image-side projections of the other attentions are folded into the few tokens (8 per click):
  q (Wk x) = (q Wk) x and A (x Wv) = (A x) Wv, so a click costs a 4096 x 64 product where the
  model computes a 4096 x 128 one, and no image-sized tensor is copied per click;
- the transposed convolutions of the upscaling (kernel 2, stride 2) are plain per-pixel matrix
  products in a channels-last layout; the pixels are put in place only on the three output masks;
- the upscaling runs only for clicks of which some candidate passes the predicted-IoU filter
  (`min_score`), which the model's head gives before any upscaling; the single-mask output is not made.

Results agree with the model's forward to float rounding (tests/model/test_sam_everything.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

# Clicks decoded together (measured on 2 cores at 1080p: 2 is fastest; larger batches page-fault
# fresh memory for every image-sized tensor).
CHUNK = 2


def supported(model: Any) -> bool:
    """Whether `model` has the SAM 2 decoder (SAM 2.1, SAM 3 tracker) this module rewrites."""
    decoder = getattr(model, "mask_decoder", None)
    return decoder is not None and hasattr(decoder, "obj_score_token") and hasattr(decoder, "conv_s0")


def _heads(x: Any, heads: int) -> Any:
    """(..., L, H*d) -> (..., H, L, d)."""
    return x.unflatten(-1, (heads, -1)).transpose(-3, -2)


def _self_attention(attn: Any, query: Any, value: Any) -> Any:
    """The tokens' self-attention module on (B, T, C) tokens (it takes a leading image batch of 1)."""
    return attn(query=query[None], key=query[None], value=value[None])[0][0]


@dataclass
class ImageState:
    """What the decoder needs of one image, computed once (channels last, N = h*w pixels)."""

    keys: Any  # (N, C) image embedding + no-mask embedding
    position: Any  # (N, C) image positional encoding
    first_keys: Any  # (H, N, d) layer 0 tokens -> image keys, scaled
    first_values: Any  # (H, N, d) layer 0 tokens -> image values
    first_queries: Any  # (H, N, d) layer 0 image -> tokens queries, scaled
    feat_s1: Any  # (N, 4, C/4) high-res features in the first upscaling's layout
    feat_s0: Any  # (N, 4, 4, C/8) in the second's
    size: tuple[int, int]  # (h, w) of the embedding


class GridDecoder:
    """Low-res logits and predicted IoUs of the three multimask candidates for batches of single clicks."""

    def __init__(self, model: Any) -> None:
        import torch

        self.torch = torch
        self.model = model
        self.decoder = model.mask_decoder
        self.heads = self.decoder.transformer.layers[0].cross_attn_token_to_image.num_attention_heads
        up1, up2 = self.decoder.upscale_conv1, self.decoder.upscale_conv2
        # ConvTranspose2d(kernel 2, stride 2) weights (in, out, 2, 2) -> (in, 2*2*out): per-pixel products
        self.up1 = up1.weight.permute(0, 2, 3, 1).reshape(up1.in_channels, -1)
        self.up1_bias = up1.bias.repeat(4)
        self.up2 = up2.weight.permute(0, 2, 3, 1).reshape(up2.in_channels, -1)
        self.up2_bias = up2.bias.repeat(4)

    def prepare(self, features: list[Any]) -> ImageState:
        """The click-independent part for an image's features (as `get_image_embeddings` gives them)."""
        decoder = self.decoder
        image, s0, s1 = features[-1][0], features[0][0], features[1][0]
        h, w = image.shape[-2:]
        keys = (image + self.model.prompt_encoder.no_mask_embed.weight.reshape(-1, 1, 1)).flatten(1).T.contiguous()
        position = self.model.get_image_wide_positional_embeddings()[0].flatten(1).T.contiguous()
        layer = decoder.transformer.layers[0]
        t2i, i2t = layer.cross_attn_token_to_image, layer.cross_attn_image_to_token
        with_position = keys + position
        first_keys = _heads(t2i.k_proj(with_position), self.heads) * t2i.scaling
        first_values = _heads(t2i.v_proj(keys), self.heads)
        first_queries = _heads(i2t.q_proj(with_position), self.heads) * i2t.scaling
        c1, c0 = s1.shape[0], s0.shape[0]
        feat_s1 = s1.reshape(c1, h, 2, w, 2).permute(1, 3, 2, 4, 0).reshape(h * w, 4, c1)
        feat_s0 = s0.reshape(c0, h, 2, 2, w, 2, 2).permute(1, 4, 2, 5, 3, 6, 0).reshape(h * w, 4, 4, c0)
        return ImageState(
            keys, position, first_keys, first_values, first_queries, feat_s1, feat_s0.contiguous(), (h, w)
        )

    def tokens(self, points: Any) -> Any:
        """(B, 8, C) decoder tokens for B single positive clicks (B x 2, model-input pixels)."""
        torch, encoder, decoder = self.torch, self.model.prompt_encoder, self.decoder
        size = float(encoder.input_image_size)
        coords = ((points + 0.5) / size)[None, :, None]  # as Sam2PromptEncoder._embed_points
        point = encoder.shared_embedding(coords)[0, :, 0] + encoder.point_embed.weight[1]
        pad = encoder.not_a_point_embed.weight.expand(len(points), -1)
        output = torch.cat([decoder.obj_score_token.weight, decoder.iou_token.weight, decoder.mask_tokens.weight])
        return torch.cat([output.expand(len(points), -1, -1), point[:, None], pad[:, None]], dim=1)

    def __call__(self, state: ImageState, points: Any, min_score: float | None = None) -> tuple[Any, Any]:
        """(B x 3 x 4h x 4w low-res logits, B x 3 predicted IoUs) for B x 2 clicks in model pixels.

        With `min_score`, the logits of clicks whose three IoUs are all <= min_score are left at
        -inf (never kept by `everything`) instead of being computed.
        """
        torch = self.torch
        h, w = state.size
        low = torch.full((len(points), 3, 4 * h, 4 * w), -math.inf, device=points.device)
        scores = []
        # A few clicks at a time: the per-click tensors (4-8 MB each) stay in reused memory.
        for start in range(0, len(points), CHUNK):
            queries, keys = self._transformer(state, self.tokens(points[start : start + CHUNK]))
            chunk_scores = self.decoder.iou_prediction_head(queries[:, 1])[:, 1:]
            scores.append(chunk_scores)
            wanted = torch.arange(len(queries))
            if min_score is not None:
                wanted = (chunk_scores > min_score).any(dim=1).nonzero()[:, 0]
            if len(wanted):
                tokens = queries[wanted, 3:6]
                mlps = self.decoder.output_hypernetworks_mlps
                hyper = torch.stack([mlps[i + 1](tokens[:, i]) for i in range(3)], dim=1)
                low[start + wanted] = self._masks(state, keys[wanted], hyper)
        return low, torch.cat(scores)

    def _transformer(self, state: ImageState, prompt: Any) -> tuple[Any, Any]:
        """The two-way transformer: (B, 8, C) tokens and (B, N, C) image keys after it."""
        transformer = self.decoder.transformer
        first, *rest = transformer.layers
        queries = first.layer_norm1(_self_attention(first.self_attn, prompt, prompt))
        attention = self._tokens_to_image
        queries = first.layer_norm2(queries + attention(first.cross_attn_token_to_image, queries + prompt, state))
        queries = first.layer_norm3(queries + first.mlp(queries))
        keys = self._image_to_tokens(first.cross_attn_image_to_token, None, queries + prompt, queries, state)
        keys = first.layer_norm4(keys + state.keys)
        for layer in rest:
            with_prompt = queries + prompt
            queries = layer.layer_norm1(queries + _self_attention(layer.self_attn, with_prompt, queries))
            with_position = keys + state.position
            attended = attention(layer.cross_attn_token_to_image, queries + prompt, state, keys, with_position)
            queries = layer.layer_norm2(queries + attended)
            queries = layer.layer_norm3(queries + layer.mlp(queries))
            update = self._image_to_tokens(
                layer.cross_attn_image_to_token, with_position, queries + prompt, queries, state
            )
            keys = layer.layer_norm4(keys + update)
        final = transformer.final_attn_token_to_image
        attended = attention(final, queries + prompt, state, keys, keys + state.position)
        return transformer.layer_norm_final_attn(queries + attended), keys

    def _tokens_to_image(
        self, attn: Any, query: Any, state: ImageState, keys: Any = None, with_position: Any = None
    ) -> Any:
        """Tokens attending to the image; keys None: the first layer's (cached) image keys and values."""
        torch = self.torch
        q = _heads(attn.q_proj(query), self.heads)  # (B, H, T, d)
        if keys is None:
            weights = torch.softmax(q @ state.first_keys.transpose(-1, -2), dim=-1)
            out = weights @ state.first_values
        else:
            b, h, t, d = q.shape
            wk = attn.k_proj.weight.reshape(h, d, -1)  # (H, d, C)
            # (q Wk) x^T: the key projection's bias adds the same to every pixel's score: no effect
            folded = (q @ wk).reshape(b, h * t, -1) * attn.scaling
            weights = torch.softmax(folded @ with_position.transpose(-1, -2), dim=-1)  # (B, H*T, N)
            summed = (weights @ keys).reshape(b, h, t, -1)  # (A x) Wv + bv (each row of A sums to 1)
            wv = attn.v_proj.weight.reshape(h, d, -1)
            out = summed @ wv.transpose(-1, -2) + attn.v_proj.bias.reshape(h, 1, d)
        return attn.o_proj(out.transpose(1, 2).flatten(2))

    def _image_to_tokens(self, attn: Any, with_position: Any, key: Any, value: Any, state: ImageState) -> Any:
        """The image (B, N, C) attending to the tokens, without its output bias folded in below."""
        torch = self.torch
        k = _heads(attn.k_proj(key), self.heads)  # (B, H, T, d)
        v = _heads(attn.v_proj(value), self.heads)
        b, h, t, d = k.shape
        if with_position is None:  # the first layer: image queries cached
            scores = (state.first_queries @ k.transpose(-1, -2)).permute(0, 2, 1, 3)  # (B, N, H, T)
        else:
            wq = attn.q_proj.weight.reshape(h, d, -1)  # (H, d, C)
            folded = (wq.transpose(-1, -2) @ k.transpose(-1, -2)) * attn.scaling  # (B, H, C, T)
            folded = folded.permute(0, 2, 1, 3).reshape(b, -1, h * t)
            bias = (k @ attn.q_proj.bias.reshape(h, d, 1)).reshape(b, 1, h * t) * attn.scaling
            scores = (with_position @ folded + bias).unflatten(-1, (h, t))
        weights = torch.softmax(scores, dim=-1).flatten(2)  # (B, N, H*T)
        wo = attn.o_proj.weight.reshape(-1, h, d).permute(1, 2, 0)  # (H, d, C)
        folded_out = (v @ wo).reshape(b, h * t, -1)  # v_h Wo_h
        return weights @ folded_out + attn.o_proj.bias

    def _masks(self, state: ImageState, keys: Any, hyper: Any) -> Any:
        """(B, 3, 4h, 4w) logits: the upscaling of (B, N, C) keys, channels last, and the hypernetwork."""
        torch, decoder = self.torch, self.decoder
        functional = torch.nn.functional
        b, n, _ = keys.shape
        up = (keys @ self.up1 + self.up1_bias).reshape(b, n, 4, -1) + state.feat_s1
        norm = decoder.upscale_layer_norm
        up = functional.gelu(functional.layer_norm(up, norm.normalized_shape, norm.weight, norm.bias, norm.eps))
        up = (up @ self.up2 + self.up2_bias).reshape(b, n, 4, 4, -1) + state.feat_s0
        up = functional.gelu(up)
        masks = up.reshape(b, n * 16, -1) @ hyper.transpose(1, 2)  # (B, N*16, 3)
        h, w = state.size
        masks = masks.reshape(b, h, w, 2, 2, 2, 2, 3).permute(0, 7, 1, 3, 5, 2, 4, 6)
        return masks.reshape(b, 3, 4 * h, 4 * w)
