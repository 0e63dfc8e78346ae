//! The native half of `make bench`: the project's own models, timed on every
//! native backend it has — burn's two CPU backends, ndarray and flex, and burn's wgpu (Vulkan;
//! Mesa's lavapipe on a machine without a GPU) — written as the JSON of
//! scripts/bench/CONTRACT.md. scripts/bench/torch_peers.py times the same ids
//! on the same inputs with PyTorch.
//!
//!   cargo run --release --example bench_native -- --out FILE [--smoke] [--runs N]
//!       [--only ID[,ID]]   (figures whose id contains one of these; all by default)
//!       [--backends NAME[,NAME]]   (backends whose name contains one of these:
//!                                   ndarray, flex, wgpu; all by default)
//!
//! Figures (ids shared with the PyTorch peer):
//! - `bert_forward_b32x16`: all-MiniLM-L6-v2 (src/model/bert.rs, loaded by
//!   src/model/bert_loader.rs) on the 32 sentences of scripts/bench/sentences.txt,
//!   each padded to 16 tokens, last hidden state read back;
//! - `bert_forward_b1`: the first sentence alone, unpadded;
//! - `igpt_train_step`: one step of examples/train_igpt.rs's next-pixel model
//!   (forward, loss, backward, Adam);
//! - `simclr_train_step_b32`: one SimCLR step at batch 32 (64 views) with the
//!   browser demo's defaults (src/ui/simclr.rs);
//! - `sgemm_1024`: a 1024² × 1024² f32 matmul, the roofline's ceiling.
//!
//! Every call is timed with a wall clock around it, a read-back or a device
//! sync included, so work queued on the GPU is finished when the clock stops.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Instant;

use burn::module::Module;
use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::{Device, Distribution, Tensor};
use pretext::model::bert::{BertConfig, BertInput, BertModel};
use pretext::model::bert_loader::load_encoder;
use pretext::model::bert_tokenizer::{BertTokenizer, Encoded};
use pretext::model::checkpoint::Checkpoint;
use pretext::model::contrastive::nt_xent;
use pretext::model::igpt::{batch_loss, make_batch, Batch, IgptConfig};
use pretext::model::resnet::SimClrConfig;
use pretext::model::rng::Rng;
use serde_json::{json, Value};

const MINILM: &str = ".assets/www/minilm";
const SENTENCES: &str = "scripts/bench/sentences.txt";
/// "batch 32 × 16" of CONTRACT.md: every sentence padded to this many tokens.
const PADDED_LEN: usize = 16;

/// iGPT as `make train-igpt` trains it: examples/train_igpt.rs's defaults
/// (side 14, palette 8, d_model 64, 4 layers, 4 heads, batch 32, lr 3e-3,
/// objective "next").
const IGPT_BATCH: usize = 32;
const IGPT_LR: f64 = 3e-3;
fn igpt_config() -> IgptConfig {
    IgptConfig::new()
        .with_palette_size(8)
        .with_side(14)
        .with_d_model(64)
        .with_n_layers(4)
        .with_n_heads(4)
        .with_causal(true)
}

/// SimCLR with the browser demo's defaults (src/ui/simclr.rs `Settings::default`:
/// width 4, 16-pixel views; `SimClrSettings::default`: τ 0.5, lr 1e-3;
/// `SimClrConfig`'s default projection size 64) at batch 32 instead of 16.
const SIMCLR_BATCH: usize = 32;
const SIMCLR_WIDTH: usize = 4;
const SIMCLR_VIEW: usize = 16;
const SIMCLR_TAU: f32 = 0.5;
const SIMCLR_LR: f64 = 1e-3;

const SGEMM_N: usize = 1024;

// ---------------------------------------------------------------------------
// FLOPs per call: 2 × multiply-adds of the matmuls and convolutions; norms,
// softmax and activations are left out (a few percent). The same formulas are
// in scripts/bench/torch_peers.py, so paired figures carry the same number.

/// A BERT encoder over sequences of the given lengths, as scripts/bench/flops.mjs
/// counts it: per token per layer the Q, K, V, output projections 4·d² and the
/// feed-forward 2·d·ffn; per sequence per layer QKᵀ and AV, 2·t²·d.
fn bert_flops(layers: usize, d: usize, ffn: usize, lengths: &[usize]) -> f64 {
    let macs: usize = lengths
        .iter()
        .map(|&t| layers * (t * (4 * d * d + 2 * d * ffn) + 2 * t * t * d))
        .sum();
    2.0 * macs as f64
}

/// One iGPT training step: the forward's multiply-adds — per layer, per token
/// 4·d² (attention projections) + 2·d·4d (MLP), per sequence 2·T²·d (QKᵀ and AV
/// over the full T×T, masked or not), and the head d·K per token — times 2
/// for FLOPs, times 3 for forward + backward (the backward computes gradients
/// for inputs and for weights, ≈ 2× the forward).
fn igpt_train_flops(config: &IgptConfig, batch: usize) -> f64 {
    let (d, t, k) = (config.d_model, config.seq_len(), config.palette_size);
    let per_layer = batch * t * (4 * d * d + 2 * d * 4 * d) + batch * 2 * t * t * d;
    let macs = config.n_layers * per_layer + batch * t * d * k;
    3.0 * 2.0 * macs as f64
}

/// Multiply-adds of a k×k convolution, padding k/2: out_side² · c_out · c_in · k².
/// Returns them with the output side, ⌈side / stride⌉.
fn conv_macs(side: usize, c_in: usize, c_out: usize, k: usize, stride: usize) -> (usize, usize) {
    let out = side.div_ceil(stride);
    (out * out * c_out * c_in * k * k, out)
}

/// One SimCLR training step on `views` images of side `side`: the ResNet of
/// src/model/resnet.rs (3×3 stem; four basic blocks w, 2w, 4w, 8w, strides
/// 1, 2, 2, 2, each two 3×3 convs and a 1×1 shortcut where the shape changes),
/// the projection head (8w·8w + 8w·proj per view) and NT-Xent's similarity
/// matrix (views² · proj); ×2 for FLOPs, ×3 for forward + backward.
fn simclr_train_flops(width: usize, projection: usize, side: usize, views: usize) -> f64 {
    let (mut macs, mut s) = conv_macs(side, 3, width, 3, 1);
    let mut c = width;
    for (c_out, stride) in [(width, 1), (2 * width, 2), (4 * width, 2), (8 * width, 2)] {
        let (first, out) = conv_macs(s, c, c_out, 3, stride);
        let (second, _) = conv_macs(out, c_out, c_out, 3, 1);
        let shortcut = if stride != 1 || c != c_out {
            conv_macs(s, c, c_out, 1, stride).0
        } else {
            0
        };
        macs += first + second + shortcut;
        (s, c) = (out, c_out);
    }
    macs += c * c + c * projection;
    3.0 * 2.0 * (views * macs + views * views * projection) as f64
}

/// An n×n by n×n matmul: n³ multiply-adds.
fn sgemm_flops(n: usize) -> f64 {
    2.0 * (n * n * n) as f64
}

// ---------------------------------------------------------------------------

struct Args {
    out: String,
    smoke: bool,
    runs: usize,
    /// Only the figures whose id contains one of these (all when empty).
    only: Vec<String>,
    /// Only the backends whose name contains one of these (all when empty).
    backends: Vec<String>,
}

fn parse_args() -> Args {
    let mut args = Args {
        out: String::new(),
        smoke: false,
        runs: 7,
        only: Vec::new(),
        backends: Vec::new(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        match flag.as_str() {
            "--out" => args.out = it.next().expect("--out FILE"),
            "--runs" => args.runs = it.next().and_then(|v| v.parse().ok()).expect("--runs N"),
            "--smoke" => args.smoke = true,
            "--only" => {
                let ids = it.next().expect("--only ID[,ID]");
                args.only = ids.split(',').map(str::to_string).collect();
            }
            "--backends" => {
                let names = it.next().expect("--backends NAME[,NAME]");
                args.backends = names.split(',').map(str::to_string).collect();
            }
            other => panic!(
                "unknown flag {other}; usage: --out FILE [--smoke] [--runs N] [--only ID[,ID]] [--backends NAME[,NAME]]"
            ),
        }
    }
    assert!(!args.out.is_empty(), "--out FILE is required");
    if args.smoke {
        args.runs = 1;
    }
    args
}

/// One backend to measure on.
struct Backend {
    /// CONTRACT.md's backend name.
    name: String,
    device: Device,
    /// The adapter or CPU name, for the figures' `adapter`.
    adapter: String,
}

/// What one figure measures, before it is timed.
struct Spec {
    id: &'static str,
    what: String,
    items_per_call: usize,
    item: &'static str,
    flops: f64,
}

/// The warm-up calls, then the timed ones: milliseconds per call.
fn time_calls(warmup: usize, runs: usize, call: &mut dyn FnMut()) -> Vec<f64> {
    for _ in 0..warmup {
        call();
    }
    (0..runs)
        .map(|_| {
            let t0 = Instant::now();
            call();
            t0.elapsed().as_secs_f64() * 1000.0
        })
        .collect()
}

/// Reads a tensor back to the host and waits until the device is idle. burn
/// 0.22's `into_data` may hand back lazy storage that is only copied when its
/// bytes are accessed (`TensorData::as_slice` "materializes lazy storage"):
/// without touching them a wgpu 1024² matmul "took" 0.04 ms here.
fn read_back<const D: usize>(x: Tensor<D>, device: &Device) {
    let data = x.into_data();
    let values = data.as_slice::<f32>().expect("f32 read-back");
    std::hint::black_box(values[values.len() - 1]);
    device.sync().expect("device sync");
}

fn median(xs: &[f64]) -> f64 {
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// The model files and inputs shared by every backend.
struct Inputs {
    bert_config: BertConfig,
    bert_weights: Checkpoint,
    /// The 32 sentences, tokenised by the project's tokenizer.
    encoded: Vec<Encoded>,
    pad_id: u32,
}

fn load_inputs() -> Inputs {
    let read = |p: &str| std::fs::read(p).unwrap_or_else(|e| panic!("{p}: {e} (run `make setup`)"));
    let bert_config = BertConfig::from_hf_json(
        &String::from_utf8(read(&format!("{MINILM}/config.json"))).unwrap(),
    )
    .unwrap();
    let tokenizer = BertTokenizer::from_bytes(
        &read(&format!("{MINILM}/tokenizer.json")),
        bert_config.max_position_embeddings,
    )
    .unwrap();
    let bert_weights = Checkpoint::parse(&read(&format!("{MINILM}/model.safetensors"))).unwrap();
    let text = String::from_utf8(read(SENTENCES)).unwrap();
    let encoded: Vec<Encoded> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| tokenizer.encode(l, None).unwrap())
        .collect();
    assert_eq!(encoded.len(), 32, "{SENTENCES} holds 32 sentences");
    assert!(encoded.iter().all(|e| e.len() <= PADDED_LEN));
    Inputs {
        bert_config,
        bert_weights,
        encoded,
        pad_id: tokenizer.pad_id,
    }
}

/// Every figure on one backend: (spec, timing) pairs, a timing being the
/// samples or why it could not run.
fn bench_backend(
    backend: &Backend,
    inputs: &Inputs,
    warmup: usize,
    runs: usize,
    only: &[String],
) -> Vec<(Spec, Result<Vec<f64>, String>)> {
    let device = &backend.device;
    let cfg = &inputs.bert_config;
    let mut out = Vec::new();
    let mut measure = |spec: Spec, body: &mut dyn FnMut(usize, usize) -> Vec<f64>| {
        if !only.is_empty() && !only.iter().any(|o| spec.id.contains(o.as_str())) {
            return;
        }
        eprintln!("{} on {} ...", spec.id, backend.name);
        let result = catch_unwind(AssertUnwindSafe(|| body(warmup, runs))).map_err(|e| {
            e.downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "panicked".into())
        });
        match &result {
            Ok(s) => eprintln!("  median {:.2} ms over {} runs", median(s), s.len()),
            Err(e) => eprintln!("  skipped: {e}"),
        }
        out.push((spec, result));
    };

    // BERT, inference: a device without autodiff (no tape, dropout off).
    let encoder: BertModel = load_encoder(cfg, &[&inputs.bert_weights], device).unwrap();
    let (layers, d, ffn) = (
        cfg.num_hidden_layers,
        cfg.hidden_size,
        cfg.intermediate_size,
    );
    let rows: Vec<&Encoded> = inputs.encoded.iter().collect();
    // [b, 16]: [PAD] after each sentence, masked (the PyTorch peer pads the same way).
    let batch = BertInput::batch_of_length(&rows, inputs.pad_id, PADDED_LEN, device);
    measure(
        Spec {
            id: "bert_forward_b32x16",
            what: "all-MiniLM-L6-v2 encoder, 32 sentences padded to 16 tokens with the attention mask, last hidden state read back".into(),
            items_per_call: 32,
            item: "sentence",
            flops: bert_flops(layers, d, ffn, &[PADDED_LEN; 32]),
        },
        &mut |w, r| {
            time_calls(w, r, &mut || {
                read_back(encoder.forward(&batch).hidden, device);
            })
        },
    );
    let first = &inputs.encoded[0];
    let single = BertInput::single(first, device);
    measure(
        Spec {
            id: "bert_forward_b1",
            what: format!(
                "all-MiniLM-L6-v2 encoder, the first sentence alone ({} tokens, unpadded), last hidden state read back",
                first.len()
            ),
            items_per_call: 1,
            item: "sentence",
            flops: bert_flops(layers, d, ffn, &[first.len()]),
        },
        &mut |w, r| {
            time_calls(w, r, &mut || {
                read_back(encoder.forward(&single).hidden, device);
            })
        },
    );
    drop(encoder);

    // iGPT: examples/train_igpt.rs's step on random palette images.
    let config = igpt_config();
    measure(
        Spec {
            id: "igpt_train_step",
            what: format!(
                "iGPT next-pixel training step as examples/train_igpt.rs (batch {IGPT_BATCH} x {} pixels, d_model {}, {} layers, {} heads, palette {}): forward, cross-entropy, backward, Adam; loss read back; random palette images",
                config.seq_len(), config.d_model, config.n_layers, config.n_heads, config.palette_size
            ),
            items_per_call: 1,
            item: "step",
            flops: igpt_train_flops(&config, IGPT_BATCH),
        },
        &mut |w, r| {
            let train_device = device.clone().autodiff();
            train_device.seed(0);
            let mut model = Some(config.init(&train_device));
            let mut optimizer = AdamConfig::new().with_weight_decay(None).init();
            let mut rng = Rng::new(0);
            let images: Vec<Vec<u8>> = (0..IGPT_BATCH)
                .map(|_| {
                    (0..config.seq_len())
                        .map(|_| rng.below(config.palette_size) as u8)
                        .collect()
                })
                .collect();
            let refs: Vec<&[u8]> = images.iter().map(|i| i.as_slice()).collect();
            let batch = make_batch(&config, &refs, 0.15, &mut rng, &train_device);
            time_calls(w, r, &mut || {
                let m = model.take().unwrap();
                let step_batch = Batch {
                    inputs: batch.inputs.clone(),
                    targets: batch.targets.clone(),
                    weights: batch.weights.clone(),
                };
                let loss = batch_loss(&m, step_batch);
                let value: f32 = loss.clone().into_scalar();
                assert!(value.is_finite());
                let grads = GradientsParams::from_grads(loss.backward(), &m);
                model = Some(optimizer.step(IGPT_LR, m, grads));
                train_device.sync().expect("sync");
            })
        },
    );

    // SimCLR: src/model/simclr.rs's step without the augmentation.
    let simclr = SimClrConfig::new().with_width(SIMCLR_WIDTH);
    measure(
        Spec {
            id: "simclr_train_step_b32",
            what: format!(
                "SimCLR training step, batch {SIMCLR_BATCH} (64 views of {SIMCLR_VIEW}x{SIMCLR_VIEW}), ResNet width {SIMCLR_WIDTH}, projection {}: forward, NT-Xent (tau {SIMCLR_TAU}), backward, Adam; loss read back; views are pre-made random tensors (augmentation not timed)",
                simclr.projection_dim
            ),
            items_per_call: 1,
            item: "step",
            flops: simclr_train_flops(SIMCLR_WIDTH, simclr.projection_dim, SIMCLR_VIEW, 2 * SIMCLR_BATCH),
        },
        &mut |w, r| {
            let train_device = device.clone().autodiff();
            train_device.seed(0);
            let mut model = Some(simclr.init(&train_device));
            let mut optimizer = AdamConfig::new().init();
            let views = Tensor::<4>::random(
                [2 * SIMCLR_BATCH, 3, SIMCLR_VIEW, SIMCLR_VIEW],
                Distribution::Uniform(0.0, 1.0),
                device,
            );
            time_calls(w, r, &mut || {
                let m = model.take().unwrap();
                let (_, z) = m.forward(views.clone().autodiff());
                let n = SIMCLR_BATCH;
                let loss = nt_xent(z.clone().narrow(0, 0, n), z.narrow(0, n, n), SIMCLR_TAU);
                let grads = GradientsParams::from_grads(loss.backward(), &m);
                model = Some(optimizer.step(SIMCLR_LR, m, grads));
                let value: f32 = loss.into_scalar();
                assert!(value.is_finite());
                train_device.sync().expect("sync");
            })
        },
    );

    measure(
        Spec {
            id: "sgemm_1024",
            what: "1024x1024 by 1024x1024 f32 matmul, result read back".into(),
            items_per_call: 1,
            item: "matmul",
            flops: sgemm_flops(SGEMM_N),
        },
        &mut |w, r| {
            let a = Tensor::<2>::random([SGEMM_N, SGEMM_N], Distribution::Default, device);
            let b = Tensor::<2>::random([SGEMM_N, SGEMM_N], Distribution::Default, device);
            time_calls(w, r, &mut || {
                read_back(a.clone().matmul(b.clone()), device);
            })
        },
    );
    out
}

/// A package's version as Cargo.lock pins it.
fn locked_version(name: &str) -> String {
    let lock = include_str!("../Cargo.lock");
    let needle = format!("name = \"{name}\"\nversion = \"");
    lock.find(&needle)
        .map(|i| {
            let rest = &lock[i + needle.len()..];
            rest[..rest.find('"').unwrap_or(0)].to_string()
        })
        .unwrap_or_else(|| "unknown".into())
}

fn cpu_name() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| std::env::consts::ARCH.to_string())
}

fn main() {
    let args = parse_args();
    let started = Instant::now();
    // --smoke checks the harness, not speed: one cold call each.
    let warmup = if args.smoke { 0 } else { 2 };
    let inputs = load_inputs();
    let cpu = cpu_name();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());

    // Parameter counts, for torch_peers.py's asserts (counted on the CPU).
    let cpu_device = pretext::model::cpu_device();
    let params = json!({
        "bert": load_encoder(&inputs.bert_config, &[&inputs.bert_weights], &cpu_device).unwrap().num_params(),
        "igpt": igpt_config().init(&cpu_device).num_params(),
        "simclr": SimClrConfig::new().with_width(SIMCLR_WIDTH).init(&cpu_device).num_params(),
    });

    // burn's two CPU backends: ndarray (matrixmultiply) and flex (gemm, its
    // own attention and convolution kernels), on the same figures.
    #[allow(deprecated)]
    let mut backends = vec![
        Backend {
            name: "burn-ndarray".into(),
            device: Device::ndarray(),
            adapter: cpu.clone(),
        },
        Backend {
            name: "burn-flex".into(),
            device: Device::flex(),
            adapter: cpu.clone(),
        },
    ];
    let wanted = |name: &str| {
        args.backends.is_empty() || args.backends.iter().any(|b| name.contains(b.as_str()))
    };
    backends.retain(|b| wanted(&b.name));
    let mut skipped: Vec<Value> = Vec::new();
    let mut wgpu_env = json!(null);
    // The project's native wgpu device (as src/model/test_devices.rs and the
    // other examples make it), keeping the handles to name the adapter.
    match wanted("wgpu").then(|| Device::wgpu_options().init_with_setup()) {
        None => {}
        Some(Ok((device, setup))) => {
            let info = setup.adapter.get_info();
            wgpu_env = json!({
                "adapter": info.name,
                "driver": info.driver,
                "driver_info": info.driver_info,
                "graphics_api": info.backend.to_str(),
                "device_type": format!("{:?}", info.device_type),
            });
            backends.push(Backend {
                name: format!("burn-wgpu-{}", info.backend.to_str()),
                device,
                adapter: format!("{} ({} {})", info.name, info.driver, info.driver_info),
            });
        }
        Some(Err(e)) => {
            for id in [
                "bert_forward_b32x16",
                "bert_forward_b1",
                "igpt_train_step",
                "simclr_train_step_b32",
                "sgemm_1024",
            ] {
                skipped.push(json!({
                    "id": id, "system": "pretext", "backend": "burn-wgpu-vulkan",
                    "why": format!("no wgpu adapter: {e:?}"),
                }));
            }
        }
    }

    let mut figures: Vec<Value> = Vec::new();
    for backend in &backends {
        for (spec, result) in bench_backend(backend, &inputs, warmup, args.runs, &args.only) {
            match result {
                Ok(samples) => figures.push(json!({
                    "id": spec.id,
                    "system": "pretext",
                    "backend": backend.name,
                    "where": "native",
                    "what": spec.what,
                    "unit": "ms",
                    "samples": samples,
                    "items_per_call": spec.items_per_call,
                    "item": spec.item,
                    "flops_per_call": spec.flops,
                    "adapter": backend.adapter,
                })),
                Err(why) => skipped.push(json!({
                    "id": spec.id, "system": "pretext", "backend": backend.name, "why": why,
                })),
            }
        }
    }

    let report = json!({
        "producer": "native-burn",
        "env": {
            "burn": locked_version("burn"),
            "wgpu": locked_version("wgpu"),
            "backends": backends.iter().map(|b| b.name.clone()).collect::<Vec<_>>(),
            "wgpu_adapter": wgpu_env,
            "cpu": cpu,
            "threads": threads,
            "rayon_num_threads": std::env::var("RAYON_NUM_THREADS").ok(),
            "os": std::env::consts::OS,
            "arch": std::env::consts::ARCH,
            "warmup_runs": warmup,
            "runs": args.runs,
            "smoke": args.smoke,
            "params": params,
            "bert_token_lengths": inputs.encoded.iter().map(|e| e.len()).collect::<Vec<_>>(),
            "bert_first_ids": inputs.encoded[0].ids,
            "seconds": started.elapsed().as_secs_f64(),
        },
        "figures": figures,
        "skipped": skipped,
    });
    std::fs::write(
        &args.out,
        serde_json::to_string_pretty(&report).unwrap() + "\n",
    )
    .unwrap_or_else(|e| panic!("{}: {e}", args.out));
    eprintln!(
        "wrote {} ({} figures, {} skipped) in {:.0} s",
        args.out,
        report["figures"].as_array().map_or(0, |v| v.len()),
        report["skipped"].as_array().map_or(0, |v| v.len()),
        started.elapsed().as_secs_f64()
    );
}
