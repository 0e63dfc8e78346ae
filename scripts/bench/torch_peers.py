#!/usr/bin/env python3
"""The PyTorch peer of examples/bench_native.rs, for `make bench`.

    python scripts/bench/torch_peers.py --out FILE [--smoke] [--runs N] [--threads 2]

Writes the JSON of scripts/bench/CONTRACT.md (producer "pytorch", backend
"torch-cpu") with the same ids, inputs, shapes and FLOP counts as the Rust side,
so the harness can pair each figure with ours:

- bert_forward_b32x16 / bert_forward_b1: transformers' BertModel on the same
  all-MiniLM-L6-v2 files (.assets/www/minilm), token ids from the same
  tokenizer.json (the `tokenizers` package, padding off, padded to 16 here);
- igpt_train_step / simclr_train_step_b32: plain PyTorch re-implementations of
  src/model/igpt.rs (with src/model/attention.rs) and src/model/resnet.rs +
  src/model/contrastive.rs, for this benchmark only: same layer sizes, same
  loss, Adam with burn's defaults. Their parameter counts are asserted equal to
  the Rust models' (bench_native.rs writes those into its env.params);
- sgemm_1024: torch.mm.

Without PyTorch (or without the model files) every figure that cannot run goes
to "skipped" with the reason, and the script still exits 0.
"""
import argparse
import json
import math
import os
import platform
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MINILM = os.path.join(ROOT, ".assets", "www", "minilm")
SENTENCES = os.path.join(ROOT, "scripts", "bench", "sentences.txt")
IDS = ["bert_forward_b32x16", "bert_forward_b1", "igpt_train_step", "simclr_train_step_b32", "sgemm_1024"]
PADDED_LEN = 16

# The Rust models' parameter counts: `Module::num_params()` of the models
# examples/bench_native.rs builds, as it writes them into env.params (checked
# against a run of it). burn's count includes BatchNorm's running mean and
# variance (RunningState); PyTorch keeps those as buffers, so the SimCLR check
# adds them.
BERT_PARAMS_RUST = 22_713_216
IGPT_PARAMS_RUST = 213_704
SIMCLR_PARAMS_RUST = 23_100

# iGPT as examples/train_igpt.rs trains it (objective "next").
IGPT = dict(palette=8, side=14, d_model=64, layers=4, heads=4, batch=32, lr=3e-3)
# SimCLR with the browser demo's defaults (src/ui/simclr.rs), at batch 32.
SIMCLR = dict(width=4, projection=64, view=16, batch=32, tau=0.5, lr=1e-3)
# burn's AdamConfig defaults (burn-optim 0.22.1): β = (0.9, 0.999), ε = 1e-5.
ADAM = dict(betas=(0.9, 0.999), eps=1e-5)
SGEMM_N = 1024
# Logit for masked attention keys and excluded NT-Xent pairs, as the Rust side.
MASKED = -1.0e9


# FLOPs per call: the same formulas as examples/bench_native.rs (2 × the
# multiply-adds of matmuls and convolutions; norms, softmax, activations left out).

def bert_flops(layers, d, ffn, lengths):
    """Per token per layer 4·d² (Q, K, V, output) + 2·d·ffn; per sequence per
    layer 2·t²·d (QKᵀ and AV). As scripts/bench/flops.mjs."""
    return 2.0 * sum(layers * (t * (4 * d * d + 2 * d * ffn) + 2 * t * t * d) for t in lengths)


def igpt_train_flops(d, t, k, layers, batch):
    """Forward: per layer B·T·(4d² + 2·d·4d) + B·2·T²·d, head B·T·d·K; ×2 for
    FLOPs, ×3 for forward + backward."""
    per_layer = batch * t * (4 * d * d + 2 * d * 4 * d) + batch * 2 * t * t * d
    return 3.0 * 2.0 * (layers * per_layer + batch * t * d * k)


def conv_macs(side, c_in, c_out, k, stride):
    """k×k convolution, padding k//2: out_side² · c_out · c_in · k² (and out_side)."""
    out = -(-side // stride)
    return out * out * c_out * c_in * k * k, out


def simclr_train_flops(width, projection, side, views):
    """Stem, four basic blocks (w, 2w, 4w, 8w; strides 1, 2, 2, 2; 1×1 shortcut
    where the shape changes), head 8w·8w + 8w·proj per view, NT-Xent's
    views²·proj; ×2 for FLOPs, ×3 for forward + backward."""
    macs, s = conv_macs(side, 3, width, 3, 1)
    c = width
    for c_out, stride in [(width, 1), (2 * width, 2), (4 * width, 2), (8 * width, 2)]:
        first, out = conv_macs(s, c, c_out, 3, stride)
        second, _ = conv_macs(out, c_out, c_out, 3, 1)
        shortcut = conv_macs(s, c, c_out, 1, stride)[0] if (stride != 1 or c != c_out) else 0
        macs += first + second + shortcut
        s, c = out, c_out
    macs += c * c + c * projection
    return 3.0 * 2.0 * (views * macs + views * views * projection)


def sgemm_flops(n):
    return 2.0 * n ** 3


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def time_calls(call, warmup, runs):
    for _ in range(warmup):
        call()
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter()
        call()
        samples.append((time.perf_counter() - t0) * 1000.0)
    return samples


def read_sentences():
    with open(SENTENCES) as f:
        sentences = [line.strip() for line in f if line.strip()]
    assert len(sentences) == 32, f"{SENTENCES} holds {len(sentences)} sentences, not 32"
    return sentences


# --- the models (only defined when torch imports) ----------------------------

def define_models(torch):
    nn, F = torch.nn, torch.nn.functional

    class SelfAttention(nn.Module):
        """src/model/attention.rs: separate Q, K, V, output projections (with
        bias), softmax(QKᵀ/√d_head + mask) V."""

        def __init__(self, d, heads):
            super().__init__()
            self.heads = heads
            self.query, self.key, self.value, self.output = (nn.Linear(d, d) for _ in range(4))

        def forward(self, x, bias):
            b, t, d = x.shape
            split = lambda y: y.view(b, t, self.heads, d // self.heads).transpose(1, 2)
            q, k, v = split(self.query(x)), split(self.key(x)), split(self.value(x))
            scores = q @ k.transpose(2, 3) / math.sqrt(d // self.heads) + bias
            out = torch.softmax(scores, dim=3) @ v
            return self.output(out.transpose(1, 2).reshape(b, t, d))

    class Block(nn.Module):
        """src/model/igpt.rs `Block`: pre-LayerNorm, MLP d → 4d → d with exact GELU."""

        def __init__(self, d, heads):
            super().__init__()
            self.attention_norm = nn.LayerNorm(d, eps=1e-5)
            self.attention = SelfAttention(d, heads)
            self.mlp_norm = nn.LayerNorm(d, eps=1e-5)
            self.mlp_in = nn.Linear(d, 4 * d)
            self.mlp_out = nn.Linear(4 * d, d)

        def forward(self, x, bias):
            x = x + self.attention(self.attention_norm(x), bias)
            return x + self.mlp_out(F.gelu(self.mlp_in(self.mlp_norm(x))))

    class Igpt(nn.Module):
        """src/model/igpt.rs `Igpt`, causal: token (palette + start) and
        position embeddings, blocks, final LayerNorm, linear head over the palette."""

        def __init__(self, palette, side, d, layers, heads):
            super().__init__()
            t = side * side
            self.token_embedding = nn.Embedding(palette + 1, d)
            self.position_embedding = nn.Embedding(t, d)
            self.blocks = nn.ModuleList(Block(d, heads) for _ in range(layers))
            self.final_norm = nn.LayerNorm(d, eps=1e-5)
            self.head = nn.Linear(d, palette)
            causal = torch.full((t, t), MASKED).triu(1)
            self.register_buffer("causal_bias", causal.view(1, 1, t, t), persistent=False)

        def forward(self, inputs):
            t = inputs.shape[1]
            x = self.token_embedding(inputs) + self.position_embedding(torch.arange(t))
            for block in self.blocks:
                x = block(x, self.causal_bias)
            return self.head(self.final_norm(x))

    class ConvBn(nn.Module):
        """src/model/resnet.rs `ConvBn`: k×k conv (padding k/2, no bias) + batch norm."""

        def __init__(self, c_in, c_out, stride, k=3):
            super().__init__()
            self.conv = nn.Conv2d(c_in, c_out, k, stride=stride, padding=k // 2, bias=False)
            self.norm = nn.BatchNorm2d(c_out, eps=1e-5, momentum=0.1)

        def forward(self, x):
            return self.norm(self.conv(x))

    class BasicBlock(nn.Module):
        """src/model/resnet.rs `BasicBlock`: relu(second(relu(first(x))) + shortcut(x))."""

        def __init__(self, c_in, c_out, stride):
            super().__init__()
            self.first = ConvBn(c_in, c_out, stride)
            self.second = ConvBn(c_out, c_out, 1)
            self.shortcut = ConvBn(c_in, c_out, stride, k=1) if (stride != 1 or c_in != c_out) else None

        def forward(self, x):
            residual = x if self.shortcut is None else self.shortcut(x)
            return F.relu(self.second(F.relu(self.first(x))) + residual)

    class SimClr(nn.Module):
        """src/model/resnet.rs `SimClrModel`: ResNet encoder (global average
        pool → h, 8w dims) and projection head W₂ ReLU(W₁ h)."""

        def __init__(self, w, projection):
            super().__init__()
            self.stem = ConvBn(3, w, 1)
            self.blocks = nn.Sequential(
                BasicBlock(w, w, 1), BasicBlock(w, 2 * w, 2),
                BasicBlock(2 * w, 4 * w, 2), BasicBlock(4 * w, 8 * w, 2))
            self.hidden = nn.Linear(8 * w, 8 * w)
            self.output = nn.Linear(8 * w, projection)

        def forward(self, views):
            h = self.blocks(F.relu(self.stem(views))).mean(dim=(2, 3))
            return self.output(F.relu(self.hidden(h)))

    def nt_xent(z_a, z_b, tau):
        """src/model/contrastive.rs `nt_xent`: cosine similarities of the 2N
        views / τ, each view's own pair masked out, cross-entropy against its partner."""
        n = z_a.shape[0]
        v = F.normalize(torch.cat([z_a, z_b]), dim=1, eps=1e-12)
        logits = (v @ v.T / tau).masked_fill(torch.eye(2 * n, dtype=torch.bool), MASKED)
        return F.cross_entropy(logits, (torch.arange(2 * n) + n) % (2 * n))

    return Igpt, SimClr, nt_xent


# --- the figures ----------------------------------------------------------------

def bench(torch, args, warmup, env, figures, skipped, cpu):
    Igpt, SimClr, nt_xent = define_models(torch)

    def add(fid, what, samples, items, item, flops):
        figures.append(dict(id=fid, system="pytorch", backend="torch-cpu", where="native", what=what,
                            unit="ms", samples=samples, items_per_call=items, item=item,
                            flops_per_call=flops, adapter=cpu))
        print(f"{fid}: median {sorted(samples)[len(samples) // 2]:.2f} ms over {len(samples)} runs",
              file=sys.stderr)

    def attempt(ids, body):
        try:
            body()
        except Exception as e:  # a figure that cannot run is reported, never lost
            for fid in ids:
                skipped.append(dict(id=fid, system="pytorch", backend="torch-cpu",
                                    why=f"{type(e).__name__}: {e}"))
            print(f"{ids}: skipped ({type(e).__name__}: {e})", file=sys.stderr)

    def bert():
        import transformers
        from tokenizers import Tokenizer
        import tokenizers
        env["transformers"] = transformers.__version__
        env["tokenizers"] = tokenizers.__version__
        tokenizer = Tokenizer.from_file(os.path.join(MINILM, "tokenizer.json"))
        tokenizer.no_padding()
        tokenizer.no_truncation()
        pad = tokenizer.token_to_id("[PAD]")
        ids = [tokenizer.encode(s).ids for s in read_sentences()]
        assert all(len(i) <= PADDED_LEN for i in ids)
        env["bert_token_lengths"] = [len(i) for i in ids]
        env["bert_first_ids"] = ids[0]
        model = transformers.BertModel.from_pretrained(MINILM).eval()
        env["bert_attn_implementation"] = model.config._attn_implementation
        params = sum(p.numel() for p in model.parameters())
        env["params"]["bert"] = params
        assert params == BERT_PARAMS_RUST, f"BertModel has {params} parameters, ours {BERT_PARAMS_RUST}"
        c = model.config
        dims = (c.num_hidden_layers, c.hidden_size, c.intermediate_size)

        tokens = torch.full((32, PADDED_LEN), pad, dtype=torch.long)
        mask = torch.zeros((32, PADDED_LEN), dtype=torch.long)
        for row, i in enumerate(ids):
            tokens[row, :len(i)] = torch.tensor(i)
            mask[row, :len(i)] = 1
        segments = torch.zeros_like(tokens)

        def batch():
            with torch.inference_mode():
                model(input_ids=tokens, attention_mask=mask, token_type_ids=segments).last_hidden_state.numpy()

        add("bert_forward_b32x16",
            "transformers BertModel (all-MiniLM-L6-v2), 32 sentences padded to 16 tokens with the attention mask, "
            "last hidden state as numpy",
            time_calls(batch, warmup, args.runs), 32, "sentence", bert_flops(*dims, [PADDED_LEN] * 32))

        one = torch.tensor([ids[0]])
        one_segments = torch.zeros_like(one)

        def single():
            with torch.inference_mode():
                model(input_ids=one, token_type_ids=one_segments).last_hidden_state.numpy()

        add("bert_forward_b1",
            f"transformers BertModel (all-MiniLM-L6-v2), the first sentence alone ({len(ids[0])} tokens, "
            "unpadded), last hidden state as numpy",
            time_calls(single, warmup, args.runs), 1, "sentence", bert_flops(*dims, [len(ids[0])]))

    def igpt():
        p = IGPT
        torch.manual_seed(0)
        model = Igpt(p["palette"], p["side"], p["d_model"], p["layers"], p["heads"]).train()
        params = sum(x.numel() for x in model.parameters())
        env["params"]["igpt"] = params
        assert params == IGPT_PARAMS_RUST, f"iGPT has {params} parameters, ours {IGPT_PARAMS_RUST}"
        optimizer = torch.optim.Adam(model.parameters(), lr=p["lr"], weight_decay=0.0, **ADAM)
        t = p["side"] ** 2
        targets = torch.randint(0, p["palette"], (p["batch"], t))
        # The next-pixel input: the sequence shifted right behind the start token.
        inputs = torch.cat([torch.full((p["batch"], 1), p["palette"]), targets[:, :-1]], dim=1)

        def step():
            optimizer.zero_grad(set_to_none=True)
            logits = model(inputs)
            loss = torch.nn.functional.cross_entropy(logits.reshape(-1, p["palette"]), targets.reshape(-1))
            assert math.isfinite(loss.item())
            loss.backward()
            optimizer.step()

        add("igpt_train_step",
            f"iGPT next-pixel training step (batch {p['batch']} x {t} pixels, d_model {p['d_model']}, "
            f"{p['layers']} layers, {p['heads']} heads, palette {p['palette']}), plain PyTorch re-implementation: "
            "forward, cross-entropy, backward, Adam; loss read back; random palette images",
            time_calls(step, warmup, args.runs), 1, "step",
            igpt_train_flops(p["d_model"], t, p["palette"], p["layers"], p["batch"]))

    def simclr():
        p = SIMCLR
        torch.manual_seed(0)
        model = SimClr(p["width"], p["projection"]).train()
        params = sum(x.numel() for x in model.parameters())
        running = sum(b.numel() for name, b in model.named_buffers()
                      if name.endswith(("running_mean", "running_var")))
        env["params"]["simclr"] = params
        env["params"]["simclr_with_bn_running_stats"] = params + running
        assert params + running == SIMCLR_PARAMS_RUST, \
            f"SimCLR has {params} parameters + {running} running stats, ours {SIMCLR_PARAMS_RUST}"
        optimizer = torch.optim.Adam(model.parameters(), lr=p["lr"], weight_decay=0.0, **ADAM)
        n = p["batch"]
        views = torch.rand(2 * n, 3, p["view"], p["view"])

        def step():
            optimizer.zero_grad(set_to_none=True)
            z = model(views)
            loss = nt_xent(z[:n], z[n:], p["tau"])
            loss.backward()
            optimizer.step()
            assert math.isfinite(loss.item())

        add("simclr_train_step_b32",
            f"SimCLR training step, batch {n} (64 views of {p['view']}x{p['view']}), ResNet width {p['width']}, "
            f"projection {p['projection']}, plain PyTorch re-implementation: forward, NT-Xent (tau {p['tau']}), "
            "backward, Adam; loss read back; views are pre-made random tensors (augmentation not timed)",
            time_calls(step, warmup, args.runs), 1, "step",
            simclr_train_flops(p["width"], p["projection"], p["view"], 2 * n))

    def sgemm():
        a, b = torch.rand(SGEMM_N, SGEMM_N), torch.rand(SGEMM_N, SGEMM_N)
        add("sgemm_1024", "1024x1024 by 1024x1024 f32 matmul (torch.mm)",
            time_calls(lambda: torch.mm(a, b), warmup, args.runs), 1, "matmul", sgemm_flops(SGEMM_N))

    attempt(["bert_forward_b32x16", "bert_forward_b1"], bert)
    attempt(["igpt_train_step"], igpt)
    attempt(["simclr_train_step_b32"], simclr)
    attempt(["sgemm_1024"], sgemm)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--smoke", action="store_true", help="1 warm-up run and 1 sample")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    if args.smoke:
        args.runs = 1
    warmup = 1 if args.smoke else 2
    started = time.perf_counter()
    cpu = cpu_name()
    env = dict(python=platform.python_version(), cpu=cpu, warmup_runs=warmup, runs=args.runs,
               smoke=args.smoke, params={})
    figures, skipped = [], []
    try:
        import torch
    except Exception as e:  # no PyTorch here: every figure skipped, still valid JSON
        torch = None
        for fid in IDS:
            skipped.append(dict(id=fid, system="pytorch", backend="torch-cpu",
                                why=f"PyTorch is not installed ({type(e).__name__}: {e})"))
    if torch is not None:
        torch.set_num_threads(args.threads)
        env.update(torch=torch.__version__, threads=torch.get_num_threads(),
                   interop_threads=torch.get_num_interop_threads(),
                   mkldnn=torch.backends.mkldnn.is_available())
        bench(torch, args, warmup, env, figures, skipped, cpu)
    env["seconds"] = time.perf_counter() - started
    report = dict(producer="pytorch", env=env, figures=figures, skipped=skipped)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(report, f, indent=2)
        f.write("\n")
    print(f"wrote {args.out} ({len(figures)} figures, {len(skipped)} skipped) "
          f"in {env['seconds']:.0f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
