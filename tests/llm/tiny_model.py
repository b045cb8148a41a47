"""Write a tiny llama-architecture GGUF model with random weights (about 600 KB, a 512-token
vocabulary with byte fallback), for llama-cpp-python's server in the tests. Its answers are
noise; under a JSON-schema grammar they are still JSON of that schema, which is what the
tests need: the protocol, the prompts and the parsing, not the model's taste."""

from __future__ import annotations

from pathlib import Path

import numpy as np

VOCAB = 512
EMBED = 64
FFN = 128
LAYERS = 2
HEADS = 4
CONTEXT = 4096


def _pieces() -> list[tuple[str, float, int]]:
    """(text, score, type): unknown, BOS, EOS, the 256 bytes, then common pieces."""
    normal, control, unknown, byte = 1, 3, 2, 6
    tokens = [("<unk>", 0.0, unknown), ("<s>", 0.0, control), ("</s>", 0.0, control)]
    # Control bytes are control tokens: the tokenizer still finds them for a prompt's
    # newlines, but they decode to nothing, so the grammar never lets the model emit one
    # (a raw control character inside a JSON string would make the answer invalid JSON).
    tokens += [
        (f"<0x{b:02X}>", 0.0, control if b < 0x20 or b == 0x7F else byte) for b in range(256)
    ]
    chars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    extra = [f"\u2581{c}" for c in chars] + list(chars) + ['{"', '":', '",', '"}', '["', '"]']
    extra += [f"{a}{b}" for a in "aeiost" for b in "aeinorst"]
    seen = {t for t, _, _ in tokens}
    for i, text in enumerate(dict.fromkeys(extra)):
        if len(tokens) == VOCAB:
            break
        if text not in seen:
            tokens.append((text, -float(i + 1), normal))
    while len(tokens) < VOCAB:
        tokens.append((f"\u2581w{len(tokens)}", -1000.0 - len(tokens), normal))
    return tokens


def write_tiny_model(path: Path, seed: int = 0) -> Path:
    """The model at ``path`` (written once; an existing file is kept)."""
    import gguf  # the test extra: tests skip when it is missing

    if path.exists():
        return path
    rng = np.random.default_rng(seed)
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_name("recserve-tiny-test")
    writer.add_context_length(CONTEXT)
    writer.add_embedding_length(EMBED)
    writer.add_block_count(LAYERS)
    writer.add_feed_forward_length(FFN)
    writer.add_head_count(HEADS)
    writer.add_head_count_kv(HEADS)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_rope_dimension_count(EMBED // HEADS)
    writer.add_file_type(gguf.LlamaFileType.ALL_F32)
    pieces = _pieces()
    writer.add_tokenizer_model("llama")
    writer.add_token_list([t for t, _, _ in pieces])
    writer.add_token_scores([s for _, s, _ in pieces])
    writer.add_token_types([k for _, _, k in pieces])
    writer.add_bos_token_id(1)
    writer.add_eos_token_id(2)
    writer.add_unk_token_id(0)
    writer.add_add_bos_token(True)

    def tensor(name: str, *shape: int, scale: float = 0.02) -> None:
        writer.add_tensor(name, (rng.standard_normal(shape) * scale).astype(np.float32))

    def ones(name: str) -> None:
        writer.add_tensor(name, np.ones(EMBED, dtype=np.float32))

    tensor("token_embd.weight", VOCAB, EMBED)
    for b in range(LAYERS):
        ones(f"blk.{b}.attn_norm.weight")
        for part in ("q", "k", "v", "output"):
            tensor(f"blk.{b}.attn_{part}.weight", EMBED, EMBED)
        ones(f"blk.{b}.ffn_norm.weight")
        tensor(f"blk.{b}.ffn_gate.weight", FFN, EMBED)
        tensor(f"blk.{b}.ffn_up.weight", FFN, EMBED)
        tensor(f"blk.{b}.ffn_down.weight", EMBED, FFN)
    ones("output_norm.weight")
    tensor("output.weight", VOCAB, EMBED)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


if __name__ == "__main__":
    import sys

    print(write_tiny_model(Path(sys.argv[1])))
