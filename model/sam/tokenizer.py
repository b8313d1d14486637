"""SAM 3's text tokenizer (OpenAI CLIP BPE, 32 tokens), loaded from local files only.

A weights folder normally carries `tokenizer.json` (+ `tokenizer_config.json`), which
transformers loads. Without them, `vocab.json` + `merges.txt` or CLIP's own
`bpe_simple_vocab_16e6.txt.gz` (shipped in the open-clip-torch package) are turned into the
tokenizer here: transformers 5.x silently ignores `vocab_file=`/`merges_file=` in
`CLIPTokenizer` (it builds a 3-token vocabulary), so the loaded vocabulary and merges are passed.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

from model.errors import EngineError

CONTEXT = 32
CLIP_BPE = "bpe_simple_vocab_16e6.txt.gz"
START, END = "<|startoftext|>", "<|endoftext|>"


def byte_symbols() -> list[str]:
    """CLIP's 256 printable stand-ins for the bytes, in CLIP's vocabulary order."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1))
    printable += list(range(ord("®"), ord("ÿ") + 1))
    codes = printable[:]
    extra = 0
    for byte in range(256):
        if byte not in printable:
            printable.append(byte)
            codes.append(256 + extra)
            extra += 1
    return [chr(c) for c in codes]


def clip_vocabulary(merges: list[tuple[str, str]]) -> dict[str, int]:
    """CLIP's vocabulary from its merges: the byte symbols, the same with </w>, each merge joined, the two specials."""
    symbols = byte_symbols()
    words = symbols + [s + "</w>" for s in symbols] + ["".join(m) for m in merges] + [START, END]
    return {word: index for index, word in enumerate(words)}


def _merges(lines: list[str]) -> list[tuple[str, str]]:
    pairs = []
    for line in lines:
        parts = line.split()
        if len(parts) == 2 and not line.startswith("#version"):
            pairs.append((parts[0], parts[1]))
    return pairs


def build_clip_tokenizer(vocab: dict[str, int], merges: list[tuple[str, str]]) -> Any:
    """A CLIPTokenizer from an in-memory vocabulary and merge list, 32 tokens of context."""
    from transformers import CLIPTokenizer

    return CLIPTokenizer(vocab=vocab, merges=merges, model_max_length=CONTEXT)


def load_tokenizer(folder: Path) -> Any:
    """The tokenizer of a SAM 3 weights folder (see the module docstring); EngineError naming the folder if none."""
    if (folder / "tokenizer.json").is_file() or (folder / "tokenizer_config.json").is_file():
        from transformers import AutoTokenizer

        try:
            tokenizer = AutoTokenizer.from_pretrained(str(folder))
        except (OSError, ValueError) as error:
            raise EngineError(f"cannot load the SAM 3 tokenizer from {folder}: {error}") from error
        tokenizer.model_max_length = CONTEXT
        return tokenizer
    if (folder / "vocab.json").is_file() and (folder / "merges.txt").is_file():
        vocab = json.loads((folder / "vocab.json").read_text(encoding="utf-8"))
        merges = _merges((folder / "merges.txt").read_text(encoding="utf-8").splitlines())
        return build_clip_tokenizer(vocab, merges)
    if (folder / CLIP_BPE).is_file():
        with gzip.open(folder / CLIP_BPE, "rt", encoding="utf-8") as handle:
            lines = handle.read().split("\n")
        # CLIP uses the first 48 894 merges after the header line (49 408 ids in all).
        merges = _merges(lines[1 : 49152 - 256 - 2 + 1])
        return build_clip_tokenizer(clip_vocabulary(merges), merges)
    raise EngineError(
        f"no text tokenizer in {folder}: SAM 3 needs tokenizer.json (it comes with the facebook/sam3 weights), "
        f"vocab.json + merges.txt, or {CLIP_BPE} (from the open-clip-torch package)"
    )
