#!/usr/bin/env python3
"""Reference outputs for the BERT golden tests (src/model/bert_golden.rs).

Hugging Face transformers + PyTorch are the reference implementation of BERT.
This script writes, under tests/golden/bert/:

- tiny-<name>/config.json, model.safetensors: small random-initialised
  BertForPreTraining checkpoints in two shapes (every parameter, LayerNorms and
  biases included, drawn at random so a wrong key or a missing transpose shows),
  saved by `save_pretrained` as any Hugging Face checkpoint is (tiny-a also as
  pytorch_model.bin, in torch.save's zip and legacy formats);
- tiny-<name>/reference.safetensors: fixed token inputs (a pair with segment
  ids, and a padded second row) and the model's last hidden state, pooled
  output, MLM logits and NSP logits for them;
- minilm-sentence-embeddings.safetensors: all-MiniLM-L6-v2 sentence embeddings
  (mean pooling over the attention mask, L2-normalised, as sentence-transformers
  runs it) of one padded batch, for the SimCSE demo (`... sentence-embeddings`
  regenerates only this file).
- minilm-reference.safetensors: the real all-MiniLM-L6-v2 (fetched by
  `make setup` into .assets/www/minilm) on a few sentences: Hugging Face's
  token ids and the last hidden state.

The files are small and committed; `make golden` regenerates them (pinned
versions in scripts/golden-requirements.txt). Inputs are stored as F32 so that
one safetensors reader serves every file.
"""
import json
import os
import sys

import torch
from safetensors.torch import save_file
from transformers import BertConfig, BertForPreTraining, BertModel, BertTokenizerFast

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "golden", "bert")
MINILM = os.path.join(ROOT, ".assets", "www", "minilm")

SHAPES = {
    # name: config overrides. "a": BERT's exact GELU, 2 layers; "b": the tanh
    # GELU, 3 layers, 6 heads, an odd intermediate size.
    "a": dict(vocab_size=97, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
              intermediate_size=64, max_position_embeddings=24, hidden_act="gelu"),
    "b": dict(vocab_size=131, hidden_size=48, num_hidden_layers=3, num_attention_heads=6,
              intermediate_size=72, max_position_embeddings=32, hidden_act="gelu_new"),
}

MINILM_SENTENCES = [
    "A man is playing a guitar.",
    "Someone plays a musical instrument.",
    "The stock market crashed today.",
]


def tiny(name, overrides, seed):
    torch.manual_seed(seed)
    config = BertConfig(type_vocab_size=2, layer_norm_eps=1e-12, **overrides)
    model = BertForPreTraining(config).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn_like(p) * 0.2)
        # LayerNorm scales near 1 with noise, so the norms matter but stay sane.
        for module in model.modules():
            if isinstance(module, torch.nn.LayerNorm):
                module.weight.copy_(1.0 + 0.3 * torch.randn_like(module.weight))
                module.bias.copy_(0.3 * torch.randn_like(module.bias))
    out_dir = os.path.join(OUT, f"tiny-{name}")
    os.makedirs(out_dir, exist_ok=True)
    model.save_pretrained(out_dir, safe_serialization=True)
    if name == "a":
        # The same tensors as torch.save writes them (checkpoints that ship only
        # pytorch_model.bin): the zip format and the legacy (pre-1.6) stream,
        # for src/model/pytorch_bin.rs.
        from safetensors.torch import load_file
        state = load_file(os.path.join(out_dir, "model.safetensors"))
        torch.save(state, os.path.join(out_dir, "pytorch_model.bin"))
        torch.save(state, os.path.join(out_dir, "pytorch_model.legacy.bin"),
                   _use_new_zipfile_serialization=False)

    # Row 0: [CLS] A [SEP] B [SEP] over the full length; row 1: a shorter pair,
    # padded with id 0 and masked out.
    t = 12
    gen = torch.Generator().manual_seed(seed + 1)
    tokens = torch.randint(5, config.vocab_size, (2, t), generator=gen)
    tokens[:, 0] = 1  # stands in for [CLS]
    segments = torch.zeros(2, t, dtype=torch.long)
    segments[0, 6:] = 1
    segments[1, 4:9] = 1
    attention = torch.ones(2, t, dtype=torch.long)
    attention[1, 9:] = 0
    tokens[1, 9:] = 0
    segments[1, 9:] = 0
    with torch.no_grad():
        out = model(input_ids=tokens, token_type_ids=segments, attention_mask=attention,
                    output_hidden_states=True)
        hidden = out.hidden_states[-1]
        pooled = model.bert.pooler(hidden)
    save_file({
        "tokens": tokens.float().contiguous(),
        "segments": segments.float().contiguous(),
        "attention_mask": attention.float().contiguous(),
        "hidden": hidden.contiguous(),
        "pooled": pooled.contiguous(),
        "mlm_logits": out.prediction_logits.contiguous(),
        "nsp_logits": out.seq_relationship_logits.contiguous(),
    }, os.path.join(out_dir, "reference.safetensors"),
        metadata={"generator": "scripts/bert_golden.py", "torch": torch.__version__})


def minilm():
    if not os.path.exists(os.path.join(MINILM, "model.safetensors")):
        sys.exit(f"{MINILM}/model.safetensors missing: run `make setup` first")
    tokenizer = BertTokenizerFast(tokenizer_file=os.path.join(MINILM, "tokenizer.json"))
    model = BertModel.from_pretrained(MINILM).eval()
    tensors = {}
    for i, sentence in enumerate(MINILM_SENTENCES):
        enc = tokenizer(sentence, return_tensors="pt", padding=False, truncation=False)
        with torch.no_grad():
            hidden = model(**enc).last_hidden_state
        tensors[f"ids.{i}"] = enc["input_ids"].float().contiguous()
        tensors[f"hidden.{i}"] = hidden.contiguous()
    save_file(tensors, os.path.join(OUT, "minilm-reference.safetensors"),
              metadata={"sentences": json.dumps(MINILM_SENTENCES), "torch": torch.__version__})


# The SimCSE demo's sentence embeddings: all-MiniLM-L6-v2 as
# sentence-transformers runs it (its modules.json: Transformer, then mean
# pooling over the attention mask, then L2 normalisation), on one padded batch
# that mixes lengths, so the padding is exercised.
EMBEDDING_SENTENCES = [
    "A man is playing a guitar on stage.",
    "Someone performs music with a guitar in front of an audience.",
    "The stock market fell sharply on Monday.",
    "Cats sleep.",
    "Photosynthesis turns sunlight into chemical energy in plants, and animals eat the plants.",
    "Le chat dort sur le rebord de la fen\u00eatre.",
]


def minilm_sentence_embeddings():
    tokenizer = BertTokenizerFast(tokenizer_file=os.path.join(MINILM, "tokenizer.json"))
    model = BertModel.from_pretrained(MINILM).eval()
    enc = tokenizer(EMBEDDING_SENTENCES, return_tensors="pt", padding=True, truncation=True)
    with torch.no_grad():
        hidden = model(**enc).last_hidden_state
    mask = enc["attention_mask"].unsqueeze(-1).float()
    pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
    embeddings = torch.nn.functional.normalize(pooled, p=2, dim=1)
    save_file({
        "ids": enc["input_ids"].float().contiguous(),
        "attention_mask": enc["attention_mask"].float().contiguous(),
        "embeddings": embeddings.contiguous(),
    }, os.path.join(OUT, "minilm-sentence-embeddings.safetensors"),
        metadata={"sentences": json.dumps(EMBEDDING_SENTENCES), "torch": torch.__version__,
                  "pipeline": "mean pooling over attention_mask, L2-normalised"})


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    only = sys.argv[1] if len(sys.argv) > 1 else None
    if only in (None, "tiny"):
        for seed, (name, overrides) in enumerate(SHAPES.items()):
            tiny(name, overrides, 100 + 10 * seed)
    if only in (None, "minilm"):
        minilm()
    if only in (None, "sentence-embeddings"):
        minilm_sentence_embeddings()
    print(f"wrote {OUT}")
