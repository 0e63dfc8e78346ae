//! Trains the iGPT demo's two models natively with the same burn modules the
//! browser runs (src/model/igpt.rs): the next-pixel (causal) model and the
//! masked-pixel (BERT-objective) model, on Fashion-MNIST at 14×14 with an
//! 8-level k-means grey palette.
//!
//!   cargo run --release --example train_igpt -- --objective next --steps 3000
//!   cargo run --release --example train_igpt -- --objective masked --steps 3000
//!   cargo run --release --example train_igpt -- --objective next --eval-only
//!
//! (`make train-igpt` runs both.) Reads .assets/data/fashion-mnist (fetched by
//! `make setup`). Writes weights/igpt-<objective>.safetensors (f16, config and
//! palette in its metadata: what the app ships), a resumable f32 checkpoint
//! next to it (.ckpt: weights, step; Adam's moments restart on resume) and
//! appends to weights/igpt-<objective>.log. Losses are bits per dimension
//! (per predicted pixel), the paper's unit. Seeded: the same command gives
//! the same run on the same backend.

use std::io::{Read, Write};
use std::time::Instant;

use burn::module::Module;
use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::Device;
use pretext::model::checkpoint::{same_names, Checkpoint};
use pretext::model::export::{named_tensors, safetensors_bytes_with, Precision};
use pretext::model::igpt::{batch_loss, make_batch, Igpt, IgptConfig};
use pretext::model::palette::{downsample, quantization_mse, GreyPalette};
use pretext::model::rng::Rng;

const DATA: &str = ".assets/data/fashion-mnist";
const SIDE: usize = 14;
const PALETTE_SIZE: usize = 8;
const MASK_RATE: f32 = 0.15;

struct Args {
    objective: String,
    steps: usize,
    batch: usize,
    lr: f64,
    d_model: usize,
    layers: usize,
    heads: usize,
    eval_every: usize,
    seed: u64,
    backend: String,
    eval_only: bool,
    out_dir: String,
}

fn parse_args() -> Args {
    let mut args = Args {
        objective: "next".into(),
        steps: 3000,
        batch: 32,
        lr: 3e-3,
        d_model: 64,
        layers: 4,
        heads: 4,
        eval_every: 100,
        seed: 0,
        backend: "cpu".into(),
        eval_only: false,
        out_dir: "weights".into(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--objective" => args.objective = value(),
            "--steps" => args.steps = value().parse().expect("--steps"),
            "--batch" => args.batch = value().parse().expect("--batch"),
            "--lr" => args.lr = value().parse().expect("--lr"),
            "--d-model" => args.d_model = value().parse().expect("--d-model"),
            "--layers" => args.layers = value().parse().expect("--layers"),
            "--heads" => args.heads = value().parse().expect("--heads"),
            "--eval-every" => args.eval_every = value().parse().expect("--eval-every"),
            "--seed" => args.seed = value().parse().expect("--seed"),
            "--backend" => args.backend = value(),
            "--out-dir" => args.out_dir = value(),
            "--eval-only" => args.eval_only = true,
            other => panic!("unknown flag {other}"),
        }
    }
    assert!(
        args.objective == "next" || args.objective == "masked",
        "--objective is next or masked"
    );
    args
}

/// The images of a gzipped IDX3 file, downsampled to SIDE×SIDE.
fn load_images(name: &str) -> Vec<Vec<u8>> {
    let path = format!("{DATA}/{name}");
    let file = std::fs::File::open(&path)
        .unwrap_or_else(|e| panic!("{path}: {e} (run `make setup` first)"));
    let mut raw = Vec::new();
    flate2::read::GzDecoder::new(file)
        .read_to_end(&mut raw)
        .expect("gunzip");
    let magic = u32::from_be_bytes(raw[0..4].try_into().unwrap());
    assert_eq!(magic, 0x0803, "{path} is not IDX3");
    let n = u32::from_be_bytes(raw[4..8].try_into().unwrap()) as usize;
    let side = u32::from_be_bytes(raw[8..12].try_into().unwrap()) as usize;
    raw[16..]
        .chunks_exact(side * side)
        .take(n)
        .map(|img| downsample(img, side, side / SIDE))
        .collect()
}

fn device_for(backend: &str) -> Device {
    match backend {
        // "ndarray": the name older logs and resumed runs carry.
        "cpu" | "ndarray" => pretext::model::cpu_device(),
        "wgpu" => Device::wgpu_options().init().expect("no wgpu device"),
        other => panic!("--backend cpu|wgpu, not {other}"),
    }
}

/// Mean test loss in bits per predicted pixel over `images` (masked model: a
/// fixed mask per image, so the figure is reproducible).
fn evaluate(model: &Igpt, config: &IgptConfig, images: &[Vec<u8>], device: &Device) -> f64 {
    let mut rng = Rng::new(12345);
    let mut total = 0.0f64;
    let mut count = 0.0f64;
    for chunk in images.chunks(100) {
        let refs: Vec<&[u8]> = chunk.iter().map(|v| v.as_slice()).collect();
        let batch = make_batch(config, &refs, MASK_RATE, &mut rng, device);
        let weight = match &batch.weights {
            Some(w) => w.clone().sum().into_scalar::<f32>() as f64,
            None => (chunk.len() * config.seq_len()) as f64,
        };
        let loss: f32 = batch_loss(model, batch).into_scalar();
        total += loss as f64 * weight;
        count += weight;
    }
    total / count / std::f64::consts::LN_2
}

fn write_model(
    path: &str,
    model: &Igpt,
    config: &IgptConfig,
    palette: &GreyPalette,
    step: usize,
    precision: Precision,
) {
    let tensors = pollster::block_on(named_tensors(model)).expect("read weights");
    let meta = [
        ("igpt_config", serde_json::to_string(config).unwrap()),
        ("palette", serde_json::to_string(&palette.levels).unwrap()),
        ("step", step.to_string()),
    ];
    let tmp = format!("{path}.part");
    std::fs::write(&tmp, safetensors_bytes_with(&tensors, precision, &meta))
        .expect("write checkpoint");
    std::fs::rename(&tmp, path).expect("rename checkpoint");
}

fn main() {
    let args = parse_args();
    let device = device_for(&args.backend);
    device.seed(args.seed);
    std::fs::create_dir_all(&args.out_dir).unwrap();
    let out = format!("{}/igpt-{}.safetensors", args.out_dir, args.objective);
    let ckpt = format!("{}/igpt-{}.ckpt.safetensors", args.out_dir, args.objective);
    let mut log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(format!("{}/igpt-{}.log", args.out_dir, args.objective))
        .unwrap();
    let mut say = |line: String| {
        println!("{line}");
        writeln!(log, "{line}").unwrap();
    };

    let started = Instant::now();
    let train = load_images("train-images-idx3-ubyte.gz");
    let test = load_images("t10k-images-idx3-ubyte.gz");
    // The palette: k-means over the pixels of the first 2,000 training images.
    let sample: Vec<u8> = train[..2000].iter().flatten().copied().collect();
    let palette = GreyPalette::fit(&sample, PALETTE_SIZE, 0);
    let test_pixels: Vec<u8> = test[..1000].iter().flatten().copied().collect();
    let mut why = String::from(
        "palette choice (k-means over 2,000 training images, 14x14; MSE on 1,000 test images):",
    );
    for k in [2, 4, 8, 16] {
        let p = GreyPalette::fit(&sample, k, 0);
        why.push_str(&format!(
            " K={k}: {} bits/px, RMSE {:.1} grey levels;",
            (k as f32).log2(),
            quantization_mse(&p, &test_pixels).sqrt()
        ));
    }
    say(why);
    say(format!(
        "palette K={PALETTE_SIZE}: {:?}",
        palette.levels.iter().map(|l| l.round()).collect::<Vec<_>>()
    ));
    let quantize = |images: &[Vec<u8>]| -> Vec<Vec<u8>> {
        images.iter().map(|i| palette.quantize(i)).collect()
    };
    let train = quantize(&train);
    let test = quantize(&test);

    let config = IgptConfig::new()
        .with_palette_size(PALETTE_SIZE)
        .with_side(SIDE)
        .with_d_model(args.d_model)
        .with_n_layers(args.layers)
        .with_n_heads(args.heads)
        .with_causal(args.objective == "next");

    // Resume from the f32 checkpoint when there is one for the same config.
    // Parameters live on the autodiff device while training; `valid()` gives
    // the same weights without the tape for evaluation.
    let train_device = device.clone().autodiff();
    let mut model = config.init(&train_device);
    let mut step = 0usize;
    if let Ok(bytes) = std::fs::read(&ckpt) {
        let checkpoint = Checkpoint::parse(&bytes).expect("parse checkpoint");
        let saved: IgptConfig =
            serde_json::from_str(&checkpoint.metadata["igpt_config"]).expect("config");
        assert_eq!(
            saved, config,
            "{ckpt} was trained with another config; move it away to start over"
        );
        model = checkpoint
            .load_into(model, &same_names, &train_device)
            .expect("load checkpoint");
        step = checkpoint.metadata["step"].parse().unwrap();
        say(format!("resumed {ckpt} at step {step}"));
    }
    say(format!(
        "objective {} | {} params | d_model {} layers {} heads {} | batch {} lr {} | backend {} | seed {}",
        args.objective,
        model.num_params(),
        args.d_model,
        args.layers,
        args.heads,
        args.batch,
        args.lr,
        args.backend,
        args.seed
    ));
    if args.eval_only {
        let bits = evaluate(&model.valid(), &config, &test, &device);
        say(format!(
            "eval-only: step {step} test bits/dim on all {} test images: {bits:.4}",
            test.len()
        ));
        return;
    }

    let held_out = &test[..500];
    let mut optimizer = AdamConfig::new().with_weight_decay(None).init();
    // A different but reproducible stream per resumed segment.
    let mut rng = Rng::new(args.seed.wrapping_mul(1_000_003).wrapping_add(step as u64));
    let warmup = 200usize;
    let mut window = (0.0f64, 0usize, Instant::now());
    while step < args.steps {
        // Linear warm-up, then cosine decay to a tenth (Loshchilov & Hutter 2017).
        let lr = if step < warmup {
            args.lr * (step + 1) as f64 / warmup as f64
        } else {
            let progress = (step - warmup) as f64 / (args.steps - warmup).max(1) as f64;
            args.lr * (0.1 + 0.9 * 0.5 * (1.0 + (std::f64::consts::PI * progress).cos()))
        };
        let picks: Vec<&[u8]> = (0..args.batch)
            .map(|_| train[rng.below(train.len())].as_slice())
            .collect();
        let batch = make_batch(&config, &picks, MASK_RATE, &mut rng, &train_device);
        let loss = batch_loss(&model, batch);
        let value: f32 = loss.clone().into_scalar();
        assert!(value.is_finite(), "loss became {value} at step {step}");
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = optimizer.step(lr, model, grads);
        step += 1;
        window.0 += value as f64;
        window.1 += 1;
        if step.is_multiple_of(args.eval_every) || step == args.steps {
            let valid = model.valid();
            let test_bits = evaluate(&valid, &config, held_out, &device);
            let seconds = window.2.elapsed().as_secs_f64();
            say(format!(
                "step {step} | train {:.4} bits/dim | held-out {test_bits:.4} bits/dim | lr {lr:.2e} | {:.2} s/step | {:.0} s total",
                window.0 / window.1 as f64 / std::f64::consts::LN_2,
                seconds / window.1 as f64,
                started.elapsed().as_secs_f64()
            ));
            window = (0.0, 0, Instant::now());
            write_model(&ckpt, &valid, &config, &palette, step, Precision::F32);
            write_model(&out, &valid, &config, &palette, step, Precision::F16);
        }
    }
    say(format!("done: {out} at step {step}"));
}
